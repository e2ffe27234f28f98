/*
 * pg_wf: workflows inside PostgreSQL — the install script of the current
 * version. `make` copies it to sql/pg_wf--<default_version>.sql; every
 * change to an SQL object also goes into the upgrade script from the
 * previous version (sql/pg_wf--<old>--<new>.sql), and test/t/003_upgrade.pl
 * checks that an upgraded database equals a fresh install.
 */
\echo Use "CREATE EXTENSION pg_wf" to load this file. \quit

/*
 * Tables live in schema wf; the SQL functions in the schema the extension
 * is created in. Every engine transaction touches one execution, and every
 * row carries its execution_id.
 */
CREATE SCHEMA wf;
COMMENT ON SCHEMA wf IS 'pg_wf: workflow definitions, executions, tasks (the queue) and history';

CREATE TABLE wf.workflow (
    name        text        NOT NULL,
    version     integer     NOT NULL CHECK (version > 0),
    definition  jsonb       NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    created_by  name        NOT NULL DEFAULT session_user,
    PRIMARY KEY (name, version)
);
COMMENT ON TABLE wf.workflow IS 'Workflow definitions, one row per version; immutable once stored';

CREATE TABLE wf.execution (
    id          bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    workflow    text        NOT NULL,
    version     integer     NOT NULL,
    state       text        NOT NULL DEFAULT 'running',  -- running, paused, succeeded, failed, cancelled
    input       jsonb       NOT NULL DEFAULT '{}',
    vars        jsonb       NOT NULL DEFAULT '{}',
    output      jsonb,
    error       jsonb,
    active      integer     NOT NULL DEFAULT 0,
    key         text,       -- wf_start's idempotency key
    parent_task_id bigint,  -- a sub-workflow: the parent's task (wf.task id)
    depth       integer     NOT NULL DEFAULT 0,  -- sub-workflow nesting
    deadline    timestamptz, -- the definition's timeout for the whole execution
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    finished_at timestamptz,
    FOREIGN KEY (workflow, version) REFERENCES wf.workflow (name, version)
) WITH (fillfactor = 90);
COMMENT ON TABLE wf.execution IS 'Workflow executions: one row per run of a workflow version';
/*
 * The hot tables (wf.task, wf.join_state, wf.foreach_state) carry no CHECK
 * or FOREIGN KEY constraints, and wf.execution only its foreign key to
 * wf.workflow (checked once, when an execution is inserted; never on the
 * completion path, which does not change workflow or version): only the
 * engine's SECURITY DEFINER functions write them, always for an execution
 * they hold locked, and each CHECK or FK costs a re-parse or a trigger
 * query per statement (measured: test/bench/README.md).
 */
COMMENT ON COLUMN wf.execution.active IS 'Engine bookkeeping: how many of this execution''s tasks are active (ready, running or delegated)';

CREATE INDEX execution_workflow_idx ON wf.execution (workflow, version);
CREATE INDEX execution_parent_idx ON wf.execution (parent_task_id) WHERE parent_task_id IS NOT NULL;
CREATE UNIQUE INDEX execution_key_idx ON wf.execution (workflow, key) WHERE key IS NOT NULL;
CREATE INDEX execution_deadline_idx ON wf.execution (deadline)
    WHERE deadline IS NOT NULL AND state IN ('running', 'paused');
-- Retention (wf_purge, pg_wf.retention): finished executions, oldest first.
CREATE INDEX execution_finished_idx ON wf.execution (finished_at)
    WHERE state IN ('succeeded', 'failed', 'cancelled');

