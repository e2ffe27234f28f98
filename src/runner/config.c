/*
 * config.c — wf-runner's command line and actions file.
 *
 * The actions file (--config) maps action names to commands, in sections:
 *
 *     [payments.charge]
 *     command = /usr/local/bin/charge --live "two words"
 *     timeout = 30
 *
 *     [human.approve]
 *     command = approve.sh
 *     delegate = 2 days
 *
 * A command is split at blanks ("..." keeps blanks; no shell is run); a
 * relative path is taken from the file's directory. Without a command the
 * action runs <actions dir>/<name>. `delegate` (yes, or the delegation's
 * timeout as an interval) hands the task over before the action runs.
 */
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "runner.h"

Config		cfg = {
	.conninfo = "",
	.lease = "5 minutes",
	.concurrency = 4,
	.action_timeout = 0,
	.heartbeat = 10,
	.poll = 30,
	.grace = 30,
	.max_output = 1024 * 1024,
	.http_threads = 4,
	.http_max_body = 1024 * 1024,
};

static const char usage[] =
"wf-runner runs the tasks of pg_wf workflows: it claims ready tasks from\n"
"its queues, runs each task's action, and reports the outcome.\n"
"\n"
"Usage: wf-runner [OPTION]...\n"
"\n"
"Database:\n"
"  -d, --dbname=CONNINFO     libpq connection string or URI (default: the PG*\n"
"                            environment); the role needs wf_runner\n"
"  -q, --queue=QUEUE         claim from QUEUE (repeat for several; default: default)\n"
"  -n, --name=NAME           runner name recorded with each claim\n"
"                            (default: wf-runner@HOST:PID)\n"
"  -l, --lease=INTERVAL      lease of each claim (default: 5 minutes; a task's\n"
"                            own timeout wins)\n"
"\n"
"Actions:\n"
"  -a, --actions=DIR         action A runs the executable DIR/A\n"
"  -f, --config=FILE         actions file: [name] sections with command,\n"
"                            timeout and delegate (see the README)\n"
"  -c, --concurrency=N       run at most N actions at once (default: 4)\n"
"  -b, --batch=N             claim at most N tasks per call (default: N of\n"
"                            --concurrency, at most 1000)\n"
"  -t, --timeout=SECONDS     kill an action that runs longer (default: 0, none)\n"
"      --heartbeat=SECONDS   extend a running task's lease this often at most\n"
"                            (default: 10; keep it below your shortest task timeout)\n"
"      --max-output=BYTES    largest result an action may print (default: 1048576)\n"
"      --poll=SECONDS        claim at least this often even without a\n"
"                            notification (default: 30)\n"
"      --grace=SECONDS       after SIGTERM, wait this long for running actions\n"
"                            (default: 30; a second SIGTERM ends them at once)\n"
"\n"
"HTTP callback endpoint (POST /tasks/ID/complete):\n"
"      --http=[ADDR:]PORT    serve it (ADDR defaults to 127.0.0.1)\n"
"      --http-dbname=CONNINFO  its connection (default: --dbname); the role\n"
"                            needs only wf_callback\n"
"      --http-threads=N      threads, each with a connection (default: 4)\n"
"      --http-max-body=BYTES largest request body (default: 1048576)\n"
"      --callback-url=URL    base URL given to delegating actions (default:\n"
"                            http://ADDR:PORT)\n"
"\n"
"Other:\n"
"  -v, --verbose             log what happens between task events too\n"
"      --quiet               log errors only\n"
"  -h, --help                show this help and exit\n"
"      --version             show the version and exit\n"
"\n"
"An action reads the task's input (JSON) on stdin, with WF_TASK_ID,\n"
"WF_EXECUTION_ID, WF_TASK, WF_ACTION and WF_ATTEMPT in its environment\n"
"(and WF_CALLBACK_URL, WF_CALLBACK_TOKEN for a delegating action). Exit 0\n"
"with a JSON document on stdout: success with that result. Non-zero: an\n"
"error (stderr, bounded, is the error document). A delegating action that\n"
"prints {\"wf\": \"delegated\"} leaves the task to the third party.\n"
"Built-in actions: std.echo, std.sleep, std.fail.\n";

static void
die_usage(const char *fmt, const char *arg)
{
	fprintf(stderr, "wf-runner: ");
	fprintf(stderr, fmt, arg);
	fprintf(stderr, "\nTry \"wf-runner --help\" for more information.\n");
	exit(2);
}

static double
parse_seconds(const char *s, const char *what)
{
	char	   *end;
	double		v;

	errno = 0;
	v = strtod(s, &end);
	if (errno || end == s || *end || v < 0 || v > 315360000)
		die_usage("invalid %s: must be a number of seconds", what);
	return v;
}

/* a period that a loop waits for: at least 0.1 s */
static double
parse_interval_min(const char *s, const char *what)
{
	double		v = parse_seconds(s, what);

	if (v < 0.1)
		die_usage("invalid %s: at least 0.1 seconds", what);
	return v;
}

