/*
 * wf_flow.c — control flow: edges, joins, dead-path elimination and the
 * engine-side tasks, inside one engine step (wf_engine.c).
 *
 * When a task ends (succeeded, failed after its retries, or skipped), each
 * of its out-edges resolves as fired or not: a success edge (requires,
 * on_success) fires if the task succeeded, an on_error edge if it failed,
 * an on_complete edge either way, and only if its "when" yields true; no
 * edge of a skipped task fires. A failure that no on_error edge handles
 * fails the execution.
 *
 * A task with one inbound edge becomes ready when it fires and is skipped
 * when it does not. A join (several inbound edges) counts arrivals and
 * fired edges in wf.join_state: it becomes ready as soon as enough have
 * fired (all, or its "join" number), and is skipped as soon as that can no
 * longer happen. A skipped task ends its own out-edges unfired, so the
 * skipping propagates and no join waits forever. Graphs are acyclic (loops
 * are refused at wf_define), so every task is decided at most once.
 *
 * Engine tasks are decided in the step that makes them ready: noop and
 * succeed succeed at once (succeed also ends the execution), fail fails,
 * and sleep waits as a delegated task whose deadline the watchdog turns
 * into success. Work is kept on an explicit list, not the C stack.
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"
#include "utils/timestamp.h"

#include "pg_wf.h"
#include "wf_def.h"
#include "wf_execution.h"
#include "wf_expr.h"
#include "wf_flow.h"
#include "wf_foreach.h"
#include "wf_signal.h"
#include "wf_step.h"
#include "wf_store.h"
#include "wf_util.h"
#include "wf_wait.h"

typedef enum JoinDecision
{
	JOIN_WAIT,
	JOIN_READY,
	JOIN_SKIP
} JoinDecision;

/* A task that ended in this step, whose out-edges are still to resolve. */
typedef struct Ended
{
	int			idx;
	int64		task_id;
	WfTaskState state;			/* succeeded, failed, skipped */
	Jsonb	   *result;
	Jsonb	   *error;
	bool		publish;		/* decided in this step: publish still to run */
} Ended;

typedef struct Worklist
{
	Ended	   *items;
	int			n;
	int			max;
} Worklist;

static void
push(Worklist *w, int idx, int64 task_id, WfTaskState state, Jsonb *result, Jsonb *error,
	 bool publish)
{
	if (w->n == w->max)
	{
		w->max = w->max ? w->max * 2 : 16;
		w->items = w->items ? repalloc(w->items, sizeof(Ended) * w->max)
			: palloc(sizeof(Ended) * w->max);
	}
	w->items[w->n].idx = idx;
	w->items[w->n].task_id = task_id;
	w->items[w->n].state = state;
	w->items[w->n].result = result;
	w->items[w->n].error = error;
	w->items[w->n].publish = publish;
	w->n++;
}

/* One edge into task idx resolved; what does its join say now? */
static JoinDecision
edge_resolved(WfStep *s, int idx, bool fired)
{
	static WfPlan arrive = {
		"INSERT INTO wf.join_state AS j (execution_id, task, arrived, fired, decided) "
		"VALUES ($1, $2, 1, $3, false) "
		"ON CONFLICT (execution_id, task) DO UPDATE "
		"SET arrived = j.arrived + 1, fired = j.fired + excluded.fired "
		"RETURNING arrived, fired, decided",
		3, {INT8OID, TEXTOID, INT4OID}
	};
	static WfPlan decided = {
		"UPDATE wf.join_state SET decided = true WHERE execution_id = $1 AND task = $2",
		2, {INT8OID, TEXTOID}
	};
	static WfPlan done = {
		"DELETE FROM wf.join_state WHERE execution_id = $1 AND task = $2",
		2, {INT8OID, TEXTOID}
	};
	WfTask	   *t = &s->g->tasks[idx];
	int			need = t->join ? t->join : t->nrequires;
	Datum		values[3];
	int			arrived,
				nfired;
	bool		was_decided;
	JoinDecision d = JOIN_WAIT;

	if (t->nrequires <= 1)
		return fired ? JOIN_READY : JOIN_SKIP;
	values[0] = Int64GetDatum(s->exec_id);
	values[1] = CStringGetTextDatum(t->name);
	values[2] = Int32GetDatum(fired ? 1 : 0);
	wf_exec(&arrive, values, NULL, 1);
	arrived = wf_get_int32(0, 1);
	nfired = wf_get_int32(0, 2);
	was_decided = wf_get_bool(0, 3);
	if (was_decided)
		;
	else if (t->join_inclusive)
	{
		/* once every inbound edge resolved: run if any of them fired */
		if (arrived == t->nrequires)
			d = nfired > 0 ? JOIN_READY : JOIN_SKIP;
	}
	else if (nfired >= need)
		d = JOIN_READY;
	else if (nfired + (t->nrequires - arrived) < need)
		d = JOIN_SKIP;
	if (arrived == t->nrequires)
		wf_exec(&done, values, NULL, 1);
	else if (d != JOIN_WAIT)
		wf_exec(&decided, values, NULL, 1);
	return d;
}

