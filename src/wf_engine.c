/*
 * wf_engine.c — the state machine: wf_start() and wf_task_complete().
 *
 * Concurrency contract (DESIGN.md), owned by this file:
 *
 *  - Every engine transaction touches one execution. It locks the
 *    execution row first (FOR NO KEY UPDATE), then task rows. Never the
 *    reverse. Completions in different executions never wait on each other;
 *    completions in one execution serialise on its row, so a join sees each
 *    of its branches exactly once.
 *  - A completion must present the token of the task's current attempt.
 *    After the lock is taken the task's state is checked again: a task that
 *    is no longer running cannot be completed, a finished task accepts only
 *    an identical repeat (a no-op), and a NULL token is an operator override
 *    that only the extension's owner or a superuser may use.
 *
 * Work per completion is proportional to the finishing task's out-edges:
 * a successor with one inbound edge becomes ready at once; a join counts
 * arrivals in wf.join_state (one row per waiting join) and fires when the
 * count reaches its in-degree. The execution row keeps the number of tasks
 * that are ready or running ("active"), so finding that nothing is left is
 * O(1). Expressions read only the task rows they name (see wf_json.c).
 *
 * Task states: ready -> running -> succeeded | failed; ready/running ->
 * cancelled when the execution ends first. Execution states: running ->
 * succeeded | failed | cancelled.
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/fmgrprotos.h"
#include "utils/jsonb.h"

#include "pg_wf.h"
#include "wf_expr.h"
#include "wf_queue.h"
#include "wf_store.h"

PG_FUNCTION_INFO_V1(wf_start);
PG_FUNCTION_INFO_V1(wf_task_complete);

/* The locked execution and everything one engine transaction changes. */
typedef struct Step
{
	int64		exec_id;
	WfGraph    *g;
	Jsonb	   *input;
	Jsonb	   *vars;
	int			active;			/* tasks ready or running */
	WfEvents	ev;

	/* tasks to insert as ready */
	int			nnew;
	int		   *new_tasks;		/* graph indexes */
	Datum	   *new_inputs;		/* jsonb */

	/* task rows read for expressions */
	int			nviews;
	WfTaskView *views;
} Step;

static WfPlan plan_insert_tasks = {
	"INSERT INTO wf.task (execution_id, name, action, queue, input, state) "
	"SELECT $1, u.name, u.action, u.queue, u.input, 'ready' "
	"FROM unnest($2::pg_catalog.text[], $3::pg_catalog.text[], "
	"$4::pg_catalog.text[], $5::pg_catalog.jsonb[]) AS u(name, action, queue, input) "
	"RETURNING id, name",
	5, {INT8OID, TEXTARRAYOID, TEXTARRAYOID, TEXTARRAYOID, JSONBARRAYOID}
};

static WfPlan plan_update_execution = {
	"UPDATE wf.execution SET active = $2, vars = $3, state = $4, output = $5, "
	"error = $6, updated_at = pg_catalog.now(), "
	"finished_at = CASE WHEN $4 = 'running' THEN NULL ELSE pg_catalog.now() END "
	"WHERE id = $1",
	6, {INT8OID, INT4OID, JSONBOID, TEXTOID, JSONBOID, JSONBOID}
};

static WfPlan plan_views_named = {
	"SELECT name, state, result, error FROM wf.task "
	"WHERE execution_id = $1 AND name = ANY ($2)",
	2, {INT8OID, TEXTARRAYOID}
};

static WfPlan plan_views_all = {
	"SELECT name, state, result, error FROM wf.task WHERE execution_id = $1",
	1, {INT8OID}
};

static Jsonb *
jsonb_concat2(Jsonb *a, Jsonb *b)
{
	return DatumGetJsonbP(DirectFunctionCall2(jsonb_concat, JsonbPGetDatum(a),
											  JsonbPGetDatum(b)));
}

static bool
jsonb_same(Jsonb *a, Jsonb *b)
{
	if (a == NULL || b == NULL)
		return a == b;
	return compareJsonbContainers(&a->root, &b->root) == 0;
}

