-- The joins users reach for, visible skips, and cancelling one task
-- (issue "Events, loops, and the joins users reach for", sections 3 and 4).
\set VERBOSITY terse

-- An inclusive join after a conditional split: it waits until every
-- inbound edge is resolved and runs if at least one fired.
SELECT wf_define('{"name": "pat_optional", "task_defaults": {"queue": "pat"}, "tasks": {
    "measure": {"action": "x", "on_success": [
        {"task": "big", "when": "$.result.n > 10"},
        {"task": "extra", "when": "$.result.extra == true"}]},
    "big":   {"action": "x"},
    "extra": {"action": "x"},
    "merge": {"action": "x", "requires": ["big", "extra"], "join": "inclusive"}}}');
-- one branch taken: the merge waits for it, then runs
SELECT wf_start('pat_optional') AS exec \gset
SELECT claim('pat');
SELECT done(:exec, 'measure', '{"n": 20, "extra": false}');
SELECT name, state FROM wf.task WHERE execution_id = :exec ORDER BY id;
SELECT claim('pat');
SELECT done(:exec, 'big');
SELECT name, state FROM wf.task WHERE execution_id = :exec ORDER BY id;
SELECT claim('pat');
SELECT done(:exec, 'merge');
SELECT state FROM wf.execution WHERE id = :exec;
-- both branches taken: the merge waits for both
SELECT wf_start('pat_optional') AS exec \gset
SELECT claim('pat');
SELECT done(:exec, 'measure', '{"n": 20, "extra": true}');
SELECT claim('pat');
SELECT done(:exec, 'extra');
SELECT name, state FROM wf.task WHERE execution_id = :exec ORDER BY id;
SELECT done(:exec, 'big');
SELECT name, state FROM wf.task WHERE execution_id = :exec ORDER BY id;
-- no branch taken: the merge is skipped, and its history row says why
SELECT wf_start('pat_optional') AS exec \gset
SELECT claim('pat');
SELECT done(:exec, 'measure', '{"n": 1, "extra": false}');
SELECT task, state, detail FROM history(:exec) WHERE state = 'skipped';
SELECT state FROM wf.execution WHERE id = :exec;

-- The same split with a strict join ("all", the default) skips the merge
-- when a branch is not taken; the skip says which edge did not fire.
SELECT wf_define('{"name": "pat_strict", "task_defaults": {"queue": "pat"}, "tasks": {
    "measure": {"action": "x", "on_success": [
        {"task": "big", "when": "$.result.n > 10"},
        {"task": "extra", "when": "$.result.extra == true"}]},
    "big":   {"action": "x"},
    "extra": {"action": "x"},
    "merge": {"action": "x", "requires": ["big", "extra"]}}}');
SELECT wf_start('pat_strict') AS exec \gset
SELECT claim('pat');
SELECT done(:exec, 'measure', '{"n": 20, "extra": false}');
SELECT task, state, detail FROM history(:exec) WHERE state = 'skipped';
-- a skip after a failure handled elsewhere: the edge's kind and the source's state
SELECT wf_define('{"name": "pat_handled", "task_defaults": {"queue": "pat"}, "tasks": {
    "a": {"action": "x", "on_success": ["b"], "on_error": ["c"]},
    "b": {"action": "x"}, "c": {"action": "x"}}}');
SELECT wf_start('pat_handled') AS exec \gset
SELECT claim('pat');
SELECT done(:exec, 'a', '{"boom": 1}', 'error');
SELECT task, state, detail FROM history(:exec) WHERE state = 'skipped';

-- "inclusive" is validated like any join.
SELECT expect_error($$SELECT wf_define('{"name": "bad", "tasks": {"a": {"action": "x"}, "b": {"action": "x", "requires": ["a"], "join": "inclusive"}}}')$$);
SELECT expect_error($$SELECT wf_define('{"name": "bad", "tasks": {"a": {"action": "x"}, "b": {"action": "x"}, "c": {"action": "x", "requires": ["a", "b"], "join": "some"}}}')$$);
SELECT l FROM regexp_split_to_table(wf_graph('pat_optional'), E'\n') l WHERE l LIKE '%merge%[%';

-- wf_task_cancel: a running task with retries left fails at once, without
-- retrying; its on_error handles it; its runner's later report gets WF006.
SELECT wf_define('{"name": "pat_cancellable", "task_defaults": {"queue": "pat"}, "tasks": {
    "call":  {"action": "partner.call", "retry": {"count": 5},
              "on_success": ["ok"], "on_error": ["fallback"]},
    "ok":    {"action": "x"},
    "fallback": {"action": "x", "input": {"why": "$.tasks.call.error"}}}}');
