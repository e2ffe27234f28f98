-- for_each: one task instance per item, at most "concurrency" in flight,
-- results in item order.
CREATE FUNCTION done_item(exec bigint, t text, i integer, res jsonb DEFAULT '{}',
                          status text DEFAULT 'success')
RETURNS text LANGUAGE sql AS $$
    SELECT wf_task_complete(c.task_id, status, res, c.token)
    FROM claimed c JOIN wf.task k ON k.id = c.task_id
    WHERE c.execution_id = exec AND c.task = t AND k.item = i
    ORDER BY c.attempt DESC LIMIT 1
$$;
CREATE FUNCTION items(exec bigint, t text)
RETURNS TABLE (item integer, state text, attempt integer, input jsonb, result jsonb, claimable boolean)
LANGUAGE sql AS $$
    SELECT item, state, attempt, input, result, not_before < 'infinity'
    FROM wf.task WHERE execution_id = exec AND name = t ORDER BY item NULLS FIRST
$$;

SELECT wf_define('{"name": "fanout", "input": ["orders"], "tasks": {
    "prepare": {"action": "x", "queue": "fe"},
    "each": {"action": "ship", "queue": "fe", "requires": ["prepare"],
             "for_each": "$.input.orders", "concurrency": 2,
             "retry": {"count": 1},
             "input": {"order": "$.item.id", "position": "$.index"},
             "publish": {"shipped": "$.result.size()"}},
    "report": {"action": "x", "queue": "fe", "requires": ["each"],
               "input": {"all": "$.tasks.each.result", "n": "$.vars.shipped"}}}}');
SELECT wf_start('fanout', '{"orders": [{"id": "o1"}, {"id": "o2"}, {"id": "o3"}, {"id": "o4"}, {"id": "o5"}]}') AS exec \gset
SELECT claim('fe');
SELECT done(:exec, 'prepare');
SELECT * FROM items(:exec, 'each');
-- Two in flight at most; finishing one releases the next.
SELECT claim('fe');
SELECT count(*) AS more FROM claim('fe');
SELECT done_item(:exec, 'each', 1, '"R1"');
SELECT claim('fe');
-- An item that fails is retried on its own (its retry policy).
SELECT done_item(:exec, 'each', 0, '{"message": "flaky"}', 'error');
SELECT * FROM items(:exec, 'each');
SELECT claim('fe');
SELECT done_item(:exec, 'each', 0, '"R0"');
SELECT claim('fe');
SELECT done_item(:exec, 'each', 2, '"R2"');
SELECT done_item(:exec, 'each', 3, '"R3"');
SELECT claim('fe');
SELECT state FROM wf.task WHERE execution_id = :exec AND name = 'each' AND item IS NULL;
SELECT done_item(:exec, 'each', 4, '"R4"');
-- The last item completes the task, with the results in item order.
SELECT * FROM items(:exec, 'each') WHERE item IS NULL;
SELECT vars FROM wf.execution WHERE id = :exec;
SELECT claim('fe');
SELECT input FROM wf.task WHERE execution_id = :exec AND name = 'report';
SELECT done(:exec, 'report');
SELECT state FROM wf.execution WHERE id = :exec;

-- One item, and none: an empty array succeeds at once with [].
SELECT wf_start('fanout', '{"orders": [{"id": "only"}]}') AS exec \gset
SELECT claim('fe');
SELECT done(:exec, 'prepare');
SELECT claim('fe');
SELECT done_item(:exec, 'each', 0, '"R"');
SELECT * FROM items(:exec, 'each') WHERE item IS NULL;
SELECT claim('fe');
SELECT done(:exec, 'report');
SELECT wf_start('fanout', '{"orders": []}') AS exec \gset
SELECT claim('fe');
SELECT done(:exec, 'prepare');
SELECT name, state, result FROM wf.task WHERE execution_id = :exec ORDER BY id;
SELECT claim('fe');
SELECT done(:exec, 'report');
SELECT state, vars FROM wf.execution WHERE id = :exec;

-- An item failing after its retries fails the task: the items in flight
-- are cancelled, and the failure goes on (here unhandled: the execution fails).
SELECT wf_start('fanout', '{"orders": [{"id": "a"}, {"id": "b"}, {"id": "c"}]}') AS exec \gset
SELECT claim('fe');
SELECT done(:exec, 'prepare');
SELECT claim('fe');
SELECT done_item(:exec, 'each', 0, '{"message": "lost parcel"}', 'error');
SELECT claim('fe');
SELECT done_item(:exec, 'each', 0, '{"message": "lost again"}', 'error');
SELECT * FROM items(:exec, 'each');
SELECT state, error - 'task_id' AS error FROM wf.execution WHERE id = :exec;
SELECT expect_error(format('SELECT done_item(%s, %L, 1)', :exec, 'each'));

