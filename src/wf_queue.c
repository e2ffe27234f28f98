/*
 * wf_queue.c — the task table as a queue: wf_claim() (and the claim of
 * wf_task_complete_claim(), wf_task.c).
 *
 * Tasks of a paused execution are skipped through a correlated subquery on
 * the execution's primary key: written as NOT EXISTS, the generic plan
 * anti-joined a sequential scan of wf.execution on every claim.
 *
 * Claiming takes ready rows with FOR UPDATE SKIP LOCKED, so two runners
 * never get the same task and never wait for each other. A claim locks task
 * rows only and never waits (SKIP LOCKED), so it cannot take part in a
 * deadlock with the engine's execution-then-task lock order.
 *
 * Each claimed attempt gets a fresh token (wf_token.c).
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/datetime.h"
#include "utils/timestamp.h"

#include "pg_wf.h"
#include "wf_queue.h"
#include "wf_signal.h"
#include "wf_store.h"
#include "wf_token.h"
#include "wf_util.h"

PG_FUNCTION_INFO_V1(wf_claim);

/*
 * May the caller claim from this queue? A queue listed in wf.queue_grant
 * is for the roles listed (and their members), the extension's owner,
 * superusers and wf_admin; any other queue for every caller of wf_claim.
 */
static void
check_queue_grant(Datum queue)
{
	static WfPlan allowed = {
		"SELECT NOT EXISTS (SELECT 1 FROM wf.queue_grant g WHERE g.queue = $1) "
		"OR EXISTS (SELECT 1 FROM wf.queue_grant g WHERE g.queue = $1 "
		"           AND pg_catalog.pg_has_role($2, g.role::pg_catalog.oid, 'MEMBER'))",
		2, {TEXTOID, OIDOID}
	};
	Oid			caller = GetOuterUserId();
	Oid			admin = get_role_oid("wf_admin", true);
	Datum		values[2];

	if (wf_caller_is_owner() || (OidIsValid(admin) && has_privs_of_role(caller, admin)))
		return;
	values[0] = queue;
	values[1] = ObjectIdGetDatum(caller);
	wf_exec(&allowed, values, NULL, 1);
	if (!wf_get_bool(0, 1))
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("permission denied to claim from queue \"%s\"", TextDatumGetCString(queue)),
				 errdetail("The queue is listed in wf.queue_grant, and role \"%s\" is not.",
						   GetUserNameFromId(caller, false)),
				 errhint("An administrator grants it: INSERT INTO wf.queue_grant (queue, role) VALUES ('%s', '%s').",
						 TextDatumGetCString(queue), GetUserNameFromId(caller, false))));
}

/*
 * The claim: ready tasks of the queue, oldest first, that are not held
 * back (not_paused: a paused execution's tasks; with pg_wf 0.1's objects,
 * which have no wf.task.held, a subquery on the execution).
 */
#define CLAIM_SQL(not_paused) \
	"WITH c AS (" \
	"  SELECT s.id, s.n FROM pg_catalog.unnest(ARRAY(" \
	"    SELECT t.id FROM wf.task t" \
	"    WHERE t.queue = $1 AND t.state = 'ready' " not_paused \
	"      AND t.not_before <= pg_catalog.now()" \
	"    ORDER BY t.not_before, t.id LIMIT $2" \
	"    FOR UPDATE SKIP LOCKED)) WITH ORDINALITY AS s(id, n)" \
	"), u AS (" \
	"  UPDATE wf.task t SET state = 'running', attempt = t.attempt + 1," \
	"    lease = COALESCE(t.timeout, $3)," \
	"    lease_until = pg_catalog.now() + COALESCE(t.timeout, $3)," \
	"    runner = $4, token_hash = $5[c.n], wake_at = NULL," \
	"    started_at = pg_catalog.now()" \
	"  FROM c WHERE t.id = c.id" \
	"  RETURNING t.id, t.execution_id, t.name, t.action, t.input, t.attempt, c.n," \
	"    t.lease_until" \
	"), e AS (" \
	"  INSERT INTO wf.event (execution_id, task_id, task, state, detail)" \
	"  SELECT u.execution_id, u.id, u.name, 'running'," \
	"    pg_catalog.jsonb_build_object('attempt', u.attempt, 'runner', $4)" \
	"  FROM u" \
	") SELECT id, execution_id, name, action, input, attempt, n, lease_until FROM u ORDER BY n"

