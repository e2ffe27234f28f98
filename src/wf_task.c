/*
 * wf_task.c — what runners and third parties call about one task:
 * wf_task_complete(), wf_task_delegate(), wf_heartbeat().
 *
 * Each call is one engine step (wf_step.c, wf_attempt.c): lock the execution, then the
 * task, then check under the locks that the caller holds the current
 * attempt's token and that the task is in a state the call applies to.
 * Token rules:
 *  - the current attempt's token (from wf_claim, or the callback token
 *    from wf_task_delegate) acts on the task;
 *  - the token of an attempt the watchdog expired gets WF008, and a late
 *    completion's result is kept in the history (wf_audit.c);
 *  - anything else gets WF005;
 *  - a NULL token on wf_task_complete is an operator override, for the
 *    extension's owner or a superuser only.
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/jsonb.h"
#include "utils/timestamp.h"

#include "pg_wf.h"
#include "wf_attempt.h"
#include "wf_audit.h"
#include "wf_queue.h"
#include "wf_signal.h"
#include "wf_step.h"
#include "wf_store.h"
#include "wf_task.h"
#include "wf_token.h"
#include "wf_util.h"

PG_FUNCTION_INFO_V1(wf_task_complete);
PG_FUNCTION_INFO_V1(wf_task_complete_batch);
PG_FUNCTION_INFO_V1(wf_task_complete_claim);
PG_FUNCTION_INFO_V1(wf_task_delegate);
PG_FUNCTION_INFO_V1(wf_heartbeat);

/* pg_wf.complete_as_batch: for the tests (wf_task_init) */
static bool wf_complete_as_batch = false;

void
wf_task_init(void)
{
	DefineCustomBoolVariable("pg_wf.complete_as_batch",
							 "Runs each wf_task_complete() as a wf_task_complete_batch() of one.",
							 "For pg_wf's tests: every suite runs once more through the batch path.",
							 &wf_complete_as_batch, false, PGC_USERSET,
							 GUC_NOT_IN_SAMPLE | GUC_NO_SHOW_ALL, NULL, NULL, NULL);
}

static char *
get_token(FunctionCallInfo fcinfo, int argno, bool required)
{
	if (PG_ARGISNULL(argno))
	{
		if (required)
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("token must not be null"),
					 errhint("Pass the token that wf_claim() returned for this attempt.")));
		return NULL;
	}
	return text_to_cstring(PG_GETARG_TEXT_PP(argno));
}

static Interval *
get_positive_interval(FunctionCallInfo fcinfo, int argno, const char *what)
{
	Interval   *iv;

	if (PG_ARGISNULL(argno))
		return NULL;
	iv = PG_GETARG_INTERVAL_P(argno);
	wf_check_positive_interval(iv, what);
	return iv;
}

/* A NULL token bypasses the claim: only for the extension's owner. */
static void
check_override_allowed(int64 task_id)
{
	if (!wf_caller_is_owner())
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("permission denied to complete task " INT64_FORMAT " without its token",
						task_id),
				 errdetail("A NULL token is an operator override."),
				 errhint("Only the owner of extension pg_wf or a superuser may override; runners pass the token from wf_claim().")));
}

/*
 * Refuse a token of an expired attempt (WF008), after keeping what the late
 * caller reported, if anything, in the history.
 */
static void
refuse_if_expired(WfStep *s, WfTaskRow *tr, const char *token, const char *call,
				  Jsonb *late_report)
{
	bool		kept = false;

	if (token == NULL || !wf_token_matches(token, tr->expired_hash) ||
		wf_token_matches(token, tr->token_hash))
		return;
	if (late_report)
		kept = wf_audit_late(s->exec_id, tr->id, tr->name, late_report);
	ereport(ERROR,
			(errcode(ERRCODE_WF_ATTEMPT_EXPIRED),
			 errmsg("%s for task " INT64_FORMAT " came after its attempt expired", call, tr->id),
			 errdetail("The watchdog ended that attempt (lease or deadline passed); the task is now %s.%s",
					   wf_task_state_name(tr->state),
					   kept ? " The late report is kept in the history (wf.event, state \"rejected\")." :
					   late_report ? " The late report is not kept: the task has as many as are kept." : ""),
			 errhint("Nothing was changed.")));
}