/* Insert a task the engine decided itself (engine task, or skipped). */
static int64
insert_decided(WfStep *s, int idx, WfTaskState state, Jsonb *result, Jsonb *error,
			   Interval *sleep_for, TimestampTz *deadline)
{
	static WfPlan insert = {
		"INSERT INTO wf.task (execution_id, name, action, queue, state, result, error, "
		"attempt, started_at, deadline, finished_at) "
		"VALUES ($1, $2, $3, $4, $5, $6, $7, CASE WHEN $5 = 'skipped' THEN 0 ELSE 1 END, "
		"CASE WHEN $5 <> 'skipped' THEN pg_catalog.now() END, "
		"pg_catalog.now() + $8, "
		"CASE WHEN $5 IN ('succeeded', 'failed', 'skipped') THEN pg_catalog.now() END) "
		"RETURNING id, deadline",
		8, {INT8OID, TEXTOID, TEXTOID, TEXTOID, TEXTOID, JSONBOID, JSONBOID, INTERVALOID}
	};
	WfTask	   *t = &s->g->tasks[idx];
	Datum		values[8];
	char		nulls[8] = {' ', ' ', ' ', ' ', ' ', ' ', ' ', ' '};
	int64		id;

	values[0] = Int64GetDatum(s->exec_id);
	values[1] = CStringGetTextDatum(t->name);
	values[2] = CStringGetTextDatum(t->action);
	values[3] = CStringGetTextDatum(t->queue);
	values[4] = CStringGetTextDatum(wf_task_state_name(state));
	values[5] = result ? JsonbPGetDatum(result) : (Datum) 0;
	nulls[5] = result ? ' ' : 'n';
	values[6] = error ? JsonbPGetDatum(error) : (Datum) 0;
	nulls[6] = error ? ' ' : 'n';
	values[7] = sleep_for ? IntervalPGetDatum(sleep_for) : (Datum) 0;
	nulls[7] = sleep_for ? ' ' : 'n';
	wf_exec(&insert, values, nulls, 1);
	id = wf_get_int64(0, 1);
	if (deadline)
		*deadline = wf_get_timestamptz(0, 2);
	return id;
}

static int64 start_execution(const char *name, Jsonb *input, text *key,
							 int64 parent_task_id, int depth);
static bool run_worklist(WfStep *s, Worklist *w);

typedef struct StartCall
{
	const char *workflow;
	Jsonb	   *input;
	int64		parent_task_id;
	int			depth;
	int64		child;
} StartCall;

static void
start_call(void *arg)
{
	StartCall  *c = arg;

	c->child = start_execution(c->workflow, c->input, NULL, c->parent_task_id, c->depth);
}

/*
 * Start the child execution of the sub-workflow task row task_id (of task
 * idx) with input, in a subtransaction: a child that cannot start (an
 * unknown workflow, a bad input, too deep) is the task's failure, not the
 * step's. Returns NULL and *child, or why it could not start.
 */
