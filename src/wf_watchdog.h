/*
 * wf_watchdog.h — the watchdog: wf_tick() and its background worker.
 */
#ifndef WF_WATCHDOG_H
#define WF_WATCHDOG_H

#include "datatype/timestamp.h"

extern void wf_watchdog_init(void);
extern void wf_watchdog_due(TimestampTz when);
extern int	wf_tick_run(int batch);

#endif							/* WF_WATCHDOG_H */
