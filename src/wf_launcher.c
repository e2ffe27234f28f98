/*
 * wf_launcher.c — the launcher: one watchdog for every database where
 * pg_wf is installed.
 *
 * The launcher is a background worker connected to no database (it reads
 * only the shared catalog pg_database, with heap scans: connected to no
 * database it cannot use pg_database's indexes). It cannot see which
 * databases hold pg_wf, so it asks them: it starts a watchdog in every
 * database that allows connections and is not a template (or only in
 * pg_wf.database, when that is set). A watchdog that finds no pg_wf says
 * so in the registry and exits; the launcher then leaves that database
 * alone until CREATE EXTENSION pg_wf commits there (or CREATE DATABASE
 * makes a new one), which asks it to look again (wf_signal_launcher()).
 * At most MAX_LOOKING watchdogs that have not yet found pg_wf run at once,
 * so that a cluster of many databases does not fill max_worker_processes
 * at start.
 *
 * A watchdog that stops (an error, pg_terminate_backend) is started again
 * after WORKER_RESTART_S. Each served database takes one registry slot
 * (pg_wf.max_databases) and one background worker.
 *
 * Stopping: DROP EXTENSION pg_wf wakes the database's watchdog at commit;
 * it sees pg_wf gone and exits. DROP DATABASE asks the database's watchdog
 * to exit first and the launcher to stay away for STOP_GRACE_MS (a
 * connected watchdog would make the drop fail: PostgreSQL 15 ends
 * background workers only for WITH (FORCE)). Neither waits for a lock.
 *
 * Template databases are never served: a connected session makes CREATE
 * DATABASE from that template fail. ALTER DATABASE (IS_TEMPLATE,
 * ALLOW_CONNECTIONS) makes the launcher read pg_database again: a database
 * that became a template loses its watchdog, and one that stopped being
 * one gets it back.
 */
#include "postgres.h"

#include "access/heapam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "access/tableam.h"
#include "access/xact.h"
#include "catalog/pg_database.h"
#include "commands/dbcommands.h"
#include "miscadmin.h"
#include "nodes/parsenodes.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "tcop/utility.h"
#include "utils/guc.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"

#include "wf_launcher.h"
#include "wf_registry.h"
#include "wf_signal.h"

PGDLLEXPORT void wf_launcher_main(Datum arg);

#define WORKER_RESTART_S	5	/* after a watchdog stops */
#define RESCAN_MS			60000	/* look for new and dropped databases */
#define STOP_GRACE_MS		10000	/* DROP DATABASE: stay away this long */
#define MAX_LOOKING			2	/* watchdogs not yet sure of pg_wf, at once */
#define MAX_REQUESTS		16

static char *wf_database = NULL;
static ProcessUtility_hook_type prev_process_utility = NULL;

/* A database the launcher knows of. */
typedef struct KnownDb
{
	Oid			oid;
	char		name[NAMEDATALEN];
	bool		absent;			/* no pg_wf there: wait to be asked */
	bool		seen;			/* in the last scan of pg_database */
	int			slot;			/* its registry slot, or -1 */
	BackgroundWorkerHandle *handle; /* its watchdog, or NULL */
	TimestampTz restart_at;
} KnownDb;

static KnownDb *dbs = NULL;
static int	ndbs = 0;
static int	maxdbs = 0;

/* ---------------------------------------------------------------------
 * In every backend: DDL that starts or stops a watchdog
 * ---------------------------------------------------------------------
 */

static bool
names_pg_wf(List *objects)
{
	ListCell   *lc;

	foreach(lc, objects)
		if (strcmp(strVal(lfirst(lc)), "pg_wf") == 0)
		return true;
	return false;
}