static void
refuse_wrong_token(WfTaskRow *tr, const char *token)
{
	if (token && !wf_token_matches(token, tr->token_hash))
		ereport(ERROR,
				(errcode(ERRCODE_WF_TOKEN_MISMATCH),
				 errmsg("token of task " INT64_FORMAT " is stale or wrong", tr->id),
				 errdetail("Only the token of the task's current attempt acts on it.")));
}

/*
 * A task that wf_task_cancel() failed ({"type": "cancelled", "by": ...}):
 * its runner's or third party's report is refused as for a task whose
 * execution was cancelled (WF006), whatever it says.
 */
static void
refuse_if_cancelled(WfTaskRow *tr)
{
	JsonbValue	v;

	if (tr->state != WF_TASK_FAILED || tr->error == NULL || !JB_ROOT_IS_OBJECT(tr->error) ||
		!getKeyJsonValueFromContainer(&tr->error->root, "by", 2, &v) ||
		!getKeyJsonValueFromContainer(&tr->error->root, "type", 4, &v) ||
		v.type != jbvString || v.val.string.len != 9 ||
		memcmp(v.val.string.val, "cancelled", 9) != 0)
		return;
	ereport(ERROR,
			(errcode(ERRCODE_WF_TASK_NOT_RUNNING),
			 errmsg("task " INT64_FORMAT " was cancelled", tr->id),
			 errdetail("wf_task_cancel() failed it; this report was not applied."),
			 errhint("Drop the work.")));
}

/* Refuse unless the task is running (or, with also_delegated, delegated). */
static void
refuse_unless_running(WfTaskRow *tr, bool also_delegated)
{
	if (tr->state == WF_TASK_RUNNING || (also_delegated && tr->state == WF_TASK_DELEGATED))
		return;
	ereport(ERROR,
			(errcode(ERRCODE_WF_TASK_NOT_RUNNING),
			 errmsg("task " INT64_FORMAT " is %s, not running%s", tr->id,
					wf_task_state_name(tr->state), also_delegated ? " or delegated" : ""),
			 tr->state == WF_TASK_READY ?
			 errhint("Claim it with wf_claim() first.") : 0));
}

/* Lock a task that the caller holds as its running attempt (token given). */
static void
open_running(WfStep *s, WfTaskRow *tr, int64 task_id, const char *token, const char *call)
{
	wf_step_open_task(s, task_id);
	wf_step_lock_task(s, task_id, tr);
	refuse_if_expired(s, tr, token, call, NULL);
	refuse_wrong_token(tr, token);
	refuse_unless_running(tr, false);
}

/* "success" -> true, "error" -> false; anything else is refused. */
static bool
parse_status(const char *status)
{
	if (status == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("status must not be null"),
				 errhint("Use 'success' or 'error'.")));
	if (strcmp(status, "success") == 0)
		return true;
	if (strcmp(status, "error") != 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid status \"%s\"", status),
				 errhint("Use 'success' or 'error'.")));
	return false;
}

/*
 * Complete one task (SPI connected): one engine step. Returns the task's
 * state afterwards.
 */