/* A one-level object {k1: v1, ...} from C strings and jsonb values. */
static Jsonb *
make_object(int n, const char **keys, Jsonb **values)
{
	JsonbParseState *st = NULL;
	JsonbValue *res;

	pushJsonbValue(&st, WJB_BEGIN_OBJECT, NULL);
	for (int i = 0; i < n; i++)
	{
		JsonbValue	k;
		JsonbValue	v;
		Jsonb	   *jb = values[i] ? values[i] : wf_jsonb_null();

		k.type = jbvString;
		k.val.string.val = (char *) keys[i];
		k.val.string.len = strlen(keys[i]);
		pushJsonbValue(&st, WJB_KEY, &k);
		if (JB_ROOT_IS_SCALAR(jb))
			JsonbExtractScalar(&jb->root, &v);
		else
		{
			v.type = jbvBinary;
			v.val.binary.data = &jb->root;
			v.val.binary.len = VARSIZE(jb) - VARHDRSZ;
		}
		pushJsonbValue(&st, WJB_VALUE, &v);
	}
	res = pushJsonbValue(&st, WJB_END_OBJECT, NULL);
	return JsonbValueToJsonb(res);
}

static Jsonb *
jsonb_int(int64 i)
{
	return DatumGetJsonbP(DirectFunctionCall1(jsonb_in,
											  CStringGetDatum(psprintf(INT64_FORMAT, i))));
}

/* ---------------------------------------------------------------------
 * Context: the task rows that the pending expressions read
 * ---------------------------------------------------------------------
 */
static void
load_views(Step *s, bool all, bool *want)
{
	uint64		n;
	Datum		values[2];

	values[0] = Int64GetDatum(s->exec_id);
	if (all)
		n = wf_exec(&plan_views_all, values, NULL, 0);
	else
	{
		Datum	   *names = palloc(sizeof(Datum) * s->g->ntasks);
		int			nnames = 0;

		for (int i = 0; i < s->g->ntasks; i++)
			if (want[i])
				names[nnames++] = CStringGetTextDatum(s->g->tasks[i].name);
		if (nnames == 0)
			return;
		values[1] = wf_text_array(names, nnames);
		n = wf_exec(&plan_views_named, values, NULL, 0);
	}
	s->views = palloc(sizeof(WfTaskView) * Max(n, 1));
	s->nviews = n;
	for (uint64 r = 0; r < n; r++)
	{
		s->views[r].name = wf_get_text(r, 1);
		s->views[r].state = wf_get_text(r, 2);
		s->views[r].result = wf_get_jsonb(r, 3);
		s->views[r].error = wf_get_jsonb(r, 4);
	}
}

/* ---------------------------------------------------------------------
 * Scheduling
 * ---------------------------------------------------------------------
 */

/* Record that the edge into task idx fired; true if the task is now ready. */
static bool
edge_fired(Step *s, int idx)
{
	static WfPlan arrive = {
		"INSERT INTO wf.join_state AS j (execution_id, task, arrived) VALUES ($1, $2, 1) "
		"ON CONFLICT (execution_id, task) DO UPDATE SET arrived = j.arrived + 1 "
		"RETURNING arrived",
		2, {INT8OID, TEXTOID}
	};
	static WfPlan done = {
		"DELETE FROM wf.join_state WHERE execution_id = $1 AND task = $2",
		2, {INT8OID, TEXTOID}
	};
	WfTask	   *t = &s->g->tasks[idx];
	Datum		values[2];

	if (t->nrequires <= 1)
		return true;
	values[0] = Int64GetDatum(s->exec_id);
	values[1] = CStringGetTextDatum(t->name);
	wf_exec(&arrive, values, NULL, 1);
	if (wf_get_int32(0, 1) < t->nrequires)
		return false;
	wf_exec(&done, values, NULL, 1);
	return true;
}

static void
add_ready(Step *s, int idx)
{
	if (s->new_tasks == NULL)
	{
		s->new_tasks = palloc(sizeof(int) * s->g->ntasks);
		s->new_inputs = palloc(sizeof(Datum) * s->g->ntasks);
	}
	s->new_tasks[s->nnew++] = idx;
}

