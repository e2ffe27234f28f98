/*
 * wf_queue.h — the claim, for the calls that end with one.
 */
#ifndef WF_QUEUE_H
#define WF_QUEUE_H

#include "fmgr.h"
#include "utils/tuplestore.h"

/* wf_task_complete_claim(): claim with the arguments from argno on */
extern void wf_claim_into(FunctionCallInfo fcinfo, int argno,
						  Tuplestorestate *ts, TupleDesc desc);

#endif							/* WF_QUEUE_H */
