/*
 * db.c — wf-runner's database side: one libpq connection for claims,
 * reports, delegations, heartbeats and LISTEN.
 *
 * Every call names the extension's schema (found at connect), and passes
 * values as parameters, never spliced into SQL text. A lost connection
 * (a server restart, a network fault) is noticed by the next call or by
 * the socket, and re-established with back-off; nothing is lost meanwhile:
 * running actions go on, finished ones wait to be reported, and a report
 * that may have committed before the connection dropped is simply sent
 * again (an identical repeat is accepted as a no-op).
 *
 * Reports go in batches (wf_task_complete_batch, all or nothing); if a
 * batch is refused, its items are reported one by one, so that one task
 * the engine refuses (cancelled meanwhile: WF006) costs the others
 * nothing.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "runner.h"

/* pg_wf's schema, quoted: every call names it */
const char *const db_schema_query =
"SELECT pg_catalog.quote_ident(n.nspname) FROM pg_catalog.pg_extension e "
"JOIN pg_catalog.pg_namespace n ON n.oid OPERATOR(pg_catalog.=) e.extnamespace "
"WHERE e.extname OPERATOR(pg_catalog.=) 'pg_wf'";

static PGconn *conn = NULL;
static char *schema = NULL;		/* quoted identifier */
static double next_try = 0;
static double backoff = 0.25;

typedef enum
{
	CALL_OK,
	CALL_REFUSED,				/* the server said no: sqlstate, message */
	CALL_LOST					/* the connection is gone */
} CallResult;

static bool woken = false;		/* a notification arrived (maybe during a
								 * call) */
static char last_state[6];
static char last_message[1024];

double
db_next_try(void)
{
	return next_try;
}

bool
db_connected(void)
{
	return conn != NULL;
}

int
db_socket(void)
{
	return conn ? PQsocket(conn) : -1;
}

void
db_close(void)
{
	if (conn)
		PQfinish(conn);
	conn = NULL;
}

static void
lost(const char *what)
{
	log_error("database connection lost (%s): %s; reconnecting", what,
			  conn ? PQerrorMessage(conn) : "");
	db_close();
	next_try = 0;
	backoff = 0.25;
}

/* Run a statement; keep the result (the caller frees it) if OK. */
static CallResult
call(const char *sql, int n, const char *const *values, PGresult **out)
{
	PGresult   *res;
	const char *st;

	*out = NULL;
	if (!conn)
		return CALL_LOST;
	res = PQexecParams(conn, sql, n, NULL, values, NULL, NULL, 0);
	/* our own commits notify us too: libpq reads those with the result */
	for (PGnotify *nt; (nt = PQnotifies(conn)) != NULL;)
	{
		woken = true;
		PQfreemem(nt);
	}
	if (res && (PQresultStatus(res) == PGRES_TUPLES_OK || PQresultStatus(res) == PGRES_COMMAND_OK))
	{
		*out = res;
		return CALL_OK;
	}
	st = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
	if (!res || !st || PQstatus(conn) == CONNECTION_BAD ||
		strncmp(st, "08", 2) == 0 || strncmp(st, "57P", 3) == 0)
	{
		PQclear(res);
		lost("a call failed");
		return CALL_LOST;
	}
	snprintf(last_state, sizeof(last_state), "%s", st);
	snprintf(last_message, sizeof(last_message), "%s",
			 PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY));
	PQclear(res);
	return CALL_REFUSED;
}

static void
notice_quiet(void *arg, const PGresult *res)
{
	log_msg(LOG_VERBOSE, "server: %s", PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY));
}

