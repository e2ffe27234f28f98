-- Hostile and unlucky input: each case here once broke pg_wf (or could
-- have), and must now be refused clearly or handled within bounds. Add to
-- it with every new input pg_wf accepts.

-- The peak memory (VmHWM) of this backend, in MB.
CREATE FUNCTION backend_peak_mb() RETURNS bigint LANGUAGE sql AS $$
    SELECT (regexp_match(pg_read_file('/proc/' || pg_backend_pid() || '/status'),
                         'VmHWM:\s+(\d+) kB'))[1]::bigint / 1024
$$;

-- 1. A for_each's memory grew with items x context: every item's input was
--    evaluated in a copy of the whole context (which holds the item list),
--    and nothing was freed until the step ended (2,500 items: 346 MB;
--    100,000: killed by the OOM killer). Now bounded by what is written.
SELECT wf_define('{"name": "wide_each", "input": ["xs", "tag"], "tasks": {
    "each": {"action": "x", "for_each": "$.input.xs",
             "input": {"x": "$.item", "i": "$.index", "tag": "$.input.tag",
                       "next": "$.input.xs[$.index + 1]"}}}}');
\c
SELECT wf_start('wide_each', jsonb_build_object(
    'tag', 't',
    'xs', (SELECT jsonb_agg(repeat('x', 40) || i) FROM generate_series(0, 4999) i))) AS e \gset
SELECT backend_peak_mb() < 150 AS peak_memory_bounded;
-- every kind of expression still sees what it should: $.item and $.index
-- (item only), $.input.tag (the same for every item), $.input.xs[$.index + 1]
-- (both kinds)
SELECT count(*) AS items,
       count(*) FILTER (WHERE input->>'x' = repeat('x', 40) || item
                          AND (input->>'i')::int = item
                          AND input->>'tag' = 't'
                          AND input->>'next' IS NOT DISTINCT FROM
                              CASE WHEN item < 4999 THEN repeat('x', 40) || (item + 1) END) AS right
FROM wf.task WHERE execution_id = :e AND item IS NOT NULL;

-- 2. A cancel or statement_timeout in the middle of an expression was
--    caught like an expression error: the completion returned 'succeeded'
--    and committed the execution as failed (expression_error), which
--    wf_rerun then refused. Now the call aborts and changes nothing.
SELECT wf_define('{"name": "slow_publish", "tasks": {
    "a": {"action": "x", "queue": "slow",
          "publish": {"hits": "$.result.a[*] ? (@ == $.result.a[*])"}},
    "b": {"action": "x", "queue": "slow", "requires": ["a"]}}}');
SELECT wf_start('slow_publish') AS e \gset
SELECT task_id AS t, token AS tok FROM wf_claim('slow') \gset
SET statement_timeout = '300ms';
SELECT wf_task_complete(:t, 'success',
    (SELECT jsonb_build_object('a', jsonb_agg(g)) FROM generate_series(1, 20000) g), :'tok');
RESET statement_timeout;
SELECT e.state AS execution, t.state AS task FROM wf.execution e JOIN wf.task t ON t.execution_id = e.id
WHERE e.id = :e;
-- the runner can still report (a result that does not take long)
SELECT wf_task_complete(:t, 'success', '{"a": [1, 2]}', :'tok');
SELECT name, state FROM wf.task WHERE execution_id = :e ORDER BY name;

-- 3. A self-calling workflow with two sub-workflow tasks starts 2^16
--    executions in one statement; it ignored statement_timeout and
--    pg_cancel_backend (the cancel was caught as a child that could not
--    start). Now it is cancelled like any statement, and nothing is kept.
SELECT wf_define('{"name": "twice", "tasks": {
    "left": {"workflow": "twice"}, "right": {"workflow": "twice"}}}');
SELECT count(*) AS executions_before FROM wf.execution \gset
SET statement_timeout = '500ms';
\set VERBOSITY terse
SELECT wf_start('twice');
\set VERBOSITY default
RESET statement_timeout;
SELECT count(*) - :executions_before AS executions_kept FROM wf.execution;

