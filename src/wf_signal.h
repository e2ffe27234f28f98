/*
 * wf_signal.h — wake-ups sent when a transaction commits: runners (NOTIFY
 * on their queue) and the watchdog worker (its latch).
 */
#ifndef WF_SIGNAL_H
#define WF_SIGNAL_H

#include "datatype/timestamp.h"
#include "storage/latch.h"

/* callers: engine steps, wf_claim, lifecycle calls, the watchdog pass */
extern void wf_notify_queue(const char *queue);
extern void wf_watchdog_due(TimestampTz when);

/* _PG_init */
extern void wf_signal_init(void);

/* the watchdog worker */
extern void wf_signal_attach_worker(Latch *latch);
extern void wf_signal_worker_awake(void);
extern void wf_signal_worker_sleeps_until(TimestampTz when);
extern bool wf_signal_exit_requested(void);

/* DROP DATABASE of the worker's database */
extern void wf_signal_request_exit(void);

#endif							/* WF_SIGNAL_H */
