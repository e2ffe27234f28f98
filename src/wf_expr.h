/*
 * wf_expr.h — run-time side of expressions (needs PostgreSQL's jsonb
 * headers, so it is kept apart from pg_wf.h, which wf_json.c includes).
 */
#ifndef WF_EXPR_H
#define WF_EXPR_H

#include "utils/jsonb.h"

#include "pg_wf.h"

/* What the context shows of one task. */
typedef struct WfTaskView
{
	const char *name;
	const char *state;
	Jsonb	   *result;			/* NULL: null */
	Jsonb	   *error;			/* NULL: null */
} WfTaskView;

extern Jsonb *wf_context(Jsonb *input, Jsonb *vars, int ntasks,
						 const WfTaskView *tasks, Jsonb *result, Jsonb *error);
extern Jsonb *wf_eval_template(WfTemplate *t, Jsonb *ctx, char **error);
extern Jsonb *wf_eval_items(WfTemplate *t, Jsonb *ctx, char **error);
extern Jsonb *wf_eval_item_template(WfTemplate *t, Jsonb *base, Jsonb *item, int index,
									Jsonb **cache, MemoryContext cachecxt, char **error);
extern Jsonb *wf_expr_failure(const char *task, const char *what, const char *message);
extern bool wf_template_refs(const WfTemplate *t, bool *all, bool *want);
extern Jsonb *wf_jsonb_string(const char *s);
extern Jsonb *wf_jsonb_array_empty(void);
extern Jsonb *wf_jsonb_bool(bool b);
extern Jsonb *wf_jsonb_int(int64 i);
extern Jsonb *wf_jsonb_object(int n, const char **keys, Jsonb **values);
extern Jsonb *wf_jsonb_concat(Jsonb *a, Jsonb *b);
extern Jsonb *wf_context_iteration(Jsonb *ctx, int iteration);
extern bool wf_jsonb_same(Jsonb *a, Jsonb *b);

#endif							/* WF_EXPR_H */