/*
 * Evaluate the inputs of the tasks made ready. Returns NULL, or the failure
 * document of the first expression that raised an error.
 */
static Jsonb *
eval_new_inputs(Step *s, Jsonb *ctx)
{
	for (int i = 0; i < s->nnew; i++)
	{
		WfTask	   *t = &s->g->tasks[s->new_tasks[i]];
		Jsonb	   *in;
		char	   *err = NULL;

		if (t->input == NULL)
			in = make_object(0, NULL, NULL);
		else if ((in = wf_eval_template(t->input, ctx, &err)) == NULL)
		{
			const char *keys[] = {"type", "task", "message"};
			Jsonb	   *vals[] = {wf_jsonb_string("expression_error"),
			wf_jsonb_string(t->name), wf_jsonb_string(err)};

			return make_object(3, keys, vals);
		}
		s->new_inputs[i] = JsonbPGetDatum(in);
	}
	return NULL;
}

static void
insert_new_tasks(Step *s)
{
	Datum	   *names,
			   *actions,
			   *queues;
	Datum		values[5];
	uint64		n;

	if (s->nnew == 0)
		return;
	names = palloc(sizeof(Datum) * s->nnew);
	actions = palloc(sizeof(Datum) * s->nnew);
	queues = palloc(sizeof(Datum) * s->nnew);
	for (int i = 0; i < s->nnew; i++)
	{
		WfTask	   *t = &s->g->tasks[s->new_tasks[i]];

		names[i] = CStringGetTextDatum(t->name);
		actions[i] = CStringGetTextDatum(t->action);
		queues[i] = CStringGetTextDatum(t->queue);
		wf_notify_queue(t->queue);
	}
	values[0] = Int64GetDatum(s->exec_id);
	values[1] = wf_text_array(names, s->nnew);
	values[2] = wf_text_array(actions, s->nnew);
	values[3] = wf_text_array(queues, s->nnew);
	values[4] = wf_jsonb_array(s->new_inputs, s->nnew);
	n = wf_exec(&plan_insert_tasks, values, NULL, s->nnew);
	for (uint64 r = 0; r < n; r++)
		wf_events_add(&s->ev, wf_get_int64(r, 1), wf_get_text(r, 2), "ready", NULL);
	s->active += s->nnew;
}

/* End the execution as failed: cancel what is left, record the error. */
static void
fail_execution(Step *s, Jsonb *error)
{
	static WfPlan cancel = {
		"UPDATE wf.task SET state = 'cancelled', finished_at = pg_catalog.now(), "
		"lease_until = NULL WHERE execution_id = $1 AND state IN ('ready', 'running') "
		"RETURNING id, name",
		1, {INT8OID}
	};
	static WfPlan forget_joins = {
		"DELETE FROM wf.join_state WHERE execution_id = $1",
		1, {INT8OID}
	};
	Datum		values[6];
	char		nulls[6] = {' ', ' ', ' ', ' ', 'n', ' '};
	uint64		n;

	values[0] = Int64GetDatum(s->exec_id);
	n = wf_exec(&cancel, values, NULL, 0);
	for (uint64 r = 0; r < n; r++)
		wf_events_add(&s->ev, wf_get_int64(r, 1), wf_get_text(r, 2), "cancelled", NULL);
	wf_exec(&forget_joins, values, NULL, 0);

	values[1] = Int32GetDatum(0);
	values[2] = JsonbPGetDatum(s->vars);
	values[3] = CStringGetTextDatum("failed");
	values[5] = JsonbPGetDatum(error);
	wf_exec(&plan_update_execution, values, nulls, 1);
	wf_events_add(&s->ev, 0, NULL, "failed", error);
}

