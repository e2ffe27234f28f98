-- wf_task_complete refuses bad calls with a documented SQLSTATE and changes nothing.
SELECT wf_define('{"name": "errs", "tasks": {"a": {"action": "x"}, "b": {"action": "x", "requires": ["a"]}}}');
SELECT wf_start('errs') AS exec \gset
SELECT id AS a FROM wf.task WHERE execution_id = :exec AND name = 'a' \gset

-- Not claimed yet: no token can be right, and an override finds it not running.
SELECT expect_error(format('SELECT wf_task_complete(%s, %L, NULL, %L)', :a, 'success', 'x'));
SELECT expect_error(format('SELECT wf_task_complete(%s, %L)', :a, 'success'));
SELECT claim();
SELECT token AS tok FROM claimed WHERE execution_id = :exec AND task = 'a' \gset

CREATE TEMP TABLE before AS SELECT (SELECT count(*) FROM wf.event) AS events,
    (SELECT count(*) FROM wf.task) AS tasks;

SELECT expect_error($$SELECT wf_task_complete(NULL, 'success')$$);
SELECT expect_error(format('SELECT wf_task_complete(%s, NULL)', :a));
SELECT expect_error(format('SELECT wf_task_complete(%s, %L)', :a, 'succeeded'));
SELECT expect_error(format('SELECT wf_task_complete(%s, %L)', :a, 'SUCCESS'));
SELECT expect_error($$SELECT wf_task_complete(999999999, 'success', NULL, 'x')$$);
SELECT expect_error(format('SELECT wf_task_complete(%s, %L, NULL, %L)', :a, 'success', 'wrong'));
SELECT expect_error(format('SELECT wf_task_complete(%s, %L, NULL, %L)', :a, 'success', ''));
SELECT expect_error(format('SELECT wf_task_complete(%s, %L, NULL, %L)', :a, 'success', upper(:'tok')));

-- None of that changed anything.
SELECT (SELECT count(*) FROM wf.event) - events AS new_events,
       (SELECT count(*) FROM wf.task) - tasks AS new_tasks FROM before;
SELECT state, attempt, result FROM wf.task WHERE id = :a;

-- Wrong claim functions arguments.
SELECT expect_error($$SELECT * FROM wf_claim(NULL)$$);
SELECT expect_error($$SELECT * FROM wf_claim('default', 0)$$);
SELECT expect_error($$SELECT * FROM wf_claim('default', 1001)$$);
SELECT expect_error($$SELECT * FROM wf_claim('default', NULL)$$);
SELECT expect_error($$SELECT * FROM wf_claim('default', 1, '0 seconds')$$);
SELECT expect_error($$SELECT * FROM wf_claim('default', 1, '-1 minute')$$);
SELECT expect_error($$SELECT * FROM wf_claim('default', 1, NULL)$$);

-- The right token works once; a stale one after that is refused.
SELECT wf_task_complete(:a, 'success', '{"v": 1}', :'tok');
SELECT wf_task_complete(:a, 'success', '{"v": 1}', :'tok');
SELECT expect_error(format('SELECT wf_task_complete(%s, %L, %L, %L)', :a, 'success', '{"v": 2}', :'tok'));
SELECT expect_error(format('SELECT wf_task_complete(%s, %L, %L, %L)', :a, 'error', '{"v": 1}', :'tok'));
SELECT expect_error(format('SELECT wf_task_complete(%s, %L, %L, %L)', :a, 'success', '{"v": 1}', 'wrong'));

-- A NULL token is an operator override: refused to others, recorded when used.
SELECT claim();
SELECT id AS b FROM wf.task WHERE execution_id = :exec AND name = 'b' \gset
CREATE ROLE wf_test_runner;
GRANT wf_runner TO wf_test_runner;
SET ROLE wf_test_runner;
SELECT expect_error(format('SELECT wf_task_complete(%s, %L)', :b, 'success'));
-- Runners may not define or start workflows, nor read the tables directly.
SELECT expect_error($$SELECT wf_start('errs')$$);
SELECT expect_error($$SELECT wf_define('{"name": "x", "tasks": {"a": {"action": "x"}}}')$$);
SELECT expect_error($$SELECT count(*) FROM wf.task$$);
RESET ROLE;
-- ... but may complete with the token.
SELECT token AS btok FROM claimed WHERE execution_id = :exec AND task = 'b' \gset
SET ROLE wf_test_runner;
SELECT wf_task_complete(:b, 'success', '{"by": "runner"}', :'btok');
RESET ROLE;
SELECT state FROM wf.execution WHERE id = :exec;

-- The owner (here a superuser) may override a stuck task; history says so.
SELECT wf_start('errs') AS exec \gset
SELECT claim();
SELECT id AS a FROM wf.task WHERE execution_id = :exec AND name = 'a' \gset
SELECT wf_task_complete(:a, 'success', '{"fixed": "by hand"}');
SELECT task, state, detail - 'by' AS detail, detail->>'by' = current_user AS by_ok, actor = current_user AS actor_ok FROM wf.event WHERE task_id = :a ORDER BY id;
DROP ROLE wf_test_runner;

-- Batch completion: many completions in one transaction, each as wf_task_complete.
SELECT wf_define('{"name": "batch", "tasks": {"a": {"action": "x"}, "b": {"action": "x", "requires": ["a"]}}}');
SELECT count(wf_start('batch')) FROM generate_series(1, 3);
CREATE TEMP TABLE got AS SELECT * FROM wf_claim('default', 10) WHERE task = 'a';
SELECT count(*) FROM got;
-- (in descending id order: the batch locks executions in ascending order anyway)
SELECT state, count(*) FROM wf_task_complete_batch(
    (SELECT array_agg(task_id ORDER BY task_id DESC) FROM got),
    (SELECT array_agg('success'::text) FROM got),
    (SELECT array_agg(jsonb_build_object('n', task_id) ORDER BY task_id DESC) FROM got),
    (SELECT array_agg(token ORDER BY task_id DESC) FROM got)) GROUP BY state;