static void
wf_process_utility(PlannedStmt *pstmt, const char *queryString, bool readOnlyTree,
				   ProcessUtilityContext context, ParamListInfo params,
				   QueryEnvironment *queryEnv, DestReceiver *dest, QueryCompletion *qc)
{
	Node	   *stmt = pstmt->utilityStmt;

	if (IsA(stmt, DropdbStmt))
	{
		Oid			dboid = get_database_oid(((DropdbStmt *) stmt)->dbname, true);

		if (OidIsValid(dboid))
			wf_registry_stop(dboid, STOP_GRACE_MS);
	}
	if (prev_process_utility)
		prev_process_utility(pstmt, queryString, readOnlyTree, context, params,
							 queryEnv, dest, qc);
	else
		standard_ProcessUtility(pstmt, queryString, readOnlyTree, context, params,
								queryEnv, dest, qc);

	if (IsA(stmt, CreateExtensionStmt) &&
		strcmp(((CreateExtensionStmt *) stmt)->extname, "pg_wf") == 0)
		wf_signal_launcher(MyDatabaseId);
	else if (IsA(stmt, DropStmt) && ((DropStmt *) stmt)->removeType == OBJECT_EXTENSION &&
			 names_pg_wf(((DropStmt *) stmt)->objects))
		wf_signal_watchdog();
	else if (IsA(stmt, CreatedbStmt))
		wf_signal_launcher(get_database_oid(((CreatedbStmt *) stmt)->dbname, true));
	else if (IsA(stmt, AlterDatabaseStmt))
		wf_signal_launcher(get_database_oid(((AlterDatabaseStmt *) stmt)->dbname, true));
	else if (IsA(stmt, ListenStmt))
		wf_signal_listen(((ListenStmt *) stmt)->conditionname);
}

void
wf_launcher_init(void)
{
	BackgroundWorker worker;

	DefineCustomStringVariable("pg_wf.database",
							   "The only database the pg_wf watchdog serves (empty: every database where pg_wf is installed).",
							   NULL, &wf_database, "",
							   PGC_POSTMASTER, 0, NULL, NULL, NULL);
	if (!process_shared_preload_libraries_in_progress)
		return;

	prev_process_utility = ProcessUtility_hook;
	ProcessUtility_hook = wf_process_utility;

	memset(&worker, 0, sizeof(worker));
	worker.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
	worker.bgw_start_time = BgWorkerStart_RecoveryFinished;
	worker.bgw_restart_time = WORKER_RESTART_S;
	snprintf(worker.bgw_library_name, BGW_MAXLEN, "pg_wf");
	snprintf(worker.bgw_function_name, BGW_MAXLEN, "wf_launcher_main");
	snprintf(worker.bgw_name, BGW_MAXLEN, "pg_wf launcher");
	snprintf(worker.bgw_type, BGW_MAXLEN, "pg_wf launcher");
	RegisterBackgroundWorker(&worker);
}

/* ---------------------------------------------------------------------
 * The launcher
 * ---------------------------------------------------------------------
 */

/* The registry's view of a database's slot (which it must have). */
static WfStatus
slot_of(KnownDb *db)
{
	WfStatus	st;

	wf_registry_read(db->slot, &st);
	return st;
}

static KnownDb *
find_db(Oid oid)
{
	for (int i = 0; i < ndbs; i++)
		if (dbs[i].oid == oid)
			return &dbs[i];
	return NULL;
}

static KnownDb *
add_db(Oid oid, const char *name)
{
	KnownDb    *db;

	if (ndbs == maxdbs)
	{
		maxdbs = Max(16, maxdbs * 2);
		dbs = dbs ? repalloc(dbs, sizeof(KnownDb) * maxdbs)
			: MemoryContextAlloc(TopMemoryContext, sizeof(KnownDb) * maxdbs);
	}
	db = &dbs[ndbs++];
	memset(db, 0, sizeof(*db));
	db->oid = oid;
	strlcpy(db->name, name, NAMEDATALEN);
	db->slot = -1;
	return db;
}

/*
 * Read pg_database: learn new databases, forget dropped ones (once their
 * watchdog has stopped). Returns whether pg_wf.database (if set) exists.
 */
