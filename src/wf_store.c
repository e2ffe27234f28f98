/*
 * wf_store.c — SPI plumbing shared by the engine and the queue.
 *
 * Every statement is prepared once per backend with $n parameters and kept;
 * no value is ever spliced into SQL text. All statements name their tables
 * schema-qualified (wf.*), and the SQL functions run with a pinned
 * search_path, so nothing a caller creates can capture them.
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/pg_type.h"
#include "jit/jit.h"
#include "optimizer/cost.h"
#include "optimizer/planner.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/datum.h"
#include "catalog/namespace.h"
#include "utils/lsyscache.h"
#include "utils/resowner.h"
#include "utils/timestamp.h"

#include "pg_wf.h"
#include "wf_store.h"

/*
 * Engine statements are planned alike whatever the tables hold. No engine
 * statement is JIT-compiled, whatever the server's jit settings: its cost
 * estimate grows with the tables (a generic plan's LIMIT $n is costed at a
 * tenth of the rows), and past jit_above_cost every call compiled its
 * expressions with LLVM (17 ms a claim with 100,000 ready tasks, where the
 * work took well under one). And every engine statement reaches rows
 * through indexes, with nested loops: a step touches a handful of rows,
 * but a small or never-analysed table made the planner prefer a
 * sequential scan and a hash join (a step's execution update read every
 * execution; sql/scale.sql saw it), a plan whose cost then grows with the
 * table. A planner hook clears the JIT flags of every plan made while
 * wf_exec() prepares or runs a statement (and of statements nested in it)
 * and plans it with enable_seqscan, enable_hashjoin and enable_mergejoin
 * off (a statement with no index to use still gets its scan), at no cost
 * per call: plans are kept.
 */
static planner_hook_type prev_planner = NULL;
static int	engine_depth = 0;

static PlannedStmt *
engine_planner(Query *parse, const char *query_string, int cursorOptions,
			   ParamListInfo boundParams)
{
	PlannedStmt *stmt;
	bool		seqscan = enable_seqscan;
	bool		hashjoin = enable_hashjoin;
	bool		mergejoin = enable_mergejoin;

	if (engine_depth > 0)
		enable_seqscan = enable_hashjoin = enable_mergejoin = false;
	PG_TRY();
	{
		if (prev_planner)
			stmt = prev_planner(parse, query_string, cursorOptions, boundParams);
		else
			stmt = standard_planner(parse, query_string, cursorOptions, boundParams);
	}
	PG_FINALLY();
	{
		enable_seqscan = seqscan;
		enable_hashjoin = hashjoin;
		enable_mergejoin = mergejoin;
	}
	PG_END_TRY();
	if (engine_depth > 0)
		stmt->jitFlags = PGJIT_NONE;
	return stmt;
}

void
wf_store_init(void)
{
	prev_planner = planner_hook;
	planner_hook = engine_planner;
}

/*
 * Run a kept plan. expect > 0: the statement must touch exactly that many
 * rows (an engine invariant, so a mismatch is an internal error). The
 * previous statement's SPI_tuptable is freed first.
 */
uint64
wf_exec(WfPlan *p, Datum *values, const char *nulls, int expect)
{
	int			rc;

	/*
	 * Callers copy what they need from a result before running the next
	 * statement, so the previous result can go now: a long batch then keeps
	 * one result in memory, not one per statement.
	 */
	SPI_freetuptable(SPI_tuptable);
	engine_depth++;
	PG_TRY();
	{
		if (p->plan == NULL)
		{
			SPIPlanPtr	plan = SPI_prepare_cursor(p->sql, p->nargs, p->argtypes,
												  p->generic ? CURSOR_OPT_GENERIC_PLAN : 0);

			if (plan == NULL)
				elog(ERROR, "SPI_prepare failed for \"%s\": %s",
					 p->sql, SPI_result_code_string(SPI_result));
			SPI_keepplan(plan);
			p->plan = plan;
		}
		rc = SPI_execute_plan(p->plan, values, nulls, false, 0);
	}
	PG_FINALLY();
	{
		engine_depth--;
	}
	PG_END_TRY();
	if (rc < 0)
		elog(ERROR, "SPI_execute_plan failed for \"%s\": %s",
			 p->sql, SPI_result_code_string(rc));
	if (expect > 0 && SPI_processed != (uint64) expect)
		elog(ERROR, "statement \"%s\" touched " UINT64_FORMAT " rows, expected %d",
			 p->sql, SPI_processed, expect);
	return SPI_processed;
}

