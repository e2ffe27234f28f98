/*
 * wf_graph.c — the graph of a definition: task names, edges (requires and
 * transitions), joins, and the refusal of cycles; and the lookup of a task
 * by name that the engine uses. Part of parsing a definition (wf_json.c
 * calls it; it calls wf_parse.c); every refusal names its JSON path.
 */
#include "postgres.h"

#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "utils/hsearch.h"

#include <jansson.h>

#include "pg_wf.h"
#include "wf_graph.h"
#include "wf_parse.h"

static const WfGraph *sort_graph;

static int
cmp_task_name(const void *a, const void *b)
{
	return strcmp(sort_graph->tasks[*(const int *) a].name,
				  sort_graph->tasks[*(const int *) b].name);
}

/* Task names sorted, so that name lookups are binary searches. */
void
wf_build_name_index(WfGraph *g)
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

/*
 * The edges found so far, and a hash of (source, target) -> position, so
 * that a duplicate is found in constant time: parsing stays linear in the
 * number of edges.
 */
typedef struct EdgeList
{
	RawEdge    *e;
	int			n;
	int			max;
	HTAB	   *pairs;
} EdgeList;

typedef struct EdgePair
{
	uint64		key;			/* source << 32 | target */
	int			pos;
} EdgePair;

/* Where the edge source -> target is in l, or -1. */
static int
find_edge(EdgeList *l, int source, int target)
{
	uint64		key = ((uint64) source << 32) | (uint32) target;
	EdgePair   *p;

	if (l->pairs == NULL)
		return -1;
	p = hash_search(l->pairs, &key, HASH_FIND, NULL);
	return p ? p->pos : -1;
}