CREATE TABLE wf.task (
    id           bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    execution_id bigint      NOT NULL,   -- wf.execution (id), kept by the engine
    name         text        NOT NULL,
    action       text        NOT NULL,
    queue        text        NOT NULL,
    -- ready, running, delegated, succeeded, failed, cancelled, skipped
    state        text        NOT NULL DEFAULT 'ready',
    attempt      integer     NOT NULL DEFAULT 0,
    input        jsonb       NOT NULL DEFAULT '{}',
    result       jsonb,
    error        jsonb,
    runner       text,
    token_hash   bytea,
    expired_token_hash bytea,
    timeout      interval,
    lease        interval,
    not_before   timestamptz NOT NULL DEFAULT now(),
    wake_at      timestamptz,
    lease_until  timestamptz,
    deadline     timestamptz,
    item         integer,    -- for_each: the item's index (NULL: not an item)
    items_total  integer,    -- for_each: on the task itself, how many items
    created_at   timestamptz NOT NULL DEFAULT now(),
    started_at   timestamptz,
    finished_at  timestamptz,
    held         boolean     NOT NULL DEFAULT false,  -- ready, but its execution is paused
    iteration    integer     NOT NULL DEFAULT 0,      -- repeat: which run of the task (from 0)
    UNIQUE NULLS NOT DISTINCT (execution_id, name, item)
) WITH (fillfactor = 80);
COMMENT ON TABLE wf.task IS 'Tasks of executions; the ready ones are the queue (wf_claim)';
COMMENT ON COLUMN wf.task.token_hash IS 'SHA-256 of the current attempt''s token; the token itself is never stored';
COMMENT ON COLUMN wf.task.expired_token_hash IS 'SHA-256 of the token of the last attempt the watchdog expired: a late callback with it is told so';
COMMENT ON COLUMN wf.task.timeout IS 'Lease of an attempt from the definition (NULL: wf_claim''s lease)';
COMMENT ON COLUMN wf.task.lease IS 'Lease length of the current attempt (wf_heartbeat''s default)';
COMMENT ON COLUMN wf.task.wake_at IS 'A retry waiting for not_before: the watchdog wakes the queue then';
COMMENT ON COLUMN wf.task.iteration IS 'A repeating task: which iteration this is (0 for the first run); each has its own attempts';
COMMENT ON COLUMN wf.task.held IS 'A ready task of a paused execution: not claimable, and out of the claim''s index, until wf_resume';
COMMENT ON COLUMN wf.task.deadline IS 'When a delegated attempt times out (NULL: never)';

-- The claim query: ready tasks of one queue, oldest first (not those of
-- paused executions: however many there are, a claim never reads them).
CREATE INDEX task_ready_idx ON wf.task (queue, not_before, id) WHERE state = 'ready' AND NOT held;
-- The watchdog's due work on tasks: leases, deadlines, retries (and the
-- running and delegated tasks of wf.queue_summary).
CREATE INDEX task_lease_idx ON wf.task (lease_until) WHERE state = 'running';
CREATE INDEX task_deadline_idx ON wf.task (deadline) WHERE state = 'delegated';
CREATE INDEX task_wake_idx ON wf.task (wake_at) WHERE wake_at IS NOT NULL;

-- Joins waiting for more of their inbound edges: how many edges resolved,
-- how many of them fired, and whether the join was decided (ready or
-- skipped). Deleted once every inbound edge has resolved.
CREATE TABLE wf.join_state (
    execution_id bigint  NOT NULL,
    task         text    NOT NULL,
    arrived      integer NOT NULL,
    fired        integer NOT NULL DEFAULT 0,
    decided      boolean NOT NULL DEFAULT false,
    PRIMARY KEY (execution_id, task)
);
COMMENT ON TABLE wf.join_state IS 'Engine bookkeeping: joins still waiting for some of their inbound edges (edges resolved, edges fired, decided)';

-- for_each tasks whose items are running: how many items succeeded. Kept
-- apart from wf.task so that counting an item is a HOT update of a small row.
CREATE TABLE wf.foreach_state (
    execution_id bigint  NOT NULL,
    task         text    NOT NULL,
    done         integer NOT NULL DEFAULT 0,
    total        integer NOT NULL,
    PRIMARY KEY (execution_id, task)
) WITH (fillfactor = 50);
COMMENT ON TABLE wf.foreach_state IS 'Engine bookkeeping: for_each tasks whose items are running, and how many items succeeded';