/* Run a kept plan and return its first column (bigint ids), *n of them. */
int64 *
wf_exec_ids(WfPlan *p, Datum *values, uint64 *n)
{
	int64	   *ids;

	*n = wf_exec(p, values, NULL, 0);
	ids = palloc(sizeof(int64) * Max(*n, 1));
	for (uint64 r = 0; r < *n; r++)
		ids[r] = wf_get_int64(r, 1);
	return ids;
}

static Datum
get_datum(uint64 r, int col, bool *isnull)
{
	return SPI_getbinval(SPI_tuptable->vals[r], SPI_tuptable->tupdesc, col, isnull);
}

bool
wf_isnull(uint64 r, int col)
{
	bool		isnull;

	(void) get_datum(r, col, &isnull);
	return isnull;
}

int64
wf_get_int64(uint64 r, int col)
{
	bool		isnull;
	Datum		d = get_datum(r, col, &isnull);

	return isnull ? 0 : DatumGetInt64(d);
}

int32
wf_get_int32(uint64 r, int col)
{
	bool		isnull;
	Datum		d = get_datum(r, col, &isnull);

	return isnull ? 0 : DatumGetInt32(d);
}

double
wf_get_float8(uint64 r, int col)
{
	bool		isnull;
	Datum		d = get_datum(r, col, &isnull);

	return isnull ? 0 : DatumGetFloat8(d);
}

bool
wf_get_bool(uint64 r, int col)
{
	bool		isnull;
	Datum		d = get_datum(r, col, &isnull);

	return isnull ? false : DatumGetBool(d);
}

TimestampTz
wf_get_timestamptz(uint64 r, int col)
{
	bool		isnull;
	Datum		d = get_datum(r, col, &isnull);

	return isnull ? 0 : DatumGetTimestampTz(d);
}

char *
wf_get_text(uint64 r, int col)
{
	bool		isnull;
	Datum		d = get_datum(r, col, &isnull);

	return isnull ? NULL : TextDatumGetCString(d);
}

Jsonb *
wf_get_jsonb(uint64 r, int col)
{
	bool		isnull;
	Datum		d = get_datum(r, col, &isnull);

	return isnull ? NULL : DatumGetJsonbPCopy(d);
}

bytea *
wf_get_bytea(uint64 r, int col)
{
	bool		isnull;
	Datum		d = get_datum(r, col, &isnull);

	return isnull ? NULL : DatumGetByteaPCopy(d);
}

Datum
wf_text_array(Datum *elems, int n)
{
	return PointerGetDatum(construct_array(elems, n, TEXTOID, -1, false, TYPALIGN_INT));
}

Datum
wf_jsonb_array(Datum *elems, int n)
{
	return PointerGetDatum(construct_array(elems, n, JSONBOID, -1, false, TYPALIGN_INT));
}