SELECT wf_start('pat_cancellable') AS exec \gset
SELECT claim('pat');
SELECT wf_task_cancel(task_id, 'the partner is gone for good') FROM claimed
WHERE execution_id = :exec AND task = 'call';
SELECT name, state, attempt, error - 'by' AS error FROM wf.task WHERE execution_id = :exec ORDER BY id;
SELECT (SELECT error->>'by' FROM wf.task WHERE execution_id = :exec AND name = 'call') = current_user AS by_me;
SELECT task, state, detail - 'by' - 'error' FROM history(:exec) WHERE task = 'call';
SELECT expect_error(format('SELECT done(%s, %L)', :exec, 'call'));
SELECT expect_error(format('SELECT done(%s, %L, %L, %L)', :exec, 'call', '{}', 'error'));
SELECT expect_error(format('SELECT wf_heartbeat(task_id, token) FROM claimed WHERE execution_id = %s AND task = %L', :exec, 'call'));
SELECT claim('pat');
SELECT input->'why'->>'type' AS why FROM wf.task WHERE execution_id = :exec AND name = 'fallback';
SELECT done(:exec, 'fallback');
SELECT state FROM wf.execution WHERE id = :exec;

-- A delegated task: the third party's callback is refused afterwards.
SELECT wf_start('pat_cancellable') AS exec \gset
SELECT claim('pat');
CREATE TEMP TABLE cb AS
SELECT task_id, wf_task_delegate(task_id, token) AS token FROM claimed
WHERE execution_id = :exec AND task = 'call';
SELECT wf_task_cancel(task_id) FROM cb;
SELECT expect_error('SELECT wf_task_complete(task_id, ''success'', ''{}'', token) FROM cb');
SELECT name, state, error->'reason' AS reason FROM wf.task WHERE execution_id = :exec ORDER BY id;

-- A ready task (never claimed) can be cancelled too; without an on_error
-- the execution fails, and the error names the cancelled task.
SELECT wf_define('{"name": "pat_plain", "task_defaults": {"queue": "pat"}, "tasks": {"a": {"action": "x"}, "b": {"action": "x"}}}');
SELECT wf_start('pat_plain') AS exec \gset
SELECT wf_task_cancel(id, 'not needed') FROM wf.task WHERE execution_id = :exec AND name = 'a';
SELECT state, error->>'task' AS task, error->'error'->>'type' AS type, error->'error'->>'reason' AS reason
FROM wf.execution WHERE id = :exec;
SELECT name, state FROM wf.task WHERE execution_id = :exec ORDER BY id;

-- A for_each item: its failure fails the for_each task (the others are cancelled).
SELECT wf_define('{"name": "pat_items", "task_defaults": {"queue": "pat"}, "tasks": {
    "each": {"action": "x", "for_each": "$.input.xs", "retry": {"count": 3}, "on_error": ["after"]},
    "after": {"action": "x"}}}');
SELECT wf_start('pat_items', '{"xs": [1, 2, 3]}') AS exec \gset
SELECT count(*) FROM claim('pat');
SELECT wf_task_cancel(id) FROM wf.task WHERE execution_id = :exec AND name = 'each' AND item = 1;
SELECT name, item, state, error->>'type' AS type FROM wf.task WHERE execution_id = :exec ORDER BY id;

-- A for_each task itself: it fails at once, its items in flight cancelled;
-- its on_error handles it.
SELECT wf_start('pat_items', '{"xs": [1, 2]}') AS exec \gset
SELECT wf_task_cancel(id, 'all of them') FROM wf.task WHERE execution_id = :exec AND name = 'each' AND item IS NULL;
SELECT name, item, state, error->>'type' AS type FROM wf.task WHERE execution_id = :exec ORDER BY id;
SELECT count(*) AS counts_left FROM wf.foreach_state WHERE execution_id = :exec;
-- A sub-workflow task: it fails at once, and its child is cancelled.
SELECT wf_define('{"name": "pat_parent_of", "task_defaults": {"queue": "pat"}, "tasks": {"sub": {"workflow": "pat_plain"}}}');
SELECT wf_start('pat_parent_of') AS pexec \gset
SELECT wf_task_cancel(id) FROM wf.task WHERE execution_id = :pexec;
SELECT name, state, error->>'type' AS type FROM wf.task WHERE execution_id = :pexec;
SELECT c.state, c.error->>'type' AS type FROM wf.execution c JOIN wf.task t ON t.id = c.parent_task_id
WHERE t.execution_id = :pexec;
SELECT count(*) AS inbox FROM wf.inbox i JOIN wf.task t ON t.id = i.parent_task_id WHERE t.execution_id = :pexec;

