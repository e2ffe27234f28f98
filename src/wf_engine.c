/*
 * wf_engine.c — the state machine: wf_start() and what happens when an
 * attempt succeeds or fails (wf_task.c and wf_watchdog.c drive it).
 *
 * Concurrency contract (DESIGN.md), owned by this file:
 *
 *  - Every engine step touches one execution. It locks the execution row
 *    first (FOR NO KEY UPDATE), then task rows. Never the reverse.
 *    Completions in different executions never wait on each other;
 *    completions in one execution serialise on its row, so a join sees each
 *    of its branches exactly once. The watchdog takes the execution lock
 *    with SKIP LOCKED: it never waits, and whoever holds the lock first
 *    decides the outcome (a callback, a cancel, or an expiry).
 *  - After the locks are taken, the task's state and token are checked
 *    again (wf_task.c): what is decided is never applied twice.
 *
 * Work per completion is proportional to the finishing task's out-edges:
 * a successor with one inbound edge becomes ready at once; a join counts
 * arrivals in wf.join_state (one row per waiting join) and fires when the
 * count reaches its in-degree. The execution row keeps the number of tasks
 * that are ready, running or delegated ("active"), so finding that nothing
 * is left is O(1). Expressions read only the task rows they name.
 *
 * Task states: ready -> running -> succeeded | failed | delegated;
 * delegated -> succeeded | failed; a failed attempt with retries left goes
 * back to ready (not_before = now + back-off); ready/running/delegated ->
 * cancelled when the execution ends first.
 * Execution states: running -> succeeded | failed | cancelled.
 */
#include "postgres.h"

#include <math.h>

#include "catalog/pg_type.h"
#include "common/pg_prng.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "utils/builtins.h"
#include "utils/datum.h"
#include "utils/jsonb.h"
#include "utils/timestamp.h"
#include "access/xact.h"

#include "pg_wf.h"
#include "wf_engine.h"
#include "wf_expr.h"
#include "wf_queue.h"
#include "wf_store.h"
#include "wf_watchdog.h"

PG_FUNCTION_INFO_V1(wf_start);

static WfPlan plan_insert_tasks = {
	"INSERT INTO wf.task (execution_id, name, action, queue, input, timeout, state) "
	"SELECT $1, u.name, u.action, u.queue, u.input, u.timeout, 'ready' "
	"FROM unnest($2::pg_catalog.text[], $3::pg_catalog.text[], "
	"$4::pg_catalog.text[], $5::pg_catalog.jsonb[], $6::pg_catalog.interval[]) "
	"AS u(name, action, queue, input, timeout) "
	"RETURNING id, name",
	6, {INT8OID, TEXTARRAYOID, TEXTARRAYOID, TEXTARRAYOID, JSONBARRAYOID, INTERVALARRAYOID}
};

/*
 * The execution's new bookkeeping, and every history row the step buffered,
 * in one statement.
 */