-- Pause during a for_each: no item can be claimed until resume.
SELECT wf_start('fanout', '{"orders": [{"id": "p1"}, {"id": "p2"}, {"id": "p3"}]}') AS exec \gset
SELECT claim('fe');
SELECT done(:exec, 'prepare');
SELECT claim('fe');
SELECT wf_pause(:exec);
SELECT done_item(:exec, 'each', 0, '"P0"');
SELECT * FROM items(:exec, 'each');
SELECT count(*) AS claimable_while_paused FROM wf_claim('fe', 10) WHERE execution_id = :exec;
SELECT wf_resume(:exec);
SELECT claim('fe');
SELECT done_item(:exec, 'each', 1, '"P1"');
SELECT claim('fe');
SELECT done_item(:exec, 'each', 2, '"P2"');
SELECT result FROM wf.task WHERE execution_id = :exec AND name = 'each' AND item IS NULL;
SELECT claim('fe');
SELECT done(:exec, 'report');

-- The items are the whole sequence the expression yields (a sequence of
-- one array being that array): "$.input.xs[*]" gives the same items as
-- "$.input.xs" for one item and none, as for more. (One item once failed
-- the execution with "did not yield an array", and so did none.)
SELECT wf_define('{"name": "each_star", "tasks": {
    "each": {"action": "x", "queue": "star", "for_each": "$.input.xs[*]", "input": {"v": "$.item"}},
    "keys": {"action": "x", "queue": "star", "for_each": "$.input.m.keyvalue().key", "requires": ["each"]}}}');
SELECT wf_start('each_star', '{"xs": [7], "m": {"only": 1}}') AS exec \gset
SELECT claim('star');
SELECT input FROM wf.task WHERE execution_id = :exec AND name = 'each' AND item = 0;
SELECT done_item(:exec, 'each', 0, '"seven"');
SELECT claim('star');
SELECT name, state, items_total, result FROM wf.task WHERE execution_id = :exec AND item IS NULL ORDER BY id;
SELECT wf_start('each_star', '{"xs": [], "m": {}}') AS exec \gset
SELECT name, state, result FROM wf.task WHERE execution_id = :exec ORDER BY id;
SELECT state FROM wf.execution WHERE id = :exec;
SELECT wf_start('each_star', '{"xs": [1, 2], "m": {}}') AS exec \gset
SELECT input FROM wf.task WHERE execution_id = :exec AND item IS NOT NULL ORDER BY item;
-- a single value that is not an array is one item
SELECT wf_start('fanout', '{"orders": {"not": "a list"}}') AS exec \gset
SELECT claim('fe');
SELECT done(:exec, 'prepare');
SELECT name, item, input FROM wf.task WHERE execution_id = :exec AND name = 'each' ORDER BY id;
SELECT wf_cancel(:exec);

-- Refused at wf_define
\pset format unaligned
\pset tuples_only on
SELECT expect_error($$SELECT wf_define('{"name": "x", "tasks": {"a": {"action": "x", "for_each": [1, 2]}}}')$$);
SELECT expect_error($$SELECT wf_define('{"name": "x", "tasks": {"a": {"action": "x", "for_each": "$.input.(("}}}')$$);
SELECT expect_error($$SELECT wf_define('{"name": "x", "tasks": {"a": {"action": "x", "concurrency": 2}}}')$$);
SELECT expect_error($$SELECT wf_define('{"name": "x", "tasks": {"a": {"action": "x", "for_each": "$.input.l", "concurrency": 0}}}')$$);
SELECT expect_error($$SELECT wf_define('{"name": "x", "tasks": {"a": {"engine": "noop", "for_each": "$.input.l"}}}')$$);

-- The for_each task itself is completed by its items, never directly.
\pset format aligned
\pset tuples_only off
SELECT wf_start('fanout', '{"orders": [{"id": "x1"}, {"id": "x2"}]}') AS exec \gset
SELECT claim('fe');
SELECT done(:exec, 'prepare');
SELECT expect_error(format('SELECT wf_task_complete(%s, %L)',
    (SELECT id FROM wf.task WHERE execution_id = :exec AND name = 'each' AND item IS NULL), 'success'));

-- Rerun after a failed item: the failed and cancelled items run again, the
-- succeeded ones keep their results.
SELECT claim('fe');
SELECT done_item(:exec, 'each', 1, '"X1"');
SELECT done_item(:exec, 'each', 0, '{"m": 1}', 'error');
SELECT claim('fe');
SELECT done_item(:exec, 'each', 0, '{"m": 2}', 'error');
SELECT state FROM wf.execution WHERE id = :exec;
SELECT wf_rerun(:exec);
SELECT * FROM items(:exec, 'each');
SELECT claim('fe');
SELECT done_item(:exec, 'each', 0, '"X0"');
SELECT result FROM wf.task WHERE execution_id = :exec AND name = 'each' AND item IS NULL;
SELECT claim('fe');
SELECT done(:exec, 'report');
SELECT state FROM wf.execution WHERE id = :exec;
