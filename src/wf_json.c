/*
 * wf_json.c — parse and validate a workflow definition with jansson.
 *
 * A definition is checked once, at wf_define (and parsed again when a
 * backend first needs a version it has not cached). Every refusal names the
 * JSON path of the offending element, e.g. $.tasks.ship.requires[0], and
 * nothing is stored. This file builds the structure of the compiled graph
 * (WfGraph: tasks, edges, expressions); wf_expr.c then attaches the jsonb
 * templates and compiled jsonpaths.
 *
 * Only this file includes jansson.h (it clashes with PostgreSQL's JSON
 * headers); everything it shares goes through pg_wf.h.
 */
#include "postgres.h"

#include <ctype.h>

#include <jansson.h>

#include "lib/stringinfo.h"

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

static void def_error(const char *path, const char *hint, const char *fmt,...)
			pg_attribute_printf(3, 4) pg_attribute_noreturn();

static void
def_error(const char *path, const char *hint, const char *fmt,...)
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

/* jansson allocates through palloc: an error unwinds its memory too. */
static void *
wf_json_malloc(size_t size)
{
	return palloc(size > 0 ? size : 1);
}

static void
wf_json_free(void *ptr)
{
	if (ptr)
		pfree(ptr);
}

void
wf_json_init(void)
{
	json_set_alloc_funcs(wf_json_malloc, wf_json_free);
}

static const char *
json_type_name(const json_t *v)
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

static bool
is_identifier(const char *s)
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
static bool
is_action_name(const char *s)
{
	if (!((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') || *s == '_'))
		return false;
	for (s++; *s; s++)
		if (!((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') ||
			  (*s >= '0' && *s <= '9') || *s == '_' || *s == '.' ||
			  *s == ':' || *s == '-'))
			return false;
	return true;
}

/* Queue names are lower-case identifiers, so that LISTEN wf_<queue> works unquoted. */
static bool
is_queue_name(const char *s)
{
	if (!((*s >= 'a' && *s <= 'z') || *s == '_'))
		return false;
	for (s++; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || *s == '_'))
			return false;
	return true;
}

static char *
path_key(const char *parent, const char *key)
{
	if (is_identifier(key))
		return psprintf("%s.%s", parent, key);
	return psprintf("%s.\"%s\"", parent, key);
}

static char *
path_index(const char *parent, size_t i)
{
	return psprintf("%s[%zu]", parent, i);
}

/* Refuse keys outside the allowed list: unknown keys are never ignored. */
static void
check_keys(json_t *obj, const char *path, const char *const *allowed, const char *hint)
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
			def_error(path_key(path, key), hint, "unknown key \"%s\"", key);
	}
}

static const char *
get_name(json_t *v, const char *path, const char *what, bool (*valid) (const char *),
		 int maxlen, const char *hint)
{
	const char *s;

	if (!json_is_string(v))
		def_error(path, NULL, "%s must be a string, not %s", what, json_type_name(v));
	s = json_string_value(v);
	if (strlen(s) != json_string_length(v))
		def_error(path, NULL, "%s must not contain NUL characters", what);
	if (strlen(s) > (size_t) maxlen)
		def_error(path, NULL, "%s is %zu bytes long; the limit is %d",
				  what, strlen(s), maxlen);
	if (!valid(s))
		def_error(path, hint, "%s \"%s\" is not valid", what, s);
	return s;
}

#define IDENT_HINT "Names are identifiers: a letter or \"_\", then letters, digits or \"_\"."

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
				if (strlen(s) != json_string_length(v))
					def_error(path, NULL, "expression must not contain NUL characters");
				if (strlen(s) > WF_MAX_EXPR_LEN)
					def_error(path, NULL, "expression is %zu bytes long; the limit is %d",
							  strlen(s), WF_MAX_EXPR_LEN);
				for (int i = 0; i < t->nexprs; i++)
					if (strcmp(t->exprs[i].text, s) == 0)
						return;
				wf_expr_check(s, path);
				t->exprs = t->nexprs ?
					repalloc(t->exprs, sizeof(WfExpr) * (t->nexprs + 1)) :
					palloc(sizeof(WfExpr));
				memset(&t->exprs[t->nexprs], 0, sizeof(WfExpr));
				t->exprs[t->nexprs].text = pstrdup(s);
				add_pending(ps, t, t->nexprs, path);
				t->nexprs++;
				return;
			}
		case JSON_OBJECT:
			{
				const char *key;
				json_t	   *value;

				json_object_foreach(v, key, value)
					scan_template(ps, t, value, path_key(path, key));
				return;
			}
		case JSON_ARRAY:
			{
				size_t		i;
				json_t	   *value;

				json_array_foreach(v, i, value)
					scan_template(ps, t, value, path_index(path, i));
				return;
			}
		default:
			return;
	}
}