void
wf_update_execution(WfStep *s, const char *state, Jsonb *output, Jsonb *error)
{
	static WfPlan plan = {
		"WITH ev AS ("
		"  INSERT INTO wf.event (execution_id, task_id, task, state, detail)"
		"  SELECT $1, u.task_id, u.task, u.state, u.detail"
		"  FROM unnest($7::pg_catalog.int8[], $8::pg_catalog.text[],"
		"              $9::pg_catalog.text[], $10::pg_catalog.jsonb[])"
		"       AS u(task_id, task, state, detail))"
		"UPDATE wf.execution SET active = $2, vars = COALESCE($3, vars), state = $4, output = $5, "
		"error = $6, updated_at = pg_catalog.now(), "
		"finished_at = CASE WHEN $4 = 'running' THEN NULL ELSE pg_catalog.now() END "
		"WHERE id = $1",
		10, {INT8OID, INT4OID, JSONBOID, TEXTOID, JSONBOID, JSONBOID,
		INT8ARRAYOID, TEXTARRAYOID, TEXTARRAYOID, JSONBARRAYOID}
	};
	Datum		values[10];
	char		nulls[10] = {' ', ' ', ' ', ' ', ' ', ' ', ' ', ' ', ' ', ' '};

	values[0] = Int64GetDatum(s->exec_id);
	values[1] = Int32GetDatum(s->active);
	/* vars only if a publish changed them: an unchanged document is not rewritten */
	values[2] = s->vars_changed ? JsonbPGetDatum(s->vars) : (Datum) 0;
	nulls[2] = s->vars_changed ? ' ' : 'n';
	values[3] = CStringGetTextDatum(state);
	values[4] = output ? JsonbPGetDatum(output) : (Datum) 0;
	nulls[4] = output ? ' ' : 'n';
	values[5] = error ? JsonbPGetDatum(error) : (Datum) 0;
	nulls[5] = error ? ' ' : 'n';
	wf_events_arrays(&s->ev, &values[6]);
	wf_exec(&plan, values, nulls, 1);
	s->ev.n = 0;

	/* A sub-workflow that ended: its parent's task is finished by the watchdog. */
	if (s->parent_task_id != 0 && !s->no_inbox && strcmp(state, "running") != 0 &&
		strcmp(state, "paused") != 0)
	{
		static WfPlan inbox = {
			"INSERT INTO wf.inbox (parent_task_id, child_execution_id, state, output, error) "
			"VALUES ($1, $2, $3, $4, $5)",
			5, {INT8OID, INT8OID, TEXTOID, JSONBOID, JSONBOID}
		};
		Datum		ivalues[5];
		char		inulls[5] = {' ', ' ', ' ', nulls[4], nulls[5]};

		ivalues[0] = Int64GetDatum(s->parent_task_id);
		ivalues[1] = Int64GetDatum(s->exec_id);
		ivalues[2] = values[3];
		ivalues[3] = values[4];
		ivalues[4] = values[5];
		wf_exec(&inbox, ivalues, inulls, 1);
		wf_watchdog_due(GetCurrentTransactionStartTimestamp());
	}
}

static WfPlan plan_views_named = {
	"SELECT name, state, result, error FROM wf.task "
	"WHERE execution_id = $1 AND name = ANY ($2) AND item IS NULL",
	2, {INT8OID, TEXTARRAYOID}
};

static WfPlan plan_views_all = {
	"SELECT name, state, result, error FROM wf.task WHERE execution_id = $1 AND item IS NULL",
	1, {INT8OID}
};

/* ---------------------------------------------------------------------
 * Context: the task rows that the pending expressions read
 * ---------------------------------------------------------------------
 */
void
wf_load_views(WfStep *s, bool all, bool *want)
{
	uint64		n;
	Datum		values[2];

	values[0] = Int64GetDatum(s->exec_id);
	if (all)
		n = wf_exec(&plan_views_all, values, NULL, 0);
	else
	{
		Datum	   *names = palloc(sizeof(Datum) * s->g->ntasks);
		int			nnames = 0;

		for (int i = 0; i < s->g->ntasks; i++)
			if (want[i])
				names[nnames++] = CStringGetTextDatum(s->g->tasks[i].name);
		if (nnames == 0)
			return;
		values[1] = wf_text_array(names, nnames);
		n = wf_exec(&plan_views_named, values, NULL, 0);
	}
	s->views = palloc(sizeof(WfTaskView) * Max(n, 1));
	s->nviews = n;
	for (uint64 r = 0; r < n; r++)
	{
		s->views[r].name = wf_get_text(r, 1);
		s->views[r].state = wf_get_text(r, 2);
		s->views[r].result = wf_get_jsonb(r, 3);
		s->views[r].error = wf_get_jsonb(r, 4);
	}
}

/* ---------------------------------------------------------------------
 * Scheduling
 * ---------------------------------------------------------------------
 */

/*
 * Evaluate the inputs of the tasks made ready. Returns NULL, or the failure
 * document of the first expression that raised an error.
 */
static Jsonb *
eval_new_inputs(WfStep *s, Jsonb *ctx)
{
	for (int i = 0; i < s->nnew; i++)
	{
		WfTask	   *t = &s->g->tasks[s->new_tasks[i]];
		Jsonb	   *in;
		char	   *err = NULL;

		if (t->input == NULL)
			in = wf_jsonb_object(0, NULL, NULL);
		else if ((in = wf_eval_template(t->input, ctx, &err)) == NULL)
		{
			const char *keys[] = {"type", "task", "message"};
			Jsonb	   *vals[] = {wf_jsonb_string("expression_error"),
			wf_jsonb_string(t->name), wf_jsonb_string(err)};

			return wf_jsonb_object(3, keys, vals);
		}
		s->new_inputs[i] = JsonbPGetDatum(in);
	}
	return NULL;
}