static char *
launch_child(WfStep *s, int idx, int64 task_id, Jsonb *input, int64 *child)
{
	char	   *err = NULL;

	*child = 0;
	if (s->depth + 1 > WF_MAX_DEPTH)
		return psprintf("sub-workflows nest at most %d deep", WF_MAX_DEPTH);
	{
		StartCall	c = {s->g->tasks[idx].workflow, input, task_id, s->depth + 1, 0};

		if (!wf_in_subxact(start_call, &c, &err))
			return err;
		*child = c.child;
	}
	return NULL;
}

/* {"type": "subworkflow_start_failed", "workflow", "message"} */
static Jsonb *
start_failed_doc(WfTask *t, const char *err)
{
	const char *keys[] = {"type", "workflow", "message"};
	Jsonb	   *vals[] = {wf_jsonb_string("subworkflow_start_failed"),
	wf_jsonb_string(t->workflow), wf_jsonb_string(err)};

	return wf_jsonb_object(3, keys, vals);
}

/*
 * A sub-workflow row that runs again (a retry, a repeat): start its child.
 * Returns NULL, or its failure document.
 */
Jsonb *
wf_flow_launch_child(WfStep *s, int idx, int64 task_id, Jsonb *input, int64 *child)
{
	char	   *err = launch_child(s, idx, task_id, input, child);

	return err ? start_failed_doc(&s->g->tasks[idx], err) : NULL;
}

/*
 * A sub-workflow task became ready: it runs (no lease, no token) while its
 * child execution runs. The child starts in a subtransaction, so that a
 * child that cannot start (unknown workflow, bad input) fails this task
 * instead of the step that got here. The child's end reaches this task
 * through wf.inbox and the watchdog (wf_watchdog.c).
 */
static void
start_child(WfStep *s, int idx, Worklist *w)
{
	static WfPlan failed = {
		"UPDATE wf.task SET state = 'failed', error = $2, input = $3, "
		"finished_at = pg_catalog.now() WHERE id = $1",
		3, {INT8OID, JSONBOID, JSONBOID}
	};
	static WfPlan started = {
		"UPDATE wf.task SET input = $2 WHERE id = $1",
		2, {INT8OID, JSONBOID}
	};
	WfTask	   *t = &s->g->tasks[idx];
	int64		id = insert_decided(s, idx, WF_TASK_RUNNING, NULL, NULL, NULL, NULL);
	Jsonb	   *input = wf_jsonb_object(0, NULL, NULL);
	char	   *err = NULL;
	int64		child = 0;
	Datum		values[3];

	if (t->input && t->input->dynamic)
	{
		Jsonb	   *ctx = wf_step_context_for(s, &t->input, 1, NULL, NULL);

		/* a repeating task's first iteration sees $.iteration = 0 */
		if (t->repeat)
			ctx = wf_context_iteration(ctx, 0);
		input = wf_eval_template(t->input, ctx, &err);
		if (input == NULL)
		{
			s->failure = wf_expr_failure(t->name, "input", err);
			return;
		}
	}
	else if (t->input)
		input = DatumGetJsonbP(t->input->value);

	err = launch_child(s, idx, id, input, &child);
	values[0] = Int64GetDatum(id);
	if (err)
	{
		Jsonb	   *error = start_failed_doc(t, err);

		values[1] = JsonbPGetDatum(error);
		values[2] = JsonbPGetDatum(input);
		wf_exec(&failed, values, NULL, 1);
		wf_events_task(&s->ev, id, t->name, WF_TASK_FAILED, NULL);
		push(w, idx, id, WF_TASK_FAILED, NULL, error, false);
		return;
	}
	values[1] = JsonbPGetDatum(input);
	wf_exec(&started, values, NULL, 1);
	{
		const char *keys[] = {"child_execution_id"};
		Jsonb	   *vals[] = {wf_jsonb_int(child)};

		wf_events_task(&s->ev, id, t->name, WF_TASK_RUNNING, wf_jsonb_object(1, keys, vals));
	}
	s->active++;
}