static WfTaskState
complete_one(int64 task_id, bool success, Jsonb *result, const char *token)
{
	WfStep		s;
	WfTaskRow	tr;
	WfTaskState new_state;
	Jsonb	   *detail;

	if (!success && result == NULL)
		result = wf_jsonb_object(0, NULL, NULL);	/* an error has a document */

	/*
	 * The usual case: the current attempt's holder reports success (one
	 * statement locks the execution and marks the task).
	 */
	if (!(success && token != NULL))
		wf_step_open_task(&s, task_id);
	else if (wf_step_open_succeed(&s, task_id, wf_token_hash(token), result, &tr))
	{
		const char *keys[] = {"attempt"};
		Jsonb	   *vals[] = {wf_jsonb_int(tr.attempt)};

		new_state = wf_schedule_success(&s, &tr, result, wf_jsonb_object(1, keys, vals));
		wf_step_close(&s);
		return new_state;
	}

	wf_step_lock_task(&s, task_id, &tr);
	if (token == NULL)
		check_override_allowed(task_id);
	{
		const char *keys[] = {"status", "result", "attempt"};
		Jsonb	   *vals[] = {wf_jsonb_string(success ? "success" : "error"), result,
		wf_jsonb_int(tr.attempt)};

		refuse_if_expired(&s, &tr, token, "completion", wf_jsonb_object(3, keys, vals));
	}

	refuse_if_cancelled(&tr);
	if (tr.state == WF_TASK_SUCCEEDED || tr.state == WF_TASK_FAILED)
	{
		bool		same;

		refuse_wrong_token(&tr, token);
		same = success ? (tr.state == WF_TASK_SUCCEEDED && wf_jsonb_same(result, tr.result))
			: (tr.state == WF_TASK_FAILED && wf_jsonb_same(result, tr.error));
		if (!same)
			ereport(ERROR,
					(errcode(ERRCODE_WF_CONFLICTING_COMPLETION),
					 errmsg("task " INT64_FORMAT " already %s with a different outcome",
							task_id, wf_task_state_name(tr.state)),
					 errdetail("The first completion stands; this one was not applied.")));
		ereport(NOTICE,
				(errmsg("task \"%s\" already %s; duplicate completion ignored",
						tr.name, wf_task_state_name(tr.state)),
				 errdetail("The same outcome was reported before; nothing changed.")));
		return tr.state;
	}
	refuse_wrong_token(&tr, token);
	refuse_unless_running(&tr, true);
	if (tr.def->for_each && tr.item < 0)
		ereport(ERROR,
				(errcode(ERRCODE_WF_TASK_NOT_RUNNING),
				 errmsg("task " INT64_FORMAT " is a for_each task: its items complete it", task_id),
				 errhint("Complete (or override) its items instead.")));

	{
		const char *keys[] = {"attempt", "override", "by"};
		Jsonb	   *vals[] = {wf_jsonb_int(tr.attempt), wf_jsonb_bool(true), NULL};

		if (token == NULL)
			vals[2] = wf_jsonb_string(GetUserNameFromId(GetOuterUserId(), false));
		detail = wf_jsonb_object(token ? 1 : 3, keys, vals);
	}
	if (success)
		new_state = wf_attempt_succeeded(&s, &tr, result, detail);
	else
		new_state = wf_attempt_failed(&s, &tr, result, false, true, detail);
	wf_step_close(&s);
	return new_state;
}

static const char *complete_as_batch(int64 task_id, bool success, Jsonb *result,
									 const char *token);

/*
 * wf_task_complete(task_id bigint, status text, result jsonb, token text)
 *   RETURNS text
 */
Datum
wf_task_complete(PG_FUNCTION_ARGS)
{
	int64		task_id = wf_arg_id(fcinfo, 0, "task_id");
	bool		success = parse_status(PG_ARGISNULL(1) ? NULL :
									   text_to_cstring(PG_GETARG_TEXT_PP(1)));
	Jsonb	   *result = PG_ARGISNULL(2) ? NULL : PG_GETARG_JSONB_P(2);
	char	   *token = get_token(fcinfo, 3, false);
	Datum		ret;

	SPI_connect();
	{
		const char *state = wf_complete_as_batch ?
		complete_as_batch(task_id, success, result, token) :
		wf_task_state_name(complete_one(task_id, success, result, token));

		ret = wf_spi_text(state, strlen(state));
	}
	SPI_finish();
	PG_RETURN_DATUM(ret);
}

typedef struct BatchItem
{
	int			pos;			/* in the caller's arrays */
	int64		task_id;
	int64		exec_id;
} BatchItem;

static int
cmp_batch_item(const void *a, const void *b)
{
	const BatchItem *x = a;
	const BatchItem *y = b;

	if (x->exec_id != y->exec_id)
		return x->exec_id < y->exec_id ? -1 : 1;
	if (x->task_id != y->task_id)
		return x->task_id < y->task_id ? -1 : 1;
	return x->pos - y->pos;
}

/*
 * Deconstruct a one-dimensional array argument (NULL: n NULL elements);
 * n >= 0 is the length it must have. Returns the length.
 */