/* Store the execution's new bookkeeping; finish it if nothing is left. */
static void
save_execution(Step *s, Jsonb *ctx_for_output)
{
	Datum		values[6];
	char		nulls[6] = {' ', ' ', ' ', ' ', 'n', 'n'};
	const char *state = "running";

	if (s->active == 0)
	{
		Jsonb	   *output = s->vars;
		char	   *err = NULL;

		if (s->g->output &&
			(output = wf_eval_template(s->g->output, ctx_for_output, &err)) == NULL)
		{
			const char *keys[] = {"type", "task", "message"};
			Jsonb	   *vals[] = {wf_jsonb_string("expression_error"), NULL,
			wf_jsonb_string(psprintf("output: %s", err))};

			fail_execution(s, make_object(3, keys, vals));
			return;
		}
		state = "succeeded";
		values[4] = JsonbPGetDatum(output);
		nulls[4] = ' ';
	}
	values[0] = Int64GetDatum(s->exec_id);
	values[1] = Int32GetDatum(s->active);
	values[2] = JsonbPGetDatum(s->vars);
	values[3] = CStringGetTextDatum(state);
	wf_exec(&plan_update_execution, values, nulls, 1);
	if (s->active == 0)
		wf_events_add(&s->ev, 0, NULL, state, NULL);
}

/*
 * Load what the expressions about to run will read, build their context
 * (with "result" for publish), evaluate publish, then the new tasks' inputs.
 * Returns NULL or an expression failure document.
 */
static Jsonb *
run_expressions(Step *s, WfTask *finished, Jsonb *result, Jsonb **ctx_out)
{
	bool	   *want = palloc0(sizeof(bool) * s->g->ntasks);
	bool		all = false;
	bool		need = false;
	bool		may_finish = (s->active - 1 + s->nnew == 0);
	Jsonb	   *ctx = NULL;
	char	   *err = NULL;

	if (finished)
		need |= wf_template_refs(finished->publish, &all, want);
	for (int i = 0; i < s->nnew; i++)
		need |= wf_template_refs(s->g->tasks[s->new_tasks[i]].input, &all, want);
	if (may_finish)
		need |= wf_template_refs(s->g->output, &all, want);
	if (need)
		load_views(s, all, want);

	if (finished && finished->publish)
	{
		Jsonb	   *published;

		ctx = wf_context(s->input, s->vars, s->nviews, s->views, result);
		published = wf_eval_template(finished->publish, ctx, &err);
		if (published == NULL)
		{
			const char *keys[] = {"type", "task", "message"};
			Jsonb	   *vals[] = {wf_jsonb_string("expression_error"),
			wf_jsonb_string(finished->name),
			wf_jsonb_string(psprintf("publish: %s", err))};

			return make_object(3, keys, vals);
		}
		s->vars = jsonb_concat2(s->vars, published);
	}
	ctx = wf_context(s->input, s->vars, s->nviews, s->views, NULL);
	*ctx_out = ctx;
	return eval_new_inputs(s, ctx);
}

/* ---------------------------------------------------------------------
 * wf_start(workflow text, input jsonb DEFAULT '{}') RETURNS bigint
 * ---------------------------------------------------------------------
 */

/* Check the caller's input against the declared keys; apply defaults. */
static Jsonb *
check_input(WfGraph *g, Jsonb *input)
{
	if (!JB_ROOT_IS_OBJECT(input))
		ereport(ERROR,
				(errcode(ERRCODE_WF_INVALID_INPUT),
				 errmsg("input of workflow \"%s\" must be a JSON object", g->name)));
	if (!g->has_input_spec)
		return input;

	for (int i = 0; i < g->ninputs; i++)
	{
		JsonbValue	v;

		if (g->inputs[i].required &&
			!getKeyJsonValueFromContainer(&input->root, g->inputs[i].key,
										  strlen(g->inputs[i].key), &v))
			ereport(ERROR,
					(errcode(ERRCODE_WF_INVALID_INPUT),
					 errmsg("input of workflow \"%s\" lacks required key \"%s\"",
							g->name, g->inputs[i].key)));
	}
	{
		JsonbIterator *it = JsonbIteratorInit(&input->root);
		JsonbValue	v;
		JsonbIteratorToken tok;

		while ((tok = JsonbIteratorNext(&it, &v, true)) != WJB_DONE)
		{
			bool		known = false;

			if (tok != WJB_KEY)
				continue;
			for (int i = 0; i < g->ninputs && !known; i++)
				known = (strlen(g->inputs[i].key) == (size_t) v.val.string.len &&
						 memcmp(g->inputs[i].key, v.val.string.val, v.val.string.len) == 0);
			if (!known)
				ereport(ERROR,
						(errcode(ERRCODE_WF_INVALID_INPUT),
						 errmsg("input of workflow \"%s\" has unknown key \"%.*s\"",
								g->name, v.val.string.len, v.val.string.val),
						 errhint("The workflow declares its input keys in \"input\".")));
		}
	}
	return jsonb_concat2(DatumGetJsonbP(g->input_defaults), input);
}

