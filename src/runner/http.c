/*
 * http.c — the HTTP callback endpoint: third parties complete delegated
 * tasks with
 *
 *     POST /tasks/{id}/complete
 *     Authorization: Bearer <callback token>
 *     {"status": "success" | "error", "result": {...}}
 *
 * served by libmicrohttpd's own threads (--http-threads), each with its
 * own database connection (--http-dbname: a role that can only complete,
 * wf_callback). The request becomes one parameterised call of
 * wf_task_complete; nothing from the request is ever spliced into SQL.
 *
 *   200 {"task_id", "state"}   done (an identical repeat too: retries are safe)
 *   400 bad JSON, bad status, bad task id
 *   401 no or malformed bearer token      403 wrong token (WF005)
 *   404 unknown task (WF004), or another path
 *   405 another method                    409 not running or cancelled (WF006),
 *                                             finished differently (WF007),
 *                                             too late: timed out (WF008)
 *   413 body larger than --http-max-body  503 database unreachable (retry)
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <jansson.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "runner.h"

static struct MHD_Daemon *daemon_ = NULL;
static __thread PGconn *hconn = NULL;
static __thread char hsql[256]; /* the call, with pg_wf's schema */

typedef struct Request
{
	char	   *body;
	size_t		len;
	bool		too_large;
} Request;

static enum MHD_Result
reply(struct MHD_Connection *c, unsigned int status, json_t *doc)
{
	char	   *text = json_dumps(doc, JSON_COMPACT);
	struct MHD_Response *r;
	enum MHD_Result ret;

	json_decref(doc);
	r = MHD_create_response_from_buffer(strlen(text), text, MHD_RESPMEM_MUST_FREE);
	MHD_add_response_header(r, "Content-Type", "application/json");
	if (status == 401)
		MHD_add_response_header(r, "WWW-Authenticate", "Bearer");
	if (status == 503)
		MHD_add_response_header(r, "Retry-After", "5");
	ret = MHD_queue_response(c, status, r);
	MHD_destroy_response(r);
	return ret;
}

static enum MHD_Result
fail(struct MHD_Connection *c, unsigned int status, const char *msg)
{
	return reply(c, status, json_pack("{s:s}", "error", msg));
}

static void
notice_quiet(void *arg, const PGresult *res)
{
	/* a repeated callback's NOTICE: the 200 says it all */
	log_msg(LOG_VERBOSE, "http: server: %s", PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY));
}

static PGconn *
connection(void)
{
	if (hconn && PQstatus(hconn) == CONNECTION_OK)
		return hconn;
	if (hconn)
		PQfinish(hconn);
	{
		const char *keys[] = {"dbname", "fallback_application_name", NULL};
		const char *vals[] = {cfg.http_conninfo, "wf-runner http", NULL};

		hconn = PQconnectdbParams(keys, vals, 1);
	}
	if (PQstatus(hconn) == CONNECTION_OK)
	{
		PGresult   *res;

		PQsetNoticeReceiver(hconn, notice_quiet, NULL);
		res = PQexec(hconn, db_schema_query);

		if (PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1)
		{
			snprintf(hsql, sizeof(hsql), "SELECT %s.wf_task_complete($1::bigint, $2, $3::jsonb, $4)",
					 PQgetvalue(res, 0, 0));
			PQclear(res);
			return hconn;
		}
		log_error("http: pg_wf is not installed in the callback database");
		PQclear(res);
	}
	else
		log_error("http: cannot connect to the database: %s", PQerrorMessage(hconn));
	PQfinish(hconn);
	hconn = NULL;
	return NULL;
}

static unsigned int
status_for(const char *st)
{
	static const struct
	{
		const char *state;
		unsigned int http;
	}			map[] = {
		{"WF004", 404}, {"WF010", 404}, {"WF005", 403}, {"WF006", 409}, {"WF007", 409},
		{"WF008", 409}, {"22023", 400}, {"22P02", 400}, {"22004", 400}, {"22P05", 400},
		{"54000", 413}, {"22001", 413},
	};

	for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
		if (strcmp(map[i].state, st) == 0)
			return map[i].http;
	return 500;
}

