/*
 * wf_wait.c — waits for events by correlation key ({"engine": "wait"}),
 * and events kept for waits that start later (wf_signal with a ttl).
 *
 * A waiting task is delegated (its timeout its deadline) with one wf.wait
 * row per event it lists; wf_signal finds the waits on (event, key) through
 * wf.wait's index, so its cost follows the waits it matches. A signal with
 * a ttl is also kept in wf.signal until it expires, and a wait that starts
 * meanwhile completes at once with the earliest kept event it matches.
 *
 * The race between the two — a wait being created while a signal with a
 * ttl is being sent — is closed by a transaction-level advisory lock on
 * (event, key), taken by both before they look: whichever takes it second
 * sees what the first committed (each statement takes a new snapshot), so
 * either the signal sees the wait or the wait sees the kept event. A wait
 * over several events locks them in one order, so waits never deadlock
 * each other; a signal holds only its one key lock while it looks, and
 * never waits for an execution's lock while holding it (wf_deliver.c takes
 * executions with SKIP LOCKED).
 *
 * wf.wait rows of a task that ended otherwise (a timeout, a cancel) are
 * left for the next signal on the key to delete, or for wf_purge.
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"
#include "utils/timestamp.h"

#include "pg_wf.h"
#include "wf_expr.h"
#include "wf_store.h"
#include "wf_wait.h"

/* the first key of pg_wf's advisory locks ("wf" 0x7766, then 1: events) */
#define WAIT_LOCK_CLASS 2003173377	/* 0x77660001 */

static Datum
event_array(int n, char *const *events)
{
	Datum	   *d = palloc(sizeof(Datum) * Max(n, 1));

	for (int i = 0; i < n; i++)
		d[i] = CStringGetTextDatum(events[i]);
	return wf_text_array(d, n);
}

/* Lock (event, key) for each event, in one order (hash order). */
void
wf_wait_lock(int nevents, char *const *events, const char *key)
{
	static WfPlan lock = {
		"SELECT pg_catalog.pg_advisory_xact_lock(" CppAsString2(WAIT_LOCK_CLASS) ", h) "
		"FROM (SELECT DISTINCT pg_catalog.hashtext(e OPERATOR(pg_catalog.||) pg_catalog.chr(31) "
		"             OPERATOR(pg_catalog.||) $2) AS h "
		"      FROM pg_catalog.unnest($1::pg_catalog.text[]) e ORDER BY 1) x",
		2, {TEXTARRAYOID, TEXTOID}
	};
	Datum		values[2];

	values[0] = event_array(nevents, events);
	values[1] = CStringGetTextDatum(key);
	wf_exec(&lock, values, NULL, 0);
}

/* {"event": ..., "key": ..., "payload": ..., "at": ...}: a wait's result */
Jsonb *
wf_wait_result(const char *event, const char *key, Jsonb *payload, TimestampTz at)
{
	const char *keys[] = {"event", "key", "payload", "at"};
	Jsonb	   *vals[4];

	vals[0] = wf_jsonb_string(event);
	vals[1] = wf_jsonb_string(key);
	vals[2] = payload;
	vals[3] = wf_jsonb_string(timestamptz_to_str(at));
	return wf_jsonb_object(4, keys, vals);
}

/* The earliest unexpired kept event a wait matches, as its result; or NULL. */
Jsonb *
wf_wait_kept(int nevents, char *const *events, const char *key)
{
	static WfPlan kept = {
		"SELECT event, payload, at FROM wf.signal "
		"WHERE event = ANY ($1) AND key = $2 AND expires_at > pg_catalog.now() "
		"ORDER BY at, id LIMIT 1",
		2, {TEXTARRAYOID, TEXTOID}
	};
	Datum		values[2];

	values[0] = event_array(nevents, events);
	values[1] = CStringGetTextDatum(key);
	if (wf_exec(&kept, values, NULL, 0) == 0)
		return NULL;
	return wf_wait_result(wf_get_text(0, 1), key, wf_get_jsonb(0, 2), wf_get_timestamptz(0, 3));
}