-- 4. wf_rerun ran a for_each task again whose failure an on_error edge had
--    already handled: its edges then resolved a second time (23505 on
--    task_execution_id_name_item_key, in the watchdog too). A handled
--    failure now stands; only the task whose failure ended the execution,
--    and the cancelled ones, run again.
SELECT wf_define('{"name": "handled_each", "input": ["xs"], "tasks": {
    "each": {"action": "x", "queue": "he", "for_each": "$.input.xs", "on_error": ["handle"]},
    "handle": {"action": "x", "queue": "he"},
    "boom": {"action": "x", "queue": "he"}}}');
SELECT wf_start('handled_each', '{"xs": [1, 2]}') AS e \gset
SELECT count(*) AS claimed FROM claim('he');
-- item 0 fails: the for_each fails, and "handle" handles it
SELECT wf_task_complete(c.task_id, 'error', '{"bad": 1}', c.token)
FROM claimed c JOIN wf.task t ON t.id = c.task_id WHERE c.execution_id = :e AND t.item = 0;
-- "boom" fails, unhandled: the execution fails
SELECT done(:e, 'boom', '{"boom": 1}', 'error');
SELECT state FROM wf.execution WHERE id = :e;
SELECT wf_rerun(:e);
SELECT name, item, state FROM wf.task WHERE execution_id = :e ORDER BY name, item NULLS FIRST;
SELECT claim('he');
SELECT done(:e, 'boom'), done(:e, 'handle');
SELECT state FROM wf.execution WHERE id = :e;

-- 5. Durations that cannot be used were accepted: "1000000000 days" made
--    every wf_claim on the queue fail with 22008 while the task was first
--    in line. Every duration and lease is now at most ten years.
SELECT expect_error($$SELECT wf_define('{"name": "forever", "tasks": {"a": {"action": "x", "timeout": "1000000000 days"}}}')$$);
SELECT expect_error($$SELECT wf_define('{"name": "forever", "tasks": {"a": {"action": "x", "delegate_timeout": "3651 days"}}}')$$);
SELECT expect_error($$SELECT wf_define('{"name": "forever", "tasks": {"a": {"engine": "sleep", "for": "40000 days"}}}')$$);
SELECT expect_error($$SELECT wf_define('{"name": "forever", "timeout": "10000 days", "tasks": {"a": {"action": "x"}}}')$$);
SELECT expect_error($$SELECT wf_define('{"name": "forever", "tasks": {"a": {"action": "x", "retry": {"count": 1, "delay": "5000 days"}}}}')$$);
SELECT wf_define('{"name": "long", "tasks": {"a": {"action": "x", "queue": "long", "timeout": "3650 days"}}}');
SELECT expect_error($$SELECT * FROM wf_claim('long', 1, '200000 years')$$);
SELECT wf_start('long') AS e \gset
SELECT task_id AS t, token AS tok FROM wf_claim('long', 1, '1 minute') \gset
SELECT expect_error(format('SELECT wf_heartbeat(%s, %L, %L)', :t, :'tok', '11 years'));
SELECT expect_error(format('SELECT wf_task_delegate(%s, %L, %L)', :t, :'tok', '4000 days'));
SELECT wf_task_complete(:t, 'success', '{}', :'tok');

-- 6. A retry with delay 0 and backoff 100 computed 0 x infinity = NaN at
--    retry 156 and waited ten years. A zero delay stays zero.
SELECT wf_define('{"name": "zero_backoff", "tasks": {
    "a": {"action": "x", "queue": "zb", "retry": {"count": 200, "delay": "0s", "backoff": 100}}}}');
SELECT wf_start('zero_backoff') AS e \gset
DO $$
DECLARE r record;
BEGIN
    FOR i IN 1..160 LOOP
        SELECT * INTO r FROM wf_claim('zb', 1);
        EXIT WHEN r.task_id IS NULL;
        PERFORM wf_task_complete(r.task_id, 'error', '{}', r.token);
    END LOOP;
END $$;
SELECT state, attempt, not_before <= now() AS claimable FROM wf.task WHERE execution_id = :e;

-- 7. Unbounded sizes: a start key over ~2.7 kB failed with an undocumented
--    54000 (the index row); a runner name or a cancel reason had no limit.
SELECT expect_error(format('SELECT wf_start(%L, %L, %L)', 'long', '{}', repeat('k', 3000)));
SELECT expect_error(format('SELECT * FROM wf_claim(%L, 1, %L, %L)', 'long', '1 minute', repeat('r', 300)));
SELECT wf_start('long') AS e \gset
SELECT expect_error(format('SELECT wf_cancel(%s, %L)', :e, repeat('why', 1000)));
SELECT wf_cancel(:e, repeat('y', 1024));

