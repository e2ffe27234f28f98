/*
 * wf_attempt.c — what an attempt's outcome leads to, inside one engine
 * step: a success records the result and goes on from the task (or, for a
 * for_each item, counts it); a failure retries if the task's policy allows
 * (back-off, jitter) and otherwise fails the task and goes on from that
 * failure (an on_error edge handles it, or the execution fails). Called by
 * the SQL layer: a runner's or third party's completion (wf_task.c) and
 * the watchdog's expiries and sub-workflow ends (wf_watchdog.c).
 */
#include "postgres.h"

#include <math.h>

#include "catalog/pg_type.h"
#include "common/pg_prng.h"
#include "executor/spi.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"
#include "utils/timestamp.h"

#include "pg_wf.h"
#include "wf_attempt.h"
#include "wf_execution.h"
#include "wf_expr.h"
#include "wf_flow.h"
#include "wf_foreach.h"
#include "wf_signal.h"
#include "wf_step.h"
#include "wf_store.h"
#include "wf_util.h"
#include "wf_wait.h"

/* The attempt succeeded: record it, schedule its successors. */
WfTaskState
wf_attempt_succeeded(WfStep *s, WfTaskRow *tr, Jsonb *result, Jsonb *detail)
{
	static WfPlan finish = {
		"UPDATE wf.task SET state = 'succeeded', result = $2, error = NULL, "
		"finished_at = pg_catalog.now(), lease_until = NULL, deadline = NULL WHERE id = $1",
		2, {INT8OID, JSONBOID}
	};
	Datum		values[2];
	char		nulls[2] = {' ', ' '};

	values[0] = Int64GetDatum(tr->id);
	values[1] = result ? JsonbPGetDatum(result) : (Datum) 0;
	nulls[1] = result ? ' ' : 'n';
	wf_exec(&finish, values, nulls, 1);
	return wf_schedule_success(s, tr, result, detail);
}

/*
 * A signal for a waiting task, its execution locked: if the task still
 * waits, it succeeds with the event as its result (and waits no more).
 * Returns whether it did; a task that ended otherwise (a timeout, a
 * cancel, a signal first), or is gone (wf_rerun replaced it), is left
 * alone.
 */
bool
wf_attempt_signalled(WfStep *s, int64 task_id, Jsonb *result)
{
	WfTaskRow	tr;
	const char *keys[] = {"by"};
	Jsonb	   *vals[] = {wf_jsonb_string("signal")};

	wf_wait_forget(s->exec_id, task_id);
	if (!wf_wait_pending(task_id))
		return false;
	wf_step_lock_task(s, task_id, &tr);
	if (tr.state != WF_TASK_DELEGATED || tr.def->engine != WF_ENGINE_WAIT)
		return false;
	wf_attempt_succeeded(s, &tr, result, wf_jsonb_object(1, keys, vals));
	return true;
}

/*
 * A sub-workflow row runs again (a retry or a repeat whose time came): it
 * is running, with a new child (input: the row's own if NULL). A child
 * that cannot start fails the task at once (a retry would fail the same
 * way). Returns whether the child started.
 */
bool
wf_attempt_restart_child(WfStep *s, WfTaskRow *tr, Jsonb *input)
{
	static WfPlan run = {
		"UPDATE wf.task SET state = 'running', attempt = attempt + 1, "
		"input = COALESCE($2, input), started_at = pg_catalog.now(), finished_at = NULL, "
		"deadline = NULL, not_before = pg_catalog.now() WHERE id = $1 RETURNING attempt, input",
		2, {INT8OID, JSONBOID}
	};
	Datum		values[2];
	char		nulls[2] = {' ', input ? ' ' : 'n'};
	Jsonb	   *failure;
	int64		child;

	values[0] = Int64GetDatum(tr->id);
	values[1] = input ? JsonbPGetDatum(input) : (Datum) 0;
	wf_exec(&run, values, nulls, 1);
	tr->attempt = wf_get_int32(0, 1);
	tr->state = WF_TASK_RUNNING;
	input = wf_get_jsonb(0, 2);
	failure = wf_flow_launch_child(s, tr->idx, tr->id, input, &child);
	if (failure)
	{
		wf_attempt_failed(s, tr, failure, false, false, wf_jsonb_object(0, NULL, NULL));
		return false;
	}
	{
		const char *keys[] = {"child_execution_id", "attempt"};
		Jsonb	   *vals[] = {wf_jsonb_int(child), wf_jsonb_int(tr->attempt)};

		wf_events_task(&s->ev, tr->id, tr->name, WF_TASK_RUNNING, wf_jsonb_object(2, keys, vals));
	}
	return true;
}