SELECT count(*) AS results_match FROM wf.task t JOIN got USING (execution_id)
WHERE t.name = 'a' AND t.result = jsonb_build_object('n', t.id);
SELECT count(*) AS b_ready FROM wf.task t JOIN got ON got.execution_id = t.execution_id
WHERE t.name = 'b' AND t.state = 'ready';
-- One bad item refuses the whole batch, naming it; nothing is applied.
CREATE TEMP TABLE got2 AS SELECT * FROM wf_claim('default', 10) WHERE task = 'b';
SELECT expect_error(format('SELECT * FROM wf_task_complete_batch(%L, %L, NULL, %L)',
    (SELECT array_agg(task_id) FROM got2), (SELECT array_agg('success'::text) FROM got2),
    (SELECT array_agg(CASE WHEN task_id = (SELECT max(task_id) FROM got2) THEN 'wrong' ELSE token END) FROM got2)));
SELECT count(*) AS still_running FROM wf.task t JOIN got2 USING (execution_id) WHERE t.name = 'b' AND t.state = 'running';
SELECT expect_error($$SELECT * FROM wf_task_complete_batch(ARRAY[999999999], ARRAY['success'])$$);
SELECT expect_error($$SELECT * FROM wf_task_complete_batch(ARRAY[1, 2], ARRAY['success'])$$);
SELECT expect_error($$SELECT * FROM wf_task_complete_batch(ARRAY[1], ARRAY['done'])$$);
SELECT expect_error($$SELECT * FROM wf_task_complete_batch(NULL, ARRAY['success'])$$);
SELECT expect_error($$SELECT * FROM wf_task_complete_batch(ARRAY[NULL::bigint], ARRAY['success'])$$);
SELECT count(*) AS empty_batch FROM wf_task_complete_batch('{}', '{}');
-- The good items, alone, go through.
SELECT count(*) FROM wf_task_complete_batch(
    (SELECT array_agg(task_id) FROM got2), (SELECT array_agg('success'::text) FROM got2),
    NULL, (SELECT array_agg(token) FROM got2)) WHERE state = 'succeeded';
SELECT count(*) AS succeeded FROM wf.execution WHERE workflow = 'batch' AND state = 'succeeded';
-- A batch holds at most 1000 completions.
SELECT expect_error($$SELECT * FROM wf_task_complete_batch(
    (SELECT array_agg(g::bigint) FROM generate_series(1, 1001) g),
    array_fill('success'::text, ARRAY[1001]))$$);

-- wf_task_complete_claim: the completions and the next claim in one
-- transaction. Its own queue, so that the claims are exact.
SELECT wf_define('{"name": "roundtrip", "tasks": {
    "a": {"action": "x", "queue": "rt"}, "b": {"action": "x", "queue": "rt", "requires": ["a"]}}}');
SELECT wf_start('roundtrip') AS rt1 \gset
SELECT wf_start('roundtrip') AS rt2 \gset
-- empty arrays: just a claim
CREATE TEMP TABLE rt AS SELECT * FROM wf_task_complete_claim('{}', '{}', queue => 'rt');
SELECT execution_id = :rt1 AS first, task, attempt FROM rt;
-- complete rt1's a and claim two: rt2's a (oldest) and rt1's b (just made ready)
CREATE TEMP TABLE rt_next AS
SELECT * FROM wf_task_complete_claim((SELECT array_agg(task_id) FROM rt), ARRAY['success'],
                                     ARRAY['{"n": 1}'::jsonb], (SELECT array_agg(token) FROM rt),
                                     'rt', 2, '1 minute', 'runner-7');
SELECT execution_id = :rt1 AS of_rt1, task, attempt FROM rt_next ORDER BY execution_id, task;
SELECT name, state, result, runner FROM wf.task WHERE execution_id = :rt1 ORDER BY id;
-- a refused completion refuses the claim too: nothing changes
SELECT expect_error(format('SELECT * FROM wf_task_complete_claim(%L, %L, NULL, %L, %L, 5)',
    (SELECT array_agg(task_id) FROM rt_next), (SELECT array_agg('success'::text) FROM rt_next),
    (SELECT array_agg('wrong'::text) FROM rt_next), 'rt'));
SELECT name, state FROM wf.task WHERE execution_id IN (:rt1, :rt2) ORDER BY execution_id, id;
-- and a refused claim refuses the completions
SELECT expect_error(format('SELECT * FROM wf_task_complete_claim(%L, %L, NULL, %L, %L, 0)',
    (SELECT array_agg(task_id) FROM rt_next), (SELECT array_agg('success'::text) FROM rt_next),
    (SELECT array_agg(token) FROM rt_next), 'rt'));
SELECT count(*) AS still_running FROM wf.task WHERE execution_id IN (:rt1, :rt2) AND state = 'running';
SELECT expect_error($$SELECT * FROM wf_task_complete_claim(NULL, NULL)$$);
SELECT expect_error($$SELECT * FROM wf_task_complete_claim('{}', '{}', queue => NULL)$$);
-- both completed: rt1 ends, and the claim takes rt2's b, made ready by it
SELECT task, attempt FROM wf_task_complete_claim((SELECT array_agg(task_id) FROM rt_next),
    (SELECT array_agg('success'::text) FROM rt_next), NULL, (SELECT array_agg(token) FROM rt_next), 'rt', 10);
SELECT id = :rt1 AS rt1, state FROM wf.execution WHERE id IN (:rt1, :rt2) ORDER BY id;