Datum
wf_start(PG_FUNCTION_ARGS)
{
	static WfPlan newest = {
		"SELECT pg_catalog.max(version) FROM wf.workflow WHERE name = $1",
		1, {TEXTOID}
	};
	static WfPlan insert_execution = {
		"INSERT INTO wf.execution (workflow, version, state, input, vars, active) "
		"VALUES ($1, $2, 'running', $3, '{}', 0) RETURNING id",
		3, {TEXTOID, INT4OID, JSONBOID}
	};
	char	   *name;
	Jsonb	   *input;
	Datum		values[3];
	Step		s;
	Jsonb	   *failure;
	Jsonb	   *ctx;

	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("workflow name must not be null")));
	name = text_to_cstring(PG_GETARG_TEXT_PP(0));
	input = PG_ARGISNULL(1) ? make_object(0, NULL, NULL) : PG_GETARG_JSONB_P(1);

	memset(&s, 0, sizeof(s));
	SPI_connect();
	values[0] = CStringGetTextDatum(name);
	wf_exec(&newest, values, NULL, 1);
	if (wf_isnull(0, 1))
		ereport(ERROR,
				(errcode(ERRCODE_WF_UNKNOWN_WORKFLOW),
				 errmsg("workflow \"%s\" does not exist", name),
				 errhint("Define it first with wf_define().")));
	s.g = wf_graph_get(name, wf_get_int32(0, 1));
	s.input = check_input(s.g, input);
	s.vars = make_object(0, NULL, NULL);

	values[1] = Int32GetDatum(s.g->version);
	values[2] = JsonbPGetDatum(s.input);
	wf_exec(&insert_execution, values, NULL, 1);
	s.exec_id = wf_get_int64(0, 1);
	wf_events_add(&s.ev, 0, NULL, "running", NULL);

	for (int i = 0; i < s.g->nstart; i++)
		add_ready(&s, s.g->start[i]);
	/* No task has run: the context has no tasks, and nothing to load. */
	ctx = wf_context(s.input, s.vars, 0, NULL, NULL);
	failure = eval_new_inputs(&s, ctx);
	if (failure)
		ereport(ERROR,
				(errcode(ERRCODE_WF_INVALID_INPUT),
				 errmsg("cannot start workflow \"%s\": an input expression failed", name),
				 errdetail("%s", JsonbToCString(NULL, &failure->root, VARSIZE(failure)))));
	insert_new_tasks(&s);
	save_execution(&s, ctx);
	wf_events_flush(&s.ev, s.exec_id);
	SPI_finish();

	PG_RETURN_INT64(s.exec_id);
}

/* ---------------------------------------------------------------------
 * wf_task_complete(task_id bigint, status text, result jsonb, token text)
 *   RETURNS text
 * ---------------------------------------------------------------------
 */

/* A NULL token bypasses the claim: only for the extension's owner. */
static void
check_override_allowed(int64 task_id)
{
	Oid			caller = GetOuterUserId();
	Oid			owner = GetUserId();	/* we run SECURITY DEFINER */

	if (!superuser_arg(caller) && !has_privs_of_role(caller, owner))
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("permission denied to complete task " INT64_FORMAT " without its token",
						task_id),
				 errdetail("A NULL token is an operator override."),
				 errhint("Only the owner of extension pg_wf or a superuser may override; runners pass the token from wf_claim().")));
}

