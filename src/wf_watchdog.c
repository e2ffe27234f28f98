/*
 * wf_watchdog.c — the watchdog: wf_tick() and the background worker that
 * runs it.
 *
 * One pass (tick_run) does seven kinds of due work, each in batches of at
 * most pg_wf.batch_size rows:
 *   - a running task whose lease passed: the attempt fails with a
 *     "lease_expired" error (its runner is presumed dead) -> retry or fail;
 *   - a delegated task whose deadline passed: the attempt fails with a
 *     "timeout" error -> retry or fail (an {"engine": "sleep"} succeeds; a
 *     sub-workflow task waiting for its retry or next iteration starts its
 *     new child);
 *   - a retry whose not_before came: its queue's runners are woken (NOTIFY);
 *   - an execution whose timeout passed: it fails with a "timeout" error;
 *   - a sub-workflow that ended (wf.inbox): its parent's task succeeds with
 *     the child's output, or fails with the child's error;
 *   - a signal whose waiting task's execution was busy (wf.delivery): the
 *     task succeeds with the event if it still waits (wf_deliver.c);
 *   - kept events (wf.signal) whose ttl passed: deleted (not a step).
 * Each is an engine step (wf_step.c, wf_attempt.c) that takes its
 * execution's lock with SKIP LOCKED, and runs so that it never waits for a
 * lock a client holds and its failure is its execution's alone (run_step,
 * below): whoever holds the lock decides, and the watchdog looks again on
 * a later pass.
 *
 * The worker (pg_wf in shared_preload_libraries) connects to the database
 * named by pg_wf.database and sleeps until the next due time (earliest
 * lease end, deadline or retry), at most pg_wf.max_sleep. A transaction that
 * creates an earlier due time sets the worker's latch when it commits. A
 * pass that filled a batch is followed at once by another transaction, so a
 * million overdue tasks are handled in bounded transactions. On error the
 * worker exits and the launcher (below) restarts it after WORKER_RESTART_S; at
 * start it first handles everything that became due while it was away
 * (e.g. after a crash).
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/pg_type.h"
#include "commands/dbcommands.h"
#include "commands/extension.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "tcop/tcopprot.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"
#include "utils/timeout.h"
#include "utils/timestamp.h"

#include "pg_wf.h"
#include "wf_attempt.h"
#include "wf_deliver.h"
#include "wf_execution.h"
#include "wf_purge.h"
#include "wf_registry.h"
#include "wf_signal.h"
#include "wf_step.h"
#include "wf_store.h"
#include "wf_util.h"
#include "wf_watchdog.h"

PG_FUNCTION_INFO_V1(wf_tick);
PG_FUNCTION_INFO_V1(wf_watchdog_status);
PGDLLEXPORT void wf_watchdog_main(Datum arg);

#define DEFAULT_BATCH_SIZE	1000
#define DEFAULT_MAX_SLEEP_MS	60000
#define DEFAULT_STEP_TIMEOUT_MS	10000
#define REPOLL_MS			100 /* past due but locked by someone: look again */
#define PURGE_EVERY_MS		60000	/* retention: look for finished executions */
#define PURGE_PAUSE			15	/* retention: pause after a batch, in batches */

/* GUCs */
static int	wf_batch_size = DEFAULT_BATCH_SIZE;
static int	wf_max_sleep = DEFAULT_MAX_SLEEP_MS;
static int	wf_step_timeout = DEFAULT_STEP_TIMEOUT_MS;
static int	wf_retention = 0;