static bool
scan_databases(void)
{
	Relation	rel;
	TableScanDesc scan;
	HeapTuple	tup;
	bool		named_found = false;
	int			kept = 0;

	for (int i = 0; i < ndbs; i++)
		dbs[i].seen = false;

	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	(void) GetTransactionSnapshot();
	rel = table_open(DatabaseRelationId, AccessShareLock);
	scan = table_beginscan_catalog(rel, 0, NULL);
	while (HeapTupleIsValid(tup = heap_getnext(scan, ForwardScanDirection)))
	{
		Form_pg_database d = (Form_pg_database) GETSTRUCT(tup);
		KnownDb    *db;

		/* datconnlimit -2: a DROP DATABASE that was interrupted */
		if (!d->datallowconn || d->datistemplate || d->datconnlimit == -2)
			continue;
		if (wf_database[0] != '\0' && strcmp(NameStr(d->datname), wf_database) != 0)
			continue;
		named_found = true;
		db = find_db(d->oid);
		if (db == NULL)
			db = add_db(d->oid, NameStr(d->datname));
		strlcpy(db->name, NameStr(d->datname), NAMEDATALEN);
		db->seen = true;
	}
	table_endscan(scan);
	table_close(rel, AccessShareLock);
	CommitTransactionCommand();

	/*
	 * Forget the databases that are gone (or became templates, or closed to
	 * connections) once their watchdog has left; ask it to leave.
	 */
	for (int i = 0; i < ndbs; i++)
	{
		KnownDb    *db = &dbs[i];

		if (!db->seen && db->slot >= 0 &&
			(db->handle != NULL || slot_of(db).pid != 0))
			wf_registry_stop(db->oid, STOP_GRACE_MS);
		else if (!db->seen)
		{
			if (db->slot >= 0)
				wf_registry_release(db->slot);
			continue;
		}
		dbs[kept++] = *db;
	}
	ndbs = kept;
	return named_found;
}

static BackgroundWorkerHandle *
start_watchdog(KnownDb *db)
{
	BackgroundWorker worker;
	BackgroundWorkerHandle *handle;

	memset(&worker, 0, sizeof(worker));
	worker.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
	worker.bgw_start_time = BgWorkerStart_RecoveryFinished;
	worker.bgw_restart_time = BGW_NEVER_RESTART;	/* the launcher does */
	snprintf(worker.bgw_library_name, BGW_MAXLEN, "pg_wf");
	snprintf(worker.bgw_function_name, BGW_MAXLEN, "wf_watchdog_main");
	snprintf(worker.bgw_name, BGW_MAXLEN, "pg_wf watchdog");
	snprintf(worker.bgw_type, BGW_MAXLEN, "pg_wf watchdog");
	worker.bgw_main_arg = Int32GetDatum(db->slot);
	memcpy(worker.bgw_extra, &db->oid, sizeof(Oid));
	worker.bgw_notify_pid = MyProcPid;
	if (!RegisterDynamicBackgroundWorker(&worker, &handle))
		return NULL;
	return handle;
}

/* A watchdog stopped: was pg_wf there? */
static void
reap(KnownDb *db, TimestampTz now)
{
	pfree(db->handle);
	db->handle = NULL;
	if (slot_of(db).absent)
	{
		if (wf_database[0] != '\0')
			ereport(LOG,
					(errmsg("pg_wf launcher: extension pg_wf is not installed in database \"%s\"; waiting for CREATE EXTENSION",
							db->name)));
		else
			elog(DEBUG1, "pg_wf launcher: no pg_wf in database \"%s\"", db->name);
		db->absent = true;
		wf_registry_release(db->slot);
		db->slot = -1;
	}
	else
		db->restart_at = TimestampTzPlusMilliseconds(now, WORKER_RESTART_S * 1000);
}

/* When may a watchdog start in this database (0: never, for now)? */
static TimestampTz
start_at(KnownDb *db)
{
	if (db->absent || db->handle != NULL)
		return 0;
	if (db->slot >= 0)
		return Max(db->restart_at, slot_of(db).stop_until);
	return db->restart_at;
}

/* Reap the watchdogs that stopped; count those still looking for pg_wf. */
static int
reap_all(TimestampTz now)
{
	int			looking = 0;
	pid_t		pid;

	for (int i = 0; i < ndbs; i++)
	{
		KnownDb    *db = &dbs[i];

		if (db->handle != NULL && GetBackgroundWorkerPid(db->handle, &pid) == BGWH_STOPPED)
			reap(db, now);
		if (db->handle != NULL && slot_of(db).health.passes == 0)
			looking++;
	}
	return looking;
}

