-- wf_task_complete_batch applies its items exactly as wf_task_complete
-- one at a time would (executions in id order, tasks of one execution in
-- id order): the same task states, results, errors, inputs, vars, outputs
-- and history, row for row in the same order. Two twin groups of
-- executions are driven by the same deterministic runner, group a with
-- one wf_task_complete per task, group b with one batch per round; the
-- workflow has joins, a skipped branch and an inclusive merge, retries,
-- a for_each (one item at a time), publish and expressions, an engine
-- task and a sub-workflow. (pg_wf.complete_as_batch runs every other
-- suite through the batch path as well: test/run.sh.)
SET client_min_messages = warning;

CREATE FUNCTION bq_define(g text) RETURNS void LANGUAGE sql AS $$
    SELECT wf_define(jsonb_build_object('name', 'bq_child_' || g,
        'output', jsonb_build_object('y', '$.tasks.c.result.v'),
        'tasks', jsonb_build_object('c', jsonb_build_object('action', 'w', 'queue', 'bq_' || g,
                                         'input', jsonb_build_object('v', '$.input.x')))));
    SELECT wf_define(jsonb_build_object('name', 'bq_' || g,
        'output', jsonb_build_object('sum', '$.vars.sum', 'each', '$.tasks.each.result',
                                     'sub', '$.tasks.sub.result'),
        'tasks', jsonb_build_object(
          'start', jsonb_build_object('action', 'w', 'queue', 'bq_' || g, 'input', jsonb_build_object('v', '$.input.seed'),
                     'on_success', jsonb_build_array(jsonb_build_object('task', 'maybe', 'when', '$.result.v > 100'))),
          'left', jsonb_build_object('action', 'w', 'queue', 'bq_' || g, 'requires', jsonb_build_array('start'),
                     'input', jsonb_build_object('v', '$.tasks.start.result.v')),
          'right', jsonb_build_object('action', 'w', 'queue', 'bq_' || g, 'requires', jsonb_build_array('start'),
                     'retry', jsonb_build_object('count', 2)),
          'maybe', jsonb_build_object('action', 'w', 'queue', 'bq_' || g),
          'join', jsonb_build_object('action', 'w', 'queue', 'bq_' || g, 'requires', jsonb_build_array('left', 'right'),
                     'input', jsonb_build_object('v', '$.tasks.left.result.v'),
                     'publish', jsonb_build_object('sum', '$.result.v')),
          'merge', jsonb_build_object('engine', 'noop', 'requires', jsonb_build_array('join', 'maybe'), 'join', 'inclusive'),
          'each', jsonb_build_object('action', 'w', 'queue', 'bq_' || g, 'requires', jsonb_build_array('merge'),
                     'for_each', '$.input.items', 'concurrency', 1, 'input', jsonb_build_object('i', '$.item'),
                     'retry', jsonb_build_object('count', 1)),
          'sub', jsonb_build_object('workflow', 'bq_child_' || g, 'requires', jsonb_build_array('merge'),
                     'input', jsonb_build_object('x', '$.vars.sum')),
          'end', jsonb_build_object('action', 'w', 'queue', 'bq_' || g, 'requires', jsonb_build_array('each', 'sub'),
                     'input', jsonb_build_object('v', '$.vars.sum')))));
$$;
SELECT bq_define('a'), bq_define('b');

-- The runner: "right" and item 2 fail their first attempt; the rest
-- succeed with v + 1.
CREATE FUNCTION bq_outcome(task text, input jsonb, attempt integer, OUT status text, OUT result jsonb)
LANGUAGE sql AS $$
    SELECT CASE WHEN attempt = 1 AND (task = 'right' OR input->>'i' = '2') THEN 'error' ELSE 'success' END,
           CASE WHEN attempt = 1 AND (task = 'right' OR input->>'i' = '2') THEN jsonb_build_object('boom', task)
                ELSE jsonb_build_object('v', coalesce((input->>'v')::int, (input->>'i')::int, 0) + 1) END
$$;

CREATE TABLE bq_states (g text, round integer, n integer, task text, state text);

-- One round of group g: claim what is ready, complete it (one by one, in
-- the batch's order, or in one batch), the first success twice (a
-- duplicate: the same outcome again is accepted and changes nothing).
CREATE FUNCTION bq_round(g text, batched boolean, round integer) RETURNS integer LANGUAGE plpgsql AS $$
DECLARE
    c record;
    k integer := 0;
    ids bigint[];
    sts text[];
    res jsonb[];
    toks text[];
    dup integer;
    again boolean := false;