-- Refusals, each changing nothing.
SELECT wf_start('pat_plain') AS exec \gset
SELECT claim('pat');
SELECT done(:exec, 'a');
SELECT expect_error(format('SELECT wf_task_cancel(id) FROM wf.task WHERE execution_id = %s AND name = %L', :exec, 'a'));
SELECT wf_cancel(:exec);
SELECT expect_error(format('SELECT wf_task_cancel(id) FROM wf.task WHERE execution_id = %s AND name = %L', :exec, 'b'));
SELECT expect_error('SELECT wf_task_cancel(987654321)');
SELECT expect_error('SELECT wf_task_cancel(NULL)');
SELECT expect_error(format('SELECT wf_task_cancel(1, %L)', repeat('x', 2000)));
SET ROLE wf_runner;
SELECT expect_error('SELECT wf_task_cancel(1)');
RESET ROLE;

-- Loops without cycles: "repeat" runs a task again while its result says
-- so; each iteration has its own attempts, and sees $.iteration.
SELECT wf_define('{"name": "pat_poll", "input": ["job"], "task_defaults": {"queue": "pat"}, "tasks": {
    "check": {"action": "job.status", "retry": {"count": 1},
              "input": {"job": "$.input.job", "n": "$.iteration"},
              "repeat": {"while": "$.result.status == \"running\"", "max": 3}},
    "after": {"action": "x", "requires": ["check"], "input": {"final": "$.tasks.check.result"}}}}');
SELECT wf_start('pat_poll', '{"job": "J1"}') AS exec \gset
DELETE FROM claimed WHERE task = 'check';  -- (done() takes the newest claim)
SELECT claim('pat');
CREATE TEMP TABLE old_tok AS SELECT task_id, token FROM claimed WHERE execution_id = :exec AND task = 'check';
SELECT input FROM wf.task WHERE execution_id = :exec AND name = 'check';
SELECT done(:exec, 'check', '{"status": "running"}');
SELECT name, state, iteration, attempt, input FROM wf.task WHERE execution_id = :exec ORDER BY id;
-- an error within an iteration is retried within it
DELETE FROM claimed WHERE task = 'check';  -- (done() takes the newest claim)
SELECT claim('pat');
SELECT done(:exec, 'check', '{"m": "flaky"}', 'error');
SELECT name, state, iteration, attempt FROM wf.task WHERE execution_id = :exec ORDER BY id;
DELETE FROM claimed WHERE task = 'check';  -- (done() takes the newest claim)
SELECT claim('pat');
SELECT done(:exec, 'check', '{"status": "running"}');
DELETE FROM claimed WHERE task = 'check';  -- (done() takes the newest claim)
SELECT claim('pat');
SELECT done(:exec, 'check', '{"status": "done", "rows": 7}');
SELECT name, state, iteration, attempt, result, input FROM wf.task WHERE execution_id = :exec ORDER BY id;
SELECT state, detail->'iteration' AS iteration, detail->'attempt' AS attempt
FROM wf.event WHERE execution_id = :exec AND task = 'check' ORDER BY id;
-- the old iteration's token acts no more
SELECT expect_error($$SELECT wf_task_complete(task_id, 'success', '{"status": "done"}', token) FROM old_tok$$);
-- passing max fails the task with {"type": "repeat_limit"}
SELECT wf_start('pat_poll', '{"job": "J2"}') AS exec \gset
DELETE FROM claimed WHERE task = 'check';  -- (done() takes the newest claim)
SELECT claim('pat');
SELECT done(:exec, 'check', '{"status": "running"}');
DELETE FROM claimed WHERE task = 'check';  -- (done() takes the newest claim)
SELECT claim('pat');
SELECT done(:exec, 'check', '{"status": "running"}');
DELETE FROM claimed WHERE task = 'check';  -- (done() takes the newest claim)
SELECT claim('pat');
SELECT done(:exec, 'check', '{"status": "running"}');
SELECT name, state, iteration, error FROM wf.task WHERE execution_id = :exec ORDER BY id;
SELECT state, error->>'type' AS type FROM wf.execution WHERE id = :exec;
-- a delay: the next iteration waits, and the watchdog wakes its queue then
SELECT wf_define('{"name": "pat_slowpoll", "task_defaults": {"queue": "pat"}, "tasks": {
    "check": {"action": "x", "repeat": {"while": "$.result.again == true", "delay": "1 hour"}}}}');
