/*
 * wf_execution.c — an execution's bookkeeping inside one engine step:
 * insert the tasks made ready, evaluate their inputs, merge a publish into
 * vars, store the execution row (with the step's history rows), and end an
 * execution: succeed when nothing is left active, fail, or cancel what is
 * left (and the children of cancelled sub-workflow tasks).
 *
 * "Active" means one thing everywhere: a task row in state ready, running
 * or delegated. wf.execution.active counts them, so finding that nothing
 * is left is O(1); every step keeps the count in WfStep.active and stores
 * it with the execution row.
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"
#include "utils/timestamp.h"

#include "pg_wf.h"
#include "wf_execution.h"
#include "wf_expr.h"
#include "wf_signal.h"
#include "wf_step.h"
#include "wf_store.h"


void
wf_add_ready(WfStep *s, int idx)
{
	if (s->new_tasks == NULL)
	{
		s->new_tasks = palloc(sizeof(int) * s->g->ntasks);
		s->new_inputs = palloc(sizeof(Datum) * s->g->ntasks);
	}
	s->new_tasks[s->nnew++] = idx;
}


static void snapshot_joins(WfStep *s);

/*
 * The execution's new bookkeeping, the tasks the step made ready and every
 * history row it buffered, in one statement (wf_batch_flush) — or, in a
 * batch of steps, with the batch's.
 */
void
wf_update_execution(WfStep *s, WfExecState state, Jsonb *output, Jsonb *error)
{
	WfBatch    *b = wf_step_batch(s);

	if (state == WF_EXEC_FAILED || state == WF_EXEC_CANCELLED)
		snapshot_joins(s);
	wf_batch_events(b, s->exec_id, &s->ev);

	/*
	 * vars only if a publish changed them: an unchanged document is not
	 * rewritten
	 */
	s->batch_slot = wf_batch_execution(b, s->batch_slot, s->exec_id, s->active,
									   s->vars_changed ? s->vars : NULL, state, output, error);
	if (b != s->batch)
	{
		wf_batch_flush(b);
		s->batch_slot = 0;
	}

	/*
	 * A sub-workflow that ended: its parent's task is finished by the
	 * watchdog.
	 */
	if (s->parent_task_id != 0 && !s->no_inbox && !wf_exec_is_live(state))
	{
		static WfPlan inbox = {
			"INSERT INTO wf.inbox (parent_task_id, child_execution_id, state, output, error) "
			"VALUES ($1, $2, $3, $4, $5)",
			5, {INT8OID, INT8OID, TEXTOID, JSONBOID, JSONBOID}
		};
		Datum		ivalues[5];
		char		inulls[5] = {' ', ' ', ' ', output ? ' ' : 'n', error ? ' ' : 'n'};

		ivalues[0] = Int64GetDatum(s->parent_task_id);
		ivalues[1] = Int64GetDatum(s->exec_id);
		ivalues[2] = CStringGetTextDatum(wf_exec_state_name(state));
		ivalues[3] = output ? JsonbPGetDatum(output) : (Datum) 0;
		ivalues[4] = error ? JsonbPGetDatum(error) : (Datum) 0;
		wf_exec(&inbox, ivalues, inulls, 1);
		wf_watchdog_due(GetCurrentTransactionStartTimestamp());
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

		/* a repeating task's first iteration sees $.iteration = 0 */
		Jsonb	   *tctx = t->repeat && ctx ? wf_context_iteration(ctx, 0) : ctx;

		if (t->input == NULL)
			in = wf_jsonb_object(0, NULL, NULL);
		else if ((in = wf_eval_template(t->input, tctx, &err)) == NULL)
			return wf_expr_failure(t->name, NULL, err);
		s->new_inputs[i] = JsonbPGetDatum(in);
	}
	return NULL;
}

/*
 * The tasks made ready in this step, written with the execution row
 * (wf_update_execution): as ready (their queues are woken at commit), or
 * as cancelled when the step fails the execution (so that wf_rerun runs
 * them). Either way they are no longer "new".
 */
static void
insert_new_tasks(WfStep *s, WfTaskState state)
{
	WfBatch    *b = wf_step_batch(s);
	int			pos = wf_batch_nevents(b) + s->ev.n;
	bool		held = (state == WF_TASK_READY && s->state == WF_EXEC_PAUSED);

	for (int i = 0; i < s->nnew; i++)
	{
		WfTask	   *t = &s->g->tasks[s->new_tasks[i]];

		wf_batch_task(b, s->exec_id, t->name, t->action, t->queue,
					  DatumGetJsonbP(s->new_inputs[i]), t->timeout, state, held, pos);
		if (state == WF_TASK_READY)
			wf_notify_queue(t->queue);
	}
	if (state == WF_TASK_READY)
		s->active += s->nnew;
	s->nnew = 0;
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
		wf_events_task(&s->ev, wf_get_int64(r, 1), wf_get_text(r, 2), WF_TASK_CANCELLED, NULL);
		if (strncmp(wf_get_text(r, 3), "workflow.", 9) == 0)
			subs[nsubs++] = wf_get_int64(r, 1);
	}
	s->active = 0;
	s->nnew = 0;

	/*
	 * Cancelling a sub-workflow task cancels its child (parent, then child:
	 * the lock order).
	 */
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
		if (!wf_exec_is_live(c.state))
			continue;
		c.no_inbox = true;		/* its parent task is being cancelled already */
		wf_cancel_rest(&c);
		wf_events_exec(&c.ev, WF_EXEC_CANCELLED, doc);
		wf_update_execution(&c, WF_EXEC_CANCELLED, NULL, doc);
	}
}