-- 8. wf_rerun lost tasks: those made ready in the same step as an
--    unhandled failure were never inserted, so a rerun went on without
--    them. Here completing "a" readies "b" (a runner's task) and starts "c",
--    whose child workflow is not defined yet: "c" fails and so does the
--    execution. "b" is kept as cancelled and the rerun runs it.
SELECT wf_define('{"name": "early_fail", "tasks": {
    "a": {"action": "x", "queue": "ef", "on_success": ["b", "c"]},
    "b": {"action": "x", "queue": "ef", "input": {"from": "$.tasks.a.result.v"}},
    "c": {"workflow": "defined_later"}}}');
SELECT wf_start('early_fail') AS e \gset
SELECT claim('ef');
SELECT done(:e, 'a', '{"v": 7}');
SELECT state, error->>'type' AS why FROM wf.execution WHERE id = :e;
SELECT name, state, input FROM wf.task WHERE execution_id = :e ORDER BY name;
SELECT wf_define('{"name": "defined_later", "tasks": {"z": {"action": "x", "queue": "ef"}}}');
SELECT wf_rerun(:e);
SELECT name, state, input FROM wf.task WHERE execution_id = :e ORDER BY name;
SELECT claim('ef');
SELECT done(:e, 'b');
SELECT wf_task_complete(c.task_id, 'success', '{"z": true}', c.token) FROM claimed c
JOIN wf.execution x ON x.id = c.execution_id WHERE x.parent_task_id IS NOT NULL AND c.task = 'z';
SELECT wf_tick() > 0 AS parent_finished;
SELECT state FROM wf.execution WHERE id = :e;

-- 9. Rerunning a sub-workflow (after its parent was rerun) left an inbox
--    row that nobody could consume, and the worker woke ten times a
--    second forever. A sub-workflow is not rerun by itself, and an inbox
--    row whose parent task is gone is dropped.
SELECT wf_define('{"name": "kid_fails", "tasks": {"k": {"engine": "fail"}}}');
SELECT wf_define('{"name": "parent_of_failing", "tasks": {"p": {"workflow": "kid_fails"}}}');
SELECT wf_start('parent_of_failing') AS e \gset
SELECT wf_tick() > 0 AS parent_told;
SELECT id AS kid FROM wf.execution WHERE parent_task_id IN (SELECT id FROM wf.task WHERE execution_id = :e) \gset
SELECT (SELECT state FROM wf.execution WHERE id = :e) AS parent, (SELECT state FROM wf.execution WHERE id = :kid) AS kid;
SELECT expect_error(format('SELECT wf_rerun(%s)', :kid));
INSERT INTO wf.inbox (parent_task_id, child_execution_id, state) VALUES (-1, :kid, 'failed');
SELECT wf_tick() >= 1 AS tick;
SELECT count(*) AS inbox_rows FROM wf.inbox;

-- 10. One expired token allowed unlimited audit writes: each WF008 call
--     started a background worker and stored the whole late report (20
--     calls of 18 MB grew wf.event by 390 MB). A task now keeps at most 10
--     late reports, each at most 8 kB (else a truncated head).
SELECT wf_define('{"name": "late", "tasks": {"a": {"action": "x", "queue": "late"}}}');
SELECT wf_start('late') AS e \gset
SELECT task_id AS t, token AS tok FROM wf_claim('late', 1, '1 hour') \gset
UPDATE wf.task SET lease_until = now() - interval '1 second' WHERE id = :t;
SELECT wf_tick() > 0 AS expired;
SELECT set_config('wf.t', :'t', false) IS NOT NULL AS t, set_config('wf.tok', :'tok', false) IS NOT NULL AS tok;
SELECT expect_error(format('SELECT wf_task_complete(%s, %L, %L, %L)', :t, 'success',
    jsonb_build_object('big', repeat('x', 20000)), :'tok')) AS first_late_call;
DO $$
BEGIN
    FOR i IN 1..11 LOOP
        PERFORM expect_error(format('SELECT wf_task_complete(%s, %L, %L, %L)',
            current_setting('wf.t'), 'success', jsonb_build_object('big', repeat('x', 20000)),
            current_setting('wf.tok')));
    END LOOP;
