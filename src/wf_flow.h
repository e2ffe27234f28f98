/*
 * wf_flow.h — control flow inside an engine step: edges, joins, skips,
 * engine tasks, sub-workflows; and starting an execution.
 */
#ifndef WF_FLOW_H
#define WF_FLOW_H

#include "wf_step.h"

extern bool wf_flow_make_ready(WfStep *s, int idx);
extern bool wf_flow_task_ended(WfStep *s, int idx, int64 task_id, WfTaskState state,
							   Jsonb *result, Jsonb *error);
extern Jsonb *wf_flow_succeeded(WfStep *s, int idx, int64 task_id, Jsonb *result);
extern bool wf_flow_start_items(WfStep *s, int idx, int max);
extern Jsonb *wf_flow_launch_child(WfStep *s, int idx, int64 task_id, Jsonb *input,
								   int64 *child);
extern int64 wf_start_execution(const char *name, Jsonb *input, text *key);

#endif							/* WF_FLOW_H */
