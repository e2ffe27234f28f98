/*
 * wf_util.h — small value helpers shared by the layers: intervals and the
 * checks of arguments that SQL-callable functions share.
 */
#ifndef WF_UTIL_H
#define WF_UTIL_H

#include "postgres.h"

#include "datatype/timestamp.h"
#include "fmgr.h"

extern double wf_interval_usecs(const Interval *iv);
extern double wf_interval_days(const Interval *iv);
extern TimestampTz wf_after(TimestampTz start, const Interval *iv);
extern void wf_check_positive_interval(const Interval *iv, const char *what);
extern void wf_check_length(const text *t, int max, const char *what);
extern void wf_pin_search_path(void);
extern bool wf_caller_is_owner(void);
extern int64 wf_arg_id(FunctionCallInfo fcinfo, int argno, const char *what);
extern bool wf_is_action_name(const char *s);

#endif							/* WF_UTIL_H */
