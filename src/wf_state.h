/*
 * wf_state.h — the states of tasks and executions: one enum each, one name
 * table each (the text stored in wf.task.state, wf.execution.state and
 * wf.event.state). The state machines are written at the top of
 * wf_state.c.
 */
#ifndef WF_STATE_H
#define WF_STATE_H

typedef enum WfTaskState
{
	WF_TASK_READY,
	WF_TASK_RUNNING,
	WF_TASK_DELEGATED,
	WF_TASK_SUCCEEDED,
	WF_TASK_FAILED,
	WF_TASK_CANCELLED,
	WF_TASK_SKIPPED
} WfTaskState;

#define WF_TASK_NSTATES (WF_TASK_SKIPPED + 1)

typedef enum WfExecState
{
	WF_EXEC_RUNNING,
	WF_EXEC_PAUSED,
	WF_EXEC_SUCCEEDED,
	WF_EXEC_FAILED,
	WF_EXEC_CANCELLED
} WfExecState;

#define WF_EXEC_NSTATES (WF_EXEC_CANCELLED + 1)

extern const char *const wf_task_state_names[WF_TASK_NSTATES];
extern const char *const wf_exec_state_names[WF_EXEC_NSTATES];

extern WfTaskState wf_task_state_parse(const char *name);
extern WfExecState wf_exec_state_parse(const char *name);

#define wf_task_state_name(s) (wf_task_state_names[(s)])
#define wf_exec_state_name(s) (wf_exec_state_names[(s)])

/* Active: holds a place in wf.execution.active (ready, running, delegated). */
#define wf_task_is_active(s) \
	((s) == WF_TASK_READY || (s) == WF_TASK_RUNNING || (s) == WF_TASK_DELEGATED)

/* Finished: will not change again (unless wf_rerun). */
#define wf_task_is_finished(s) (!wf_task_is_active(s))

/* Live: not ended (running or paused). */
#define wf_exec_is_live(s) ((s) == WF_EXEC_RUNNING || (s) == WF_EXEC_PAUSED)

#endif							/* WF_STATE_H */
