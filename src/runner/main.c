/*
 * main.c — wf-runner's event loop.
 *
 * One thread runs everything but the HTTP endpoint: it polls the libpq
 * socket (notifications wake it to claim), the children's stdout and
 * stderr pipes, and a pipe that signal handlers write to (SIGTERM,
 * SIGINT, SIGCHLD). Each turn of the loop: reconnect if needed; report
 * every outcome that is known, in one batch; hand over delegating tasks;
 * send the heartbeats that are due; stop actions past their timeout;
 * claim as many tasks as there are free slots (when woken, when a claim
 * came back full, or every --poll seconds as a safety net); then sleep in
 * poll() until the earliest of those times.
 *
 * SIGTERM (or SIGINT): stop claiming, let running actions finish and
 * report them, then exit 0. A second one, or --grace seconds, kills the
 * actions and exits at once: their leases expire and the watchdog retries
 * them.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "runner.h"

#define REPORT_BATCH 1000		/* wf_task_complete_batch takes at most 1000 */
#define REPORT_BYTES (16 * 1024 * 1024)

static Task *tasks = NULL;
static int	sigfd[2];
static int	stop_requests = 0;
static double stop_deadline = 0;

static void
on_signal(int sig)
{
	int			save = errno;
	char		c = sig == SIGCHLD ? 'C' : 'T';

	if (write(sigfd[1], &c, 1) < 0)
	{
		/* the pipe is full: a wake-up is already pending */
	}
	errno = save;
}

static void
setup_signals(void)
{
	struct sigaction sa;

	if (pipe2(sigfd, O_NONBLOCK | O_CLOEXEC) != 0)
	{
		perror("wf-runner: pipe");
		exit(1);
	}
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sa.sa_flags = SA_RESTART | SA_NOCLDSTOP;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGCHLD, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
}

static void
reap(void)
{
	int			st;
	pid_t		pid;

	while ((pid = waitpid(-1, &st, WNOHANG)) > 0)
		for (Task *t = tasks; t; t = t->next)
			if (t->pid == pid)
			{
				t->exited = true;
				t->wstatus = st;
			}
}

static void
drain_signals(void)
{
	char		buf[64];
	ssize_t		n;

	while ((n = read(sigfd[0], buf, sizeof(buf))) > 0)
		for (ssize_t i = 0; i < n; i++)
		{
			if (buf[i] == 'C')
				reap();
			else
			{
				stop_requests++;
				if (stop_requests == 1)
				{
					stop_deadline = now_s() + cfg.grace;
					log_msg(LOG_NORMAL, "stopping: no more claims; waiting up to %.0f s for running actions (again to stop now)",
							cfg.grace);
				}
			}
		}
}

/* tasks that hold a slot: handed over, running, or with a report to send */
static int
busy(void)
{
	int			n = 0;

	for (Task *t = tasks; t; t = t->next)
		if (t->phase != PHASE_DONE)
			n++;
	return n;
}

static void
report_all(void)
{
	Task	   *batch[REPORT_BATCH];
	int			n = 0;
	size_t		bytes = 0;

	if (!db_connected())
		return;
	for (Task *t = tasks; t; t = t->next)
		if (t->phase == PHASE_REPORT && !t->abandoned)
		{
			/*
			 * a batch is at most REPORT_BATCH tasks and about REPORT_BYTES of
			 * results
			 */
			if (n > 0 && (n == REPORT_BATCH || bytes + strlen(t->result) > REPORT_BYTES))
			{
				db_report(batch, n);
				n = 0;
				bytes = 0;
			}
			batch[n++] = t;
			bytes += strlen(t->result);
		}
	if (n > 0)
		db_report(batch, n);
}

static void
start_task(Task *t)
{
	t->acfg = config_action(t->action);
	t->out_fd = t->err_fd = -1;
	log_msg(LOG_NORMAL, "task %lld (exec %lld %s, %s) claimed, attempt %d",
			(long long) t->id, (long long) t->exec_id, t->name, t->action, t->attempt);
	if (t->acfg && t->acfg->delegate)
	{
		t->phase = PHASE_DELEGATE;
		return;
	}
	action_start(t);
}

/* Claim up to the free slots, queue by queue; true if a claim came back full. */
static bool
claim(void)
{
	static int	rr = 0;
	bool		full = false;

	for (int k = 0; k < cfg.nqueues && db_connected(); k++)
	{
		const char *q = cfg.queues[(rr + k) % cfg.nqueues];
		int			free_slots = cfg.concurrency - busy();
		int			want = free_slots < cfg.batch ? free_slots : cfg.batch;
		int			n;
		Task	   *got;

		if (want <= 0)
			return true;
		got = db_claim(q, want, &n);
		if (n == want)
			full = true;
		while (got)
		{
			Task	   *t = got;

			got = got->next;
			t->next = tasks;
			tasks = t;
			start_task(t);
		}
	}
	rr++;
	return full;
}

static void
handle_due(double now)
{
	for (Task *t = tasks; t; t = t->next)
	{
		if (t->phase == PHASE_DELEGATE && db_connected() && stop_requests == 0)
		{
			int			r = db_delegate(t);

			if (r > 0)
				action_start(t);
			else if (r < 0)
				t->phase = PHASE_DONE;
		}
		if (t->phase != PHASE_RUNNING)
			continue;
		if (t->deadline > 0 && now >= t->deadline && !t->timed_out)
		{
			log_error("task %lld (exec %lld %s, %s): action timed out after %.1f s; killed",
					  (long long) t->id, (long long) t->exec_id, t->name, t->action, now - t->started);
			t->timed_out = true;
			if (t->pid > 0)
				action_kill(t);
			else
				action_outcome(t, "error", json_error_doc("action_timeout", "the action timed out"));
		}
		if (t->phase == PHASE_RUNNING && !t->delegated && t->next_heartbeat > 0 &&
			now >= t->next_heartbeat && db_connected())
		{
			if (!db_heartbeat(t))
			{
				t->abandoned = true;
				t->phase = PHASE_DONE;
				action_kill(t);
			}
		}
		action_finish_if_done(t);
	}
}

