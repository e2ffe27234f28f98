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
#include "nodes/pg_list.h"
#include "utils/guc.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

#include "wf_registry.h"
#include "wf_signal.h"

/* Earliest due time this transaction created (0: none). */
static TimestampTz pending_due = 0;
static bool pending_watchdog = false;
static Oid	pending_launcher = InvalidOid;
static bool pending_launcher_all = false;

/* ---------------------------------------------------------------------
 * Runners' wake-ups
 *
 * pg_wf.notify = always: every transaction that makes a task of a queue
 * ready sends NOTIFY wf_<queue> at commit. PostgreSQL serialises the
 * commits of notifying transactions (a lock held from PreCommit_Notify
 * through the commit's WAL flush), so busy runners' completions cannot
 * share a flush: on a backlog it cost a third of the throughput.
 *
 * pg_wf.notify = hungry: notify only when a runner may be waiting — one
 * that LISTENed, or whose last claim came back with fewer tasks than it
 * asked for (a runner that got all it asked for claims again before it
 * waits: the runner protocol). Per queue (shared counters, WfWake):
 *
 *   a make-ready T, at pre-commit:  started++ ; h = hungry ;
 *                                   if h != answered: NOTIFY, answered = h
 *   T, after its commit (or abort): done++
 *   a claim C, before its snapshot: d0 = done
 *   C, if it came back short:       hungry++ ; if started != d0: NOTIFY
 *
 * No wake-up is lost. A C that misses T's task took its snapshot before T
 * committed. If C's hungry++ came before T read hungry, T notifies (or a
 * T' that read the same count did, after C's LISTEN). Otherwise T's
 * started++ came before C's read of started, and T's done++ came after
 * C's snapshot, so after C read d0: started != d0, and C notifies its own
 * queue, which wakes its runner (and the others) to claim again. The
 * counters are atomics with full barriers (fetch-add), so each side sees
 * the other's earlier step. A claim outside READ COMMITTED took its
 * snapshot earlier: it makes every make-ready of its queue notify for a
 * minute. Claims keep the counters whatever their session's setting, so a
 * session set to hungry never misses a runner whose session is not.
 * ---------------------------------------------------------------------
 */
static int	wf_notify_mode = 0; /* 0: always, 1: hungry */
static List *pending_queues = NIL;	/* queues made ready
									 * (TopTransactionContext) */
static List *started_wakes = NIL;	/* WfWake * whose started we counted */

static void
notify_channel(const char *queue)
{
	char		channel[NAMEDATALEN];

	snprintf(channel, sizeof(channel), "wf_%s", queue);
	Async_Notify(channel, NULL);
}

/* Wake the runners of a queue when this transaction commits. */
void
wf_notify_queue(const char *queue)
{
	ListCell   *lc;
	MemoryContext old;

	if (wf_notify_mode == 0 || wf_registry_wakes(queue) == NULL)
	{
		notify_channel(queue);	/* PostgreSQL folds duplicates */
		return;
	}
	foreach(lc, pending_queues)
		if (strcmp(lfirst(lc), queue) == 0)
		return;
	old = MemoryContextSwitchTo(TopTransactionContext);
	pending_queues = lappend(pending_queues, pstrdup(queue));
	MemoryContextSwitchTo(old);
}

/* At pre-commit: notify the queues made ready whose runners may wait. */
static void
decide_notifies(void)
{
	ListCell   *lc;

	foreach(lc, pending_queues)
	{
		const char *queue = lfirst(lc);
		WfWake	   *w = wf_registry_wakes(queue);
		uint64		h;
		uint64		always;
		MemoryContext old;

		old = MemoryContextSwitchTo(TopTransactionContext);
		started_wakes = lappend(started_wakes, w);
		MemoryContextSwitchTo(old);
		pg_atomic_fetch_add_u64(&w->started, 1);	/* a full barrier */
		h = pg_atomic_read_u64(&w->hungry);
		always = pg_atomic_read_u64(&w->always_until);
		if (h != pg_atomic_read_u64(&w->answered) ||
			(always != 0 && (TimestampTz) always > GetCurrentTimestamp()))
		{
			notify_channel(queue);
			pg_atomic_write_u64(&w->answered, h);
		}
	}
}

/*
 * A claim of queue begins (before its statement's snapshot). Returns what
 * wf_claim_ended needs.
 */
uint64
wf_claim_begins(const char *queue)
{
	WfWake	   *w = wf_registry_wakes(queue);
	uint64		d0;

	if (w == NULL)
		return 0;
	if (IsolationUsesXactSnapshot())
		pg_atomic_write_u64(&w->always_until,
							(uint64) TimestampTzPlusMilliseconds(GetCurrentTimestamp(), 60000));
	d0 = pg_atomic_read_u64(&w->done);
	pg_memory_barrier();
	return d0;
}

/* The claim got fewer tasks than it asked for (short): its runner may wait. */
void
wf_claim_ended(const char *queue, bool short_claim, uint64 d0)
{
	WfWake	   *w = wf_registry_wakes(queue);

	if (w == NULL || !short_claim)
		return;
	pg_atomic_fetch_add_u64(&w->hungry, 1); /* a full barrier */
	if (pg_atomic_read_u64(&w->started) != d0)
		notify_channel(queue);	/* a task may have come in meanwhile */
}

/* LISTEN wf_<queue>: a runner that may wait before it ever claims. */
void
wf_signal_listen(const char *channel)
{
	WfWake	   *w;

	if (strncmp(channel, "wf_", 3) != 0 || (w = wf_registry_wakes(channel + 3)) == NULL)
		return;
	pg_atomic_fetch_add_u64(&w->hungry, 1);
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
	if (event == XACT_EVENT_PRE_COMMIT)
	{
		if (pending_queues != NIL)
			decide_notifies();
		return;
	}
	if (event == XACT_EVENT_PRE_PREPARE)
	{
		ListCell   *lc;

		/*
		 * Its tasks become visible at COMMIT PREPARED, after the counters say
		 * it is done: notify as always (and PostgreSQL refuses to PREPARE a
		 * transaction that notifies, as it did before pg_wf.notify).
		 */
		foreach(lc, pending_queues)
			notify_channel(lfirst(lc));
		return;
	}
	if (event == XACT_EVENT_COMMIT || event == XACT_EVENT_ABORT ||
		event == XACT_EVENT_PARALLEL_COMMIT || event == XACT_EVENT_PARALLEL_ABORT ||
		event == XACT_EVENT_PREPARE)
	{
		ListCell   *lc;

		foreach(lc, started_wakes)
			pg_atomic_fetch_add_u64(&((WfWake *) lfirst(lc))->done, 1);
		pending_queues = NIL;	/* freed with TopTransactionContext */
		started_wakes = NIL;
	}
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
	static const struct config_enum_entry modes[] = {
		{"always", 0, false},
		{"hungry", 1, false},
		{NULL, 0, false}
	};

	DefineCustomEnumVariable("pg_wf.notify",
							 "When a transaction that makes tasks ready sends NOTIFY wf_<queue>.",
							 "always: every one; hungry: only when a runner of the queue may be waiting "
							 "(it LISTENed, or its last claim got fewer tasks than it asked for), which "
							 "lets busy runners' commits share a WAL flush.",
							 &wf_notify_mode, 0, modes, PGC_SUSET, 0, NULL, NULL, NULL);
	RegisterXactCallback(xact_callback, NULL);
}
