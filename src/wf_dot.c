/*
 * wf_dot.c — pictures of workflows and executions: wf_graph() returns
 * Graphviz DOT text (render it with `dot -Tpng` or `dot -Tsvg`).
 *
 *   wf_graph(workflow text)       the newest version's graph
 *   wf_graph(execution_id bigint) the execution's version, each task
 *                                 coloured by its state, with attempts,
 *                                 durations and for_each item counts
 *
 * Shapes: a runner task is a rounded box, a for_each task a doubled box,
 * a sub-workflow task a component, an engine task an ellipse (fail: an
 * octagon); a join says how many inbound edges it waits for. Edges by
 * kind: requires (solid), on_success (solid, green), on_error (dashed,
 * red), on_complete (dotted, blue), each with its `when`. A task that has
 * no row yet is drawn dashed ("pending").
 *
 * Reads only: the definition (compiled graph, wf_def.c) and, for an
 * execution, one row per task and one count per for_each task. The text
 * grows with the graph, never with the items.
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "utils/builtins.h"

#include "pg_wf.h"
#include "wf_def.h"
#include "wf_graph.h"
#include "wf_state.h"
#include "wf_store.h"
#include "wf_util.h"

PG_FUNCTION_INFO_V1(wf_graph_workflow);
PG_FUNCTION_INFO_V1(wf_graph_execution);

/* What an execution's rows say of one task (state < 0: no row yet). */
typedef struct TaskRun
{
	int			state;
	int			attempt;
	double		seconds;		/* started -> finished (or now); < 0: none */
	int64		items[WF_TASK_NSTATES]; /* for_each items by state */
	int64		nitems;
} TaskRun;

static const char *const state_colour[WF_TASK_NSTATES] = {
	[WF_TASK_READY] = "#fff2a8",
	[WF_TASK_RUNNING] = "#9fd0ff",
	[WF_TASK_DELEGATED] = "#d0b8ff",
	[WF_TASK_SUCCEEDED] = "#a8e6a1",
	[WF_TASK_FAILED] = "#ff9e9e",
	[WF_TASK_CANCELLED] = "#d9d9d9",
	[WF_TASK_SKIPPED] = "#f2f2f2",
};

/* s as the inside of a DOT double-quoted string */
static void
dot_escape(StringInfo buf, const char *s)
{
	for (; *s; s++)
	{
		if (*s == '"' || *s == '\\')
			appendStringInfoChar(buf, '\\');
		if (*s == '\n')
			appendStringInfoString(buf, "\\n");
		else if (*s != '\r')
			appendStringInfoChar(buf, *s);
	}
}

static void
append_duration(StringInfo buf, double s)
{
	if (s < 1.0)
		appendStringInfo(buf, "%.0f ms", s * 1000.0);
	else if (s < 120.0)
		appendStringInfo(buf, "%.1f s", s);
	else if (s < 7200.0)
		appendStringInfo(buf, "%.0f min", s / 60.0);
	else
		appendStringInfo(buf, "%.1f h", s / 3600.0);
}

/* The second line of a task's label: what it runs. */
static void
append_kind(StringInfo buf, const WfTask *t)
{
	if (t->workflow)
	{
		appendStringInfoString(buf, "workflow ");
		dot_escape(buf, t->workflow);
	}
	else if (t->engine == WF_ENGINE_SLEEP)
	{
		appendStringInfoString(buf, "sleep ");
		append_duration(buf, wf_interval_usecs(t->sleep_for) / 1e6);
	}
	else
		dot_escape(buf, t->action);
	if (t->for_each)
	{
		appendStringInfoString(buf, "\\nfor_each ");
		dot_escape(buf, t->for_each->exprs[0].source);
		if (t->concurrency > 0)
			appendStringInfo(buf, " (%d at once)", t->concurrency);
	}
	if (t->repeat)
	{
		appendStringInfoString(buf, "\\nrepeat while ");
		dot_escape(buf, t->repeat->while_->exprs[0].source);
		appendStringInfo(buf, " (at most %d)", t->repeat->max);
	}
	if (t->nrequires > 1)
	{
		if (t->join_inclusive)
			appendStringInfo(buf, "\\njoin: inclusive of %d", t->nrequires);
		else if (t->join > 0)
			appendStringInfo(buf, "\\njoin: %d of %d", t->join, t->nrequires);
		else
			appendStringInfo(buf, "\\njoin: all %d", t->nrequires);
	}
}

static const char *
task_shape(const WfTask *t)
{
	if (t->workflow)
		return "component";
	if (t->engine == WF_ENGINE_FAIL)
		return "octagon";
	if (t->engine != WF_ENGINE_NONE)
		return "ellipse";
	return "box";
}

