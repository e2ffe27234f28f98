/*
 * wf_purge.h — retention: finished executions deleted in batches.
 */
#ifndef WF_PURGE_H
#define WF_PURGE_H

#include "datatype/timestamp.h"

/* the watchdog (pg_wf.retention) */
extern TimestampTz wf_purge_cutoff(const Interval *older_than);
extern int64 wf_purge_batch(TimestampTz cutoff, int limit);

#endif							/* WF_PURGE_H */
