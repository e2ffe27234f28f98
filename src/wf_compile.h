/*
 * wf_compile.h — define-time checks of expressions and durations, and the
 * compilation of a parsed graph. Free of PostgreSQL's JSON headers, so the
 * jansson files can include it.
 */
#ifndef WF_COMPILE_H
#define WF_COMPILE_H

#include "pg_wf.h"

extern void wf_expr_check(const char *text, const char *where, bool whole);
extern Interval *wf_duration_parse(const char *text, const char *where, bool allow_zero);
extern void wf_graph_compile(WfGraph *g, Datum definition);

#endif							/* WF_COMPILE_H */
