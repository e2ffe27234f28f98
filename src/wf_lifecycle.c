/*
 * wf_lifecycle.c — what an application or operator does to a whole
 * execution: wf_start(), wf_cancel(), wf_pause(), wf_resume(), wf_rerun().
 *
 * Each is one engine step on the execution's row lock, so it races a
 * completion like any other step: whoever locks the row first decides,
 * and the other sees the new state (a completion of a cancelled task gets
 * WF006). Pausing holds the execution's ready tasks (wf.task.held, which
 * takes them out of the claim's index: they cost claims nothing) until
 * wf_resume releases them and wakes their queues; tasks made ready while
 * paused are held too; tasks already running or delegated may still
 * complete.
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"
#include "utils/timestamp.h"

#include "pg_wf.h"
#include "wf_attempt.h"
#include "wf_graph.h"
#include "wf_execution.h"
#include "wf_flow.h"
#include "wf_foreach.h"
#include "wf_signal.h"
#include "wf_step.h"
#include "wf_store.h"
#include "wf_util.h"

PG_FUNCTION_INFO_V1(wf_start);
PG_FUNCTION_INFO_V1(wf_cancel);
PG_FUNCTION_INFO_V1(wf_pause);
PG_FUNCTION_INFO_V1(wf_resume);
PG_FUNCTION_INFO_V1(wf_rerun);
PG_FUNCTION_INFO_V1(wf_task_cancel);

static void
refuse_state(WfStep *s, const char *call)
{
	ereport(ERROR,
			(errcode(ERRCODE_WF_EXECUTION_STATE),
			 errmsg("cannot %s execution " INT64_FORMAT ": it is %s", call, s->exec_id,
					wf_exec_state_name(s->state))));
}

/* name as the call's text result; the call's SPI connection ends */
static Datum
done_text(const char *name)
{
	Datum		d = wf_spi_text(name, strlen(name));

	SPI_finish();
	return d;
}

static Datum
done(WfExecState state)
{
	return done_text(wf_exec_state_name(state));
}

/* {"type": "cancelled", "reason": <argument argno>, "by": <the caller>} */
static Jsonb *
cancel_doc(FunctionCallInfo fcinfo, int argno)
{
	const char *keys[] = {"type", "reason", "by"};
	Jsonb	   *vals[3];

	if (!PG_ARGISNULL(argno))
		wf_check_length(PG_GETARG_TEXT_PP(argno), WF_MAX_REASON_LEN, "reason");
	vals[0] = wf_jsonb_string("cancelled");
	vals[1] = PG_ARGISNULL(argno) ? NULL :
		wf_jsonb_string(text_to_cstring(PG_GETARG_TEXT_PP(argno)));
	vals[2] = wf_jsonb_string(GetUserNameFromId(GetOuterUserId(), false));
	return wf_jsonb_object(3, keys, vals);
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
	if (!PG_ARGISNULL(2))
		wf_check_length(PG_GETARG_TEXT_PP(2), WF_MAX_KEY_LEN, "key");
	SPI_connect();
	id = wf_start_execution(text_to_cstring(PG_GETARG_TEXT_PP(0)),
							PG_ARGISNULL(1) ? wf_jsonb_object(0, NULL, NULL) : PG_GETARG_JSONB_P(1),
							PG_ARGISNULL(2) ? NULL : PG_GETARG_TEXT_PP(2));
	SPI_finish();
	PG_RETURN_INT64(id);
}

/* wf_cancel(execution_id bigint, reason text) RETURNS text */
Datum
wf_cancel(PG_FUNCTION_ARGS)
{
	int64		id = wf_arg_id(fcinfo, 0, "execution_id");
	WfStep		s;
	Jsonb	   *doc = cancel_doc(fcinfo, 1);

	SPI_connect();
	wf_step_open(&s, id, false);
	if (s.state == WF_EXEC_CANCELLED)
	{
		ereport(NOTICE, (errmsg("execution is already cancelled")));
		PG_RETURN_DATUM(done(WF_EXEC_CANCELLED));
	}
	if (!wf_exec_is_live(s.state))
		refuse_state(&s, "cancel");
	wf_cancel_rest(&s);
	wf_events_exec(&s.ev, WF_EXEC_CANCELLED, doc);
	wf_update_execution(&s, WF_EXEC_CANCELLED, NULL, doc);
	wf_step_close(&s);
	PG_RETURN_DATUM(done(WF_EXEC_CANCELLED));
}