static int
get_array(FunctionCallInfo fcinfo, int argno, Oid type, int n, const char *what,
		  Datum **elems, bool **nulls)
{
	ArrayType  *arr;
	int			count;
	int16		len;
	bool		byval;
	char		align;

	if (PG_ARGISNULL(argno))
	{
		*elems = palloc0(sizeof(Datum) * Max(n, 1));
		*nulls = palloc(sizeof(bool) * Max(n, 1));
		memset(*nulls, true, sizeof(bool) * Max(n, 1));
		return n;
	}
	arr = PG_GETARG_ARRAYTYPE_P(argno);
	if (ARR_NDIM(arr) > 1)
		ereport(ERROR,
				(errcode(ERRCODE_ARRAY_SUBSCRIPT_ERROR),
				 errmsg("%s must be a one-dimensional array", what)));
	get_typlenbyvalalign(type, &len, &byval, &align);
	deconstruct_array(arr, type, len, byval, align, elems, nulls, &count);
	if (n >= 0 && count != n)
		ereport(ERROR,
				(errcode(ERRCODE_ARRAY_SUBSCRIPT_ERROR),
				 errmsg("%s has %d elements, task_ids has %d", what, count, n),
				 errhint("Pass one status, result and token per task (results and tokens may be NULL).")));
	return count;
}

static int
cmp_int64(const void *a, const void *b)
{
	int64		x = *(const int64 *) a;
	int64		y = *(const int64 *) b;

	return x < y ? -1 : x > y;
}

/* A batch of completions, n of each (task_ids also as one bigint[]). */
typedef struct Completions
{
	int			n;
	Datum		task_ids;
	Datum	   *ids;
	bool	   *success;
	Datum	   *results;
	bool	   *resnulls;
	Datum	   *tokens;
	bool	   *toknulls;
	bool		one;			/* wf_task_complete's, as a batch of one */
} Completions;

/* A task the set-based statement marked succeeded. */
typedef struct Marked
{
	int64		id;
	char	   *name;
	int			attempt;
	int			item;
} Marked;

static int
cmp_marked(const void *a, const void *b)
{
	int64		x = ((const Marked *) a)->id;
	int64		y = ((const Marked *) b)->id;

	return x < y ? -1 : x > y;
}

/*
 * The batch's usual successes (fast[k]: a success with its token, the only
 * item of its execution), marked succeeded in one statement. Returns how
 * many were, sorted by task id in *marked; the others are not the usual
 * case after all (a duplicate, a refusal): complete_one explains them.
 */
static int
mark_fast(Completions *c, BatchItem *items, bool *fast, Marked **marked)
{
	int			n = c->n;
	Datum	   *ids = palloc(sizeof(Datum) * Max(n, 1));
	Datum	   *res = palloc(sizeof(Datum) * Max(n, 1));
	bool	   *rnulls = palloc(sizeof(bool) * Max(n, 1));
	Datum	   *hashes = palloc(sizeof(Datum) * Max(n, 1));
	int			m = 0;
	int			dims[1];
	int			lbs[1] = {1};
	uint64		got;

	for (int k = 0; k < n; k++)
	{
		int			i = items[k].pos;

		if (!fast[k])
			continue;
		ids[m] = Int64GetDatum(items[k].task_id);
		res[m] = c->resnulls[i] ? (Datum) 0 : c->results[i];
		rnulls[m] = c->resnulls[i];
		hashes[m] = PointerGetDatum(wf_token_hash(TextDatumGetCString(c->tokens[i])));
		m++;
	}
	*marked = NULL;
	if (m == 0)
		return 0;
	dims[0] = m;
	got = wf_try_succeed_batch(PointerGetDatum(construct_array(ids, m, INT8OID, 8, FLOAT8PASSBYVAL,
															   TYPALIGN_DOUBLE)),
							   PointerGetDatum(construct_md_array(res, rnulls, 1, dims, lbs,
																  JSONBOID, -1, false,
																  TYPALIGN_INT)),
							   PointerGetDatum(construct_array(hashes, m, BYTEAOID, -1, false,
															   TYPALIGN_INT)));
	*marked = palloc(sizeof(Marked) * Max(got, 1));
	for (uint64 r = 0; r < got; r++)
	{
		(*marked)[r].id = wf_get_int64(r, 1);
		(*marked)[r].name = wf_get_text(r, 2);
		(*marked)[r].attempt = wf_get_int32(r, 3);
		(*marked)[r].item = wf_get_int32(r, 4);
	}
	qsort(*marked, got, sizeof(Marked), cmp_marked);
	return (int) got;
}

/*
 * Apply a batch: every completion exactly as if one at a time, executions
 * in ascending id order (and tasks of one execution in id order). The
 * usual successes are set-based: marked succeeded in one statement
 * (mark_fast), their steps run in order, each in its own execution, and
 * write their ends (new tasks, history, execution rows) together in one
 * statement; any other item is applied one by one (complete_one), after
 * the ends gathered so far are written, so that every row is written in
 * the order one at a time would write it. states[i] (in the caller's
 * order) is each task's state afterwards.
 */
