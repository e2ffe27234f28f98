-- A diamond: a -> (b, c) -> d. d waits for both branches.
SELECT wf_define('{"name": "diamond", "tasks": {
    "a": {"action": "split"},
    "b": {"action": "left",  "requires": ["a"]},
    "c": {"action": "right", "requires": ["a"]},
    "d": {"action": "join",  "requires": ["b", "c"],
          "input": {"left": "$.tasks.b.result", "right": "$.tasks.c.result"}}}}');

SELECT wf_start('diamond') AS exec \gset
SELECT claim();
SELECT done(:exec, 'a');
SELECT claim();
SELECT done(:exec, 'c', '"R"');
-- One branch is not enough: d is not created yet, the join counts one arrival.
SELECT name, state FROM wf.task WHERE execution_id = :exec ORDER BY id;
SELECT task, arrived FROM wf.join_state WHERE execution_id = :exec;
SELECT done(:exec, 'b', '"L"');
SELECT name, state, input FROM wf.task WHERE execution_id = :exec ORDER BY id;
SELECT count(*) AS join_rows_left FROM wf.join_state WHERE execution_id = :exec;
SELECT claim();
SELECT done(:exec, 'd', '"LR"');
SELECT state, output FROM wf.execution WHERE id = :exec;

-- Several start tasks and a wide join: 50 branches into one.
SELECT wf_define(jsonb_build_object('name', 'fan', 'tasks',
    (SELECT jsonb_object_agg('b' || i, jsonb_build_object('action', 'work', 'input', jsonb_build_object('i', i)))
     FROM generate_series(1, 50) i)
    || jsonb_build_object('total', jsonb_build_object('action', 'sum',
         'requires', (SELECT jsonb_agg('b' || i) FROM generate_series(1, 50) i)))));
SELECT wf_start('fan') AS exec \gset
SELECT count(*) AS started FROM claim();
SELECT count(*) FILTER (WHERE done(:exec, 'b' || i, to_jsonb(i)) = 'succeeded') AS completed
FROM generate_series(1, 50) i;
SELECT name, state FROM wf.task WHERE execution_id = :exec AND name = 'total';
SELECT claim();
SELECT done(:exec, 'total');
SELECT state FROM wf.execution WHERE id = :exec;
