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
 * Layers (bottom to top): wf_parse.c (path errors, templates) ->
 * wf_graph.c (edges, joins, cycles) -> this file. Only these three files
 * include jansson.h (it clashes with PostgreSQL's JSON headers).
 */
#include "postgres.h"

#include <ctype.h>

#include <jansson.h>

#include "lib/stringinfo.h"

#include "pg_wf.h"
#include "wf_compile.h"
#include "wf_graph.h"
#include "wf_json.h"
#include "wf_parse.h"
#include "wf_util.h"

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

static const char *
get_name(json_t *v, const char *path, const char *what, bool (*valid) (const char *),
		 int maxlen, const char *hint)
{
	const char *s;

	if (!json_is_string(v))
		wf_def_error(path, NULL, "%s must be a string, not %s", what, wf_json_type_name(v));
	s = json_string_value(v);
	if (strlen(s) != json_string_length(v))
		wf_def_error(path, NULL, "%s must not contain NUL characters", what);
	if (strlen(s) > (size_t) maxlen)
		wf_def_error(path, NULL, "%s is %zu bytes long; the limit is %d",
					 what, strlen(s), maxlen);
	if (!valid(s))
		wf_def_error(path, hint, "%s \"%s\" is not valid", what, s);
	return s;
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
	const char *s = e->source;
	const char *p;
	int			maxrefs = 0;

	/*
	 * Skip an optional mode, then "$": a bare or filtered root reads
	 * everything.
	 */
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
	if (strchr(e->source, '*'))
		e->all_tasks = true;
	/* an escape in a quoted key can spell anything, "tasks" included */
	if (strchr(e->source, '\\'))
		e->all_tasks = true;

	for (p = strstr(e->source, "tasks"); p; p = strstr(p + 5, "tasks"))
	{
		bool		prev_dot = (p > e->source && p[-1] == '.');
		bool		at_root = (p >= e->source + 2 && prev_dot &&
							   (p[-2] == '$' || p[-2] == '@'));
		const char *n = p + 5;
		char		name[WF_MAX_NAME_LEN + 1];
		int			len = 0;
		int			idx;

		if (!prev_dot)
		{
			/* part of a longer word ("subtasks") is not a reference */
			if (p > e->source && (isalnum((unsigned char) p[-1]) || p[-1] == '_'))
				continue;
			e->all_tasks = true;
			continue;
		}
		if (p > e->source + 1 && !at_root)
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
		{
			while ((isalnum((unsigned char) *n) || *n == '_') && len < WF_MAX_NAME_LEN)
				name[len++] = *n++;
			while (*n == ' ' || *n == '\t' || *n == '\n' || *n == '\r')
				n++;
			if (*n == '(')
			{
				/* a method on $.tasks ($.tasks.keyvalue()), not a task */
				e->all_tasks = true;
				continue;
			}
		}
		name[len] = '\0';
		if (len == 0)
		{
			e->all_tasks = true;
			continue;
		}
		idx = wf_task_index(g, name);
		if (idx < 0)
			wf_def_error(path, NULL, "expression \"%s\" refers to unknown task \"%s\"",
						 e->source, name);
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
		wf_def_error(path, DURATION_HINT, "duration must be a string, not %s", wf_json_type_name(v));
	if (strlen(json_string_value(v)) != json_string_length(v))
		wf_def_error(path, DURATION_HINT, "duration must not contain NUL characters");
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
		wf_def_error(path, "For example {\"count\": 3, \"delay\": \"2s\", \"backoff\": 2}.",
					 "retry must be an object, not %s", wf_json_type_name(v));
	wf_check_keys(v, path, allowed,
				  "Retry keys are count, delay, backoff, max_delay and jitter.");
	x = json_object_get(v, "count");
	if (!x)
		wf_def_error(path, "count is the number of retries after the first attempt.",
					 "retry has no count");
	if (!json_is_integer(x) || json_integer_value(x) < 0 ||
		json_integer_value(x) > WF_MAX_RETRIES)
		wf_def_error(wf_path_key(path, "count"), NULL,
					 "count must be an integer from 0 to %d", WF_MAX_RETRIES);
	r->count = (int) json_integer_value(x);

	x = json_object_get(v, "delay");
	r->delay = x ? get_duration(x, wf_path_key(path, "delay"), true)
		: wf_duration_parse("0", path, true);
	x = json_object_get(v, "backoff");
	r->backoff = 1.0;
	if (x)
	{
		if (!json_is_number(x) || json_number_value(x) < 1.0 || json_number_value(x) > 100.0)
			wf_def_error(wf_path_key(path, "backoff"), "1 keeps the delay constant; 2 doubles it each retry.",
						 "backoff must be a number from 1 to 100");
		r->backoff = json_number_value(x);
	}
	x = json_object_get(v, "max_delay");
	if (x)
		r->max_delay = get_duration(x, wf_path_key(path, "max_delay"), false);
	x = json_object_get(v, "jitter");
	if (x)
	{
		if (!json_is_boolean(x))
			wf_def_error(wf_path_key(path, "jitter"), NULL, "jitter must be true or false, not %s",
						 wf_json_type_name(x));
		r->jitter = json_is_true(x);
	}
	return r;
}

/* {"while": "$.result...", "delay": "30s", "max": 1000} */
static WfRepeat *
parse_repeat(ParseState *ps, json_t *v, const char *path)
{
	static const char *const allowed[] = {"while", "delay", "max", NULL};
	WfRepeat   *r = palloc0(sizeof(WfRepeat));
	json_t	   *x;

	if (!json_is_object(v))
		wf_def_error(path, "For example {\"while\": \"$.result.status == \\\"running\\\"\", \"delay\": \"30s\", \"max\": 100}.",
					 "repeat must be an object, not %s", wf_json_type_name(v));
	wf_check_keys(v, path, allowed, "repeat has while, delay and max.");
	x = json_object_get(v, "while");
	if (!x)
		wf_def_error(path, "The task runs again after each success whose result makes \"while\" true.",
					 "repeat needs \"while\"");
	r->while_ = wf_parse_expression(ps, x, wf_path_key(path, "while"), "while",
									"For example \"$.result.status == \\\"running\\\"\".");
	x = json_object_get(v, "delay");
	if (x)
		r->delay = get_duration(x, wf_path_key(path, "delay"), true);
	r->max = WF_DEFAULT_ITERATIONS;
	x = json_object_get(v, "max");
	if (x)
	{
		if (!json_is_integer(x) || json_integer_value(x) < 1 ||
			json_integer_value(x) > WF_MAX_ITERATIONS)
			wf_def_error(wf_path_key(path, "max"), "max counts every iteration, the first included.",
						 "max must be an integer from 1 to %d", WF_MAX_ITERATIONS);
		r->max = (int) json_integer_value(x);
	}
	return r;
}

/* {"engine": "noop" | "fail" | "succeed" | "sleep"} and its options. */
static void
parse_engine(WfTask *t, json_t *v, const char *path)
{
	static const char *const attempt_keys[] = {"queue", "retry", "timeout", "delegate_timeout", NULL};
	bool		wait;
	json_t	   *x = json_object_get(v, "engine");
	const char *cmd;
	char	   *epath = wf_path_key(path, "engine");

	if (!json_is_string(x))
		wf_def_error(epath, NULL, "engine must be a string, not %s", wf_json_type_name(x));
	cmd = json_string_value(x);
	if (strcmp(cmd, "noop") == 0)
		t->engine = WF_ENGINE_NOOP;
	else if (strcmp(cmd, "fail") == 0)
		t->engine = WF_ENGINE_FAIL;
	else if (strcmp(cmd, "succeed") == 0)
		t->engine = WF_ENGINE_SUCCEED;
	else if (strcmp(cmd, "sleep") == 0)
		t->engine = WF_ENGINE_SLEEP;
	else if (strcmp(cmd, "wait") == 0)
		t->engine = WF_ENGINE_WAIT;
	else
		wf_def_error(epath, "Engine commands are noop, fail, succeed, sleep and wait.",
					 "unknown engine command \"%s\"", cmd);
	t->action = psprintf("engine.%s", cmd);
	wait = t->engine == WF_ENGINE_WAIT;
	for (int i = 0; attempt_keys[i]; i++)
		if (json_object_get(v, attempt_keys[i]) && !(wait && strcmp(attempt_keys[i], "timeout") == 0))
			wf_def_error(wf_path_key(path, attempt_keys[i]),
						 "The engine decides these tasks itself: no runner, no attempts.",
						 "%s does not apply to an engine task", attempt_keys[i]);
	x = json_object_get(v, "message");
	if (x)
	{
		if (!json_is_string(x))
			wf_def_error(wf_path_key(path, "message"), NULL, "message must be a string, not %s",
						 wf_json_type_name(x));
		t->message = pstrdup(json_string_value(x));
	}
	x = json_object_get(v, "for");
	if (t->engine == WF_ENGINE_SLEEP)
	{
		if (!x)
			wf_def_error(path, "For example {\"engine\": \"sleep\", \"for\": \"10s\"}.",
						 "a sleep needs \"for\": how long");
		t->sleep_for = get_duration(x, wf_path_key(path, "for"), false);
	}
}

/*
 * {"engine": "wait", "event": NAME | [NAME, ...], "key": TEMPLATE,
 *  "timeout": DURATION}: the event names, and the key's template (parsed
 * with the task's other templates; a literal or an expression).
 */
static void
parse_wait(ParseState *ps, WfTask *t, json_t *v, const char *path)
{
	static const char *const hint = "For example {\"engine\": \"wait\", \"event\": \"payment.received\", \"key\": \"$.input.order_id\", \"timeout\": \"3 days\"}.";
	json_t	   *ev = json_object_get(v, "event");
	json_t	   *key = json_object_get(v, "key");
	char	   *epath = wf_path_key(path, "event");

	if (t->engine != WF_ENGINE_WAIT)
	{
		if (ev || key)
			wf_def_error(wf_path_key(path, ev ? "event" : "key"), NULL,
						 "%s belongs to {\"engine\": \"wait\"} only", ev ? "event" : "key");
		return;
	}
	if (!ev)
		wf_def_error(path, hint, "a wait needs \"event\": the event name, or a list of them");
	if (!key)
		wf_def_error(path, hint, "a wait needs \"key\": which event of that name is its own (e.g. \"$.input.order_id\")");
	if (json_is_string(ev))
	{
		t->nevents = 1;
		t->events = palloc(sizeof(char *));
		t->events[0] = pstrdup(get_name(ev, epath, "event name", wf_is_action_name, WF_MAX_ACTION_LEN,
										"Event names are like action names: letters, digits, \"_\", \".\", \":\" or \"-\"."));
	}
	else if (json_is_array(ev) && json_array_size(ev) >= 1 && json_array_size(ev) <= WF_MAX_EVENTS)
	{
		size_t		i;
		json_t	   *e;

		t->nevents = json_array_size(ev);
		t->events = palloc(sizeof(char *) * t->nevents);
		json_array_foreach(ev, i, e)
		{
			t->events[i] = pstrdup(get_name(e, wf_path_index(epath, i), "event name", wf_is_action_name,
											WF_MAX_ACTION_LEN,
											"Event names are like action names: letters, digits, \"_\", \".\", \":\" or \"-\"."));
			for (size_t j = 0; j < i; j++)
				if (strcmp(t->events[j], t->events[i]) == 0)
					wf_def_error(wf_path_index(epath, i), NULL, "event \"%s\" is listed twice", t->events[i]);
		}
	}
	else
		wf_def_error(epath, "The first of the listed events to arrive wins.",
					 "event must be an event name or a list of 1 to %d of them", WF_MAX_EVENTS);
	if (!json_is_string(key) && !json_is_integer(key))
		wf_def_error(wf_path_key(path, "key"), hint, "key must be a string (a literal, or an expression such as \"$.input.order_id\"), not %s",
					 wf_json_type_name(key));
	t->wait_key = wf_parse_template(ps, key, wf_path_key(path, "key"));
}

/* queue, timeout, delegate_timeout, retry: of a task, or of task_defaults */
static void
parse_attempt_policy(WfTask *t, json_t *v, const char *path)
{
	json_t	   *x;

	x = json_object_get(v, "queue");
	if (x)
		t->queue = pstrdup(get_name(x, wf_path_key(path, "queue"), "queue", is_queue_name,
									WF_MAX_QUEUE_LEN,
									"Queue names are lower-case identifiers: a letter or \"_\", then lower-case letters, digits or \"_\"."));
	x = json_object_get(v, "timeout");
	if (x)
		t->timeout = get_duration(x, wf_path_key(path, "timeout"), false);
	x = json_object_get(v, "delegate_timeout");
	if (x)
		t->delegate_timeout = get_duration(x, wf_path_key(path, "delegate_timeout"), false);
	x = json_object_get(v, "retry");
	if (x)
		t->retry = parse_retry(x, wf_path_key(path, "retry"));
}

static void
parse_task(ParseState *ps, WfTask *t, const char *name, json_t *v, const char *path)
{
	static const char *const allowed[] =
	{"action", "concurrency", "delegate_timeout", "description", "engine", "event", "for", "for_each",
		"input", "join", "key", "message", "on_complete", "on_error", "on_success", "publish",
	"queue", "repeat", "requires", "retry", "timeout", "workflow", NULL};
	json_t	   *x;

	t->name = pstrdup(name);
	if (!json_is_object(v))
		wf_def_error(path, NULL, "task must be an object, not %s", wf_json_type_name(v));
	wf_check_keys(v, path, allowed,
				  "Task keys are action, engine or workflow, description, input, publish, requires, on_success, on_error, on_complete, join, for_each, concurrency, queue, retry, timeout, delegate_timeout, repeat, message, for, event and key.");

	x = json_object_get(v, "workflow");
	if (x)
	{
		static const char *const not_with[] = {"action", "engine", "queue", "timeout",
		"delegate_timeout", NULL};

		for (int i = 0; not_with[i]; i++)
			if (json_object_get(v, not_with[i]))
				wf_def_error(wf_path_key(path, not_with[i]),
							 "A sub-workflow task starts a child execution; the child's tasks have their own policies.",
							 "%s does not apply to a sub-workflow task", not_with[i]);
		t->workflow = pstrdup(get_name(x, wf_path_key(path, "workflow"), "workflow name",
									   wf_is_identifier, WF_MAX_NAME_LEN, IDENT_HINT));
		t->action = psprintf("workflow.%s", t->workflow);
	}
	x = json_object_get(v, "action");
	if (!x && !json_object_get(v, "engine") && !t->workflow)
		wf_def_error(path, "Every task names the action its runner performs, e.g. \"action\": \"email.send\", or an engine command, e.g. \"engine\": \"noop\".",
					 "task \"%s\" has no action", name);
	if (x && json_object_get(v, "engine"))
		wf_def_error(wf_path_key(path, "engine"), NULL,
					 "task \"%s\" has both an action and an engine command", name);
	if (x)
		t->action = pstrdup(get_name(x, wf_path_key(path, "action"), "action", wf_is_action_name,
									 WF_MAX_ACTION_LEN,
									 "Action names start with a letter or \"_\" and contain letters, digits, \"_\", \".\", \":\" or \"-\"."));
	else if (!t->workflow)
		parse_engine(t, v, path);
	if (!json_object_get(v, "message") || t->engine == WF_ENGINE_FAIL)
		;
	else
		wf_def_error(wf_path_key(path, "message"), NULL, "message belongs to {\"engine\": \"fail\"} only");
	if (json_object_get(v, "for") && t->engine != WF_ENGINE_SLEEP)
		wf_def_error(wf_path_key(path, "for"), NULL, "for belongs to {\"engine\": \"sleep\"} only");
	parse_wait(ps, t, v, path);

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
		wf_def_error(wf_path_key(path, "description"), NULL,
					 "description must be a string, not %s", wf_json_type_name(x));


	x = json_object_get(v, "input");
	if (x)
		t->input = wf_parse_template(ps, x, wf_path_key(path, "input"));

	x = json_object_get(v, "repeat");
	if (x)
	{
		char	   *rpath = wf_path_key(path, "repeat");

		if (t->engine != WF_ENGINE_NONE)
			wf_def_error(rpath, "Engine tasks cannot repeat; runner and sub-workflow tasks can.",
						 "repeat applies to a runner's or a sub-workflow task only");
		if (json_object_get(v, "for_each"))
			wf_def_error(rpath, "Repeat the work inside each item instead.",
						 "a for_each task cannot repeat");
		t->repeat = parse_repeat(ps, x, rpath);
	}
	x = json_object_get(v, "for_each");
	if (x)
	{
		char	   *fpath = wf_path_key(path, "for_each");

		t->for_each = wf_parse_expression(ps, x, fpath, "for_each",
										  "For example \"for_each\": \"$.input.orders\"; each item's input sees $.item and $.index.");
		if (t->engine != WF_ENGINE_NONE)
			wf_def_error(fpath, NULL, "an engine task cannot have for_each");
	}
	x = json_object_get(v, "concurrency");
	if (x)
	{
		if (!t->for_each)
			wf_def_error(wf_path_key(path, "concurrency"), NULL, "concurrency belongs to for_each tasks only");
		if (!json_is_integer(x) || json_integer_value(x) < 1 ||
			json_integer_value(x) > WF_MAX_ITEMS)
			wf_def_error(wf_path_key(path, "concurrency"), NULL,
						 "concurrency must be an integer from 1 to %d", WF_MAX_ITEMS);
		t->concurrency = (int) json_integer_value(x);
	}

	x = json_object_get(v, "publish");
	if (x)
	{
		const char *key;
		json_t	   *value;
		char	   *ppath = wf_path_key(path, "publish");

		if (!json_is_object(x))
			wf_def_error(ppath, "publish maps variable names to values or expressions.",
						 "publish must be an object, not %s", wf_json_type_name(x));
		json_object_foreach(x, key, value)
		{
			if (strlen(key) > WF_MAX_NAME_LEN || !wf_is_identifier(key))
				wf_def_error(wf_path_key(ppath, key), IDENT_HINT,
							 "variable name \"%s\" is not an identifier of at most %d bytes",
							 key, WF_MAX_NAME_LEN);
		}
		t->publish = wf_parse_template(ps, x, ppath);
	}
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
			char	   *ipath = wf_path_index(path, i);
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
				wf_def_error(ipath, "List a required key as \"key\" and an optional one as {\"key\": default}.",
							 "input entries must be a key name or an object with one key, not %s",
							 wf_json_type_name(item));
			if (*key == '\0' || strlen(key) > WF_MAX_NAME_LEN)
				wf_def_error(ipath, NULL, "input key must be 1 to %d bytes long", WF_MAX_NAME_LEN);
			for (int k = 0; k < g->ninputs; k++)
				if (strcmp(g->inputs[k].key, key) == 0)
					wf_def_error(ipath, NULL, "input key \"%s\" is listed twice", key);
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
				wf_def_error(wf_path_key(path, key), NULL, "input key must be 1 to %d bytes long",
							 WF_MAX_NAME_LEN);
			g->inputs[g->ninputs++].key = pstrdup(key);
		}
	}
	else
		wf_def_error(path, "Use a list of keys, [\"a\", {\"b\": default}], or an object of defaults.",
					 "input must be an array or an object, not %s", wf_json_type_name(v));
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
		wf_def_error("$", NULL, "definition is %zu bytes; the limit is %d bytes",
					 len, WF_MAX_DEFINITION_BYTES);
	root = json_loadb(text, len, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES, &jerr);
	if (!root)
		wf_def_error("$", NULL, "cannot read the definition: %s", jerr.text);
	if (!json_is_object(root))
		wf_def_error("$", "A definition is an object: {\"name\": ..., \"tasks\": {...}}.",
					 "definition must be an object, not %s", wf_json_type_name(root));
	wf_check_keys(root, "$", allowed,
				  "Definition keys are name, description, input, vars, task_defaults, timeout, tasks and output.");

	memset(&ps, 0, sizeof(ps));
	g = ps.g = palloc0(sizeof(WfGraph));
	g->cxt = CurrentMemoryContext;

	x = json_object_get(root, "name");
	if (!x)
		wf_def_error("$", "Add \"name\": \"my_workflow\".", "definition has no name");
	g->name = pstrdup(get_name(x, "$.name", "workflow name", wf_is_identifier,
							   WF_MAX_NAME_LEN, IDENT_HINT));

	x = json_object_get(root, "description");
	if (x && !json_is_string(x))
		wf_def_error("$.description", NULL, "description must be a string, not %s",
					 wf_json_type_name(x));

	x = json_object_get(root, "task_defaults");
	if (x)
	{
		static const char *const dkeys[] = {"delegate_timeout", "queue", "retry", "timeout", NULL};

		if (!json_is_object(x))
			wf_def_error("$.task_defaults", NULL, "task_defaults must be an object, not %s",
						 wf_json_type_name(x));
		wf_check_keys(x, "$.task_defaults", dkeys,
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
			wf_def_error("$.vars", "vars maps variable names to initial values or expressions over $.input.",
						 "vars must be an object, not %s", wf_json_type_name(x));
		g->vars = wf_parse_template(&ps, x, "$.vars");
	}

	x = json_object_get(root, "tasks");
	if (!x)
		wf_def_error("$", "Add \"tasks\": {\"first\": {\"action\": \"...\"}}.",
					 "definition has no tasks");
	if (!json_is_object(x))
		wf_def_error("$.tasks", NULL, "tasks must be an object mapping task names to tasks, not %s",
					 wf_json_type_name(x));
	if (json_object_size(x) == 0)
		wf_def_error("$.tasks", NULL, "a workflow needs at least one task");
	if (json_object_size(x) > WF_MAX_TASKS)
		wf_def_error("$.tasks", NULL, "workflow has %zu tasks; the limit is %d",
					 json_object_size(x), WF_MAX_TASKS);
	ps.tasks = x;

	g->ntasks = json_object_size(x);
	g->tasks = palloc0(sizeof(WfTask) * g->ntasks);
	i = 0;
	json_object_foreach(x, key, value)
	{
		char	   *tpath = wf_path_key("$.tasks", key);

		if (strlen(key) > WF_MAX_NAME_LEN)
			wf_def_error(tpath, NULL, "task name is %zu bytes long; the limit is %d",
						 strlen(key), WF_MAX_NAME_LEN);
		if (!wf_is_identifier(key))
			wf_def_error(tpath, IDENT_HINT, "task name \"%s\" is not an identifier", key);
		parse_task(&ps, &g->tasks[i++], key, value, tpath);
	}

	wf_build_name_index(g);
	wf_resolve_edges(&ps);
	wf_check_cycles(g);

	g->start = palloc(sizeof(int) * g->ntasks);
	for (i = 0; i < g->ntasks; i++)
		if (g->tasks[i].nrequires == 0)
			g->start[g->nstart++] = i;

	x = json_object_get(root, "input");
	if (x)
		parse_input_spec(g, x);

	x = json_object_get(root, "output");
	if (x)
		g->output = wf_parse_template(&ps, x, "$.output");

	for (i = 0; i < ps.npending; i++)
		resolve_refs(g, &ps.pending[i].tmpl->exprs[ps.pending[i].index],
					 ps.pending[i].path);

	json_decref(root);
	return g;
}
