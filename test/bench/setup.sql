-- Benchmark fixtures: pg_wf workflows, the floor queue, helpers.
CREATE EXTENSION pg_wf;
CREATE SCHEMA bench;

-- 5-step chain, the throughput workload.
SELECT wf_define('{"name": "chain5", "tasks": {
  "s1": {"action": "work"},
  "s2": {"action": "work", "requires": ["s1"]},
  "s3": {"action": "work", "requires": ["s2"]},
  "s4": {"action": "work", "requires": ["s3"]},
  "s5": {"action": "work", "requires": ["s4"]}}}');
-- one delegated step, for the callback storm
SELECT wf_define('{"name": "approve", "tasks": {"ask": {"action": "partner", "queue": "delegates"}}}');
-- two steps on their own queue, for latency
SELECT wf_define('{"name": "lat", "tasks": {
  "a": {"action": "x", "queue": "lat"},
  "b": {"action": "x", "queue": "lat", "requires": ["a"]}}}');

-- The floor: a minimal hand-written SKIP LOCKED queue doing the same work
-- (claim a task in one transaction; complete it and insert the next step
-- of its chain in another).
CREATE TABLE bench.floor_task (
    id     bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    exec   bigint NOT NULL,
    step   integer NOT NULL,
    state  text NOT NULL DEFAULT 'ready',
    result jsonb
);
CREATE INDEX ON bench.floor_task (id) WHERE state = 'ready';

-- A fan-out of width n joined by one task.
CREATE FUNCTION bench.define_fan(width integer) RETURNS integer LANGUAGE sql AS $$
    SELECT wf_define(jsonb_build_object('name', 'fan' || width, 'tasks',
        (SELECT jsonb_object_agg('b' || i, jsonb_build_object('action', 'work', 'queue', 'fan'))
         FROM generate_series(1, width) i)
        || jsonb_build_object('total', jsonb_build_object('action', 'sum', 'queue', 'fan',
             'requires', (SELECT jsonb_agg('b' || i) FROM generate_series(1, width) i)))))
$$;

-- A workflow with one for_each task over $.input.items (queue "each").
CREATE FUNCTION bench.define_foreach(n integer) RETURNS integer LANGUAGE sql AS $$
    SELECT wf_define(jsonb_build_object('name', 'each' || n, 'tasks', jsonb_build_object(
        'each', jsonb_build_object('action', 'work', 'queue', 'each',
                                   'for_each', '$.input.items', 'input', jsonb_build_object('i', '$.item')))))
$$;

-- A dense graph: task i requires every task before it (n(n-1)/2 edges).
CREATE FUNCTION bench.dense_definition(n integer) RETURNS jsonb LANGUAGE sql AS $$
    SELECT jsonb_build_object('name', 'dense' || n, 'tasks', jsonb_object_agg('t' || i,
        jsonb_build_object('action', 'x', 'requires',
            (SELECT coalesce(jsonb_agg('t' || k), '[]') FROM generate_series(0, i - 1) k))))
    FROM generate_series(0, n - 1) i
$$;
