/*
 * wf_state.c — the state machines of tasks and executions, and their
 * names. Owned here; DESIGN.md repeats them with pictures.
 *
 * Task states (wf.task.state):
 *
 *   ready ──claim──> running ──complete(success)──> succeeded
 *     ^                 │  └──delegate──> delegated ──callback──> succeeded | failed
 *     │                 └──complete(error), lease passed──┐  (deadline passed) ──┐
 *     └──────── retry left (not_before = now + back-off) <┴──────────────────────┘
 *                                          no retry left ──> failed
 *
 *   - ready:     waiting for a runner (wf_claim takes it once not_before
 *                has come and its execution is not paused);
 *   - running:   claimed, under a lease (a runner's task), or a for_each
 *                task waiting for its items, or a sub-workflow task waiting
 *                for its child execution;
 *   - delegated: handed to a third party with a callback token and an
 *                optional deadline; an {"engine": "sleep"} task waits here
 *                until its deadline (then it succeeds), and an {"engine":
 *                "wait"} until its event (or its timeout: it fails);
 *   - succeeded, failed: decided; failed only after the retries;
 *   - skipped:   decided without running: none of its inbound edges that
 *                it needs fired (dead-path elimination);
 *   - cancelled: the execution ended (failed, cancelled, an engine succeed)
 *                while the task was still active, or its for_each sibling
 *                failed.
 *   Active = ready, running or delegated: these count in
 *   wf.execution.active. The others are finished; only wf_rerun moves a
 *   failed or cancelled task back to ready.
 *
 * Execution states (wf.execution.state):
 *
 *   running <──pause/resume──> paused
 *   running ──nothing left active──> succeeded
 *   running | paused ──unhandled failure, expression error, timeout──> failed
 *   running | paused ──wf_cancel, parent task cancelled──> cancelled
 *   failed | cancelled ──wf_rerun──> running
 *
 *   Live = running or paused. Pausing holds the ready tasks (wf.task.held)
 *   until wf_resume; running and delegated ones may still complete.
 */
#include "postgres.h"

#include "wf_state.h"

const char *const wf_task_state_names[WF_TASK_NSTATES] = {
	[WF_TASK_READY] = "ready",
	[WF_TASK_RUNNING] = "running",
	[WF_TASK_DELEGATED] = "delegated",
	[WF_TASK_SUCCEEDED] = "succeeded",
	[WF_TASK_FAILED] = "failed",
	[WF_TASK_CANCELLED] = "cancelled",
	[WF_TASK_SKIPPED] = "skipped"
};

const char *const wf_exec_state_names[WF_EXEC_NSTATES] = {
	[WF_EXEC_RUNNING] = "running",
	[WF_EXEC_PAUSED] = "paused",
	[WF_EXEC_SUCCEEDED] = "succeeded",
	[WF_EXEC_FAILED] = "failed",
	[WF_EXEC_CANCELLED] = "cancelled"
};

WfTaskState
wf_task_state_parse(const char *name)
{
	for (int i = 0; i < WF_TASK_NSTATES; i++)
		if (strcmp(name, wf_task_state_names[i]) == 0)
			return (WfTaskState) i;
	elog(ERROR, "unknown task state \"%s\"", name);
	pg_unreachable();
}

WfExecState
wf_exec_state_parse(const char *name)
{
	for (int i = 0; i < WF_EXEC_NSTATES; i++)
		if (strcmp(name, wf_exec_state_names[i]) == 0)
			return (WfExecState) i;
	elog(ERROR, "unknown execution state \"%s\"", name);
	pg_unreachable();
}