static WfTemplate *
parse_template(ParseState *ps, json_t *v, const char *path)
{
	WfTemplate *t = palloc0(sizeof(WfTemplate));

	/* Expressions are resolved once every task name is known. */
	scan_template(ps, t, v, path);
	return t;
}

/*
 * Which tasks an expression reads: "$.tasks.NAME" / "@.tasks.NAME" name one
 * task; any other use of "tasks", a wildcard, or a path that is the whole
 * context needs all of them. The engine then loads only what is read, so a
 * completion does not cost more as an execution grows.
 */
static void
resolve_refs(WfGraph *g, WfExpr *e, const char *path)
{
	const char *s = e->text;
	const char *p;
	int			maxrefs = 0;

	/* Skip an optional mode, then "$": a bare or filtered root reads everything. */
	while (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r')
		s++;
	if (strncmp(s, "lax", 3) == 0 || strncmp(s, "strict", 6) == 0)
	{
		s += (*s == 'l') ? 3 : 6;
		while (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r')
			s++;
	}
	if (s[0] == '$' && s[1] != '.')
		e->all_tasks = true;
	if (strchr(e->text, '*'))
		e->all_tasks = true;

	for (p = strstr(e->text, "tasks"); p; p = strstr(p + 5, "tasks"))
	{
		bool		prev_dot = (p > e->text && p[-1] == '.');
		bool		at_root = (p >= e->text + 2 && prev_dot &&
							   (p[-2] == '$' || p[-2] == '@'));
		const char *n = p + 5;
		char		name[WF_MAX_NAME_LEN + 1];
		int			len = 0;
		int			idx;

		if (!prev_dot)
		{
			/* part of a longer word ("subtasks") is not a reference */
			if (p > e->text && (isalnum((unsigned char) p[-1]) || p[-1] == '_'))
				continue;
			e->all_tasks = true;
			continue;
		}
		if (p > e->text + 1 && !at_root)
			continue;			/* a key named "tasks" somewhere else */
		if (*n != '.')
		{
			if (isalnum((unsigned char) *n) || *n == '_')
				continue;		/* "$.tasksx" */
			e->all_tasks = true;
			continue;
		}
		n++;
		if (*n == '"')
		{
			for (n++; *n && *n != '"' && len < WF_MAX_NAME_LEN; n++)
				name[len++] = *n;
			if (*n != '"')
			{
				e->all_tasks = true;
				continue;
			}
		}
		else
			while ((isalnum((unsigned char) *n) || *n == '_') && len < WF_MAX_NAME_LEN)
				name[len++] = *n++;
		name[len] = '\0';
		if (len == 0)
		{
			e->all_tasks = true;
			continue;
		}
		idx = wf_task_index(g, name);
		if (idx < 0)
			def_error(path, NULL, "expression \"%s\" refers to unknown task \"%s\"",
					  e->text, name);
		if (e->nrefs == maxrefs)
		{
			maxrefs = maxrefs ? maxrefs * 2 : 4;
			e->refs = e->refs ? repalloc(e->refs, sizeof(int) * maxrefs) :
				palloc(sizeof(int) * maxrefs);
		}
		e->refs[e->nrefs++] = idx;
	}
}

#define DURATION_HINT "Durations are PostgreSQL interval text, e.g. \"30s\", \"5 minutes\", \"1 day\"."

static Interval *
get_duration(json_t *v, const char *path, bool allow_zero)
{
	if (!json_is_string(v))
		def_error(path, DURATION_HINT, "duration must be a string, not %s", json_type_name(v));
	if (strlen(json_string_value(v)) != json_string_length(v))
		def_error(path, DURATION_HINT, "duration must not contain NUL characters");
	return wf_duration_parse(json_string_value(v), path, allow_zero);
}

static WfRetry *
parse_retry(json_t *v, const char *path)
{
	static const char *const allowed[] =
	{"backoff", "count", "delay", "jitter", "max_delay", NULL};
	WfRetry    *r = palloc0(sizeof(WfRetry));
	json_t	   *x;

	if (!json_is_object(v))
		def_error(path, "For example {\"count\": 3, \"delay\": \"2s\", \"backoff\": 2}.",
				  "retry must be an object, not %s", json_type_name(v));
	check_keys(v, path, allowed,
			   "Retry keys are count, delay, backoff, max_delay and jitter.");
	x = json_object_get(v, "count");
	if (!x)
		def_error(path, "count is the number of retries after the first attempt.",
				  "retry has no count");
	if (!json_is_integer(x) || json_integer_value(x) < 0 ||
		json_integer_value(x) > WF_MAX_RETRIES)
		def_error(path_key(path, "count"), NULL,
				  "count must be an integer from 0 to %d", WF_MAX_RETRIES);
	r->count = (int) json_integer_value(x);

	x = json_object_get(v, "delay");
	r->delay = x ? get_duration(x, path_key(path, "delay"), true)
		: wf_duration_parse("0", path, true);
	x = json_object_get(v, "backoff");
	r->backoff = 1.0;
	if (x)
	{
		if (!json_is_number(x) || json_number_value(x) < 1.0 || json_number_value(x) > 100.0)
			def_error(path_key(path, "backoff"), "1 keeps the delay constant; 2 doubles it each retry.",
					  "backoff must be a number from 1 to 100");
		r->backoff = json_number_value(x);
	}
	x = json_object_get(v, "max_delay");
	if (x)
		r->max_delay = get_duration(x, path_key(path, "max_delay"), false);
	x = json_object_get(v, "jitter");
	if (x)
	{
		if (!json_is_boolean(x))
			def_error(path_key(path, "jitter"), NULL, "jitter must be true or false, not %s",
					  json_type_name(x));
		r->jitter = json_is_true(x);
	}
	return r;
}

/* {"engine": "noop" | "fail" | "succeed" | "sleep"} and its options. */
static void
parse_engine(WfTask *t, json_t *v, const char *path)
{
	static const char *const attempt_keys[] = {"queue", "retry", "timeout", "delegate_timeout", NULL};
	json_t	   *x = json_object_get(v, "engine");
	const char *cmd;
	char	   *epath = path_key(path, "engine");

	if (!json_is_string(x))
		def_error(epath, NULL, "engine must be a string, not %s", json_type_name(x));
	cmd = json_string_value(x);
	if (strcmp(cmd, "noop") == 0)
		t->engine = WF_ENGINE_NOOP;
	else if (strcmp(cmd, "fail") == 0)
		t->engine = WF_ENGINE_FAIL;
	else if (strcmp(cmd, "succeed") == 0)
		t->engine = WF_ENGINE_SUCCEED;
	else if (strcmp(cmd, "sleep") == 0)
		t->engine = WF_ENGINE_SLEEP;
	else
		def_error(epath, "Engine commands are noop, fail, succeed and sleep.",
				  "unknown engine command \"%s\"", cmd);
	t->action = psprintf("engine.%s", cmd);
	for (int i = 0; attempt_keys[i]; i++)
		if (json_object_get(v, attempt_keys[i]))
			def_error(path_key(path, attempt_keys[i]),
					  "The engine decides these tasks itself: no runner, no attempts.",
					  "%s does not apply to an engine task", attempt_keys[i]);
	x = json_object_get(v, "message");
	if (x)
	{
		if (!json_is_string(x))
			def_error(path_key(path, "message"), NULL, "message must be a string, not %s",
					  json_type_name(x));
		t->message = pstrdup(json_string_value(x));
	}
	x = json_object_get(v, "for");
	if (t->engine == WF_ENGINE_SLEEP)
	{
		if (!x)
			def_error(path, "For example {\"engine\": \"sleep\", \"for\": \"10s\"}.",
					  "a sleep needs \"for\": how long");
		t->sleep_for = get_duration(x, path_key(path, "for"), false);
	}
}

/* queue, timeout, delegate_timeout, retry: of a task, or of task_defaults */
static void
parse_attempt_policy(WfTask *t, json_t *v, const char *path)
{
	json_t	   *x;

	x = json_object_get(v, "queue");
	if (x)
		t->queue = pstrdup(get_name(x, path_key(path, "queue"), "queue", is_queue_name,
									WF_MAX_QUEUE_LEN,
									"Queue names are lower-case identifiers: a letter or \"_\", then lower-case letters, digits or \"_\"."));
	x = json_object_get(v, "timeout");
	if (x)
		t->timeout = get_duration(x, path_key(path, "timeout"), false);
	x = json_object_get(v, "delegate_timeout");
	if (x)
		t->delegate_timeout = get_duration(x, path_key(path, "delegate_timeout"), false);
	x = json_object_get(v, "retry");
	if (x)
		t->retry = parse_retry(x, path_key(path, "retry"));
}

static void
parse_task(ParseState *ps, WfTask *t, const char *name, json_t *v, const char *path)
{
	static const char *const allowed[] =
	{"action", "concurrency", "delegate_timeout", "description", "engine", "for", "for_each",
		"input", "join", "message", "on_complete", "on_error", "on_success", "publish",
	"queue", "requires", "retry", "timeout", "workflow", NULL};
	json_t	   *x;

	t->name = pstrdup(name);
	if (!json_is_object(v))
		def_error(path, NULL, "task must be an object, not %s", json_type_name(v));
	check_keys(v, path, allowed,
			   "Task keys are action, engine or workflow, description, input, publish, requires, on_success, on_error, on_complete, join, for_each, concurrency, queue, retry, timeout, delegate_timeout, message and for.");

	x = json_object_get(v, "workflow");
	if (x)
	{
		static const char *const not_with[] = {"action", "engine", "queue", "retry", "timeout",
		"delegate_timeout", "for_each", NULL};

		for (int i = 0; not_with[i]; i++)
			if (json_object_get(v, not_with[i]))
				def_error(path_key(path, not_with[i]),
						  "A sub-workflow task starts a child execution; the child's tasks have their own policies.",
						  "%s does not apply to a sub-workflow task", not_with[i]);
		t->workflow = pstrdup(get_name(x, path_key(path, "workflow"), "workflow name",
									   is_identifier, WF_MAX_NAME_LEN, IDENT_HINT));
		t->action = psprintf("workflow.%s", t->workflow);
	}
	x = json_object_get(v, "action");
	if (!x && !json_object_get(v, "engine") && !t->workflow)
		def_error(path, "Every task names the action its runner performs, e.g. \"action\": \"email.send\", or an engine command, e.g. \"engine\": \"noop\".",
				  "task \"%s\" has no action", name);
	if (x && json_object_get(v, "engine"))
		def_error(path_key(path, "engine"), NULL,
				  "task \"%s\" has both an action and an engine command", name);
	if (x)
		t->action = pstrdup(get_name(x, path_key(path, "action"), "action", is_action_name,
									 WF_MAX_ACTION_LEN,
									 "Action names start with a letter or \"_\" and contain letters, digits, \"_\", \".\", \":\" or \"-\"."));
	else if (!t->workflow)
		parse_engine(t, v, path);
	if (!json_object_get(v, "message") || t->engine == WF_ENGINE_FAIL)
		;
	else
		def_error(path_key(path, "message"), NULL, "message belongs to {\"engine\": \"fail\"} only");
	if (json_object_get(v, "for") && t->engine != WF_ENGINE_SLEEP)
		def_error(path_key(path, "for"), NULL, "for belongs to {\"engine\": \"sleep\"} only");

	parse_attempt_policy(t, v, path);
	if (t->engine == WF_ENGINE_NONE && t->workflow == NULL)
	{
		/* what the task does not say, task_defaults does */
		if (!json_object_get(v, "queue") && ps->defaults.queue)
			t->queue = ps->defaults.queue;
		if (!json_object_get(v, "timeout"))
			t->timeout = ps->defaults.timeout;
		if (!json_object_get(v, "delegate_timeout"))
			t->delegate_timeout = ps->defaults.delegate_timeout;
		if (!json_object_get(v, "retry"))
			t->retry = ps->defaults.retry;
	}
	if (t->queue == NULL)
		t->queue = WF_DEFAULT_QUEUE;

	x = json_object_get(v, "description");
	if (x && !json_is_string(x))
		def_error(path_key(path, "description"), NULL,
				  "description must be a string, not %s", json_type_name(x));


	x = json_object_get(v, "input");
	if (x)
		t->input = parse_template(ps, x, path_key(path, "input"));

	x = json_object_get(v, "for_each");
	if (x)
	{
		char	   *fpath = path_key(path, "for_each");
		const char *fs = json_is_string(x) ? json_string_value(x) : NULL;

		if (fs == NULL || fs[0] != '$' || fs[1] == '$')
			def_error(fpath, "For example \"for_each\": \"$.input.orders\"; each item's input sees $.item and $.index.",
					  "for_each must be a jsonpath expression (a string starting with \"$\")");
		if (t->engine != WF_ENGINE_NONE)
			def_error(fpath, NULL, "an engine task cannot have for_each");
		t->for_each = parse_template(ps, x, fpath);
	}
	x = json_object_get(v, "concurrency");
	if (x)
	{
		if (!t->for_each)
			def_error(path_key(path, "concurrency"), NULL, "concurrency belongs to for_each tasks only");
		if (!json_is_integer(x) || json_integer_value(x) < 1 ||
			json_integer_value(x) > WF_MAX_ITEMS)
			def_error(path_key(path, "concurrency"), NULL,
					  "concurrency must be an integer from 1 to %d", WF_MAX_ITEMS);
		t->concurrency = (int) json_integer_value(x);
	}

	x = json_object_get(v, "publish");
	if (x)
	{
		const char *key;
		json_t	   *value;
		char	   *ppath = path_key(path, "publish");

		if (!json_is_object(x))
			def_error(ppath, "publish maps variable names to values or expressions.",
					  "publish must be an object, not %s", json_type_name(x));
		json_object_foreach(x, key, value)
		{
			if (strlen(key) > WF_MAX_NAME_LEN || !is_identifier(key))
				def_error(path_key(ppath, key), IDENT_HINT,
						  "variable name \"%s\" is not an identifier of at most %d bytes",
						  key, WF_MAX_NAME_LEN);
		}
		t->publish = parse_template(ps, x, ppath);
	}
}

static const WfGraph *sort_graph;

static int
cmp_task_name(const void *a, const void *b)
{
	return strcmp(sort_graph->tasks[*(const int *) a].name,
				  sort_graph->tasks[*(const int *) b].name);
}

/* Task names sorted, so that name lookups are binary searches. */
static void
build_name_index(WfGraph *g)
{
	g->by_name = palloc(sizeof(int) * g->ntasks);
	for (int i = 0; i < g->ntasks; i++)
		g->by_name[i] = i;
	sort_graph = g;
	qsort(g->by_name, g->ntasks, sizeof(int), cmp_task_name);
	sort_graph = NULL;
}

int
wf_task_index(const WfGraph *g, const char *name)
{
	int			lo = 0,
				hi = g->ntasks - 1;

	while (lo <= hi)
	{
		int			mid = (lo + hi) / 2;
		int			c = strcmp(g->tasks[g->by_name[mid]].name, name);

		if (c == 0)
			return g->by_name[mid];
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid - 1;
	}
	return -1;
}

/* An edge before it is placed in its source's list. */
typedef struct RawEdge
{
	int			source;
	WfEdge		edge;
	char	   *path;
} RawEdge;

typedef struct EdgeList
{
	RawEdge    *e;
	int			n;
	int			max;
} EdgeList;

static void
add_edge(EdgeList *l, WfGraph *g, int source, int target, WfEdgeKind kind,
		 WfTemplate *when, char *path)
{
	for (int i = 0; i < l->n; i++)
		if (l->e[i].source == source && l->e[i].edge.target == target)
			def_error(path, "Use on_complete for \"either way\", or one condition per edge.",
					  "task \"%s\" leads to \"%s\" twice (also at %s)",
					  g->tasks[source].name, g->tasks[target].name, l->e[i].path);
	if (l->n == l->max)
	{
		l->max = l->max ? l->max * 2 : 16;
		l->e = l->e ? repalloc(l->e, sizeof(RawEdge) * l->max) : palloc(sizeof(RawEdge) * l->max);
	}
	l->e[l->n].source = source;
	l->e[l->n].edge.target = target;
	l->e[l->n].edge.kind = kind;
	l->e[l->n].edge.when = when;
	l->e[l->n].path = path;
	l->n++;
}

static int
edge_target(WfGraph *g, int source, const char *name, const char *path, const char *what)
{
	int			idx = wf_task_index(g, name);

	if (idx < 0)
		def_error(path, NULL, "task \"%s\" %s unknown task \"%s\"", g->tasks[source].name, what, name);
	if (idx == source)
		def_error(path, "A task runs at most once per execution: loops are refused (use for_each or a sub-workflow).",
				  "task \"%s\" %s itself", g->tasks[source].name, what);
	return idx;
}

/* on_success / on_error / on_complete of task i */
static void
parse_transitions(ParseState *ps, EdgeList *l, int i, const char *key, WfEdgeKind kind)
{
	static const char *const allowed[] = {"task", "when", NULL};
	WfGraph    *g = ps->g;
	char	   *tpath = path_key("$.tasks", g->tasks[i].name);
	char	   *kpath = path_key(tpath, key);
	json_t	   *list = json_object_get(json_object_get(ps->tasks, g->tasks[i].name), key);
	size_t		j;
	json_t	   *entry;

	if (!list)
		return;
	if (!json_is_array(list))
		def_error(kpath, "List task names or {\"task\": NAME, \"when\": \"$...\"} objects.",
				  "%s must be an array, not %s", key, json_type_name(list));
	json_array_foreach(list, j, entry)
	{
		char	   *epath = path_index(kpath, j);
		WfTemplate *when = NULL;
		json_t	   *name = entry;

		if (json_is_object(entry))
		{
			json_t	   *w = json_object_get(entry, "when");

			check_keys(entry, epath, allowed, "A transition is {\"task\": NAME, \"when\": \"$...\"}.");
			name = json_object_get(entry, "task");
			if (!name)
				def_error(epath, NULL, "transition has no task");
			if (w)
			{
				const char *ws = json_is_string(w) ? json_string_value(w) : NULL;

				if (ws == NULL || ws[0] != '$' || ws[1] == '$')
					def_error(path_key(epath, "when"), "For example \"$.result.ok == true\".",
							  "when must be a jsonpath expression (a string starting with \"$\")");
				when = parse_template(ps, w, path_key(epath, "when"));
			}
		}
		if (!json_is_string(name))
			def_error(json_is_object(entry) ? path_key(epath, "task") : epath, NULL,
					  "transition targets are task names (strings), not %s", json_type_name(name));
		add_edge(l, g, i, edge_target(g, i, json_string_value(name), epath, "leads to"),
				 kind, when, epath);
	}
}

/*
 * Build the edges once all task names are known: requires (success edges
 * into the task) and transitions (edges out of it); then each task's
 * out-edge list, in-degree and join.
 */
static void
resolve_edges(ParseState *ps)
{
	WfGraph    *g = ps->g;
	EdgeList	l = {NULL, 0, 0};

	for (int i = 0; i < g->ntasks; i++)
	{
		WfTask	   *t = &g->tasks[i];
		char	   *tpath = path_key("$.tasks", t->name);
		char	   *rpath = path_key(tpath, "requires");
		json_t	   *req = json_object_get(json_object_get(ps->tasks, t->name), "requires");
		size_t		j;
		json_t	   *r;

		if (!req)
			continue;
		if (!json_is_array(req))
			def_error(rpath, "requires lists the names of tasks that must succeed first.",
					  "requires must be an array, not %s", json_type_name(req));
		json_array_foreach(req, j, r)
		{
			char	   *epath = path_index(rpath, j);
			int			idx;

			if (!json_is_string(r))
				def_error(epath, NULL, "requires entries must be task names (strings), not %s",
						  json_type_name(r));
			idx = wf_task_index(g, json_string_value(r));
			if (idx < 0)
				def_error(epath, NULL, "task \"%s\" requires unknown task \"%s\"", t->name,
						  json_string_value(r));
			if (idx == i)
				def_error(epath, NULL, "task \"%s\" requires itself", t->name);
			for (int k = 0; k < l.n; k++)
				if (l.e[k].source == idx && l.e[k].edge.target == i)
					def_error(epath, NULL, "task \"%s\" requires \"%s\" twice", t->name,
							  json_string_value(r));
			add_edge(&l, g, idx, i, WF_EDGE_SUCCESS, NULL, epath);
		}
	}
	for (int i = 0; i < g->ntasks; i++)
	{
		parse_transitions(ps, &l, i, "on_success", WF_EDGE_SUCCESS);
		parse_transitions(ps, &l, i, "on_error", WF_EDGE_ERROR);
		parse_transitions(ps, &l, i, "on_complete", WF_EDGE_COMPLETE);
	}

	for (int k = 0; k < l.n; k++)
	{
		g->tasks[l.e[k].source].nedges++;
		g->tasks[l.e[k].edge.target].nrequires++;
	}
	for (int i = 0; i < g->ntasks; i++)
	{
		g->tasks[i].edges = palloc(sizeof(WfEdge) * Max(g->tasks[i].nedges, 1));
		g->tasks[i].requires = palloc(sizeof(int) * Max(g->tasks[i].nrequires, 1));
		g->tasks[i].nedges = g->tasks[i].nrequires = 0;
	}
	for (int k = 0; k < l.n; k++)
	{
		WfTask	   *src = &g->tasks[l.e[k].source];
		WfTask	   *dst = &g->tasks[l.e[k].edge.target];

		src->edges[src->nedges++] = l.e[k].edge;
		dst->requires[dst->nrequires++] = l.e[k].source;
	}

	for (int i = 0; i < g->ntasks; i++)
	{
		WfTask	   *t = &g->tasks[i];
		json_t	   *x = json_object_get(json_object_get(ps->tasks, t->name), "join");
		char	   *jpath = path_key(path_key("$.tasks", t->name), "join");

		if (!x)
			continue;
		if (t->nrequires < 2)
			def_error(jpath, "A join decides between several inbound edges.",
					  "task \"%s\" has %d inbound edge%s; join needs at least 2",
					  t->name, t->nrequires, t->nrequires == 1 ? "" : "s");
		if (json_is_string(x) && strcmp(json_string_value(x), "all") == 0)
			continue;
		if (!json_is_integer(x) || json_integer_value(x) < 1 ||
			json_integer_value(x) > t->nrequires)
			def_error(jpath, "join is \"all\" or how many inbound edges must fire.",
					  "join must be \"all\" or an integer from 1 to %d", t->nrequires);
		t->join = (int) json_integer_value(x);
		if (t->join == t->nrequires)
			t->join = 0;
	}
}

/*
 * Refuse cycles (Kahn's algorithm). Every task left over lies on or after a
 * cycle and has a left-over predecessor, so walking predecessors from any of
 * them must revisit one: that loop is the cycle we report.
 */
static void
check_cycles(WfGraph *g)
{
	int		   *indeg = palloc(sizeof(int) * g->ntasks);
	int		   *queue = palloc(sizeof(int) * g->ntasks);
	int			head = 0,
				tail = 0;
	int		   *seen;
	int			cur;
	StringInfoData buf;

	for (int i = 0; i < g->ntasks; i++)
	{
		indeg[i] = g->tasks[i].nrequires;
		if (indeg[i] == 0)
			queue[tail++] = i;
	}
	while (head < tail)
	{
		WfTask	   *t = &g->tasks[queue[head++]];

		for (int k = 0; k < t->nedges; k++)
			if (--indeg[t->edges[k].target] == 0)
				queue[tail++] = t->edges[k].target;
	}
	if (tail == g->ntasks)
		return;

	/* seen[i] = step at which the walk visited i, or -1 */
	seen = palloc(sizeof(int) * g->ntasks);
	for (int i = 0; i < g->ntasks; i++)
		seen[i] = -1;
	for (cur = 0; indeg[cur] == 0; cur++)
		;
	for (int step = 0; seen[cur] < 0; step++)
	{
		WfTask	   *t = &g->tasks[cur];

		seen[cur] = step;
		for (int k = 0; k < t->nrequires; k++)
			if (indeg[t->requires[k]] > 0)
			{
				queue[step] = cur;
				cur = t->requires[k];
				break;
			}
	}

	/* The walk went backwards along requires; print the cycle forwards. */
	initStringInfo(&buf);
	appendStringInfoString(&buf, g->tasks[cur].name);
	{
		int			first = seen[cur];
		int			last = 0;

		for (int i = 0; i < g->ntasks; i++)
			if (seen[i] > last)
				last = seen[i];
		for (int s = last; s >= first; s--)
			appendStringInfo(&buf, " -> %s", g->tasks[queue[s]].name);
	}
	def_error(path_key("$.tasks", g->tasks[cur].name),
			  "A task runs at most once per execution: loops are refused (use for_each or a sub-workflow).",
			  "tasks form a cycle: %s", buf.data);
}

static void
parse_input_spec(WfGraph *g, json_t *v)
{
	const char *path = "$.input";

	g->has_input_spec = true;
	if (json_is_array(v))
	{
		size_t		i;
		json_t	   *item;

		g->inputs = palloc0(sizeof(WfInputKey) * Max(json_array_size(v), 1));
		json_array_foreach(v, i, item)
		{
			char	   *ipath = path_index(path, i);
			const char *key = NULL;

			if (json_is_string(item))
			{
				key = json_string_value(item);
				g->inputs[g->ninputs].required = true;
			}
			else if (json_is_object(item) && json_object_size(item) == 1)
			{
				json_t	   *dummy pg_attribute_unused();

				json_object_foreach(item, key, dummy)
					break;
			}
			else
				def_error(ipath, "List a required key as \"key\" and an optional one as {\"key\": default}.",
						  "input entries must be a key name or an object with one key, not %s",
						  json_type_name(item));
			if (*key == '\0' || strlen(key) > WF_MAX_NAME_LEN)
				def_error(ipath, NULL, "input key must be 1 to %d bytes long", WF_MAX_NAME_LEN);
			for (int k = 0; k < g->ninputs; k++)
				if (strcmp(g->inputs[k].key, key) == 0)
					def_error(ipath, NULL, "input key \"%s\" is listed twice", key);
			g->inputs[g->ninputs++].key = pstrdup(key);
		}
	}
	else if (json_is_object(v))
	{
		const char *key;
		json_t	   *value;

		g->inputs = palloc0(sizeof(WfInputKey) * Max(json_object_size(v), 1));
		json_object_foreach(v, key, value)
		{
			if (*key == '\0' || strlen(key) > WF_MAX_NAME_LEN)
				def_error(path_key(path, key), NULL, "input key must be 1 to %d bytes long",
						  WF_MAX_NAME_LEN);
			g->inputs[g->ninputs++].key = pstrdup(key);
		}
	}
	else
		def_error(path, "Use a list of keys, [\"a\", {\"b\": default}], or an object of defaults.",
				  "input must be an array or an object, not %s", json_type_name(v));
}

WfGraph *
wf_parse_definition(const char *text, size_t len)
{
	static const char *const allowed[] =
	{"description", "input", "name", "output", "task_defaults", "tasks", "timeout", "vars", NULL};
	ParseState	ps;
	WfGraph    *g;
	json_error_t jerr;
	json_t	   *root;
	json_t	   *x;
	const char *key;
	json_t	   *value;
	int			i;

	if (len > WF_MAX_DEFINITION_BYTES)
		def_error("$", NULL, "definition is %zu bytes; the limit is %d bytes",
				  len, WF_MAX_DEFINITION_BYTES);
	root = json_loadb(text, len, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES, &jerr);
	if (!root)
		def_error("$", NULL, "cannot read the definition: %s", jerr.text);
	if (!json_is_object(root))
		def_error("$", "A definition is an object: {\"name\": ..., \"tasks\": {...}}.",
				  "definition must be an object, not %s", json_type_name(root));
	check_keys(root, "$", allowed,
			   "Definition keys are name, description, input, vars, task_defaults, timeout, tasks and output.");

	memset(&ps, 0, sizeof(ps));
	g = ps.g = palloc0(sizeof(WfGraph));
	g->cxt = CurrentMemoryContext;

	x = json_object_get(root, "name");
	if (!x)
		def_error("$", "Add \"name\": \"my_workflow\".", "definition has no name");
	g->name = pstrdup(get_name(x, "$.name", "workflow name", is_identifier,
							   WF_MAX_NAME_LEN, IDENT_HINT));

	x = json_object_get(root, "description");
	if (x && !json_is_string(x))
		def_error("$.description", NULL, "description must be a string, not %s",
				  json_type_name(x));

	x = json_object_get(root, "task_defaults");
	if (x)
	{
		static const char *const dkeys[] = {"delegate_timeout", "queue", "retry", "timeout", NULL};

		if (!json_is_object(x))
			def_error("$.task_defaults", NULL, "task_defaults must be an object, not %s",
					  json_type_name(x));
		check_keys(x, "$.task_defaults", dkeys,
				   "task_defaults may set queue, retry, timeout and delegate_timeout.");
		parse_attempt_policy(&ps.defaults, x, "$.task_defaults");
	}
	x = json_object_get(root, "timeout");
	if (x)
		g->timeout = get_duration(x, "$.timeout", false);
	x = json_object_get(root, "vars");
	if (x)
	{
		if (!json_is_object(x))
			def_error("$.vars", "vars maps variable names to initial values or expressions over $.input.",
					  "vars must be an object, not %s", json_type_name(x));
		g->vars = parse_template(&ps, x, "$.vars");
	}

	x = json_object_get(root, "tasks");
	if (!x)
		def_error("$", "Add \"tasks\": {\"first\": {\"action\": \"...\"}}.",
				  "definition has no tasks");
	if (!json_is_object(x))
		def_error("$.tasks", NULL, "tasks must be an object mapping task names to tasks, not %s",
				  json_type_name(x));
	if (json_object_size(x) == 0)
		def_error("$.tasks", NULL, "a workflow needs at least one task");
	if (json_object_size(x) > WF_MAX_TASKS)
		def_error("$.tasks", NULL, "workflow has %zu tasks; the limit is %d",
				  json_object_size(x), WF_MAX_TASKS);
	ps.tasks = x;

	g->ntasks = json_object_size(x);
	g->tasks = palloc0(sizeof(WfTask) * g->ntasks);
	i = 0;
	json_object_foreach(x, key, value)
	{
		char	   *tpath = path_key("$.tasks", key);

		if (strlen(key) > WF_MAX_NAME_LEN)
			def_error(tpath, NULL, "task name is %zu bytes long; the limit is %d",
					  strlen(key), WF_MAX_NAME_LEN);
		if (!is_identifier(key))
			def_error(tpath, IDENT_HINT, "task name \"%s\" is not an identifier", key);
		parse_task(&ps, &g->tasks[i++], key, value, tpath);
	}

	build_name_index(g);
	resolve_edges(&ps);
	check_cycles(g);

	g->start = palloc(sizeof(int) * g->ntasks);
	for (i = 0; i < g->ntasks; i++)
		if (g->tasks[i].nrequires == 0)
			g->start[g->nstart++] = i;

	x = json_object_get(root, "input");
	if (x)
		parse_input_spec(g, x);

	x = json_object_get(root, "output");
	if (x)
		g->output = parse_template(&ps, x, "$.output");

	for (i = 0; i < ps.npending; i++)
		resolve_refs(g, &ps.pending[i].tmpl->exprs[ps.pending[i].index],
					 ps.pending[i].path);

	json_decref(root);
	return g;
}
