-- Retries: "count" retries after the first attempt; each failed attempt goes
-- back to ready with not_before = now() + delay * backoff^(n-1), capped at
-- max_delay. Every attempt gets a new token; every attempt's error stays in
-- the history.
SELECT wf_define('{"name": "flaky", "tasks": {
    "a": {"action": "x", "retry": {"count": 3, "delay": "100ms", "backoff": 2, "max_delay": "300ms"}},
    "b": {"action": "x", "requires": ["a"]}}}');
SELECT wf_start('flaky') AS exec \gset
SELECT claim();
SELECT token AS tok1 FROM claimed WHERE execution_id = :exec AND task = 'a' \gset

-- Attempt 1 fails: back to ready after 100ms (times are exact within one transaction).
BEGIN;
SELECT done(:exec, 'a', '{"message": "boom 1"}', 'error');
SELECT state, attempt, not_before - now() AS delay, wake_at = not_before AS wakes,
       token_hash IS NULL AS no_token, error
FROM wf.task WHERE execution_id = :exec AND name = 'a';
COMMIT;
SELECT state, active FROM wf.execution WHERE id = :exec;
-- Not claimable before not_before; the first attempt's token is stale.
SELECT count(*) AS claimable_now FROM wf_claim('default', 10) WHERE execution_id = :exec;
SELECT expect_error(format('SELECT wf_task_complete(%s, %L, NULL, %L)',
    (SELECT id FROM wf.task WHERE execution_id = :exec AND name = 'a'), 'success', :'tok1'));
SELECT pg_sleep(0.15);
-- The watchdog wakes the queue once not_before has come.
SELECT wf_tick() AS acted;
SELECT wake_at IS NULL AS woken FROM wf.task WHERE execution_id = :exec AND name = 'a';
SELECT claim();
SELECT attempt, token <> :'tok1' AS new_token FROM claimed WHERE execution_id = :exec AND task = 'a' ORDER BY attempt;

-- Attempt 2 fails: 200ms. Attempt 3 fails: 400ms, capped at 300ms.
BEGIN;
SELECT done(:exec, 'a', '{"message": "boom 2"}', 'error');
SELECT attempt, not_before - now() AS delay FROM wf.task WHERE execution_id = :exec AND name = 'a';
COMMIT;
SELECT pg_sleep(0.25);
SELECT claim();
BEGIN;
SELECT done(:exec, 'a', '{"message": "boom 3"}', 'error');
SELECT attempt, not_before - now() AS delay FROM wf.task WHERE execution_id = :exec AND name = 'a';
COMMIT;
SELECT pg_sleep(0.35);
SELECT claim();
-- Attempt 4 (the third retry) succeeds; b follows.
SELECT done(:exec, 'a', '{"ok": true}');
SELECT name, state, attempt, result, error FROM wf.task WHERE execution_id = :exec ORDER BY id;
SELECT task, state, detail - 'not_before' AS detail FROM wf.event
WHERE execution_id = :exec AND task = 'a' ORDER BY id;

SELECT claim();
SELECT done(:exec, 'b');

-- Out of retries: the last error fails the execution.
SELECT wf_define('{"name": "doomed", "tasks": {"a": {"action": "x", "retry": {"count": 1}}}}');
SELECT wf_start('doomed') AS exec \gset
SELECT claim();
BEGIN;
SELECT done(:exec, 'a', '{"n": 1}', 'error');
SELECT not_before = now() AS immediately FROM wf.task WHERE execution_id = :exec;
COMMIT;
SELECT claim();
SELECT done(:exec, 'a', '{"n": 2}', 'error');
SELECT state, error - 'task_id' AS error FROM wf.execution WHERE id = :exec;
SELECT task, state, detail->'error' AS error FROM wf.event
WHERE execution_id = :exec AND task = 'a' AND state IN ('ready', 'failed') ORDER BY id;

-- Jitter keeps the delay between half and all of it.
SELECT wf_define('{"name": "jittery", "tasks": {"a": {"action": "x",
    "retry": {"count": 1, "delay": "10s", "jitter": true}}}}');
SELECT wf_start('jittery') AS exec \gset
SELECT claim();
BEGIN;
SELECT done(:exec, 'a', '{}', 'error');
SELECT not_before - now() BETWEEN '5s' AND '10s' AS jittered FROM wf.task WHERE execution_id = :exec;
COMMIT;

-- Policies are validated at wf_define, with the JSON path.
SELECT expect_error($$SELECT wf_define('{"name": "x", "tasks": {"a": {"action": "x", "retry": 3}}}')$$);
SELECT expect_error($$SELECT wf_define('{"name": "x", "tasks": {"a": {"action": "x", "retry": {}}}}')$$);
SELECT expect_error($$SELECT wf_define('{"name": "x", "tasks": {"a": {"action": "x", "retry": {"count": -1}}}}')$$);
SELECT expect_error($$SELECT wf_define('{"name": "x", "tasks": {"a": {"action": "x", "retry": {"count": 1.5}}}}')$$);
SELECT expect_error($$SELECT wf_define('{"name": "x", "tasks": {"a": {"action": "x", "retry": {"count": 1, "delay": "soon"}}}}')$$);
SELECT expect_error($$SELECT wf_define('{"name": "x", "tasks": {"a": {"action": "x", "retry": {"count": 1, "delay": "-1s"}}}}')$$);
SELECT expect_error($$SELECT wf_define('{"name": "x", "tasks": {"a": {"action": "x", "retry": {"count": 1, "delay": 5}}}}')$$);
SELECT expect_error($$SELECT wf_define('{"name": "x", "tasks": {"a": {"action": "x", "retry": {"count": 1, "backoff": 0.5}}}}')$$);
SELECT expect_error($$SELECT wf_define('{"name": "x", "tasks": {"a": {"action": "x", "retry": {"count": 1, "max_delay": "0s"}}}}')$$);
SELECT expect_error($$SELECT wf_define('{"name": "x", "tasks": {"a": {"action": "x", "retry": {"count": 1, "jitter": "yes"}}}}')$$);
SELECT expect_error($$SELECT wf_define('{"name": "x", "tasks": {"a": {"action": "x", "retry": {"count": 1, "tries": 2}}}}')$$);
SELECT expect_error($$SELECT wf_define('{"name": "x", "tasks": {"a": {"action": "x", "timeout": "0s"}}}')$$);
SELECT expect_error($$SELECT wf_define('{"name": "x", "tasks": {"a": {"action": "x", "timeout": "1 month"}}}')$$);
SELECT expect_error($$SELECT wf_define('{"name": "x", "tasks": {"a": {"action": "x", "delegate_timeout": "later"}}}')$$);
SELECT expect_error($$SELECT wf_define('{"name": "x", "tasks": {"a": {"action": "x", "delegate_timeout": 60}}}')$$);
