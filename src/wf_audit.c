/*
 * wf_audit.c — keep a late callback's report in the history although the
 * callback itself is refused.
 *
 * A completion that arrives after the watchdog expired its attempt gets an
 * error (WF008), and an error rolls back everything its transaction wrote.
 * The report is still worth keeping for audit, so it is written by a
 * short-lived dynamic background worker, in a transaction of its own: the
 * caller passes the row through a DSM segment and waits for the worker to
 * exit. This needs one free max_worker_processes slot; without one, the
 * report goes to the server log instead (with a WARNING to the caller).
 * Late callbacks are rare, so the cost (a process start) does not matter.
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "storage/dsm.h"
#include "storage/ipc.h"
#include "lib/stringinfo.h"
#include "mb/pg_wchar.h"
#include "utils/builtins.h"
#include "utils/json.h"
#include "utils/resowner.h"
#include "utils/snapmgr.h"

#include "pg_wf.h"
#include "wf_audit.h"
#include "wf_store.h"
#include "wf_util.h"

PGDLLEXPORT void wf_audit_main(Datum arg);

typedef struct AuditMsg
{
	Oid			dbid;
	Oid			roleid;
	int64		exec_id;
	int64		task_id;
	bool		written;		/* set by the worker once committed */
	char		actor[NAMEDATALEN];
	Size		task_len;		/* data: task name, NUL, report JSON, NUL */
	char		data[FLEXIBLE_ARRAY_MEMBER];
} AuditMsg;

/*
 * A late report as kept: whole up to WF_MAX_LATE_REPORT bytes of JSON,
 * else {"truncated": true, "bytes": N, "head": "<its first 1 kB>"}.
 */
static char *
bounded_report(Jsonb *report)
{
	char	   *json = JsonbToCString(NULL, &report->root, VARSIZE(report));
	size_t		len = strlen(json);
	StringInfoData buf;
	int			head;

	if (len <= WF_MAX_LATE_REPORT)
		return json;
	head = pg_mbcliplen(json, len, 1024);
	initStringInfo(&buf);
	appendStringInfo(&buf, "{\"truncated\": true, \"bytes\": %zu, \"head\": ", len);
	escape_json(&buf, pnstrdup(json, head));
	appendStringInfoChar(&buf, '}');
	return buf.data;
}

/*
 * Keep a late report (the caller is about to be refused with WF008).
 * Returns false if it was not kept: the task had WF_MAX_LATE_REPORTS
 * already (a caller retrying forever gets no more rows), or no worker slot
 * was free (then it is in the server log).
 */
bool
wf_audit_late(int64 exec_id, int64 task_id, const char *task, Jsonb *report)
{
	static WfPlan kept = {
		"SELECT pg_catalog.count(*) FROM wf.event "
		"WHERE execution_id = $1 AND task_id = $2 AND state = 'rejected'",
		2, {INT8OID, INT8OID}
	};
	Datum		kvalues[2] = {Int64GetDatum(exec_id), Int64GetDatum(task_id)};
	char	   *json;
	Size		task_len = strlen(task);
	Size		size;
	dsm_segment *seg;
	AuditMsg   *msg;
	BackgroundWorker worker;
	BackgroundWorkerHandle *handle;
	bool		written = false;

	wf_exec(&kept, kvalues, NULL, 1);
	if (wf_get_int64(0, 1) >= WF_MAX_LATE_REPORTS)
		return false;
	json = bounded_report(report);
	size = offsetof(AuditMsg, data) + task_len + 1 + strlen(json) + 1;
	seg = dsm_create(size, 0);
	msg = dsm_segment_address(seg);

	msg->dbid = MyDatabaseId;
	/* the extension's owner: we run SECURITY DEFINER */
	msg->roleid = GetUserId();
	msg->exec_id = exec_id;
	msg->task_id = task_id;
	msg->written = false;
	strlcpy(msg->actor, GetUserNameFromId(GetOuterUserId(), false), NAMEDATALEN);
	msg->task_len = task_len;
	memcpy(msg->data, task, task_len + 1);
	strcpy(msg->data + task_len + 1, json);

	memset(&worker, 0, sizeof(worker));
	worker.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
	worker.bgw_start_time = BgWorkerStart_RecoveryFinished;
	worker.bgw_restart_time = BGW_NEVER_RESTART;
	snprintf(worker.bgw_library_name, BGW_MAXLEN, "pg_wf");
	snprintf(worker.bgw_function_name, BGW_MAXLEN, "wf_audit_main");
	snprintf(worker.bgw_name, BGW_MAXLEN, "pg_wf audit");
	snprintf(worker.bgw_type, BGW_MAXLEN, "pg_wf audit");
	worker.bgw_main_arg = UInt32GetDatum(dsm_segment_handle(seg));
	worker.bgw_notify_pid = MyProcPid;

	if (RegisterDynamicBackgroundWorker(&worker, &handle))
	{
		(void) WaitForBackgroundWorkerShutdown(handle);
		written = msg->written;
	}
	if (!written)
		ereport(WARNING,
				(errmsg("could not record the late report of task " INT64_FORMAT " in wf.event",
						task_id),
				 errdetail("Report: %s", json),
				 errhint("Raise max_worker_processes; the report is in the server log.")));
	dsm_detach(seg);
	return written;
}

void
wf_audit_main(Datum arg)
{
	dsm_segment *seg;
	AuditMsg   *msg;
	Datum		values[5];
	Oid			types[5] = {INT8OID, INT8OID, TEXTOID, TEXTOID, TEXTOID};

	BackgroundWorkerUnblockSignals();
	CurrentResourceOwner = ResourceOwnerCreate(NULL, "pg_wf audit");
	seg = dsm_attach(DatumGetUInt32(arg));
	if (seg == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("pg_wf audit: could not attach to its message")));
	msg = dsm_segment_address(seg);
	BackgroundWorkerInitializeConnectionByOid(msg->dbid, msg->roleid, 0);
	wf_pin_search_path();

	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	SPI_connect();
	PushActiveSnapshot(GetTransactionSnapshot());
	pgstat_report_activity(STATE_RUNNING, "pg_wf: recording a late callback");
	values[0] = Int64GetDatum(msg->exec_id);
	values[1] = Int64GetDatum(msg->task_id);
	values[2] = CStringGetTextDatum(msg->data);
	values[3] = CStringGetTextDatum(msg->actor);
	values[4] = CStringGetTextDatum(msg->data + msg->task_len + 1);
	if (SPI_execute_with_args("INSERT INTO wf.event (execution_id, task_id, task, state, actor, detail) "
							  "VALUES ($1, $2, $3, 'rejected', $4, "
							  "pg_catalog.jsonb_build_object('reason', 'attempt expired', "
							  "'late_report', $5::pg_catalog.jsonb))",
							  5, types, values, NULL, false, 0) != SPI_OK_INSERT)
		elog(ERROR, "pg_wf audit: insert failed");
	SPI_finish();
	PopActiveSnapshot();
	CommitTransactionCommand();
	pgstat_report_activity(STATE_IDLE, NULL);

	msg->written = true;
	dsm_detach(seg);
	proc_exit(0);
}
