/*
 * wf_json_int.h — shared by the two jansson files, wf_json.c (tasks and
 * templates) and wf_graph.c (edges, joins, cycles). Includes jansson.h, so
 * no other file may include it.
 */
#ifndef WF_JSON_INT_H
#define WF_JSON_INT_H

#include <jansson.h>

#include "pg_wf.h"

/* Expressions found while walking templates, resolved once tasks are known. */
typedef struct PendingExpr
{
	WfTemplate *tmpl;			/* its exprs array may still grow: keep an index */
	int			index;
	char	   *path;			/* where the expression was written */
} PendingExpr;

typedef struct ParseState
{
	WfGraph    *g;
	WfTask		defaults;		/* $.task_defaults: queue, retry, timeout, delegate_timeout */
	json_t	   *tasks;			/* $.tasks */
	PendingExpr *pending;
	int			npending;
	int			maxpending;
} ParseState;

#define IDENT_HINT "Names are identifiers: a letter or \"_\", then letters, digits or \"_\"."

extern void wf_def_error(const char *path, const char *hint, const char *fmt,...)
			pg_attribute_printf(3, 4) pg_attribute_noreturn();
extern const char *wf_json_type_name(const json_t *v);
extern char *wf_path_key(const char *parent, const char *key);
extern char *wf_path_index(const char *parent, size_t i);
extern void wf_check_keys(json_t *obj, const char *path, const char *const *allowed,
						  const char *hint);
extern WfTemplate *wf_parse_template(ParseState *ps, json_t *v, const char *path);

/* wf_graph.c */
extern void wf_build_name_index(WfGraph *g);
extern void wf_resolve_edges(ParseState *ps);
extern void wf_check_cycles(WfGraph *g);

#endif							/* WF_JSON_INT_H */