void
wf_watchdog_init(void)
{
	DefineCustomIntVariable("pg_wf.batch_size",
							"Most tasks of each kind one watchdog pass acts on.",
							"A pass that fills a batch is followed at once by another transaction.",
							&wf_batch_size, DEFAULT_BATCH_SIZE, 1, 1000000,
							PGC_SUSET, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("pg_wf.max_sleep",
							"Longest the watchdog worker sleeps when nothing is due.",
							NULL, &wf_max_sleep, DEFAULT_MAX_SLEEP_MS, 10, INT_MAX / 2,
							PGC_SIGHUP, GUC_UNIT_MS, NULL, NULL, NULL);
	DefineCustomIntVariable("pg_wf.step_timeout",
							"Longest one watchdog step may take (0: no limit).",
							"A step over it (e.g. a slow expression) fails its execution, so that it does not stall the others.",
							&wf_step_timeout, DEFAULT_STEP_TIMEOUT_MS, 0, INT_MAX,
							PGC_SUSET, GUC_UNIT_MS, NULL, NULL, NULL);
	DefineCustomIntVariable("pg_wf.retention",
							"The watchdog purges executions that finished longer ago than this (0: never).",
							"In batches of pg_wf.batch_size executions, each its own transaction, using at most a sixteenth of the worker's time.",
							&wf_retention, 0, 0, INT_MAX,
							PGC_SIGHUP, GUC_UNIT_S, NULL, NULL, NULL);
}

/* ---------------------------------------------------------------------
 * One pass
 *
 * Every step of a pass is an engine step on one execution, run by
 * run_step(): in a subtransaction, with lock_timeout at its minimum, so
 * that
 *   - a lock a client holds (a runner's open claim, a callback, a cancel)
 *     is never waited for: the step is rolled back and retried on a later
 *     pass, which comes soon because the work is still due;
 *   - any other error about the work fails that execution alone, visibly
 *     (a WARNING in the server log and {"type": "engine_error"} as the
 *     execution's error), and the pass goes on to the others;
 *   - a cancel, a shutdown or out-of-memory still ends the whole pass
 *     (wf_try_subxact).
 * ---------------------------------------------------------------------
 */

typedef struct StepCall
{
	void		(*fn) (void *);
	void	   *arg;
} StepCall;

/* The step's time budget (pg_wf.step_timeout): a timer of our own. */
static TimeoutId step_timer = MAX_TIMEOUTS;
static volatile sig_atomic_t step_expired = false;

static void
step_timer_fired(void)
{
	step_expired = true;
	QueryCancelPending = true;
	InterruptPending = true;
	SetLatch(MyLatch);
}

/*
 * Run a step with lock_timeout at its minimum (restored after it) and its
 * time budget armed.
 */
static void
no_wait_call(void *arg)
{
	StepCall   *c = arg;
	int			level = NewGUCNestLevel();

	(void) set_config_option("lock_timeout", "1", PGC_USERSET, PGC_S_SESSION,
							 GUC_ACTION_SAVE, true, 0, false);
	if (wf_step_timeout > 0)
	{
		if (step_timer == MAX_TIMEOUTS)
			step_timer = RegisterTimeout(USER_TIMEOUT, step_timer_fired);
		step_expired = false;
		enable_timeout_after(step_timer, wf_step_timeout);
	}
	c->fn(c->arg);
	if (step_timer != MAX_TIMEOUTS)
		disable_timeout(step_timer, false);
	AtEOXact_GUC(true, level);
}

/*
 * A step in a subtransaction (see run_step). Returns true, or false with
 * *err and *code; a step over its time budget is a failure like another
 * (the cancel it raised is about that step, not about the pass).
 */
static bool
try_step(StepCall *c, char **err, int *code)
{
	MemoryContext oldcxt = CurrentMemoryContext;
	volatile bool ok = false;

	PG_TRY();
	{
		ok = wf_try_subxact(no_wait_call, c, true, err, code);
	}
	PG_CATCH();
	{
		if (step_timer != MAX_TIMEOUTS)
			disable_timeout(step_timer, false);
		if (!step_expired)
			PG_RE_THROW();
		MemoryContextSwitchTo(oldcxt);
		FlushErrorState();
		step_expired = false;
		*err = psprintf("the step took longer than pg_wf.step_timeout (%d ms)", wf_step_timeout);
		*code = ERRCODE_QUERY_CANCELED;
	}
	PG_END_TRY();
	if (step_timer != MAX_TIMEOUTS)
		disable_timeout(step_timer, false);
	if (ok && step_expired)
	{
		/* the budget ran out just as the step ended: that cancel was ours */
		step_expired = false;
		QueryCancelPending = false;
	}
	return ok;
}

typedef struct FailCall
{
	int64		exec_id;
	const char *what;
	const char *message;
} FailCall;

/* Fail an execution whose watchdog step raised an error. */
static void
fail_call(void *arg)
{
	FailCall   *f = arg;
	WfStep		s;
	const char *keys[] = {"type", "step", "message"};
	Jsonb	   *vals[] = {wf_jsonb_string("engine_error"), wf_jsonb_string(f->what),
	wf_jsonb_string(f->message)};

	if (!wf_step_open(&s, f->exec_id, true))
		return;					/* locked: looked at again on a later pass */
	if (wf_exec_is_live(s.state))
		wf_fail_execution(&s, wf_jsonb_object(3, keys, vals));
	wf_step_close(&s);
}

/* Run one step of a pass on execution exec_id (see above). */
static void
run_step(int64 exec_id, const char *what, void (*fn) (void *), void *arg)
{
	StepCall	c = {fn, arg};
	StepCall	fc;
	FailCall	f;
	char	   *err;
	int			code;

	CHECK_FOR_INTERRUPTS();
	if (try_step(&c, &err, &code))
		return;
	if (code == ERRCODE_LOCK_NOT_AVAILABLE || code == ERRCODE_T_R_DEADLOCK_DETECTED)
	{
		elog(DEBUG1, "pg_wf watchdog: %s of execution " INT64_FORMAT " waits for a lock; later",
			 what, exec_id);
		return;
	}
	wf_registry_report_error(psprintf("%s of execution " INT64_FORMAT ": %s", what, exec_id, err));
	ereport(WARNING,
			(errmsg("pg_wf watchdog: %s of execution " INT64_FORMAT " failed: %s",
					what, exec_id, err),
			 errdetail("The execution fails with {\"type\": \"engine_error\"}; the watchdog goes on with the others.")));
	f.exec_id = exec_id;
	f.what = what;
	f.message = err;
	fc.fn = fail_call;
	fc.arg = &f;
	if (!try_step(&fc, &err, &code) && code != ERRCODE_LOCK_NOT_AVAILABLE)
		ereport(WARNING,
				(errmsg("pg_wf watchdog: could not fail execution " INT64_FORMAT " either: %s",
						exec_id, err),
				 errhint("Cancel it with wf_cancel(), or fix its rows by hand.")));
}

/* An attempt whose lease or delegate deadline passed. */
typedef struct ExpireCall
{
	int64		exec_id;
	int64		task_id;
	WfTaskState state;			/* running (lease) or delegated (deadline) */
	const char *type;
	const char *message;
	bool		acted;
} ExpireCall;

static void
expire_call(void *arg)
{
	ExpireCall *c = arg;
	WfStep		s;
	WfTaskRow	tr;
	bool		passed;

	if (!wf_step_open(&s, c->exec_id, true))
		return;					/* locked: its holder decides; look later */
	wf_step_lock_task(&s, c->task_id, &tr);
	passed = c->state == WF_TASK_RUNNING ? tr.lease_passed : tr.deadline_passed;
	if (tr.state == c->state && passed)
	{
		const char *ekeys[] = {"type", "message", "attempt"};
		Jsonb	   *evals[] = {wf_jsonb_string(c->type), wf_jsonb_string(c->message),
		wf_jsonb_int(tr.attempt)};
		const char *dkeys[] = {"attempt", "by"};
		Jsonb	   *dvals[] = {wf_jsonb_int(tr.attempt), wf_jsonb_string("watchdog")};

		if (tr.def->engine == WF_ENGINE_WAIT)
			evals[1] = wf_jsonb_string("no event the task waits for arrived before its timeout");
		if (tr.def->workflow)
			wf_attempt_restart_child(&s, &tr, NULL);	/* its retry or next
														 * iteration */
		else if (tr.def->engine == WF_ENGINE_SLEEP)
			wf_attempt_succeeded(&s, &tr, NULL, wf_jsonb_object(2, dkeys, dvals));
		else
			wf_attempt_failed(&s, &tr, wf_jsonb_object(3, ekeys, evals), true, true,
							  wf_jsonb_object(2, dkeys, dvals));
		c->acted = true;
	}
	wf_step_close(&s);
}

/* Expire up to batch attempts of one kind; returns how many it ended. */
static int
expire(WfPlan *due, WfTaskState state, const char *type, const char *message, int batch)
{
	Datum		values[1];
	uint64		n;
	int64	   *ids;
	int64	   *execs;
	int			acted = 0;

	values[0] = Int32GetDatum(batch);
	n = wf_exec(due, values, NULL, 0);
	ids = palloc(sizeof(int64) * Max(n, 1));
	execs = palloc(sizeof(int64) * Max(n, 1));
	for (uint64 r = 0; r < n; r++)
	{
		ids[r] = wf_get_int64(r, 1);
		execs[r] = wf_get_int64(r, 2);
	}
	for (uint64 r = 0; r < n; r++)
	{
		ExpireCall	c = {execs[r], ids[r], state, type, message, false};

		run_step(execs[r], type, expire_call, &c);
		acted += c.acted;
	}
	return acted;
}

/* A sub-workflow that ended (a wf.inbox row): finish its parent's task. */
typedef struct ParentCall
{
	int64		inbox_id;
	int64		exec_id;		/* the parent's */
	int64		task_id;		/* the parent's task */
	int64		child;
	WfExecState state;			/* the child's end */
	Jsonb	   *output;
	Jsonb	   *error;
	bool		acted;
} ParentCall;

static void
parent_call(void *arg)
{
	static WfPlan done = {
		"DELETE FROM wf.inbox WHERE id = $1",
		1, {INT8OID}
	};
	ParentCall *c = arg;
	WfStep		s;
	WfTaskRow	tr;
	const char *dkeys[] = {"child_execution_id"};
	Jsonb	   *dvals[] = {wf_jsonb_int(c->child)};
	Datum		values[1];

	if (!wf_step_open(&s, c->exec_id, true))
		return;
	wf_step_lock_task(&s, c->task_id, &tr);
	if (tr.state == WF_TASK_RUNNING)
	{
		if (c->state == WF_EXEC_SUCCEEDED)
			wf_attempt_succeeded(&s, &tr, c->output, wf_jsonb_object(1, dkeys, dvals));
		else
		{
			const char *keys[] = {"type", "execution_id", "state", "error"};
			Jsonb	   *vals[] = {wf_jsonb_string("subworkflow_failed"),
				wf_jsonb_int(c->child), wf_jsonb_string(wf_exec_state_name(c->state)),
			c->error};

			wf_attempt_failed(&s, &tr, wf_jsonb_object(4, keys, vals), false, true,
							  wf_jsonb_object(1, dkeys, dvals));
		}
	}
	values[0] = Int64GetDatum(c->inbox_id);
	wf_exec(&done, values, NULL, 0);
	wf_step_close(&s);
	c->acted = true;
}

/*
 * Sub-workflows that ended: finish their parents' tasks (each an engine
 * step on the parent's execution, taken with SKIP LOCKED like the rest).
 */
static int
finish_parents(int batch)
{
	static WfPlan inbox = {
		"SELECT i.id, i.parent_task_id, t.execution_id, i.state, i.output, i.error, "
		"i.child_execution_id FROM wf.inbox i JOIN wf.task t ON t.id = i.parent_task_id "
		"ORDER BY i.id LIMIT $1",
		1, {INT4OID}
	};

	/* rows whose parent task is gone: nobody can consume them */
	static WfPlan orphans = {
		"DELETE FROM wf.inbox WHERE id = ANY (ARRAY("
		"  SELECT i.id FROM wf.inbox i"
		"  WHERE NOT EXISTS (SELECT 1 FROM wf.task t WHERE t.id = i.parent_task_id)"
		"  ORDER BY i.id LIMIT $1))",
		1, {INT4OID}
	};
	Datum		values[1];
	uint64		n;
	int			acted = 0;
	ParentCall *calls;

	values[0] = Int32GetDatum(batch);
	acted += wf_exec(&orphans, values, NULL, 0);
	n = wf_exec(&inbox, values, NULL, 0);
	calls = palloc0(sizeof(ParentCall) * Max(n, 1));
	for (uint64 r = 0; r < n; r++)
	{
		calls[r].inbox_id = wf_get_int64(r, 1);
		calls[r].task_id = wf_get_int64(r, 2);
		calls[r].exec_id = wf_get_int64(r, 3);
		calls[r].state = wf_exec_state_parse(wf_get_text(r, 4));
		calls[r].output = wf_get_jsonb(r, 5);
		calls[r].error = wf_get_jsonb(r, 6);
		calls[r].child = wf_get_int64(r, 7);
	}
	for (uint64 r = 0; r < n; r++)
	{
		run_step(calls[r].exec_id, "subworkflow_end", parent_call, &calls[r]);
		acted += calls[r].acted;
	}
	return acted;
}

/*
 * Signals whose waiting task's execution was busy (wf.delivery): deliver
 * them now, each a step on its execution.
 */
static int
deliver_signals(int batch)
{
	WfDelivery *d;
	uint64		n = wf_deliveries_queued(batch, &d);
	int			acted = 0;

	for (uint64 r = 0; r < n; r++)
	{
		run_step(d[r].exec_id, "signal_delivery", wf_deliver_queued, &d[r]);
		acted += !d[r].locked;
	}
	return acted;
}

/*
 * Kept events (wf_signal with a ttl) whose time passed: deleted, a batch
 * at a time. Not a step: no execution is involved.
 */
static int
forget_signals(int batch)
{
	static WfPlan expired = {
		"DELETE FROM wf.signal WHERE id = ANY (ARRAY("
		"  SELECT id FROM wf.signal WHERE expires_at <= pg_catalog.now() "
		"  ORDER BY expires_at LIMIT $1))",
		1, {INT4OID}
	};
	Datum		values[1];

	values[0] = Int32GetDatum(batch);
	return (int) wf_exec(&expired, values, NULL, 0);
}

/* An execution whose timeout passed: it fails. */
typedef struct TimeoutCall
{
	int64		exec_id;
	bool		acted;
} TimeoutCall;

static void
timeout_call(void *arg)
{
	static WfPlan still = {
		"SELECT deadline < pg_catalog.now() FROM wf.execution WHERE id = $1",
		1, {INT8OID}
	};
	TimeoutCall *c = arg;
	WfStep		s;
	Datum		values[1];

	if (!wf_step_open(&s, c->exec_id, true))
		return;
	values[0] = Int64GetDatum(c->exec_id);
	wf_exec(&still, values, NULL, 1);
	if (wf_exec_is_live(s.state) && wf_get_bool(0, 1))
	{
		const char *keys[] = {"type", "message"};
		Jsonb	   *vals[] = {wf_jsonb_string("timeout"),
		wf_jsonb_string("the execution's timeout passed")};

		wf_fail_execution(&s, wf_jsonb_object(2, keys, vals));
		c->acted = true;
	}
	wf_step_close(&s);
}

/* Executions whose timeout passed fail. Returns how many. */
static int
expire_executions(int batch)
{
	static WfPlan due = {
		"SELECT id FROM wf.execution WHERE deadline < pg_catalog.now() "
		"AND state IN ('running', 'paused') ORDER BY deadline LIMIT $1",
		1, {INT4OID}
	};
	Datum		values[1];
	uint64		n;
	int64	   *ids;
	int			acted = 0;

	values[0] = Int32GetDatum(batch);
	ids = wf_exec_ids(&due, values, &n);
	for (uint64 r = 0; r < n; r++)
	{
		TimeoutCall c = {ids[r], false};

		run_step(ids[r], "execution_timeout", timeout_call, &c);
		acted += c.acted;
	}
	return acted;
}

static int
tick_run(int batch)
{
	static WfPlan leases = {
		"SELECT id, execution_id FROM wf.task "
		"WHERE state = 'running' AND lease_until < pg_catalog.now() "
		"ORDER BY lease_until LIMIT $1",
		1, {INT4OID}
	};
	static WfPlan deadlines = {
		"SELECT id, execution_id FROM wf.task "
		"WHERE state = 'delegated' AND deadline < pg_catalog.now() "
		"ORDER BY deadline LIMIT $1",
		1, {INT4OID}
	};
	static WfPlan wakes = {
		"UPDATE wf.task SET wake_at = NULL WHERE id = ANY (ARRAY("
		"  SELECT id FROM wf.task WHERE wake_at <= pg_catalog.now() "
		"  ORDER BY wake_at LIMIT $1 FOR UPDATE SKIP LOCKED)) "
		"RETURNING queue",
		1, {INT4OID}
	};
	Datum		values[1];
	uint64		n;
	int			acted = 0;

	acted += expire(&leases, WF_TASK_RUNNING, "lease_expired",
					"the lease passed without a completion or heartbeat", batch);
	acted += expire(&deadlines, WF_TASK_DELEGATED, "timeout",
					"the delegate deadline passed without a callback", batch);
	acted += expire_executions(batch);
	acted += finish_parents(batch);
	if (wf_schema_version() >= WF_SCHEMA_0_2)
	{
		acted += deliver_signals(batch);
		acted += forget_signals(batch);
	}

	values[0] = Int32GetDatum(batch);
	n = wf_exec(&wakes, values, NULL, 0);
	for (uint64 r = 0; r < n; r++)
		wf_notify_queue(wf_get_text(r, 1));
	acted += n;
	return acted;
}

/*
 * wf_tick() RETURNS integer: one pass, as the worker runs it.
 */
Datum
wf_tick(PG_FUNCTION_ARGS)
{
	int			acted;

	SPI_connect();
	acted = tick_run(wf_batch_size);
	SPI_finish();
	PG_RETURN_INT32(acted);
}

/*
 * wf_watchdog_status() RETURNS SETOF record: the watchdogs of the cluster
 * (every database served), from the registry in shared memory. No rows
 * without shared_preload_libraries.
 */
Datum
wf_watchdog_status(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	WfStatus   *st;
	int			n;

	InitMaterializedSRF(fcinfo, 0);
	n = wf_registry_status(&st);
	for (int i = 0; i < n; i++)
	{
		WfHealth   *h = &st[i].health;
		char	   *name = get_database_name(st[i].dboid);
		Datum		v[11];
		bool		nulls[11] = {0};

		v[0] = name ? CStringGetTextDatum(name) : (Datum) 0;
		nulls[0] = name == NULL;
		v[1] = Int32GetDatum(st[i].pid);
		nulls[1] = st[i].pid == 0;
		v[2] = TimestampTzGetDatum(h->started_at);
		nulls[2] = h->started_at == 0;
		v[3] = TimestampTzGetDatum(h->last_pass_at);
		nulls[3] = h->last_pass_at == 0;
		v[4] = TimestampTzGetDatum(st[i].next_wake);
		nulls[4] = st[i].next_wake == 0 || st[i].pid == 0;
		v[5] = Int64GetDatum(h->passes);
		v[6] = Int64GetDatum(h->acted);
		v[7] = Int64GetDatum(h->purged);
		v[8] = Int64GetDatum(h->errors);
		v[9] = CStringGetTextDatum(h->last_error);
		nulls[9] = h->errors == 0;
		v[10] = TimestampTzGetDatum(h->last_error_at);
		nulls[10] = h->errors == 0;
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, v, nulls);
	}
	return (Datum) 0;
}

