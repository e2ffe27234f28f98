-- Operations: retention (wf_purge) and the monitoring views.

-- Executions in every state, in their own queue. Each is marked in
-- ops_exec with what the purge must do to it.
CREATE TABLE ops_exec (label text PRIMARY KEY, id bigint, purge boolean);
SELECT wf_define('{"name": "ops_pair", "tasks": {
    "a": {"action": "x", "queue": "ops"},
    "b": {"action": "x", "queue": "ops"},
    "j": {"action": "x", "queue": "ops", "requires": ["a", "b"]}}}');
SELECT wf_define('{"name": "ops_each", "tasks": {
    "each": {"action": "x", "queue": "ops", "for_each": "$.input.xs"}}}');
SELECT wf_define('{"name": "ops_child", "tasks": {"c": {"action": "x", "queue": "ops_child"}}}');
SELECT wf_define('{"name": "ops_parent", "tasks": {"call": {"workflow": "ops_child"}}}');

-- succeeded (a, b, j), failed (a fails; j never runs), cancelled (with a
-- join half-filled and a for_each half done), running, paused
INSERT INTO ops_exec VALUES ('succeeded', wf_start('ops_pair', '{}', 'ops-key'), true);
SELECT claim('ops');
SELECT done((SELECT id FROM ops_exec WHERE label = 'succeeded'), 'a'),
       done((SELECT id FROM ops_exec WHERE label = 'succeeded'), 'b');
SELECT claim('ops');
SELECT done((SELECT id FROM ops_exec WHERE label = 'succeeded'), 'j');
INSERT INTO ops_exec VALUES ('failed', wf_start('ops_pair'), true);
SELECT claim('ops');
SELECT done((SELECT id FROM ops_exec WHERE label = 'failed'), 'a', '{}', 'error');
INSERT INTO ops_exec VALUES ('cancelled', wf_start('ops_pair'), true);
SELECT claim('ops');
SELECT done((SELECT id FROM ops_exec WHERE label = 'cancelled'), 'a');
SELECT wf_cancel((SELECT id FROM ops_exec WHERE label = 'cancelled'));
INSERT INTO ops_exec VALUES ('cancelled_each', wf_start('ops_each', '{"xs": [1, 2, 3]}'), true);
SELECT count(*) FROM claim('ops');
SELECT wf_task_complete(c.task_id, 'success', '{}', c.token) FROM claimed c
WHERE c.execution_id = (SELECT id FROM ops_exec WHERE label = 'cancelled_each') ORDER BY c.task_id LIMIT 1;
SELECT wf_cancel((SELECT id FROM ops_exec WHERE label = 'cancelled_each'));
INSERT INTO ops_exec VALUES ('running', wf_start('ops_pair'), false);
INSERT INTO ops_exec VALUES ('paused', wf_start('ops_pair'), false);
SELECT wf_pause((SELECT id FROM ops_exec WHERE label = 'paused'));
-- a running parent whose child succeeded: the child is kept for it
INSERT INTO ops_exec VALUES ('running_parent', wf_start('ops_parent'), false);
INSERT INTO ops_exec SELECT 'child_of_running', id, false FROM wf.execution
WHERE parent_task_id = (SELECT t.id FROM wf.task t JOIN ops_exec o ON o.id = t.execution_id
                        WHERE o.label = 'running_parent');
SELECT claim('ops_child');
SELECT done((SELECT id FROM ops_exec WHERE label = 'child_of_running'), 'c');
-- its end waits in wf.inbox for the watchdog (none runs in this database)
SELECT count(*) AS inbox FROM wf.inbox WHERE child_execution_id = (SELECT id FROM ops_exec WHERE label = 'child_of_running');
SELECT o.label, e.state FROM ops_exec o JOIN wf.execution e ON e.id = o.id ORDER BY o.label;
-- bookkeeping rows the purge must take with the executions (a failed or
-- cancelled execution keeps none since its end keeps the joins in its
-- history; one that ended before did: made here by hand)
INSERT INTO wf.join_state (execution_id, task, arrived, fired, decided)
SELECT id, 'j', 1, 1, false FROM ops_exec WHERE label = 'cancelled';
SELECT o.label, (SELECT count(*) FROM wf.join_state j WHERE j.execution_id = o.id) AS joins,
       (SELECT count(*) FROM wf.foreach_state f WHERE f.execution_id = o.id) AS foreach