SELECT wf_start('pat_slowpoll') AS exec \gset
DELETE FROM claimed WHERE task = 'check';  -- (done() takes the newest claim)
SELECT claim('pat');
SELECT done(:exec, 'check', '{"again": true}');
SELECT state, iteration, not_before > now() + interval '50 minutes' AS later, wake_at IS NOT NULL AS woken
FROM wf.task WHERE execution_id = :exec;
SELECT l FROM regexp_split_to_table(wf_graph('pat_slowpoll'), E'\n') l WHERE l LIKE '%label=%check%';
-- checked at wf_define
SELECT expect_error($$SELECT wf_define('{"name": "bad", "tasks": {"a": {"action": "x", "repeat": {"delay": "1s"}}}}')$$);
SELECT expect_error($$SELECT wf_define('{"name": "bad", "tasks": {"a": {"action": "x", "repeat": {"while": "$.result.x", "max": 0}}}}')$$);
SELECT expect_error($$SELECT wf_define('{"name": "bad", "tasks": {"a": {"action": "x", "repeat": {"while": "$.result.x", "until": 1}}}}')$$);
SELECT expect_error($$SELECT wf_define('{"name": "bad", "tasks": {"a": {"engine": "noop", "repeat": {"while": "$.result.x"}}}}')$$);
SELECT expect_error($$SELECT wf_define('{"name": "bad", "tasks": {"a": {"action": "x", "for_each": "$.input.xs", "repeat": {"while": "$.result.x"}}}}')$$);
SELECT expect_error($$SELECT wf_define('{"name": "bad", "tasks": {"a": {"action": "x", "repeat": "$.result.x"}}}')$$);

-- for_each over a sub-workflow: a child execution per item (concurrency
-- respected), the children's outputs as the task's result in item order.
SELECT wf_define('{"name": "pat_child", "input": ["n"], "tasks": {
    "double": {"action": "x", "queue": "pat_c", "input": {"n": "$.input.n"}}},
  "output": {"twice": "$.tasks.double.result.v"}}');
SELECT wf_define('{"name": "pat_fan", "input": ["ns"], "tasks": {
    "each": {"workflow": "pat_child", "for_each": "$.input.ns", "concurrency": 2,
             "input": {"n": "$.item"}},
    "sum":  {"action": "x", "queue": "pat", "requires": ["each"], "input": {"all": "$.tasks.each.result"}}}}');
SELECT wf_start('pat_fan', '{"ns": [1, 2, 3]}') AS exec \gset
SELECT name, item, state, not_before = 'infinity' AS waiting FROM wf.task WHERE execution_id = :exec ORDER BY id;
SELECT t.item, c.state, c.input FROM wf.execution c JOIN wf.task t ON t.id = c.parent_task_id
WHERE t.execution_id = :exec ORDER BY t.item;
-- the second item's child finishes first: the third item's child starts
SELECT claim('pat_c');
SELECT wf_task_complete(c.task_id, 'success', jsonb_build_object('v', 2 * (i.input->>'n')::int), c.token)
FROM claimed c JOIN wf.task i ON i.id = c.task_id JOIN wf.execution x ON x.id = c.execution_id
JOIN wf.task p ON p.id = x.parent_task_id WHERE p.execution_id = :exec AND p.item = 1;
SELECT wf_tick() > 0 AS acted;
SELECT name, item, state FROM wf.task WHERE execution_id = :exec ORDER BY id;
SELECT claim('pat_c');
SELECT count(wf_task_complete(c.task_id, 'success', jsonb_build_object('v', 2 * (i.input->>'n')::int), c.token))
FROM claimed c JOIN wf.task i ON i.id = c.task_id JOIN wf.execution x ON x.id = c.execution_id
JOIN wf.task p ON p.id = x.parent_task_id WHERE p.execution_id = :exec AND i.state = 'running';
SELECT wf_tick() > 0 AS acted;
SELECT name, item, state, result FROM wf.task WHERE execution_id = :exec ORDER BY id;