static long
parse_count(const char *s, long min, long max, const char *what)
{
	char	   *end;
	long		v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || end == s || *end || v < min || v > max)
		die_usage("invalid %s", what);
	return v;
}

/* Split a command line at blanks; "..." keeps blanks. */
static char **
split_command(const char *line, const char *base, const char *file, int lineno)
{
	char	  **argv = calloc(strlen(line) / 2 + 2, sizeof(char *));
	int			argc = 0;
	const char *p = line;

	while (*p)
	{
		char	   *word = malloc(strlen(p) + 1);
		char	   *w = word;

		while (isspace((unsigned char) *p))
			p++;
		if (!*p)
		{
			free(word);
			break;
		}
		while (*p && !isspace((unsigned char) *p))
		{
			if (*p == '"')
			{
				p++;
				while (*p && *p != '"')
					*w++ = *p++;
				if (*p != '"')
				{
					fprintf(stderr, "wf-runner: %s:%d: unterminated quote in command\n", file, lineno);
					exit(2);
				}
				p++;
			}
			else
				*w++ = *p++;
		}
		*w = '\0';
		argv[argc++] = word;
	}
	if (argc == 0)
	{
		fprintf(stderr, "wf-runner: %s:%d: empty command\n", file, lineno);
		exit(2);
	}
	if (argv[0][0] != '/')
	{
		char	   *abs = malloc(strlen(base) + strlen(argv[0]) + 2);

		sprintf(abs, "%s/%s", base, argv[0]);
		free(argv[0]);
		argv[0] = abs;
	}
	return argv;
}

static char *
trim(char *s)
{
	char	   *e;

	while (isspace((unsigned char) *s))
		s++;
	e = s + strlen(s);
	while (e > s && isspace((unsigned char) e[-1]))
		*--e = '\0';
	return s;
}

static void
read_actions_file(const char *file)
{
	FILE	   *f = fopen(file, "r");
	char		line[4096];
	int			lineno = 0;
	ActionCfg  *cur = NULL;
	char	   *copy = strdup(file);
	char	   *base = dirname(copy);
	char		absbase[PATH_MAX];

	if (!f)
	{
		fprintf(stderr, "wf-runner: cannot read %s: %s\n", file, strerror(errno));
		exit(2);
	}
	if (realpath(base, absbase))
		base = absbase;
	while (fgets(line, sizeof(line), f))
	{
		char	   *s = trim(line);
		char	   *eq;

		lineno++;
		if (*s == '\0' || *s == '#' || *s == ';')
			continue;
		if (*s == '[')
		{
			char	   *end = strchr(s, ']');

			if (!end || end[1] || end == s + 1)
			{
				fprintf(stderr, "wf-runner: %s:%d: a section is [action.name]\n", file, lineno);
				exit(2);
			}
			*end = '\0';
			cur = calloc(1, sizeof(ActionCfg));
			cur->name = strdup(trim(s + 1));
			cur->next = cfg.actions;
			cfg.actions = cur;
			continue;
		}
		eq = strchr(s, '=');
		if (!cur || !eq)
		{
			fprintf(stderr, "wf-runner: %s:%d: expected \"key = value\" inside an [action] section\n",
					file, lineno);
			exit(2);
		}
		*eq = '\0';
		{
			char	   *key = trim(s);
			char	   *val = trim(eq + 1);

			if (strcmp(key, "command") == 0)
				cur->argv = split_command(val, base, file, lineno);
			else if (strcmp(key, "timeout") == 0)
				cur->timeout = parse_seconds(val, "timeout in the actions file");
			else if (strcmp(key, "delegate") == 0)
			{
				cur->delegate = strcmp(val, "no") != 0 && strcmp(val, "false") != 0;
				if (cur->delegate && strcmp(val, "yes") != 0 && strcmp(val, "true") != 0)
					cur->delegate_timeout = strdup(val);
			}
			else
			{
				fprintf(stderr, "wf-runner: %s:%d: unknown key \"%s\" (command, timeout, delegate)\n",
						file, lineno, key);
				exit(2);
			}
		}
	}
	fclose(f);
}

const ActionCfg *
config_action(const char *name)
{
	for (ActionCfg *a = cfg.actions; a; a = a->next)
		if (strcmp(a->name, name) == 0)
			return a;
	return NULL;
}