static void
apply_batch(Completions *c, const char **states)
{
	int			n = c->n;
	BatchItem  *items = palloc(sizeof(BatchItem) * Max(n, 1));
	int			found = 0;
	int64	   *found_ids = NULL;
	int64	   *sorted;
	WfStep	   *steps = NULL;
	int		   *rowof = palloc(sizeof(int) * Max(n, 1));
	int		   *byrow = palloc(sizeof(int) * Max(n, 1));
	bool	   *fast = palloc0(sizeof(bool) * Max(n, 1));
	Marked	   *marked;
	int			nmarked;
	WfBatch    *batch = wf_batch_new();
	MemoryContext itemcxt;

	for (int i = 0; i < n; i++)
	{
		items[i].pos = i;
		items[i].task_id = DatumGetInt64(c->ids[i]);
		items[i].exec_id = 0;
	}

	/* lock every execution of the batch, in id order, in one statement */
	if (n > 0)
		found = wf_step_open_batch(c->task_ids, &found_ids, &steps);
	sorted = palloc(sizeof(int64) * 2 * Max(found, 1));
	for (int r = 0; r < found; r++)
	{
		sorted[2 * r] = found_ids[r];
		sorted[2 * r + 1] = r;
	}
	qsort(sorted, found, sizeof(int64) * 2, cmp_int64);
	for (int i = 0; i < n; i++)
	{
		int64	   *hit = bsearch(&items[i].task_id, sorted, found, sizeof(int64) * 2, cmp_int64);

		if (hit == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_WF_UNKNOWN_TASK),
					 errmsg("task " INT64_FORMAT " does not exist", items[i].task_id),
					 c->one ? 0 :
					 errdetail("Item %d of the batch; nothing in the batch was applied.", i + 1)));
		items[i].exec_id = steps[hit[1]].exec_id;
		rowof[i] = (int) hit[1];
	}
	qsort(items, n, sizeof(BatchItem), cmp_batch_item);

	/*
	 * The usual case: a success with a token, alone in its execution, which
	 * is not a sub-workflow's: it is marked before the steps run, and only a
	 * parent's step (cancelling its children) could reach it before its turn
	 * (rowof in sorted order from here).
	 */
	for (int k = 0; k < n; k++)
		byrow[k] = rowof[items[k].pos];
	rowof = byrow;
	for (int k = 0; k < n; k++)
	{
		int			i = items[k].pos;
		bool		alone = (k == 0 || items[k - 1].exec_id != items[k].exec_id) &&
		(k == n - 1 || items[k + 1].exec_id != items[k].exec_id);

		fast[k] = c->success[i] && !c->toknulls[i] && alone &&
			steps[rowof[k]].parent_task_id == 0;
	}
	nmarked = mark_fast(c, items, fast, &marked);

	itemcxt = AllocSetContextCreate(CurrentMemoryContext, "pg_wf batch item",
									ALLOCSET_DEFAULT_SIZES);
	for (int k = 0; k < n; k++)
	{
		int			i = items[k].pos;
		Jsonb	   *result = c->resnulls[i] ? NULL : DatumGetJsonbP(c->results[i]);
		Marked		key = {items[k].task_id};
		Marked	   *m = fast[k] ? bsearch(&key, marked, nmarked, sizeof(Marked), cmp_marked) : NULL;
		MemoryContext outer;

		CHECK_FOR_INTERRUPTS();
		outer = MemoryContextSwitchTo(itemcxt);
		if (m)
		{
			WfStep	   *st = &steps[rowof[k]];
			WfTaskRow	tr;
			const char *keys[] = {"attempt"};
			Jsonb	   *vals[1];

			st->batch = batch;
			wf_step_succeeded_row(st, &tr, m->id, m->name, m->attempt, m->item);
			vals[0] = wf_jsonb_int(tr.attempt);
			states[i] = wf_task_state_name(wf_schedule_success(st, &tr, result,
															   wf_jsonb_object(1, keys, vals)));
			wf_step_close(st);
		}
		else
		{
			wf_batch_flush(batch);
			states[i] = wf_task_state_name(complete_one(items[k].task_id, c->success[i], result,
														c->toknulls[i] ? NULL :
														TextDatumGetCString(c->tokens[i])));
		}
		MemoryContextSwitchTo(outer);
		MemoryContextReset(itemcxt);
	}
	MemoryContextDelete(itemcxt);
	wf_batch_flush(batch);
}

