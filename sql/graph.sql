-- wf_graph(): Graphviz DOT of a workflow and of an execution.
\set VERBOSITY terse

-- Every kind of task and edge: requires, on_success with a condition,
-- on_error, on_complete, a join, for_each, a sub-workflow, engine tasks.
SELECT wf_define('{"name": "pictured", "tasks": {
    "fetch":  {"action": "http.get", "retry": {"count": 2},
               "on_success": [{"task": "each", "when": "$.result.kind == \"list\""}],
               "on_error": ["giveup"], "on_complete": ["audit"]},
    "each":   {"action": "item.work", "for_each": "$.tasks.fetch.result.xs", "concurrency": 2},
    "giveup": {"engine": "fail", "message": "no luck"},
    "audit":  {"action": "log"},
    "child":  {"workflow": "pictured_child", "requires": ["each", "audit"], "join": 1},
    "nap":    {"engine": "sleep", "for": "90s", "requires": ["child"]},
    "end":    {"engine": "noop", "requires": ["nap"]}}}');
SELECT wf_graph('pictured');

-- The newest version is drawn.
SELECT wf_define('{"name": "pictured", "tasks": {"only": {"action": "x"}}}');
SELECT wf_graph('pictured');

-- An execution: states, attempts, for_each item counts, pending tasks.
-- Durations depend on the clock: they are masked.
CREATE FUNCTION graph_of(exec bigint) RETURNS SETOF text LANGUAGE sql AS $$
    SELECT regexp_replace(regexp_replace(l, ' · [0-9.]+ (ms|s|min|h)', ' · <t>', 'g'),
                          'execution [0-9]+', 'execution N')
    FROM regexp_split_to_table(wf_graph(exec), E'\n') l
    WHERE l LIKE '  "%' OR l LIKE '%graph [%'
$$;
SELECT wf_define('{"name": "shown", "input": ["xs"], "task_defaults": {"queue": "graphq"}, "tasks": {
    "fetch": {"action": "get", "retry": {"count": 1}},
    "each":  {"action": "work", "requires": ["fetch"], "for_each": "$.input.xs", "concurrency": 2},
    "after": {"action": "x", "requires": ["each"]},
    "oops":  {"action": "x", "on_error": ["after"]}}}');
SELECT wf_start('shown', '{"xs": [1, 2, 3]}') AS exec \gset
-- (a new session: the graph is not cached yet)
\c -
SELECT * FROM graph_of(:exec);
SELECT claim('graphq');
SELECT done(:exec, 'fetch', '{"m": "boom"}', 'error');
UPDATE wf.task SET not_before = now() WHERE execution_id = :exec;
SELECT claim('graphq');
SELECT done(:exec, 'fetch');
SELECT claim('graphq');
SELECT wf_task_complete(task_id, 'success', '{}', token) FROM claimed
WHERE execution_id = :exec AND task = 'each' ORDER BY task_id LIMIT 1;
SELECT * FROM graph_of(:exec);
SELECT wf_cancel(:exec, 'enough');
SELECT * FROM graph_of(:exec);

-- Names, actions and conditions with quotes are escaped for DOT.
SELECT wf_define('{"name": "quoted", "tasks": {
    "a": {"action": "x", "on_success": [{"task": "b", "when": "$.result.s == \"a\\\"b\""}]},
    "b": {"action": "x"}}}');
SELECT l FROM regexp_split_to_table(wf_graph('quoted'), E'\n') l WHERE l LIKE '%->%';

-- Refusals.
SELECT expect_error($$SELECT wf_graph('no_such_flow')$$);
SELECT expect_error($$SELECT wf_graph(987654321)$$);
SELECT expect_error($$SELECT wf_graph(NULL::text)$$);
SELECT expect_error($$SELECT wf_graph(NULL::bigint)$$);
-- Only wf_admin (and the owner) may draw: a runner may not.
SET ROLE wf_runner;
SELECT expect_error($$SELECT wf_graph('shown')$$);
RESET ROLE;

-- A large picture (a 3,000-task chain, some 400 kB of DOT) is returned
-- whole: it is made outside SPI's memory, which SPI_finish frees. (It was
-- not: with freed memory overwritten, as test/run.sh's cluster does with
-- MALLOC_PERTURB_, the result was 81 bytes of garbage.)
SELECT wf_define(jsonb_build_object('name', 'long_chain', 'tasks',
    (SELECT jsonb_object_agg('t' || i, CASE WHEN i = 1 THEN jsonb_build_object('action', 'x')
            ELSE jsonb_build_object('action', 'x', 'requires', jsonb_build_array('t' || (i - 1))) END)
     FROM generate_series(1, 3000) i)));
SELECT length(wf_graph('long_chain')) > 300000 AS large,
       wf_graph('long_chain') LIKE '%"t2999" -> "t3000"%}' || E'\n' AS whole;
SELECT wf_start('long_chain') AS exec \gset
SELECT length(wf_graph(:exec)) > 300000 AS large;