static void
wf_events_add(WfEvents *ev, int64 task_id, const char *task, const char *state,
			  Jsonb *detail)
{
	if (ev->n == ev->max)
	{
		int			max = ev->max ? ev->max * 2 : 8;

		if (ev->max == 0)
		{
			ev->task_id = palloc(sizeof(Datum) * max);
			ev->task_id_null = palloc(sizeof(bool) * max);
			ev->task = palloc(sizeof(Datum) * max);
			ev->task_null = palloc(sizeof(bool) * max);
			ev->state = palloc(sizeof(Datum) * max);
			ev->detail = palloc(sizeof(Datum) * max);
			ev->detail_null = palloc(sizeof(bool) * max);
		}
		else
		{
			ev->task_id = repalloc(ev->task_id, sizeof(Datum) * max);
			ev->task_id_null = repalloc(ev->task_id_null, sizeof(bool) * max);
			ev->task = repalloc(ev->task, sizeof(Datum) * max);
			ev->task_null = repalloc(ev->task_null, sizeof(bool) * max);
			ev->state = repalloc(ev->state, sizeof(Datum) * max);
			ev->detail = repalloc(ev->detail, sizeof(Datum) * max);
			ev->detail_null = repalloc(ev->detail_null, sizeof(bool) * max);
		}
		ev->max = max;
	}
	ev->task_id[ev->n] = Int64GetDatum(task_id);
	ev->task_id_null[ev->n] = (task_id == 0);
	ev->task[ev->n] = task ? CStringGetTextDatum(task) : (Datum) 0;
	ev->task_null[ev->n] = (task == NULL);
	ev->state[ev->n] = CStringGetTextDatum(state);
	ev->detail[ev->n] = detail ? JsonbPGetDatum(detail) : (Datum) 0;
	ev->detail_null[ev->n] = (detail == NULL);
	ev->n++;
}

static Datum
nullable_array(Datum *elems, bool *nulls, int n, Oid type, int16 len, bool byval, char align)
{
	int			dims[1] = {n};
	int			lbs[1] = {1};

	return PointerGetDatum(construct_md_array(elems, nulls, 1, dims, lbs,
											  type, len, byval, align));
}

/* The buffered events as four arrays (task_id, task, state, detail). */
static void
events_arrays(WfEvents *ev, Datum *out)
{
	bool	   *nonulls = palloc0(sizeof(bool) * Max(ev->n, 1));

	out[0] = nullable_array(ev->task_id, ev->task_id_null, ev->n, INT8OID, 8,
							FLOAT8PASSBYVAL, TYPALIGN_DOUBLE);
	out[1] = nullable_array(ev->task, ev->task_null, ev->n, TEXTOID, -1, false, TYPALIGN_INT);
	out[2] = nullable_array(ev->state, nonulls, ev->n, TEXTOID, -1, false, TYPALIGN_INT);
	out[3] = nullable_array(ev->detail, ev->detail_null, ev->n, JSONBOID, -1, false, TYPALIGN_INT);
}

void
wf_events_flush(WfEvents *ev, int64 execution_id)
{
	static WfPlan plan = {
		"INSERT INTO wf.event (execution_id, task_id, task, state, detail) "
		"SELECT $1, u.task_id, u.task, u.state, u.detail "
		"FROM ROWS FROM (pg_catalog.unnest($2::pg_catalog.int8[]), pg_catalog.unnest($3::pg_catalog.text[]), "
		"pg_catalog.unnest($4::pg_catalog.text[]), pg_catalog.unnest($5::pg_catalog.jsonb[])) "
		"AS u(task_id, task, state, detail)",
		5, {INT8OID, INT8ARRAYOID, TEXTARRAYOID, TEXTARRAYOID, JSONBARRAYOID}
	};
	Datum		values[5];

	if (ev->n == 0)
		return;
	values[0] = Int64GetDatum(execution_id);
	events_arrays(ev, &values[1]);
	wf_exec(&plan, values, NULL, ev->n);
	ev->n = 0;
}

/*
 * Which version of pg_wf's SQL objects this database has (the library
 * serves every version from 0.1 on, until ALTER EXTENSION pg_wf UPDATE):
 * WF_SCHEMA_0_2 if it has what 0.2 added (wf.queue_grant, wf.task.held,
 * added by one upgrade script), else WF_SCHEMA_0_1. Two syscache lookups.
 */
int
wf_schema_version(void)
{
	Oid			ns = get_namespace_oid("wf", true);

	if (OidIsValid(ns) && OidIsValid(get_relname_relid("queue_grant", ns)))
		return WF_SCHEMA_0_2;
	return WF_SCHEMA_0_1;
}

/*
 * Add to the detail of the step's last execution event (the one that ends
 * it), or make one of that state if there is none.
 */