static void
append_task(StringInfo buf, const WfTask *t, const TaskRun *run)
{
	appendStringInfoString(buf, "  \"");
	dot_escape(buf, t->name);
	appendStringInfo(buf, "\" [shape=%s", task_shape(t));
	if (t->for_each)
		appendStringInfoString(buf, ", peripheries=2");
	if (run == NULL)
		appendStringInfoString(buf, ", style=\"rounded,filled\", fillcolor=\"#ffffff\"");
	else if (run->state < 0)
		appendStringInfoString(buf, ", style=\"rounded,dashed\", color=\"#999999\", fontcolor=\"#777777\"");
	else
		appendStringInfo(buf, ", style=\"rounded,filled%s\", fillcolor=\"%s\"",
						 run->state == WF_TASK_SKIPPED ? ",dashed" : "",
						 state_colour[run->state]);
	appendStringInfoString(buf, ", label=\"");
	dot_escape(buf, t->name);
	appendStringInfoString(buf, "\\n");
	append_kind(buf, t);
	if (run && run->state < 0)
		appendStringInfoString(buf, "\\npending");
	else if (run)
	{
		appendStringInfo(buf, "\\n%s", wf_task_state_name(run->state));
		if (run->attempt > 1)
			appendStringInfo(buf, " · attempt %d", run->attempt);
		if (run->seconds >= 0)
		{
			appendStringInfoString(buf, " · ");
			append_duration(buf, run->seconds);
		}
		if (run->nitems > 0)
		{
			bool		first = true;

			appendStringInfo(buf, "\\n" INT64_FORMAT " items:", run->nitems);
			for (int s = 0; s < WF_TASK_NSTATES; s++)
				if (run->items[s] > 0)
				{
					appendStringInfo(buf, "%s " INT64_FORMAT " %s", first ? "" : ",",
									 run->items[s], wf_task_state_name(s));
					first = false;
				}
		}
	}
	appendStringInfoString(buf, "\"];\n");
}

static void
append_edge(StringInfo buf, const WfTask *src, const WfTask *dst, const WfEdge *e)
{
	static const char *const style[] = {
		[WF_EDGE_SUCCESS] = "color=\"#2e7d32\"",
		[WF_EDGE_ERROR] = "style=dashed, color=\"#c62828\", fontcolor=\"#c62828\"",
		[WF_EDGE_COMPLETE] = "style=dotted, color=\"#1565c0\", fontcolor=\"#1565c0\"",
	};
	const char *const *name = wf_edge_kind_names;

	appendStringInfoString(buf, "  \"");
	dot_escape(buf, src->name);
	appendStringInfoString(buf, "\" -> \"");
	dot_escape(buf, dst->name);
	appendStringInfoString(buf, "\" [");
	if (e->requires)
		appendStringInfoString(buf, "tooltip=\"requires\"");
	else
		appendStringInfo(buf, "%s, tooltip=\"%s\"", style[e->kind], name[e->kind]);
	if (e->when || (!e->requires && e->kind != WF_EDGE_SUCCESS))
	{
		appendStringInfoString(buf, ", label=\"");
		if (!e->requires && e->kind != WF_EDGE_SUCCESS)
			appendStringInfo(buf, "%s%s", name[e->kind], e->when ? "\\n" : "");
		if (e->when)
			dot_escape(buf, e->when->exprs[0].source);
		appendStringInfoChar(buf, '"');
	}
	appendStringInfoString(buf, "];\n");
}

/* The whole picture; runs: one per task (execution), or NULL (workflow). */
static Datum
graph_dot(const WfGraph *g, const TaskRun *runs, const char *title)
{
	StringInfoData buf;

	initStringInfo(&buf);
	appendStringInfoString(&buf, "digraph \"");
	dot_escape(&buf, g->name);
	appendStringInfoString(&buf, "\" {\n"
						   "  graph [rankdir=LR, fontname=\"Helvetica\", labelloc=t, label=\"");
	dot_escape(&buf, title);
	appendStringInfoString(&buf, "\"];\n"
						   "  node [fontname=\"Helvetica\", fontsize=11];\n"
						   "  edge [fontname=\"Helvetica\", fontsize=9];\n");
	for (int i = 0; i < g->ntasks; i++)
	{
		CHECK_FOR_INTERRUPTS();
		append_task(&buf, &g->tasks[i], runs ? &runs[i] : NULL);
	}
	for (int i = 0; i < g->ntasks; i++)
		for (int k = 0; k < g->tasks[i].nedges; k++)
		{
			const WfEdge *e = &g->tasks[i].edges[k];

			append_edge(&buf, &g->tasks[i], &g->tasks[e->target], e);
		}
	appendStringInfoString(&buf, "}\n");
	return wf_spi_text(buf.data, buf.len);	/* SPI_finish frees the rest */
}