/* What a repeating task's success leads to. */
typedef enum RepeatNext
{
	REPEAT_DONE,				/* "while" is not true: the task succeeded */
	REPEAT_AGAIN,				/* the next iteration is ready */
	REPEAT_LIMIT,				/* max passed: the task failed */
	REPEAT_BROKEN				/* an expression failed: so does the execution */
} RepeatNext;

/*
 * A repeating task succeeded (its row marked so): if its "while" is true
 * for the result, it becomes ready again after its delay for the next
 * iteration (attempts from 1 again, its input evaluated with $.iteration),
 * or, past max, fails with {"type": "repeat_limit"}.
 */
static RepeatNext
repeat_next(WfStep *s, WfTaskRow *tr, Jsonb *result)
{
	static WfPlan again = {
		"UPDATE wf.task SET state = 'ready', attempt = 0, iteration = iteration + 1, input = $2, "
		"not_before = pg_catalog.now() + $3, "
		"wake_at = CASE WHEN $3 > '0'::pg_catalog.interval THEN pg_catalog.now() + $3 END, "
		"token_hash = NULL, lease_until = NULL, deadline = NULL, runner = NULL, "
		"finished_at = NULL, held = $4 "
		"WHERE id = $1 RETURNING iteration, not_before, queue",
		4, {INT8OID, JSONBOID, INTERVALOID, BOOLOID}
	};

	/* a sub-workflow's next iteration waits as delegated to the watchdog */
	static WfPlan again_child = {
		"UPDATE wf.task SET state = 'delegated', attempt = 0, iteration = iteration + 1, "
		"input = $2, deadline = pg_catalog.now() + $3, finished_at = NULL "
		"WHERE id = $1 RETURNING iteration, deadline, queue",
		3, {INT8OID, JSONBOID, INTERVALOID}
	};
	static WfPlan current = {
		"SELECT iteration FROM wf.task WHERE id = $1",
		1, {INT8OID}
	};
	WfRepeat   *r = tr->def->repeat;
	WfTemplate *tmpls[2] = {r->while_, tr->def->input};
	Jsonb	   *ctx;
	Jsonb	   *v;
	Jsonb	   *input;
	char	   *err = NULL;
	JsonbValue	jv;
	Interval	zero = {0};
	Datum		values[4];
	int			iteration;
	TimestampTz not_before;
	char	   *queue;
	bool		no_delay;

	values[0] = Int64GetDatum(tr->id);
	wf_exec(&current, values, NULL, 1);
	iteration = wf_get_int32(0, 1);
	ctx = wf_context_iteration(wf_step_context_for(s, tmpls, 2, result, NULL), iteration);
	v = wf_eval_template(r->while_, ctx, &err);
	if (v == NULL)
	{
		wf_finish_step(s, wf_expr_failure(tr->name, "repeat.while", err));
		return REPEAT_BROKEN;
	}
	if (!(JB_ROOT_IS_SCALAR(v) && JsonbExtractScalar(&v->root, &jv) &&
		  jv.type == jbvBool && jv.val.boolean))
		return REPEAT_DONE;
	if (iteration + 1 >= r->max)
	{
		const char *keys[] = {"type", "max", "result"};
		Jsonb	   *vals[] = {wf_jsonb_string("repeat_limit"), wf_jsonb_int(r->max), result};
		const char *dkeys[] = {"iteration"};
		Jsonb	   *dvals[] = {wf_jsonb_int(iteration)};

		wf_attempt_failed(s, tr, wf_jsonb_object(result ? 3 : 2, keys, vals), false, false,
						  wf_jsonb_object(1, dkeys, dvals));
		return REPEAT_LIMIT;
	}

	/* the next iteration's input sees $.iteration */
	ctx = wf_context_iteration(ctx, iteration + 1);
	if (tr->def->input == NULL)
		input = wf_jsonb_object(0, NULL, NULL);
	else if ((input = wf_eval_template(tr->def->input, ctx, &err)) == NULL)
	{
		wf_finish_step(s, wf_expr_failure(tr->name, "input", err));
		return REPEAT_BROKEN;
	}
	no_delay = r->delay == NULL ||
		(r->delay->time == 0 && r->delay->day == 0 && r->delay->month == 0);
	values[1] = JsonbPGetDatum(input);
	values[2] = IntervalPGetDatum(r->delay ? r->delay : &zero);
	values[3] = BoolGetDatum(s->state == WF_EXEC_PAUSED);
	wf_exec(tr->def->workflow ? &again_child : &again, values, NULL, 1);
	iteration = wf_get_int32(0, 1);
	not_before = wf_get_timestamptz(0, 2);
	queue = wf_get_text(0, 3);
	{
		const char *keys[] = {"repeat", "iteration", "not_before"};
		Jsonb	   *vals[] = {wf_jsonb_bool(true), wf_jsonb_int(iteration),
		wf_jsonb_string(timestamptz_to_str(not_before))};

		wf_events_task(&s->ev, tr->id, tr->name,
					   tr->def->workflow ? WF_TASK_DELEGATED : WF_TASK_READY,
					   wf_jsonb_object(3, keys, vals));
	}
	if (tr->def->workflow && no_delay)
	{
		/* the next child starts now (a start failure finishes the step) */
		if (!wf_attempt_restart_child(s, tr, input))
			return REPEAT_LIMIT;
	}
	else if (tr->def->workflow)
		wf_watchdog_due(not_before);
	else if (!no_delay)
		wf_watchdog_due(not_before);
	else if (s->state != WF_EXEC_PAUSED)
		wf_notify_queue(queue);
	wf_finish_step(s, NULL);
	return REPEAT_AGAIN;
}