Datum
wf_task_complete(PG_FUNCTION_ARGS)
{
	static WfPlan find = {
		"SELECT execution_id FROM wf.task WHERE id = $1",
		1, {INT8OID}
	};
	static WfPlan lock_execution = {
		"SELECT workflow, version, state, input, vars, active FROM wf.execution "
		"WHERE id = $1 FOR NO KEY UPDATE",
		1, {INT8OID}
	};
	static WfPlan lock_task = {
		"SELECT name, state, token_hash, result, error, attempt FROM wf.task "
		"WHERE id = $1 FOR NO KEY UPDATE",
		1, {INT8OID}
	};
	static WfPlan finish_task = {
		"UPDATE wf.task SET state = $2, result = $3, error = $4, "
		"finished_at = pg_catalog.now(), lease_until = NULL WHERE id = $1",
		4, {INT8OID, TEXTOID, JSONBOID, JSONBOID}
	};
	int64		task_id;
	char	   *status;
	bool		success;
	Jsonb	   *result;
	char	   *token;
	Datum		values[4];
	char		nulls[4] = {' ', ' ', ' ', ' '};
	Step		s;
	char	   *task_name;
	char	   *task_state;
	bytea	   *token_hash;
	int			attempt;
	int			idx;
	WfTask	   *t;
	char	   *new_state;
	MemoryContext callercxt = CurrentMemoryContext;
	text	   *ret;

	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("task_id must not be null")));
	if (PG_ARGISNULL(1))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("status must not be null"),
				 errhint("Use 'success' or 'error'.")));
	task_id = PG_GETARG_INT64(0);
	status = text_to_cstring(PG_GETARG_TEXT_PP(1));
	if (strcmp(status, "success") == 0)
		success = true;
	else if (strcmp(status, "error") == 0)
		success = false;
	else
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid status \"%s\"", status),
				 errhint("Use 'success' or 'error'.")));
	result = PG_ARGISNULL(2) ? NULL : PG_GETARG_JSONB_P(2);
	if (!success && result == NULL)
		result = make_object(0, NULL, NULL);	/* an error always has a document */
	token = PG_ARGISNULL(3) ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(3));

	memset(&s, 0, sizeof(s));
	SPI_connect();

	/* The task's execution (immutable), to lock in the contract's order. */
	values[0] = Int64GetDatum(task_id);
	if (wf_exec(&find, values, NULL, 0) != 1)
		ereport(ERROR,
				(errcode(ERRCODE_WF_UNKNOWN_TASK),
				 errmsg("task " INT64_FORMAT " does not exist", task_id)));
	s.exec_id = wf_get_int64(0, 1);

	values[0] = Int64GetDatum(s.exec_id);
	wf_exec(&lock_execution, values, NULL, 1);
	{
		/* read the row before wf_graph_get() may run a query of its own */
		char	   *workflow = wf_get_text(0, 1);
		int			version = wf_get_int32(0, 2);

		s.input = wf_get_jsonb(0, 4);
		s.vars = wf_get_jsonb(0, 5);
		s.active = wf_get_int32(0, 6);
		s.g = wf_graph_get(workflow, version);
	}

	values[0] = Int64GetDatum(task_id);
	wf_exec(&lock_task, values, NULL, 1);
	task_name = wf_get_text(0, 1);
	task_state = wf_get_text(0, 2);
	token_hash = wf_get_bytea(0, 3);
	attempt = wf_get_int32(0, 6);

	if (token == NULL)
		check_override_allowed(task_id);

	if (strcmp(task_state, "succeeded") == 0 || strcmp(task_state, "failed") == 0)
	{
		bool		same;

		if (token && !wf_token_matches(token, token_hash))
			ereport(ERROR,
					(errcode(ERRCODE_WF_TOKEN_MISMATCH),
					 errmsg("token of task " INT64_FORMAT " is stale or wrong", task_id),
					 errdetail("The task already %s.", task_state)));
		same = success ? (strcmp(task_state, "succeeded") == 0 &&
						  jsonb_same(result, wf_get_jsonb(0, 4)))
			: (strcmp(task_state, "failed") == 0 &&
			   jsonb_same(result, wf_get_jsonb(0, 5)));
		if (!same)
			ereport(ERROR,
					(errcode(ERRCODE_WF_CONFLICTING_COMPLETION),
					 errmsg("task " INT64_FORMAT " already %s with a different outcome",
							task_id, task_state),
					 errdetail("The first completion stands; this one was not applied.")));
		ereport(NOTICE,
				(errmsg("task \"%s\" already %s; duplicate completion ignored",
						task_name, task_state),
				 errdetail("The same outcome was reported before; nothing changed.")));
		new_state = task_state;
		goto done;
	}
	if (strcmp(task_state, "running") != 0)
		ereport(ERROR,
				(errcode(ERRCODE_WF_TASK_NOT_RUNNING),
				 errmsg("task " INT64_FORMAT " is %s, not running", task_id, task_state),
				 strcmp(task_state, "ready") == 0 ?
				 errhint("Claim it with wf_claim() first.") : 0));
	if (token && !wf_token_matches(token, token_hash))
		ereport(ERROR,
				(errcode(ERRCODE_WF_TOKEN_MISMATCH),
				 errmsg("token of task " INT64_FORMAT " is stale or wrong", task_id),
				 errdetail("Only the token of the task's current attempt completes it.")));

	/* Record the outcome. */
	idx = wf_task_index(s.g, task_name);
	if (idx < 0)
		elog(ERROR, "task \"%s\" is not in workflow \"%s\" version %d",
			 task_name, s.g->name, s.g->version);
	t = &s.g->tasks[idx];
	new_state = success ? "succeeded" : "failed";
	values[1] = CStringGetTextDatum(new_state);
	values[2] = result ? JsonbPGetDatum(result) : (Datum) 0;
	nulls[2] = (success && result) ? ' ' : 'n';
	values[3] = success ? (Datum) 0 : JsonbPGetDatum(result);
	nulls[3] = success ? 'n' : ' ';
	wf_exec(&finish_task, values, nulls, 1);
	{
		const char *keys[] = {"attempt", "override", "by"};
		Jsonb	   *vals[] = {jsonb_int(attempt), NULL, NULL};
		int			nkeys = 1;

		if (token == NULL)
		{
			vals[1] = DatumGetJsonbP(DirectFunctionCall1(jsonb_in, CStringGetDatum("true")));
			vals[2] = wf_jsonb_string(GetUserNameFromId(GetOuterUserId(), false));
			nkeys = 3;
		}
		wf_events_add(&s.ev, task_id, task_name, new_state, make_object(nkeys, keys, vals));
	}

	if (!success)
	{
		const char *keys[] = {"type", "task", "task_id", "error"};
		Jsonb	   *vals[] = {wf_jsonb_string("task_failed"), wf_jsonb_string(task_name),
		jsonb_int(task_id), result};

		s.active--;
		fail_execution(&s, make_object(4, keys, vals));
	}
	else
	{
		Jsonb	   *failure;
		Jsonb	   *ctx = NULL;

		for (int k = 0; k < t->nsuccessors; k++)
			if (edge_fired(&s, t->successors[k]))
				add_ready(&s, t->successors[k]);
		failure = run_expressions(&s, t, result, &ctx);
		s.active--;
		if (failure)
			fail_execution(&s, failure);
		else
		{
			insert_new_tasks(&s);
			save_execution(&s, ctx);
		}
	}
	wf_events_flush(&s.ev, s.exec_id);

done:
	/* The return value must outlive SPI's memory. */
	{
		MemoryContext spicxt = MemoryContextSwitchTo(callercxt);

		ret = cstring_to_text(new_state);
		MemoryContextSwitchTo(spicxt);
	}
	SPI_finish();
	PG_RETURN_TEXT_P(ret);
}
