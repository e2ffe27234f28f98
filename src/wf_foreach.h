/*
 * wf_foreach.h — for_each: one task instance per item.
 */
#ifndef WF_FOREACH_H
#define WF_FOREACH_H

#include "wf_step.h"

extern bool wf_foreach_start(WfStep *s, int idx, int64 *parent_id, bool *ended);
extern int	wf_foreach_take_items(WfStep *s, int idx, int max, int64 **ids, Jsonb ***inputs,
								  int **items);

/* What an item's success did to its for_each task. */
typedef enum WfForeachEnd
{
	WF_FOREACH_PENDING,			/* other items are still to finish */
	WF_FOREACH_SUCCEEDED,		/* it was the last: the task succeeded */
	WF_FOREACH_FAILED			/* it was the last, but the results are too
								 * large */
} WfForeachEnd;

extern WfForeachEnd wf_foreach_item_succeeded(WfStep *s, WfTaskRow *tr, int64 *parent_id,
											  Jsonb **result);
extern int64 wf_foreach_item_failed(WfStep *s, WfTaskRow *tr, Jsonb *error, Jsonb **doc);
extern int64 wf_foreach_fail(WfStep *s, int idx, Jsonb *doc);

#endif							/* WF_FOREACH_H */