FROM ops_exec o ORDER BY o.label;

-- (wf_purge's bad arguments: sql/hostile.sql, case 15)
-- nothing of ours finished a day ago yet
SELECT wf_purge('1 day') AS purged;

-- Make them old: every execution of ours finished two days ago (a
-- running one has no finished_at, and is not finished whatever it says).
UPDATE wf.execution SET finished_at = now() - interval '2 days'
WHERE id IN (SELECT id FROM ops_exec);
SELECT count(*) AS rows_before FROM wf.task t JOIN ops_exec o ON o.id = t.execution_id;
-- at most two, oldest first; then the rest
SELECT wf_purge('1 day', 2) AS purged;
SELECT wf_purge('1 day') AS purged;
SELECT wf_purge('1 day') AS purged_again;
-- what stays: running, paused, the running parent and its child
SELECT o.label, o.purge, e.state IS NOT NULL AS kept,
       (SELECT count(*) FROM wf.task t WHERE t.execution_id = o.id) AS tasks,
       (SELECT count(*) FROM wf.event h WHERE h.execution_id = o.id) AS events,
       (SELECT count(*) FROM wf.join_state j WHERE j.execution_id = o.id) AS joins,
       (SELECT count(*) FROM wf.foreach_state f WHERE f.execution_id = o.id) AS foreach
FROM ops_exec o LEFT JOIN wf.execution e ON e.id = o.id ORDER BY o.label;
SELECT count(*) AS inbox_kept FROM wf.inbox WHERE child_execution_id = (SELECT id FROM ops_exec WHERE label = 'child_of_running');
-- an idempotency key is forgotten with its execution
SELECT wf_start('ops_pair', '{}', 'ops-key') <> (SELECT id FROM ops_exec WHERE label = 'succeeded') AS new_execution;
SELECT wf_cancel(id) FROM wf.execution WHERE workflow = 'ops_pair' AND key = 'ops-key';

-- Once its parent ended, the child goes too (with the inbox row).
SELECT wf_cancel((SELECT id FROM ops_exec WHERE label = 'running_parent'));
UPDATE wf.execution SET finished_at = now() - interval '2 days'
WHERE id IN (SELECT id FROM ops_exec WHERE label IN ('running_parent', 'child_of_running'));
SELECT wf_purge('1 day') AS purged;
SELECT count(*) AS inbox_left FROM wf.inbox WHERE child_execution_id = (SELECT id FROM ops_exec WHERE label = 'child_of_running');
SELECT count(*) AS left_of_pair FROM wf.execution e JOIN ops_exec o ON o.id = e.id
WHERE o.label IN ('running_parent', 'child_of_running');

-- A rerun made the execution running again: it is no longer purgeable.
INSERT INTO ops_exec VALUES ('rerun', wf_start('ops_pair'), false);
SELECT claim('ops');
SELECT done((SELECT id FROM ops_exec WHERE label = 'rerun'), 'a', '{}', 'error');
SELECT wf_rerun((SELECT id FROM ops_exec WHERE label = 'rerun'));
UPDATE wf.execution SET finished_at = now() - interval '2 days' WHERE id = (SELECT id FROM ops_exec WHERE label = 'rerun');
SELECT wf_purge('1 day') AS purged;

-- Only wf_admin may purge.
CREATE ROLE regress_wf_ops_runner IN ROLE wf_runner;
CREATE ROLE regress_wf_ops_admin IN ROLE wf_admin;
SET ROLE regress_wf_ops_runner;
SELECT expect_error($$SELECT wf_purge('1 day')$$);
RESET ROLE;

-- ---------------------------------------------------------------------
-- The views

-- wf.queue_summary: a queue with ready tasks (one waiting for a retry),
-- a running task whose lease passed, a delegated one whose deadline passed.
SELECT wf_define('{"name": "ops_q", "tasks": {
    "a": {"action": "x", "queue": "opsq"}, "b": {"action": "x", "queue": "opsq"},
    "c": {"action": "x", "queue": "opsq"}, "d": {"action": "x", "queue": "opsq", "retry": {"count": 1, "delay": "1 hour"}},
    "e": {"action": "x", "queue": "opsq"}}}');
