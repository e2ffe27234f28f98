/*
 * wf_foreach.c — for_each: one task instance per item.
 *
 * When a for_each task becomes ready, its expression is evaluated to an
 * array and the task gets a row of its own (item IS NULL, state running,
 * items_total) plus one row per item (item = 0, 1, ...), each
 * an ordinary task that runners claim, with its own attempts, retries and
 * lease; an item's input sees $.item and $.index. How many items succeeded
 * is counted in wf.foreach_state (a small row, updated in place). With "concurrency" only
 * that many items are claimable at first (the rest wait with not_before =
 * infinity); each item that succeeds releases the next.
 *
 * Items complete under their execution's row lock like any task, so the
 * count of finished items is exact: the one that finishes last (whatever
 * the timing) completes the for_each task, once, with the items' results
 * as an array in item order. An item that fails after its retries fails
 * the for_each task: its other items that are still ready, running or
 * delegated are cancelled (their late reports get WF006), and the
 * failure goes on as the task's (on_error, or the execution fails). An
 * empty array succeeds at once with [].
 *
 * On a sub-workflow task the items are never claimable (not_before stays
 * infinity until taken): the flow takes them, concurrency at a time, and
 * starts a child execution per item (wf_flow.c); a child's end reaches
 * its item through wf.inbox like any sub-workflow's, and an item's
 * failure cancels its siblings' children too.
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"
#include "utils/timestamp.h"

#include "pg_wf.h"
#include "wf_execution.h"
#include "wf_expr.h"
#include "wf_foreach.h"
#include "wf_signal.h"
#include "wf_step.h"
#include "wf_store.h"

/* The item count of a for_each task that ended ($1 execution, $2 task name). */
static WfPlan forget_count = {
	"DELETE FROM wf.foreach_state WHERE execution_id = $1 AND task = $2",
	2, {INT8OID, TEXTOID}
};

/*
 * Start the for_each task idx: its row and its items. Returns false with
 * s->failure set if an expression failed; *ended if there were no items
 * (the task then already succeeded with [], row *parent_id).
 */