/*
 * The batch in arguments argno .. argno + 3 (task_ids, statuses, results,
 * tokens), applied (apply_batch). Returns the number of items; *ids and
 * *states (in the caller's order) for the result.
 */
static int
complete_batch(FunctionCallInfo fcinfo, int argno, Datum **ids, const char ***states)
{
	Completions c = {0};
	Datum	   *statuses;
	bool	   *idnulls,
			   *stnulls;

	if (PG_ARGISNULL(argno))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("task_ids must not be null")));
	c.n = get_array(fcinfo, argno, INT8OID, -1, "task_ids", &c.ids, &idnulls);
	if (c.n > WF_MAX_CLAIM)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("a batch holds at most %d completions, not %d", WF_MAX_CLAIM, c.n)));
	if (PG_ARGISNULL(argno + 1))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("statuses must not be null")));
	get_array(fcinfo, argno + 1, TEXTOID, c.n, "statuses", &statuses, &stnulls);
	get_array(fcinfo, argno + 2, JSONBOID, c.n, "results", &c.results, &c.resnulls);
	get_array(fcinfo, argno + 3, TEXTOID, c.n, "tokens", &c.tokens, &c.toknulls);
	c.task_ids = PG_GETARG_DATUM(argno);
	c.success = palloc(sizeof(bool) * Max(c.n, 1));
	for (int i = 0; i < c.n; i++)
	{
		if (idnulls[i])
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("task_ids[%d] is null", i + 1)));
		c.success[i] = parse_status(stnulls[i] ? NULL : TextDatumGetCString(statuses[i]));
	}
	*states = palloc(sizeof(char *) * Max(c.n, 1));
	apply_batch(&c, *states);
	*ids = c.ids;
	return c.n;
}

/*
 * wf_task_complete's one completion as a batch of one (for the tests:
 * pg_wf.complete_as_batch runs every suite through the batch path).
 */
static const char *
complete_as_batch(int64 task_id, bool success, Jsonb *result, const char *token)
{
	Completions c = {0};
	Datum		id = Int64GetDatum(task_id);
	Datum		res = result ? JsonbPGetDatum(result) : (Datum) 0;
	Datum		tok = token ? CStringGetTextDatum(token) : (Datum) 0;
	bool		resnull = (result == NULL);
	bool		toknull = (token == NULL);
	const char *state;

	c.n = 1;
	c.one = true;
	c.ids = &id;
	c.task_ids = PointerGetDatum(construct_array(&id, 1, INT8OID, 8, FLOAT8PASSBYVAL,
												 TYPALIGN_DOUBLE));
	c.success = &success;
	c.results = &res;
	c.resnulls = &resnull;
	c.tokens = &tok;
	c.toknulls = &toknull;
	apply_batch(&c, &state);
	return state;
}

/*
 * wf_task_complete_batch(task_ids bigint[], statuses text[], results jsonb[],
 *                        tokens text[]) RETURNS TABLE(task_id bigint, state text)
 *
 * Many completions in one transaction, each exactly as wf_task_complete.
 * Executions are locked in ascending id order, so two batches never
 * deadlock. All or nothing: a refused item refuses the batch (the error
 * names it).
 */
Datum
wf_task_complete_batch(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	Datum	   *ids;
	const char **states;
	int			n;

	InitMaterializedSRF(fcinfo, 0);
	SPI_connect();
	n = complete_batch(fcinfo, 0, &ids, &states);
	for (int i = 0; i < n; i++)
	{
		Datum		out[2];
		bool		outnulls[2] = {false, false};

		out[0] = ids[i];
		out[1] = CStringGetTextDatum(states[i]);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, out, outnulls);
	}
	SPI_finish();
	return (Datum) 0;
}

/*
 * wf_task_complete_claim(task_ids bigint[], statuses text[], results jsonb[],
 *     tokens text[], queue text, max_tasks integer, lease interval,
 *     runner text) RETURNS TABLE(task_id, execution_id, task, action, input,
 *     attempt, token)
 *
 * A runner's round trip in one transaction (one commit): the completions,
 * exactly as wf_task_complete_batch, then a claim, exactly as wf_claim,
 * whose tasks it returns. Empty arrays: just a claim.
 */