void
wf_insert_new_tasks(WfStep *s)
{
	Datum	   *names,
			   *actions,
			   *queues,
			   *timeouts;
	bool	   *tnulls;
	Datum		values[6];
	uint64		n;

	if (s->nnew == 0)
		return;
	names = palloc(sizeof(Datum) * s->nnew);
	actions = palloc(sizeof(Datum) * s->nnew);
	queues = palloc(sizeof(Datum) * s->nnew);
	timeouts = palloc(sizeof(Datum) * s->nnew);
	tnulls = palloc(sizeof(bool) * s->nnew);
	for (int i = 0; i < s->nnew; i++)
	{
		WfTask	   *t = &s->g->tasks[s->new_tasks[i]];

		names[i] = CStringGetTextDatum(t->name);
		actions[i] = CStringGetTextDatum(t->action);
		queues[i] = CStringGetTextDatum(t->queue);
		timeouts[i] = t->timeout ? IntervalPGetDatum(t->timeout) : (Datum) 0;
		tnulls[i] = (t->timeout == NULL);
		wf_notify_queue(t->queue);
	}
	values[0] = Int64GetDatum(s->exec_id);
	values[1] = wf_text_array(names, s->nnew);
	values[2] = wf_text_array(actions, s->nnew);
	values[3] = wf_text_array(queues, s->nnew);
	values[4] = wf_jsonb_array(s->new_inputs, s->nnew);
	{
		int			dims[1] = {s->nnew};
		int			lbs[1] = {1};

		values[5] = PointerGetDatum(construct_md_array(timeouts, tnulls, 1, dims, lbs,
													   INTERVALOID, sizeof(Interval),
													   false, TYPALIGN_DOUBLE));
	}
	n = wf_exec(&plan_insert_tasks, values, NULL, s->nnew);
	for (uint64 r = 0; r < n; r++)
		wf_events_add(&s->ev, wf_get_int64(r, 1), wf_get_text(r, 2), "ready", NULL);
	s->active += s->nnew;
}

/*
 * Cancel every task of the execution that is still active. Its joins'
 * counts stay, for wf_rerun.
 */
void
wf_cancel_rest(WfStep *s)
{
	static WfPlan cancel = {
		"UPDATE wf.task SET state = 'cancelled', finished_at = pg_catalog.now(), "
		"lease_until = NULL, deadline = NULL, wake_at = NULL "
		"WHERE execution_id = $1 AND state IN ('ready', 'running', 'delegated') "
		"RETURNING id, name, action",
		1, {INT8OID}
	};
	Datum		values[1];
	uint64		n;

	int64	   *subs;
	int			nsubs = 0;

	values[0] = Int64GetDatum(s->exec_id);
	n = wf_exec(&cancel, values, NULL, 0);
	subs = palloc(sizeof(int64) * Max(n, 1));
	for (uint64 r = 0; r < n; r++)
	{
		wf_events_add(&s->ev, wf_get_int64(r, 1), wf_get_text(r, 2), "cancelled", NULL);
		if (strncmp(wf_get_text(r, 3), "workflow.", 9) == 0)
			subs[nsubs++] = wf_get_int64(r, 1);
	}
	s->active = 0;
	s->nnew = 0;
	/* Cancelling a sub-workflow task cancels its child (parent, then child: the lock order). */
	for (int i = 0; i < nsubs; i++)
		wf_cancel_children(subs[i], "its parent task was cancelled");
	s->nnew = 0;
}

/* Cancel the running child executions of a (sub-workflow) task. */
void
wf_cancel_children(int64 parent_task_id, const char *reason)
{
	static WfPlan children = {
		"SELECT id FROM wf.execution WHERE parent_task_id = $1 AND state IN ('running', 'paused')",
		1, {INT8OID}
	};
	Datum		values[1];
	uint64		n;
	int64	   *ids;

	values[0] = Int64GetDatum(parent_task_id);
	ids = wf_exec_ids(&children, values, &n);
	for (uint64 r = 0; r < n; r++)
	{
		WfStep		c;
		const char *keys[] = {"type", "reason"};
		Jsonb	   *vals[] = {wf_jsonb_string("cancelled"), wf_jsonb_string(reason)};
		Jsonb	   *doc = wf_jsonb_object(2, keys, vals);

		wf_step_open(&c, ids[r], false);
		if (strcmp(c.state, "running") != 0 && strcmp(c.state, "paused") != 0)
			continue;
		c.no_inbox = true;		/* its parent task is being cancelled already */
		wf_cancel_rest(&c);
		wf_events_add(&c.ev, 0, NULL, "cancelled", doc);
		wf_update_execution(&c, "cancelled", NULL, doc);
	}
}