bool
wf_foreach_start(WfStep *s, int idx, int64 *parent_id, bool *ended)
{
	static WfPlan parent = {
		"INSERT INTO wf.task (execution_id, name, action, queue, state, items_total, "
		"result, attempt, started_at, finished_at) "
		"VALUES ($1, $2, $3, $4, CASE WHEN $5 = 0 THEN 'succeeded' ELSE 'running' END, $5, "
		"CASE WHEN $5 = 0 THEN '[]'::pg_catalog.jsonb END, 1, pg_catalog.now(), "
		"CASE WHEN $5 = 0 THEN pg_catalog.now() END) RETURNING id",
		5, {INT8OID, TEXTOID, TEXTOID, TEXTOID, INT4OID}
	};
	static WfPlan counter = {
		"INSERT INTO wf.foreach_state (execution_id, task, done, total) VALUES ($1, $2, 0, $3)",
		3, {INT8OID, TEXTOID, INT4OID}
	};
	static WfPlan items = {
		"INSERT INTO wf.task (execution_id, name, action, queue, timeout, state, item, input, "
		"not_before, held) "
		"SELECT $1, $2, $3, $4, $5, 'ready', u.n - 1, u.input, "
		"CASE WHEN $6 = 0 OR u.n <= $6 THEN pg_catalog.now() ELSE 'infinity' END, $8 "
		"FROM pg_catalog.unnest($7::pg_catalog.jsonb[]) WITH ORDINALITY AS u(input, n) "
		"RETURNING id",
		8, {INT8OID, TEXTOID, TEXTOID, TEXTOID, INTERVALOID, INT4OID, JSONBARRAYOID, BOOLOID}
	};

	static WfPlan items_0_1 = { /* pg_wf 0.1: no wf.task.held */
		"INSERT INTO wf.task (execution_id, name, action, queue, timeout, state, item, input, "
		"not_before) "
		"SELECT $1, $2, $3, $4, $5, 'ready', u.n - 1, u.input, "
		"CASE WHEN $6 = 0 OR u.n <= $6 THEN pg_catalog.now() ELSE 'infinity' END "
		"FROM pg_catalog.unnest($7::pg_catalog.jsonb[]) WITH ORDINALITY AS u(input, n) "
		"RETURNING id",
		8, {INT8OID, TEXTOID, TEXTOID, TEXTOID, INTERVALOID, INT4OID, JSONBARRAYOID, BOOLOID}
	};
	WfTask	   *t = &s->g->tasks[idx];
	WfTemplate *tmpls[2] = {t->for_each, t->input};
	Jsonb	   *ctx;
	Jsonb	   *list;
	char	   *err = NULL;
	int			n;
	Datum	   *inputs;
	Datum		values[8];
	char		nulls[8] = {' ', ' ', ' ', ' ', ' ', ' ', ' ', ' '};

	ctx = wf_step_context_for(s, tmpls, 2, NULL, NULL);
	list = wf_eval_items(t->for_each, ctx, &err);
	if (list == NULL)
	{
		s->failure = wf_expr_failure(t->name, "for_each", err);
		return false;
	}
	if (!JB_ROOT_IS_ARRAY(list) || JB_ROOT_IS_SCALAR(list))
	{
		s->failure = wf_expr_failure(t->name, "for_each", "the expression did not yield an array");
		return false;
	}
	n = JB_ROOT_COUNT(list);
	if (n > WF_MAX_ITEMS)
	{
		s->failure = wf_expr_failure(t->name, "for_each",
									 psprintf("%d items; the limit is %d", n, WF_MAX_ITEMS));
		return false;
	}

	/*
	 * Each item's input, in a context with $.item and $.index. Memory and
	 * time are bounded by what is written (the inputs): an item's work is
	 * done in a memory context reset after it, and the step's context is not
	 * copied per item (wf_eval_item_template). The loop may be long: it can
	 * be cancelled.
	 */
	inputs = palloc(sizeof(Datum) * Max(n, 1));
	if (t->input == NULL || !t->input->dynamic)
	{
		Datum		same = t->input ? t->input->value :
		JsonbPGetDatum(wf_jsonb_object(0, NULL, NULL));

		for (int i = 0; i < n; i++)
			inputs[i] = same;
	}
	else
	{
		MemoryContext stepcxt = CurrentMemoryContext;
		MemoryContext itemcxt = AllocSetContextCreate(stepcxt, "pg_wf for_each item",
													  ALLOCSET_DEFAULT_SIZES);
		Jsonb	  **cache = palloc0(sizeof(Jsonb *) * t->input->nexprs);

		for (int i = 0; i < n; i++)
		{
			Jsonb	   *item;
			Jsonb	   *in;

			CHECK_FOR_INTERRUPTS();
			MemoryContextSwitchTo(itemcxt);
			item = JsonbValueToJsonb(getIthJsonbValueFromContainer(&list->root, i));
			in = wf_eval_item_template(t->input, ctx, item, i, cache, stepcxt, &err);
			MemoryContextSwitchTo(stepcxt);
			if (in == NULL)
			{
				s->failure = wf_expr_failure(t->name, psprintf("input of item %d", i), err);
				return false;
			}
			inputs[i] = PointerGetDatum(palloc(VARSIZE(in)));
			memcpy(DatumGetPointer(inputs[i]), in, VARSIZE(in));
			MemoryContextReset(itemcxt);
		}
		MemoryContextDelete(itemcxt);
	}

	values[0] = Int64GetDatum(s->exec_id);
	values[1] = CStringGetTextDatum(t->name);
	values[2] = CStringGetTextDatum(t->action);
	values[3] = CStringGetTextDatum(t->queue);
	values[4] = Int32GetDatum(n);
	wf_exec(&parent, values, NULL, 1);
	*parent_id = wf_get_int64(0, 1);
	*ended = (n == 0);
	if (n == 0)
	{
		wf_events_task(&s->ev, *parent_id, t->name, WF_TASK_SUCCEEDED, NULL);
		return true;
	}
	wf_events_task(&s->ev, *parent_id, t->name, WF_TASK_RUNNING, NULL);
	{
		Datum		cvalues[3] = {values[0], values[1], Int32GetDatum(n)};

		wf_exec(&counter, cvalues, NULL, 1);
	}

	values[4] = t->timeout ? IntervalPGetDatum(t->timeout) : (Datum) 0;
	nulls[4] = t->timeout ? ' ' : 'n';

	/*
	 * a sub-workflow's items: none claimable (-1); the flow starts their
	 * children
	 */
	values[5] = Int32GetDatum(t->workflow ? -1 : t->concurrency);
	values[6] = wf_jsonb_array(inputs, n);
	values[7] = BoolGetDatum(s->state == WF_EXEC_PAUSED && !t->workflow);
	wf_exec(wf_schema_version() >= WF_SCHEMA_0_2 ? &items : &items_0_1, values, nulls, n);
	for (int r = 0; r < n; r++)
		wf_events_task(&s->ev, wf_get_int64(r, 1), t->name, WF_TASK_READY, NULL);
	if (!t->workflow)
		wf_notify_queue(t->queue);
	s->active += 1 + n;
	return true;
}