-- a failing child fails the task and cancels the children still running
SELECT wf_start('pat_fan', '{"ns": [10, 20, 30]}') AS exec \gset
DELETE FROM claimed WHERE task = 'double';
SELECT claim('pat_c');
SELECT wf_task_complete(c.task_id, 'error', '{"m": "no"}', c.token)
FROM claimed c JOIN wf.execution x ON x.id = c.execution_id
JOIN wf.task p ON p.id = x.parent_task_id WHERE p.execution_id = :exec AND p.item = 0;
SELECT wf_tick() > 0 AS acted;
SELECT name, item, state, error->>'type' AS error FROM wf.task WHERE execution_id = :exec ORDER BY id;
SELECT t.item, c.state FROM wf.execution c JOIN wf.task t ON t.id = c.parent_task_id
WHERE t.execution_id = :exec ORDER BY t.item;
SELECT state, error->>'type' AS type, error->'error'->>'type' AS cause FROM wf.execution WHERE id = :exec;

-- no items: [] at once; a child that cannot start fails the task
SELECT wf_start('pat_fan', '{"ns": []}') AS exec \gset
SELECT name, state, result FROM wf.task WHERE execution_id = :exec ORDER BY id;
SELECT wf_define('{"name": "pat_fan_bad", "tasks": {
    "each": {"workflow": "pat_child", "for_each": "$.input.ns", "input": {"wrong": "$.item"}}}}');
SELECT wf_start('pat_fan_bad', '{"ns": [1, 2]}') AS exec \gset
SELECT name, item, state, error->>'type' AS type FROM wf.task WHERE execution_id = :exec ORDER BY id;
SELECT state, error->'error'->'error'->>'type' AS cause FROM wf.execution WHERE id = :exec;
SELECT l FROM regexp_split_to_table(wf_graph('pat_fan'), E'\n') l WHERE l LIKE '%"each" [%';

-- A sub-workflow task may retry (a new child per attempt) and repeat (a
-- new child per iteration); a for_each over one retries each item.
SELECT wf_define('{"name": "pat_kid", "input": ["n"], "tasks": {
    "x": {"action": "x", "queue": "pat_k", "input": {"n": "$.input.n"}}},
  "output": {"again": "$.tasks.x.result.again", "n": "$.input.n"}}');
SELECT wf_define('{"name": "pat_retry_sub", "tasks": {
    "sub": {"workflow": "pat_kid", "retry": {"count": 1}, "input": {"n": 1}}}}');
SELECT wf_start('pat_retry_sub') AS exec \gset
DELETE FROM claimed WHERE task = 'x';
SELECT claim('pat_k');
SELECT wf_task_complete(c.task_id, 'error', '{"m": "first child fails"}', c.token)
FROM claimed c JOIN wf.execution x ON x.id = c.execution_id
JOIN wf.task p ON p.id = x.parent_task_id WHERE p.execution_id = :exec;
SELECT wf_tick() > 0 AS acted;
SELECT name, state, attempt, error->>'type' AS last_error FROM wf.task WHERE execution_id = :exec;
SELECT c.state, c.input FROM wf.execution c JOIN wf.task t ON t.id = c.parent_task_id
WHERE t.execution_id = :exec ORDER BY c.id;
DELETE FROM claimed WHERE task = 'x';
SELECT claim('pat_k');
SELECT wf_task_complete(c.task_id, 'success', '{}', c.token)
FROM claimed c JOIN wf.execution x ON x.id = c.execution_id
JOIN wf.task p ON p.id = x.parent_task_id WHERE p.execution_id = :exec AND x.state = 'running';
SELECT wf_tick() > 0 AS acted;
SELECT name, state, attempt, result FROM wf.task WHERE execution_id = :exec;
SELECT state FROM wf.execution WHERE id = :exec;

SELECT wf_define('{"name": "pat_repeat_sub", "tasks": {
    "poll": {"workflow": "pat_kid", "input": {"n": "$.iteration"},
             "repeat": {"while": "$.result.again == true", "max": 5}}}}');
SELECT wf_start('pat_repeat_sub') AS exec \gset
DELETE FROM claimed WHERE task = 'x';
SELECT claim('pat_k');
SELECT wf_task_complete(c.task_id, 'success', '{"again": true}', c.token)
FROM claimed c JOIN wf.execution x ON x.id = c.execution_id
JOIN wf.task p ON p.id = x.parent_task_id WHERE p.execution_id = :exec;
SELECT wf_tick() > 0 AS acted;
SELECT name, state, iteration, attempt, input FROM wf.task WHERE execution_id = :exec;
DELETE FROM claimed WHERE task = 'x';
SELECT claim('pat_k');
SELECT wf_task_complete(c.task_id, 'success', '{"again": false}', c.token)
FROM claimed c JOIN wf.execution x ON x.id = c.execution_id
JOIN wf.task p ON p.id = x.parent_task_id WHERE p.execution_id = :exec AND x.state = 'running';
SELECT wf_tick() > 0 AS acted;
SELECT name, state, iteration, result FROM wf.task WHERE execution_id = :exec;
SELECT c.input, c.state FROM wf.execution c JOIN wf.task t ON t.id = c.parent_task_id
WHERE t.execution_id = :exec ORDER BY c.id;

