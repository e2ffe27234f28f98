/*
 * wf_step.c — an engine step: lock the execution, then its task rows; load
 * the compiled graph; read the task a call is about, and the task rows and
 * documents that expressions need. Also the single-statement fast path of
 * a successful completion.
 *
 * Lock order (the concurrency contract, also in DESIGN.md), owned here:
 *
 *  1. Every engine step touches one execution. It locks the execution row
 *     first (FOR NO KEY UPDATE), then task rows of that execution (FOR NO
 *     KEY UPDATE, or an UPDATE). Never the reverse.
 *  2. Completions in different executions never wait on each other;
 *     completions in one execution serialise on its row, so a join sees
 *     each of its branches exactly once.
 *  3. The watchdog takes the execution lock with SKIP LOCKED: it never
 *     waits, and whoever holds the lock first decides the outcome (a
 *     callback, a cancel, or an expiry); the watchdog looks again later.
 *  4. wf_claim locks task rows only, with SKIP LOCKED, so it never waits
 *     and cannot take part in a deadlock with this order.
 *  5. A parent's step may lock its child executions (parent, then child:
 *     cancelling a sub-workflow task); a child never locks its parent: its
 *     end reaches the parent through wf.inbox and the watchdog.
 *  6. After the locks are taken, the task's state and token are checked
 *     again (wf_task.c): what is decided is never applied twice.
 *  7. Event keys (wf_wait.c): a step that creates a wait takes the
 *     advisory lock of each (event, key) it waits on, in hash order, after
 *     its execution's lock; wf_signal with a ttl takes the one key's lock
 *     first and then takes executions only with SKIP LOCKED (a busy one
 *     gets a queued delivery), so the two orders never meet in a wait.
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "utils/builtins.h"
#include "utils/datum.h"
#include "utils/jsonb.h"
#include "utils/timestamp.h"

#include "pg_wf.h"
#include "wf_def.h"
#include "wf_graph.h"
#include "wf_step.h"
#include "wf_store.h"

/* What a step reads of its execution row, in step_read's order. */
#define EXECUTION_COLUMNS \
	"id, workflow, version, state, active, parent_task_id, depth"
#define EXECUTION_COLUMNS_E \
	"e.id, e.workflow, e.version, e.state, e.active, e.parent_task_id, e.depth"

static void unknown_task(int64 task_id) pg_attribute_noreturn();

static void
unknown_task(int64 task_id)
{
	ereport(ERROR,
			(errcode(ERRCODE_WF_UNKNOWN_TASK),
			 errmsg("task " INT64_FORMAT " does not exist", task_id)));
}

/*
 * Fill the step from a locked execution row (SPI_tuptable row r, its
 * columns from off + 1), but for its graph: *workflow and *version name it
 * (wf_graph_get may run a query of its own, so rows are read first).
 */
static void
step_read(WfStep *s, uint64 r, int off, char **workflow, int *version)
{
	memset(s, 0, sizeof(*s));
	*workflow = wf_get_text(r, off + 2);
	*version = wf_get_int32(r, off + 3);
	s->exec_id = wf_get_int64(r, off + 1);
	s->state = wf_exec_state_parse(wf_get_text(r, off + 4));
	s->input = NULL;			/* input and vars are read when needed: */
	s->vars = NULL;				/* wf_step_input(), wf_step_vars() */
	s->active = wf_get_int32(r, off + 5);
	s->parent_task_id = wf_get_int64(r, off + 6);
	s->depth = wf_get_int32(r, off + 7);
}

/* Fill the step from the locked execution row (SPI_tuptable row 0). */
static void
step_load(WfStep *s)
{
	char	   *workflow;
	int			version;

	step_read(s, 0, 0, &workflow, &version);
	s->g = wf_graph_get(workflow, version);
}

/*
 * The executions of a batch's tasks (task_ids: a bigint[]), locked in one
 * statement in ascending execution id order, so that two batches never
 * deadlock. Returns how many of the tasks exist: (*tasks)[r] is one's id
 * and (*steps)[r] a step open on its execution (one per task, so an
 * execution with two tasks of the batch has two; use one at a time).
 */