/* After a task succeeded (its row already updated): what follows. */
WfTaskState
wf_schedule_success(WfStep *s, WfTaskRow *tr, Jsonb *result, Jsonb *detail)
{
	Jsonb	   *failure = NULL;

	wf_events_task(&s->ev, tr->id, tr->name, WF_TASK_SUCCEEDED, detail);
	if (tr->def->repeat && tr->item < 0)
	{
		switch (repeat_next(s, tr, result))
		{
			case REPEAT_DONE:
				break;
			case REPEAT_AGAIN:
				return WF_TASK_READY;
			case REPEAT_LIMIT:
				return WF_TASK_FAILED;
			case REPEAT_BROKEN:
				return WF_TASK_SUCCEEDED;	/* (and the execution failed) */
		}
	}
	s->active--;
	if (tr->item < 0)
		failure = wf_flow_succeeded(s, tr->idx, tr->id, result);
	else
	{
		int64		parent_id;
		Jsonb	   *all;

		/* the last item completes the for_each task: go on from it */
		switch (wf_foreach_item_succeeded(s, tr, &parent_id, &all))
		{
			case WF_FOREACH_PENDING:
				/* a sub-workflow's next item: its child starts now */
				if (tr->def->workflow && tr->def->concurrency > 0 &&
					!wf_flow_start_items(s, tr->idx, 1))
					failure = s->failure;
				break;
			case WF_FOREACH_SUCCEEDED:
				failure = wf_flow_succeeded(s, tr->idx, parent_id, all);
				break;
			case WF_FOREACH_FAILED:
				if (!wf_flow_task_ended(s, tr->idx, parent_id, WF_TASK_FAILED, NULL, all))
					failure = s->failure;
				break;
		}
	}
	wf_finish_step(s, failure);
	return WF_TASK_SUCCEEDED;
}

/*
 * How long to wait before retry number n (n >= 1): delay * backoff^(n-1),
 * capped at max_delay (and at ten years), with "equal jitter" if asked:
 * half the delay plus a random part of the other half.
 */
static Interval *
retry_delay(WfRetry *r, int n)
{
	double		base = wf_interval_usecs(r->delay);
	double		d = base * pow(r->backoff, n - 1);
	double		cap = 10.0 * 365 * USECS_PER_DAY;
	Interval   *iv = palloc0(sizeof(Interval));

	if (r->max_delay)
		cap = Min(cap, wf_interval_usecs(r->max_delay));
	if (base == 0)
		d = 0;					/* 0 x backoff^n, also once backoff^n is
								 * infinite */
	else if (isnan(d) || d > cap)
		d = cap;
	if (r->jitter)
		d = d / 2 + pg_prng_double(&pg_global_prng_state) * (d / 2);
	iv->time = (TimeOffset) d;
	return iv;
}

/*
 * The attempt failed (a runner's error, an expired lease or a delegate
 * timeout): retry if the policy allows, else fail the task and execution.
 * expired: the watchdog ended it; its token is remembered as expired.
 * may_retry false: the task fails whatever its policy (wf_task_cancel).
 * Returns the task's new state.
 */
