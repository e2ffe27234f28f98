/*
 * latency.c — completion-to-claim latency of a LISTENing runner.
 *
 * One connection (the application) starts two-step executions and
 * completes their first step; another (the runner) LISTENs on wf_lat,
 * wakes on the notification and claims the second step. Each sample is
 * the time from the completion's commit (its call returning) to the claim
 * returning the next task. Prints one JSON object: count, p50, p99, mean
 * in milliseconds. Connection settings come from PG* environment variables.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/select.h>
#include <time.h>

#include <libpq-fe.h>

static double
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000.0 + ts.tv_nsec / 1e6;
}

static PGresult *
run(PGconn *c, const char *sql, int nparams, const char *const *params)
{
	PGresult   *r = PQexecParams(c, sql, nparams, NULL, params, NULL, NULL, 0);

	if (PQresultStatus(r) != PGRES_TUPLES_OK && PQresultStatus(r) != PGRES_COMMAND_OK)
	{
		fprintf(stderr, "latency: %s: %s", sql, PQerrorMessage(c));
		exit(1);
	}
	return r;
}

static void
drain(PGconn *c)
{
	PGnotify   *n;

	PQconsumeInput(c);
	while ((n = PQnotifies(c)) != NULL)
		PQfreemem(n);
}

/* Block until a notification arrives on c. */
static void
wait_notify(PGconn *c)
{
	for (;;)
	{
		PGnotify   *n;
		fd_set		fds;
		struct timeval tv = {10, 0};
		int			sock = PQsocket(c);

		PQconsumeInput(c);
		if ((n = PQnotifies(c)) != NULL)
		{
			PQfreemem(n);
			return;
		}
		FD_ZERO(&fds);
		FD_SET(sock, &fds);
		if (select(sock + 1, &fds, NULL, NULL, &tv) == 0)
		{
			fprintf(stderr, "latency: no notification within 10 s\n");
			exit(1);
		}
	}
}

/* Claim one task of queue lat (id and token out); false if there was none. */
static bool
try_claim(PGconn *runner, char *id, char *token)
{
	PGresult   *r = run(runner, "SELECT task_id, token FROM wf_claim('lat')", 0, NULL);
	bool		got = PQntuples(r) == 1;

	if (got)
	{
		strcpy(id, PQgetvalue(r, 0, 0));
		strcpy(token, PQgetvalue(r, 0, 1));
	}
	PQclear(r);
	return got;
}

/*
 * Claim one task, as the runner protocol says: claim, and only when a claim
 * came back with fewer tasks than asked for, wait for a notification.
 */
static void
claim(PGconn *runner, char *id, char *token)
{
	while (!try_claim(runner, id, token))
		wait_notify(runner);
	drain(runner);
}

static void
complete(PGconn *app, const char *id, const char *token)
{
	const char *params[2] = {id, token};

	PQclear(run(app, "SELECT wf_task_complete($1::bigint, 'success', '{}', $2)", 2, params));
}

static int
cmp(const void *a, const void *b)
{
	double		x = *(const double *) a,
				y = *(const double *) b;

	return (x > y) - (x < y);
}

int
main(int argc, char **argv)
{
	int			n = argc > 1 ? atoi(argv[1]) : 500;
	int			warmup = 20;
	PGconn	   *app = PQconnectdb("");
	PGconn	   *runner = PQconnectdb("");
	double	   *lat = malloc(sizeof(double) * n);
	double		sum = 0;
	char		id[32],
				sid[32],
				stok[80],
				token[80];

	if (PQstatus(app) != CONNECTION_OK || PQstatus(runner) != CONNECTION_OK)
	{
		fprintf(stderr, "latency: %s", PQerrorMessage(app));
		return 1;
	}
	PQclear(run(runner, "LISTEN wf_lat", 0, NULL));
	for (int i = 0; i < n + warmup; i++)
	{
		double		t0;

		PQclear(run(app, "SELECT wf_start('lat')", 0, NULL));
		claim(runner, id, token);	/* step a */
		/* the runner claims again, finds nothing, and waits */
		if (try_claim(runner, sid, stok))
		{
			fprintf(stderr, "latency: queue lat is not empty\n");
			exit(1);
		}
		drain(runner);
		complete(app, id, token);
		t0 = now_ms();				/* a's completion has committed */
		wait_notify(runner);
		claim(runner, id, token);	/* step b, made ready by that commit */
		if (i >= warmup)
			lat[i - warmup] = now_ms() - t0;
		complete(app, id, token);
	}
	qsort(lat, n, sizeof(double), cmp);
	for (int i = 0; i < n; i++)
		sum += lat[i];
	printf("{\"count\": %d, \"p50_ms\": %.3f, \"p99_ms\": %.3f, \"mean_ms\": %.3f}\n",
		   n, lat[n / 2], lat[(int) (n * 0.99)], sum / n);
	PQfinish(app);
	PQfinish(runner);
	return 0;
}
