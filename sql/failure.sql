-- A task that fails (no retries yet) fails its execution; what is left is cancelled.
SELECT wf_define('{"name": "fragile", "tasks": {
    "a": {"action": "x"},
    "b": {"action": "x"},
    "c": {"action": "x"},
    "after": {"action": "x", "requires": ["a", "b"]}}}');

SELECT wf_start('fragile') AS exec \gset
SELECT claim('default', 2);
-- a fails while b is running and c is ready.
SELECT done(:exec, 'a', '{"message": "disk full"}', 'error');
SELECT state, error - 'task_id' AS error, active FROM wf.execution WHERE id = :exec;
SELECT name, state, result, error FROM wf.task WHERE execution_id = :exec ORDER BY name;
SELECT * FROM history(:exec);
-- Nothing of it is claimable, and the running task's runner learns it was cancelled.
SELECT count(*) FROM wf_claim('default', 10) c WHERE c.execution_id = :exec;
SELECT expect_error(format('SELECT done(%s, %L)', :exec, 'b'));
-- The failed task's repeat is a no-op; a change of mind is refused.
SELECT done(:exec, 'a', '{"message": "disk full"}', 'error');
SELECT expect_error(format('SELECT done(%s, %L)', :exec, 'a'));
SELECT expect_error(format('SELECT done(%s, %L, %L, %L)', :exec, 'a', '{"message": "other"}', 'error'));
-- Joins that were waiting are forgotten.
SELECT count(*) FROM wf.join_state WHERE execution_id = :exec;

-- An error without a document is recorded as {}.
SELECT wf_start('fragile') AS exec \gset
SELECT count(*) FROM claim();
SELECT wf_task_complete(task_id, 'error', NULL, token) FROM claimed WHERE execution_id = :exec AND task = 'c';
SELECT state, error - 'task_id' AS error FROM wf.execution WHERE id = :exec;