/*
 * The next up to max waiting items of a sub-workflow's for_each task idx,
 * now running (their children are the caller's to start): their row ids
 * and inputs, in item order. Returns how many.
 */
int
wf_foreach_take_items(WfStep *s, int idx, int max, int64 **ids, Jsonb ***inputs, int **items)
{
	static WfPlan take = {
		"WITH taken AS (UPDATE wf.task SET state = 'running', attempt = 1, "
		"  started_at = pg_catalog.now(), not_before = pg_catalog.now() "
		"  WHERE id IN (SELECT id FROM wf.task WHERE execution_id = $1 AND name = $2 "
		"    AND item IS NOT NULL AND state = 'ready' AND not_before = 'infinity' "
		"    ORDER BY item LIMIT $3) RETURNING id, input, item) "
		"SELECT id, input, item FROM taken ORDER BY item",
		3, {INT8OID, TEXTOID, INT4OID}
	};
	Datum		values[3];
	uint64		n;

	values[0] = Int64GetDatum(s->exec_id);
	values[1] = CStringGetTextDatum(s->g->tasks[idx].name);
	values[2] = Int32GetDatum(max);
	n = wf_exec(&take, values, NULL, 0);
	*ids = palloc(sizeof(int64) * Max(n, 1));
	*inputs = palloc(sizeof(Jsonb *) * Max(n, 1));
	*items = palloc(sizeof(int) * Max(n, 1));
	for (uint64 r = 0; r < n; r++)
	{
		(*ids)[r] = wf_get_int64(r, 1);
		(*inputs)[r] = wf_get_jsonb(r, 2);
		(*items)[r] = wf_get_int32(r, 3);
	}
	return (int) n;
}

/* Fail the for_each task ($1 execution, $2 name) with error $3. */
static WfPlan fail_parent = {
	"UPDATE wf.task SET state = 'failed', error = $3, finished_at = pg_catalog.now() "
	"WHERE execution_id = $1 AND name = $2 AND item IS NULL RETURNING id",
	3, {INT8OID, TEXTOID, JSONBOID}
};

typedef struct FinishCall
{
	WfPlan	   *plan;
	Datum	   *values;
} FinishCall;

static void
finish_call(void *arg)
{
	FinishCall *c = arg;

	wf_exec(c->plan, c->values, NULL, 1);
}

/*
 * An item succeeded: count it and release the next one. When it was the
 * last, complete the for_each task: its result is the items' results in
 * item order (*result), and the caller goes on from that task's success.
 * If they cannot be one document (jsonb holds at most 256 MB), the task
 * fails instead, with {"type": "results_too_large"} (*result): the cause
 * is told, rather than the completion failing over and over.
 */