/*
 * wf_task_cancel(task_id bigint, reason text DEFAULT NULL) RETURNS text
 *
 * A ready, running or delegated task fails at once, without retries, with
 * {"type": "cancelled", "reason", "by"}: its on_error handles it like any
 * failure (or the execution fails), and a later report from its runner or
 * third party is refused (WF006). For a for_each item, the item's failure
 * fails its for_each task; a for_each task itself fails at once and its
 * items in flight are cancelled; a sub-workflow task's child is cancelled.
 */
Datum
wf_task_cancel(PG_FUNCTION_ARGS)
{
	int64		task_id = wf_arg_id(fcinfo, 0, "task_id");
	Jsonb	   *doc = cancel_doc(fcinfo, 1);
	WfStep		s;
	WfTaskRow	tr;
	WfTaskState state;
	const char *keys[] = {"cancelled", "by"};
	Jsonb	   *vals[2];

	SPI_connect();
	wf_step_open_task(&s, task_id);
	if (!wf_exec_is_live(s.state))
		ereport(ERROR,
				(errcode(ERRCODE_WF_EXECUTION_STATE),
				 errmsg("cannot cancel task " INT64_FORMAT ": its execution is %s", task_id,
						wf_exec_state_name(s.state))));
	wf_step_lock_task(&s, task_id, &tr);
	if (!wf_task_is_active(tr.state))
		ereport(ERROR,
				(errcode(ERRCODE_WF_TASK_NOT_RUNNING),
				 errmsg("task " INT64_FORMAT " is %s: only a ready, running or delegated task can be cancelled",
						task_id, wf_task_state_name(tr.state))));
	vals[0] = wf_jsonb_bool(true);
	vals[1] = wf_jsonb_string(GetUserNameFromId(GetOuterUserId(), false));
	if (tr.def->for_each && tr.item < 0)
	{
		/*
		 * the whole for_each: its items in flight (and children) are
		 * cancelled
		 */
		int64		id = wf_foreach_fail(&s, tr.idx, doc);

		wf_finish_step(&s, wf_flow_task_ended(&s, tr.idx, id, WF_TASK_FAILED, NULL, doc) ?
					   NULL : s.failure);
		wf_step_close(&s);
		PG_RETURN_DATUM(done_text(wf_task_state_name(WF_TASK_FAILED)));
	}

	/*
	 * a sub-workflow task (or item): its child is cancelled (parent, then
	 * child)
	 */
	if (tr.def->workflow)
		wf_cancel_children(task_id, "its parent task was cancelled");
	state = wf_attempt_failed(&s, &tr, doc, false, false, wf_jsonb_object(2, keys, vals));
	wf_step_close(&s);
	PG_RETURN_DATUM(done_text(wf_task_state_name(state)));
}

/*
 * Hold a paused execution's ready tasks out of the claim's index (held),
 * or release them on resume and wake their queues.
 */
static void
hold_ready_tasks(WfStep *s, bool hold)
{
	static WfPlan update = {
		"UPDATE wf.task SET held = $2 "
		"WHERE execution_id = $1 AND state = 'ready' AND held <> $2 RETURNING queue",
		2, {INT8OID, BOOLOID}
	};
	Datum		values[2];
	uint64		n;

	values[0] = Int64GetDatum(s->exec_id);
	values[1] = BoolGetDatum(hold);
	if (wf_schema_version() < WF_SCHEMA_0_2)
	{
		/* pg_wf 0.1: no held; wf_claim skips a paused execution's tasks */
		static WfPlan queues = {
			"SELECT DISTINCT queue FROM wf.task WHERE execution_id = $1 AND state = 'ready' "
			"AND NOT $2",
			2, {INT8OID, BOOLOID}
		};

		n = wf_exec(&queues, values, NULL, 0);
	}
	else
		n = wf_exec(&update, values, NULL, 0);
	for (uint64 r = 0; r < n && !hold; r++)
		wf_notify_queue(wf_get_text(r, 1));
}