END $$;
SELECT expect_error(format('SELECT wf_task_complete(%s, %L, %L, %L)', :t, 'success', '{}', :'tok')) AS twelfth;
SELECT count(*) AS kept, max(pg_column_size(detail)) < 9000 AS each_bounded,
       bool_and((detail->'late_report'->>'truncated')::boolean) AS truncated
FROM wf.event WHERE task_id = :t AND state = 'rejected';

-- 11. A runner role could claim from any queue and read its inputs (which
--     may hold secrets). A queue listed in wf.queue_grant is for the roles
--     listed there (and their members); other queues stay open.
CREATE ROLE regress_wf_payments_runner;
CREATE ROLE regress_wf_other_runner;
GRANT wf_runner TO regress_wf_payments_runner, regress_wf_other_runner;
SELECT wf_define('{"name": "pay", "tasks": {"charge": {"action": "x", "queue": "payments",
    "input": {"card": "4111-secret"}}, "log": {"action": "x", "queue": "open_q"}}}');
SELECT wf_start('pay') AS e \gset
INSERT INTO wf.queue_grant (queue, role) VALUES ('payments', 'regress_wf_payments_runner');
SET ROLE regress_wf_other_runner;
SELECT expect_error($$SELECT * FROM wf_claim('payments')$$);
SELECT task, input FROM wf_claim('open_q');
RESET ROLE;
SET ROLE regress_wf_payments_runner;
SELECT task, input FROM wf_claim('payments');
RESET ROLE;
DELETE FROM wf.queue_grant;
DROP ROLE regress_wf_payments_runner, regress_wf_other_runner;

-- 12. The expression scanner (which task rows does an expression read?)
--     missed a key spelled with an escape, $."\u0074asks".a, which then
--     evaluated to null; and refused $.tasks.keyvalue() as "unknown task".
SELECT wf_define('{"name": "spelled", "tasks": {
    "a": {"action": "x", "queue": "sp"},
    "b": {"action": "x", "queue": "sp", "requires": ["a"],
          "input": {"v": "$.\"\\u0074asks\".a.result.v", "names": "$.tasks.keyvalue().key"}}}}');
SELECT wf_start('spelled') AS e \gset
SELECT claim('sp');
SELECT done(:e, 'a', '{"v": 42}');
SELECT task, input FROM wf_claim('sp');

-- 13. A for_each whose items' results add up to more than jsonb holds
--     (256 MB) made its last item's completion fail with 54000 every time,
--     until the lease passed and the execution failed as lease_expired,
--     hiding the cause. Now the for_each task fails, saying why.
SELECT wf_define('{"name": "huge_results", "tasks": {
    "each": {"action": "x", "queue": "huge", "for_each": "$.input.xs"}}}');
SELECT wf_start('huge_results', '{"xs": [1, 2, 3]}') AS e \gset
SELECT count(*) AS claimed FROM claim('huge');
SELECT wf_task_complete(c.task_id, 'success', jsonb_build_object('s', repeat('x', 100000000)), c.token)
FROM claimed c WHERE c.execution_id = :e ORDER BY c.task_id;
SELECT state, error->'error'->>'type' AS why FROM wf.execution WHERE id = :e;
SELECT state, error->>'type' AS type FROM wf.task WHERE execution_id = :e AND item IS NULL;

-- 14. Ready tasks of paused executions slowed every claim: the claim read
--     each of them (19,999: 40 ms per claim) to find it paused. They are
--     now held out of the claim's index, so a claim reads only what it
--     takes; resuming releases them.
SELECT wf_define('{"name": "many_items", "tasks": {"each": {"action": "x", "queue": "pq",
    "for_each": "$.input.xs"}}}');
SELECT wf_define('{"name": "one_in_pq", "tasks": {"t": {"action": "x", "queue": "pq"}}}');
SELECT wf_start('many_items', jsonb_build_object('xs', (SELECT jsonb_agg(g) FROM generate_series(1, 3000) g))) AS paused_e \gset
SELECT wf_pause(:paused_e);
SELECT wf_start('one_in_pq') AS e \gset
SELECT wf_start('one_in_pq') AS e2 \gset
SELECT wf_start('one_in_pq') AS e3 \gset
ANALYZE wf.task;
-- (the first claim after the pause meets the index entries the pause left
-- behind, once: it marks them dead for everyone after it)
SELECT claim_cost('pq') > 0 AS first_claim;
SELECT claim_cost('pq') < 100 AS claim_reads_little, claim_cost('pq') < 100 AS again;
SELECT state, held, count(*) FROM wf.task WHERE execution_id IN (:paused_e, :e, :e2, :e3)
GROUP BY state, held ORDER BY state, held;
SELECT wf_resume(:paused_e);
SELECT count(*) AS claimable_again FROM wf_claim('pq', 1000);

