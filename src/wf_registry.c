/*
 * wf_registry.c — the watchdogs' registry in shared memory, the bottom of
 * the engine's wake-ups: this file calls no other file of pg_wf.
 *
 * One slot per database a watchdog serves (at most pg_wf.max_databases).
 * The launcher owns the slots: it claims one for a database before it
 * starts a watchdog there, keeps it across the watchdog's restarts (so its
 * health survives them), and releases it when the database is gone or the
 * watchdog found no pg_wf in it. A slot holds
 *   - where to wake its watchdog (latch) and when it plans to wake
 *     (next_wake; 0 while it is awake), for transactions that create
 *     earlier due work (wf_signal.c wakes it at their commit);
 *   - requests to it: exit, because its database is being dropped or
 *     became a template (stop_until: the launcher stays away until then);
 *   - what the watchdog reports back: no pg_wf here (absent), and its
 *     health (passes, tasks handled, rows purged, last error), read by
 *     wf_watchdog_status().
 * The launcher also has requests of its own: a database where CREATE
 * EXTENSION pg_wf committed (or a new database) should be looked at now.
 *
 * Everything is under one spinlock, held for a few instructions (a scan of
 * at most pg_wf.max_databases slots at most). Without
 * shared_preload_libraries there is no registry, no launcher and no
 * watchdog: every call here is then a no-op.
 */
#include "postgres.h"

#include "common/hashfn.h"
#include "miscadmin.h"
#include "storage/ipc.h"
#include "storage/lwlock.h"
#include "storage/shmem.h"
#include "storage/spin.h"
#include "utils/guc.h"
#include "utils/timestamp.h"

#include "wf_registry.h"

#define DEFAULT_MAX_DATABASES 16
#define MAX_REQUESTS 16

typedef struct WfSlot
{
	Oid			dboid;			/* InvalidOid: free */
	pid_t		pid;			/* its watchdog, or 0 */
	Latch	   *latch;			/* its watchdog's, or NULL */
	TimestampTz next_wake;		/* 0: awake (any new due time wakes it) */
	TimestampTz stop_until;		/* wf_registry_stop: stay away until then */
	bool		absent;			/* the watchdog found no pg_wf there */
	WfHealth	health;
} WfSlot;

typedef struct WfRegistry
{
	slock_t		mutex;
	Latch	   *launcher;
	int			nrequests;		/* -1: too many; look at every database */
	Oid			requests[MAX_REQUESTS];
	int			nslots;
	WfSlot		slots[FLEXIBLE_ARRAY_MEMBER];
} WfRegistry;

static int	wf_max_databases = DEFAULT_MAX_DATABASES;
static WfRegistry *reg = NULL;
static int	my_slot = -1;		/* in a watchdog: its slot */
static shmem_request_hook_type prev_shmem_request_hook = NULL;
static shmem_startup_hook_type prev_shmem_startup_hook = NULL;

static Size
registry_size(void)
{
	return add_size(offsetof(WfRegistry, slots),
					mul_size(sizeof(WfSlot), wf_max_databases));
}

/*
 * The runners' wake-up counters (wf_signal.c: pg_wf.notify = hungry), one
 * per (database, queue) hash: collisions only make notifications more
 * frequent.
 */
#define WF_WAKE_SLOTS 1024
static WfWake *wakes = NULL;

static void
shmem_request(void)
{
	if (prev_shmem_request_hook)
		prev_shmem_request_hook();
	RequestAddinShmemSpace(MAXALIGN(registry_size()));
	RequestAddinShmemSpace(MAXALIGN(sizeof(WfWake) * WF_WAKE_SLOTS));
}

static void
shmem_startup(void)
{
	bool		found;

	if (prev_shmem_startup_hook)
		prev_shmem_startup_hook();
	LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
	reg = ShmemInitStruct("pg_wf registry", registry_size(), &found);
	if (!found)
	{
		memset(reg, 0, registry_size());
		SpinLockInit(&reg->mutex);
		reg->nslots = wf_max_databases;
	}
	wakes = ShmemInitStruct("pg_wf wake-ups", sizeof(WfWake) * WF_WAKE_SLOTS, &found);
	if (!found)
		for (int i = 0; i < WF_WAKE_SLOTS; i++)
		{
			pg_atomic_init_u64(&wakes[i].started, 0);
			pg_atomic_init_u64(&wakes[i].done, 0);
			pg_atomic_init_u64(&wakes[i].hungry, 0);
			pg_atomic_init_u64(&wakes[i].answered, 0);
			pg_atomic_init_u64(&wakes[i].always_until, 0);
		}
	LWLockRelease(AddinShmemInitLock);
}