void
config_parse(int argc, char **argv)
{
	enum
	{
		OPT_HEARTBEAT = 256, OPT_POLL, OPT_GRACE, OPT_MAX_OUTPUT, OPT_HTTP, OPT_HTTP_DB,
		OPT_HTTP_THREADS, OPT_HTTP_MAX_BODY, OPT_CALLBACK_URL, OPT_QUIET, OPT_VERSION
	};
	static const struct option opts[] = {
		{"dbname", required_argument, NULL, 'd'},
		{"queue", required_argument, NULL, 'q'},
		{"name", required_argument, NULL, 'n'},
		{"lease", required_argument, NULL, 'l'},
		{"actions", required_argument, NULL, 'a'},
		{"config", required_argument, NULL, 'f'},
		{"concurrency", required_argument, NULL, 'c'},
		{"batch", required_argument, NULL, 'b'},
		{"timeout", required_argument, NULL, 't'},
		{"heartbeat", required_argument, NULL, OPT_HEARTBEAT},
		{"poll", required_argument, NULL, OPT_POLL},
		{"grace", required_argument, NULL, OPT_GRACE},
		{"max-output", required_argument, NULL, OPT_MAX_OUTPUT},
		{"http", required_argument, NULL, OPT_HTTP},
		{"http-dbname", required_argument, NULL, OPT_HTTP_DB},
		{"http-threads", required_argument, NULL, OPT_HTTP_THREADS},
		{"http-max-body", required_argument, NULL, OPT_HTTP_MAX_BODY},
		{"callback-url", required_argument, NULL, OPT_CALLBACK_URL},
		{"verbose", no_argument, NULL, 'v'},
		{"quiet", no_argument, NULL, OPT_QUIET},
		{"help", no_argument, NULL, 'h'},
		{"version", no_argument, NULL, OPT_VERSION},
		{NULL, 0, NULL, 0}
	};
	int			c;
	const char *config_file = NULL;
	static char default_name[300];
	static char default_url[300];

	cfg.queues = calloc(argc + 1, sizeof(char *));
	while ((c = getopt_long(argc, argv, "d:q:n:l:a:f:c:b:t:vh", opts, NULL)) != -1)
	{
		switch (c)
		{
			case 'd':
				cfg.conninfo = optarg;
				break;
			case 'q':
				cfg.queues[cfg.nqueues++] = optarg;
				break;
			case 'n':
				cfg.runner_name = optarg;
				break;
			case 'l':
				cfg.lease = optarg;
				break;
			case 'a':
				cfg.actions_dir = optarg;
				break;
			case 'f':
				config_file = optarg;
				break;
			case 'c':
				cfg.concurrency = parse_count(optarg, 1, 10000, "--concurrency: 1 to 10000");
				break;
			case 'b':
				cfg.batch = parse_count(optarg, 1, 1000, "--batch: 1 to 1000");
				break;
			case 't':
				cfg.action_timeout = parse_seconds(optarg, "--timeout");
				break;
			case OPT_HEARTBEAT:
				cfg.heartbeat = parse_interval_min(optarg, "--heartbeat");
				break;
			case OPT_POLL:
				cfg.poll = parse_interval_min(optarg, "--poll");
				break;
			case OPT_GRACE:
				cfg.grace = parse_seconds(optarg, "--grace");
				break;
			case OPT_MAX_OUTPUT:
				cfg.max_output = parse_count(optarg, 2, 256L * 1024 * 1024, "--max-output");
				break;
			case OPT_HTTP:
				cfg.http = optarg;
				break;
			case OPT_HTTP_DB:
				cfg.http_conninfo = optarg;
				break;
			case OPT_HTTP_THREADS:
				cfg.http_threads = parse_count(optarg, 1, 256, "--http-threads: 1 to 256");
				break;
			case OPT_HTTP_MAX_BODY:
				cfg.http_max_body = parse_count(optarg, 64, 256L * 1024 * 1024, "--http-max-body");
				break;
			case OPT_CALLBACK_URL:
				cfg.callback_url = optarg;
				break;
			case 'v':
				log_level = LOG_VERBOSE;
				break;
			case OPT_QUIET:
				log_level = LOG_QUIET;
				break;
			case 'h':
				fputs(usage, stdout);
				exit(0);
			case OPT_VERSION:
				puts("wf-runner (pg_wf) " WF_VERSION);
				exit(0);
			default:
				fprintf(stderr, "Try \"wf-runner --help\" for more information.\n");
				exit(2);
		}
	}
	if (optind < argc)
		die_usage("unexpected argument \"%s\"", argv[optind]);
	if (cfg.nqueues == 0)
		cfg.queues[cfg.nqueues++] = "default";
	if (cfg.batch == 0)
		cfg.batch = cfg.concurrency < 1000 ? cfg.concurrency : 1000;
	if (config_file)
		read_actions_file(config_file);
	if (!cfg.runner_name)
	{
		char		host[256] = "localhost";

		gethostname(host, sizeof(host) - 1);
		snprintf(default_name, sizeof(default_name), "wf-runner@%s:%d", host, (int) getpid());
		cfg.runner_name = default_name;
	}
	if (!cfg.http_conninfo)
		cfg.http_conninfo = cfg.conninfo;
	if (cfg.http && !cfg.callback_url)
	{
		const char *colon = strrchr(cfg.http, ':');

		if (colon)
			snprintf(default_url, sizeof(default_url), "http://%s", cfg.http);
		else
			snprintf(default_url, sizeof(default_url), "http://127.0.0.1:%s", cfg.http);
		cfg.callback_url = default_url;
	}
}
