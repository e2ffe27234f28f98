/*
 * wf_compile.c — expressions and durations at define time: check a
 * jsonpath or a duration as wf_define() reads it (refusing the definition
 * with the input function's message), and compile a parsed graph's
 * templates into jsonb and jsonpath once per cached graph (wf_def.c).
 * Free of jansson: wf_parse.c and wf_json.c call it through wf_compile.h.
 */
#include "postgres.h"

#include <ctype.h>

#include "fmgr.h"
#include "utils/builtins.h"
#include "utils/fmgrprotos.h"
#include "utils/jsonb.h"
#include "utils/jsonpath.h"
#include "utils/timestamp.h"

#include "pg_wf.h"
#include "wf_compile.h"
#include "wf_expr.h"
#include "wf_util.h"

/* ---------------------------------------------------------------------
 * Define time
 * ---------------------------------------------------------------------
 */

/*
 * Run a type's input function on definition text; if it refuses the text,
 * refuse the definition at "where", with the input function's message as
 * detail. Only the input function ran, so there is nothing to release but
 * memory, and the error is re-thrown at once.
 */
static Datum
input_or_refuse(PGFunction input, const char *text, const char *where,
				const char *what, const char *hint)
{
	MemoryContext oldcxt = CurrentMemoryContext;
	volatile Datum result = (Datum) 0;

	PG_TRY();
	{
		result = DirectFunctionCall3(input, CStringGetDatum(text),
									 ObjectIdGetDatum(InvalidOid), Int32GetDatum(-1));
	}
	PG_CATCH();
	{
		ErrorData  *edata;

		MemoryContextSwitchTo(oldcxt);
		edata = CopyErrorData();
		FlushErrorState();
		ereport(ERROR,
				(errcode(ERRCODE_WF_INVALID_DEFINITION),
				 errmsg("invalid workflow definition at %s: bad %s \"%s\"", where, what, text),
				 errdetail("%s", edata->message),
				 errhint("%s", hint)));
	}
	PG_END_TRY();
	return result;
}

/*
 * Refuse text that PostgreSQL's jsonpath parser refuses (whole: a value
 * that can only be an expression, such as a "when").
 */
void
wf_expr_check(const char *text, const char *where, bool whole)
{
	(void) input_or_refuse(jsonpath_in, text, where, "jsonpath expression",
						   whole ? "Write a PostgreSQL jsonpath, e.g. \"$.a\", \"lax $.a[*]\" or \"!($.a == 1)\"." :
						   "A string starting with \"$\" is a jsonpath expression; write \"$$\" for a literal \"$\".");
}

/*
 * A duration: PostgreSQL interval text, positive (or zero if allowed),
 * without months (a month has no fixed length for a lease).
 */
Interval *
wf_duration_parse(const char *text, const char *where, bool allow_zero)
{
	Interval   *iv = DatumGetIntervalP(input_or_refuse(interval_in, text, where, "duration",
													   "Durations are PostgreSQL interval text, e.g. \"30s\", \"5 minutes\", \"1 day\"."));

	if (iv->month != 0)
		ereport(ERROR,
				(errcode(ERRCODE_WF_INVALID_DEFINITION),
				 errmsg("invalid workflow definition at %s: duration \"%s\" uses months",
						where, text),
				 errhint("A month has no fixed length; use days.")));
	if (iv->day < 0 || iv->time < 0 ||
		(!allow_zero && iv->day == 0 && iv->time == 0))
		ereport(ERROR,
				(errcode(ERRCODE_WF_INVALID_DEFINITION),
				 errmsg("invalid workflow definition at %s: duration \"%s\" must be %s",
						where, text, allow_zero ? "zero or positive" : "positive"),
				 errhint("Negative parts are refused.")));
	if (wf_interval_usecs(iv) > (double) WF_MAX_DURATION_DAYS * USECS_PER_DAY)
		ereport(ERROR,
				(errcode(ERRCODE_WF_INVALID_DEFINITION),
				 errmsg("invalid workflow definition at %s: duration \"%s\" is longer than %d days",
						where, text, WF_MAX_DURATION_DAYS),
				 errhint("Durations are limited to ten years, so that now() plus any of them is a timestamp.")));
	return iv;
}

/* The jsonb value at key in an object container, or NULL. */
static Jsonb *
get_key(JsonbContainer *c, const char *key)
{
	JsonbValue	v;

	if (!JsonContainerIsObject(c) ||
		!getKeyJsonValueFromContainer(c, key, strlen(key), &v))
		return NULL;
	return JsonbValueToJsonb(&v);
}

/* Is p ".key" followed by something that cannot continue the key? */
static bool
root_key(const char *p, const char *key)
{
	size_t		n = strlen(key);

	return p[0] == '.' && strncmp(p + 1, key, n) == 0 &&
		!(isalnum((unsigned char) p[1 + n]) || p[1 + n] == '_' || p[1 + n] == '"');
}

/*
 * What an expression reads of a for_each item's context, from its source:
 * every "$" outside string literals followed by ".item" or ".index" is
 * WF_ITEM_ONLY; every one followed by ".input", ".vars" or ".tasks" is
 * WF_ITEM_FREE; anything else (a bare or filtered "$", a quoted key, a
 * wildcard, a variable, both kinds) is WF_ITEM_MIXED, which is always
 * right, only slower.
 */
