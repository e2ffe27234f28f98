/*
 * wf_registry.h — the watchdogs' registry in shared memory: one slot per
 * served database (its watchdog's latch, requests to it, its health).
 */
#ifndef WF_REGISTRY_H
#define WF_REGISTRY_H

#include "datatype/timestamp.h"
#include "port/atomics.h"
#include "storage/latch.h"

#define WF_LAST_ERROR_LEN 256

/* What a watchdog reports about itself (wf_watchdog_status()). */
typedef struct WfHealth
{
	TimestampTz started_at;
	TimestampTz last_pass_at;
	int64		passes;
	int64		acted;			/* tasks and executions handled */
	int64		purged;			/* executions purged (pg_wf.retention) */
	int64		errors;
	TimestampTz last_error_at;
	char		last_error[WF_LAST_ERROR_LEN];
} WfHealth;

typedef struct WfStatus
{
	Oid			dboid;
	pid_t		pid;			/* 0: not running now */
	TimestampTz next_wake;
	TimestampTz stop_until;		/* the launcher stays away until then */
	bool		absent;			/* its watchdog found no pg_wf */
	WfHealth	health;
} WfStatus;

/*
 * A queue's wake-up counters (wf_signal.c owns their protocol): make-ready
 * transactions started (at pre-commit) and done (after commit or abort);
 * claims that came back short (hungry), the hungry count the last notify
 * answered, and until when every make-ready notifies (a claim outside
 * READ COMMITTED).
 */
typedef struct WfWake
{
	pg_atomic_uint64 started;
	pg_atomic_uint64 done;
	pg_atomic_uint64 hungry;
	pg_atomic_uint64 answered;
	pg_atomic_uint64 always_until;
} WfWake;

extern WfWake *wf_registry_wakes(const char *queue);

/* _PG_init */
extern void wf_registry_init(void);

/* the launcher */
extern void wf_registry_attach_launcher(Latch *latch);
extern int	wf_registry_take_requests(Oid *oids, int max);
extern int	wf_registry_claim(Oid dboid);
extern void wf_registry_release(int slot);
extern void wf_registry_read(int slot, WfStatus *out);

/* a watchdog */
extern void wf_registry_attach(int slot, Latch *latch);
extern void wf_registry_awake(void);
extern void wf_registry_sleeps_until(TimestampTz when);
extern bool wf_registry_exit_requested(void);
extern void wf_registry_mark_absent(void);
extern void wf_registry_report_pass(int64 acted, int64 purged);
extern void wf_registry_report_error(const char *message);

/* any backend */
extern void wf_registry_wake(Oid dboid, TimestampTz due);
extern void wf_registry_request(Oid dboid);
extern void wf_registry_stop(Oid dboid, int ms);
extern int	wf_registry_status(WfStatus **out);

#endif							/* WF_REGISTRY_H */
