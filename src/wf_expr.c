/*
 * wf_expr.c — expressions: PostgreSQL jsonpath over the execution context.
 *
 * A template is a JSON value in which a string starting with "$" is a
 * jsonpath expression and "$$..." is the literal "$...". Expressions are
 * parsed once per cached graph (jsonpath_in) and run by PostgreSQL's own
 * jsonpath engine (jsonb_path_query_array) against the context document
 *
 *     {"input": ..., "vars": ..., "tasks": {NAME: {"result", "error", "state"}},
 *      "result": ...}                               -- "result" in publish only
 *
 * One item is that item, none is null, several are an array. Templates are
 * walked as jsonb (no text or jansson round trip at run time). An expression
 * that raises an error (strict mode, arithmetic on a string) is caught in a
 * subtransaction and returned to the engine as a message, so that the engine
 * can fail the execution instead of refusing the completion that got there.
 */
#include "postgres.h"

#include "fmgr.h"
#include "utils/builtins.h"
#include "utils/fmgrprotos.h"
#include "utils/timestamp.h"
#include "utils/jsonb.h"
#include "utils/jsonpath.h"

#include "pg_wf.h"
#include "wf_expr.h"
#include "wf_store.h"

/* ---------------------------------------------------------------------
 * Run time
 * ---------------------------------------------------------------------
 */

/* Push a whole jsonb document as the value of a key or array element. */
static void
push_jsonb(JsonbParseState **st, JsonbIteratorToken tok, Jsonb *jb)
{
	JsonbValue	v;

	if (jb == NULL)
	{
		v.type = jbvNull;
		pushJsonbValue(st, tok, &v);
	}
	else if (JB_ROOT_IS_SCALAR(jb))
	{
		JsonbExtractScalar(&jb->root, &v);
		pushJsonbValue(st, tok, &v);
	}
	else
	{
		v.type = jbvBinary;
		v.val.binary.data = &jb->root;
		v.val.binary.len = VARSIZE(jb) - VARHDRSZ;
		pushJsonbValue(st, tok, &v);
	}
}

static void
push_key(JsonbParseState **st, const char *key)
{
	JsonbValue	k;

	k.type = jbvString;
	k.val.string.val = (char *) key;
	k.val.string.len = strlen(key);
	pushJsonbValue(st, WJB_KEY, &k);
}

Jsonb *
wf_jsonb_string(const char *s)
{
	JsonbValue	v;

	v.type = jbvString;
	v.val.string.val = (char *) s;
	v.val.string.len = strlen(s);
	return JsonbValueToJsonb(&v);
}

Jsonb *
wf_jsonb_array_empty(void)
{
	JsonbParseState *st = NULL;

	pushJsonbValue(&st, WJB_BEGIN_ARRAY, NULL);
	return JsonbValueToJsonb(pushJsonbValue(&st, WJB_END_ARRAY, NULL));
}

static Jsonb *
wf_jsonb_null(void)
{
	JsonbValue	v;

	v.type = jbvNull;
	return JsonbValueToJsonb(&v);
}

Jsonb *
wf_context(Jsonb *input, Jsonb *vars, int ntasks, const WfTaskView *tasks,
		   Jsonb *result, Jsonb *error)
{
	JsonbParseState *st = NULL;
	JsonbValue *res;

	pushJsonbValue(&st, WJB_BEGIN_OBJECT, NULL);
	push_key(&st, "input");
	push_jsonb(&st, WJB_VALUE, input);
	push_key(&st, "vars");
	push_jsonb(&st, WJB_VALUE, vars);
	push_key(&st, "tasks");
	pushJsonbValue(&st, WJB_BEGIN_OBJECT, NULL);
	for (int i = 0; i < ntasks; i++)
	{
		JsonbValue	sv;

		push_key(&st, tasks[i].name);
		pushJsonbValue(&st, WJB_BEGIN_OBJECT, NULL);
		push_key(&st, "result");
		push_jsonb(&st, WJB_VALUE, tasks[i].result);
		push_key(&st, "error");
		push_jsonb(&st, WJB_VALUE, tasks[i].error);
		push_key(&st, "state");
		sv.type = jbvString;
		sv.val.string.val = (char *) tasks[i].state;
		sv.val.string.len = strlen(tasks[i].state);
		pushJsonbValue(&st, WJB_VALUE, &sv);
		pushJsonbValue(&st, WJB_END_OBJECT, NULL);
	}
	pushJsonbValue(&st, WJB_END_OBJECT, NULL);
	if (result)
	{
		push_key(&st, "result");
		push_jsonb(&st, WJB_VALUE, result);
	}
	if (error)
	{
		push_key(&st, "error");
		push_jsonb(&st, WJB_VALUE, error);
	}
	res = pushJsonbValue(&st, WJB_END_OBJECT, NULL);
	return JsonbValueToJsonb(res);
}