WfForeachEnd
wf_foreach_item_succeeded(WfStep *s, WfTaskRow *tr, int64 *parent_id, Jsonb **result)
{
	static WfPlan count = {
		"UPDATE wf.foreach_state SET done = done + 1 "
		"WHERE execution_id = $1 AND task = $2 RETURNING done, total",
		2, {INT8OID, TEXTOID}
	};
	static WfPlan release = {
		"UPDATE wf.task SET not_before = pg_catalog.now() WHERE id = ("
		"  SELECT id FROM wf.task WHERE execution_id = $1 AND name = $2 AND item IS NOT NULL"
		"    AND state = 'ready' AND not_before = 'infinity' ORDER BY item LIMIT 1)",
		2, {INT8OID, TEXTOID}
	};
	static WfPlan finish = {
		"UPDATE wf.task p SET state = 'succeeded', finished_at = pg_catalog.now(), "
		"result = (SELECT pg_catalog.jsonb_agg(i.result ORDER BY i.item) FROM wf.task i "
		"          WHERE i.execution_id = $1 AND i.name = $2 AND i.item IS NOT NULL) "
		"WHERE p.execution_id = $1 AND p.name = $2 AND p.item IS NULL RETURNING p.id, p.result",
		2, {INT8OID, TEXTOID}
	};
	Datum		values[3];
	FinishCall	fc = {&finish, values};
	char	   *err;

	values[0] = Int64GetDatum(s->exec_id);
	values[1] = CStringGetTextDatum(tr->name);
	wf_exec(&count, values, NULL, 1);
	if (wf_get_int32(0, 1) < wf_get_int32(0, 2))
	{
		/* (a sub-workflow's next item: the caller starts its child) */
		if (tr->def->concurrency > 0 && !tr->def->workflow &&
			wf_exec(&release, values, NULL, 0) == 1)
			wf_notify_queue(tr->def->queue);
		return WF_FOREACH_PENDING;
	}
	wf_exec(&forget_count, values, NULL, 1);
	if (!wf_in_subxact(finish_call, &fc, &err))
	{
		const char *keys[] = {"type", "message"};
		Jsonb	   *vals[] = {wf_jsonb_string("results_too_large"), wf_jsonb_string(err)};
		const char *ekeys[] = {"error"};

		*result = wf_jsonb_object(2, keys, vals);
		values[2] = JsonbPGetDatum(*result);
		wf_exec(&fail_parent, values, NULL, 1);
		*parent_id = wf_get_int64(0, 1);
		wf_events_task(&s->ev, *parent_id, tr->name, WF_TASK_FAILED,
					   wf_jsonb_object(1, ekeys, result));
		s->active--;
		return WF_FOREACH_FAILED;
	}
	*parent_id = wf_get_int64(0, 1);
	*result = wf_get_jsonb(0, 2);
	wf_events_task(&s->ev, *parent_id, tr->name, WF_TASK_SUCCEEDED, NULL);
	s->active--;
	return WF_FOREACH_SUCCEEDED;
}

/*
 * An item failed after its retries: cancel its siblings still in flight
 * and fail the for_each task. Returns that task's row id, with its error
 * in *doc: the caller goes on from that failure.
 */
int64
wf_foreach_item_failed(WfStep *s, WfTaskRow *tr, Jsonb *error, Jsonb **doc_out)
{
	const char *keys[] = {"type", "index", "error"};
	Jsonb	   *vals[] = {wf_jsonb_string("item_failed"), wf_jsonb_int(tr->item), error};

	*doc_out = wf_jsonb_object(3, keys, vals);
	return wf_foreach_fail(s, tr->idx, *doc_out);
}

/*
 * Fail the for_each task idx with doc: its items still in flight are
 * cancelled (and a sub-workflow's children with them). Returns the task's
 * row id: the caller goes on from that failure.
 */
int64
wf_foreach_fail(WfStep *s, int idx, Jsonb *doc)
{
	static WfPlan cancel = {
		"UPDATE wf.task SET state = 'cancelled', finished_at = pg_catalog.now(), "
		"lease_until = NULL, deadline = NULL, wake_at = NULL "
		"WHERE execution_id = $1 AND name = $2 AND item IS NOT NULL "
		"  AND state IN ('ready', 'running', 'delegated') RETURNING id, state",
		2, {INT8OID, TEXTOID}
	};
	WfTask	   *t = &s->g->tasks[idx];
	Datum		values[3];
	uint64		n;
	int64		parent_id;
	int64	   *ids;

	values[0] = Int64GetDatum(s->exec_id);
	values[1] = CStringGetTextDatum(t->name);
	n = wf_exec(&cancel, values, NULL, 0);
	ids = palloc(sizeof(int64) * Max(n, 1));
	for (uint64 r = 0; r < n; r++)
	{
		ids[r] = wf_get_int64(r, 1);
		wf_events_task(&s->ev, ids[r], t->name, WF_TASK_CANCELLED, NULL);
	}
	s->active -= n;
	/* a sub-workflow's items in flight: their children are cancelled too */
	for (uint64 r = 0; t->workflow && r < n; r++)
		wf_cancel_children(ids[r], "a sibling item of its parent task failed");
	wf_exec(&forget_count, values, NULL, 1);
	values[2] = JsonbPGetDatum(doc);
	wf_exec(&fail_parent, values, NULL, 1);
	parent_id = wf_get_int64(0, 1);
	{
		const char *ekeys[] = {"error"};

		wf_events_task(&s->ev, parent_id, t->name, WF_TASK_FAILED, wf_jsonb_object(1, ekeys, &doc));
	}
	s->active--;
	return parent_id;
}
