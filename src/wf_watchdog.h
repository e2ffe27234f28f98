/*
 * wf_watchdog.h — the watchdog: wf_tick() and its background worker.
 */
#ifndef WF_WATCHDOG_H
#define WF_WATCHDOG_H

extern void wf_watchdog_init(void);

#endif							/* WF_WATCHDOG_H */