-- a for_each item's retry waits its delay (delegated to the watchdog), then
-- its new child starts
SELECT wf_define('{"name": "pat_fan_retry", "tasks": {
    "each": {"workflow": "pat_kid", "for_each": "$.input.ns", "input": {"n": "$.item"},
             "retry": {"count": 1, "delay": "1 hour"}}}}');
SELECT wf_start('pat_fan_retry', '{"ns": [5]}') AS exec \gset
DELETE FROM claimed WHERE task = 'x';
SELECT claim('pat_k');
SELECT wf_task_complete(c.task_id, 'error', '{}', c.token)
FROM claimed c JOIN wf.execution x ON x.id = c.execution_id
JOIN wf.task p ON p.id = x.parent_task_id WHERE p.execution_id = :exec;
SELECT wf_tick() > 0 AS acted;
SELECT name, item, state, attempt, deadline > now() + interval '50 minutes' AS waits FROM wf.task
WHERE execution_id = :exec ORDER BY id;
UPDATE wf.task SET deadline = now() - interval '1 second' WHERE execution_id = :exec AND item = 0;
SELECT wf_tick() > 0 AS acted;
SELECT name, item, state, attempt FROM wf.task WHERE execution_id = :exec ORDER BY id;
SELECT count(*) AS children FROM wf.execution c JOIN wf.task t ON t.id = c.parent_task_id
WHERE t.execution_id = :exec;

-- A failed (or cancelled) execution leaves no join or for_each counts
-- behind: they are kept in the history row that ends it, and wf_rerun
-- restores them, so a half-finished join resumes.
SELECT wf_define('{"name": "pat_join_rerun", "task_defaults": {"queue": "pat"}, "tasks": {
    "b1": {"action": "x"}, "b2": {"action": "x"},
    "j":  {"action": "x", "requires": ["b1", "b2"]}}}');
SELECT wf_start('pat_join_rerun') AS exec \gset
DELETE FROM claimed WHERE execution_id = :exec;
SELECT claim('pat');
SELECT done(:exec, 'b1');
SELECT count(*) AS join_rows FROM wf.join_state WHERE execution_id = :exec;
SELECT done(:exec, 'b2', '{"m": "no"}', 'error');
SELECT state FROM wf.execution WHERE id = :exec;
SELECT count(*) AS join_rows FROM wf.join_state WHERE execution_id = :exec;
SELECT detail->'joins' AS kept FROM wf.event WHERE execution_id = :exec AND task IS NULL AND state = 'failed';
SELECT wf_rerun(:exec);
SELECT task, arrived, fired, decided FROM wf.join_state WHERE execution_id = :exec;
DELETE FROM claimed WHERE execution_id = :exec;
SELECT claim('pat');
SELECT done(:exec, 'b2');
SELECT name, state FROM wf.task WHERE execution_id = :exec ORDER BY id;
SELECT claim('pat');
SELECT done(:exec, 'j');
SELECT state FROM wf.execution WHERE id = :exec;
-- cancelled while a for_each runs: its count goes too
SELECT wf_start('pat_items', '{"xs": [1, 2]}') AS exec \gset
SELECT count(*) AS foreach_rows FROM wf.foreach_state WHERE execution_id = :exec;
SELECT wf_cancel(:exec);
SELECT count(*) AS foreach_rows FROM wf.foreach_state WHERE execution_id = :exec;
-- rerun of a for_each over a sub-workflow: its failed and cancelled items'
-- children start again (concurrency allowing), none is left for runners
SELECT id AS exec FROM wf.execution WHERE workflow = 'pat_fan' AND state = 'failed' ORDER BY id LIMIT 1 \gset
SELECT wf_rerun(:exec);
SELECT name, item, state, not_before = 'infinity' AS waiting FROM wf.task WHERE execution_id = :exec ORDER BY id;
SELECT t.item, count(*) AS children, count(*) FILTER (WHERE c.state = 'running') AS running
FROM wf.execution c JOIN wf.task t ON t.id = c.parent_task_id
WHERE t.execution_id = :exec GROUP BY t.item ORDER BY t.item;