/* wf_graph(workflow text) RETURNS text */
Datum
wf_graph_workflow(PG_FUNCTION_ARGS)
{
	static WfPlan newest = {
		"SELECT pg_catalog.max(version) FROM wf.workflow WHERE name = $1",
		1, {TEXTOID}
	};
	Datum		name;
	WfGraph    *g;
	char	   *title;
	Datum		dot;

	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("workflow must not be null")));
	name = PG_GETARG_DATUM(0);
	SPI_connect();
	wf_exec(&newest, &name, NULL, 1);
	if (wf_isnull(0, 1))
		ereport(ERROR,
				(errcode(ERRCODE_WF_UNKNOWN_WORKFLOW),
				 errmsg("workflow \"%s\" does not exist", TextDatumGetCString(name)),
				 errhint("Define it with wf_define().")));
	g = wf_graph_get(TextDatumGetCString(name), wf_get_int32(0, 1));
	title = psprintf("%s v%d", g->name, g->version);
	dot = graph_dot(g, NULL, title);
	SPI_finish();
	PG_RETURN_DATUM(dot);
}

/* wf_graph(execution_id bigint) RETURNS text */
Datum
wf_graph_execution(PG_FUNCTION_ARGS)
{
	static WfPlan exec = {
		"SELECT workflow, version, state FROM wf.execution WHERE id = $1",
		1, {INT8OID}
	};

	/* the task's own row (item NULL) */
	static WfPlan tasks = {
		"SELECT name, state, attempt, "
		"       EXTRACT(epoch FROM COALESCE(finished_at, pg_catalog.now()) - started_at)::float8 "
		"FROM wf.task WHERE execution_id = $1 AND item IS NULL",
		1, {INT8OID}
	};

	/* for_each items, counted by state */
	static WfPlan items = {
		"SELECT name, state, pg_catalog.count(*) FROM wf.task "
		"WHERE execution_id = $1 AND item IS NOT NULL GROUP BY name, state",
		1, {INT8OID}
	};
	int64		id = wf_arg_id(fcinfo, 0, "execution_id");
	Datum		arg = Int64GetDatum(id);
	char	   *workflow;
	char	   *state;
	int			version;
	WfGraph    *g;
	TaskRun    *runs;
	uint64		n;
	char	   *title;
	Datum		dot;

	SPI_connect();
	if (wf_exec(&exec, &arg, NULL, 0) != 1)
		ereport(ERROR,
				(errcode(ERRCODE_WF_UNKNOWN_EXECUTION),
				 errmsg("execution " INT64_FORMAT " does not exist", id)));
	workflow = wf_get_text(0, 1);
	version = wf_get_int32(0, 2);
	state = wf_get_text(0, 3);
	/* (this may run a statement: what the row said is copied first) */
	g = wf_graph_get(workflow, version);
	title = psprintf("%s v%d · execution " INT64_FORMAT " · %s", g->name, g->version, id, state);

	runs = palloc0(sizeof(TaskRun) * Max(g->ntasks, 1));
	for (int i = 0; i < g->ntasks; i++)
		runs[i].state = -1;
	n = wf_exec(&tasks, &arg, NULL, 0);
	for (uint64 r = 0; r < n; r++)
	{
		int			i = wf_task_index(g, wf_get_text(r, 1));
		TaskRun    *run;

		CHECK_FOR_INTERRUPTS();
		if (i < 0)
			continue;
		run = &runs[i];
		run->state = wf_task_state_parse(wf_get_text(r, 2));
		run->attempt = wf_get_int32(r, 3);
		run->seconds = wf_isnull(r, 4) ? -1 : wf_get_float8(r, 4);
	}
	n = wf_exec(&items, &arg, NULL, 0);
	for (uint64 r = 0; r < n; r++)
	{
		int			i = wf_task_index(g, wf_get_text(r, 1));

		CHECK_FOR_INTERRUPTS();
		if (i < 0)
			continue;
		runs[i].items[wf_task_state_parse(wf_get_text(r, 2))] = wf_get_int64(r, 3);
		runs[i].nitems += wf_get_int64(r, 3);
	}
	dot = graph_dot(g, runs, title);
	SPI_finish();
	PG_RETURN_DATUM(dot);
}