int
wf_step_open_batch(Datum task_ids, int64 **tasks, WfStep **steps)
{
	static WfPlan lock = {
		"SELECT t.id, " EXECUTION_COLUMNS_E " FROM wf.task t "
		"JOIN wf.execution e ON e.id = t.execution_id "
		"WHERE t.id = ANY ($1) ORDER BY e.id, t.id FOR NO KEY UPDATE OF e",
		1, {INT8ARRAYOID}, NULL, true
	};
	Datum		values[1];
	uint64		n;
	char	  **workflows;
	int		   *versions;

	values[0] = task_ids;
	n = wf_exec(&lock, values, NULL, 0);
	*tasks = palloc(sizeof(int64) * Max(n, 1));
	*steps = palloc(sizeof(WfStep) * Max(n, 1));
	workflows = palloc(sizeof(char *) * Max(n, 1));
	versions = palloc(sizeof(int) * Max(n, 1));
	for (uint64 r = 0; r < n; r++)
	{
		(*tasks)[r] = wf_get_int64(r, 1);
		step_read(&(*steps)[r], r, 1, &workflows[r], &versions[r]);
	}
	for (uint64 r = 0; r < n; r++)
		(*steps)[r].g = wf_graph_get(workflows[r], versions[r]);
	return (int) n;
}

/*
 * Lock the execution of a task (found and locked in one statement; the
 * task's execution_id never changes) and load its graph.
 */
void
wf_step_open_task(WfStep *s, int64 task_id)
{
	static WfPlan lock = {
		"SELECT " EXECUTION_COLUMNS " FROM wf.execution "
		"WHERE id = (SELECT t.execution_id FROM wf.task t WHERE t.id = $1) "
		"FOR NO KEY UPDATE",
		1, {INT8OID}
	};
	Datum		values[1];

	memset(s, 0, sizeof(*s));
	values[0] = Int64GetDatum(task_id);
	if (wf_exec(&lock, values, NULL, 0) != 1)
		unknown_task(task_id);
	step_load(s);
}

/*
 * The usual completion's first statement: lock the task's execution (as
 * wf_step_open_task) and, in the same statement, mark the task succeeded
 * if, and only if, it is running or delegated under token_hash (the UPDATE
 * runs after the lock is taken, and rechecks its conditions on the task
 * row's latest version). Returns whether it did, and changes nothing
 * otherwise: the caller then takes the task's lock and finds out why.
 * Either way the step is open. Comparing SHA-256 hashes in SQL leaks
 * nothing useful about the token.
 */
bool
wf_step_open_succeed(WfStep *s, int64 task_id, bytea *token_hash, Jsonb *result,
					 WfTaskRow *tr)
{
	static WfPlan lock_succeed = {
		"WITH e AS ("
		"  SELECT " EXECUTION_COLUMNS " FROM wf.execution "
		"  WHERE id = (SELECT t.execution_id FROM wf.task t WHERE t.id = $1) "
		"  FOR NO KEY UPDATE), "
		"u AS ("
		"  UPDATE wf.task SET state = 'succeeded', result = $2, error = NULL, "
		"  finished_at = pg_catalog.now(), lease_until = NULL, deadline = NULL "
		"  WHERE id = $1 AND EXISTS (SELECT FROM e) "
		"  AND state IN ('running', 'delegated') AND token_hash = $3 "
		"  RETURNING name, attempt, COALESCE(item, -1) AS item) "
		"SELECT e.*, u.name, u.attempt, u.item FROM e LEFT JOIN u ON true",
		3, {INT8OID, JSONBOID, BYTEAOID}
	};
	Datum		values[3];
	char		nulls[3] = {' ', ' ', ' '};
	char	   *name;
	int			attempt,
				item;

	memset(s, 0, sizeof(*s));
	values[0] = Int64GetDatum(task_id);
	values[1] = result ? JsonbPGetDatum(result) : (Datum) 0;
	nulls[1] = result ? ' ' : 'n';
	values[2] = PointerGetDatum(token_hash);
	if (wf_exec(&lock_succeed, values, nulls, 0) != 1)
		unknown_task(task_id);
	name = wf_get_text(0, 8);
	attempt = wf_get_int32(0, 9);
	item = wf_get_int32(0, 10);
	step_load(s);
	if (name == NULL)
		return false;
	wf_step_succeeded_row(s, tr, task_id, name, attempt, item);
	return true;
}

