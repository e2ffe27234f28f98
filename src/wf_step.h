/*
 * wf_step.h — an engine step: one locked execution, the task rows it
 * locks, and the expression context it reads. Every layer above this one
 * (execution bookkeeping, for_each, flow, attempts, the SQL calls) works on
 * a WfStep.
 */
#ifndef WF_STEP_H
#define WF_STEP_H

#include "utils/jsonb.h"

#include "pg_wf.h"
#include "wf_expr.h"
#include "wf_state.h"
#include "wf_store.h"

/* The locked execution and everything one engine step changes. */
typedef struct WfStep
{
	int64		exec_id;
	WfGraph    *g;
	WfExecState state;			/* the execution's state when locked */
	Jsonb	   *input;			/* NULL until wf_step_input() reads it */
	Jsonb	   *vars;			/* NULL until wf_step_vars() reads it */
	bool		vars_changed;	/* by a publish: written back at the end */
	int			active;			/* tasks ready, running or delegated */
	int64		parent_task_id; /* a sub-workflow: its parent's task, else 0 */
	int			depth;			/* sub-workflow nesting */
	bool		no_inbox;		/* ending it needs no word to its parent */
	WfEvents	ev;

	/*
	 * Where the step's end is written: its own batch, flushed when the
	 * execution row is stored (one statement), or, in wf_task_complete_batch,
	 * the batch's (one statement for all its steps).
	 */
	WfBatch    *batch;			/* the shared batch, or NULL */
	WfBatch    *own;			/* made when first needed */
	int			batch_slot;		/* its execution row in the batch, or 0 */

	/* tasks to insert as ready */
	int			nnew;
	int		   *new_tasks;		/* graph indexes */
	Datum	   *new_inputs;		/* jsonb */

	/* task rows read for expressions */
	int			nviews;
	WfTaskView *views;

	/* set by the flow (wf_flow.c) */
	bool		succeed_now;	/* an {"engine": "succeed"} ran */
	bool		inputs_ready;	/* new tasks' inputs evaluated (into ctx) */
	Jsonb	   *ctx;
	Jsonb	   *failure;		/* why the execution must fail */
} WfStep;

/* A locked task row. */
typedef struct WfTaskRow
{
	int64		id;
	char	   *name;
	WfTaskState state;
	bytea	   *token_hash;
	bytea	   *expired_hash;
	Jsonb	   *result;
	Jsonb	   *error;
	int			attempt;
	Interval   *lease;			/* lease length of the current attempt */
	bool		lease_passed;	/* lease_until < now() */
	bool		deadline_passed;	/* deadline < now() */
	int			idx;			/* in the graph */
	int			item;			/* for_each item index, or -1 */
	WfTask	   *def;
} WfTaskRow;

extern bool wf_step_open(WfStep *s, int64 exec_id, bool skip_locked);
extern void wf_step_open_task(WfStep *s, int64 task_id);
extern void wf_step_lock_task(WfStep *s, int64 task_id, WfTaskRow *tr);
extern bool wf_step_open_succeed(WfStep *s, int64 task_id, bytea *token_hash, Jsonb *result,
								 WfTaskRow *tr);
extern int	wf_step_open_batch(Datum task_ids, int64 **tasks, WfStep **steps);
extern uint64 wf_try_succeed_batch(Datum ids, Datum results, Datum hashes);
extern void wf_step_succeeded_row(WfStep *s, WfTaskRow *tr, int64 task_id, char *name,
								  int attempt, int item);
extern void wf_step_close(WfStep *s);
extern WfBatch *wf_step_batch(WfStep *s);

extern Jsonb *wf_step_vars(WfStep *s);
extern Jsonb *wf_step_context_for(WfStep *s, WfTemplate *const *tmpls, int n,
								  Jsonb *result, Jsonb *error);

#endif							/* WF_STEP_H */