/* End the execution as failed: cancel what is left, record the error. */
void
wf_fail_execution(WfStep *s, Jsonb *error)
{
	wf_cancel_rest(s);
	wf_events_add(&s->ev, 0, NULL, "failed", error);
	wf_update_execution(s, "failed", NULL, error);
}

/* Store the execution's new bookkeeping; finish it if nothing is left. */
static void
save_execution(WfStep *s, Jsonb *ctx_for_output)
{
	const char *state = s->state ? s->state : "running";	/* or paused */
	Jsonb	   *output = NULL;

	if (s->active == 0)
	{
		char	   *err = NULL;

		output = wf_step_vars(s);
		if (s->g->output &&
			(output = wf_eval_template(s->g->output, ctx_for_output, &err)) == NULL)
		{
			const char *keys[] = {"type", "task", "message"};
			Jsonb	   *vals[] = {wf_jsonb_string("expression_error"), NULL,
			wf_jsonb_string(psprintf("output: %s", err))};

			wf_fail_execution(s, wf_jsonb_object(3, keys, vals));
			return;
		}
		state = "succeeded";
		wf_events_add(&s->ev, 0, NULL, state, NULL);
	}
	wf_update_execution(s, state, output, NULL);
}

/*
 * Evaluate the finishing task's publish (its context has "result") and
 * merge it into vars. Returns NULL or an expression failure document.
 */
Jsonb *
wf_publish(WfStep *s, WfTask *t, Jsonb *result)
{
	bool	   *want;
	bool		all = false;
	Jsonb	   *published;
	char	   *err = NULL;

	if (t->publish == NULL)
		return NULL;
	want = palloc0(sizeof(bool) * s->g->ntasks);
	if (wf_template_refs(t->publish, &all, want))
		wf_load_views(s, all, want);
	published = wf_eval_template(t->publish,
								 wf_step_context(s, result, NULL),
								 &err);
	if (published == NULL)
	{
		const char *keys[] = {"type", "task", "message"};
		Jsonb	   *vals[] = {wf_jsonb_string("expression_error"), wf_jsonb_string(t->name),
		wf_jsonb_string(psprintf("publish: %s", err))};

		return wf_jsonb_object(3, keys, vals);
	}
	s->vars = wf_jsonb_concat(wf_step_vars(s), published);
	s->vars_changed = true;
	return NULL;
}

/*
 * Evaluate the inputs of the tasks made ready (and load what they, and the
 * output if the execution may end, read). Returns NULL or a failure
 * document; *ctx_out is the context, or NULL if no template needed one.
 */
static Jsonb *
prepare_inputs(WfStep *s, Jsonb **ctx_out)
{
	bool	   *want;
	bool		all = false;
	bool		need = false;
	bool		dynamic;
	bool		may_finish = (s->active + s->nnew == 0);

	*ctx_out = NULL;
	dynamic = may_finish && s->g->output && s->g->output->dynamic;
	for (int i = 0; i < s->nnew && !dynamic; i++)
	{
		WfTemplate *in = s->g->tasks[s->new_tasks[i]].input;

		dynamic = (in && in->dynamic);
	}
	if (dynamic)
	{
		want = palloc0(sizeof(bool) * s->g->ntasks);
		for (int i = 0; i < s->nnew; i++)
			need |= wf_template_refs(s->g->tasks[s->new_tasks[i]].input, &all, want);
		if (may_finish)
			need |= wf_template_refs(s->g->output, &all, want);
		if (need)
			wf_load_views(s, all, want);
		*ctx_out = wf_step_context(s, NULL, NULL);
	}
	return eval_new_inputs(s, *ctx_out);
}

/*
 * The end of an engine step after a task ended: fail the execution, end it
 * at an {"engine": "succeed"}, or insert the tasks made ready and store the
 * bookkeeping (finishing the execution when nothing is left).
 */