Jsonb *
wf_jsonb_concat(Jsonb *a, Jsonb *b)
{
	return DatumGetJsonbP(DirectFunctionCall2(jsonb_concat, JsonbPGetDatum(a),
											  JsonbPGetDatum(b)));
}

/* The context ctx, with $.iteration (a repeating task's input and while). */
Jsonb *
wf_context_iteration(Jsonb *ctx, int iteration)
{
	const char *keys[] = {"iteration"};
	Jsonb	   *vals[] = {wf_jsonb_int(iteration)};

	return wf_jsonb_concat(ctx, wf_jsonb_object(1, keys, vals));
}

bool
wf_jsonb_same(Jsonb *a, Jsonb *b)
{
	if (a == NULL || b == NULL)
		return a == b;
	return compareJsonbContainers(&a->root, &b->root) == 0;
}

/* A one-level object {k1: v1, ...} from C strings and jsonb values (NULL: null). */
Jsonb *
wf_jsonb_object(int n, const char **keys, Jsonb **values)
{
	JsonbParseState *st = NULL;
	JsonbValue *res;

	pushJsonbValue(&st, WJB_BEGIN_OBJECT, NULL);
	for (int i = 0; i < n; i++)
	{
		push_key(&st, keys[i]);
		push_jsonb(&st, WJB_VALUE, values[i]);
	}
	res = pushJsonbValue(&st, WJB_END_OBJECT, NULL);
	return JsonbValueToJsonb(res);
}

/*
 * The error document of an expression that failed: {"type":
 * "expression_error", "task": task (or null), "message": "what: message"
 * (or the message alone)}.
 */
Jsonb *
wf_expr_failure(const char *task, const char *what, const char *message)
{
	const char *keys[] = {"type", "task", "message"};
	Jsonb	   *vals[] = {wf_jsonb_string("expression_error"),
		task ? wf_jsonb_string(task) : NULL,
	wf_jsonb_string(what ? psprintf("%s: %s", what, message) : message)};

	return wf_jsonb_object(3, keys, vals);
}

Jsonb *
wf_jsonb_int(int64 i)
{
	return DatumGetJsonbP(DirectFunctionCall1(jsonb_in,
											  CStringGetDatum(psprintf(INT64_FORMAT, i))));
}

Jsonb *
wf_jsonb_bool(bool b)
{
	JsonbValue	v;

	v.type = jbvBool;
	v.val.boolean = b;
	return JsonbValueToJsonb(&v);
}

/* Everything the expression yields, as an array (its sequence). */
static Jsonb *
eval_sequence(WfExpr *e, Jsonb *ctx)
{
	static Jsonb *no_vars = NULL;

	if (no_vars == NULL)
	{
		JsonbParseState *st = NULL;
		MemoryContext old = MemoryContextSwitchTo(TopMemoryContext);

		pushJsonbValue(&st, WJB_BEGIN_OBJECT, NULL);
		no_vars = JsonbValueToJsonb(pushJsonbValue(&st, WJB_END_OBJECT, NULL));
		MemoryContextSwitchTo(old);
	}
	return DatumGetJsonbP(DirectFunctionCall4(jsonb_path_query_array,
											  JsonbPGetDatum(ctx), e->path,
											  JsonbPGetDatum(no_vars),
											  BoolGetDatum(false)));
}