/*
 * Lock an execution row and load its graph. With skip_locked, returns false
 * instead of waiting when another transaction holds it.
 */
bool
wf_step_open(WfStep *s, int64 exec_id, bool skip_locked)
{
	static WfPlan lock_wait = {
		"SELECT " EXECUTION_COLUMNS " FROM wf.execution WHERE id = $1 FOR NO KEY UPDATE",
		1, {INT8OID}
	};
	static WfPlan lock_skip = {
		"SELECT " EXECUTION_COLUMNS " FROM wf.execution "
		"WHERE id = $1 FOR NO KEY UPDATE SKIP LOCKED",
		1, {INT8OID}
	};
	Datum		values[1];

	memset(s, 0, sizeof(*s));
	values[0] = Int64GetDatum(exec_id);
	if (wf_exec(skip_locked ? &lock_skip : &lock_wait, values, NULL, 0) != 1)
	{
		if (skip_locked)
			return false;
		ereport(ERROR,
				(errcode(ERRCODE_WF_UNKNOWN_EXECUTION),
				 errmsg("execution " INT64_FORMAT " does not exist", exec_id)));
	}
	step_load(s);
	return true;
}

/* The graph index of a task of the step's workflow, and its definition. */
static int
task_def(WfStep *s, const char *name, WfTask **def)
{
	int			idx = wf_task_index(s->g, name);

	if (idx < 0)
		elog(ERROR, "task \"%s\" is not in workflow \"%s\" version %d",
			 name, s->g->name, s->g->version);
	*def = &s->g->tasks[idx];
	return idx;
}

/* Lock a task of the open step's execution and read it. */
void
wf_step_lock_task(WfStep *s, int64 task_id, WfTaskRow *tr)
{
	static WfPlan lock_task = {
		"SELECT name, state, token_hash, expired_token_hash, result, error, attempt, "
		"lease, lease_until < pg_catalog.now(), deadline < pg_catalog.now(), execution_id, "
		"COALESCE(item, -1) FROM wf.task WHERE id = $1 FOR NO KEY UPDATE",
		1, {INT8OID}
	};
	Datum		values[1];
	bool		isnull;
	Datum		d;

	values[0] = Int64GetDatum(task_id);
	if (wf_exec(&lock_task, values, NULL, 0) != 1)
		unknown_task(task_id);
	if (wf_get_int64(0, 11) != s->exec_id)
		elog(ERROR, "task " INT64_FORMAT " moved to another execution", task_id);
	tr->id = task_id;
	tr->name = wf_get_text(0, 1);
	tr->state = wf_task_state_parse(wf_get_text(0, 2));
	tr->token_hash = wf_get_bytea(0, 3);
	tr->expired_hash = wf_get_bytea(0, 4);
	tr->result = wf_get_jsonb(0, 5);
	tr->error = wf_get_jsonb(0, 6);
	tr->attempt = wf_get_int32(0, 7);
	d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 8, &isnull);
	tr->lease = isnull ? NULL : DatumGetIntervalP(datumCopy(d, false, sizeof(Interval)));
	tr->lease_passed = wf_get_bool(0, 9);
	tr->deadline_passed = wf_get_bool(0, 10);
	tr->item = wf_get_int32(0, 12);
	tr->idx = task_def(s, tr->name, &tr->def);
}

/*
 * The step's history rows still buffered: into the shared batch, or written
 * now. (Its tasks and execution row were written, or went to the batch,
 * when the execution row was stored.)
 */
void
wf_step_close(WfStep *s)
{
	if (s->batch)
	{
		wf_batch_events(s->batch, s->exec_id, &s->ev);
		return;
	}
	if (s->own && wf_batch_pending(s->own))
		elog(ERROR, "an engine step of execution " INT64_FORMAT " ended without storing it",
			 s->exec_id);
	wf_events_flush(&s->ev, s->exec_id);
}