/* free what is done and whose child is gone */
static void
sweep(void)
{
	Task	  **p = &tasks;

	while (*p)
	{
		Task	   *t = *p;

		if (t->phase == PHASE_DONE && (t->pid == 0 || t->exited) && t->out_fd < 0 && t->err_fd < 0)
		{
			if (t->handed_over)
				log_msg(LOG_NORMAL, "task %lld (exec %lld %s, %s) handed over; waiting for the callback",
						(long long) t->id, (long long) t->exec_id, t->name, t->action);
			*p = t->next;
			task_free(t);
		}
		else
			p = &t->next;
	}
}

static double
min_time(double a, double b)
{
	return a == 0 || (b > 0 && b < a) ? b : a;
}

int
main(int argc, char **argv)
{
	bool		want_claim = true;
	double		last_claim = 0;
	struct pollfd *fds = NULL;
	Task	  **owner = NULL;
	int			maxfds = 0;

	setvbuf(stderr, NULL, _IOLBF, 0);
	config_parse(argc, argv);
	setup_signals();
	if (cfg.http && !http_start())
		return 1;

	for (;;)
	{
		double		now = now_s();
		double		wake = 0;
		int			nfds = 0,
					timeout_ms;
		int			nb;

		if (stop_requests > 1 || (stop_requests && now >= stop_deadline))
		{
			int			left = 0;

			for (Task *t = tasks; t; t = t->next)
				if (t->phase == PHASE_RUNNING || t->phase == PHASE_DELEGATE)
				{
					action_kill(t);
					left++;
				}
			report_all();
			log_msg(LOG_NORMAL, "stopped; %d action%s killed (their leases will expire and the watchdog retries them)",
					left, left == 1 ? "" : "s");
			break;
		}
		if (!db_connected() && db_connect())
			want_claim = true;
		handle_due(now);
		report_all();
		if (stop_requests)
		{
			for (Task *t = tasks; t; t = t->next)
				if (t->phase == PHASE_DELEGATE)
					t->phase = PHASE_DONE;	/* not started: its lease expires */
		}
		else if (db_connected() && (want_claim || now - last_claim >= cfg.poll))
		{
			if (busy() < cfg.concurrency)
			{
				want_claim = claim();
				last_claim = now;
			}
			else
				want_claim = true;
		}
		if (db_take_wake())
			want_claim = true;
		sweep();
		if (stop_requests && busy() == 0)
		{
			log_msg(LOG_NORMAL, "stopped; every action finished and was reported");
			break;
		}

		/* sleep until something is due */
		nb = busy();
		if (!db_connected())
			wake = min_time(wake, db_next_try());
		else if (!stop_requests)
			wake = min_time(wake, last_claim + cfg.poll);
		if (stop_requests)
			wake = min_time(wake, stop_deadline);
		for (Task *t = tasks; t; t = t->next)
		{
			if (t->phase == PHASE_RUNNING)
			{
				wake = min_time(wake, t->deadline);
				if (!t->delegated)
					wake = min_time(wake, t->next_heartbeat);
				if (t->pid == 0)
					wake = min_time(wake, t->wake);
			}
			if (t->phase == PHASE_REPORT || t->phase == PHASE_DELEGATE)
				wake = min_time(wake, now + (db_connected() ? 0.0 : 0.25));
		}
		if (want_claim && nb < cfg.concurrency && db_connected() && !stop_requests)
			wake = now;
		timeout_ms = wake == 0 ? 60000 : wake <= now ? 0 : (int) ((wake - now) * 1000) + 1;

		if (maxfds < 2 + 2 * (nb + 1) + 64)
		{
			maxfds = 2 * (2 + 2 * (nb + 1) + 64);
			fds = realloc(fds, sizeof(*fds) * maxfds);
			owner = realloc(owner, sizeof(*owner) * maxfds);
		}
		fds[nfds].fd = sigfd[0];
		fds[nfds].events = POLLIN;
		owner[nfds++] = NULL;
		if (db_connected())
		{
			fds[nfds].fd = db_socket();
			fds[nfds].events = POLLIN;
			owner[nfds++] = NULL;
		}
		for (Task *t = tasks; t && nfds + 2 <= maxfds; t = t->next)
		{
			if (t->out_fd >= 0)
			{
				fds[nfds].fd = t->out_fd;
				fds[nfds].events = POLLIN;
				owner[nfds++] = t;
			}
			if (t->err_fd >= 0)
			{
				fds[nfds].fd = t->err_fd;
				fds[nfds].events = POLLIN;
				owner[nfds++] = t;
			}
		}
		if (poll(fds, nfds, timeout_ms) < 0 && errno != EINTR)
		{
			perror("wf-runner: poll");
			return 1;
		}
		for (int i = 0; i < nfds; i++)
		{
			if (!fds[i].revents)
				continue;
			if (fds[i].fd == sigfd[0])
				drain_signals();
			else if (owner[i])
				action_read(owner[i], fds[i].fd);
			else if (db_consume())
				want_claim = true;
		}
	}
	http_stop();
	db_close();
	return 0;
}