/* An expression's value: none is null, one is that item, more an array. */
static Jsonb *
eval_expr(WfExpr *e, Jsonb *ctx)
{
	Jsonb	   *arr = eval_sequence(e, ctx);
	uint32		n = JsonContainerSize(&arr->root);

	if (n == 0)
		return wf_jsonb_null();
	if (n == 1)
		return JsonbValueToJsonb(getIthJsonbValueFromContainer(&arr->root, 0));
	return arr;
}

/*
 * A for_each's items: the whole sequence the expression yields, except
 * that a sequence of one array is that array ("$.input.xs" and
 * "$.input.xs[*]" give the same items, for one item or none as for more).
 */
static Jsonb *
eval_items(WfExpr *e, Jsonb *ctx)
{
	Jsonb	   *arr = eval_sequence(e, ctx);
	JsonbValue *only;

	if (JsonContainerSize(&arr->root) != 1)
		return arr;
	only = getIthJsonbValueFromContainer(&arr->root, 0);
	if (only->type == jbvBinary && JsonContainerIsArray(only->val.binary.data))
		return JsonbValueToJsonb(only);
	return arr;
}

static WfExpr *
find_expr(WfTemplate *t, const char *s, int len)
{
	for (int i = 0; i < t->nexprs; i++)
		if (strncmp(t->exprs[i].source, s, len) == 0 && t->exprs[i].source[len] == '\0')
			return &t->exprs[i];
	elog(ERROR, "expression \"%.*s\" was not compiled", len, s);
	return NULL;				/* keep compiler quiet */
}

/*
 * What a template is evaluated against: a context, or for a for_each
 * item, the step's context (base) and the item's own {"item", "index"},
 * each expression getting only what it reads (WfItemUse): the base is not
 * copied once per item unless an expression reads both.
 */
typedef struct EvalEnv
{
	Jsonb	   *ctx;			/* the whole context (items: built on need) */
	Jsonb	   *base;			/* items: the step's context */
	Jsonb	   *item;			/* items: {"item": ..., "index": ...}, or NULL */
	Jsonb	  **cache;			/* items: WF_ITEM_FREE values, by expression */
	MemoryContext cachecxt;		/* where the cached values live */
	bool		items;			/* a for_each: the sequence (eval_items) */
} EvalEnv;

static Jsonb *
eval_in_env(WfTemplate *t, const char *s, int len, EvalEnv *env)
{
	WfExpr	   *e = find_expr(t, s, len);
	int			k = e - t->exprs;

	if (env->items)
		return eval_items(e, env->ctx);
	if (env->item == NULL)
		return eval_expr(e, env->ctx);
	switch (e->item_use)
	{
		case WF_ITEM_ONLY:
			return eval_expr(e, env->item);
		case WF_ITEM_FREE:
			if (env->cache[k] == NULL)
			{
				MemoryContext old = MemoryContextSwitchTo(env->cachecxt);

				env->cache[k] = eval_expr(e, env->base);
				MemoryContextSwitchTo(old);
			}
			return env->cache[k];
		case WF_ITEM_MIXED:
			break;
	}
	if (env->ctx == NULL)
		env->ctx = wf_jsonb_concat(env->base, env->item);
	return eval_expr(e, env->ctx);
}