/* wf_pause(execution_id bigint) RETURNS text */
Datum
wf_pause(PG_FUNCTION_ARGS)
{
	int64		id = wf_arg_id(fcinfo, 0, "execution_id");
	WfStep		s;

	SPI_connect();
	wf_step_open(&s, id, false);
	if (s.state == WF_EXEC_PAUSED)
	{
		ereport(NOTICE, (errmsg("execution is already paused")));
		PG_RETURN_DATUM(done(WF_EXEC_PAUSED));
	}
	if (s.state != WF_EXEC_RUNNING)
		refuse_state(&s, "pause");
	hold_ready_tasks(&s, true);
	wf_events_exec(&s.ev, WF_EXEC_PAUSED, NULL);
	wf_update_execution(&s, WF_EXEC_PAUSED, NULL, NULL);
	wf_step_close(&s);
	PG_RETURN_DATUM(done(WF_EXEC_PAUSED));
}


/* wf_resume(execution_id bigint) RETURNS text */
Datum
wf_resume(PG_FUNCTION_ARGS)
{
	int64		id = wf_arg_id(fcinfo, 0, "execution_id");
	WfStep		s;

	SPI_connect();
	wf_step_open(&s, id, false);
	if (s.state == WF_EXEC_RUNNING)
	{
		ereport(NOTICE, (errmsg("execution is not paused")));
		PG_RETURN_DATUM(done(WF_EXEC_RUNNING));
	}
	if (s.state != WF_EXEC_PAUSED)
		refuse_state(&s, "resume");
	hold_ready_tasks(&s, false);
	wf_events_exec(&s.ev, WF_EXEC_RUNNING, NULL);
	s.state = WF_EXEC_RUNNING;
	wf_update_execution(&s, WF_EXEC_RUNNING, NULL, NULL);
	wf_step_close(&s);
	PG_RETURN_DATUM(done(WF_EXEC_RUNNING));
}

/*
 * wf_rerun(execution_id bigint) RETURNS text
 *
 * A failed or cancelled execution runs again from the task whose failure
 * ended it and the tasks that were cancelled; everything that succeeded
 * (and each join's count of it) is kept. A runner's task becomes ready for
 * a new attempt; an engine task is decided again; a sub-workflow task
 * starts a new child; a for_each task runs again with its failed and
 * cancelled items (those that succeeded keep their results; items held
 * back by concurrency are all released).
 */
