/*
 * log.c — wf-runner's log: one human-readable line per event on stderr,
 * "2026-12-01 18:40:07.123 task 42 (exec 7 charge, payments.charge) succeeded in 12 ms".
 */
#include <stdarg.h>
#include <stdio.h>
#include <sys/time.h>
#include <time.h>

#include "runner.h"

int			log_level = LOG_NORMAL;

static void
vlog(const char *fmt, va_list ap)
{
	struct timeval tv;
	struct tm	tm;
	char		stamp[32];

	gettimeofday(&tv, NULL);
	localtime_r(&tv.tv_sec, &tm);
	strftime(stamp, sizeof(stamp), "%Y-%m-%d %H:%M:%S", &tm);
	flockfile(stderr);
	fprintf(stderr, "%s.%03d ", stamp, (int) (tv.tv_usec / 1000));
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	funlockfile(stderr);
	fflush(stderr);
}

void
log_msg(int level, const char *fmt,...)
{
	va_list		ap;

	if (level > log_level)
		return;
	va_start(ap, fmt);
	vlog(fmt, ap);
	va_end(ap);
}

void
log_error(const char *fmt,...)
{
	va_list		ap;

	va_start(ap, fmt);
	vlog(fmt, ap);
	va_end(ap);
}

double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}
