/*
 * wf_audit.h — history rows that must outlive the caller's transaction.
 */
#ifndef WF_AUDIT_H
#define WF_AUDIT_H

#include "utils/jsonb.h"

extern bool wf_audit_late(int64 exec_id, int64 task_id, const char *task, Jsonb *report);

#endif							/* WF_AUDIT_H */
