/*
 * wf_graph.h — the graph of a definition: name index, edges, cycles.
 * Free of jansson, so that the engine can look tasks up by name.
 */
#ifndef WF_GRAPH_H
#define WF_GRAPH_H

#include "pg_wf.h"

struct ParseState;

extern int	wf_task_index(const WfGraph *g, const char *name);

/* wf_json.c, while parsing */
extern void wf_build_name_index(WfGraph *g);
extern void wf_resolve_edges(struct ParseState *ps);
extern void wf_check_cycles(WfGraph *g);

#endif							/* WF_GRAPH_H */
