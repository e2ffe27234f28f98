-- Sub-workflows: a task that runs a child execution. The child's output is
-- the task's result, its failure the task's error; the child's end reaches
-- the parent through the watchdog (wf_tick here; the worker in production).
SELECT wf_define('{"name": "child", "input": ["n"], "tasks": {
    "work": {"action": "x", "queue": "sub", "input": {"n": "$.input.n"}}},
  "output": {"double": "$.tasks.work.result.double"}}');
SELECT wf_define('{"name": "parent", "input": ["n"], "tasks": {
    "call": {"workflow": "child", "input": {"n": "$.input.n"},
             "on_error": ["recover"]},
    "use":  {"action": "x", "queue": "sub", "requires": ["call"],
             "input": {"got": "$.tasks.call.result.double"}},
    "recover": {"action": "x", "queue": "sub", "input": {"why": "$.tasks.call.error.error.error"}}}}');
SELECT wf_start('parent', '{"n": 21}') AS exec \gset
SELECT name, state, action, input FROM wf.task WHERE execution_id = :exec;
SELECT id AS child, workflow, state, input, depth, parent_task_id IS NOT NULL AS has_parent
FROM wf.execution WHERE parent_task_id = (SELECT id FROM wf.task WHERE execution_id = :exec AND name = 'call') \gset
SELECT :'workflow' AS workflow, :'state' AS state, :'input' AS input, :depth AS depth;
SELECT claim('sub');
SELECT done(:child, 'work', '{"double": 42}');
SELECT state, output FROM wf.execution WHERE id = :child;
-- The parent's task is finished by the next watchdog pass.
SELECT state FROM wf.task WHERE execution_id = :exec AND name = 'call';
SELECT wf_tick() AS acted;
SELECT name, state, result, input FROM wf.task WHERE execution_id = :exec ORDER BY id;
SELECT count(*) AS inbox FROM wf.inbox;
SELECT claim('sub');
SELECT done(:exec, 'use');
SELECT state FROM wf.execution WHERE id = :exec;

-- A child that fails fails the task (here handled by on_error).
SELECT wf_start('parent', '{"n": 1}') AS exec \gset
SELECT id AS child FROM wf.execution WHERE parent_task_id = (SELECT id FROM wf.task WHERE execution_id = :exec AND name = 'call') \gset
SELECT claim('sub');
SELECT done(:child, 'work', '{"message": "no"}', 'error');
SELECT wf_tick() AS acted;
SELECT name, state, error->>'type' AS error, input FROM wf.task WHERE execution_id = :exec ORDER BY id;
SELECT claim('sub');
SELECT done(:exec, 'recover');
SELECT state FROM wf.execution WHERE id = :exec;

-- A child that cannot start (here: no such workflow) fails the task at once.
SELECT wf_define('{"name": "caller", "tasks": {"call": {"workflow": "nowhere"}}}');
SELECT wf_start('caller') AS exec2 \gset
SELECT state, error->'error'->>'type' AS type, error->'error'->>'message' AS message
FROM wf.execution WHERE id = :exec2;

-- Three deep: each level's end finishes the level above.
SELECT wf_define('{"name": "level3", "tasks": {"leaf": {"action": "x", "queue": "deep"}},
  "output": "$.tasks.leaf.result"}');
SELECT wf_define('{"name": "level2", "tasks": {"call": {"workflow": "level3"}},
  "output": {"from3": "$.tasks.call.result"}}');
SELECT wf_define('{"name": "level1", "tasks": {"call": {"workflow": "level2"}},
  "output": {"from2": "$.tasks.call.result"}}');
SELECT wf_start('level1') AS top \gset
SELECT workflow, depth, state FROM wf.execution WHERE workflow LIKE 'level%' ORDER BY id;
SELECT e.id AS leaf_exec FROM wf.execution e WHERE e.workflow = 'level3' ORDER BY id DESC LIMIT 1 \gset
SELECT claim('deep');
SELECT done(:leaf_exec, 'leaf', '"bottom"');
SELECT wf_tick() AS first_pass;
SELECT wf_tick() AS second_pass;
SELECT workflow, depth, state, output FROM wf.execution WHERE workflow LIKE 'level%' ORDER BY id;

-- Cancelling the parent cancels the children, all the way down.
SELECT wf_start('level1') AS top \gset
SELECT wf_cancel(:top, 'not needed');
SELECT workflow, depth, state, error->>'reason' AS reason FROM wf.execution
WHERE workflow LIKE 'level%' AND id >= :top ORDER BY id;
SELECT count(*) AS claimable FROM wf_claim('deep', 10);
SELECT wf_tick() AS acted;

-- Refused at wf_define
\pset format unaligned
\pset tuples_only on
SELECT expect_error($$SELECT wf_define('{"name": "x", "tasks": {"a": {"workflow": "child", "action": "x"}}}')$$);
-- (a sub-workflow task may retry: sql/patterns.sql; a lease is its child's business)
SELECT expect_error($$SELECT wf_define('{"name": "x", "tasks": {"a": {"workflow": "child", "timeout": "1s"}}}')$$);
SELECT expect_error($$SELECT wf_define('{"name": "x", "tasks": {"a": {"workflow": "a child"}}}')$$);
SELECT expect_error($$SELECT wf_define('{"name": "x", "tasks": {"a": {"workflow": 7}}}')$$);

-- A workflow that calls itself stops at the nesting limit: the innermost
-- task fails, and the failure climbs back to the top, one watchdog pass a level.
\pset format aligned
\pset tuples_only off
SELECT wf_define('{"name": "recursive", "tasks": {"again": {"workflow": "recursive"}}}');
SELECT wf_start('recursive') AS top \gset
SELECT count(*) AS executions, max(depth) AS deepest FROM wf.execution WHERE workflow = 'recursive';
SELECT t.error->>'message' AS innermost FROM wf.task t JOIN wf.execution e ON e.id = t.execution_id
WHERE e.workflow = 'recursive' AND e.depth = 16;
DO $$ BEGIN WHILE wf_tick() > 0 LOOP END LOOP; END $$;
SELECT state, count(*) FROM wf.execution WHERE workflow = 'recursive' GROUP BY state;
SELECT state, error->'error'->>'type' AS type FROM wf.execution WHERE id = :top;