void
wf_events_amend_exec(WfEvents *ev, Jsonb *more)
{
	for (int i = ev->n - 1; i >= 0; i--)
		if (ev->task_null[i])
		{
			ev->detail[i] = ev->detail_null[i] ? JsonbPGetDatum(more) :
				DirectFunctionCall2(jsonb_concat, ev->detail[i], JsonbPGetDatum(more));
			ev->detail_null[i] = false;
			return;
		}
}

/*
 * s (len bytes) as a text result of the SQL call, made in the caller's
 * memory: SPI_finish frees everything the call made while connected.
 */
Datum
wf_spi_text(const char *s, size_t len)
{
	text	   *t = SPI_palloc(VARHDRSZ + len);

	SET_VARSIZE(t, VARHDRSZ + len);
	memcpy(VARDATA(t), s, len);
	return PointerGetDatum(t);
}

/* A task's new state, for the history. */
void
wf_events_task(WfEvents *ev, int64 task_id, const char *task, WfTaskState state,
			   Jsonb *detail)
{
	wf_events_add(ev, task_id, task, wf_task_state_name(state), detail);
}

/* The execution's new state, for the history. */
void
wf_events_exec(WfEvents *ev, WfExecState state, Jsonb *detail)
{
	wf_events_add(ev, 0, NULL, wf_exec_state_name(state), detail);
}

/*
 * Errors that are about the work itself (bad data, an expression that
 * fails, a definition or input refused), which a caller may turn into a
 * failure of the execution, as opposed to errors about the session or the
 * server: a cancel or statement_timeout, a lock timeout, out of memory,
 * a deadlock or serialization failure, a shutdown, an internal error. Those
 * must abort the whole call and change nothing.
 */
static bool
is_work_error(int sqlerrcode)
{
	switch (ERRCODE_TO_CATEGORY(sqlerrcode))
	{
		case ERRCODE_TO_CATEGORY(ERRCODE_INSUFFICIENT_RESOURCES):	/* 53 */
		case ERRCODE_TO_CATEGORY(ERRCODE_OPERATOR_INTERVENTION):	/* 57: cancel */
		case ERRCODE_TO_CATEGORY(ERRCODE_SYSTEM_ERROR): /* 58 */
		case ERRCODE_TO_CATEGORY(ERRCODE_INTERNAL_ERROR):	/* XX */
		case ERRCODE_TO_CATEGORY(ERRCODE_TRANSACTION_ROLLBACK): /* 40 */
		case ERRCODE_TO_CATEGORY(ERRCODE_INVALID_TRANSACTION_STATE):	/* 25 */
		case ERRCODE_TO_CATEGORY(ERRCODE_CONNECTION_EXCEPTION): /* 08 */
			return false;
	}
	return sqlerrcode != ERRCODE_LOCK_NOT_AVAILABLE &&
		sqlerrcode != ERRCODE_OBJECT_IN_USE;
}

/*
 * Run fn(arg) in a subtransaction. Returns true, or false with *error set
 * to the message of the error it raised: everything it did is then rolled
 * back, and the caller goes on (an expression that fails, a child
 * execution that cannot start). Only errors about the work are caught
 * (is_work_error); any other error (a cancel, a timeout, out of memory)
 * is raised again, so that the whole call aborts and changes nothing. SPI's
 * previous result is gone either way.
 */
bool
wf_in_subxact(void (*fn) (void *), void *arg, char **error)
{
	return wf_try_subxact(fn, arg, false, error, NULL);
}

/*
 * What a watchdog step may survive: an error about the work, an internal
 * error (a bug or a row edited by hand: it concerns that execution), a
 * lock that could not be had at once or a deadlock (retried later). Not a
 * cancel, a shutdown, out of memory or a system error.
 */
static bool
is_step_error(int sqlerrcode)
{
	switch (ERRCODE_TO_CATEGORY(sqlerrcode))
	{
		case ERRCODE_TO_CATEGORY(ERRCODE_INSUFFICIENT_RESOURCES):
		case ERRCODE_TO_CATEGORY(ERRCODE_OPERATOR_INTERVENTION):
		case ERRCODE_TO_CATEGORY(ERRCODE_SYSTEM_ERROR):
		case ERRCODE_TO_CATEGORY(ERRCODE_CONNECTION_EXCEPTION):
		case ERRCODE_TO_CATEGORY(ERRCODE_INVALID_TRANSACTION_STATE):
			return false;
	}
	return true;
}