/* End the execution as failed: cancel what is left, record the error. */
void
wf_fail_execution(WfStep *s, Jsonb *error)
{
	/*
	 * Runner tasks made ready in this step, before what fails it: kept as
	 * cancelled, with their inputs, so that wf_rerun runs them like the other
	 * cancelled tasks. If their inputs cannot be evaluated (an expression
	 * error, which wf_rerun refuses anyway), they are not kept.
	 */
	if (s->nnew > 0)
	{
		Jsonb	   *ctx;

		if (s->inputs_ready || wf_prepare_inputs(s, &ctx) == NULL)
			insert_new_tasks(s, WF_TASK_CANCELLED);
	}
	wf_cancel_rest(s);
	wf_events_exec(&s->ev, WF_EXEC_FAILED, error);
	wf_update_execution(s, WF_EXEC_FAILED, NULL, error);
}

/* Does the graph keep join or for_each counts? (Only those pay below.) */
static bool
has_counts(WfGraph *g)
{
	for (int i = 0; i < g->ntasks; i++)
		if (g->tasks[i].nrequires > 1 || g->tasks[i].for_each != NULL)
			return true;
	return false;
}

/*
 * A succeeded execution (one that ended early: "engine": "succeed") may
 * leave joins and for_each counts half filled: they are done with.
 */
static void
forget_joins(WfStep *s)
{
	static WfPlan forget = {
		"WITH j AS (DELETE FROM wf.join_state WHERE execution_id = $1) "
		"DELETE FROM wf.foreach_state WHERE execution_id = $1",
		1, {INT8OID}
	};
	Datum		values[1];

	if (!has_counts(s->g))
		return;
	values[0] = Int64GetDatum(s->exec_id);
	wf_exec(&forget, values, NULL, 0);
}

/*
 * A failed or cancelled execution's joins and for_each counts go too; the
 * joins' counts are kept in its end event ({"joins": [...]} in the detail
 * of the history row that ends it), which wf_rerun restores them from (it
 * recounts for_each items from their rows).
 */
static void
snapshot_joins(WfStep *s)
{
	static WfPlan forget = {
		"WITH j AS (DELETE FROM wf.join_state WHERE execution_id = $1 "
		"           RETURNING task, arrived, fired, decided), "
		"f AS (DELETE FROM wf.foreach_state WHERE execution_id = $1) "
		"SELECT pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object('task', task, "
		"       'arrived', arrived, 'fired', fired, 'decided', decided) ORDER BY task) FROM j",
		1, {INT8OID}
	};
	Datum		values[1];
	Jsonb	   *joins;

	if (!has_counts(s->g))
		return;
	values[0] = Int64GetDatum(s->exec_id);
	wf_exec(&forget, values, NULL, 1);
	joins = wf_get_jsonb(0, 1);
	if (joins)
	{
		const char *keys[] = {"joins"};

		wf_events_amend_exec(&s->ev, wf_jsonb_object(1, keys, &joins));
	}
}

/* Store the execution's new bookkeeping; finish it if nothing is left. */
static void
save_execution(WfStep *s, Jsonb *ctx_for_output)
{
	WfExecState state = s->state;	/* running or paused */
	Jsonb	   *output = NULL;

	if (s->active == 0)
	{
		char	   *err = NULL;

		output = wf_step_vars(s);
		if (s->g->output &&
			(output = wf_eval_template(s->g->output, ctx_for_output, &err)) == NULL)
		{
			wf_fail_execution(s, wf_expr_failure(NULL, "output", err));
			return;
		}
		state = WF_EXEC_SUCCEEDED;
		wf_events_exec(&s->ev, state, NULL);
		forget_joins(s);
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
	Jsonb	   *published;
	char	   *err = NULL;

	if (t->publish == NULL)
		return NULL;
	published = wf_eval_template(t->publish,
								 wf_step_context_for(s, &t->publish, 1, result, NULL),
								 &err);
	if (published == NULL)
		return wf_expr_failure(t->name, "publish", err);
	s->vars = wf_jsonb_concat(wf_step_vars(s), published);
	s->vars_changed = true;
	return NULL;
}

/*
 * Evaluate the inputs of the tasks made ready (and load what they, and the
 * output if the execution may end, read). Returns NULL or a failure
 * document; *ctx_out is the context, or NULL if no template needed one.
 */
Jsonb *
wf_prepare_inputs(WfStep *s, Jsonb **ctx_out)
{
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
		/* what the new tasks' inputs read, and the output if it may be needed */
		WfTemplate **tmpls = palloc(sizeof(WfTemplate *) * (s->nnew + 1));

		for (int i = 0; i < s->nnew; i++)
			tmpls[i] = s->g->tasks[s->new_tasks[i]].input;
		tmpls[s->nnew] = may_finish ? s->g->output : NULL;
		*ctx_out = wf_step_context_for(s, tmpls, s->nnew + 1, NULL, NULL);
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
			wf_prepare_inputs(s, &ctx);
		save_execution(s, ctx);
		return;
	}
	if (failure == NULL && !s->inputs_ready)
		failure = wf_prepare_inputs(s, &ctx);
	if (failure)
	{
		wf_fail_execution(s, failure);
		return;
	}
	insert_new_tasks(s, WF_TASK_READY);
	save_execution(s, ctx);
}