/* ---------------------------------------------------------------------
 * The worker
 * ---------------------------------------------------------------------
 */

/* When is the next thing due? 0 if nothing is. */
static TimestampTz
next_due(void)
{
/* the earliest due time; "extra": what only 0.2's tables hold */
#define DUE_SQL(extra) \
		"SELECT LEAST(" \
		" (SELECT pg_catalog.min(lease_until) FROM wf.task WHERE state = 'running')," \
		" (SELECT pg_catalog.min(deadline) FROM wf.task WHERE state = 'delegated' AND deadline IS NOT NULL)," \
		" (SELECT pg_catalog.min(wake_at) FROM wf.task WHERE wake_at IS NOT NULL)," \
		" (SELECT pg_catalog.min(deadline) FROM wf.execution" \
		"   WHERE deadline IS NOT NULL AND state IN ('running', 'paused'))," \
		extra \
		" (SELECT pg_catalog.min(created_at) FROM wf.inbox))"
	static WfPlan due = {
		DUE_SQL(" (SELECT pg_catalog.min(created_at) FROM wf.delivery),"
				" (SELECT pg_catalog.min(expires_at) FROM wf.signal),"),
		0, {InvalidOid}
	};
	static WfPlan due_0_1 = {	/* pg_wf 0.1: no waits, no kept events */
		DUE_SQL(""),
		0, {InvalidOid}
	};
	bool		isnull;
	Datum		d;

	wf_exec(wf_schema_version() >= WF_SCHEMA_0_2 ? &due : &due_0_1, NULL, NULL, 1);
	d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
	return isnull ? 0 : DatumGetTimestampTz(d);
}