void
wf_finish_step(WfStep *s, Jsonb *failure)
{
	Jsonb	   *ctx = s->ctx;

	if (failure == NULL && s->succeed_now)
	{
		wf_cancel_rest(s);
		if (s->g->output && s->g->output->dynamic)
			prepare_inputs(s, &ctx);
		save_execution(s, ctx);
		return;
	}
	if (failure == NULL && !s->inputs_ready)
		failure = prepare_inputs(s, &ctx);
	if (failure)
	{
		wf_fail_execution(s, failure);
		return;
	}
	wf_insert_new_tasks(s);
	save_execution(s, ctx);
}

/* ---------------------------------------------------------------------
 * wf_start(workflow text, input jsonb DEFAULT '{}') RETURNS bigint
 * ---------------------------------------------------------------------
 */

/* Check the caller's input against the declared keys; apply defaults. */
static Jsonb *
check_input(WfGraph *g, Jsonb *input)
{
	if (!JB_ROOT_IS_OBJECT(input))
		ereport(ERROR,
				(errcode(ERRCODE_WF_INVALID_INPUT),
				 errmsg("input of workflow \"%s\" must be a JSON object", g->name)));
	if (!g->has_input_spec)
		return input;

	for (int i = 0; i < g->ninputs; i++)
	{
		JsonbValue	v;

		if (g->inputs[i].required &&
			!getKeyJsonValueFromContainer(&input->root, g->inputs[i].key,
										  strlen(g->inputs[i].key), &v))
			ereport(ERROR,
					(errcode(ERRCODE_WF_INVALID_INPUT),
					 errmsg("input of workflow \"%s\" lacks required key \"%s\"",
							g->name, g->inputs[i].key)));
	}
	{
		JsonbIterator *it = JsonbIteratorInit(&input->root);
		JsonbValue	v;
		JsonbIteratorToken tok;

		while ((tok = JsonbIteratorNext(&it, &v, true)) != WJB_DONE)
		{
			bool		known = false;

			if (tok != WJB_KEY)
				continue;
			for (int i = 0; i < g->ninputs && !known; i++)
				known = (strlen(g->inputs[i].key) == (size_t) v.val.string.len &&
						 memcmp(g->inputs[i].key, v.val.string.val, v.val.string.len) == 0);
			if (!known)
				ereport(ERROR,
						(errcode(ERRCODE_WF_INVALID_INPUT),
						 errmsg("input of workflow \"%s\" has unknown key \"%.*s\"",
								g->name, v.val.string.len, v.val.string.val),
						 errhint("The workflow declares its input keys in \"input\".")));
		}
	}
	return wf_jsonb_concat(DatumGetJsonbP(g->input_defaults), input);
}

/*
 * Start an execution (SPI connected): the body of wf_start, and how a
 * sub-workflow task starts its child. With a key that was used before,
 * returns that execution instead.
 */