static Jsonb *
eval_template(WfTemplate *t, EvalEnv *env)
{
	Jsonb	   *tpl = DatumGetJsonbP(t->value);
	JsonbIterator *it;
	JsonbParseState *st = NULL;
	JsonbValue	v;
	JsonbValue *res = NULL;
	JsonbIteratorToken tok;

	if (t->whole)
		return eval_in_env(t, t->exprs[0].source, strlen(t->exprs[0].source), env);
	if (JB_ROOT_IS_SCALAR(tpl))
	{
		JsonbExtractScalar(&tpl->root, &v);
		if (v.type != jbvString || v.val.string.len == 0 || v.val.string.val[0] != '$')
			return tpl;
		if (v.val.string.len > 1 && v.val.string.val[1] == '$')
		{
			v.val.string.val++;
			v.val.string.len--;
			return JsonbValueToJsonb(&v);
		}
		return eval_in_env(t, v.val.string.val, v.val.string.len, env);
	}

	it = JsonbIteratorInit(&tpl->root);
	while ((tok = JsonbIteratorNext(&it, &v, false)) != WJB_DONE)
	{
		if ((tok == WJB_VALUE || tok == WJB_ELEM) && v.type == jbvString &&
			v.val.string.len > 0 && v.val.string.val[0] == '$')
		{
			if (v.val.string.len > 1 && v.val.string.val[1] == '$')
			{
				v.val.string.val++;
				v.val.string.len--;
				res = pushJsonbValue(&st, tok, &v);
			}
			else
				push_jsonb(&st, tok, eval_in_env(t, v.val.string.val, v.val.string.len, env));
			continue;
		}
		res = pushJsonbValue(&st, tok, tok < WJB_BEGIN_ARRAY ? &v : NULL);
	}
	return JsonbValueToJsonb(res);
}

typedef struct EvalCall
{
	WfTemplate *t;
	EvalEnv    *env;
	Jsonb	   *result;
} EvalCall;

static void
eval_call(void *arg)
{
	EvalCall   *c = arg;

	c->result = eval_template(c->t, c->env);
}

static Jsonb *
eval_guarded(WfTemplate *t, EvalEnv *env, char **error)
{
	EvalCall	c = {t, env, NULL};

	*error = NULL;
	if (!t->dynamic)
		return DatumGetJsonbP(t->value);
	if (t->nexprs == 0)
		return eval_template(t, env);	/* "$$" escapes only: cannot fail */
	return wf_in_subxact(eval_call, &c, error) ? c.result : NULL;
}

/*
 * Evaluate a template against a context. On an expression error returns
 * NULL and sets *error to the message; nothing else is undone or kept.
 */
Jsonb *
wf_eval_template(WfTemplate *t, Jsonb *ctx, char **error)
{
	EvalEnv		env = {ctx, NULL, NULL, NULL, NULL, false};

	return eval_guarded(t, &env, error);
}

/*
 * Evaluate a for_each expression: its items, as an array unless the
 * template is a literal (see eval_items). Errors as wf_eval_template.
 */
Jsonb *
wf_eval_items(WfTemplate *t, Jsonb *ctx, char **error)
{
	EvalEnv		env = {ctx, NULL, NULL, NULL, NULL, true};

	return eval_guarded(t, &env, error);
}

/*
 * Evaluate a for_each item's input template: as wf_eval_template over base
 * plus {"item": item, "index": index}, without copying base for every item
 * (see EvalEnv). cache holds t->nexprs values shared by the items (zeroed
 * by the caller before the first item), allocated in cachecxt.
 */
Jsonb *
wf_eval_item_template(WfTemplate *t, Jsonb *base, Jsonb *item, int index,
					  Jsonb **cache, MemoryContext cachecxt, char **error)
{
	const char *keys[] = {"item", "index"};
	Jsonb	   *vals[] = {item, wf_jsonb_int(index)};
	EvalEnv		env = {NULL, base, wf_jsonb_object(2, keys, vals), cache, cachecxt, false};

	return eval_guarded(t, &env, error);
}

/* Does the template (or any template in the list) need every task? */
bool
wf_template_refs(const WfTemplate *t, bool *all, bool *want)
{
	bool		any = false;

	if (t == NULL)
		return false;
	for (int i = 0; i < t->nexprs; i++)
	{
		if (t->exprs[i].all_tasks)
			*all = true;
		for (int k = 0; k < t->exprs[i].nrefs; k++)
			want[t->exprs[i].refs[k]] = any = true;
	}
	return any || *all;
}
