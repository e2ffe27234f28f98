/*
 * wf_wait.h — waits for events by correlation key, and kept events: the
 * rows of wf.wait and wf.signal, and the lock that makes a wait and a
 * signal with a ttl see each other.
 */
#ifndef WF_WAIT_H
#define WF_WAIT_H

#include "postgres.h"

#include "datatype/timestamp.h"
#include "utils/jsonb.h"

extern void wf_wait_lock(int nevents, char *const *events, const char *key);
extern Jsonb *wf_wait_kept(int nevents, char *const *events, const char *key);
extern void wf_wait_add(int64 exec_id, int64 task_id, int nevents, char *const *events,
						const char *key);
extern bool wf_wait_pending(int64 task_id);
extern void wf_wait_forget(int64 exec_id, int64 task_id);
extern Jsonb *wf_wait_result(const char *event, const char *key, Jsonb *payload,
							 TimestampTz at);
extern TimestampTz wf_wait_keep(const char *event, const char *key, Jsonb *payload,
								Interval *ttl, TimestampTz *at);
extern uint64 wf_wait_find(const char *event, const char *key, int64 **execs, int64 **tasks);

#endif							/* WF_WAIT_H */