/* Where the step's end goes (wf_execution.c). */
WfBatch *
wf_step_batch(WfStep *s)
{
	if (s->batch)
		return s->batch;
	if (s->own == NULL)
		s->own = wf_batch_new();
	return s->own;
}

/* The row of a task of the step that the fast path marked succeeded. */
void
wf_step_succeeded_row(WfStep *s, WfTaskRow *tr, int64 task_id, char *name, int attempt,
					  int item)
{
	memset(tr, 0, sizeof(*tr));
	tr->id = task_id;
	tr->name = name;
	tr->attempt = attempt;
	tr->item = item;
	tr->state = WF_TASK_SUCCEEDED;
	tr->idx = task_def(s, tr->name, &tr->def);
}

/*
 * The fast path for many tasks, each in an execution the caller has
 * locked: mark each succeeded if, and only if, it is running or delegated
 * under its token's hash, in one statement (ids: bigint[], results:
 * jsonb[], hashes: bytea[]). Returns how many were; their id, name,
 * attempt and item (-1: none) are in SPI_tuptable's rows, in no order.
 */
uint64
wf_try_succeed_batch(Datum ids, Datum results, Datum hashes)
{
	static WfPlan finish = {
		"UPDATE wf.task t SET state = 'succeeded', result = u.result, error = NULL, "
		"finished_at = pg_catalog.now(), lease_until = NULL, deadline = NULL "
		"FROM ROWS FROM (pg_catalog.unnest($1::pg_catalog.int8[]), "
		"     pg_catalog.unnest($2::pg_catalog.jsonb[]), pg_catalog.unnest($3::pg_catalog.bytea[])) "
		"     AS u(id, result, token_hash) "
		"WHERE t.id = u.id AND t.state IN ('running', 'delegated') AND t.token_hash = u.token_hash "
		"RETURNING t.id, t.name, t.attempt, COALESCE(t.item, -1)",
		3, {INT8ARRAYOID, JSONBARRAYOID, BYTEAARRAYOID}, NULL, true
	};
	Datum		values[3];

	values[0] = ids;
	values[1] = results;
	values[2] = hashes;
	return wf_exec(&finish, values, NULL, 0);
}


/*
 * The execution's input and vars, read on first use: most steps evaluate
 * no expression, and both can be large (a for_each over 10,000 items would
 * otherwise be read, detoasted and copied by every item's completion).
 */
static void
load_documents(WfStep *s)
{
	static WfPlan documents = {
		"SELECT input, vars FROM wf.execution WHERE id = $1",
		1, {INT8OID}
	};
	Datum		values[1];

	values[0] = Int64GetDatum(s->exec_id);
	wf_exec(&documents, values, NULL, 1);
	if (s->input == NULL)
		s->input = wf_get_jsonb(0, 1);
	if (s->vars == NULL)
		s->vars = wf_get_jsonb(0, 2);
}

static Jsonb *
wf_step_input(WfStep *s)
{
	if (s->input == NULL)
		load_documents(s);
	return s->input;
}

Jsonb *
wf_step_vars(WfStep *s)
{
	if (s->vars == NULL)
		load_documents(s);
	return s->vars;
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
static void
load_views(WfStep *s, bool all, bool *want)
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

/* The expression context of the step, with the task rows loaded so far. */
static Jsonb *
wf_step_context(WfStep *s, Jsonb *result, Jsonb *error)
{
	return wf_context(wf_step_input(s), wf_step_vars(s), s->nviews, s->views, result, error);
}

/*
 * The context in which to evaluate templates tmpls[0..n-1] (NULLs are
 * skipped): first load the task rows they read, and only those.
 */
Jsonb *
wf_step_context_for(WfStep *s, WfTemplate *const *tmpls, int n, Jsonb *result, Jsonb *error)
{
	bool	   *want = palloc0(sizeof(bool) * s->g->ntasks);
	bool		all = false;
	bool		need = false;

	for (int i = 0; i < n; i++)
		need |= wf_template_refs(tmpls[i], &all, want);
	if (need)
		load_views(s, all, want);
	return wf_step_context(s, result, error);
}
