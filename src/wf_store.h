/*
 * wf_store.h — SPI access to the wf.* tables: saved plans, row getters and
 * the history (wf.event) buffer.
 */
#ifndef WF_STORE_H
#define WF_STORE_H

#include "datatype/timestamp.h"
#include "executor/spi.h"
#include "utils/jsonb.h"

#include "wf_state.h"

#define WF_MAX_PLAN_ARGS 20

/* A statement prepared once per backend and kept (SPI_keepplan). */
typedef struct WfPlan
{
	const char *sql;
	int			nargs;
	Oid			argtypes[WF_MAX_PLAN_ARGS];
	SPIPlanPtr	plan;

	/*
	 * Always the generic plan: for statements whose custom plans would be
	 * re-planned on every call — those with array parameters, whose custom
	 * plans know the arrays' lengths and so always look cheaper (measured:
	 * the claim, where planning cost a fifth of a completion; a step's end
	 * and the batch's statements, a quarter). The others keep the plan
	 * cache's choice (and are planned once: pg_stat_statements' plans column,
	 * under make bench's load).
	 */
	bool		generic;
} WfPlan;

extern uint64 wf_exec(WfPlan *p, Datum *values, const char *nulls, int expect);
extern void wf_store_init(void);	/* _PG_init: no JIT for engine statements */
extern int64 *wf_exec_ids(WfPlan *p, Datum *values, uint64 *n);

/* Column getters on SPI_tuptable row r (1-based column numbers). */
extern bool wf_isnull(uint64 r, int col);
extern int64 wf_get_int64(uint64 r, int col);
extern int32 wf_get_int32(uint64 r, int col);
extern double wf_get_float8(uint64 r, int col); /* 0 if null */
extern bool wf_get_bool(uint64 r, int col); /* false if null */
extern TimestampTz wf_get_timestamptz(uint64 r, int col);	/* 0 if null */
extern char *wf_get_text(uint64 r, int col);	/* NULL if null */
extern Jsonb *wf_get_jsonb(uint64 r, int col);	/* NULL if null */
extern bytea *wf_get_bytea(uint64 r, int col);	/* NULL if null */

/* History: rows for wf.event, written in one statement per flush. */
typedef struct WfEvents
{
	int			n;
	int			max;
	Datum	   *task_id;
	bool	   *task_id_null;
	Datum	   *task;
	bool	   *task_null;
	Datum	   *state;
	Datum	   *detail;
	bool	   *detail_null;
} WfEvents;

extern void wf_events_task(WfEvents *ev, int64 task_id, const char *task,
						   WfTaskState state, Jsonb *detail);
extern void wf_events_exec(WfEvents *ev, WfExecState state, Jsonb *detail);
extern void wf_events_flush(WfEvents *ev, int64 execution_id);
extern void wf_events_amend_exec(WfEvents *ev, Jsonb *more);

/*
 * What the end of engine steps writes (tasks made ready, history rows in
 * their order, execution rows), gathered so that one statement writes it.
 */
typedef struct WfBatch WfBatch;

extern WfBatch *wf_batch_new(void);
extern int	wf_batch_nevents(WfBatch *b);
extern void wf_batch_task(WfBatch *b, int64 exec_id, const char *name, const char *action,
						  const char *queue, Jsonb *input, Interval *timeout,
						  WfTaskState state, bool held, int pos);
extern void wf_batch_events(WfBatch *b, int64 exec_id, WfEvents *ev);
extern int	wf_batch_execution(WfBatch *b, int slot, int64 id, int active, Jsonb *vars,
							   WfExecState state, Jsonb *output, Jsonb *error);
extern bool wf_batch_pending(WfBatch *b);
extern void wf_batch_flush(WfBatch *b);

#define WF_SCHEMA_0_1 1
#define WF_SCHEMA_0_2 2
extern int	wf_schema_version(void);

extern bool wf_in_subxact(void (*fn) (void *), void *arg, char **error);
extern bool wf_try_subxact(void (*fn) (void *), void *arg, bool step,
						   char **error, int *code);

extern Datum wf_text_array(Datum *elems, int n);
extern Datum wf_spi_text(const char *s, size_t len);	/* while connected */
extern Datum wf_jsonb_array(Datum *elems, int n);

#endif							/* WF_STORE_H */
