/*
 * pg_wf.c — module entry point.
 *
 * The engine is spread one concern per file:
 *   wf_json.c     definition parsing and validation (jansson): tasks, templates
 *   wf_graph.c    the definition's graph: edges, joins, cycles (jansson)
 *   wf_expr.c     jsonpath expressions and templates
 *   wf_def.c      wf_define() and the compiled-graph cache
 *   wf_engine.c   wf_start(), what an attempt's success or failure leads to
 *   wf_step.c     opening an engine step: the locks, in order
 *   wf_flow.c     edges, joins, skips, engine tasks, starting sub-workflows
 *   wf_foreach.c  for_each items
 *   wf_task.c     wf_task_complete(), wf_task_complete_batch(),
 *                 wf_task_delegate(), wf_heartbeat()
 *   wf_lifecycle.c wf_cancel(), wf_pause(), wf_resume(), wf_rerun(), timeouts
 *   wf_queue.c    wf_claim(), tokens, NOTIFY
 *   wf_watchdog.c wf_tick() and the background worker; GUCs
 *   wf_audit.c    history rows that outlive a refused call
 *   wf_store.c    SPI plans, subtransactions and the history buffer
 */
#include "postgres.h"

#include "fmgr.h"

#include "pg_wf.h"
#include "wf_def.h"
#include "wf_json.h"
#include "wf_signal.h"
#include "wf_watchdog.h"

PG_MODULE_MAGIC;

void		_PG_init(void);

void
_PG_init(void)
{
	wf_json_init();
	wf_def_init();
	wf_signal_init();
	wf_watchdog_init();
}
