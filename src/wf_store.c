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
#include "optimizer/planner.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "catalog/namespace.h"
#include "utils/lsyscache.h"
#include "utils/resowner.h"
#include "utils/timestamp.h"

#include "pg_wf.h"
#include "wf_store.h"

/*
 * No engine statement is JIT-compiled, whatever the server's jit settings:
 * its cost estimate grows with the tables (a generic plan's LIMIT $n is
 * costed at a tenth of the rows), and past jit_above_cost every call
 * compiled its expressions with LLVM (17 ms a claim with 100,000 ready
 * tasks, where the work took well under one). A planner hook clears the
 * JIT flags of every plan made while wf_exec() prepares or runs a
 * statement (and of statements nested in it), at no cost per call.
 */
static planner_hook_type prev_planner = NULL;
static int	engine_depth = 0;

static PlannedStmt *
engine_planner(Query *parse, const char *query_string, int cursorOptions,
			   ParamListInfo boundParams)
{
	PlannedStmt *stmt;

	if (prev_planner)
		stmt = prev_planner(parse, query_string, cursorOptions, boundParams);
	else
		stmt = standard_planner(parse, query_string, cursorOptions, boundParams);
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
void
wf_events_arrays(WfEvents *ev, Datum *out)
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
	wf_events_arrays(ev, &values[1]);
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
