/*
 * pg_wf.h — declarations shared by pg_wf's C files.
 *
 * SQLSTATEs, limits, and the compiled workflow graph (plain C structs).
 * This header must stay free of jansson and of PostgreSQL's JSON headers:
 * they clash (json_object, json_typeof), and both sides include it. Each
 * module's functions are declared in its own header (wf_<module>.h).
 */
#ifndef PG_WF_H
#define PG_WF_H

#include "postgres.h"

#include "datatype/timestamp.h"
#include "utils/memutils.h"

/* ---------------------------------------------------------------------
 * SQLSTATEs (class WF). Documented in README.md, "Error codes".
 * ---------------------------------------------------------------------
 */
#define ERRCODE_WF_INVALID_DEFINITION	MAKE_SQLSTATE('W','F','0','0','1')
#define ERRCODE_WF_UNKNOWN_WORKFLOW		MAKE_SQLSTATE('W','F','0','0','2')
#define ERRCODE_WF_INVALID_INPUT		MAKE_SQLSTATE('W','F','0','0','3')
#define ERRCODE_WF_UNKNOWN_TASK			MAKE_SQLSTATE('W','F','0','0','4')
#define ERRCODE_WF_TOKEN_MISMATCH		MAKE_SQLSTATE('W','F','0','0','5')
#define ERRCODE_WF_TASK_NOT_RUNNING		MAKE_SQLSTATE('W','F','0','0','6')
#define ERRCODE_WF_CONFLICTING_COMPLETION MAKE_SQLSTATE('W','F','0','0','7')
#define ERRCODE_WF_ATTEMPT_EXPIRED		MAKE_SQLSTATE('W','F','0','0','8')
#define ERRCODE_WF_EXECUTION_STATE		MAKE_SQLSTATE('W','F','0','0','9')
#define ERRCODE_WF_UNKNOWN_EXECUTION	MAKE_SQLSTATE('W','F','0','1','0')

/* Limits, enforced at wf_define and documented in README.md. */
#define WF_MAX_DEFINITION_BYTES	(1024 * 1024)
#define WF_MAX_TASKS			10000
#define WF_MAX_NAME_LEN			63
#define WF_MAX_ACTION_LEN		200
#define WF_MAX_QUEUE_LEN		56	/* "wf_" + queue fits in a NOTIFY channel */
#define WF_MAX_EXPR_LEN			8192
#define WF_MAX_CLAIM			1000
#define WF_MAX_RETRIES			1000
#define WF_MAX_ITEMS			100000
#define WF_MAX_DEPTH			16	/* sub-workflows nested at most this deep */
#define WF_MAX_DURATION_DAYS	3650	/* any duration or lease: ten years */
#define WF_MAX_KEY_LEN			1024	/* wf_start's key (bytes) */
#define WF_MAX_RUNNER_LEN		200 /* wf_claim's runner name (bytes) */
#define WF_MAX_REASON_LEN		1024	/* wf_cancel's reason (bytes) */
#define WF_MAX_LATE_REPORT		8192	/* a late report kept whole (bytes) */
#define WF_MAX_LATE_REPORTS		10	/* late reports kept per task */
#define WF_MAX_EVENTS			16	/* events one wait task waits for */
#define WF_MAX_PAYLOAD			(1024 * 1024)	/* a signal's payload (bytes) */

#define WF_DEFAULT_QUEUE		"default"

/* ---------------------------------------------------------------------
 * Compiled workflow graph (wf_json.c builds it, wf_compile.c compiles its
 * expressions, wf_def.c caches it per backend).
 * ---------------------------------------------------------------------
 */

/*
 * What an expression reads of a for_each item's context: only $.item and
 * $.index, none of them, or both kinds (or it cannot be told from the
 * source): an item's input is then evaluated without copying the whole
 * context once per item.
 */
typedef enum WfItemUse
{
	WF_ITEM_MIXED,				/* the whole context, with item and index */
	WF_ITEM_ONLY,				/* only $.item and $.index */
	WF_ITEM_FREE				/* no $.item or $.index: one value for all
								 * items */
} WfItemUse;

/* One jsonpath expression found in a template. */
typedef struct WfExpr
{
	char	   *source;			/* jsonpath source, as written */
	Datum		path;			/* compiled jsonpath (wf_graph_compile) */
	WfItemUse	item_use;		/* (wf_graph_compile) */
	bool		all_tasks;		/* needs every task in the context */
	int			nrefs;			/* task indexes it names: $.tasks.NAME */
	int		   *refs;
} WfExpr;

