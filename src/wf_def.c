/*
 * wf_def.c — wf_define() and the per-backend cache of compiled graphs.
 *
 * Definitions are immutable per (name, version): wf_define always stores a
 * new version, so a cached graph never goes stale while its rows exist. The
 * cache is dropped when wf.workflow itself is invalidated (DROP EXTENSION,
 * TRUNCATE), because a re-created extension reuses names and versions.
 */
#include "postgres.h"

#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "utils/builtins.h"
#include "utils/hsearch.h"
#include "utils/inval.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"

#include "pg_wf.h"
#include "wf_compile.h"
#include "wf_def.h"
#include "wf_json.h"
#include "wf_store.h"

PG_FUNCTION_INFO_V1(wf_define);

typedef struct GraphKey
{
	char		name[WF_MAX_NAME_LEN + 1];
	int			version;
} GraphKey;

typedef struct GraphEntry
{
	GraphKey	key;
	WfGraph    *graph;
} GraphEntry;

static HTAB *graph_cache = NULL;
static Oid	workflow_relid = InvalidOid;
static bool cache_stale = false;

static void
graph_cache_relcache_cb(Datum arg, Oid relid)
{
	/* Only mark: a graph may be in use right now; flush at the next lookup. */
	if (graph_cache && (relid == InvalidOid || relid == workflow_relid))
		cache_stale = true;
}

void
wf_def_init(void)
{
	CacheRegisterRelcacheCallback(graph_cache_relcache_cb, (Datum) 0);
}

static void
graph_cache_reset(void)
{
	HASHCTL		ctl;

	if (graph_cache)
	{
		HASH_SEQ_STATUS status;
		GraphEntry *e;

		hash_seq_init(&status, graph_cache);
		while ((e = hash_seq_search(&status)) != NULL)
			MemoryContextDelete(e->graph->cxt);
		hash_destroy(graph_cache);
	}
	memset(&ctl, 0, sizeof(ctl));
	ctl.keysize = sizeof(GraphKey);
	ctl.entrysize = sizeof(GraphEntry);
	ctl.hcxt = CacheMemoryContext;
	graph_cache = hash_create("pg_wf graphs", 64, &ctl,
							  HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
	workflow_relid = get_relname_relid("workflow", get_namespace_oid("wf", false));
	cache_stale = false;
}

/*
 * The compiled graph of a stored version; the caller must be connected to
 * SPI. Errors if the version does not exist.
 */
WfGraph *
wf_graph_get(const char *name, int version)
{
	static WfPlan plan = {
		"SELECT definition FROM wf.workflow WHERE name = $1 AND version = $2",
		2, {TEXTOID, INT4OID}
	};
	GraphKey	key;
	GraphEntry *e;
	bool		found;
	Datum		values[2];
	Jsonb	   *def;
	char	   *text;
	MemoryContext cxt,
				oldcxt;
	WfGraph    *g;

	if (graph_cache == NULL || cache_stale)
		graph_cache_reset();

	memset(&key, 0, sizeof(key));
	strlcpy(key.name, name, sizeof(key.name));
	key.version = version;
	e = hash_search(graph_cache, &key, HASH_FIND, NULL);
	if (e)
		return e->graph;

	values[0] = CStringGetTextDatum(name);
	values[1] = Int32GetDatum(version);
	if (wf_exec(&plan, values, NULL, 0) != 1)
		ereport(ERROR,
				(errcode(ERRCODE_WF_UNKNOWN_WORKFLOW),
				 errmsg("workflow \"%s\" version %d does not exist", name, version)));
	def = wf_get_jsonb(0, 1);
	text = JsonbToCString(NULL, &def->root, VARSIZE(def));

	/* Build under the caller's context; keep it only once it is complete. */
	cxt = AllocSetContextCreate(CurrentMemoryContext, "pg_wf graph",
								ALLOCSET_SMALL_SIZES);
	oldcxt = MemoryContextSwitchTo(cxt);
	g = wf_parse_definition(text, strlen(text));
	g->version = version;
	g->cxt = cxt;
	wf_graph_compile(g, JsonbPGetDatum(def));
	MemoryContextSwitchTo(oldcxt);
	MemoryContextSetParent(cxt, CacheMemoryContext);

	e = hash_search(graph_cache, &key, HASH_ENTER, &found);
	e->graph = g;
	return g;
}

/*
 * Waits and repeats keep rows only the 0.2 objects have (wf.wait,
 * wf.task.iteration): with the 0.1 objects still installed, a definition
 * that uses them is refused now, not failing every step that reaches them.
 */
static void
refuse_before_update(WfGraph *g)
{
	if (wf_schema_version() >= WF_SCHEMA_0_2)
		return;
	for (int i = 0; i < g->ntasks; i++)
		if (g->tasks[i].engine == WF_ENGINE_WAIT || g->tasks[i].repeat)
			ereport(ERROR,
					(errcode(ERRCODE_WF_INVALID_DEFINITION),
					 errmsg("invalid workflow definition at $.tasks.%s: %s needs the objects of pg_wf 0.2",
							g->tasks[i].name, g->tasks[i].repeat ? "repeat" : "a wait for an event"),
					 errdetail("The SQL objects installed are those of pg_wf 0.1."),
					 errhint("Run ALTER EXTENSION pg_wf UPDATE.")));
}

/*
 * wf_define(definition jsonb) RETURNS integer
 *
 * Validate and store a new version of a workflow; return its version.
 */
Datum
wf_define(PG_FUNCTION_ARGS)
{
	static WfPlan next_version = {
		"SELECT COALESCE(pg_catalog.max(version), 0) + 1 "
		"FROM wf.workflow WHERE name = $1",
		1, {TEXTOID}
	};
	static WfPlan insert = {
		"INSERT INTO wf.workflow (name, version, definition) VALUES ($1, $2, $3)",
		3, {TEXTOID, INT4OID, JSONBOID}
	};
	Jsonb	   *def;
	char	   *text;
	MemoryContext cxt,
				oldcxt;
	WfGraph    *g;
	Datum		values[3];
	int			version;

	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("workflow definition must not be null")));
	def = PG_GETARG_JSONB_P(0);
	if (VARSIZE(def) > WF_MAX_DEFINITION_BYTES * 2)
		ereport(ERROR,
				(errcode(ERRCODE_WF_INVALID_DEFINITION),
				 errmsg("invalid workflow definition at $: definition is too large"),
				 errdetail("The limit is %d bytes of JSON text.", WF_MAX_DEFINITION_BYTES)));
	text = JsonbToCString(NULL, &def->root, VARSIZE(def));

	cxt = AllocSetContextCreate(CurrentMemoryContext, "pg_wf define",
								ALLOCSET_DEFAULT_SIZES);
	oldcxt = MemoryContextSwitchTo(cxt);
	g = wf_parse_definition(text, strlen(text));
	MemoryContextSwitchTo(oldcxt);

	SPI_connect();
	refuse_before_update(g);
	/* Versions of one name are numbered in order: one definer at a time. */
	SPI_execute("LOCK TABLE wf.workflow IN SHARE ROW EXCLUSIVE MODE", false, 0);
	values[0] = CStringGetTextDatum(g->name);
	wf_exec(&next_version, values, NULL, 1);
	version = wf_get_int32(0, 1);
	values[1] = Int32GetDatum(version);
	values[2] = JsonbPGetDatum(def);
	wf_exec(&insert, values, NULL, 1);
	SPI_finish();

	MemoryContextDelete(cxt);
	PG_RETURN_INT32(version);
}
