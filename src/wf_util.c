/*
 * wf_util.c — small value helpers shared by the layers: intervals and the
 * checks of arguments that SQL-callable functions share. Calls no other
 * file of pg_wf.
 */
#include "postgres.h"

#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/guc.h"
#include "utils/timestamp.h"

#include "pg_wf.h"
#include "wf_util.h"

/*
 * An interval without months (durations in definitions refuse months) in
 * microseconds, as a double so that no product overflows.
 */
double
wf_interval_usecs(const Interval *iv)
{
	return (double) iv->day * USECS_PER_DAY + iv->time;
}

/* start + iv (without months), e.g. a deadline from a timeout. */
TimestampTz
wf_after(TimestampTz start, const Interval *iv)
{
	return start + iv->day * USECS_PER_DAY + iv->time;
}

/* An interval's length in days, a month counted as 30 days. */
double
wf_interval_days(const Interval *iv)
{
	return iv->month * 30.0 + iv->day + (double) iv->time / USECS_PER_DAY;
}

/*
 * Refuse an interval argument that is not positive, or longer than
 * WF_MAX_DURATION_DAYS (a lease, a timeout): now() plus it must be a
 * timestamp.
 */
void
wf_check_positive_interval(const Interval *iv, const char *what)
{
	if (iv->month < 0 || iv->day < 0 || iv->time < 0 ||
		(iv->month == 0 && iv->day == 0 && iv->time == 0))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s must be a positive interval", what),
				 errhint("For example '5 minutes'.")));
	if (wf_interval_days(iv) > WF_MAX_DURATION_DAYS)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s must be at most %d days", what, WF_MAX_DURATION_DAYS),
				 errdetail("Leases and timeouts are limited to ten years.")));
}

/* Refuse a text argument longer than max bytes. */
void
wf_check_length(const text *t, int max, const char *what)
{
	if (VARSIZE_ANY_EXHDR(t) > max)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s must be at most %d bytes, not %d", what, max,
						(int) VARSIZE_ANY_EXHDR(t))));
}

/*
 * A background worker's statements must not be captured by objects that a
 * database owner can create (a public.unnest(jsonb[]), an operator in a
 * schema that the database's default search_path puts before pg_catalog):
 * the worker runs as a superuser. Pin its search_path, as the SQL
 * functions pin theirs, above any database or role default.
 */
void
wf_pin_search_path(void)
{
	SetConfigOption("search_path", "pg_catalog, pg_temp", PGC_SUSET, PGC_S_OVERRIDE);
}

/*
 * Is the role that called us (not the SECURITY DEFINER owner we run as) a
 * superuser or a member of the extension's owner?
 */
bool
wf_caller_is_owner(void)
{
	Oid			caller = GetOuterUserId();

	return superuser_arg(caller) || has_privs_of_role(caller, GetUserId());
}

/* A bigint id argument that must not be null. */
int64
wf_arg_id(FunctionCallInfo fcinfo, int argno, const char *what)
{
	if (PG_ARGISNULL(argno))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("%s must not be null", what)));
	return PG_GETARG_INT64(argno);
}

/*
 * An action or event name: a letter or "_", then letters, digits, "_",
 * ".", ":" or "-" (the length is the caller's to check).
 */
bool
wf_is_action_name(const char *s)
{
	if (!((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') || *s == '_'))
		return false;
	for (s++; *s; s++)
		if (!((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') ||
			  (*s >= '0' && *s <= '9') || *s == '_' || *s == '.' ||
			  *s == ':' || *s == '-'))
			return false;
	return true;
}