/* A wait's key: its template's value, a string or a number, as text; NULL on failure. */
static char *
wait_key(WfStep *s, WfTask *t)
{
	Jsonb	   *v;
	char	   *err = NULL;
	char	   *key = NULL;
	JsonbValue	jv;

	if (t->wait_key->dynamic)
	{
		v = wf_eval_template(t->wait_key, wf_step_context_for(s, &t->wait_key, 1, NULL, NULL),
							 &err);
		if (v == NULL)
		{
			s->failure = wf_expr_failure(t->name, "key", err);
			return NULL;
		}
	}
	else
		v = DatumGetJsonbP(t->wait_key->value);
	if (JB_ROOT_IS_SCALAR(v) && JsonbExtractScalar(&v->root, &jv))
	{
		if (jv.type == jbvString)
			key = pnstrdup(jv.val.string.val, jv.val.string.len);
		else if (jv.type == jbvNumeric)
			key = DatumGetCString(DirectFunctionCall1(numeric_out, NumericGetDatum(jv.val.numeric)));
	}
	if (key == NULL || strlen(key) > WF_MAX_KEY_LEN)
	{
		s->failure = wf_expr_failure(t->name, "key",
									 key ? psprintf("the key is %zu bytes; at most %d", strlen(key), WF_MAX_KEY_LEN)
									 : psprintf("the key must be a string or a number, not %s",
												JsonbToCString(NULL, &v->root, VARSIZE(v))));
		return NULL;
	}
	return key;
}

/*
 * A wait became ready: it completes at once with a kept event it matches,
 * or waits (delegated, its timeout its deadline) in wf.wait.
 */
static void
start_wait(WfStep *s, int idx, Worklist *w)
{
	WfTask	   *t = &s->g->tasks[idx];
	char	   *key = wait_key(s, t);
	Jsonb	   *kept;
	TimestampTz deadline;
	int64		id;

	if (key == NULL)
		return;
	wf_wait_lock(t->nevents, t->events, key);
	kept = wf_wait_kept(t->nevents, t->events, key);
	{
		const char *keys[] = {"engine", "key", "kept"};
		Jsonb	   *vals[] = {wf_jsonb_string("wait"), wf_jsonb_string(key), wf_jsonb_bool(true)};

		if (kept)
		{
			id = insert_decided(s, idx, WF_TASK_SUCCEEDED, kept, NULL, NULL, NULL);
			wf_events_task(&s->ev, id, t->name, WF_TASK_SUCCEEDED, wf_jsonb_object(3, keys, vals));
			push(w, idx, id, WF_TASK_SUCCEEDED, kept, NULL, true);
			return;
		}
		id = insert_decided(s, idx, WF_TASK_DELEGATED, NULL, NULL, t->timeout, &deadline);
		wf_wait_add(s->exec_id, id, t->nevents, t->events, key);
		wf_events_task(&s->ev, id, t->name, WF_TASK_DELEGATED, wf_jsonb_object(2, keys, vals));
		if (t->timeout)
			wf_watchdog_due(deadline);
		s->active++;
	}
}

/*
 * Start the children of up to max waiting items of the sub-workflow
 * for_each task idx (each item's child gets the item's input). An item
 * whose child cannot start fails, and with it the for_each task (its
 * other items and their children are cancelled): that goes on w.
 */
