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
