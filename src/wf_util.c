/*
 * wf_util.c — small value helpers shared by the layers: intervals and the
 * checks of arguments that SQL-callable functions share. Calls no other
 * file of pg_wf.
 */
#include "postgres.h"

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

/* Refuse an interval argument that is not positive (a lease, a timeout). */
void
wf_check_positive_interval(const Interval *iv, const char *what)
{
	if (iv->month < 0 || iv->day < 0 || iv->time < 0 ||
		(iv->month == 0 && iv->day == 0 && iv->time == 0))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s must be a positive interval", what),
				 errhint("For example '5 minutes'.")));
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
