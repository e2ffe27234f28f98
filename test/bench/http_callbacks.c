/*
 * http_callbacks — make bench's HTTP callback storm: N keep-alive
 * connections POST /tasks/ID/complete to wf-runner's endpoint, one
 * request at a time each, for the tasks listed on stdin ("id token" per
 * line). Prints {"callbacks_per_s": ..., "ok": ..., "failed": ...}.
 *
 *   http_callbacks PORT CONNECTIONS < tasks
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

typedef struct
{
	long long	id;
	char		token[80];
} Item;

static Item *items;
static int	nitems;
static int	port;
static int	next_item = 0;
static int	ok = 0,
			failed = 0;
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;

static int
connect_to(void)
{
	struct sockaddr_in a;
	int			fd = socket(AF_INET, SOCK_STREAM, 0);
	int			one = 1;

	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_port = htons(port);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (connect(fd, (struct sockaddr *) &a, sizeof(a)) != 0)
	{
		perror("connect");
		exit(1);
	}
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	return fd;
}

/* one response: headers, then Content-Length bytes; returns the status */
static int
read_response(int fd)
{
	static __thread char buf[65536];
	int			len = 0,
				status = 0,
				clen = 0;
	char	   *end = NULL;

	while (!end)
	{
		int			n = read(fd, buf + len, sizeof(buf) - 1 - len);

		if (n <= 0)
			return -1;
		len += n;
		buf[len] = '\0';
		end = strstr(buf, "\r\n\r\n");
	}
	sscanf(buf, "HTTP/1.%*d %d", &status);
	{
		char	   *cl = strcasestr(buf, "\r\nContent-Length:");

		if (cl)
			clen = atoi(cl + 17);
	}
	{
		int			have = len - (int) (end + 4 - buf);

		while (have < clen)
		{
			int			n = read(fd, buf, sizeof(buf));

			if (n <= 0)
				return -1;
			have += n;
		}
	}
	return status;
}

static void *
worker(void *arg)
{
	int			fd = connect_to();
	const char *body = "{\"status\": \"success\", \"result\": {\"approved\": true}}";
	char		req[1024];

	for (;;)
	{
		int			i,
					n,
					st;

		pthread_mutex_lock(&mu);
		i = next_item++;
		pthread_mutex_unlock(&mu);
		if (i >= nitems)
			break;
		n = snprintf(req, sizeof(req),
					 "POST /tasks/%lld/complete HTTP/1.1\r\nHost: localhost\r\n"
					 "Authorization: Bearer %s\r\nContent-Type: application/json\r\n"
					 "Content-Length: %zu\r\n\r\n%s",
					 items[i].id, items[i].token, strlen(body), body);
		if (write(fd, req, n) != n || (st = read_response(fd)) < 0)
		{
			close(fd);
			fd = connect_to();
			st = -1;
		}
		pthread_mutex_lock(&mu);
		if (st == 200)
			ok++;
		else
			failed++;
		pthread_mutex_unlock(&mu);
	}
	close(fd);
	return NULL;
}

int
main(int argc, char **argv)
{
	int			conns;
	pthread_t  *th;
	struct timespec t0,
				t1;
	int			cap = 1024;
	double		secs;

	if (argc != 3)
	{
		fprintf(stderr, "usage: http_callbacks PORT CONNECTIONS < tasks\n");
		return 2;
	}
	port = atoi(argv[1]);
	conns = atoi(argv[2]);
	items = malloc(sizeof(Item) * cap);
	while (scanf("%lld %79s", &items[nitems].id, items[nitems].token) == 2)
		if (++nitems == cap)
			items = realloc(items, sizeof(Item) * (cap *= 2));
	th = malloc(sizeof(pthread_t) * conns);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (int i = 0; i < conns; i++)
		pthread_create(&th[i], NULL, worker, NULL);
	for (int i = 0; i < conns; i++)
		pthread_join(th[i], NULL);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	secs = (t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9;
	printf("{\"callbacks_per_s\": %.0f, \"ok\": %d, \"failed\": %d}\n", nitems / secs, ok, failed);
	return 0;
}
