/*
 * wf_deliver.h — wf_signal(), and the deliveries it leaves to the watchdog.
 */
#ifndef WF_DELIVER_H
#define WF_DELIVER_H

#include "postgres.h"

#include "utils/jsonb.h"

/* A signal for one waiting task. */
typedef struct WfDelivery
{
	int64		id;				/* its wf.delivery row (queued), or 0 */
	int64		exec_id;
	int64		task_id;
	Jsonb	   *result;
	bool		locked;			/* out: the execution was busy */
	bool		delivered;		/* out: the task took the event */
} WfDelivery;

/* the watchdog's part: queued deliveries, each delivered as a step */
extern uint64 wf_deliveries_queued(int batch, WfDelivery **out);
extern void wf_deliver_queued(void *arg);

#endif							/* WF_DELIVER_H */
