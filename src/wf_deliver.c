/*
 * wf_deliver.c — wf_signal(event, key, payload, ttl): the event reaches
 * every task waiting on (event, key) ({"engine": "wait"}, wf_wait.c).
 *
 * Each waiting task is an engine step on its own execution, taken with
 * SKIP LOCKED as the watchdog takes them: a signal never waits for a
 * step's lock (it may hold the key's lock, which a step creating a wait
 * takes while holding its execution's: waiting here could deadlock). A
 * wait whose execution is locked right now gets a wf.delivery row instead,
 * which the watchdog delivers on its next pass (woken at commit) — under
 * the execution's lock, checking again that the task still waits. So a
 * wait succeeds exactly once, whoever comes first: another signal, its
 * timeout, a cancel (test/specs/signal_race.spec).
 *
 * Like a batch of completions, one signal may step through several
 * executions, in id order; each is a step of its own.
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

#include "pg_wf.h"
#include "wf_attempt.h"
#include "wf_deliver.h"
#include "wf_expr.h"
#include "wf_signal.h"
#include "wf_step.h"
#include "wf_store.h"
#include "wf_util.h"
#include "wf_wait.h"

PG_FUNCTION_INFO_V1(wf_signal);

/* Event names are like action names (and checked as wf_define checks those). */
static void
check_event_name(const char *e)
{
	if (!wf_is_action_name(e) || strlen(e) > WF_MAX_ACTION_LEN)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid event name \"%s\"", e),
				 errdetail("Event names start with a letter or \"_\" and contain letters, digits, \"_\", \".\", \":\" or \"-\" (at most %d bytes).",
						   WF_MAX_ACTION_LEN)));
}

static void
deliver_call(void *arg)
{
	WfDelivery *d = arg;
	WfStep		s;

	if (!wf_step_open(&s, d->exec_id, true))
	{
		d->locked = true;
		return;
	}
	d->delivered = wf_attempt_signalled(&s, d->task_id, d->result);
	wf_step_close(&s);
}

/* A delivery for the watchdog: the execution was locked. */
static void
queue_delivery(WfDelivery *d)
{
	static WfPlan queue = {
		"INSERT INTO wf.delivery (execution_id, task_id, result) VALUES ($1, $2, $3)",
		3, {INT8OID, INT8OID, JSONBOID}
	};
	Datum		values[3];

	values[0] = Int64GetDatum(d->exec_id);
	values[1] = Int64GetDatum(d->task_id);
	values[2] = JsonbPGetDatum(d->result);
	wf_exec(&queue, values, NULL, 1);
	wf_watchdog_due(GetCurrentTransactionStartTimestamp());
}

/*
 * wf_signal(event text, key text, payload jsonb DEFAULT '{}',
 *           ttl interval DEFAULT NULL) RETURNS integer
 *
 * Completes every task waiting on (event, key) with {"event", "key",
 * "payload", "at"}; returns how many (those whose execution was busy are
 * completed by the watchdog a moment later). With a ttl the event is also
 * kept until now() + ttl for waits that start meanwhile.
 */
Datum
wf_signal(PG_FUNCTION_ARGS)
{
	char	   *event;
	char	   *key;
	Jsonb	   *payload;
	Interval   *ttl = PG_ARGISNULL(3) ? NULL : PG_GETARG_INTERVAL_P(3);
	TimestampTz at = GetCurrentTransactionStartTimestamp();
	Jsonb	   *result;
	int64	   *execs;
	int64	   *tasks;
	uint64		n;
	int			count = 0;
	MemoryContext itemcxt,
				outer;

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("%s must not be null", PG_ARGISNULL(0) ? "event" : "key")));
	event = text_to_cstring(PG_GETARG_TEXT_PP(0));
	check_event_name(event);
	wf_check_length(PG_GETARG_TEXT_PP(1), WF_MAX_KEY_LEN, "key");
	key = text_to_cstring(PG_GETARG_TEXT_PP(1));
	payload = PG_ARGISNULL(2) ? wf_jsonb_object(0, NULL, NULL) : PG_GETARG_JSONB_P(2);
	if (VARSIZE(payload) > WF_MAX_PAYLOAD)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("signal payload is too large: %zu bytes", (size_t) VARSIZE(payload)),
				 errdetail("The limit is %d bytes.", WF_MAX_PAYLOAD)));
	if (ttl)
		wf_check_positive_interval(ttl, "ttl");

	SPI_connect();
	if (ttl)
	{
		/* seen by every wait that starts from now on, or by this signal */
		wf_wait_lock(1, &event, key);
		wf_watchdog_due(wf_wait_keep(event, key, payload, ttl, &at));
	}
	result = wf_wait_result(event, key, payload, at);
	n = wf_wait_find(event, key, &execs, &tasks);
	itemcxt = AllocSetContextCreate(CurrentMemoryContext, "pg_wf signal", ALLOCSET_DEFAULT_SIZES);
	for (uint64 i = 0; i < n; i++)
	{
		WfDelivery	d = {0, execs[i], tasks[i], result, false, false};

		CHECK_FOR_INTERRUPTS();
		outer = MemoryContextSwitchTo(itemcxt);
		deliver_call(&d);
		MemoryContextSwitchTo(outer);
		if (d.locked)
			queue_delivery(&d);
		count += d.locked || d.delivered;
		MemoryContextReset(itemcxt);
	}
	SPI_finish();
	PG_RETURN_INT32(count);
}

/*
 * The watchdog's part: deliveries whose execution was busy when the signal
 * came, oldest first. The watchdog runs wf_deliver_queued on each as a step
 * of its own (SKIP LOCKED: still busy, the row stays for the next pass).
 */
uint64
wf_deliveries_queued(int batch, WfDelivery **out)
{
	static WfPlan queued = {
		"SELECT id, execution_id, task_id, result FROM wf.delivery ORDER BY id LIMIT $1",
		1, {INT4OID}
	};
	Datum		values[1];
	uint64		n;

	values[0] = Int32GetDatum(batch);
	n = wf_exec(&queued, values, NULL, 0);
	*out = palloc0(sizeof(WfDelivery) * Max(n, 1));
	for (uint64 r = 0; r < n; r++)
	{
		(*out)[r].id = wf_get_int64(r, 1);
		(*out)[r].exec_id = wf_get_int64(r, 2);
		(*out)[r].task_id = wf_get_int64(r, 3);
		(*out)[r].result = wf_get_jsonb(r, 4);
	}
	return n;
}

void
wf_deliver_queued(void *arg)
{
	static WfPlan done = {
		"DELETE FROM wf.delivery WHERE id = $1",
		1, {INT8OID}
	};
	WfDelivery *d = arg;
	Datum		values[1];

	deliver_call(d);
	if (d->locked)
		return;
	values[0] = Int64GetDatum(d->id);
	wf_exec(&done, values, NULL, 0);
}