SELECT wf_start('ops_q') AS q \gset
SELECT claim('opsq', 4);
SELECT done(:q, 'd', '{}', 'error');
SELECT wf_task_delegate(c.task_id, c.token, '1 hour') IS NOT NULL AS delegated
FROM claimed c WHERE c.execution_id = :q AND c.task = 'c';
UPDATE wf.task SET lease_until = now() - interval '1 minute' WHERE execution_id = :q AND name = 'a';
UPDATE wf.task SET deadline = now() - interval '2 minutes' WHERE execution_id = :q AND name = 'c';
SELECT queue, ready, claimable, running, delegated, oldest_ready_age > '0' AS waited, expired
FROM wf.queue_summary WHERE queue = 'opsq';

-- wf.stuck: the same two, overdue; nothing else of ours
SELECT kind, task, queue, overdue > '0' AS overdue, detail
FROM wf.stuck WHERE execution_id = :q ORDER BY kind;
-- an execution running with nothing active (rows edited by hand)
INSERT INTO ops_exec VALUES ('hand_edited', wf_start('ops_child'), false);
UPDATE wf.task SET state = 'skipped' WHERE execution_id = (SELECT id FROM ops_exec WHERE label = 'hand_edited');
UPDATE wf.execution SET active = 0 WHERE id = (SELECT id FROM ops_exec WHERE label = 'hand_edited');
SELECT kind, detail FROM wf.stuck WHERE execution_id = (SELECT id FROM ops_exec WHERE label = 'hand_edited');

-- wf.execution_summary
SELECT workflow, state, ready, running, delegated, succeeded, failed, last_event, last_event_task,
       duration > '0' AS has_duration
FROM wf.execution_summary WHERE execution_id = :q;

-- A runner sees the queues it may claim from; wf_admin sees every queue.
INSERT INTO wf.queue_grant VALUES ('opsq', 'regress_wf_ops_admin');
SET ROLE regress_wf_ops_runner;
SELECT count(*) AS opsq_rows FROM wf.queue_summary WHERE queue = 'opsq';
SELECT count(*) > 0 AS sees_open_queues FROM wf.queue_summary WHERE queue = 'ops';
SELECT expect_error($$SELECT * FROM wf.stuck$$);
SELECT expect_error($$SELECT * FROM wf.execution_summary$$);
SELECT expect_error($$SELECT * FROM wf.watchdog_status$$);
RESET ROLE;
DELETE FROM wf.queue_grant WHERE queue = 'opsq';
INSERT INTO wf.queue_grant VALUES ('opsq', 'regress_wf_ops_runner');
SET ROLE regress_wf_ops_runner;
SELECT count(*) AS opsq_rows FROM wf.queue_summary WHERE queue = 'opsq';
RESET ROLE;
SET ROLE regress_wf_ops_admin;
SELECT queue, ready FROM wf.queue_summary WHERE queue = 'opsq';
-- (the test cluster serves only its own first database: no watchdog here)
SELECT count(*) AS watchdog_here FROM wf.watchdog_status WHERE database = current_database();
RESET ROLE;
DELETE FROM wf.queue_grant WHERE queue = 'opsq';

-- The views read active tasks through the partial indexes, never the
-- finished ones: a plan that scans all of wf.task would say "Seq Scan".
CREATE FUNCTION plan_of(q text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    line text;
    plan text := '';
BEGIN
    FOR line IN EXECUTE 'EXPLAIN (COSTS OFF) ' || q LOOP
        plan := plan || line || E'\n';
    END LOOP;
    RETURN plan;
END
$$;
SET enable_seqscan = off;
SELECT plan_of('SELECT * FROM wf.queue_summary') NOT LIKE '%Seq Scan on task%' AS no_task_scan;
RESET enable_seqscan;
DROP ROLE regress_wf_ops_runner;
DROP ROLE regress_wf_ops_admin;