-- 15. wf_purge's arguments: refused with the reason, nothing deleted; an
--     interval longer than history purges nothing (not "timestamp out of
--     range"). Its behaviour: sql/operations.sql.
SELECT count(*) AS executions_before FROM wf.execution \gset
SELECT expect_error($$SELECT wf_purge(NULL)$$);
SELECT expect_error($$SELECT wf_purge('-1 day')$$);
SELECT expect_error($$SELECT wf_purge('1 day -1 second')$$);
SELECT expect_error($$SELECT wf_purge('-1 month 40 days')$$);
SELECT expect_error($$SELECT wf_purge('1 day', 0)$$);
SELECT expect_error($$SELECT wf_purge('1 day', -5)$$);
SELECT wf_purge('1000000 years') AS purged, wf_purge('178000000 years') AS purged_max;
SELECT count(*) = :executions_before AS nothing_deleted FROM wf.execution;

-- 16. A signal for a key that thousands of executions wait on: one call
--     completes them all (each a step of its own, in a memory context reset
--     per wait); a signal for another key reads none of their rows.
SELECT wf_define('{"name": "h_wait", "tasks": {"w": {"engine": "wait", "event": "h.go", "key": "shared"}}}');
SELECT count(wf_start('h_wait')) AS waiting FROM generate_series(1, 2000);
SELECT wf_signal('h.go', 'other') AS nobody;
-- (rows of wf.wait read, in the signal's transaction: a few per wait, not
-- all of them per wait — each delivery once scanned the table)
BEGIN;
SELECT wf_signal('h.go', 'shared', jsonb_build_object('x', repeat('p', 1000))) AS completed;
SELECT pg_stat_get_xact_tuples_returned('wf.wait'::regclass)
       + pg_stat_get_xact_tuples_fetched('wf.wait'::regclass) < 10 * 2000 AS wait_rows_linear;
COMMIT;
SELECT state, count(*) FROM wf.execution WHERE workflow = 'h_wait' GROUP BY state;
SELECT count(*) AS waits_left FROM wf.wait w JOIN wf.execution e ON e.id = w.execution_id
WHERE e.workflow = 'h_wait';

-- 17. Keys are any text: quotes, separators, the unit separator the key
--     lock hashes with, a thousand bytes: each finds only its own wait.
SELECT wf_define('{"name": "h_keys", "input": ["k"], "tasks": {"w": {"engine": "wait", "event": "h.key", "key": "$.input.k"}}}');
SELECT count(wf_start('h_keys', jsonb_build_object('k', k))) AS started FROM (VALUES
    ('a' || chr(31) || 'b'), ('a'), ('"quoted" \\ back'), (repeat('x', 1024)), ('')) v(k);
SELECT wf_signal('h.key', 'a' || chr(31) || 'b') AS one,
       wf_signal('h.key', '') AS empty_key,
       wf_signal('h.key', repeat('x', 1024)) AS long_key,
       wf_signal('h.key', 'a') AS plain;
SELECT input->>'k' = '"quoted" \\ back' AS still_waiting FROM wf.execution
WHERE workflow = 'h_keys' AND state = 'running';

-- 18. A repeat that never stops is bounded by max (default 1000): each
--     iteration is a step of its own, and the limit fails the task.
SELECT wf_define('{"name": "h_forever", "task_defaults": {"queue": "h_rep"}, "tasks": {
    "loop": {"action": "x", "repeat": {"while": "true", "max": 50}}}}');
SELECT wf_start('h_forever') AS exec \gset
DO $$
BEGIN
    FOR i IN 1 .. 60 LOOP
        PERFORM wf_task_complete(task_id, 'success', '{}', token) FROM wf_claim('h_rep');
    END LOOP;
END
$$;
SELECT state, iteration, error->>'type' AS type FROM wf.task WHERE execution_id = :exec;