int64
wf_start_execution(const char *name, Jsonb *input, text *key, int64 parent_task_id, int depth)
{
	static WfPlan newest = {
		"SELECT pg_catalog.max(version) FROM wf.workflow WHERE name = $1",
		1, {TEXTOID}
	};
	static WfPlan insert_execution = {
		"INSERT INTO wf.execution (workflow, version, state, input, vars, active, key, deadline, "
		"parent_task_id, depth) "
		"VALUES ($1, $2, 'running', $3, $4, 0, $5, pg_catalog.now() + $6, $7, $8) "
		"ON CONFLICT (workflow, key) WHERE key IS NOT NULL DO NOTHING RETURNING id",
		8, {TEXTOID, INT4OID, JSONBOID, JSONBOID, TEXTOID, INTERVALOID, INT8OID, INT4OID}
	};
	static WfPlan existing = {
		"SELECT id FROM wf.execution WHERE workflow = $1 AND key = $2",
		2, {TEXTOID, TEXTOID}
	};
	Datum		values[8];
	char		nulls[8] = {' ', ' ', ' ', ' ', ' ', ' ', ' ', ' '};
	WfStep		s;
	Jsonb	   *failure;

	memset(&s, 0, sizeof(s));
	values[0] = CStringGetTextDatum(name);
	wf_exec(&newest, values, NULL, 1);
	if (wf_isnull(0, 1))
		ereport(ERROR,
				(errcode(ERRCODE_WF_UNKNOWN_WORKFLOW),
				 errmsg("workflow \"%s\" does not exist", name),
				 errhint("Define it first with wf_define().")));
	s.g = wf_graph_get(name, wf_get_int32(0, 1));
	s.input = check_input(s.g, input);
	s.vars = wf_jsonb_object(0, NULL, NULL);
	if (s.g->vars)
	{
		char	   *err = NULL;

		s.vars = wf_eval_template(s.g->vars, wf_context(s.input, s.vars, 0, NULL, NULL, NULL), &err);
		if (s.vars == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_WF_INVALID_INPUT),
					 errmsg("cannot start workflow \"%s\": an expression in its vars failed", name),
					 errdetail("%s", err)));
	}

	values[1] = Int32GetDatum(s.g->version);
	values[2] = JsonbPGetDatum(s.input);
	values[3] = JsonbPGetDatum(s.vars);
	values[4] = key ? PointerGetDatum(key) : (Datum) 0;
	nulls[4] = key ? ' ' : 'n';
	values[5] = s.g->timeout ? IntervalPGetDatum(s.g->timeout) : (Datum) 0;
	nulls[5] = s.g->timeout ? ' ' : 'n';
	values[6] = Int64GetDatum(parent_task_id);
	nulls[6] = parent_task_id ? ' ' : 'n';
	values[7] = Int32GetDatum(depth);
	if (wf_exec(&insert_execution, values, nulls, 0) == 0)
	{
		/* started before with this key: that execution, not a second one */
		values[1] = values[4];
		wf_exec(&existing, values, NULL, 1);
		ereport(NOTICE,
				(errmsg("workflow \"%s\" was already started with key \"%s\"; returning that execution",
						name, text_to_cstring(key))));
		return wf_get_int64(0, 1);
	}
	s.exec_id = wf_get_int64(0, 1);
	s.parent_task_id = parent_task_id;
	s.depth = depth;
	if (s.g->timeout)
		wf_watchdog_due(GetCurrentTransactionStartTimestamp() +
						s.g->timeout->day * USECS_PER_DAY + s.g->timeout->time);
	wf_events_add(&s.ev, 0, NULL, "running", NULL);

	/* Start tasks; engine tasks among them are decided at once. */
	failure = NULL;
	for (int i = 0; i < s.g->nstart && failure == NULL && !s.succeed_now; i++)
		if (!wf_flow_make_ready(&s, s.g->start[i]))
			failure = s.failure;
	if (failure == NULL && !s.succeed_now)
	{
		/* at the start, a failing input expression refuses the start */
		failure = prepare_inputs(&s, &s.ctx);
		if (failure)
			ereport(ERROR,
					(errcode(ERRCODE_WF_INVALID_INPUT),
					 errmsg("cannot start workflow \"%s\": an input expression failed", name),
					 errdetail("%s", JsonbToCString(NULL, &failure->root, VARSIZE(failure)))));
		s.inputs_ready = true;
	}
	wf_finish_step(&s, failure);
	wf_events_flush(&s.ev, s.exec_id);
	return s.exec_id;
}

/* wf_start(workflow text, input jsonb DEFAULT '{}', key text DEFAULT NULL) RETURNS bigint */
Datum
wf_start(PG_FUNCTION_ARGS)
{
	int64		id;

	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("workflow name must not be null")));
	SPI_connect();
	id = wf_start_execution(text_to_cstring(PG_GETARG_TEXT_PP(0)),
							PG_ARGISNULL(1) ? wf_jsonb_object(0, NULL, NULL) : PG_GETARG_JSONB_P(1),
							PG_ARGISNULL(2) ? NULL : PG_GETARG_TEXT_PP(2), 0, 0);
	SPI_finish();
	PG_RETURN_INT64(id);
}

/* The attempt succeeded: record it, schedule its successors. */
const char *
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

/* After a task succeeded (its row already updated): what follows. */
const char *
wf_schedule_success(WfStep *s, WfTaskRow *tr, Jsonb *result, Jsonb *detail)
{
	wf_events_add(&s->ev, tr->id, tr->name, "succeeded", detail);
	s->active--;
	wf_finish_step(s, tr->item >= 0 ? wf_foreach_item_succeeded(s, tr)
				   : wf_succeeded_flow(s, tr->idx, tr->id, result));
	return "succeeded";
}

/*
 * What follows a task's success: its publish, then its out-edges. Returns
 * NULL or why the execution must fail.
 */