-- Sub-workflows that ended, waiting for the watchdog to finish their
-- parent's task. A child's engine step writes here instead of locking its
-- parent's rows, so no step ever waits for another execution's lock
-- (parents lock children when cancelling them; never the reverse).
CREATE TABLE wf.inbox (
    id              bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    parent_task_id  bigint      NOT NULL,
    child_execution_id bigint   NOT NULL,
    state           text        NOT NULL,   -- the child's end: succeeded, failed, cancelled
    output          jsonb,
    error           jsonb,
    created_at      timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE wf.inbox IS 'Sub-workflows that ended, waiting for the watchdog to finish their parent''s task';

-- History: every state change of an execution (task IS NULL) or a task.
-- One index: every read of the history is by execution (and a distributed
-- setup needs execution_id in the key), so a history row costs one index
-- entry, not two.
CREATE TABLE wf.event (
    id           bigint      GENERATED ALWAYS AS IDENTITY,
    execution_id bigint      NOT NULL,
    task_id      bigint,
    task         text,
    state        text        NOT NULL,
    at           timestamptz NOT NULL DEFAULT clock_timestamp(),
    actor        name        NOT NULL DEFAULT session_user,
    detail       jsonb,
    PRIMARY KEY (execution_id, id)
);
COMMENT ON TABLE wf.event IS 'History: every state change of an execution (task IS NULL) or of a task';

-- Which roles may claim from a queue. A queue with no row here is open to
-- every role that may call wf_claim; a queue with rows only to those roles
-- (and their members), the extension's owner and superusers. Not
-- execution data: in a distributed setup, a reference table.
CREATE TABLE wf.queue_grant (
    queue  text    NOT NULL,
    role   regrole NOT NULL,
    PRIMARY KEY (queue, role)
);
COMMENT ON TABLE wf.queue_grant IS 'Roles that may claim from a queue; a queue with no row is open to every runner';

-- Definitions are immutable per version: running executions depend on them.
CREATE FUNCTION wf.forbid_update() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    RAISE EXCEPTION 'workflow definitions are immutable'
        USING ERRCODE = 'WF001',
              HINT = 'Store a new version with wf_define().';
END
$$;
CREATE TRIGGER workflow_immutable BEFORE UPDATE ON wf.workflow
    FOR EACH ROW EXECUTE FUNCTION wf.forbid_update();

/*
 * pg_dump: every table's rows and every sequence's position belong in a
 * dump (extension members are otherwise skipped: a restore would hold the
 * definitions of the extension but no workflow, execution or task). The
 * data is dumped in foreign-key order; restored tokens keep working.
 */
SELECT pg_catalog.pg_extension_config_dump('wf.workflow', '');
SELECT pg_catalog.pg_extension_config_dump('wf.execution', '');
SELECT pg_catalog.pg_extension_config_dump('wf.task', '');
SELECT pg_catalog.pg_extension_config_dump('wf.join_state', '');
SELECT pg_catalog.pg_extension_config_dump('wf.foreach_state', '');
SELECT pg_catalog.pg_extension_config_dump('wf.inbox', '');
SELECT pg_catalog.pg_extension_config_dump('wf.event', '');
SELECT pg_catalog.pg_extension_config_dump('wf.queue_grant', '');
SELECT pg_catalog.pg_extension_config_dump('wf.execution_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('wf.task_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('wf.inbox_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('wf.event_id_seq', '');

/* ---------------------------------------------------------------------
 * Functions. Those that write engine state are SECURITY DEFINER with a
 * pinned search_path; EXECUTE is revoked from PUBLIC and granted to roles.
 * --------------------------------------------------------------------- */

CREATE FUNCTION wf_define(definition jsonb) RETURNS integer
AS 'MODULE_PATHNAME', 'wf_define'
LANGUAGE C VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION wf_define(jsonb) IS 'Validate and store a workflow definition; returns its version';

CREATE FUNCTION wf_start(workflow text, input jsonb DEFAULT '{}', key text DEFAULT NULL) RETURNS bigint
AS 'MODULE_PATHNAME', 'wf_start'
LANGUAGE C VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION wf_start(text, jsonb, text) IS 'Start an execution of the newest version of a workflow (once per key); returns its id';

CREATE FUNCTION wf_cancel(execution_id bigint, reason text DEFAULT NULL) RETURNS text
AS 'MODULE_PATHNAME', 'wf_cancel'
LANGUAGE C VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION wf_cancel(bigint, text) IS 'Cancel an execution and its active tasks';

CREATE FUNCTION wf_pause(execution_id bigint) RETURNS text
AS 'MODULE_PATHNAME', 'wf_pause'
LANGUAGE C VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION wf_pause(bigint) IS 'Pause an execution: none of its tasks can be claimed until wf_resume';

CREATE FUNCTION wf_resume(execution_id bigint) RETURNS text
AS 'MODULE_PATHNAME', 'wf_resume'
LANGUAGE C VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION wf_resume(bigint) IS 'Resume a paused execution';

CREATE FUNCTION wf_rerun(execution_id bigint) RETURNS text
AS 'MODULE_PATHNAME', 'wf_rerun'
LANGUAGE C VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION wf_rerun(bigint) IS 'Run a failed or cancelled execution again from its failed and cancelled tasks, keeping what succeeded';

CREATE FUNCTION wf_claim(queue text DEFAULT 'default', max_tasks integer DEFAULT 1,
                         lease interval DEFAULT '5 minutes', runner text DEFAULT NULL)
RETURNS TABLE (task_id bigint, execution_id bigint, task text, action text,
               input jsonb, attempt integer, token text)
AS 'MODULE_PATHNAME', 'wf_claim'
LANGUAGE C VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
ROWS 1;
COMMENT ON FUNCTION wf_claim(text, integer, interval, text) IS 'Claim up to max_tasks ready tasks of a queue (SKIP LOCKED); each with a fresh token';

CREATE FUNCTION wf_task_complete(task_id bigint, status text, result jsonb DEFAULT NULL,
                                 token text DEFAULT NULL) RETURNS text
AS 'MODULE_PATHNAME', 'wf_task_complete'
LANGUAGE C VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION wf_task_complete(bigint, text, jsonb, text) IS 'Report a task''s outcome (success or error); returns the task''s state';

CREATE FUNCTION wf_task_complete_batch(task_ids bigint[], statuses text[],
                                       results jsonb[] DEFAULT NULL, tokens text[] DEFAULT NULL)
RETURNS TABLE (task_id bigint, state text)
AS 'MODULE_PATHNAME', 'wf_task_complete_batch'
LANGUAGE C VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION wf_task_complete_batch(bigint[], text[], jsonb[], text[]) IS 'Many wf_task_complete calls in one transaction (all or nothing)';

CREATE FUNCTION wf_task_complete_claim(task_ids bigint[], statuses text[], results jsonb[] DEFAULT NULL,
                                       tokens text[] DEFAULT NULL, queue text DEFAULT 'default',
                                       max_tasks integer DEFAULT 1, lease interval DEFAULT '5 minutes',
                                       runner text DEFAULT NULL)
RETURNS TABLE (task_id bigint, execution_id bigint, task text, action text,
               input jsonb, attempt integer, token text)
AS 'MODULE_PATHNAME', 'wf_task_complete_claim'
LANGUAGE C VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
ROWS 1;
COMMENT ON FUNCTION wf_task_complete_claim(bigint[], text[], jsonb[], text[], text, integer, interval, text) IS 'A runner''s round trip in one transaction: completions as wf_task_complete_batch, then a claim as wf_claim (its tasks returned)';

CREATE FUNCTION wf_task_delegate(task_id bigint, token text, timeout interval DEFAULT NULL) RETURNS text
AS 'MODULE_PATHNAME', 'wf_task_delegate'
LANGUAGE C VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION wf_task_delegate(bigint, text, interval) IS 'Hand a claimed task to a third party; returns the callback token for wf_task_complete';

CREATE FUNCTION wf_heartbeat(task_id bigint, token text, lease interval DEFAULT NULL) RETURNS timestamptz
AS 'MODULE_PATHNAME', 'wf_heartbeat'
LANGUAGE C VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION wf_heartbeat(bigint, text, interval) IS 'Extend a running task''s lease; returns the new lease end';

CREATE FUNCTION wf_tick() RETURNS integer
AS 'MODULE_PATHNAME', 'wf_tick'
LANGUAGE C VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION wf_tick() IS 'One watchdog pass (what the background worker runs): expire leases and deadlines, wake retries; returns how many tasks it acted on';

CREATE FUNCTION wf_purge(older_than interval, max_rows integer DEFAULT NULL) RETURNS bigint
AS 'MODULE_PATHNAME', 'wf_purge'
LANGUAGE C VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION wf_purge(interval, integer) IS 'Delete executions that finished more than older_than ago (at most max_rows), with their tasks, history and bookkeeping; returns how many';

CREATE FUNCTION wf_watchdog_status(OUT database text, OUT pid integer, OUT started_at timestamptz,
                                   OUT last_pass_at timestamptz, OUT next_wake_at timestamptz,
                                   OUT passes bigint, OUT tasks_handled bigint, OUT purged bigint,
                                   OUT errors bigint, OUT last_error text, OUT last_error_at timestamptz)
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'wf_watchdog_status'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION wf_watchdog_status() IS 'The pg_wf watchdogs of the cluster, one row per database served (from shared memory)';

/* ---------------------------------------------------------------------
 * Roles. Roles are cluster-wide, so they are created only if missing and
 * outlive DROP EXTENSION.
 *   wf_admin    defines and starts workflows, reads every table
 *   wf_runner   claims and completes tasks
 *   wf_callback completes tasks (third parties calling back)
 * --------------------------------------------------------------------- */
DO $$
DECLARE
    r text;
BEGIN
    FOREACH r IN ARRAY ARRAY['wf_admin', 'wf_runner', 'wf_callback'] LOOP
        IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = r) THEN
            EXECUTE pg_catalog.format('CREATE ROLE %I NOLOGIN', r);
        END IF;
    END LOOP;
END
$$;

-- Nobody but these roles may drive the engine.
REVOKE ALL ON FUNCTION wf_define(jsonb) FROM PUBLIC;
REVOKE ALL ON FUNCTION wf_start(text, jsonb, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION wf_cancel(bigint, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION wf_pause(bigint) FROM PUBLIC;
REVOKE ALL ON FUNCTION wf_resume(bigint) FROM PUBLIC;
REVOKE ALL ON FUNCTION wf_rerun(bigint) FROM PUBLIC;
REVOKE ALL ON FUNCTION wf_claim(text, integer, interval, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION wf_task_complete(bigint, text, jsonb, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION wf_task_complete_batch(bigint[], text[], jsonb[], text[]) FROM PUBLIC;
REVOKE ALL ON FUNCTION wf_task_complete_claim(bigint[], text[], jsonb[], text[], text, integer, interval, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION wf_task_delegate(bigint, text, interval) FROM PUBLIC;
REVOKE ALL ON FUNCTION wf_heartbeat(bigint, text, interval) FROM PUBLIC;
REVOKE ALL ON FUNCTION wf_tick() FROM PUBLIC;
REVOKE ALL ON FUNCTION wf_purge(interval, integer) FROM PUBLIC;
REVOKE ALL ON FUNCTION wf_watchdog_status() FROM PUBLIC;
REVOKE ALL ON FUNCTION wf.forbid_update() FROM PUBLIC;

GRANT EXECUTE ON FUNCTION wf_define(jsonb) TO wf_admin;
GRANT EXECUTE ON FUNCTION wf_start(text, jsonb, text) TO wf_admin;
GRANT EXECUTE ON FUNCTION wf_cancel(bigint, text) TO wf_admin;
GRANT EXECUTE ON FUNCTION wf_pause(bigint) TO wf_admin;
GRANT EXECUTE ON FUNCTION wf_resume(bigint) TO wf_admin;
GRANT EXECUTE ON FUNCTION wf_rerun(bigint) TO wf_admin;
GRANT EXECUTE ON FUNCTION wf_claim(text, integer, interval, text) TO wf_admin, wf_runner;
GRANT EXECUTE ON FUNCTION wf_task_complete(bigint, text, jsonb, text) TO wf_admin, wf_runner, wf_callback;
GRANT EXECUTE ON FUNCTION wf_task_complete_batch(bigint[], text[], jsonb[], text[]) TO wf_admin, wf_runner, wf_callback;
GRANT EXECUTE ON FUNCTION wf_task_complete_claim(bigint[], text[], jsonb[], text[], text, integer, interval, text) TO wf_admin, wf_runner;
GRANT EXECUTE ON FUNCTION wf_task_delegate(bigint, text, interval) TO wf_admin, wf_runner;
GRANT EXECUTE ON FUNCTION wf_heartbeat(bigint, text, interval) TO wf_admin, wf_runner;
GRANT EXECUTE ON FUNCTION wf_tick() TO wf_admin;
GRANT EXECUTE ON FUNCTION wf_purge(interval, integer) TO wf_admin;
GRANT EXECUTE ON FUNCTION wf_watchdog_status() TO wf_admin;

GRANT USAGE ON SCHEMA wf TO wf_admin;
GRANT SELECT ON ALL TABLES IN SCHEMA wf TO wf_admin;
GRANT INSERT, DELETE ON wf.queue_grant TO wf_admin;

/* ---------------------------------------------------------------------
 * Seeing the queues (README, "Monitoring"). Each part reads the rows it
 * counts through a partial index; none reads finished tasks.
 * --------------------------------------------------------------------- */

-- Per queue: what waits, what runs, what is overdue. A runner sees the
-- queues it may claim from (wf.queue_grant); wf_admin sees them all.
CREATE VIEW wf.queue_summary WITH (security_barrier) AS
SELECT g.queue, g.ready, g.claimable, g.running, g.delegated, g.oldest_ready_age, g.expired
FROM (
    SELECT q.queue,
           count(*) FILTER (WHERE q.state = 'ready') AS ready,
           count(*) FILTER (WHERE q.state = 'ready' AND q.due <= now()) AS claimable,
           count(*) FILTER (WHERE q.state = 'running') AS running,
           count(*) FILTER (WHERE q.state = 'delegated') AS delegated,
           now() - min(q.due) FILTER (WHERE q.state = 'ready' AND q.due <= now()) AS oldest_ready_age,
           count(*) FILTER (WHERE q.state <> 'ready' AND q.due < now()) AS expired
    FROM (SELECT t.queue, t.state, t.not_before AS due FROM wf.task t WHERE t.state = 'ready' AND NOT t.held
          UNION ALL
          SELECT t.queue, t.state, t.lease_until FROM wf.task t WHERE t.state = 'running'
          UNION ALL
          SELECT t.queue, t.state, t.deadline FROM wf.task t WHERE t.state = 'delegated') q
    GROUP BY q.queue
) g
WHERE pg_catalog.pg_has_role('wf_admin', 'USAGE')
   OR NOT EXISTS (SELECT 1 FROM wf.queue_grant qg WHERE qg.queue = g.queue)
   OR EXISTS (SELECT 1 FROM wf.queue_grant qg
              WHERE qg.queue = g.queue AND pg_catalog.pg_has_role(qg.role::oid, 'USAGE'));
COMMENT ON VIEW wf.queue_summary IS 'Per queue: ready tasks (claimable now: not waiting for a retry), running, delegated, the oldest claimable task''s wait, and running or delegated tasks whose lease or deadline passed';

-- Per execution: its tasks by state, how long it ran, its last event.
CREATE VIEW wf.execution_summary AS
SELECT e.id AS execution_id, e.workflow, e.version, e.state,
       e.created_at, e.finished_at,
       COALESCE(e.finished_at, now()) - e.created_at AS duration,
       COALESCE(t.ready, 0) AS ready, COALESCE(t.running, 0) AS running,
       COALESCE(t.delegated, 0) AS delegated, COALESCE(t.succeeded, 0) AS succeeded,
       COALESCE(t.failed, 0) AS failed, COALESCE(t.cancelled, 0) AS cancelled,
       COALESCE(t.skipped, 0) AS skipped,
       l.state AS last_event, l.task AS last_event_task, l.at AS last_event_at
FROM wf.execution e
LEFT JOIN LATERAL (
    SELECT count(*) FILTER (WHERE x.state = 'ready') AS ready,
           count(*) FILTER (WHERE x.state = 'running') AS running,
           count(*) FILTER (WHERE x.state = 'delegated') AS delegated,
           count(*) FILTER (WHERE x.state = 'succeeded') AS succeeded,
           count(*) FILTER (WHERE x.state = 'failed') AS failed,
           count(*) FILTER (WHERE x.state = 'cancelled') AS cancelled,
           count(*) FILTER (WHERE x.state = 'skipped') AS skipped
    FROM wf.task x WHERE x.execution_id = e.id) t ON true
LEFT JOIN LATERAL (
    SELECT h.state, h.task, h.at FROM wf.event h
    WHERE h.execution_id = e.id ORDER BY h.id DESC LIMIT 1) l ON true;
COMMENT ON VIEW wf.execution_summary IS 'Per execution: task rows by state (for_each items included), duration, last event; filter it by execution_id, workflow or state';

-- Work that should have moved and did not: a lease or deadline passed, an
-- execution's timeout passed, a sub-workflow's end not yet handed to its
-- parent, an execution running with nothing active. The watchdog handles
-- the first four within a pass; rows that stay (see "overdue") mean it is
-- not running, or cannot take a lock.
CREATE VIEW wf.stuck AS
SELECT 'lease_passed'::text AS kind, t.execution_id, t.id AS task_id, t.name AS task, t.queue,
       t.lease_until AS since, now() - t.lease_until AS overdue,
       pg_catalog.jsonb_build_object('runner', t.runner, 'attempt', t.attempt) AS detail
FROM wf.task t WHERE t.state = 'running' AND t.lease_until < now()
UNION ALL
SELECT 'deadline_passed', t.execution_id, t.id, t.name, t.queue, t.deadline, now() - t.deadline,
       pg_catalog.jsonb_build_object('attempt', t.attempt)
FROM wf.task t WHERE t.state = 'delegated' AND t.deadline < now()
UNION ALL
SELECT 'execution_timeout_passed', e.id, NULL, NULL, NULL, e.deadline, now() - e.deadline,
       pg_catalog.jsonb_build_object('state', e.state)
FROM wf.execution e WHERE e.state IN ('running', 'paused') AND e.deadline < now()
UNION ALL
SELECT 'subworkflow_end_waiting', t.execution_id, t.id, t.name, t.queue, i.created_at, now() - i.created_at,
       pg_catalog.jsonb_build_object('child_execution_id', i.child_execution_id, 'child_state', i.state)
FROM wf.inbox i JOIN wf.task t ON t.id = i.parent_task_id
UNION ALL
SELECT 'nothing_active', e.id, NULL, NULL, NULL, e.updated_at, now() - e.updated_at,
       pg_catalog.jsonb_build_object('state', e.state)
FROM wf.execution e WHERE e.state = 'running' AND e.active = 0;
COMMENT ON VIEW wf.stuck IS 'Work that should have moved: leases and deadlines passed, execution timeouts passed, sub-workflow ends not yet handed over, running executions with nothing active';

-- The watchdogs of the cluster, one row per database served.
CREATE VIEW wf.watchdog_status AS SELECT * FROM @extschema@.wf_watchdog_status();
COMMENT ON VIEW wf.watchdog_status IS 'The pg_wf watchdogs of the cluster: one row per database served, with its last pass, tasks handled, executions purged and last error';

GRANT SELECT ON wf.queue_summary, wf.execution_summary, wf.stuck, wf.watchdog_status TO wf_admin;
GRANT USAGE ON SCHEMA wf TO wf_runner;
GRANT SELECT ON wf.queue_summary TO wf_runner;

-- Pictures: wf_graph() returns Graphviz DOT (src/wf_dot.c).
CREATE FUNCTION wf_graph(workflow text) RETURNS text
AS 'MODULE_PATHNAME', 'wf_graph_workflow'
LANGUAGE C STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION wf_graph(text) IS 'Graphviz DOT of the newest version of a workflow: tasks, edges by kind with their conditions, joins';

CREATE FUNCTION wf_graph(execution_id bigint) RETURNS text
AS 'MODULE_PATHNAME', 'wf_graph_execution'
LANGUAGE C STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION wf_graph(bigint) IS 'Graphviz DOT of an execution: its workflow''s graph with each task coloured by state, attempts and durations';
REVOKE ALL ON FUNCTION wf_graph(text) FROM PUBLIC;
REVOKE ALL ON FUNCTION wf_graph(bigint) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION wf_graph(text) TO wf_admin;
GRANT EXECUTE ON FUNCTION wf_graph(bigint) TO wf_admin;

-- Cancelling one task (src/wf_lifecycle.c).
CREATE FUNCTION wf_task_cancel(task_id bigint, reason text DEFAULT NULL) RETURNS text
AS 'MODULE_PATHNAME', 'wf_task_cancel'
LANGUAGE C VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION wf_task_cancel(bigint, text) IS 'Fail a ready, running or delegated task at once, without retries (its on_error handles it); later reports for it get WF006';
REVOKE ALL ON FUNCTION wf_task_cancel(bigint, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION wf_task_cancel(bigint, text) TO wf_admin;

-- Events by correlation key (src/wf_wait.c, src/wf_deliver.c).
-- A task {"engine": "wait", "event": ..., "key": ...} waits here, one row
-- per event it lists, until wf_signal(event, key) reaches it.
CREATE TABLE wf.wait (
    execution_id bigint NOT NULL,   -- wf.execution (id), kept by the engine
    task_id      bigint NOT NULL,   -- the waiting task (delegated)
    event        text   NOT NULL,
    key          text   NOT NULL,
    PRIMARY KEY (execution_id, task_id, event)
);
CREATE INDEX wait_key_idx ON wf.wait (event, key);
COMMENT ON TABLE wf.wait IS 'Engine bookkeeping: tasks waiting for an event by correlation key (one row per event a wait lists)';

-- Events sent with a ttl, kept for waits that start before it passes. Not
-- execution data: in a distributed setup, distributed by (event, key).
CREATE TABLE wf.signal (
    id         bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    event      text        NOT NULL,
    key        text        NOT NULL,
    payload    jsonb       NOT NULL,
    at         timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL
);
CREATE INDEX signal_key_idx ON wf.signal (event, key, at);
CREATE INDEX signal_expiry_idx ON wf.signal (expires_at);
COMMENT ON TABLE wf.signal IS 'Events sent with a ttl: a wait on (event, key) that starts before expires_at completes at once with the earliest';

-- A signal whose waiting task's execution was busy: the watchdog delivers it.
CREATE TABLE wf.delivery (
    id           bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    execution_id bigint      NOT NULL,
    task_id      bigint      NOT NULL,
    result       jsonb       NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE wf.delivery IS 'Engine bookkeeping: signals for waiting tasks whose execution was busy, until the watchdog delivers them';

SELECT pg_catalog.pg_extension_config_dump('wf.wait', '');
SELECT pg_catalog.pg_extension_config_dump('wf.signal', '');
SELECT pg_catalog.pg_extension_config_dump('wf.delivery', '');
SELECT pg_catalog.pg_extension_config_dump('wf.signal_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('wf.delivery_id_seq', '');
GRANT SELECT ON wf.wait, wf.signal, wf.delivery TO wf_admin;

CREATE FUNCTION wf_signal(event text, key text, payload jsonb DEFAULT '{}', ttl interval DEFAULT NULL)
RETURNS integer
AS 'MODULE_PATHNAME', 'wf_signal'
LANGUAGE C VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION wf_signal(text, text, jsonb, interval) IS 'Complete every task waiting on (event, key) with the payload; with a ttl, keep the event for waits that start before it passes; returns how many tasks';
REVOKE ALL ON FUNCTION wf_signal(text, text, jsonb, interval) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION wf_signal(text, text, jsonb, interval) TO wf_admin;