static void
start_items(WfStep *s, int idx, int max, Worklist *w)
{
	static WfPlan failed = {
		"UPDATE wf.task SET state = 'failed', error = $2, finished_at = pg_catalog.now() WHERE id = $1",
		2, {INT8OID, JSONBOID}
	};
	WfTask	   *t = &s->g->tasks[idx];
	int64	   *ids;
	Jsonb	  **inputs;
	int		   *items;
	int			n = wf_foreach_take_items(s, idx, max, &ids, &inputs, &items);

	for (int i = 0; i < n; i++)
	{
		int64		child;
		char	   *err;

		CHECK_FOR_INTERRUPTS();
		err = launch_child(s, idx, ids[i], inputs[i], &child);
		if (err)
		{
			Jsonb	   *error = start_failed_doc(t, err);
			Datum		values[2];
			WfTaskRow	tr;
			Jsonb	   *doc;
			int64		parent;

			values[0] = Int64GetDatum(ids[i]);
			values[1] = JsonbPGetDatum(error);
			wf_exec(&failed, values, NULL, 1);
			wf_events_task(&s->ev, ids[i], t->name, WF_TASK_FAILED, NULL);
			s->active--;
			memset(&tr, 0, sizeof(tr));
			tr.id = ids[i];
			tr.name = t->name;
			tr.idx = idx;
			tr.item = items[i];
			tr.def = t;
			parent = wf_foreach_item_failed(s, &tr, error, &doc);
			push(w, idx, parent, WF_TASK_FAILED, NULL, doc, false);
			return;
		}
		{
			const char *keys[] = {"child_execution_id"};
			Jsonb	   *vals[] = {wf_jsonb_int(child)};

			wf_events_task(&s->ev, ids[i], t->name, WF_TASK_RUNNING, wf_jsonb_object(1, keys, vals));
		}
	}
}

/*
 * An item of the sub-workflow for_each task idx succeeded: start the next
 * waiting items' children, up to max (see wf_flow_task_ended for the
 * result).
 */
bool
wf_flow_start_items(WfStep *s, int idx, int max)
{
	Worklist	w = {NULL, 0, 0};

	start_items(s, idx, max, &w);
	return run_worklist(s, &w);
}

/* A task became ready: a runner's task waits for a claim; an engine task is decided now. */
static void
make_ready(WfStep *s, int idx, Worklist *w)
{
	WfTask	   *t = &s->g->tasks[idx];
	const char *keys[] = {"engine"};
	Jsonb	   *vals[] = {wf_jsonb_string(t->action + strlen("engine."))};
	int64		id;

	switch (t->engine)
	{
		case WF_ENGINE_NONE:
			if (t->for_each)
			{
				bool		ended;

				/* an empty for_each succeeds at once, with [] */
				if (!wf_foreach_start(s, idx, &id, &ended))
					return;
				if (ended)
					push(w, idx, id, WF_TASK_SUCCEEDED, wf_jsonb_array_empty(), NULL, true);
				else if (t->workflow)
					start_items(s, idx, t->concurrency > 0 ? t->concurrency : WF_MAX_ITEMS, w);
				return;
			}
			if (t->workflow)
			{
				start_child(s, idx, w);
				return;
			}
			wf_add_ready(s, idx);
			return;
		case WF_ENGINE_NOOP:
		case WF_ENGINE_SUCCEED:
			id = insert_decided(s, idx, WF_TASK_SUCCEEDED, NULL, NULL, NULL, NULL);
			wf_events_task(&s->ev, id, t->name, WF_TASK_SUCCEEDED, wf_jsonb_object(1, keys, vals));
			if (t->engine == WF_ENGINE_SUCCEED)
				s->succeed_now = true;	/* the execution ends here */
			else
				push(w, idx, id, WF_TASK_SUCCEEDED, NULL, NULL, true);
			return;
		case WF_ENGINE_FAIL:
			{
				const char *ekeys[] = {"type", "message"};
				Jsonb	   *evals[] = {wf_jsonb_string("engine_fail"),
				t->message ? wf_jsonb_string(t->message) : NULL};
				Jsonb	   *error = wf_jsonb_object(t->message ? 2 : 1, ekeys, evals);

				id = insert_decided(s, idx, WF_TASK_FAILED, NULL, error, NULL, NULL);
				wf_events_task(&s->ev, id, t->name, WF_TASK_FAILED, wf_jsonb_object(1, keys, vals));
				push(w, idx, id, WF_TASK_FAILED, NULL, error, false);
				return;
			}
		case WF_ENGINE_WAIT:
			start_wait(s, idx, w);
			return;
		case WF_ENGINE_SLEEP:
			{
				TimestampTz deadline;

				id = insert_decided(s, idx, WF_TASK_DELEGATED, NULL, NULL, t->sleep_for, &deadline);
				wf_events_task(&s->ev, id, t->name, WF_TASK_DELEGATED, wf_jsonb_object(1, keys, vals));
				wf_watchdog_due(deadline);
				s->active++;
				return;
			}
	}
}