/*
 * wf_in_subxact, or with step (the watchdog's steps) what is_step_error
 * allows. *code (if given) is the caught error's SQLSTATE, or 0.
 */
bool
wf_try_subxact(void (*fn) (void *), void *arg, bool step, char **error, int *code)
{
	MemoryContext oldcxt = CurrentMemoryContext;
	ResourceOwner oldowner = CurrentResourceOwner;
	volatile bool ok = true;

	*error = NULL;
	if (code)
		*code = 0;
	BeginInternalSubTransaction(NULL);
	MemoryContextSwitchTo(oldcxt);
	PG_TRY();
	{
		fn(arg);
		ReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(oldcxt);
		CurrentResourceOwner = oldowner;
	}
	PG_CATCH();
	{
		ErrorData  *edata;

		MemoryContextSwitchTo(oldcxt);
		edata = CopyErrorData();
		FlushErrorState();
		RollbackAndReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(oldcxt);
		CurrentResourceOwner = oldowner;
		SPI_tuptable = NULL;	/* freed with the subtransaction */
		if (!(step ? is_step_error(edata->sqlerrcode) : is_work_error(edata->sqlerrcode)))
			ReThrowError(edata);
		*error = edata->message;
		if (code)
			*code = edata->sqlerrcode;
		ok = false;
	}
	PG_END_TRY();
	return ok;
}

/* ---------------------------------------------------------------------
 * The end of engine steps, in one statement
 *
 * A step's last writes — the tasks it made ready (or keeps cancelled), its
 * history rows, its execution row — are gathered in a WfBatch and written
 * by one statement (wf_batch_flush). A step on its own flushes at the end
 * (one statement instead of three); wf_task_complete_batch gathers the
 * ends of up to 1,000 steps, each in its own execution, and flushes once.
 * History rows keep their order: a task's "ready" row goes where the step
 * inserted the task among its other rows (pos).
 * ---------------------------------------------------------------------
 */
typedef struct BatchTask
{
	int64		exec_id;
	Datum		name,
				action,
				queue,
				input,
				state;
	Interval   *timeout;		/* NULL: none */
	bool		held;
	int			pos;			/* history rows of the batch before its own */
} BatchTask;

typedef struct BatchEvent
{
	int64		exec_id;
	int64		task_id;		/* 0: the execution's own row */
	Datum		task,
				state,
				detail;
	bool		task_null,
				detail_null;
} BatchEvent;

typedef struct BatchExec
{
	int64		id;
	int			active;
	Datum		vars,
				state,
				output,
				error;
	bool		vars_null,
				output_null,
				error_null;
} BatchExec;

struct WfBatch
{
	MemoryContext cxt;			/* where its rows are kept */
	int			nt,
				maxt,
				ne,
				maxe,
				nx,
				maxx;
	BatchTask  *t;
	BatchEvent *e;
	BatchExec  *x;
};

/* A batch kept in the current memory context. */
WfBatch *
wf_batch_new(void)
{
	WfBatch    *b = palloc0(sizeof(WfBatch));

	b->cxt = CurrentMemoryContext;
	return b;
}

/* Room for one more of n (of max) elements of size sz in *arr. */
static void *
batch_grow(void *arr, int n, int *max, Size sz)
{
	if (n < *max)
		return arr;
	*max = *max ? *max * 2 : 8;
	return arr ? repalloc(arr, sz * *max) : palloc(sz * *max);
}

static Datum
copy_jsonb(Jsonb *j, bool *isnull)
{
	*isnull = (j == NULL);
	return j ? datumCopy(PointerGetDatum(j), false, -1) : (Datum) 0;
}

/* History rows gathered so far (the pos of a task inserted now, plus the step's own). */
int
wf_batch_nevents(WfBatch *b)
{
	return b->ne;
}