static WfItemUse
item_use(const char *s)
{
	bool		item = false;
	bool		other = false;

	for (const char *p = s; *p; p++)
	{
		if (*p == '"')
		{
			/* a string literal: skip it, escapes included */
			for (p++; *p && *p != '"'; p++)
				if (*p == '\\' && p[1])
					p++;
			if (*p == '\0')
				break;
			continue;
		}
		if (*p != '$')
			continue;
		if (root_key(p + 1, "item") || root_key(p + 1, "index"))
			item = true;
		else if (root_key(p + 1, "input") || root_key(p + 1, "vars") ||
				 root_key(p + 1, "tasks"))
			other = true;
		else
			return WF_ITEM_MIXED;
	}
	if (item && other)
		return WF_ITEM_MIXED;
	return item ? WF_ITEM_ONLY : WF_ITEM_FREE;
}

static void
compile_template(WfTemplate *t, Jsonb *value)
{
	if (t == NULL)
		return;
	if (value == NULL)
		elog(ERROR, "template missing from the stored definition");
	t->value = JsonbPGetDatum(value);
	for (int i = 0; i < t->nexprs; i++)
	{
		t->exprs[i].path = DirectFunctionCall1(jsonpath_in,
											   CStringGetDatum(t->exprs[i].source));
		t->exprs[i].item_use = item_use(t->exprs[i].source);
	}
}

/*
 * Attach the jsonb templates (taken from the stored definition itself, so
 * numbers keep their exact value) and compile every jsonpath, in g->cxt.
 */
void
wf_graph_compile(WfGraph *g, Datum definition)
{
	MemoryContext oldcxt = MemoryContextSwitchTo(g->cxt);
	Jsonb	   *def = DatumGetJsonbP(definition);
	Jsonb	   *tasks = get_key(&def->root, "tasks");
	Jsonb	   *input;
	JsonbParseState *st = NULL;
	JsonbValue *res;

	for (int i = 0; i < g->ntasks; i++)
	{
		WfTask	   *t = &g->tasks[i];
		Jsonb	   *tdef = get_key(&tasks->root, t->name);

		compile_template(t->input, t->input ? get_key(&tdef->root, "input") : NULL);
		compile_template(t->publish, t->publish ? get_key(&tdef->root, "publish") : NULL);
		compile_template(t->wait_key, t->wait_key ? get_key(&tdef->root, "key") : NULL);
	}
	compile_template(g->output, g->output ? get_key(&def->root, "output") : NULL);
	compile_template(g->vars, g->vars ? get_key(&def->root, "vars") : NULL);

	/*
	 * A "when", "for_each" or "while" is one expression string: its template
	 * is that string.
	 */
	for (int i = 0; i < g->ntasks; i++)
	{
		if (g->tasks[i].for_each)
			compile_template(g->tasks[i].for_each,
							 wf_jsonb_string(g->tasks[i].for_each->exprs[0].source));
		if (g->tasks[i].repeat)
			compile_template(g->tasks[i].repeat->while_,
							 wf_jsonb_string(g->tasks[i].repeat->while_->exprs[0].source));
	}
	for (int i = 0; i < g->ntasks; i++)
		for (int k = 0; k < g->tasks[i].nedges; k++)
		{
			WfTemplate *w = g->tasks[i].edges[k].when;

			if (w)
				compile_template(w, wf_jsonb_string(w->exprs[0].source));
		}

	/* Defaults of the declared input, as one object. */
	pushJsonbValue(&st, WJB_BEGIN_OBJECT, NULL);
	input = get_key(&def->root, "input");
	if (input && JB_ROOT_IS_OBJECT(input))
	{
		JsonbIterator *it = JsonbIteratorInit(&input->root);
		JsonbValue	v;
		JsonbIteratorToken tok;

		while ((tok = JsonbIteratorNext(&it, &v, true)) != WJB_DONE)
			if (tok == WJB_KEY || tok == WJB_VALUE)
				pushJsonbValue(&st, tok, &v);
	}
	else if (input && JB_ROOT_IS_ARRAY(input))
	{
		JsonbIterator *it = JsonbIteratorInit(&input->root);
		JsonbValue	v;
		JsonbIteratorToken tok;

		while ((tok = JsonbIteratorNext(&it, &v, true)) != WJB_DONE)
		{
			if (tok == WJB_ELEM && v.type == jbvBinary &&
				JsonContainerIsObject(v.val.binary.data))
			{
				JsonbIterator *it2 = JsonbIteratorInit(v.val.binary.data);
				JsonbValue	v2;
				JsonbIteratorToken tok2;

				while ((tok2 = JsonbIteratorNext(&it2, &v2, true)) != WJB_DONE)
					if (tok2 == WJB_KEY || tok2 == WJB_VALUE)
						pushJsonbValue(&st, tok2, &v2);
			}
		}
	}
	res = pushJsonbValue(&st, WJB_END_OBJECT, NULL);
	g->input_defaults = JsonbPGetDatum(JsonbValueToJsonb(res));

	MemoryContextSwitchTo(oldcxt);
}
