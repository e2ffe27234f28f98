/*
 * wf_signal.h — wake-ups sent when a transaction commits: runners (NOTIFY
 * on their queue), the database's watchdog and the launcher (latches).
 */
#ifndef WF_SIGNAL_H
#define WF_SIGNAL_H

#include "datatype/timestamp.h"

/* callers: engine steps, wf_claim, lifecycle calls, the watchdog pass */
extern void wf_notify_queue(const char *queue);
extern void wf_watchdog_due(TimestampTz when);

/* wf_claim (pg_wf.notify = hungry), and LISTEN wf_<queue> (wf_launcher.c) */
extern uint64 wf_claim_begins(const char *queue);
extern void wf_claim_ended(const char *queue, bool short_claim, uint64 d0);
extern void wf_signal_listen(const char *channel);

/* CREATE and DROP EXTENSION pg_wf, CREATE DATABASE */
extern void wf_signal_watchdog(void);
extern void wf_signal_launcher(Oid dboid);

/* _PG_init */
extern void wf_signal_init(void);

#endif							/* WF_SIGNAL_H */