/* The waiting task's rows, one per event. */
void
wf_wait_add(int64 exec_id, int64 task_id, int nevents, char *const *events, const char *key)
{
	static WfPlan add = {
		"INSERT INTO wf.wait (execution_id, task_id, event, key) "
		"SELECT $1, $2, e, $4 FROM pg_catalog.unnest($3::pg_catalog.text[]) e "
		"ON CONFLICT DO NOTHING",
		4, {INT8OID, INT8OID, TEXTARRAYOID, TEXTOID}
	};
	Datum		values[4];

	values[0] = Int64GetDatum(exec_id);
	values[1] = Int64GetDatum(task_id);
	values[2] = event_array(nevents, events);
	values[3] = CStringGetTextDatum(key);
	wf_exec(&add, values, NULL, 0);
}

/*
 * Does the task still wait (a delegated task; its execution locked)? A
 * wf.wait row may outlive its task: wf_rerun replaces a task that ended.
 */
bool
wf_wait_pending(int64 task_id)
{
	static WfPlan pending = {
		"SELECT 1 FROM wf.task WHERE id = $1 AND state = 'delegated'",
		1, {INT8OID}
	};
	Datum		values[1];

	values[0] = Int64GetDatum(task_id);
	return wf_exec(&pending, values, NULL, 0) == 1;
}

/*
 * The task waits no more (it got its event, or ended otherwise). By the
 * primary key's prefix: a signal reaching n waits must not scan wf.wait
 * n times.
 */
void
wf_wait_forget(int64 exec_id, int64 task_id)
{
	static WfPlan forget = {
		"DELETE FROM wf.wait WHERE execution_id = $1 AND task_id = $2",
		2, {INT8OID, INT8OID}
	};
	Datum		values[2];

	values[0] = Int64GetDatum(exec_id);
	values[1] = Int64GetDatum(task_id);
	wf_exec(&forget, values, NULL, 0);
}

/* Keep a signal until now() + ttl; returns when it expires (*at: now()). */
TimestampTz
wf_wait_keep(const char *event, const char *key, Jsonb *payload, Interval *ttl, TimestampTz *at)
{
	static WfPlan keep = {
		"INSERT INTO wf.signal (event, key, payload, expires_at) "
		"VALUES ($1, $2, $3, pg_catalog.now() + $4) RETURNING expires_at, at",
		4, {TEXTOID, TEXTOID, JSONBOID, INTERVALOID}
	};
	Datum		values[4];

	values[0] = CStringGetTextDatum(event);
	values[1] = CStringGetTextDatum(key);
	values[2] = JsonbPGetDatum(payload);
	values[3] = IntervalPGetDatum(ttl);
	wf_exec(&keep, values, NULL, 1);
	*at = wf_get_timestamptz(0, 2);
	return wf_get_timestamptz(0, 1);
}

/* The tasks waiting on (event, key), in execution order. Returns how many. */
uint64
wf_wait_find(const char *event, const char *key, int64 **execs, int64 **tasks)
{
	static WfPlan find = {
		"SELECT execution_id, task_id FROM wf.wait WHERE event = $1 AND key = $2 "
		"ORDER BY execution_id, task_id",
		2, {TEXTOID, TEXTOID}
	};
	Datum		values[2];
	uint64		n;

	values[0] = CStringGetTextDatum(event);
	values[1] = CStringGetTextDatum(key);
	n = wf_exec(&find, values, NULL, 0);
	*execs = palloc(sizeof(int64) * Max(n, 1));
	*tasks = palloc(sizeof(int64) * Max(n, 1));
	for (uint64 r = 0; r < n; r++)
	{
		(*execs)[r] = wf_get_int64(r, 1);
		(*tasks)[r] = wf_get_int64(r, 2);
	}
	return n;
}