void
wf_batch_task(WfBatch *b, int64 exec_id, const char *name, const char *action,
			  const char *queue, Jsonb *input, Interval *timeout, WfTaskState state,
			  bool held, int pos)
{
	MemoryContext old = MemoryContextSwitchTo(b->cxt);
	BatchTask  *t;
	bool		isnull;

	b->t = batch_grow(b->t, b->nt, &b->maxt, sizeof(BatchTask));
	t = &b->t[b->nt++];
	t->exec_id = exec_id;
	t->name = CStringGetTextDatum(name);
	t->action = CStringGetTextDatum(action);
	t->queue = CStringGetTextDatum(queue);
	t->input = copy_jsonb(input, &isnull);
	t->state = CStringGetTextDatum(wf_task_state_name(state));
	t->timeout = NULL;
	if (timeout)
	{
		t->timeout = palloc(sizeof(Interval));
		*t->timeout = *timeout;
	}
	t->held = held;
	t->pos = pos;
	MemoryContextSwitchTo(old);
}

/* Move a step's buffered history rows into the batch (ev is emptied). */
void
wf_batch_events(WfBatch *b, int64 exec_id, WfEvents *ev)
{
	MemoryContext old = MemoryContextSwitchTo(b->cxt);

	for (int i = 0; i < ev->n; i++)
	{
		BatchEvent *e;

		b->e = batch_grow(b->e, b->ne, &b->maxe, sizeof(BatchEvent));
		e = &b->e[b->ne++];
		e->exec_id = exec_id;
		e->task_id = ev->task_id_null[i] ? 0 : DatumGetInt64(ev->task_id[i]);
		e->task_null = ev->task_null[i];
		e->task = e->task_null ? (Datum) 0 : datumCopy(ev->task[i], false, -1);
		e->state = datumCopy(ev->state[i], false, -1);
		e->detail = copy_jsonb(ev->detail_null[i] ? NULL : DatumGetJsonbP(ev->detail[i]),
							   &e->detail_null);
	}
	ev->n = 0;
	MemoryContextSwitchTo(old);
}

/*
 * An execution row to store. slot: 0, or what an earlier call for the same
 * step returned (the later row replaces it). Returns the slot.
 */
int
wf_batch_execution(WfBatch *b, int slot, int64 id, int active, Jsonb *vars,
				   WfExecState state, Jsonb *output, Jsonb *error)
{
	MemoryContext old = MemoryContextSwitchTo(b->cxt);
	BatchExec  *x;

	if (slot == 0)
	{
		b->x = batch_grow(b->x, b->nx, &b->maxx, sizeof(BatchExec));
		slot = ++b->nx;
	}
	x = &b->x[slot - 1];
	x->id = id;
	x->active = active;
	x->vars = copy_jsonb(vars, &x->vars_null);
	x->state = CStringGetTextDatum(wf_exec_state_name(state));
	x->output = copy_jsonb(output, &x->output_null);
	x->error = copy_jsonb(error, &x->error_null);
	MemoryContextSwitchTo(old);
	return slot;
}

bool
wf_batch_pending(WfBatch *b)
{
	return b->nt + b->ne + b->nx > 0;
}

/*
 * Insert the tasks ($1..$9), the history rows in order ($10..$14; each
 * task's own row where pos puts it), and update the executions
 * ($15..$20). The tasks' ids are drawn first (u, read twice, is computed
 * once), so that each task's history row has its id without joining the
 * inserted rows back to the arrays (without hash joins, a join that grew
 * with the square of the batch). held_column/held_value: empty with pg_wf
 * 0.1's objects.
 */