Datum
wf_task_complete_claim(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	Datum	   *ids;
	const char **states;

	InitMaterializedSRF(fcinfo, 0);
	SPI_connect();
	(void) complete_batch(fcinfo, 0, &ids, &states);
	SPI_finish();
	wf_claim_into(fcinfo, 4, rsinfo->setResult, rsinfo->setDesc);
	return (Datum) 0;
}

/*
 * wf_task_delegate(task_id bigint, token text, timeout interval) RETURNS text
 *
 * The runner holding the claim hands the task to a third party: the task
 * becomes delegated, its lease is released, its deadline is now() + timeout
 * (or the task's delegate_timeout, or none). Returns the callback token;
 * the runner's token no longer acts on the task.
 */
Datum
wf_task_delegate(PG_FUNCTION_ARGS)
{
	static WfPlan delegate = {
		"UPDATE wf.task SET state = 'delegated', token_hash = $2, lease_until = NULL, "
		"deadline = pg_catalog.now() + $3 WHERE id = $1 RETURNING deadline",
		3, {INT8OID, BYTEAOID, INTERVALOID}
	};
	int64		task_id = wf_arg_id(fcinfo, 0, "task_id");
	char	   *token = get_token(fcinfo, 1, true);
	Interval   *timeout = get_positive_interval(fcinfo, 2, "timeout");
	WfStep		s;
	WfTaskRow	tr;
	char	   *callback;
	bytea	   *hash;
	Datum		values[3];
	char		nulls[3] = {' ', ' ', ' '};
	Datum		ret;
	const char *keys[] = {"attempt", "deadline"};
	Jsonb	   *vals[2];

	SPI_connect();
	open_running(&s, &tr, task_id, token, "delegation");

	if (timeout == NULL)
		timeout = tr.def->delegate_timeout;
	callback = wf_token_new(&hash);
	values[0] = Int64GetDatum(task_id);
	values[1] = PointerGetDatum(hash);
	values[2] = timeout ? IntervalPGetDatum(timeout) : (Datum) 0;
	nulls[2] = timeout ? ' ' : 'n';
	wf_exec(&delegate, values, nulls, 1);
	vals[0] = wf_jsonb_int(tr.attempt);
	vals[1] = NULL;
	if (!wf_isnull(0, 1))
	{
		TimestampTz deadline = wf_get_timestamptz(0, 1);

		vals[1] = wf_jsonb_string(timestamptz_to_str(deadline));
		wf_watchdog_due(deadline);
	}
	wf_events_task(&s.ev, task_id, tr.name, WF_TASK_DELEGATED, wf_jsonb_object(2, keys, vals));
	wf_step_close(&s);

	ret = wf_spi_text(callback, strlen(callback));
	SPI_finish();
	PG_RETURN_DATUM(ret);
}

/*
 * wf_heartbeat(task_id bigint, token text, lease interval) RETURNS timestamptz
 *
 * Extends a running task's lease to now() + lease (default: the attempt's
 * current lease length). Not a state change: no history row.
 */
Datum
wf_heartbeat(PG_FUNCTION_ARGS)
{
	static WfPlan beat = {
		"UPDATE wf.task SET lease = COALESCE($2, lease), "
		"lease_until = pg_catalog.now() + COALESCE($2, lease) "
		"WHERE id = $1 RETURNING lease_until",
		2, {INT8OID, INTERVALOID}
	};
	int64		task_id = wf_arg_id(fcinfo, 0, "task_id");
	char	   *token = get_token(fcinfo, 1, true);
	Interval   *lease = get_positive_interval(fcinfo, 2, "lease");
	WfStep		s;
	WfTaskRow	tr;
	Datum		values[2];
	char		nulls[2] = {' ', ' '};
	TimestampTz until;

	SPI_connect();
	open_running(&s, &tr, task_id, token, "heartbeat");

	values[0] = Int64GetDatum(task_id);
	values[1] = lease ? IntervalPGetDatum(lease) : (Datum) 0;
	nulls[1] = lease ? ' ' : 'n';
	wf_exec(&beat, values, nulls, 1);
	until = wf_get_timestamptz(0, 1);
	wf_watchdog_due(until);
	SPI_finish();
	PG_RETURN_TIMESTAMPTZ(until);
}
