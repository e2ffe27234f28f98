/*
 * runner.h — wf-runner, the reference runner of pg_wf (a program, not part
 * of the extension): what its files share.
 *
 * Files, bottom to top (each calls only those above it in this list):
 *   log.c     one line per event, timestamps, levels
 *   config.c  command line and the actions file
 *   action.c  running one action: a child process or a built-in
 *   db.c      the database: claim, complete (in batches), delegate,
 *             heartbeat, LISTEN, reconnect with back-off
 *   http.c    the HTTP callback endpoint (libmicrohttpd, its own threads
 *             and database connections)
 *   main.c    the event loop (poll over the libpq socket, the children's
 *             pipes and a signal pipe)
 */
#ifndef WF_RUNNER_H
#define WF_RUNNER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* ---- log.c ---- */
enum
{
	LOG_QUIET = 0,				/* errors only */
	LOG_NORMAL = 1,				/* one line per task event */
	LOG_VERBOSE = 2				/* and what the runner does between them */
};
extern int	log_level;
extern void log_msg(int level, const char *fmt,...) __attribute__((format(printf, 2, 3)));
extern void log_error(const char *fmt,...) __attribute__((format(printf, 1, 2)));
extern double now_s(void);		/* monotonic seconds */

/* ---- config.c ---- */
typedef struct ActionCfg
{
	char	   *name;
	char	  **argv;			/* NULL: <actions dir>/<name> */
	bool		delegate;		/* hand the task over before it runs */
	char	   *delegate_timeout;	/* interval text, or NULL */
	double		timeout;		/* seconds; 0: the default */
	struct ActionCfg *next;
} ActionCfg;

typedef struct Config
{
	const char *conninfo;
	const char **queues;
	int			nqueues;
	const char *runner_name;
	const char *lease;			/* interval text */
	int			concurrency;
	int			batch;
	const char *actions_dir;
	ActionCfg  *actions;
	double		action_timeout; /* seconds; 0: none */
	double		heartbeat;		/* seconds */
	double		poll;			/* safety claim interval, seconds */
	double		grace;			/* after SIGTERM, seconds */
	size_t		max_output;		/* bytes of an action's stdout */
	const char *http;			/* ADDR:PORT, or NULL */
	const char *http_conninfo;
	int			http_threads;
	size_t		http_max_body;
	const char *callback_url;	/* base URL given to delegating actions */
} Config;

extern Config cfg;
extern void config_parse(int argc, char **argv);
extern const ActionCfg *config_action(const char *name);

/* ---- action.c ---- */
typedef enum TaskPhase
{
	PHASE_DELEGATE,				/* waiting to be handed over */
	PHASE_RUNNING,				/* child or built-in running */
	PHASE_REPORT,				/* outcome known, to be reported */
	PHASE_DONE					/* reported (or dropped): free it */
} TaskPhase;

typedef struct Buf
{
	char	   *data;
	size_t		len;
	size_t		cap;
	size_t		limit;			/* keep at most this much */
	bool		over;			/* more was written than kept */
} Buf;

typedef struct Task
{
	int64_t		id;
	int64_t		exec_id;
	char	   *name;
	char	   *action;
	char	   *input;			/* JSON text */
	int			attempt;
	char	   *token;			/* claim token, then the callback token */
	const char *queue;
	const ActionCfg *acfg;
	bool		delegated;
	TaskPhase	phase;
	double		started;
	double		deadline;		/* action timeout (monotonic), 0: none */
	double		next_heartbeat; /* 0: none */
	double		wake;			/* std.sleep: when it ends */
	pid_t		pid;			/* child, 0: none */
	int			out_fd;
	int			err_fd;
	Buf			out;
	Buf			err;
	bool		exited;
	int			wstatus;
	bool		timed_out;
	/* the outcome */
	const char *status;			/* "success" | "error" */
	char	   *result;			/* JSON text */
	bool		handed_over;	/* delegated and left to the third party */
	bool		abandoned;		/* no longer ours: stop it, report nothing */
	struct Task *next;
} Task;

extern void action_start(Task *t);	/* phase RUNNING, or REPORT at once */
extern void action_read(Task *t, int fd);
extern void action_finish_if_done(Task *t); /* child exited and pipes closed */
extern void action_kill(Task *t);
extern void action_outcome(Task *t, const char *status, char *result_json);
extern void task_free(Task *t);
extern char *json_error_doc(const char *type, const char *message);

/* ---- db.c ---- */
extern const char *const db_schema_query;	/* pg_wf's schema, quoted */
extern bool db_connected(void);
extern bool db_connect(void);	/* false: try again later */
extern int	db_socket(void);
extern bool db_consume(void);	/* read notifications; true if woken */
extern bool db_take_wake(void); /* true if woken since the last look */
extern Task *db_claim(const char *queue, int max, int *n);
extern void db_report(Task **tasks, int n);
extern int	db_delegate(Task *t);	/* 1 done, 0 retry later, -1 refused */
extern bool db_heartbeat(Task *t);	/* false: the task is no longer ours */
extern double db_next_try(void);	/* when a reconnect is due */
extern void db_close(void);

/* ---- http.c ---- */
extern bool http_start(void);
extern void http_stop(void);

#endif							/* WF_RUNNER_H */
