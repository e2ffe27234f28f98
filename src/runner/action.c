/*
 * action.c — running one task's action.
 *
 * An action is an executable (<actions dir>/<name>, or the command the
 * actions file gives): a child in its own process group, the task's input
 * on stdin (a memfd, so a large input never blocks the runner), stdout
 * and stderr read by the event loop through non-blocking pipes. Built-in
 * actions need no process: std.echo (the input is the result), std.sleep
 * ({"seconds": n, "result": ...}, a timer of the event loop) and std.fail
 * ({"message": ...}).
 *
 * The outcome, decided when the child has exited and both pipes are
 * closed: exit 0 and a JSON document on stdout (empty: {}) is a success
 * with that result; anything else is an error document — stderr if it is
 * a JSON object, else {"type": "action_failed", "exit_code", "stderr"},
 * and "action_timeout", "action_killed", "output_too_large",
 * "invalid_output", "unknown_action" for what the names say. A
 * delegating action's {"wf": "delegated"} leaves the task to the third
 * party.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "runner.h"

#define STDERR_KEEP 4096		/* bytes of stderr kept for the error document */

static void
buf_append(Buf *b, const char *data, size_t n)
{
	if (b->len + n > b->limit)
	{
		b->over = true;
		n = b->limit > b->len ? b->limit - b->len : 0;
	}
	if (n == 0)
		return;
	if (b->len + n + 1 > b->cap)
	{
		b->cap = (b->len + n + 1) * 2;
		if (b->cap > b->limit + 1)
			b->cap = b->limit + 1;
		b->data = realloc(b->data, b->cap);
	}
	memcpy(b->data + b->len, data, n);
	b->len += n;
	b->data[b->len] = '\0';
}

static char *
dump(json_t *doc)
{
	char	   *s = json_dumps(doc, JSON_COMPACT | JSON_ENCODE_ANY);

	json_decref(doc);
	return s;
}

char *
json_error_doc(const char *type, const char *message)
{
	return dump(json_pack("{s:s, s:s}", "type", type, "message", message));
}

/* text as a JSON string, whatever its bytes (invalid UTF-8 becomes '?') */
static json_t *
text_json(const char *s)
{
	json_t	   *j = json_string(s ? s : "");
	char	   *copy;

	if (j)
		return j;
	copy = strdup(s);
	for (char *p = copy; *p; p++)
		if ((unsigned char) *p >= 0x80)
			*p = '?';
	j = json_string(copy);
	free(copy);
	return j;
}

static json_t *
stderr_text(Task *t)
{
	return text_json(t->err.data);
}

void
action_outcome(Task *t, const char *status, char *result_json)
{
	t->status = status;
	free(t->result);
	/* (a document jansson could not build: say so rather than crash) */
	t->result = result_json ? result_json :
		strdup("{\"type\": \"runner_error\", \"message\": \"the outcome could not be encoded\"}");
	t->phase = PHASE_REPORT;
}

static void
builtin(Task *t)
{
	json_error_t jerr;
	json_t	   *in = json_loads(t->input, JSON_DECODE_ANY, &jerr);

	if (strcmp(t->action, "std.echo") == 0)
		action_outcome(t, "success", strdup(t->input));
	else if (strcmp(t->action, "std.fail") == 0)
	{
		json_t	   *m = json_is_object(in) ? json_object_get(in, "message") : NULL;

		action_outcome(t, "error", dump(json_pack("{s:s, s:O}", "type", "std.fail", "message",
												  m ? m : json_string("failed"))));
	}
	else						/* std.sleep */
	{
		json_t	   *s = json_is_object(in) ? json_object_get(in, "seconds") : NULL;
		double		secs = json_is_number(s) ? json_number_value(s) : 1.0;

		t->wake = now_s() + (secs > 0 ? secs : 0);
		t->phase = PHASE_RUNNING;
	}
	json_decref(in);
}

/* std.sleep's timer came */
static void
builtin_wake(Task *t)
{
	json_t	   *in = json_loads(t->input, JSON_DECODE_ANY, NULL);
	json_t	   *r = json_is_object(in) ? json_object_get(in, "result") : NULL;

	action_outcome(t, "success", r ? dump(json_incref(r)) : strdup(t->input));
	json_decref(in);
}