/* Does this edge fire for a task that ended in state? */
static bool
edge_matches(WfEdge *e, WfTaskState state)
{
	if (state == WF_TASK_SKIPPED)
		return false;
	switch (e->kind)
	{
		case WF_EDGE_SUCCESS:
			return state == WF_TASK_SUCCEEDED;
		case WF_EDGE_ERROR:
			return state == WF_TASK_FAILED;
		case WF_EDGE_COMPLETE:
			return true;
	}
	return false;
}

/*
 * Which out-edges of an ended task fire. Returns false (s->failure set) if
 * a "when" raised an error.
 */
static bool
edges_fired(WfStep *s, Ended *e, bool *fired)
{
	WfTask	   *t = &s->g->tasks[e->idx];
	Jsonb	   *ctx = NULL;

	for (int k = 0; k < t->nedges; k++)
	{
		WfEdge	   *edge = &t->edges[k];
		Jsonb	   *r;
		char	   *err = NULL;
		JsonbValue	v;

		fired[k] = edge_matches(edge, e->state);
		if (!fired[k] || edge->when == NULL)
			continue;
		if (ctx == NULL)
		{
			/* one context for every "when" of the task's edges */
			WfTemplate **whens = palloc(sizeof(WfTemplate *) * t->nedges);

			for (int j = 0; j < t->nedges; j++)
				whens[j] = t->edges[j].when;
			ctx = wf_step_context_for(s, whens, t->nedges, e->result, e->error);
		}
		r = wf_eval_template(edge->when, ctx, &err);
		if (r == NULL)
		{
			s->failure = wf_expr_failure(t->name,
										 psprintf("when of the edge to \"%s\"",
												  s->g->tasks[edge->target].name),
										 err);
			return false;
		}
		fired[k] = JB_ROOT_IS_SCALAR(r) && JsonbExtractScalar(&r->root, &v) &&
			v.type == jbvBool && v.val.boolean;
	}
	return true;
}

/*
 * Why a task is skipped: the inbound edge whose resolution decided it did
 * not fire — from which task, of which kind, and because that task
 * ended otherwise, was skipped, or the edge's "when" was not true.
 */
static Jsonb *
skip_detail(WfStep *s, Ended *e, WfEdge *edge)
{
	WfTask	   *src = &s->g->tasks[e->idx];
	WfTask	   *dst = &s->g->tasks[edge->target];
	const char *keys[5] = {"not_fired", "edge", "source", "because", "join"};
	Jsonb	   *vals[5];
	const char *because;
	int			n = 4;

	if (e->state == WF_TASK_SKIPPED)
		because = "the source was skipped";
	else if (!edge_matches(edge, e->state))
		because = e->state == WF_TASK_SUCCEEDED ? "the source succeeded" : "the source failed";
	else
		because = psprintf("its when was not true: %s", edge->when->exprs[0].source);
	vals[0] = wf_jsonb_string(src->name);
	vals[1] = wf_jsonb_string(edge->requires ? "requires" : wf_edge_kind_names[edge->kind]);
	vals[2] = wf_jsonb_string(wf_task_state_name(e->state));
	vals[3] = wf_jsonb_string(because);
	if (dst->nrequires > 1)
	{
		vals[4] = dst->join_inclusive ? wf_jsonb_string("inclusive") :
			dst->join ? wf_jsonb_int(dst->join) : wf_jsonb_string("all");
		n = 5;
	}
	return wf_jsonb_object(n, keys, vals);
}

