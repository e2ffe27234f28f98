/*
 * wf_execution.h — an execution's bookkeeping inside an engine step: tasks
 * made ready, the execution row, and how an execution ends.
 */
#ifndef WF_EXECUTION_H
#define WF_EXECUTION_H

#include "wf_step.h"

extern void wf_add_ready(WfStep *s, int idx);
extern Jsonb *wf_prepare_inputs(WfStep *s, Jsonb **ctx_out);
extern Jsonb *wf_publish(WfStep *s, WfTask *t, Jsonb *result);
extern void wf_update_execution(WfStep *s, WfExecState state, Jsonb *output, Jsonb *error);
extern void wf_cancel_rest(WfStep *s);
extern void wf_cancel_children(int64 parent_task_id, const char *reason);
extern void wf_fail_execution(WfStep *s, Jsonb *error);
extern void wf_finish_step(WfStep *s, Jsonb *failure);

#endif							/* WF_EXECUTION_H */