#define FLUSH_SQL(held_column, held_value) \
	"WITH u AS (" \
	"  SELECT pg_catalog.nextval('wf.task_id_seq'::pg_catalog.regclass) AS id, u.*" \
	"  FROM ROWS FROM (pg_catalog.unnest($1::pg_catalog.int8[]), pg_catalog.unnest($2::pg_catalog.text[])," \
	"       pg_catalog.unnest($3::pg_catalog.text[]), pg_catalog.unnest($4::pg_catalog.text[])," \
	"       pg_catalog.unnest($5::pg_catalog.jsonb[]), pg_catalog.unnest($6::pg_catalog.interval[])," \
	"       pg_catalog.unnest($7::pg_catalog.text[]), pg_catalog.unnest($8::pg_catalog.bool[])," \
	"       pg_catalog.unnest($9::pg_catalog.int8[]))" \
	"       AS u(execution_id, name, action, queue, input, timeout, state, held, pos)), " \
	"nt AS (" \
	"  INSERT INTO wf.task (id, execution_id, name, action, queue, input, timeout, state, " \
	"                       finished_at" held_column ") OVERRIDING SYSTEM VALUE" \
	"  SELECT u.id, u.execution_id, u.name, u.action, u.queue, u.input, u.timeout, u.state," \
	"         CASE WHEN u.state = 'cancelled' THEN pg_catalog.now() END" held_value " FROM u), " \
	"ev AS (" \
	"  INSERT INTO wf.event (execution_id, task_id, task, state, detail)" \
	"  SELECT x.execution_id, x.task_id, x.task, x.state, x.detail FROM (" \
	"    SELECT b.execution_id, b.task_id, b.task, b.state, b.detail, b.ord * 2 AS k, 0::pg_catalog.int8 AS k2" \
	"    FROM ROWS FROM (pg_catalog.unnest($10::pg_catalog.int8[]), pg_catalog.unnest($11::pg_catalog.int8[])," \
	"         pg_catalog.unnest($12::pg_catalog.text[]), pg_catalog.unnest($13::pg_catalog.text[])," \
	"         pg_catalog.unnest($14::pg_catalog.jsonb[])) WITH ORDINALITY" \
	"         AS b(execution_id, task_id, task, state, detail, ord)" \
	"    UNION ALL" \
	"    SELECT u.execution_id, u.id, u.name, u.state, NULL, u.pos * 2 + 1, u.id FROM u" \
	"  ) x ORDER BY x.k, x.k2) " \
	"UPDATE wf.execution e SET active = u.active, vars = COALESCE(u.vars, e.vars), state = u.state, " \
	"output = u.output, error = u.error, updated_at = pg_catalog.now(), " \
	"finished_at = CASE WHEN u.state = 'running' THEN NULL ELSE pg_catalog.now() END " \
	"FROM ROWS FROM (pg_catalog.unnest($15::pg_catalog.int8[]), pg_catalog.unnest($16::pg_catalog.int4[])," \
	"     pg_catalog.unnest($17::pg_catalog.jsonb[]), pg_catalog.unnest($18::pg_catalog.text[])," \
	"     pg_catalog.unnest($19::pg_catalog.jsonb[]), pg_catalog.unnest($20::pg_catalog.jsonb[]))" \
	"     AS u(id, active, vars, state, output, error) " \
	"WHERE e.id = u.id"

#define FLUSH_ARGS \
	20, {INT8ARRAYOID, TEXTARRAYOID, TEXTARRAYOID, TEXTARRAYOID, JSONBARRAYOID, INTERVALARRAYOID, \
	TEXTARRAYOID, BOOLARRAYOID, INT8ARRAYOID, \
	INT8ARRAYOID, INT8ARRAYOID, TEXTARRAYOID, TEXTARRAYOID, JSONBARRAYOID, \
	INT8ARRAYOID, INT4ARRAYOID, JSONBARRAYOID, TEXTARRAYOID, JSONBARRAYOID, JSONBARRAYOID}

/*
 * A one-dimensional array of n elements of one of the flush's element
 * types (their storage is fixed: no catalog lookup on the completion path).
 */