/*
 * A transaction of the worker, with SPI and a snapshot; returns whether
 * pg_wf is installed in its database.
 */
static bool
worker_xact_begin(const char *activity)
{
	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	SPI_connect();
	PushActiveSnapshot(GetTransactionSnapshot());
	pgstat_report_activity(STATE_RUNNING, activity);
	return OidIsValid(get_extension_oid("pg_wf", true));
}

static void
worker_xact_commit(void)
{
	SPI_finish();
	PopActiveSnapshot();
	CommitTransactionCommand();
	pgstat_report_stat(false);
	pgstat_report_activity(STATE_IDLE, NULL);
}

/* One transaction: a pass, then the next due time. Returns tasks acted on. */
static int
worker_pass(TimestampTz *due, bool *installed)
{
	int			acted = 0;

	*installed = worker_xact_begin("pg_wf watchdog pass");
	*due = 0;
	if (*installed)
	{
		acted = tick_run(wf_batch_size);
		*due = next_due();
	}
	worker_xact_commit();
	return acted;
}

/*
 * Retention (pg_wf.retention): one batch of executions purged, in a
 * transaction of its own. Returns how many.
 */
static int64
worker_purge(void)
{
	Interval	older = {0};
	int64		n = 0;

	older.time = (int64) wf_retention * USECS_PER_SEC;
	if (worker_xact_begin("pg_wf watchdog: purging finished executions"))
		n = wf_purge_batch(wf_purge_cutoff(&older), wf_batch_size);
	worker_xact_commit();
	return n;
}

