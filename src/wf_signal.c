/*
 * wf_signal.c — wake-ups sent when a transaction commits. Every file that
 * makes work due calls down here; this file calls only the registry.
 *
 *  - Runners: wf_notify_queue(queue) sends NOTIFY wf_<queue> when the
 *    transaction commits (PostgreSQL folds duplicates within one
 *    transaction), so a runner LISTENing on its queue claims at once.
 *  - The database's watchdog: wf_watchdog_due(when) remembers the earliest
 *    due time (a lease end, a deadline, a retry, an inbox row) the
 *    transaction created; at commit, if that is earlier than the watchdog
 *    plans to wake, its latch is set (wf_registry.c knows where it is).
 *    wf_signal_watchdog() wakes it at commit anyway (DROP EXTENSION: it
 *    sees that pg_wf is gone and exits).
 *  - The launcher: wf_signal_launcher(db) asks it at commit to look at a
 *    database (CREATE EXTENSION pg_wf, CREATE DATABASE: start a watchdog
 *    there if pg_wf is in it).
 * Without shared_preload_libraries there is no registry and no worker:
 * the wake-ups are simply dropped.
 */
#include "postgres.h"

#include "access/xact.h"
#include "commands/async.h"
#include "miscadmin.h"

#include "wf_registry.h"
#include "wf_signal.h"

/* Earliest due time this transaction created (0: none). */
static TimestampTz pending_due = 0;
static bool pending_watchdog = false;
static Oid	pending_launcher = InvalidOid;
static bool pending_launcher_all = false;

/* Wake the runners of a queue when this transaction commits. */
void
wf_notify_queue(const char *queue)
{
	char		channel[NAMEDATALEN];

	snprintf(channel, sizeof(channel), "wf_%s", queue);
	Async_Notify(channel, NULL);
}

/* Something becomes due at "when": the watchdog must be awake by then. */
void
wf_watchdog_due(TimestampTz when)
{
	if (pending_due == 0 || when < pending_due)
		pending_due = when;
}

/* Wake this database's watchdog when the transaction commits. */
void
wf_signal_watchdog(void)
{
	pending_watchdog = true;
}

/*
 * Ask the launcher to look at a database (pg_wf installed there, or a new
 * database) when the transaction commits.
 */
void
wf_signal_launcher(Oid dboid)
{
	if (OidIsValid(pending_launcher) && pending_launcher != dboid)
		pending_launcher_all = true;
	pending_launcher = dboid;
}

static void
xact_callback(XactEvent event, void *arg)
{
	if (pending_due == 0 && !pending_watchdog && !OidIsValid(pending_launcher))
		return;
	if (event == XACT_EVENT_COMMIT)
	{
		if (pending_watchdog)
			wf_registry_wake(MyDatabaseId, 0);
		else if (pending_due != 0)
			wf_registry_wake(MyDatabaseId, pending_due);
		if (OidIsValid(pending_launcher))
			wf_registry_request(pending_launcher_all ? InvalidOid : pending_launcher);
	}
	if (event == XACT_EVENT_COMMIT || event == XACT_EVENT_ABORT ||
		event == XACT_EVENT_PARALLEL_COMMIT || event == XACT_EVENT_PARALLEL_ABORT)
	{
		pending_due = 0;
		pending_watchdog = false;
		pending_launcher = InvalidOid;
		pending_launcher_all = false;
	}
}

void
wf_signal_init(void)
{
	RegisterXactCallback(xact_callback, NULL);
}
