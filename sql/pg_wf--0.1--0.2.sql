/* pg_wf 0.1 -> 0.2 */
\echo Use "ALTER EXTENSION pg_wf UPDATE TO '0.2'" to load this file. \quit

-- Every table has a comment; "active" means ready, running or delegated.
COMMENT ON TABLE wf.execution IS 'Workflow executions: one row per run of a workflow version';
COMMENT ON COLUMN wf.execution.active IS 'Engine bookkeeping: how many of this execution''s tasks are active (ready, running or delegated)';
COMMENT ON TABLE wf.join_state IS 'Engine bookkeeping: joins still waiting for some of their inbound edges (edges resolved, edges fired, decided)';
COMMENT ON TABLE wf.foreach_state IS 'Engine bookkeeping: for_each tasks whose items are running, and how many items succeeded';
COMMENT ON TABLE wf.inbox IS 'Sub-workflows that ended, waiting for the watchdog to finish their parent''s task';

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
SELECT pg_catalog.pg_extension_config_dump('wf.execution_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('wf.task_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('wf.inbox_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('wf.event_id_seq', '');

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
SELECT pg_catalog.pg_extension_config_dump('wf.queue_grant', '');
GRANT SELECT ON wf.queue_grant TO wf_admin;
GRANT INSERT, DELETE ON wf.queue_grant TO wf_admin;

-- Ready tasks of paused executions are held out of the claim's index: with
-- many of them first in line, every claim read them all.
ALTER TABLE wf.task ADD COLUMN held boolean NOT NULL DEFAULT false;
COMMENT ON COLUMN wf.task.held IS 'A ready task of a paused execution: not claimable, and out of the claim''s index, until wf_resume';
UPDATE wf.task t SET held = true
WHERE t.state = 'ready' AND EXISTS (SELECT 1 FROM wf.execution e WHERE e.id = t.execution_id AND e.state = 'paused');
DROP INDEX wf.task_ready_idx;
CREATE INDEX task_ready_idx ON wf.task (queue, not_before, id) WHERE state = 'ready' AND NOT held;

-- Retention (wf_purge, pg_wf.retention): finished executions, oldest first.
CREATE INDEX execution_finished_idx ON wf.execution (finished_at)
    WHERE state IN ('succeeded', 'failed', 'cancelled');
-- Every delegated task, not only those with a deadline (wf.queue_summary).
DROP INDEX wf.task_deadline_idx;
CREATE INDEX task_deadline_idx ON wf.task (deadline) WHERE state = 'delegated';

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

REVOKE ALL ON FUNCTION wf_purge(interval, integer) FROM PUBLIC;
REVOKE ALL ON FUNCTION wf_watchdog_status() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION wf_purge(interval, integer) TO wf_admin;
GRANT EXECUTE ON FUNCTION wf_watchdog_status() TO wf_admin;

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

-- A runner's round trip in one transaction: complete, then claim.
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
REVOKE ALL ON FUNCTION wf_task_complete_claim(bigint[], text[], jsonb[], text[], text, integer, interval, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION wf_task_complete_claim(bigint[], text[], jsonb[], text[], text, integer, interval, text) TO wf_admin, wf_runner;

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

-- Loops without cycles: a task with "repeat" runs again while its result
-- says so; each iteration has its own attempts.
ALTER TABLE wf.task ADD COLUMN iteration integer NOT NULL DEFAULT 0;
COMMENT ON COLUMN wf.task.iteration IS 'A repeating task: which iteration this is (0 for the first run); each has its own attempts';

-- The history's two indexes become one: its primary key leads with
-- execution_id (every read of wf.event is by execution, and a distributed
-- setup needs the distribution column in the key), so each history row
-- costs one index entry instead of two (three rows per task). Rebuilds the
-- index: on a large history, the update takes a while.
ALTER TABLE wf.event DROP CONSTRAINT event_pkey;
DROP INDEX wf.event_execution_idx;
ALTER TABLE wf.event ADD PRIMARY KEY (execution_id, id);
