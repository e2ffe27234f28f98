/*
 * wf_parse.h — what the jansson files share (wf_parse.c, wf_graph.c,
 * wf_json.c). Includes jansson.h, so no other file may include it.
 */
#ifndef WF_PARSE_H
#define WF_PARSE_H

#include <jansson.h>

#include "pg_wf.h"

/* Expressions found while walking templates, resolved once tasks are known. */
typedef struct PendingExpr
{
	WfTemplate *tmpl;			/* its exprs may still grow: keep an index */
	int			index;
	char	   *path;			/* where the expression was written */
} PendingExpr;

typedef struct ParseState
{
	WfGraph    *g;
	WfTask		defaults;		/* $.task_defaults */
	json_t	   *tasks;			/* $.tasks */
	PendingExpr *pending;
	int			npending;
	int			maxpending;
} ParseState;

#define IDENT_HINT "Names are identifiers: a letter or \"_\", then letters, digits or \"_\"."

extern void wf_def_error(const char *path, const char *hint, const char *fmt,...)
			pg_attribute_printf(3, 4) pg_attribute_noreturn();
extern bool wf_is_identifier(const char *s);
extern const char *wf_json_type_name(const json_t *v);
extern char *wf_path_key(const char *parent, const char *key);
extern char *wf_path_index(const char *parent, size_t i);
extern void wf_check_keys(json_t *obj, const char *path, const char *const *allowed,
						  const char *hint);
extern WfTemplate *wf_parse_template(ParseState *ps, json_t *v, const char *path);
extern WfTemplate *wf_parse_expression(ParseState *ps, json_t *v, const char *path,
									   const char *what, const char *hint);

#endif							/* WF_PARSE_H */