Jsonb *
wf_succeeded_flow(WfStep *s, int idx, int64 task_id, Jsonb *result)
{
	Jsonb	   *failure = wf_publish(s, &s->g->tasks[idx], result);

	if (failure == NULL &&
		!wf_flow_task_ended(s, idx, task_id, "succeeded", result, NULL))
		failure = s->failure;
	return failure;
}

/*
 * How long to wait before retry number n (n >= 1): delay * backoff^(n-1),
 * capped at max_delay (and at ten years), with "equal jitter" if asked:
 * half the delay plus a random part of the other half.
 */
static Interval *
retry_delay(WfRetry *r, int n)
{
	double		base = (double) r->delay->day * USECS_PER_DAY + r->delay->time;
	double		d = base * pow(r->backoff, n - 1);
	double		cap = 10.0 * 365 * USECS_PER_DAY;
	Interval   *iv = palloc0(sizeof(Interval));

	if (r->max_delay)
		cap = Min(cap, (double) r->max_delay->day * USECS_PER_DAY + r->max_delay->time);
	if (isnan(d) || d > cap)
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
 * Returns the task's new state.
 */
const char *
wf_attempt_failed(WfStep *s, WfTaskRow *tr, Jsonb *error, bool expired, Jsonb *detail)
{
	static WfPlan retry = {
		"UPDATE wf.task SET state = 'ready', error = $2, "
		"not_before = pg_catalog.now() + $3, "
		"wake_at = CASE WHEN $3 > '0'::pg_catalog.interval THEN pg_catalog.now() + $3 END, "
		"expired_token_hash = CASE WHEN $4 THEN token_hash ELSE expired_token_hash END, "
		"token_hash = NULL, lease_until = NULL, deadline = NULL, runner = NULL "
		"WHERE id = $1 RETURNING not_before, queue",
		4, {INT8OID, JSONBOID, INTERVALOID, BOOLOID}
	};
	static WfPlan fail = {
		"UPDATE wf.task SET state = 'failed', error = $2, finished_at = pg_catalog.now(), "
		"expired_token_hash = CASE WHEN $3 THEN token_hash ELSE expired_token_hash END, "
		"token_hash = CASE WHEN $3 THEN NULL ELSE token_hash END, "
		"lease_until = NULL, deadline = NULL WHERE id = $1",
		3, {INT8OID, JSONBOID, BOOLOID}
	};
	WfRetry    *r = tr->def->retry;
	Datum		values[4];

	values[0] = Int64GetDatum(tr->id);
	values[1] = JsonbPGetDatum(error);
	if (r && tr->attempt <= r->count)
	{
		Interval   *delay = retry_delay(r, tr->attempt);
		TimestampTz not_before;
		const char *keys[] = {"error", "retry", "delay", "not_before"};
		Jsonb	   *vals[4];
		char	   *queue;

		values[2] = IntervalPGetDatum(delay);
		values[3] = BoolGetDatum(expired);
		wf_exec(&retry, values, NULL, 1);
		not_before = wf_get_timestamptz(0, 1);
		queue = wf_get_text(0, 2);
		if (delay->time == 0 && delay->day == 0)
			wf_notify_queue(queue);
		else
			wf_watchdog_due(not_before);

		vals[0] = error;
		vals[1] = wf_jsonb_int(tr->attempt);
		vals[2] = wf_jsonb_string(DatumGetCString(DirectFunctionCall1(interval_out,
																	  IntervalPGetDatum(delay))));
		vals[3] = wf_jsonb_string(timestamptz_to_str(not_before));
		wf_events_add(&s->ev, tr->id, tr->name, "ready",
					  wf_jsonb_concat(detail, wf_jsonb_object(4, keys, vals)));
		return "ready";
	}

	values[2] = BoolGetDatum(expired);
	wf_exec(&fail, values, NULL, 1);
	{
		const char *keys[] = {"error"};

		wf_events_add(&s->ev, tr->id, tr->name, "failed",
					  wf_jsonb_concat(detail, wf_jsonb_object(1, keys, &error)));
	}
	/* An on_error edge that fires handles the failure; else the execution fails. */
	s->active--;
	if (tr->item >= 0)
		wf_finish_step(s, wf_foreach_item_failed(s, tr, error));
	else
		wf_finish_step(s, wf_flow_task_ended(s, tr->idx, tr->id, "failed", NULL, error) ?
					   NULL : s->failure);
	return "failed";
}