static enum MHD_Result
complete(struct MHD_Connection *c, const char *id, const char *token, Request *req)
{
	json_error_t jerr;
	json_t	   *body = json_loadb(req->body ? req->body : "", req->len, 0, &jerr);
	json_t	   *status,
			   *result;
	char	   *result_text;
	const char *v[4];
	PGconn	   *db;
	PGresult   *res;
	enum MHD_Result ret;

	if (!json_is_object(body))
	{
		json_decref(body);
		return fail(c, 400, "the body must be a JSON object: {\"status\": \"success\" | \"error\", \"result\": {...}}");
	}
	status = json_object_get(body, "status");
	result = json_object_get(body, "result");
	if (!json_is_string(status) ||
		(strcmp(json_string_value(status), "success") != 0 &&
		 strcmp(json_string_value(status), "error") != 0))
	{
		json_decref(body);
		return fail(c, 400, "status must be \"success\" or \"error\"");
	}
	result_text = result ? json_dumps(result, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
	if (!(db = connection()))
	{
		free(result_text);
		json_decref(body);
		return fail(c, 503, "the database is unreachable; try again later");
	}
	v[0] = id;
	v[1] = json_string_value(status);
	v[2] = result_text;
	v[3] = token;
	res = PQexecParams(db, hsql,
					   4, NULL, v, NULL, NULL, 0);
	if (PQresultStatus(res) == PGRES_TUPLES_OK)
	{
		ret = reply(c, 200, json_pack("{s:I, s:s}", "task_id", (json_int_t) strtoll(id, NULL, 10),
									  "state", PQgetvalue(res, 0, 0)));
		log_msg(LOG_NORMAL, "http: task %s completed by callback (%s): %s", id, v[1], PQgetvalue(res, 0, 0));
	}
	else
	{
		const char *st = PQresultErrorField(res, PG_DIAG_SQLSTATE);
		const char *msg = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);

		if (!st || PQstatus(db) != CONNECTION_OK || strncmp(st, "08", 2) == 0 || strncmp(st, "57P", 3) == 0)
		{
			PQfinish(hconn);
			hconn = NULL;
			ret = fail(c, 503, "the database is unreachable; try again later");
		}
		else
		{
			unsigned int code = status_for(st);

			log_msg(code >= 500 ? LOG_QUIET : LOG_NORMAL, "http: task %s callback refused (%s): %s",
					id, st, msg ? msg : "");
			ret = reply(c, code, json_pack("{s:s, s:s}", "error", msg ? msg : "refused", "sqlstate", st));
		}
	}
	PQclear(res);
	free(result_text);
	json_decref(body);
	return ret;
}

/* "/tasks/<digits>/complete" -> the digits, or NULL */
static bool
parse_path(const char *url, char *id, size_t idlen)
{
	const char *p;
	size_t		n = 0;

	if (strncmp(url, "/tasks/", 7) != 0)
		return false;
	p = url + 7;
	while (isdigit((unsigned char) p[n]))
		n++;
	if (n == 0 || n >= idlen || n > 18 || strcmp(p + n, "/complete") != 0)
		return false;
	memcpy(id, p, n);
	id[n] = '\0';
	return true;
}