bool
db_connect(void)
{
	const char *keys[] = {"dbname", "fallback_application_name", NULL};
	const char *vals[] = {cfg.conninfo, "wf-runner", NULL};
	PGresult   *res;
	double		t = now_s();

	if (conn)
		return true;
	if (t < next_try)
		return false;
	next_try = t + backoff;
	backoff = backoff * 2 > 30 ? 30 : backoff * 2;
	conn = PQconnectdbParams(keys, vals, 1);
	if (PQstatus(conn) != CONNECTION_OK)
	{
		log_error("cannot connect to the database: %s", PQerrorMessage(conn));
		PQfinish(conn);
		conn = NULL;
		return false;
	}
	PQsetNoticeReceiver(conn, notice_quiet, NULL);
	if (call(db_schema_query, 0, NULL, &res) != CALL_OK)
	{
		if (conn)
			log_error("cannot look up pg_wf: %s", last_message);
		db_close();
		return false;
	}
	if (PQntuples(res) != 1)
	{
		log_error("pg_wf is not installed in this database (CREATE EXTENSION pg_wf); trying again in %.0f s",
				  backoff);
		PQclear(res);
		db_close();
		return false;
	}
	free(schema);
	schema = strdup(PQgetvalue(res, 0, 0));
	PQclear(res);
	for (int i = 0; i < cfg.nqueues; i++)
	{
		char		chan[128];
		char	   *q;
		char		sql[256];

		snprintf(chan, sizeof(chan), "wf_%s", cfg.queues[i]);
		q = PQescapeIdentifier(conn, chan, strlen(chan));
		snprintf(sql, sizeof(sql), "LISTEN %s", q);
		PQfreemem(q);
		if (call(sql, 0, NULL, &res) != CALL_OK)
		{
			if (conn)
				log_error("cannot LISTEN: %s", last_message);
			db_close();
			return false;
		}
		PQclear(res);
	}
	backoff = 0.25;
	log_msg(LOG_NORMAL, "connected; listening on %d queue%s (%s%s), up to %d actions at once",
			cfg.nqueues, cfg.nqueues == 1 ? "" : "s", cfg.queues[0], cfg.nqueues > 1 ? ", ..." : "",
			cfg.concurrency);
	return true;
}

bool
db_consume(void)
{
	PGnotify   *n;

	if (conn && !PQconsumeInput(conn))
		lost("reading notifications");
	while (conn && (n = PQnotifies(conn)) != NULL)
	{
		woken = true;
		PQfreemem(n);
	}
	return db_take_wake();
}

bool
db_take_wake(void)
{
	bool		w = woken;

	woken = false;
	return w;
}

static char *
sqlf(const char *fmt)
{
	static char buf[512];

	snprintf(buf, sizeof(buf), fmt, schema);
	return buf;
}

Task *
db_claim(const char *queue, int max, int *n)
{
	char		maxs[16];
	const char *v[4] = {queue, maxs, cfg.lease, cfg.runner_name};
	PGresult   *res;
	Task	   *list = NULL;

	*n = 0;
	snprintf(maxs, sizeof(maxs), "%d", max);
	switch (call(sqlf("SELECT task_id, execution_id, task, action, input, attempt, token "
					  "FROM %s.wf_claim($1, $2::integer, $3::interval, $4)"), 4, v, &res))
	{
		case CALL_OK:
			break;
		case CALL_REFUSED:
			log_error("claim from queue %s refused (%s): %s", queue, last_state, last_message);
			/* fall through */
		case CALL_LOST:
			return NULL;
	}
	for (int r = PQntuples(res) - 1; r >= 0; r--)
	{
		Task	   *t = calloc(1, sizeof(Task));

		t->id = strtoll(PQgetvalue(res, r, 0), NULL, 10);
		t->exec_id = strtoll(PQgetvalue(res, r, 1), NULL, 10);
		t->name = strdup(PQgetvalue(res, r, 2));
		t->action = strdup(PQgetvalue(res, r, 3));
		t->input = strdup(PQgetvalue(res, r, 4));
		t->attempt = atoi(PQgetvalue(res, r, 5));
		t->token = strdup(PQgetvalue(res, r, 6));
		t->queue = queue;
		t->out_fd = t->err_fd = -1;
		t->next = list;
		list = t;
		(*n)++;
	}
	PQclear(res);
	return list;
}

