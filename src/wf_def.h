/*
 * wf_def.h — wf_define() and the per-backend cache of compiled graphs.
 */
#ifndef WF_DEF_H
#define WF_DEF_H

#include "pg_wf.h"

extern WfGraph *wf_graph_get(const char *name, int version);
extern void wf_def_init(void);

#endif							/* WF_DEF_H */