void
wf_launcher_main(Datum arg)
{
	TimestampTz next_scan = 0;
	bool		named_missing = false;
	bool		warned_slots = false;
	bool		warned_workers = false;

	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	pqsignal(SIGTERM, die);
	BackgroundWorkerUnblockSignals();
	BackgroundWorkerInitializeConnection(NULL, NULL, 0);
	wf_registry_attach_launcher(MyLatch);

	for (;;)
	{
		Oid			req[MAX_REQUESTS];
		int			nreq;
		int			looking;
		bool		starting = false;
		TimestampTz now;
		TimestampTz wake;

		CHECK_FOR_INTERRUPTS();
		if (ConfigReloadPending)
		{
			ConfigReloadPending = false;
			ProcessConfigFile(PGC_SIGHUP);
			next_scan = 0;
		}
		nreq = wf_registry_take_requests(req, MAX_REQUESTS);
		now = GetCurrentTimestamp();
		looking = reap_all(now);

		/* asked to look at these databases again (pg_wf installed there) */
		for (int i = 0; i < ndbs; i++)
		{
			bool		asked = nreq < 0;

			for (int r = 0; r < nreq && !asked; r++)
				asked = req[r] == dbs[i].oid;
			if (asked && dbs[i].absent)
			{
				dbs[i].absent = false;
				dbs[i].restart_at = 0;
			}
		}

		/*
		 * Read pg_database when asked, every RESCAN_MS, and before starting
		 * any watchdog (never one in a database that was just dropped).
		 */
		for (int i = 0; i < ndbs && !starting; i++)
			starting = !dbs[i].absent && dbs[i].handle == NULL && start_at(&dbs[i]) <= now;
		if (nreq != 0 || now >= next_scan || starting)
		{
			bool		found = scan_databases();

			if (wf_database[0] != '\0' && found == named_missing)
			{
				if (!found)
					ereport(LOG,
							(errmsg("pg_wf launcher: database \"%s\" does not exist; the watchdog waits for it",
									wf_database),
							 errhint("Create it (and the extension pg_wf in it), or set pg_wf.database.")));
				else
					ereport(LOG,
							(errmsg("pg_wf launcher: database \"%s\" exists again; starting the watchdog",
									wf_database)));
				named_missing = !found;
			}
			next_scan = TimestampTzPlusMilliseconds(now, RESCAN_MS);
		}

		wake = next_scan;
		for (int i = 0; i < ndbs; i++)
		{
			KnownDb    *db = &dbs[i];
			TimestampTz at;

			if (db->absent || db->handle != NULL || !db->seen)
				continue;
			at = start_at(db);
			if (at > now || looking >= MAX_LOOKING)
			{
				wake = Min(wake, at > now ? at : TimestampTzPlusMilliseconds(now, 100));
				continue;
			}
			if (db->slot < 0 && (db->slot = wf_registry_claim(db->oid)) < 0)
			{
				if (!warned_slots)
					ereport(WARNING,
							(errmsg("pg_wf launcher: no watchdog for database \"%s\": as many databases as pg_wf.max_databases are served already",
									db->name),
							 errhint("Raise pg_wf.max_databases (and max_worker_processes).")));
				warned_slots = true;
				db->restart_at = TimestampTzPlusMilliseconds(now, RESCAN_MS);
				continue;
			}
			if (slot_of(db).pid != 0)
			{
				/* started by this launcher's predecessor: still serving */
				db->restart_at = TimestampTzPlusMilliseconds(now, WORKER_RESTART_S * 1000);
				wake = Min(wake, db->restart_at);
				continue;
			}
			db->handle = start_watchdog(db);
			if (db->handle == NULL)
			{
				if (!warned_workers)
					ereport(WARNING,
							(errmsg("pg_wf launcher: could not start a watchdog for database \"%s\"", db->name),
							 errhint("Raise max_worker_processes: pg_wf needs one worker per database where it is installed, plus the launcher.")));
				warned_workers = true;
				db->restart_at = TimestampTzPlusMilliseconds(now, WORKER_RESTART_S * 1000);
				wake = Min(wake, db->restart_at);
				continue;
			}
			looking++;
		}

		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 Max(TimestampDifferenceMilliseconds(now, wake), 1) + 1,
						 PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
	}
}
