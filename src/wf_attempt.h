/*
 * wf_attempt.h — what an attempt's success or failure leads to.
 */
#ifndef WF_ATTEMPT_H
#define WF_ATTEMPT_H

#include "wf_step.h"

extern WfTaskState wf_attempt_succeeded(WfStep *s, WfTaskRow *tr, Jsonb *result,
										Jsonb *detail);
extern WfTaskState wf_schedule_success(WfStep *s, WfTaskRow *tr, Jsonb *result,
									   Jsonb *detail);
extern bool wf_attempt_signalled(WfStep *s, int64 task_id, Jsonb *result);
extern bool wf_attempt_restart_child(WfStep *s, WfTaskRow *tr, Jsonb *input);
extern WfTaskState wf_attempt_failed(WfStep *s, WfTaskRow *tr, Jsonb *error,
									 bool expired, bool may_retry, Jsonb *detail);

#endif							/* WF_ATTEMPT_H */