/*
 * When the next retention batch is due, after one that started at
 * "started" and purged n executions. A full batch is followed by the next
 * after PURGE_PAUSE times as long as it took: the purge takes at most a
 * sixteenth of the worker's time (a quarter cost runners a third of their
 * throughput on two cores, an eighth 0.50-0.96 of it: make bench, workload
 * 7, test/bench/README.md), and the due work is
 * never more than a batch behind. Otherwise there is nothing more to purge
 * now: look again after PURGE_EVERY_MS.
 */
static TimestampTz
next_purge(TimestampTz started, int64 n)
{
	TimestampTz end = GetCurrentTimestamp();

	if (n >= wf_batch_size)
		return end + PURGE_PAUSE * (end - started);
	return TimestampTzPlusMilliseconds(started, PURGE_EVERY_MS);
}

/* The watchdog exits: pg_wf is not (or no longer) in its database. */
static void
exit_absent(const char *db, bool was_there)
{
	if (was_there)
		ereport(LOG,
				(errmsg("pg_wf watchdog: extension pg_wf was dropped from database \"%s\"; exiting", db)));
	wf_registry_mark_absent();
	proc_exit(0);
}

/* The name of this worker's database (in a transaction of its own). */
static char *
my_database_name(void)
{
	char	   *name;

	StartTransactionCommand();
	name = MemoryContextStrdup(TopMemoryContext, get_database_name(MyDatabaseId));
	CommitTransactionCommand();
	return name;
}