WfTaskState
wf_attempt_failed(WfStep *s, WfTaskRow *tr, Jsonb *error, bool expired, bool may_retry,
				  Jsonb *detail)
{
	static WfPlan retry = {
		"UPDATE wf.task SET state = 'ready', error = $2, "
		"not_before = pg_catalog.now() + $3, "
		"wake_at = CASE WHEN $3 > '0'::pg_catalog.interval THEN pg_catalog.now() + $3 END, "
		"expired_token_hash = CASE WHEN $4 THEN token_hash ELSE expired_token_hash END, "
		"token_hash = NULL, lease_until = NULL, deadline = NULL, runner = NULL, held = $5 "
		"WHERE id = $1 RETURNING not_before, queue",
		5, {INT8OID, JSONBOID, INTERVALOID, BOOLOID, BOOLOID}
	};
	static WfPlan retry_0_1 = { /* pg_wf 0.1: no wf.task.held */
		"UPDATE wf.task SET state = 'ready', error = $2, "
		"not_before = pg_catalog.now() + $3, "
		"wake_at = CASE WHEN $3 > '0'::pg_catalog.interval THEN pg_catalog.now() + $3 END, "
		"expired_token_hash = CASE WHEN $4 THEN token_hash ELSE expired_token_hash END, "
		"token_hash = NULL, lease_until = NULL, deadline = NULL, runner = NULL "
		"WHERE id = $1 RETURNING not_before, queue",
		5, {INT8OID, JSONBOID, INTERVALOID, BOOLOID, BOOLOID}
	};
	static WfPlan fail = {
		"UPDATE wf.task SET state = 'failed', error = $2, finished_at = pg_catalog.now(), "
		"expired_token_hash = CASE WHEN $3 THEN token_hash ELSE expired_token_hash END, "
		"token_hash = CASE WHEN $3 THEN NULL ELSE token_hash END, "
		"lease_until = NULL, deadline = NULL WHERE id = $1",
		3, {INT8OID, JSONBOID, BOOLOID}
	};

	/* a sub-workflow row's retry waits as delegated to the watchdog */
	static WfPlan retry_child = {
		"UPDATE wf.task SET state = 'delegated', error = $2, deadline = pg_catalog.now() + $3 "
		"WHERE id = $1 RETURNING deadline, queue",
		5, {INT8OID, JSONBOID, INTERVALOID, BOOLOID, BOOLOID}
	};
	WfRetry    *r = tr->def->retry;
	Datum		values[5];

	values[0] = Int64GetDatum(tr->id);
	values[1] = JsonbPGetDatum(error);
	if (may_retry && r && tr->attempt <= r->count)
	{
		Interval   *delay = retry_delay(r, tr->attempt);
		TimestampTz not_before;
		const char *keys[] = {"error", "retry", "delay", "not_before"};
		Jsonb	   *vals[4];
		char	   *queue;
		bool		now = (delay->time == 0 && delay->day == 0);

		values[2] = IntervalPGetDatum(delay);
		values[3] = BoolGetDatum(expired);
		values[4] = BoolGetDatum(s->state == WF_EXEC_PAUSED);
		wf_exec(tr->def->workflow ? &retry_child :
				wf_schema_version() >= WF_SCHEMA_0_2 ? &retry : &retry_0_1, values, NULL, 1);
		not_before = wf_get_timestamptz(0, 1);
		queue = wf_get_text(0, 2);
		if (!now)
			wf_watchdog_due(not_before);
		else if (!tr->def->workflow)
			wf_notify_queue(queue);

		vals[0] = error;
		vals[1] = wf_jsonb_int(tr->attempt);
		vals[2] = wf_jsonb_string(DatumGetCString(DirectFunctionCall1(interval_out,
																	  IntervalPGetDatum(delay))));
		vals[3] = wf_jsonb_string(timestamptz_to_str(not_before));
		wf_events_task(&s->ev, tr->id, tr->name,
					   tr->def->workflow ? WF_TASK_DELEGATED : WF_TASK_READY,
					   wf_jsonb_concat(detail, wf_jsonb_object(4, keys, vals)));
		if (tr->def->workflow && now)
			return wf_attempt_restart_child(s, tr, NULL) ? WF_TASK_RUNNING : WF_TASK_FAILED;
		return tr->def->workflow ? WF_TASK_DELEGATED : WF_TASK_READY;
	}

	values[2] = BoolGetDatum(expired);
	wf_exec(&fail, values, NULL, 1);
	{
		const char *keys[] = {"error"};

		wf_events_task(&s->ev, tr->id, tr->name, WF_TASK_FAILED,
					   wf_jsonb_concat(detail, wf_jsonb_object(1, keys, &error)));
	}

	/*
	 * An on_error edge that fires handles the failure; else the execution
	 * fails.
	 */
	s->active--;
	{
		int64		id = tr->id;

		/* an item's failure fails its for_each task: go on from that */
		if (tr->item >= 0)
			id = wf_foreach_item_failed(s, tr, error, &error);
		wf_finish_step(s, wf_flow_task_ended(s, tr->idx, id, WF_TASK_FAILED, NULL, error) ?
					   NULL : s->failure);
	}
	return WF_TASK_FAILED;
}