static bool
is_builtin(const char *a)
{
	return strcmp(a, "std.echo") == 0 || strcmp(a, "std.sleep") == 0 || strcmp(a, "std.fail") == 0;
}

static void
set_env_int(const char *name, long long v)
{
	char		s[32];

	snprintf(s, sizeof(s), "%lld", v);
	setenv(name, s, 1);
}

void
action_start(Task *t)
{
	const ActionCfg *a = t->acfg;
	char	   *path = NULL;
	char	  **argv;
	char	   *dflt[2];
	int			in,
				out[2],
				err[2];
	pid_t		pid;
	double		timeout = a && a->timeout > 0 ? a->timeout : cfg.action_timeout;

	t->started = now_s();
	t->deadline = timeout > 0 ? t->started + timeout : 0;
	t->next_heartbeat = t->delegated ? 0 : t->started + cfg.heartbeat;
	if (!a || !a->argv)
	{
		if (is_builtin(t->action))
		{
			builtin(t);
			return;
		}
		/* action names are letters, digits and _ . : -: none is a path */
		if (cfg.actions_dir && t->action[0] != '.')
		{
			path = malloc(strlen(cfg.actions_dir) + strlen(t->action) + 2);
			sprintf(path, "%s/%s", cfg.actions_dir, t->action);
		}
		if (!path || access(path, X_OK) != 0)
		{
			char		msg[512];

			snprintf(msg, sizeof(msg), "no executable for action \"%s\"%s%s", t->action,
					 cfg.actions_dir ? " in " : " (no --actions directory or actions file entry)",
					 cfg.actions_dir ? cfg.actions_dir : "");
			free(path);
			action_outcome(t, "error", json_error_doc("unknown_action", msg));
			return;
		}
		dflt[0] = path;
		dflt[1] = NULL;
		argv = dflt;
	}
	else
		argv = a->argv;

	in = memfd_create("wf-input", MFD_CLOEXEC);
	if (in < 0 || write(in, t->input, strlen(t->input)) != (ssize_t) strlen(t->input) ||
		lseek(in, 0, SEEK_SET) != 0 || pipe2(out, O_CLOEXEC) != 0)
	{
		free(path);
		if (in >= 0)
			close(in);
		action_outcome(t, "error", json_error_doc("action_failed", strerror(errno)));
		return;
	}
	if (pipe2(err, O_CLOEXEC) != 0)
	{
		free(path);
		close(in);
		close(out[0]);
		close(out[1]);
		action_outcome(t, "error", json_error_doc("action_failed", strerror(errno)));
		return;
	}
	fflush(NULL);
	pid = fork();
	if (pid == 0)
	{
		sigset_t	none;

		setpgid(0, 0);
		signal(SIGTERM, SIG_DFL);
		signal(SIGINT, SIG_DFL);
		signal(SIGCHLD, SIG_DFL);
		signal(SIGPIPE, SIG_DFL);
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		dup2(in, 0);
		dup2(out[1], 1);
		dup2(err[1], 2);
		set_env_int("WF_TASK_ID", t->id);
		set_env_int("WF_EXECUTION_ID", t->exec_id);
		set_env_int("WF_ATTEMPT", t->attempt);
		setenv("WF_TASK", t->name, 1);
		setenv("WF_ACTION", t->action, 1);
		unsetenv("WF_CALLBACK_URL");
		unsetenv("WF_CALLBACK_TOKEN");
		if (t->delegated)
		{
			if (cfg.callback_url)
			{
				char		url[1024];

				snprintf(url, sizeof(url), "%s/tasks/%lld/complete", cfg.callback_url,
						 (long long) t->id);
				setenv("WF_CALLBACK_URL", url, 1);
			}
			setenv("WF_CALLBACK_TOKEN", t->token, 1);
		}
		execv(argv[0], argv);
		fprintf(stderr, "cannot run %s: %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	free(path);
	close(in);
	close(out[1]);
	close(err[1]);
	if (pid < 0)
	{
		close(out[0]);
		close(err[0]);
		action_outcome(t, "error", json_error_doc("action_failed", strerror(errno)));
		return;
	}
	setpgid(pid, pid);			/* also here: no race with a kill */
	fcntl(out[0], F_SETFL, O_NONBLOCK);
	fcntl(err[0], F_SETFL, O_NONBLOCK);
	t->pid = pid;
	t->out_fd = out[0];
	t->err_fd = err[0];
	t->out.limit = cfg.max_output;
	t->err.limit = STDERR_KEEP;
	t->phase = PHASE_RUNNING;
}

void
action_kill(Task *t)
{
	if (t->pid > 0 && !t->exited)
		kill(-t->pid, SIGKILL);
}

void
action_read(Task *t, int fd)
{
	char		chunk[65536];

	for (;;)
	{
		ssize_t		n = read(fd, chunk, sizeof(chunk));

		if (n > 0)
		{
			Buf		   *b = fd == t->out_fd ? &t->out : &t->err;

			buf_append(b, chunk, n);
			if (b == &t->out && b->over)
				action_kill(t); /* no use reading more */
			continue;
		}
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			return;
		/* EOF or error: this pipe is done */
		close(fd);
		if (fd == t->out_fd)
			t->out_fd = -1;
		else
			t->err_fd = -1;
		return;
	}
}

static void
decide(Task *t)
{
	int			st = t->wstatus;
	json_error_t jerr;
	json_t	   *doc;

	if (t->timed_out)
	{
		action_outcome(t, "error",
					   dump(json_pack("{s:s, s:f, s:o}", "type", "action_timeout",
									  "seconds", now_s() - t->started, "stderr", stderr_text(t))));
		return;
	}
	if (t->out.over)
	{
		action_outcome(t, "error",
					   dump(json_pack("{s:s, s:I, s:s}", "type", "output_too_large",
									  "limit", (json_int_t) cfg.max_output, "message",
									  "the action printed more than --max-output bytes")));
		return;
	}
	if (WIFSIGNALED(st))
	{
		action_outcome(t, "error",
					   dump(json_pack("{s:s, s:i, s:o}", "type", "action_killed",
									  "signal", WTERMSIG(st), "stderr", stderr_text(t))));
		return;
	}
	if (WEXITSTATUS(st) != 0)
	{
		doc = t->err.len ? json_loadb(t->err.data, t->err.len, 0, &jerr) : NULL;
		if (json_is_object(doc) && !t->err.over)
			action_outcome(t, "error", dump(doc));
		else
		{
			json_decref(doc);
			action_outcome(t, "error",
						   dump(json_pack("{s:s, s:i, s:o}", "type", "action_failed",
										  "exit_code", WEXITSTATUS(st), "stderr", stderr_text(t))));
		}
		return;
	}
	if (t->out.len == 0)
	{
		action_outcome(t, "success", strdup("{}"));
		return;
	}
	doc = json_loadb(t->out.data, t->out.len, JSON_DECODE_ANY, &jerr);
	if (!doc)
	{
		char		head[257];

		snprintf(head, sizeof(head), "%s", t->out.data);
		action_outcome(t, "error",
					   dump(json_pack("{s:s, s:s, s:o}", "type", "invalid_output", "message", jerr.text,
									  "output_head", text_json(head))));
		return;
	}
	if (t->delegated && json_is_object(doc) && json_object_size(doc) == 1 &&
		json_is_string(json_object_get(doc, "wf")) &&
		strcmp(json_string_value(json_object_get(doc, "wf")), "delegated") == 0)
	{
		json_decref(doc);
		t->handed_over = true;
		t->phase = PHASE_DONE;
		return;
	}
	action_outcome(t, "success", dump(doc));
}

void
action_finish_if_done(Task *t)
{
	if (t->phase != PHASE_RUNNING)
		return;
	if (t->pid == 0)
	{
		if (t->wake > 0 && now_s() >= t->wake)
			builtin_wake(t);
		return;
	}
	if (t->exited && t->out_fd < 0 && t->err_fd < 0)
		decide(t);
}

void
task_free(Task *t)
{
	if (t->out_fd >= 0)
		close(t->out_fd);
	if (t->err_fd >= 0)
		close(t->err_fd);
	free(t->name);
	free(t->action);
	free(t->input);
	free(t->token);
	free(t->result);
	free(t->out.data);
	free(t->err.data);
	free(t);
}
