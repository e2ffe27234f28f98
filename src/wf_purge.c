/*
 * wf_purge.c — retention: wf_purge() deletes finished executions with
 * everything they own, and the watchdog calls wf_purge_batch() when
 * pg_wf.retention is set.
 *
 * A batch is one statement: it locks up to PURGE_BATCH finished executions
 * (FOR UPDATE SKIP LOCKED, oldest first by the partial index on
 * finished_at: a step that holds one — a late callback being refused, a
 * wf_rerun — keeps it, and the next batch looks again), then deletes their
 * tasks, history, join and for_each state and inbox rows, and the
 * executions. The lock is taken and the state checked again before any
 * row is deleted, so an execution that a concurrent wf_rerun made running
 * is never purged. A running or paused execution is never a candidate,
 * and neither is a sub-workflow whose parent runs (its parent still needs
 * its end). An execution's idempotency key is forgotten with it.
 *
 * Batches touch many executions at once: the one engine statement that
 * does (in a distributed setup, a multi-shard DELETE). Each batch's
 * result is freed before the next; a cancel stops it anywhere (and, in
 * one transaction, undoes it all).
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/datetime.h"
#include "utils/fmgrprotos.h"
#include "utils/timestamp.h"

#include "pg_wf.h"
#include "wf_purge.h"
#include "wf_store.h"
#include "wf_util.h"

PG_FUNCTION_INFO_V1(wf_purge);

#define PURGE_BATCH 1000		/* executions per statement */

/*
 * Purge up to limit executions that finished before cutoff. Returns how
 * many it deleted (fewer than limit: nothing more is purgeable now).
 */
int64
wf_purge_batch(TimestampTz cutoff, int limit)
{
/* one statement per batch; "extra": deletes of tables that 0.1 lacks */
#define PURGE_SQL(extra) \
		"WITH victim AS (" \
		"  SELECT e.id FROM wf.execution e" \
		"  WHERE e.state IN ('succeeded', 'failed', 'cancelled') AND e.finished_at < $1" \
		"    AND NOT EXISTS (SELECT 1 FROM wf.task pt JOIN wf.execution pe ON pe.id = pt.execution_id" \
		"                    WHERE pt.id = e.parent_task_id AND pe.state IN ('running', 'paused'))" \
		"  ORDER BY e.finished_at LIMIT $2" \
		"  FOR UPDATE OF e SKIP LOCKED)," \
		" task AS (DELETE FROM wf.task t USING victim v WHERE t.execution_id = v.id RETURNING t.id)," \
		" ev AS (DELETE FROM wf.event h USING victim v WHERE h.execution_id = v.id)," \
		" js AS (DELETE FROM wf.join_state j USING victim v WHERE j.execution_id = v.id)," \
		" fs AS (DELETE FROM wf.foreach_state f USING victim v WHERE f.execution_id = v.id)," \
		" ib AS (DELETE FROM wf.inbox i WHERE i.child_execution_id IN (SELECT id FROM victim)" \
		"        OR i.parent_task_id IN (SELECT id FROM task))," \
		extra \
		" ex AS (DELETE FROM wf.execution e USING victim v WHERE e.id = v.id RETURNING 1)" \
		"SELECT pg_catalog.count(*) FROM ex"
	static WfPlan purge = {
		PURGE_SQL(" wt AS (DELETE FROM wf.wait w USING victim v WHERE w.execution_id = v.id),"
				  " dl AS (DELETE FROM wf.delivery d USING victim v WHERE d.execution_id = v.id),"),
		2, {TIMESTAMPTZOID, INT4OID}
	};
	static WfPlan purge_0_1 = { /* pg_wf 0.1: no waits */
		PURGE_SQL(""),
		2, {TIMESTAMPTZOID, INT4OID}
	};
	Datum		values[2];
	int64		n;

	values[0] = TimestampTzGetDatum(cutoff);
	values[1] = Int32GetDatum(limit);
	wf_exec(wf_schema_version() >= WF_SCHEMA_0_2 ? &purge : &purge_0_1, values, NULL, 1);
	n = wf_get_int64(0, 1);
	return n;
}

/*
 * The cutoff of "older than": now() - older_than; a cutoff before the
 * first timestamp is the beginning of time (nothing is that old).
 */
TimestampTz
wf_purge_cutoff(const Interval *older_than)
{
	TimestampTz now = GetCurrentTransactionStartTimestamp();

	/* (a margin of two months: months count 30 days in wf_interval_days) */
	if (wf_interval_days(older_than) > (double) (now - MIN_TIMESTAMP) / USECS_PER_DAY - 62)
		return MIN_TIMESTAMP;
	return DatumGetTimestampTz(DirectFunctionCall2(timestamptz_mi_interval,
												   TimestampTzGetDatum(now),
												   IntervalPGetDatum(older_than)));
}

/*
 * wf_purge(older_than interval, max_rows integer DEFAULT NULL) RETURNS bigint
 *
 * Deletes executions that finished more than older_than ago (at most
 * max_rows of them) with their tasks, history and bookkeeping; returns
 * how many. In one transaction: call it with max_rows for short ones.
 */
Datum
wf_purge(PG_FUNCTION_ARGS)
{
	Interval   *older;
	int64		max_rows = -1;
	int64		total = 0;
	TimestampTz cutoff;

	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("older_than must not be null"),
				 errhint("For example wf_purge('30 days').")));
	older = PG_GETARG_INTERVAL_P(0);
	if (older->month < 0 || older->day < 0 || older->time < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("older_than must not be negative"),
				 errdetail("It was %s.", DatumGetCString(DirectFunctionCall1(interval_out,
																			 IntervalPGetDatum(older)))),
				 errhint("For example wf_purge('30 days'); '0' purges every finished execution.")));
	if (!PG_ARGISNULL(1))
	{
		max_rows = PG_GETARG_INT32(1);
		if (max_rows <= 0)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("max_rows must be positive, not " INT64_FORMAT, max_rows),
					 errhint("Leave it NULL to purge every finished execution older than older_than.")));
	}

	cutoff = wf_purge_cutoff(older);
	if (cutoff == MIN_TIMESTAMP)
		PG_RETURN_INT64(0);
	SPI_connect();
	for (;;)
	{
		int			limit = max_rows < 0 ? PURGE_BATCH : (int) Min(PURGE_BATCH, max_rows - total);
		int64		n;

		CHECK_FOR_INTERRUPTS();
		n = wf_purge_batch(cutoff, limit);	/* frees the previous result */
		total += n;
		if (n < limit || total == max_rows)
			break;
	}
	SPI_finish();
	PG_RETURN_INT64(total);
}
