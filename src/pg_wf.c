/*
 * pg_wf.c — module entry point.
 *
 * The engine is layered; every file calls only files below it (DESIGN.md,
 * "Layers"; `make layers` checks it). Bottom to top:
 *   definitions  wf_parse.c, wf_graph.c, wf_json.c (jansson); wf_compile.c;
 *                wf_def.c (wf_define, the graph cache)
 *   values       wf_util.c, wf_state.c (state machines), wf_store.c (SPI,
 *                history), wf_expr.c (jsonpath templates)
 *   wake-ups     wf_registry.c (the watchdogs in shared memory), wf_signal.c
 *                (NOTIFY and the watchdog's latch, at commit)
 *   tokens       wf_token.c;  audit: wf_audit.c (late reports)
 *   the step     wf_step.c (the lock order), wf_execution.c (bookkeeping),
 *                wf_foreach.c, wf_flow.c (edges, joins, children, start),
 *                wf_attempt.c (success, retry, failure)
 *   SQL calls    wf_task.c, wf_queue.c (wf_claim), wf_lifecycle.c,
 *                wf_purge.c (retention), wf_watchdog.c (wf_tick, the
 *                worker), wf_launcher.c (a watchdog per database), this file
 */
#include "postgres.h"

#include "fmgr.h"
#include "utils/guc.h"

#include "pg_wf.h"
#include "wf_def.h"
#include "wf_json.h"
#include "wf_launcher.h"
#include "wf_registry.h"
#include "wf_signal.h"
#include "wf_store.h"
#include "wf_task.h"
#include "wf_watchdog.h"

PG_MODULE_MAGIC;

void		_PG_init(void);

void
_PG_init(void)
{
	wf_json_init();
	wf_def_init();
	wf_store_init();
	wf_task_init();
	wf_registry_init();
	wf_signal_init();
	wf_watchdog_init();
	wf_launcher_init();
	MarkGUCPrefixReserved("pg_wf");
}