void
wf_registry_init(void)
{
	DefineCustomIntVariable("pg_wf.max_databases",
							"Most databases the pg_wf watchdogs serve at once.",
							"Each served database costs one background worker (max_worker_processes).",
							&wf_max_databases, DEFAULT_MAX_DATABASES, 1, 1024,
							PGC_POSTMASTER, 0, NULL, NULL, NULL);
	if (!process_shared_preload_libraries_in_progress)
		return;
	prev_shmem_request_hook = shmem_request_hook;
	shmem_request_hook = shmem_request;
	prev_shmem_startup_hook = shmem_startup_hook;
	shmem_startup_hook = shmem_startup;
}

/*
 * The wake-up counters of a queue of this database, or NULL without
 * shared_preload_libraries.
 */
WfWake *
wf_registry_wakes(const char *queue)
{
	uint32		h;

	if (wakes == NULL)
		return NULL;
	h = hash_bytes((const unsigned char *) queue, strlen(queue)) ^ (uint32) MyDatabaseId * 2654435761u;
	return &wakes[h % WF_WAKE_SLOTS];
}

/* The slot of a database, or -1 (call with the mutex held). */
static int
slot_of(Oid dboid)
{
	for (int i = 0; i < reg->nslots; i++)
		if (reg->slots[i].dboid == dboid)
			return i;
	return -1;
}

/* ---------------------------------------------------------------------
 * The launcher
 * ---------------------------------------------------------------------
 */

void
wf_registry_attach_launcher(Latch *latch)
{
	if (reg == NULL)
		return;
	SpinLockAcquire(&reg->mutex);
	reg->launcher = latch;
	SpinLockRelease(&reg->mutex);
}

/*
 * Take the databases the launcher was asked to look at (up to max).
 * Returns how many, or -1 if it should look at every database.
 */
int
wf_registry_take_requests(Oid *oids, int max)
{
	int			n;

	SpinLockAcquire(&reg->mutex);
	n = reg->nrequests;
	if (n > max)
		n = -1;
	if (n > 0)
		memcpy(oids, reg->requests, sizeof(Oid) * n);
	reg->nrequests = 0;
	SpinLockRelease(&reg->mutex);
	return n;
}

/* A slot for a database (its own if it has one; health reset if new), or -1. */
int
wf_registry_claim(Oid dboid)
{
	int			i;

	SpinLockAcquire(&reg->mutex);
	i = slot_of(dboid);
	if (i < 0 && (i = slot_of(InvalidOid)) >= 0)
	{
		memset(&reg->slots[i], 0, sizeof(WfSlot));
		reg->slots[i].dboid = dboid;
	}
	SpinLockRelease(&reg->mutex);
	return i;
}

void
wf_registry_release(int slot)
{
	SpinLockAcquire(&reg->mutex);
	memset(&reg->slots[slot], 0, sizeof(WfSlot));
	SpinLockRelease(&reg->mutex);
}

/* A slot as the launcher and wf_watchdog_status() read it (mutex held). */
static void
copy_status(WfSlot *s, WfStatus *out)
{
	out->dboid = s->dboid;
	out->pid = s->pid;
	out->next_wake = s->next_wake;
	out->stop_until = s->stop_until;
	out->absent = s->absent;
	out->health = s->health;
}

/*
 * The slot's state, in one look: its watchdog (pid 0: none attached — a
 * restarted launcher lost its handles, not its watchdogs), whether it
 * found no pg_wf (absent), until when the launcher must stay away
 * (stop_until), and its passes (0: still looking for pg_wf).
 */
void
wf_registry_read(int slot, WfStatus *out)
{
	SpinLockAcquire(&reg->mutex);
	copy_status(&reg->slots[slot], out);
	SpinLockRelease(&reg->mutex);
}

/* ---------------------------------------------------------------------
 * A watchdog
 * ---------------------------------------------------------------------
 */

static void
detach(int code, Datum arg)
{
	SpinLockAcquire(&reg->mutex);
	reg->slots[my_slot].latch = NULL;
	reg->slots[my_slot].pid = 0;
	SpinLockRelease(&reg->mutex);
}

/* The watchdog of a slot publishes its latch (until it exits). */
void
wf_registry_attach(int slot, Latch *latch)
{
	TimestampTz now = GetCurrentTimestamp();

	my_slot = slot;
	SpinLockAcquire(&reg->mutex);
	reg->slots[slot].latch = latch;
	reg->slots[slot].pid = MyProcPid;
	reg->slots[slot].next_wake = 0;
	reg->slots[slot].absent = false;
	reg->slots[slot].health.started_at = now;
	SpinLockRelease(&reg->mutex);
	on_shmem_exit(detach, (Datum) 0);
}

/* The watchdog is awake: any new due time must wake it again. */
void
wf_registry_awake(void)
{
	SpinLockAcquire(&reg->mutex);
	reg->slots[my_slot].next_wake = 0;
	SpinLockRelease(&reg->mutex);
}

/* The watchdog goes to sleep until "when" unless woken earlier. */
void
wf_registry_sleeps_until(TimestampTz when)
{
	SpinLockAcquire(&reg->mutex);
	reg->slots[my_slot].next_wake = when;
	SpinLockRelease(&reg->mutex);
}