static void
add_edge(EdgeList *l, WfGraph *g, int source, int target, WfEdgeKind kind,
		 WfTemplate *when, char *path)
{
	int			dup = find_edge(l, source, target);
	uint64		key = ((uint64) source << 32) | (uint32) target;
	EdgePair   *p;

	CHECK_FOR_INTERRUPTS();
	if (dup >= 0)
		wf_def_error(path, "Use on_complete for \"either way\", or one condition per edge.",
					 "task \"%s\" leads to \"%s\" twice (also at %s)",
					 g->tasks[source].name, g->tasks[target].name, l->e[dup].path);
	if (l->pairs == NULL)
	{
		HASHCTL		ctl;

		ctl.keysize = sizeof(uint64);
		ctl.entrysize = sizeof(EdgePair);
		ctl.hcxt = CurrentMemoryContext;
		l->pairs = hash_create("pg_wf edges", 256, &ctl, HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
	}
	p = hash_search(l->pairs, &key, HASH_ENTER, NULL);
	p->pos = l->n;
	if (l->n == l->max)
	{
		l->max = l->max ? l->max * 2 : 16;
		l->e = l->e ? repalloc(l->e, sizeof(RawEdge) * l->max) : palloc(sizeof(RawEdge) * l->max);
	}
	l->e[l->n].source = source;
	l->e[l->n].edge.target = target;
	l->e[l->n].edge.kind = kind;
	l->e[l->n].edge.when = when;
	l->e[l->n].edge.requires = false;
	l->e[l->n].path = path;
	l->n++;
}

const char *const wf_edge_kind_names[] = {
	[WF_EDGE_SUCCESS] = "on_success",
	[WF_EDGE_ERROR] = "on_error",
	[WF_EDGE_COMPLETE] = "on_complete",
};

static int
edge_target(WfGraph *g, int source, const char *name, const char *path, const char *what)
{
	int			idx = wf_task_index(g, name);

	if (idx < 0)
		wf_def_error(path, NULL, "task \"%s\" %s unknown task \"%s\"", g->tasks[source].name, what, name);
	if (idx == source)
		wf_def_error(path, "A task runs at most once per execution: loops are refused (use for_each or a sub-workflow).",
					 "task \"%s\" %s itself", g->tasks[source].name, what);
	return idx;
}

/* on_success / on_error / on_complete of task i */
static void
parse_transitions(ParseState *ps, EdgeList *l, int i, const char *key, WfEdgeKind kind)
{
	static const char *const allowed[] = {"task", "when", NULL};
	WfGraph    *g = ps->g;
	char	   *tpath = wf_path_key("$.tasks", g->tasks[i].name);
	char	   *kpath = wf_path_key(tpath, key);
	json_t	   *list = json_object_get(json_object_get(ps->tasks, g->tasks[i].name), key);
	size_t		j;
	json_t	   *entry;

	if (!list)
		return;
	if (!json_is_array(list))
		wf_def_error(kpath, "List task names or {\"task\": NAME, \"when\": \"$...\"} objects.",
					 "%s must be an array, not %s", key, wf_json_type_name(list));
	json_array_foreach(list, j, entry)
	{
		char	   *epath = wf_path_index(kpath, j);
		WfTemplate *when = NULL;
		json_t	   *name = entry;

		if (json_is_object(entry))
		{
			json_t	   *w = json_object_get(entry, "when");

			wf_check_keys(entry, epath, allowed, "A transition is {\"task\": NAME, \"when\": \"$...\"}.");
			name = json_object_get(entry, "task");
			if (!name)
				wf_def_error(epath, NULL, "transition has no task");
			if (w)
				when = wf_parse_expression(ps, w, wf_path_key(epath, "when"), "when",
										   "For example \"$.result.ok == true\".");
		}
		if (!json_is_string(name))
			wf_def_error(json_is_object(entry) ? wf_path_key(epath, "task") : epath, NULL,
						 "transition targets are task names (strings), not %s", wf_json_type_name(name));
		add_edge(l, g, i, edge_target(g, i, json_string_value(name), epath, "leads to"),
				 kind, when, epath);
	}
}

/*
 * Build the edges once all task names are known: requires (success edges
 * into the task) and transitions (edges out of it); then each task's
 * out-edge list, in-degree and join.
 */
void
wf_resolve_edges(ParseState *ps)
{
	WfGraph    *g = ps->g;
	EdgeList	l = {NULL, 0, 0, NULL};

	for (int i = 0; i < g->ntasks; i++)
	{
		WfTask	   *t = &g->tasks[i];
		char	   *tpath = wf_path_key("$.tasks", t->name);
		char	   *rpath = wf_path_key(tpath, "requires");
		json_t	   *req = json_object_get(json_object_get(ps->tasks, t->name), "requires");
		size_t		j;
		json_t	   *r;

		if (!req)
			continue;
		if (!json_is_array(req))
			wf_def_error(rpath, "requires lists the names of tasks that must succeed first.",
						 "requires must be an array, not %s", wf_json_type_name(req));
		json_array_foreach(req, j, r)
		{
			char	   *epath = wf_path_index(rpath, j);
			int			idx;

			if (!json_is_string(r))
				wf_def_error(epath, NULL, "requires entries must be task names (strings), not %s",
							 wf_json_type_name(r));
			idx = wf_task_index(g, json_string_value(r));
			if (idx < 0)
				wf_def_error(epath, NULL, "task \"%s\" requires unknown task \"%s\"", t->name,
							 json_string_value(r));
			if (idx == i)
				wf_def_error(epath, NULL, "task \"%s\" requires itself", t->name);
			if (find_edge(&l, idx, i) >= 0)
				wf_def_error(epath, NULL, "task \"%s\" requires \"%s\" twice", t->name,
							 json_string_value(r));
			add_edge(&l, g, idx, i, WF_EDGE_SUCCESS, NULL, epath);
			l.e[l.n - 1].edge.requires = true;
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
		char	   *jpath = wf_path_key(wf_path_key("$.tasks", t->name), "join");

		if (!x)
			continue;
		if (t->nrequires < 2)
			wf_def_error(jpath, "A join decides between several inbound edges.",
						 "task \"%s\" has %d inbound edge%s; join needs at least 2",
						 t->name, t->nrequires, t->nrequires == 1 ? "" : "s");
		if (json_is_string(x) && strcmp(json_string_value(x), "all") == 0)
			continue;
		if (json_is_string(x) && strcmp(json_string_value(x), "inclusive") == 0)
		{
			t->join_inclusive = true;
			continue;
		}
		if (!json_is_integer(x) || json_integer_value(x) < 1 ||
			json_integer_value(x) > t->nrequires)
			wf_def_error(jpath, "join is \"all\", \"inclusive\" (every inbound edge resolved, at least one fired) or how many inbound edges must fire.",
						 "join must be \"all\", \"inclusive\" or an integer from 1 to %d", t->nrequires);
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
void
wf_check_cycles(WfGraph *g)
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
	wf_def_error(wf_path_key("$.tasks", g->tasks[cur].name),
				 "A task runs at most once per execution: loops are refused (use for_each or a sub-workflow).",
				 "tasks form a cycle: %s", buf.data);
}
