/*
 * wf_signal.c — wake-ups, the bottom layer of the engine: every file that
 * makes work due calls down here, and this file calls no other file of
 * pg_wf.
 *
 *  - Runners: wf_notify_queue(queue) sends NOTIFY wf_<queue> when the
 *    transaction commits (PostgreSQL folds duplicates within one
 *    transaction), so a runner LISTENing on its queue claims at once.
 *  - The watchdog worker: wf_watchdog_due(when) remembers the earliest due
 *    time (a lease end, a deadline, a retry, an inbox row) the transaction
 *    created; at commit, if that is earlier than the worker plans to wake,
 *    the worker's latch is set. The worker publishes its latch and its
 *    planned wake-up time in shared memory (wf_signal_attach_worker,
 *    wf_signal_worker_sleeps_until). Without shared_preload_libraries there
 *    is no shared memory and no worker: due times are simply dropped.
 */
#include "postgres.h"

#include "access/xact.h"
#include "commands/async.h"
#include "miscadmin.h"
#include "storage/ipc.h"
#include "storage/lwlock.h"
#include "storage/shmem.h"
#include "storage/spin.h"

#include "wf_signal.h"

/* Shared with the worker: where to wake it, and when it plans to wake. */
typedef struct WfShared
{
	slock_t		mutex;
	Latch	   *latch;			/* the worker's, or NULL */
	TimestampTz next_wake;		/* 0: awake (any new due time wakes it) */
	bool		exit_requested; /* its database is being dropped */
} WfShared;

static WfShared *shared = NULL;
static shmem_request_hook_type prev_shmem_request_hook = NULL;
static shmem_startup_hook_type prev_shmem_startup_hook = NULL;

/* Earliest due time this transaction created (0: none). */
static TimestampTz pending_due = 0;

/* Wake the runners of a queue when this transaction commits. */
void
wf_notify_queue(const char *queue)
{
	char		channel[NAMEDATALEN];

	snprintf(channel, sizeof(channel), "wf_%s", queue);
	Async_Notify(channel, NULL);
}

/* Something becomes due at "when": the worker must be awake by then. */
void
wf_watchdog_due(TimestampTz when)
{
	if (shared != NULL && (pending_due == 0 || when < pending_due))
		pending_due = when;
}

/* At commit, wake the worker if this transaction made something due earlier. */
static void
xact_callback(XactEvent event, void *arg)
{
	Latch	   *latch = NULL;

	if (pending_due == 0)
		return;
	if (event == XACT_EVENT_COMMIT && shared != NULL)
	{
		SpinLockAcquire(&shared->mutex);
		if (shared->latch && (shared->next_wake == 0 || pending_due < shared->next_wake))
			latch = shared->latch;
		SpinLockRelease(&shared->mutex);
		if (latch)
			SetLatch(latch);
	}
	if (event == XACT_EVENT_COMMIT || event == XACT_EVENT_ABORT ||
		event == XACT_EVENT_PARALLEL_COMMIT || event == XACT_EVENT_PARALLEL_ABORT)
		pending_due = 0;
}

static void
shmem_request(void)
{
	if (prev_shmem_request_hook)
		prev_shmem_request_hook();
	RequestAddinShmemSpace(MAXALIGN(sizeof(WfShared)));
}

static void
shmem_startup(void)
{
	bool		found;

	if (prev_shmem_startup_hook)
		prev_shmem_startup_hook();
	LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
	shared = ShmemInitStruct("pg_wf", sizeof(WfShared), &found);
	if (!found)
	{
		SpinLockInit(&shared->mutex);
		shared->latch = NULL;
		shared->next_wake = 0;
		shared->exit_requested = false;
	}
	LWLockRelease(AddinShmemInitLock);
}

void
wf_signal_init(void)
{
	RegisterXactCallback(xact_callback, NULL);
	if (!process_shared_preload_libraries_in_progress)
		return;
	prev_shmem_request_hook = shmem_request_hook;
	shmem_request_hook = shmem_request;
	prev_shmem_startup_hook = shmem_startup_hook;
	shmem_startup_hook = shmem_startup;
}

static void
detach_worker(int code, Datum arg)
{
	SpinLockAcquire(&shared->mutex);
	shared->latch = NULL;
	SpinLockRelease(&shared->mutex);
}

/* The worker publishes its latch (until it exits). */
void
wf_signal_attach_worker(Latch *latch)
{
	SpinLockAcquire(&shared->mutex);
	shared->latch = latch;
	shared->next_wake = 0;
	shared->exit_requested = false;
	SpinLockRelease(&shared->mutex);
	on_shmem_exit(detach_worker, (Datum) 0);
}

/* The worker is awake: any new due time must wake it again. */
void
wf_signal_worker_awake(void)
{
	SpinLockAcquire(&shared->mutex);
	shared->next_wake = 0;
	SpinLockRelease(&shared->mutex);
}

/*
 * Ask the worker to exit (its database is about to be dropped: a
 * connected worker would make DROP DATABASE fail).
 */
void
wf_signal_request_exit(void)
{
	Latch	   *latch;

	if (shared == NULL)
		return;
	SpinLockAcquire(&shared->mutex);
	shared->exit_requested = true;
	latch = shared->latch;
	SpinLockRelease(&shared->mutex);
	if (latch)
		SetLatch(latch);
}

/* Was the worker asked to exit? (Clears the request.) */
bool
wf_signal_exit_requested(void)
{
	bool		requested;

	SpinLockAcquire(&shared->mutex);
	requested = shared->exit_requested;
	shared->exit_requested = false;
	SpinLockRelease(&shared->mutex);
	return requested;
}

/* The worker goes to sleep until "when" unless woken earlier. */
void
wf_signal_worker_sleeps_until(TimestampTz when)
{
	SpinLockAcquire(&shared->mutex);
	shared->next_wake = when;
	SpinLockRelease(&shared->mutex);
}