/* {"a","b"} with each element quoted for an array literal */
static char *
array_literal(Task **tasks, int n, const char *(*get) (Task *))
{
	size_t		cap = 16,
				len = 0;
	char	   *s;

	for (int i = 0; i < n; i++)
		cap += strlen(get(tasks[i])) * 2 + 4;
	s = malloc(cap);
	s[len++] = '{';
	for (int i = 0; i < n; i++)
	{
		const char *v = get(tasks[i]);

		if (i > 0)
			s[len++] = ',';
		s[len++] = '"';
		for (; *v; v++)
		{
			if (*v == '"' || *v == '\\')
				s[len++] = '\\';
			s[len++] = *v;
		}
		s[len++] = '"';
	}
	s[len++] = '}';
	s[len] = '\0';
	return s;
}

static const char *
get_id(Task *t)
{
	static char ids[32];

	snprintf(ids, sizeof(ids), "%lld", (long long) t->id);
	return ids;
}

static const char *
get_status(Task *t)
{
	return t->status;
}

static const char *
get_result(Task *t)
{
	return t->result;
}

static const char *
get_token(Task *t)
{
	return t->token;
}

static void
log_reported(Task *t, const char *state)
{
	double		ms = (now_s() - t->started) * 1000;

	if (strcmp(state, "succeeded") == 0)
		log_msg(LOG_NORMAL, "task %lld (exec %lld %s, %s) succeeded in %.0f ms",
				(long long) t->id, (long long) t->exec_id, t->name, t->action, ms);
	else
		log_msg(LOG_NORMAL, "task %lld (exec %lld %s, %s) %s after %.0f ms: %s -> %s",
				(long long) t->id, (long long) t->exec_id, t->name, t->action,
				strcmp(t->status, "error") == 0 ? "failed" : "reported", ms,
				t->result && strlen(t->result) < 300 ? t->result : "(error document)",
				strcmp(state, "ready") == 0 ? "will be retried" : state);
}

/* the engine refused a report: drop it, or report an error instead */
static bool
refused(Task *t)
{
	bool		engine = strncmp(last_state, "WF", 2) == 0;

	if (!engine && strcmp(t->status, "success") == 0)
	{
		/* e.g. a result jsonb cannot hold (\u0000), or too large */
		char		msg[1200];

		snprintf(msg, sizeof(msg), "the result was refused (%s): %s", last_state, last_message);
		log_error("task %lld (exec %lld %s, %s): %s; reporting an error instead",
				  (long long) t->id, (long long) t->exec_id, t->name, t->action, msg);
		action_outcome(t, "error", json_error_doc("result_refused", msg));
		return true;			/* try again */
	}
	log_error("task %lld (exec %lld %s, %s): report refused (%s): %s; dropped",
			  (long long) t->id, (long long) t->exec_id, t->name, t->action, last_state, last_message);
	t->phase = PHASE_DONE;
	return false;
}

static bool
report_one(Task *t)
{
	char		ids[32];
	const char *v[4];
	PGresult   *res;

	for (int tries = 0; tries < 2; tries++)
	{
		snprintf(ids, sizeof(ids), "%lld", (long long) t->id);
		v[0] = ids;
		v[1] = t->status;
		v[2] = t->result;
		v[3] = t->token;
		switch (call(sqlf("SELECT %s.wf_task_complete($1::bigint, $2, $3::jsonb, $4)"), 4, v, &res))
		{
			case CALL_OK:
				log_reported(t, PQgetvalue(res, 0, 0));
				PQclear(res);
				t->phase = PHASE_DONE;
				return true;
			case CALL_LOST:
				return false;
			case CALL_REFUSED:
				if (!refused(t))
					return true;
		}
	}
	return true;
}

