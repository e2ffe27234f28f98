-- A linear workflow driven end to end: a -> b -> c.
SELECT wf_define('{"name": "linear", "tasks": {
    "a": {"action": "step"},
    "b": {"action": "step", "requires": ["a"]},
    "c": {"action": "step", "requires": ["b"]}}}') AS version;

SELECT wf_start('linear') AS exec \gset
SELECT workflow, version, state, input, active FROM wf.execution WHERE id = :exec;

-- Only a is ready; another queue has nothing.
SELECT * FROM tasks(:exec);
SELECT count(*) FROM wf_claim('other');

-- Claiming hands out a 32-hex-digit token and marks the task running.
SELECT claim();
SELECT task, action, attempt, input, token ~ '^[0-9a-f]{32}$' AS token_ok FROM claimed WHERE execution_id = :exec;
SELECT name, state, attempt, lease_until > now() AS leased, token_hash IS NOT NULL AS hashed
FROM wf.task WHERE execution_id = :exec;
-- The token itself is not stored.
SELECT count(*) FROM wf.task t JOIN claimed c ON c.task_id = t.id
WHERE position(convert_to(c.token, 'UTF8') IN t.token_hash) > 0;

-- Nothing else is claimable while a runs.
SELECT claim();

-- A new session has no compiled graph cached: it loads it while completing.
\c
SELECT done(:exec, 'a', '{"n": 1}');
SELECT claim();
SELECT done(:exec, 'b', '{"n": 2}');
SELECT state FROM wf.execution WHERE id = :exec;
SELECT claim();
SELECT done(:exec, 'c', '{"n": 3}');

SELECT state, active, output, error, finished_at IS NOT NULL AS finished FROM wf.execution WHERE id = :exec;
SELECT * FROM tasks(:exec);
SELECT * FROM history(:exec);

-- A runner name and a batch: three executions, claimed in one call.
SELECT count(wf_start('linear')) FROM generate_series(1, 3);
SELECT task FROM wf_claim('default', 10, '1 minute', 'runner-7');
SELECT name, runner, lease_until BETWEEN now() + '59 seconds' AND now() + '61 seconds' AS lease_ok
FROM wf.task WHERE state = 'running' AND runner IS NOT NULL;

-- Redefining keeps running executions on their version.
SELECT wf_start('linear') AS old_exec \gset
SELECT wf_define('{"name": "linear", "tasks": {"only": {"action": "step"}}}') AS version;
SELECT claim();
SELECT done(:old_exec, 'a');
SELECT claim();
SELECT version, (SELECT array_agg(name ORDER BY id) FROM wf.task WHERE execution_id = :old_exec) AS tasks
FROM wf.execution WHERE id = :old_exec;
SELECT wf_start('linear') AS new_exec \gset
SELECT version, (SELECT array_agg(name ORDER BY id) FROM wf.task WHERE execution_id = :new_exec) AS tasks
FROM wf.execution WHERE id = :new_exec;
SELECT claim();
SELECT done(:new_exec, 'only');
SELECT state FROM wf.execution WHERE id = :new_exec;