/* Resolve what follows from every task on the list, and what that decides. */
static bool
run_worklist(WfStep *s, Worklist *w)
{
	while (w->n > 0 && !s->succeed_now)
	{
		Ended		e = w->items[--w->n];
		WfTask	   *t = &s->g->tasks[e.idx];
		bool	   *fired = palloc(sizeof(bool) * Max(t->nedges, 1));

		CHECK_FOR_INTERRUPTS();

		if (e.publish && (s->failure = wf_publish(s, t, e.result)) != NULL)
			return false;
		if (!edges_fired(s, &e, fired))
			return false;
		if (e.state == WF_TASK_FAILED)
		{
			bool		handled = false;

			for (int k = 0; k < t->nedges; k++)
				handled |= (fired[k] && t->edges[k].kind == WF_EDGE_ERROR);
			if (!handled)
			{
				const char *keys[] = {"type", "task", "task_id", "error"};
				Jsonb	   *vals[] = {wf_jsonb_string("task_failed"), wf_jsonb_string(t->name),
				wf_jsonb_int(e.task_id), e.error};

				s->failure = wf_jsonb_object(4, keys, vals);
				return false;
			}
		}
		for (int k = 0; k < t->nedges && !s->succeed_now; k++)
		{
			int			target = t->edges[k].target;

			switch (edge_resolved(s, target, fired[k]))
			{
				case JOIN_WAIT:
					break;
				case JOIN_READY:
					make_ready(s, target, w);
					if (s->failure)
						return false;
					break;
				case JOIN_SKIP:
					{
						int64		id = insert_decided(s, target, WF_TASK_SKIPPED, NULL, NULL, NULL, NULL);

						wf_events_task(&s->ev, id, s->g->tasks[target].name, WF_TASK_SKIPPED,
									   skip_detail(s, &e, &t->edges[k]));
						push(w, target, id, WF_TASK_SKIPPED, NULL, NULL, false);
						break;
					}
			}
		}
	}
	return true;
}

/*
 * Resolve everything that follows from task idx ending in state (its
 * publish already done by the caller): fired edges, joins, skips
 * (propagated), engine tasks. Returns false with s->failure set when the
 * execution must fail: a failure no on_error edge handled, or a "when",
 * publish or for_each expression that raised an error.
 */
bool
wf_flow_task_ended(WfStep *s, int idx, int64 task_id, WfTaskState state,
				   Jsonb *result, Jsonb *error)
{
	Worklist	w = {NULL, 0, 0};

	push(&w, idx, task_id, state, result, error, false);
	return run_worklist(s, &w);
}

/* A start task (no inbound edges) is ready; see wf_flow_task_ended for the result. */
bool
wf_flow_make_ready(WfStep *s, int idx)
{
	Worklist	w = {NULL, 0, 0};

	make_ready(s, idx, &w);
	if (s->failure)
		return false;
	return run_worklist(s, &w);
}

/*
 * What follows a task's success: its publish, then its out-edges. Returns
 * NULL or why the execution must fail.
 */
Jsonb *
wf_flow_succeeded(WfStep *s, int idx, int64 task_id, Jsonb *result)
{
	Jsonb	   *failure = wf_publish(s, &s->g->tasks[idx], result);

	if (failure == NULL &&
		!wf_flow_task_ended(s, idx, task_id, WF_TASK_SUCCEEDED, result, NULL))
		failure = s->failure;
	return failure;
}

/* ---------------------------------------------------------------------
 * Starting an execution: wf_start(), and a sub-workflow task's child. The
 * one recursion of the engine (start -> make ready -> start a child) stays
 * inside this file.
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
static int64
start_execution(const char *name, Jsonb *input, text *key, int64 parent_task_id, int depth)
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
		wf_watchdog_due(wf_after(GetCurrentTransactionStartTimestamp(), s.g->timeout));
	wf_events_exec(&s.ev, WF_EXEC_RUNNING, NULL);

	/* Start tasks; engine tasks among them are decided at once. */
	failure = NULL;
	for (int i = 0; i < s.g->nstart && failure == NULL && !s.succeed_now; i++)
		if (!wf_flow_make_ready(&s, s.g->start[i]))
			failure = s.failure;
	if (failure == NULL && !s.succeed_now)
	{
		/* at the start, a failing input expression refuses the start */
		failure = wf_prepare_inputs(&s, &s.ctx);
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

/*
 * Start an execution (SPI connected): the body of wf_start(). With a key
 * that was used before, returns that execution instead.
 */
int64
wf_start_execution(const char *name, Jsonb *input, text *key)
{
	return start_execution(name, input, key, 0, 0);
}