/*
 * The claim of arguments argno .. argno + 3 (queue, max_tasks, lease,
 * runner): the claimed tasks go into the tuplestore, as rows of
 * (task_id, execution_id, task, action, input, attempt, token).
 */
void
wf_claim_into(FunctionCallInfo fcinfo, int argno, Tuplestorestate *ts, TupleDesc desc)
{
	static WfPlan claim = {
		CLAIM_SQL("AND NOT t.held"),
		5, {TEXTOID, INT4OID, INTERVALOID, TEXTOID, BYTEAARRAYOID}, NULL, true
	};
	static WfPlan claim_0_1 = {
		CLAIM_SQL("AND (SELECT e.state FROM wf.execution e WHERE e.id = t.execution_id) <> 'paused'"),
		5, {TEXTOID, INT4OID, INTERVALOID, TEXTOID, BYTEAARRAYOID}, NULL, true
	};
	char	   *queue;
	int32		max_tasks;
	Interval   *lease;
	char	  **tokens;
	Datum	   *hashes;
	Datum		values[5];
	char		nulls[5] = {' ', ' ', ' ', ' ', ' '};
	uint64		n;
	uint64		d0;

	if (PG_ARGISNULL(argno))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("queue must not be null")));
	if (PG_ARGISNULL(argno + 1) || PG_GETARG_INT32(argno + 1) < 1 || PG_GETARG_INT32(argno + 1) > WF_MAX_CLAIM)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("max_tasks must be between 1 and %d", WF_MAX_CLAIM)));
	if (PG_ARGISNULL(argno + 2))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("lease must not be null")));
	queue = text_to_cstring(PG_GETARG_TEXT_PP(argno));
	max_tasks = PG_GETARG_INT32(argno + 1);
	lease = PG_GETARG_INTERVAL_P(argno + 2);
	wf_check_positive_interval(lease, "lease");

	/* One token per task we might get; the statement picks by row number. */
	tokens = palloc(sizeof(char *) * max_tasks);
	hashes = palloc(sizeof(Datum) * max_tasks);
	for (int i = 0; i < max_tasks; i++)
	{
		bytea	   *h;

		tokens[i] = wf_token_new(&h);
		hashes[i] = PointerGetDatum(h);
	}

	values[0] = CStringGetTextDatum(queue);
	values[1] = Int32GetDatum(max_tasks);
	values[2] = IntervalPGetDatum(lease);
	if (PG_ARGISNULL(argno + 3))
		nulls[3] = 'n';
	else
	{
		wf_check_length(PG_GETARG_TEXT_PP(argno + 3), WF_MAX_RUNNER_LEN, "runner");
		values[3] = PointerGetDatum(PG_GETARG_TEXT_PP(argno + 3));
	}
	values[4] = PointerGetDatum(construct_array(hashes, max_tasks, BYTEAOID, -1,
												false, TYPALIGN_INT));

	SPI_connect();
	if (wf_schema_version() >= WF_SCHEMA_0_2)
		check_queue_grant(values[0]);
	d0 = wf_claim_begins(queue);	/* before the claim's snapshot */
	n = wf_exec(wf_schema_version() >= WF_SCHEMA_0_2 ? &claim : &claim_0_1, values, nulls, 0);
	wf_claim_ended(queue, n < (uint64) max_tasks, d0);
	for (uint64 r = 0; r < n; r++)
	{
		Datum		out[7];
		bool		outnulls[7] = {false, false, false, false, false, false, false};
		bool		isnull;

		for (int c = 0; c < 6; c++)
			out[c] = SPI_getbinval(SPI_tuptable->vals[r], SPI_tuptable->tupdesc, c + 1,
								   &outnulls[c]);
		out[6] = CStringGetTextDatum(tokens[DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[r],
																		SPI_tuptable->tupdesc,
																		7, &isnull)) - 1]);
		tuplestore_putvalues(ts, desc, out, outnulls);
		wf_watchdog_due(wf_get_timestamptz(r, 8));
	}
	SPI_finish();
}

/*
 * wf_claim(queue text, max_tasks integer, lease interval, runner text)
 *   RETURNS TABLE(task_id, execution_id, task, action, input, attempt, token)
 */
Datum
wf_claim(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;

	InitMaterializedSRF(fcinfo, 0);
	wf_claim_into(fcinfo, 0, rsinfo->setResult, rsinfo->setDesc);
	return (Datum) 0;
}