BEGIN
    CREATE TEMP TABLE IF NOT EXISTS bq_claimed AS SELECT * FROM wf_claim() WHERE false;
    TRUNCATE bq_claimed;
    INSERT INTO bq_claimed SELECT * FROM wf_claim('bq_' || g, 100, '5 minutes');
    IF NOT batched THEN
        FOR c IN SELECT q.*, o.status, o.result FROM bq_claimed q,
                 LATERAL bq_outcome(q.task, q.input, q.attempt) o ORDER BY q.execution_id, q.task_id LOOP
            k := k + 1;
            INSERT INTO bq_states VALUES (g, round, k, c.task, wf_task_complete(c.task_id, c.status, c.result, c.token));
            IF NOT again AND c.status = 'success' THEN
                again := true;
                INSERT INTO bq_states VALUES (g, round, 0, c.task, wf_task_complete(c.task_id, c.status, c.result, c.token));
            END IF;
        END LOOP;
    ELSE
        SELECT array_agg(q.task_id ORDER BY q.execution_id, q.task_id), array_agg(o.status ORDER BY q.execution_id, q.task_id),
               array_agg(o.result ORDER BY q.execution_id, q.task_id), array_agg(q.token ORDER BY q.execution_id, q.task_id)
          INTO ids, sts, res, toks
          FROM bq_claimed q, LATERAL bq_outcome(q.task, q.input, q.attempt) o;
        IF ids IS NOT NULL THEN
            -- the first success again at the end: a duplicate
            dup := array_position(sts, 'success');
            IF dup IS NOT NULL THEN
                ids := ids || ids[dup];
                sts := sts || sts[dup];
                res := res || res[dup];
                toks := toks || toks[dup];
            END IF;
            INSERT INTO bq_states
            SELECT g, round, CASE WHEN dup IS NOT NULL AND b.ord = array_length(ids, 1) THEN 0 ELSE b.ord END,
                   (SELECT task FROM bq_claimed WHERE task_id = b.task_id), b.state
            FROM wf_task_complete_batch(ids, sts, res, toks) WITH ORDINALITY AS b(task_id, state, ord);
            k := array_length(ids, 1);
        END IF;
    END IF;
    RETURN k;
END
$$;

SELECT count(wf_start('bq_' || g, jsonb_build_object('seed', 10 * i, 'items', jsonb_build_array(i, 2, 3 * i))))
FROM unnest(ARRAY['a', 'b']) g, generate_series(1, 3) i;

DO $$
BEGIN
    FOR r IN 1 .. 30 LOOP
        PERFORM bq_round('a', false, r);
        PERFORM bq_round('b', true, r);
        PERFORM wf_tick();          -- sub-workflow ends reach their parents
    END LOOP;
END
$$;

-- Every execution ended, and the two groups did the same work.
SELECT workflow, state, count(*) FROM wf.execution WHERE workflow LIKE 'bq%'
GROUP BY 1, 2 ORDER BY 1, 2;
SELECT g, count(*) AS completions FROM bq_states GROUP BY g ORDER BY g;

-- Each group's executions, numbered in id order (parents, then children).
CREATE VIEW bq_exec AS
SELECT right(workflow, 1) AS g, workflow LIKE 'bq_child%' AS child, id,
       row_number() OVER (PARTITION BY workflow ORDER BY id) AS n, state, output, vars
FROM wf.execution WHERE workflow LIKE 'bq%';

CREATE VIEW bq_history AS
SELECT x.g, x.child, x.n, row_number() OVER (PARTITION BY e.execution_id ORDER BY e.id) AS k,
       e.task, e.state, e.detail - 'not_before' - 'child_execution_id' - 'deadline' AS detail
FROM wf.event e JOIN bq_exec x ON x.id = e.execution_id;

CREATE VIEW bq_tasks AS
SELECT x.g, x.child, x.n, t.name, t.item, t.state, t.attempt, t.iteration, t.input, t.result, t.error
FROM wf.task t JOIN bq_exec x ON x.id = t.execution_id;

-- Differences between the groups (none).
(SELECT child, n, k, task, state, detail FROM bq_history WHERE g = 'a'
 EXCEPT ALL SELECT child, n, k, task, state, detail FROM bq_history WHERE g = 'b')
UNION ALL
(SELECT child, n, k, task, state, detail FROM bq_history WHERE g = 'b'
 EXCEPT ALL SELECT child, n, k, task, state, detail FROM bq_history WHERE g = 'a');
(SELECT child, n, name, item, state, attempt, iteration, input, result, error FROM bq_tasks WHERE g = 'a'
 EXCEPT ALL SELECT child, n, name, item, state, attempt, iteration, input, result, error FROM bq_tasks WHERE g = 'b')
UNION ALL
(SELECT child, n, name, item, state, attempt, iteration, input, result, error FROM bq_tasks WHERE g = 'b'
 EXCEPT ALL SELECT child, n, name, item, state, attempt, iteration, input, result, error FROM bq_tasks WHERE g = 'a');
(SELECT child, n, state, output, vars FROM bq_exec WHERE g = 'a'
 EXCEPT ALL SELECT child, n, state, output, vars FROM bq_exec WHERE g = 'b')
UNION ALL
(SELECT child, n, state, output, vars FROM bq_exec WHERE g = 'b'
 EXCEPT ALL SELECT child, n, state, output, vars FROM bq_exec WHERE g = 'a');
(SELECT round, n, task, state FROM bq_states WHERE g = 'a'
 EXCEPT ALL SELECT round, n, task, state FROM bq_states WHERE g = 'b')
UNION ALL
(SELECT round, n, task, state FROM bq_states WHERE g = 'b'
 EXCEPT ALL SELECT round, n, task, state FROM bq_states WHERE g = 'a');

-- What the comparison covered: the rows it compared, by kind.
SELECT count(*) FILTER (WHERE state = 'skipped') AS skipped,
       count(*) FILTER (WHERE state = 'ready' AND detail ? 'retry') AS retries,
       count(*) AS history_rows
FROM bq_history WHERE g = 'b';
SELECT output FROM bq_exec WHERE g = 'b' AND NOT child ORDER BY n LIMIT 1;
-- the batch path took the usual successes set-based (executions that had
-- one task in the batch and no parent): start, join, the items, end
SELECT count(*) FILTER (WHERE n > 0) AS completed, count(*) FILTER (WHERE n = 0) AS duplicates
FROM bq_states WHERE g = 'b';

RESET client_min_messages;