static enum MHD_Result
handle(void *cls, struct MHD_Connection *c, const char *url, const char *method,
	   const char *version, const char *upload, size_t *upload_size, void **state)
{
	Request    *req = *state;
	char		id[32];
	const char *auth;

	if (req == NULL)
	{
		const char *len = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);

		req = calloc(1, sizeof(Request));
		*state = req;

		/*
		 * A body a little too large is read and dropped, so that the client
		 * sees the 413 (answering before the body is read resets a client
		 * still sending); a far larger one is refused at once.
		 */
		if (len && strtoull(len, NULL, 10) > cfg.http_max_body * 16)
			return fail(c, 413, "the body is too large");
		return MHD_YES;
	}
	if (*upload_size > 0)
	{
		if (!req->too_large && req->len + *upload_size <= cfg.http_max_body)
		{
			req->body = realloc(req->body, req->len + *upload_size + 1);
			/* (len counts what was dropped too, once too large) */
			memcpy(req->body + req->len, upload, *upload_size);
			req->len += *upload_size;
			req->body[req->len] = '\0';
		}
		else
		{
			req->too_large = true;
			req->len += *upload_size;
			if (req->len > cfg.http_max_body * 16)
				return fail(c, 413, "the body is too large");
		}
		*upload_size = 0;
		return MHD_YES;
	}
	if (!parse_path(url, id, sizeof(id)))
		return fail(c, 404, "not found: the endpoint is POST /tasks/{id}/complete");
	if (strcmp(method, MHD_HTTP_METHOD_POST) != 0)
		return fail(c, 405, "use POST");
	if (req->too_large)
		return fail(c, 413, "the body is too large");
	auth = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
	if (!auth || strncasecmp(auth, "Bearer ", 7) != 0 || strlen(auth + 7) == 0 || strlen(auth + 7) > 256)
		return fail(c, 401, "send the callback token: Authorization: Bearer <token>");
	return complete(c, id, auth + 7, req);
}

static void
completed(void *cls, struct MHD_Connection *c, void **state, enum MHD_RequestTerminationCode toe)
{
	Request    *req = *state;

	if (req)
	{
		free(req->body);
		free(req);
	}
	*state = NULL;
}

static void
mhd_log(void *cls, const char *fmt, va_list ap)
{
	char		msg[512];

	vsnprintf(msg, sizeof(msg), fmt, ap);
	msg[strcspn(msg, "\n")] = '\0';
	log_msg(LOG_VERBOSE, "http: %s", msg);
}

bool
http_start(void)
{
	struct sockaddr_in addr;
	const char *colon = strrchr(cfg.http, ':');
	char		host[256] = "127.0.0.1";
	long		port;
	char	   *end;

	if (colon)
	{
		snprintf(host, sizeof(host), "%.*s", (int) (colon - cfg.http), cfg.http);
		port = strtol(colon + 1, &end, 10);
	}
	else
		port = strtol(cfg.http, &end, 10);
	memset(&addr, 0, sizeof(addr));
	addr.sin_family = AF_INET;
	addr.sin_port = htons((uint16_t) port);
	if (*end || port < 1 || port > 65535 || inet_pton(AF_INET, host, &addr.sin_addr) != 1)
	{
		fprintf(stderr, "wf-runner: invalid --http \"%s\": [IPv4 address:]port\n", cfg.http);
		return false;
	}
	daemon_ = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_ERROR_LOG,
							   0, NULL, NULL, handle, NULL,
							   MHD_OPTION_SOCK_ADDR, (struct sockaddr *) &addr,
							   MHD_OPTION_THREAD_POOL_SIZE, (unsigned int) cfg.http_threads,
							   MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int) 30,
							   MHD_OPTION_CONNECTION_LIMIT, (unsigned int) 1000,
							   MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned int) 0,
							   MHD_OPTION_NOTIFY_COMPLETED, completed, NULL,
							   MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL,
							   MHD_OPTION_END);
	if (!daemon_)
	{
		fprintf(stderr, "wf-runner: cannot serve HTTP on %s:%ld (in use, or not an address of this machine)\n",
				host, port);
		return false;
	}
	log_msg(LOG_NORMAL, "http: callbacks at %s/tasks/{id}/complete (listening on %s:%ld)",
			cfg.callback_url, host, port);
	return true;
}

void
http_stop(void)
{
	if (daemon_)
		MHD_stop_daemon(daemon_);
	daemon_ = NULL;
}