/*
 * The watchdog of one database (started by the launcher, wf_launcher.c,
 * with its registry slot as argument and its database's oid in bgw_extra).
 */
void
wf_watchdog_main(Datum arg)
{
	volatile bool first = true;
	int			slot = DatumGetInt32(arg);
	Oid			dboid;
	char	   *db;
	volatile TimestampTz purge_at = 0;

	memcpy(&dboid, MyBgworkerEntry->bgw_extra, sizeof(Oid));
	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	pqsignal(SIGTERM, die);
	BackgroundWorkerUnblockSignals();
	BackgroundWorkerInitializeConnectionByOid(dboid, InvalidOid, 0);
	wf_pin_search_path();
	wf_registry_attach(slot, MyLatch);
	db = my_database_name();

	for (;;)
	{
		TimestampTz due;
		TimestampTz now;
		bool		installed;
		int			acted;
		int64		total = 0;
		int64		purged = 0;
		long		sleep_ms;

		CHECK_FOR_INTERRUPTS();
		if (wf_registry_exit_requested())
		{
			ereport(LOG,
					(errmsg("pg_wf watchdog: leaving database \"%s\" (it is being dropped, or became a template); exiting", db)));
			proc_exit(0);
		}
		if (ConfigReloadPending)
		{
			ConfigReloadPending = false;
			ProcessConfigFile(PGC_SIGHUP);
			purge_at = 0;
			ereport(LOG,
					(errmsg("pg_wf watchdog reloaded its configuration (batch_size %d, max_sleep %d ms, retention %d s)",
							wf_batch_size, wf_max_sleep, wf_retention)));
		}

		wf_registry_awake();

		/* an error ends the worker (the launcher restarts it): say which */
		PG_TRY();
		{
			do
			{
				acted = worker_pass(&due, &installed);
				if (!installed)
					exit_absent(db, !first);
				total += acted;
				CHECK_FOR_INTERRUPTS();
			} while (acted >= wf_batch_size);
			now = GetCurrentTimestamp();
			if (wf_retention > 0 && now >= purge_at)
			{
				purged = worker_purge();
				purge_at = next_purge(now, purged);
			}
		}
		PG_CATCH();
		{
			ErrorData  *e;

			MemoryContextSwitchTo(TopMemoryContext);
			e = CopyErrorData();
			wf_registry_report_error(e->message ? e->message : "unknown error");
			PG_RE_THROW();
		}
		PG_END_TRY();

		if (first)
			ereport(LOG,
					(errmsg("pg_wf watchdog started in database \"%s\" (batch_size %d, max_sleep %d ms, retention %d s)",
							db, wf_batch_size, wf_max_sleep, wf_retention)));
		if (first && total > 0)
			ereport(LOG,
					(errmsg("pg_wf watchdog recovered: acted on " INT64_FORMAT " overdue tasks at start", total)));
		first = false;
		wf_registry_report_pass(total, purged);

		now = GetCurrentTimestamp();
		sleep_ms = wf_max_sleep;
		if (due != 0)
		{
			long		until = TimestampDifferenceMilliseconds(now, due);

			/* past due after a pass: its rows are locked; look again soon */
			sleep_ms = Min(sleep_ms, until > 0 ? until + 1 : REPOLL_MS);
		}
		if (wf_retention > 0)
			sleep_ms = Min(sleep_ms, TimestampDifferenceMilliseconds(now, purge_at) + 1);
		wf_registry_sleeps_until(TimestampTzPlusMilliseconds(now, sleep_ms));

		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 sleep_ms, PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
	}
}