Datum
wf_rerun(PG_FUNCTION_ARGS)
{
	static WfPlan error_of = {
		"SELECT error->>'type', (error->>'task_id')::pg_catalog.int8, deadline IS NOT NULL "
		"FROM wf.execution WHERE id = $1",
		1, {INT8OID}
	};
	static WfPlan again = {
		"UPDATE wf.task SET state = 'ready', not_before = pg_catalog.now(), token_hash = NULL, "
		"lease_until = NULL, deadline = NULL, finished_at = NULL, runner = NULL, wake_at = NULL, "
		"held = false "
		"WHERE execution_id = $1 AND action NOT LIKE 'engine.%' AND action NOT LIKE 'workflow.%' "
		"  AND item IS NULL AND items_total IS NULL "
		"  AND (state = 'cancelled' OR (state = 'failed' AND id = $2)) "
		"RETURNING id, name, queue",
		2, {INT8OID, INT8OID}
	};
	static WfPlan again_0_1 = { /* pg_wf 0.1: no wf.task.held */
		"UPDATE wf.task SET state = 'ready', not_before = pg_catalog.now(), token_hash = NULL, "
		"lease_until = NULL, deadline = NULL, finished_at = NULL, runner = NULL, wake_at = NULL "
		"WHERE execution_id = $1 AND action NOT LIKE 'engine.%' AND action NOT LIKE 'workflow.%' "
		"  AND item IS NULL AND items_total IS NULL "
		"  AND (state = 'cancelled' OR (state = 'failed' AND id = $2)) "
		"RETURNING id, name, queue",
		2, {INT8OID, INT8OID}
	};
	static WfPlan engine_again = {
		"DELETE FROM wf.task WHERE execution_id = $1 "
		"  AND (action LIKE 'engine.%' OR action LIKE 'workflow.%') "
		"  AND item IS NULL AND items_total IS NULL "
		"  AND (state = 'cancelled' OR (state = 'failed' AND id = $2)) RETURNING name",
		2, {INT8OID, INT8OID}
	};

	/* the joins' counts, from the history row that ended the execution */
	static WfPlan restore_joins = {
		"INSERT INTO wf.join_state (execution_id, task, arrived, fired, decided) "
		"SELECT $1, j->>'task', (j->>'arrived')::pg_catalog.int4, (j->>'fired')::pg_catalog.int4, "
		"       (j->>'decided')::pg_catalog.bool "
		"FROM (SELECT detail->'joins' AS js FROM wf.event "
		"      WHERE execution_id = $1 AND task IS NULL AND state IN ('failed', 'cancelled') "
		"      ORDER BY id DESC LIMIT 1) e, "
		"     pg_catalog.jsonb_array_elements(CASE WHEN pg_catalog.jsonb_typeof(e.js) = 'array' "
		"                                     THEN e.js ELSE '[]' END) j "
		"ON CONFLICT (execution_id, task) DO NOTHING",
		1, {INT8OID}
	};

	/*
	 * Like a runner's task, a for_each task runs again if it was cancelled or
	 * its failure ended the execution; a failure that an on_error edge
	 * handled stands (its edges resolved already, once).
	 */
	static WfPlan foreach_again = {
		"UPDATE wf.task SET state = 'running', error = NULL, finished_at = NULL "
		"WHERE execution_id = $1 AND item IS NULL AND items_total IS NOT NULL "
		"  AND (state = 'cancelled' OR (state = 'failed' AND id = $2)) RETURNING id, name",
		2, {INT8OID, INT8OID}
	};
	static WfPlan recount = {
		"INSERT INTO wf.foreach_state (execution_id, task, done, total) "
		"SELECT $1, $2, pg_catalog.count(*) FILTER (WHERE i.state = 'succeeded'), pg_catalog.count(*) "
		"FROM wf.task i WHERE i.execution_id = $1 AND i.name = $2 AND i.item IS NOT NULL "
		"ON CONFLICT (execution_id, task) DO UPDATE SET done = excluded.done, total = excluded.total",
		2, {INT8OID, TEXTOID}
	};
	static WfPlan items_again = {
		"UPDATE wf.task SET state = 'ready', "
		"not_before = CASE WHEN action LIKE 'workflow.%' THEN 'infinity' ELSE pg_catalog.now() END, "
		"token_hash = NULL, "
		"lease_until = NULL, deadline = NULL, finished_at = NULL, runner = NULL, wake_at = NULL, "
		"held = false "
		"WHERE execution_id = $1 AND name = $2 AND item IS NOT NULL "
		"  AND state IN ('failed', 'cancelled') RETURNING id, queue",
		2, {INT8OID, TEXTOID}
	};
	static WfPlan items_again_0_1 = {	/* pg_wf 0.1: no wf.task.held */
		"UPDATE wf.task SET state = 'ready', not_before = pg_catalog.now(), token_hash = NULL, "
		"lease_until = NULL, deadline = NULL, finished_at = NULL, runner = NULL, wake_at = NULL "
		"WHERE execution_id = $1 AND name = $2 AND item IS NOT NULL "
		"  AND state IN ('failed', 'cancelled') RETURNING id, queue",
		2, {INT8OID, TEXTOID}
	};
	static WfPlan new_deadline = {
		"UPDATE wf.execution SET deadline = pg_catalog.now() + $2 WHERE id = $1",
		2, {INT8OID, INTERVALOID}
	};
	int64		id = wf_arg_id(fcinfo, 0, "execution_id");
	WfStep		s;
	Datum		values[2];
	char	   *type;
	int64		failed_task;
	uint64		n;
	int			nengine;
	char	  **engine_names;
	const char *keys[] = {"rerun"};
	Jsonb	   *vals[] = {wf_jsonb_bool(true)};
	bool		v1;

	SPI_connect();
	v1 = wf_schema_version() < WF_SCHEMA_0_2;
	wf_step_open(&s, id, false);
	if (s.state != WF_EXEC_FAILED && s.state != WF_EXEC_CANCELLED)
		refuse_state(&s, "rerun");
	if (s.parent_task_id != 0)
		ereport(ERROR,
				(errcode(ERRCODE_WF_EXECUTION_STATE),
				 errmsg("cannot rerun execution " INT64_FORMAT ": it is a sub-workflow", id),
				 errdetail("Its end belongs to its parent's task, which has ended already."),
				 errhint("Rerun the parent execution: its sub-workflow task starts a new child.")));
	values[0] = Int64GetDatum(id);
	wf_exec(&error_of, values, NULL, 1);
	type = wf_get_text(0, 1);
	failed_task = wf_get_int64(0, 2);
	if (type && strcmp(type, "expression_error") == 0)
		ereport(ERROR,
				(errcode(ERRCODE_WF_EXECUTION_STATE),
				 errmsg("cannot rerun execution " INT64_FORMAT ": it failed on an expression", id),
				 errdetail("Running the same tasks again would evaluate the same expression."),
				 errhint("Fix the definition with wf_define() and start a new execution.")));

	wf_exec(&restore_joins, values, NULL, 0);
	values[1] = Int64GetDatum(failed_task);
	n = wf_exec(v1 ? &again_0_1 : &again, values, NULL, 0);
	for (uint64 r = 0; r < n; r++)
	{
		wf_events_task(&s.ev, wf_get_int64(r, 1), wf_get_text(r, 2), WF_TASK_READY,
					   wf_jsonb_object(1, keys, vals));
		wf_notify_queue(wf_get_text(r, 3));
	}
	s.active = n;

	/*
	 * a for_each task: it runs again, and so do its failed and cancelled
	 * items
	 */
	{
		uint64		nfe = wf_exec(&foreach_again, values, NULL, 0);
		int64	   *fe_ids = palloc(sizeof(int64) * Max(nfe, 1));
		char	  **fe_names = palloc(sizeof(char *) * Max(nfe, 1));

		for (uint64 r = 0; r < nfe; r++)
		{
			fe_ids[r] = wf_get_int64(r, 1);
			fe_names[r] = wf_get_text(r, 2);
		}
		for (uint64 r = 0; r < nfe; r++)
		{
			Datum		ivalues[2];
			uint64		ni;

			wf_events_task(&s.ev, fe_ids[r], fe_names[r], WF_TASK_RUNNING, wf_jsonb_object(1, keys, vals));
			ivalues[0] = Int64GetDatum(id);
			ivalues[1] = CStringGetTextDatum(fe_names[r]);
			wf_exec(&recount, ivalues, NULL, 1);
			ni = wf_exec(v1 ? &items_again_0_1 : &items_again, ivalues, NULL, 0);
			for (uint64 i = 0; i < ni; i++)
			{
				wf_events_task(&s.ev, wf_get_int64(i, 1), fe_names[r], WF_TASK_READY,
							   wf_jsonb_object(1, keys, vals));
				wf_notify_queue(wf_get_text(i, 2));
			}
			s.active += 1 + ni;
			n += 1 + ni;
		}
		/* a sub-workflow's items: their children start, concurrency allowing */
		for (uint64 r = 0; r < nfe && s.failure == NULL; r++)
		{
			int			idx = wf_task_index(s.g, fe_names[r]);

			if (idx >= 0 && s.g->tasks[idx].workflow)
				(void) wf_flow_start_items(&s, idx, s.g->tasks[idx].concurrency > 0 ?
										   s.g->tasks[idx].concurrency : WF_MAX_ITEMS);
		}
	}
	nengine = wf_exec(&engine_again, values, NULL, 0);
	engine_names = palloc(sizeof(char *) * Max(nengine, 1));
	for (int r = 0; r < nengine; r++)
		engine_names[r] = wf_get_text(r, 1);
	if (n == 0 && nengine == 0)
		ereport(ERROR,
				(errcode(ERRCODE_WF_EXECUTION_STATE),
				 errmsg("execution " INT64_FORMAT " has no failed or cancelled task to run again", id)));
	if (s.g->timeout)
	{
		values[1] = IntervalPGetDatum(s.g->timeout);
		wf_exec(&new_deadline, values, NULL, 1);
		wf_watchdog_due(wf_after(GetCurrentTransactionStartTimestamp(), s.g->timeout));
	}
	wf_events_exec(&s.ev, WF_EXEC_RUNNING, wf_jsonb_object(1, keys, vals));
	s.state = WF_EXEC_RUNNING;
	for (int r = 0; r < nengine && s.failure == NULL && !s.succeed_now; r++)
		(void) wf_flow_make_ready(&s, wf_task_index(s.g, engine_names[r]));
	wf_finish_step(&s, s.failure);
	wf_step_close(&s);
	PG_RETURN_DATUM(done(WF_EXEC_RUNNING));
}
