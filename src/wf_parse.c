/*
 * wf_parse.c — the bottom of definition parsing (jansson), shared by
 * wf_graph.c and wf_json.c: refusals that name a JSON path, path building,
 * key checks, and templates (a JSON value whose "$..." strings are
 * jsonpath expressions, checked here and resolved once every task name is
 * known).
 */
#include "postgres.h"

#include <jansson.h>

#include "lib/stringinfo.h"

#include "pg_wf.h"
#include "wf_compile.h"
#include "wf_parse.h"

void
wf_def_error(const char *path, const char *hint, const char *fmt,...)
{
	char		problem[1024];
	va_list		args;

	va_start(args, fmt);
	vsnprintf(problem, sizeof(problem), fmt, args);
	va_end(args);

	ereport(ERROR,
			(errcode(ERRCODE_WF_INVALID_DEFINITION),
			 errmsg("invalid workflow definition at %s: %s", path, problem),
			 hint ? errhint("%s", hint) : 0));
}

const char *
wf_json_type_name(const json_t *v)
{
	switch (json_typeof(v))
	{
		case JSON_OBJECT:
			return "an object";
		case JSON_ARRAY:
			return "an array";
		case JSON_STRING:
			return "a string";
		case JSON_INTEGER:
		case JSON_REAL:
			return "a number";
		case JSON_TRUE:
		case JSON_FALSE:
			return "a boolean";
		case JSON_NULL:
			return "null";
	}
	return "unknown";
}

bool
wf_is_identifier(const char *s)
{
	if (!((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') || *s == '_'))
		return false;
	for (s++; *s; s++)
		if (!((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') ||
			  (*s >= '0' && *s <= '9') || *s == '_'))
			return false;
	return true;
}

/* Action names may also carry '.', ':' and '-' (e.g. "email.send"). */
char *
wf_path_key(const char *parent, const char *key)
{
	if (wf_is_identifier(key))
		return psprintf("%s.%s", parent, key);
	return psprintf("%s.\"%s\"", parent, key);
}

char *
wf_path_index(const char *parent, size_t i)
{
	return psprintf("%s[%zu]", parent, i);
}

/* Refuse keys outside the allowed list: unknown keys are never ignored. */
void
wf_check_keys(json_t *obj, const char *path, const char *const *allowed, const char *hint)
{
	const char *key;
	json_t	   *value;

	json_object_foreach(obj, key, value)
	{
		bool		found = false;

		for (int i = 0; allowed[i]; i++)
			if (strcmp(key, allowed[i]) == 0)
				found = true;
		if (!found)
			wf_def_error(wf_path_key(path, key), hint, "unknown key \"%s\"", key);
	}
}

static void
add_pending(ParseState *ps, WfTemplate *t, int index, const char *path)
{
	if (ps->npending == ps->maxpending)
	{
		ps->maxpending = ps->maxpending ? ps->maxpending * 2 : 16;
		ps->pending = ps->pending ?
			repalloc(ps->pending, sizeof(PendingExpr) * ps->maxpending) :
			palloc(sizeof(PendingExpr) * ps->maxpending);
	}
	ps->pending[ps->npending].tmpl = t;
	ps->pending[ps->npending].index = index;
	ps->pending[ps->npending].path = pstrdup(path);
	ps->npending++;
}

/* Add the expression of string v to the template (once per text). */
static void
add_expr(ParseState *ps, WfTemplate *t, json_t *v, const char *path)
{
	const char *s = json_string_value(v);

	if (strlen(s) != json_string_length(v))
		wf_def_error(path, NULL, "expression must not contain NUL characters");
	if (strlen(s) > WF_MAX_EXPR_LEN)
		wf_def_error(path, NULL, "expression is %zu bytes long; the limit is %d",
					 strlen(s), WF_MAX_EXPR_LEN);
	for (int i = 0; i < t->nexprs; i++)
		if (strcmp(t->exprs[i].source, s) == 0)
			return;
	wf_expr_check(s, path, t->whole);
	t->exprs = t->nexprs ?
		repalloc(t->exprs, sizeof(WfExpr) * (t->nexprs + 1)) :
		palloc(sizeof(WfExpr));
	memset(&t->exprs[t->nexprs], 0, sizeof(WfExpr));
	t->exprs[t->nexprs].source = pstrdup(s);
	add_pending(ps, t, t->nexprs, path);
	t->nexprs++;
}

/* Walk a template value: collect its expressions (deduplicated by text). */
static void
scan_template(ParseState *ps, WfTemplate *t, json_t *v, const char *path)
{
	switch (json_typeof(v))
	{
		case JSON_STRING:
			{
				const char *s = json_string_value(v);

				if (s[0] != '$')
					return;
				t->dynamic = true;
				if (s[1] == '$')
					return;		/* "$$..." is a literal */
				add_expr(ps, t, v, path);
				return;
			}
		case JSON_OBJECT:
			{
				const char *key;
				json_t	   *value;

				json_object_foreach(v, key, value)
					scan_template(ps, t, value, wf_path_key(path, key));
				return;
			}
		case JSON_ARRAY:
			{
				size_t		i;
				json_t	   *value;

				json_array_foreach(v, i, value)
					scan_template(ps, t, value, wf_path_index(path, i));
				return;
			}
		default:
			return;
	}
}

/*
 * A value that is one jsonpath expression, whatever it starts with ("when",
 * "for_each": "!($.x == 1)", "lax $.a", "strict $.a[*]" as well as "$.a").
 * hint and what name it in the error for anything else.
 */
WfTemplate *
wf_parse_expression(ParseState *ps, json_t *v, const char *path, const char *what,
					const char *hint)
{
	WfTemplate *t = palloc0(sizeof(WfTemplate));
	const char *s = json_is_string(v) ? json_string_value(v) : NULL;

	if (s == NULL || s[0] == '\0' || (s[0] == '$' && s[1] == '$'))
		wf_def_error(path, hint, "%s must be a jsonpath expression (a string such as \"$.a\")", what);
	t->dynamic = true;
	t->whole = true;
	add_expr(ps, t, v, path);
	return t;
}

WfTemplate *
wf_parse_template(ParseState *ps, json_t *v, const char *path)
{
	WfTemplate *t = palloc0(sizeof(WfTemplate));

	/* Expressions are resolved once every task name is known. */
	scan_template(ps, t, v, path);
	return t;
}