static Datum
batch_array(Datum *elems, bool *nulls, int n, Oid type)
{
	switch (type)
	{
		case INT8OID:
			return nullable_array(elems, nulls, n, type, 8, FLOAT8PASSBYVAL, TYPALIGN_DOUBLE);
		case INT4OID:
			return nullable_array(elems, nulls, n, type, 4, true, TYPALIGN_INT);
		case BOOLOID:
			return nullable_array(elems, nulls, n, type, 1, true, TYPALIGN_CHAR);
		case INTERVALOID:
			return nullable_array(elems, nulls, n, type, sizeof(Interval), false, TYPALIGN_DOUBLE);
		case TEXTOID:
		case JSONBOID:
			return nullable_array(elems, nulls, n, type, -1, false, TYPALIGN_INT);
	}
	elog(ERROR, "no array of type %u in a step's end", type);
	return (Datum) 0;
}

/* Write what the batch gathered, in one statement, and empty it. */
void
wf_batch_flush(WfBatch *b)
{
	/*
	 * Always the generic plan: a custom plan (which knows how long each array
	 * is) looked cheaper every time, so the statement was planned on every
	 * call — a quarter of a completion's time (pg_stat_statements).
	 */
	static WfPlan flush = {FLUSH_SQL(", held", ", u.held"), FLUSH_ARGS, NULL, true};
	static WfPlan flush_0_1 = {FLUSH_SQL("", ""), FLUSH_ARGS, NULL, true};
	int			m = Max(Max(b->nt, b->ne), Max(b->nx, 1));
	Datum	   *col = palloc(sizeof(Datum) * m);
	bool	   *nul = palloc0(sizeof(bool) * m);
	Datum		values[20];

#define COLUMN(arg, type, n, expr, isnull) \
	do { \
		for (int i_ = 0; i_ < (n); i_++) \
		{ \
			col[i_] = (expr); \
			nul[i_] = (isnull); \
		} \
		values[(arg) - 1] = batch_array(col, nul, (n), (type)); \
	} while (0)

	if (!wf_batch_pending(b))
		return;
	COLUMN(1, INT8OID, b->nt, Int64GetDatum(b->t[i_].exec_id), false);
	COLUMN(2, TEXTOID, b->nt, b->t[i_].name, false);
	COLUMN(3, TEXTOID, b->nt, b->t[i_].action, false);
	COLUMN(4, TEXTOID, b->nt, b->t[i_].queue, false);
	COLUMN(5, JSONBOID, b->nt, b->t[i_].input, false);
	COLUMN(6, INTERVALOID, b->nt, IntervalPGetDatum(b->t[i_].timeout), b->t[i_].timeout == NULL);
	COLUMN(7, TEXTOID, b->nt, b->t[i_].state, false);
	COLUMN(8, BOOLOID, b->nt, BoolGetDatum(b->t[i_].held), false);
	COLUMN(9, INT8OID, b->nt, Int64GetDatum(b->t[i_].pos), false);
	COLUMN(10, INT8OID, b->ne, Int64GetDatum(b->e[i_].exec_id), false);
	COLUMN(11, INT8OID, b->ne, Int64GetDatum(b->e[i_].task_id), b->e[i_].task_id == 0);
	COLUMN(12, TEXTOID, b->ne, b->e[i_].task, b->e[i_].task_null);
	COLUMN(13, TEXTOID, b->ne, b->e[i_].state, false);
	COLUMN(14, JSONBOID, b->ne, b->e[i_].detail, b->e[i_].detail_null);
	COLUMN(15, INT8OID, b->nx, Int64GetDatum(b->x[i_].id), false);
	COLUMN(16, INT4OID, b->nx, Int32GetDatum(b->x[i_].active), false);
	COLUMN(17, JSONBOID, b->nx, b->x[i_].vars, b->x[i_].vars_null);
	COLUMN(18, TEXTOID, b->nx, b->x[i_].state, false);
	COLUMN(19, JSONBOID, b->nx, b->x[i_].output, b->x[i_].output_null);
	COLUMN(20, JSONBOID, b->nx, b->x[i_].error, b->x[i_].error_null);
#undef COLUMN
	wf_exec(wf_schema_version() >= WF_SCHEMA_0_2 ? &flush : &flush_0_1, values, NULL, 0);
	if (SPI_processed != (uint64) b->nx)
		elog(ERROR, "storing %d executions updated " UINT64_FORMAT " rows", b->nx, SPI_processed);
	b->nt = b->ne = b->nx = 0;
}