void
db_report(Task **tasks, int n)
{
	if (n > 1)
	{
		char	   *a[4];
		PGresult   *res;
		CallResult	r;

		a[0] = array_literal(tasks, n, get_id);
		a[1] = array_literal(tasks, n, get_status);
		a[2] = array_literal(tasks, n, get_result);
		a[3] = array_literal(tasks, n, get_token);
		r = call(sqlf("SELECT task_id, state FROM %s.wf_task_complete_batch("
					  "$1::bigint[], $2::text[], $3::jsonb[], $4::text[])"),
				 4, (const char *const *) a, &res);
		for (int i = 0; i < 4; i++)
			free(a[i]);
		if (r == CALL_LOST)
			return;
		if (r == CALL_OK)
		{
			/* rows come in the engine's order (by execution): match by id */
			for (int r = 0; r < PQntuples(res); r++)
			{
				int64_t		id = strtoll(PQgetvalue(res, r, 0), NULL, 10);

				for (int i = 0; i < n; i++)
					if (tasks[i]->id == id && tasks[i]->phase == PHASE_REPORT)
					{
						log_reported(tasks[i], PQgetvalue(res, r, 1));
						tasks[i]->phase = PHASE_DONE;
						break;
					}
			}
			for (int i = 0; i < n; i++)
				tasks[i]->phase = PHASE_DONE;	/* (all were applied) */
			PQclear(res);
			return;
		}
		log_msg(LOG_VERBOSE, "batch of %d reports refused (%s: %s); reporting them one by one",
				n, last_state, last_message);
	}
	for (int i = 0; i < n; i++)
		if (!report_one(tasks[i]))
			return;
}

int
db_delegate(Task *t)
{
	char		ids[32];
	const char *v[3];
	PGresult   *res;

	snprintf(ids, sizeof(ids), "%lld", (long long) t->id);
	v[0] = ids;
	v[1] = t->token;
	v[2] = t->acfg->delegate_timeout;
	switch (call(sqlf("SELECT %s.wf_task_delegate($1::bigint, $2, $3::interval)"), 3, v, &res))
	{
		case CALL_OK:
			free(t->token);
			t->token = strdup(PQgetvalue(res, 0, 0));
			t->delegated = true;
			PQclear(res);
			log_msg(LOG_NORMAL, "task %lld (exec %lld %s, %s) delegated%s%s",
					(long long) t->id, (long long) t->exec_id, t->name, t->action,
					v[2] ? " for " : "", v[2] ? v[2] : "");
			return 1;
		case CALL_LOST:
			return 0;
		case CALL_REFUSED:
			break;
	}
	log_error("task %lld (exec %lld %s, %s): delegation refused (%s): %s; dropped",
			  (long long) t->id, (long long) t->exec_id, t->name, t->action, last_state, last_message);
	return -1;
}

bool
db_heartbeat(Task *t)
{
	char		ids[32];
	const char *v[2];
	PGresult   *res;
	double		left,
				every;

	snprintf(ids, sizeof(ids), "%lld", (long long) t->id);
	v[0] = ids;
	v[1] = t->token;
	switch (call(sqlf("SELECT EXTRACT(epoch FROM %s.wf_heartbeat($1::bigint, $2) "
					  "OPERATOR(pg_catalog.-) pg_catalog.now())::float8"), 2, v, &res))
	{
		case CALL_OK:
			left = strtod(PQgetvalue(res, 0, 0), NULL);
			PQclear(res);
			every = left / 3 < cfg.heartbeat ? left / 3 : cfg.heartbeat;
			t->next_heartbeat = now_s() + (every > 0.05 ? every : 0.05);
			log_msg(LOG_VERBOSE, "task %lld: heartbeat, lease ends in %.1f s", (long long) t->id, left);
			return true;
		case CALL_LOST:
			t->next_heartbeat = now_s() + 0.5;
			return true;
		case CALL_REFUSED:
			break;
	}
	log_error("task %lld (exec %lld %s, %s): heartbeat refused (%s): %s; the action is stopped",
			  (long long) t->id, (long long) t->exec_id, t->name, t->action, last_state, last_message);
	return false;
}