/* Must the watchdog leave its database (wf_registry_stop)? */
bool
wf_registry_exit_requested(void)
{
	TimestampTz now = GetCurrentTimestamp();
	bool		requested;

	SpinLockAcquire(&reg->mutex);
	requested = reg->slots[my_slot].stop_until > now;
	SpinLockRelease(&reg->mutex);
	return requested;
}

/* The watchdog found no pg_wf in its database (it exits next). */
void
wf_registry_mark_absent(void)
{
	SpinLockAcquire(&reg->mutex);
	reg->slots[my_slot].absent = true;
	SpinLockRelease(&reg->mutex);
}

/* A pass ended: it acted on so many tasks and purged so many executions. */
void
wf_registry_report_pass(int64 acted, int64 purged)
{
	WfHealth   *h;
	TimestampTz now = GetCurrentTimestamp();

	if (reg == NULL || my_slot < 0)
		return;					/* wf_tick() in a session */
	h = &reg->slots[my_slot].health;
	SpinLockAcquire(&reg->mutex);
	h->passes++;
	h->acted += acted;
	h->purged += purged;
	h->last_pass_at = now;
	SpinLockRelease(&reg->mutex);
}

/* The watchdog's last error (a failed step, or what made it exit). */
void
wf_registry_report_error(const char *message)
{
	WfHealth   *h;
	TimestampTz now = GetCurrentTimestamp();

	if (reg == NULL || my_slot < 0)
		return;					/* wf_tick() in a session */
	h = &reg->slots[my_slot].health;
	SpinLockAcquire(&reg->mutex);
	h->errors++;
	h->last_error_at = now;
	strlcpy(h->last_error, message, sizeof(h->last_error));
	SpinLockRelease(&reg->mutex);
}

/* ---------------------------------------------------------------------
 * Any backend
 * ---------------------------------------------------------------------
 */

/*
 * Wake the watchdog of a database if something is due at "due" before it
 * plans to wake (due 0: wake it anyway).
 */
void
wf_registry_wake(Oid dboid, TimestampTz due)
{
	Latch	   *latch = NULL;
	int			i;

	if (reg == NULL)
		return;
	SpinLockAcquire(&reg->mutex);
	i = slot_of(dboid);
	if (i >= 0 && reg->slots[i].latch != NULL &&
		(due == 0 || reg->slots[i].next_wake == 0 || due < reg->slots[i].next_wake))
		latch = reg->slots[i].latch;
	SpinLockRelease(&reg->mutex);
	if (latch)
		SetLatch(latch);
}

/*
 * Ask the launcher to look at a database now (pg_wf was just installed
 * there, or it is new); InvalidOid: at every database.
 */
void
wf_registry_request(Oid dboid)
{
	Latch	   *latch;

	if (reg == NULL)
		return;
	SpinLockAcquire(&reg->mutex);
	if (!OidIsValid(dboid) || reg->nrequests < 0 || reg->nrequests == MAX_REQUESTS)
		reg->nrequests = -1;
	else
		reg->requests[reg->nrequests++] = dboid;
	latch = reg->launcher;
	SpinLockRelease(&reg->mutex);
	if (latch)
		SetLatch(latch);
}

/*
 * The watchdog of a database must leave it: the database is about to be
 * dropped (a connected watchdog would make DROP DATABASE fail: PostgreSQL
 * 15 ends background workers only for WITH (FORCE)), or it became a
 * template. It exits, and the launcher starts none there for "ms" (by
 * then the drop is done, or it failed and the watchdog comes back).
 */
void
wf_registry_stop(Oid dboid, int ms)
{
	TimestampTz until = TimestampTzPlusMilliseconds(GetCurrentTimestamp(), ms);
	Latch	   *latch = NULL;
	int			i;

	if (reg == NULL)
		return;
	SpinLockAcquire(&reg->mutex);
	i = slot_of(dboid);
	if (i >= 0)
	{
		reg->slots[i].stop_until = until;
		latch = reg->slots[i].latch;
	}
	SpinLockRelease(&reg->mutex);
	if (latch)
		SetLatch(latch);
}

/*
 * A copy of every slot in use, for wf_watchdog_status(); returns how many
 * (0 without shared_preload_libraries).
 */
int
wf_registry_status(WfStatus **out)
{
	int			n = 0;

	*out = NULL;
	if (reg == NULL)
		return 0;
	*out = palloc0(sizeof(WfStatus) * reg->nslots);
	SpinLockAcquire(&reg->mutex);
	for (int i = 0; i < reg->nslots; i++)
	{
		WfSlot	   *s = &reg->slots[i];

		if (!OidIsValid(s->dboid))
			continue;
		copy_status(s, &(*out)[n++]);
	}
	SpinLockRelease(&reg->mutex);
	return n;
}
