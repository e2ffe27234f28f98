/*
 * wf_task.h — what runners and third parties call about one task
 * (wf_task_complete, _batch, _claim, wf_task_delegate, wf_heartbeat): the
 * SQL functions themselves, and the one setting this file defines.
 */
#ifndef WF_TASK_H
#define WF_TASK_H

extern void wf_task_init(void); /* _PG_init: pg_wf.complete_as_batch */

#endif							/* WF_TASK_H */