/*
 * A JSON value in which strings starting with "$" are jsonpath expressions
 * and strings starting with "$$" are literals with one "$" removed.
 */
typedef struct WfTemplate
{
	Datum		value;			/* the template as jsonb (wf_graph_compile) */
	bool		dynamic;		/* has expressions or "$$" escapes */
	bool		whole;			/* one expression, whatever it starts with
								 * ("when", "for_each") */
	int			nexprs;
	WfExpr	   *exprs;
} WfTemplate;

/* retry policy: "count" retries after the first attempt */
typedef struct WfRetry
{
	int			count;
	Interval   *delay;			/* before the first retry */
	double		backoff;		/* factor per further retry (>= 1) */
	Interval   *max_delay;		/* cap, or NULL */
	bool		jitter;			/* delay/2 + random(0, delay/2) */
} WfRetry;

/* repeat: run the task again while its result says so */
typedef struct WfRepeat
{
	WfTemplate *while_;			/* a jsonpath over $.result, $.iteration */
	Interval   *delay;			/* before each further iteration, or NULL */
	int			max;			/* iterations at most */
} WfRepeat;

#define WF_MAX_ITERATIONS		1000000
#define WF_DEFAULT_ITERATIONS	1000

/* An edge of the graph: requires (a success edge) or a transition. */
typedef enum WfEdgeKind
{
	WF_EDGE_SUCCESS,			/* requires, on_success */
	WF_EDGE_ERROR,				/* on_error: handles the failure */
	WF_EDGE_COMPLETE			/* on_complete: either outcome */
} WfEdgeKind;

extern const char *const wf_edge_kind_names[];	/* wf_graph.c */

typedef struct WfEdge
{
	int			target;
	WfEdgeKind	kind;
	bool		requires;		/* written as the target's requires */
	WfTemplate *when;			/* a jsonpath that must yield true, or NULL */
} WfEdge;

/* Engine-side tasks: no runner, the engine decides them itself. */
typedef enum WfEngineCmd
{
	WF_ENGINE_NONE,				/* a runner's action */
	WF_ENGINE_NOOP,
	WF_ENGINE_FAIL,
	WF_ENGINE_SUCCEED,
	WF_ENGINE_SLEEP,
	WF_ENGINE_WAIT				/* for an event by correlation key */
} WfEngineCmd;

typedef struct WfTask
{
	char	   *name;
	char	   *action;			/* engine tasks: "engine.<command>" */
	char	   *queue;
	WfEngineCmd engine;
	char	   *message;		/* engine fail */
	Interval   *sleep_for;		/* engine sleep */
	int			nevents;		/* engine wait: the events it waits for */
	char	  **events;
	WfTemplate *wait_key;		/* engine wait: the correlation key */
	int			nedges;			/* out-edges */
	WfEdge	   *edges;
	int			join;			/* edges that must fire; 0: all of them */
	bool		join_inclusive; /* "inclusive": all resolved, at least one
								 * fired */
	char	   *workflow;		/* a sub-workflow's name, or NULL */
	WfTemplate *for_each;		/* a jsonpath yielding the items, or NULL */
	int			concurrency;	/* items in flight at most; 0: all */
	WfRetry    *retry;			/* NULL: no retries */
	WfRepeat   *repeat;			/* NULL: runs once */
	Interval   *timeout;		/* lease of an attempt, or NULL */
	Interval   *delegate_timeout;	/* deadline of a delegation, or NULL */
	WfTemplate *input;			/* NULL: {} */
	WfTemplate *publish;		/* NULL: publishes nothing; else an object */
	int			nrequires;		/* in-degree: sources of the inbound edges */
	int		   *requires;
} WfTask;

typedef struct WfInputKey
{
	char	   *key;
	bool		required;		/* else it has a default */
} WfInputKey;

typedef struct WfGraph
{
	char	   *name;
	int			version;
	int			ntasks;
	WfTask	   *tasks;
	int		   *by_name;		/* task indexes sorted by name */
	int			nstart;			/* tasks with no requires */
	int		   *start;
	bool		has_input_spec;
	int			ninputs;
	WfInputKey *inputs;
	WfTemplate *output;			/* NULL: the execution's vars */
	WfTemplate *vars;			/* initial vars (over $.input), or NULL */
	Interval   *timeout;		/* of the whole execution, or NULL */
	Datum		input_defaults; /* jsonb object of defaults (wf_graph_compile) */
	MemoryContext cxt;
} WfGraph;

#endif							/* PG_WF_H */
