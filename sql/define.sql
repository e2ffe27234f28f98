-- wf_define: validation (every refusal names the JSON path) and versions.
\pset format unaligned
\pset tuples_only on

-- A valid definition is stored as version 1, then 2, 3...
SELECT wf_define('{"name": "greet", "tasks": {"hello": {"action": "say"}}}');
SELECT wf_define('{"name": "greet", "description": "v2", "tasks": {"hello": {"action": "say", "queue": "fast"}}}');
SELECT name, version, definition->>'description' FROM wf.workflow WHERE name = 'greet' ORDER BY version;

-- Stored versions are immutable.
SELECT expect_error($$UPDATE wf.workflow SET definition = '{}' WHERE name = 'greet'$$);

SELECT count(*) AS workflows_before FROM wf.workflow;

-- The definition itself
SELECT expect_error($$SELECT wf_define(NULL)$$);
SELECT expect_error($$SELECT wf_define('[]')$$);
SELECT expect_error($$SELECT wf_define('"flow"')$$);
SELECT expect_error($$SELECT wf_define('{"tasks": {"a": {"action": "x"}}}')$$);
SELECT expect_error($$SELECT wf_define('{"name": 7, "tasks": {"a": {"action": "x"}}}')$$);
SELECT expect_error($$SELECT wf_define('{"name": "my flow", "tasks": {"a": {"action": "x"}}}')$$);
SELECT expect_error($$SELECT wf_define('{"name": "1st", "tasks": {"a": {"action": "x"}}}')$$);
SELECT expect_error(format($$SELECT wf_define('{"name": "%s", "tasks": {"a": {"action": "x"}}}')$$, repeat('n', 64)));
SELECT expect_error($$SELECT wf_define('{"name": "x", "tasks": {"a": {"action": "x"}}, "outputs": {}}')$$);
SELECT expect_error($$SELECT wf_define('{"name": "x", "description": 1, "tasks": {"a": {"action": "x"}}}')$$);

-- tasks
SELECT expect_error($$SELECT wf_define('{"name": "x"}')$$);
SELECT expect_error($$SELECT wf_define('{"name": "x", "tasks": []}')$$);
SELECT expect_error($$SELECT wf_define('{"name": "x", "tasks": {}}')$$);
SELECT expect_error($$SELECT wf_define('{"name": "x", "tasks": {"a": "x"}}')$$);
SELECT expect_error($$SELECT wf_define('{"name": "x", "tasks": {"a": {}}}')$$);
SELECT expect_error($$SELECT wf_define('{"name": "x", "tasks": {"a": {"action": ["x"]}}}')$$);
SELECT expect_error($$SELECT wf_define('{"name": "x", "tasks": {"a": {"action": "send mail"}}}')$$);
SELECT expect_error($$SELECT wf_define('{"name": "x", "tasks": {"a": {"action": "x", "retries": 3}}}')$$);
SELECT expect_error($$SELECT wf_define('{"name": "x", "tasks": {"a-b": {"action": "x"}}}')$$);
SELECT expect_error($$SELECT wf_define('{"name": "x", "tasks": {"a": {"action": "x", "queue": "Fast"}}}')$$);
SELECT expect_error($$SELECT wf_define('{"name": "x", "tasks": {"a": {"action": "x", "queue": 1}}}')$$);
SELECT expect_error($$SELECT wf_define('{"name": "x", "tasks": {"a": {"action": "x", "description": false}}}')$$);

-- requires
SELECT expect_error($$SELECT wf_define('{"name": "x", "tasks": {"a": {"action": "x", "requires": "b"}, "b": {"action": "x"}}}')$$);
SELECT expect_error($$SELECT wf_define('{"name": "x", "tasks": {"a": {"action": "x", "requires": [1]}}}')$$);
SELECT expect_error($$SELECT wf_define('{"name": "x", "tasks": {"a": {"action": "x", "requires": ["nope"]}}}')$$);
SELECT expect_error($$SELECT wf_define('{"name": "x", "tasks": {"a": {"action": "x", "requires": ["a"]}}}')$$);
SELECT expect_error($$SELECT wf_define('{"name": "x", "tasks": {"a": {"action": "x"}, "b": {"action": "x", "requires": ["a", "a"]}}}')$$);
SELECT expect_error($$SELECT wf_define('{"name": "x", "tasks": {"a": {"action": "x", "requires": ["b"]}, "b": {"action": "x", "requires": ["a"]}}}')$$);
SELECT expect_error($$SELECT wf_define('{"name": "x", "tasks": {"start": {"action": "x"}, "a": {"action": "x", "requires": ["start", "c"]}, "b": {"action": "x", "requires": ["a"]}, "c": {"action": "x", "requires": ["b"]}}}')$$);

-- expressions
SELECT expect_error($$SELECT wf_define('{"name": "x", "tasks": {"a": {"action": "x", "input": {"v": "$.input.("}}}}')$$);
SELECT expect_error($$SELECT wf_define('{"name": "x", "tasks": {"a": {"action": "x", "input": {"v": "$5 off"}}}}')$$);
SELECT expect_error($$SELECT wf_define('{"name": "x", "tasks": {"a": {"action": "x", "input": {"list": [1, "$.x y"]}}}}')$$);
SELECT expect_error($$SELECT wf_define('{"name": "x", "tasks": {"a": {"action": "x", "publish": ["$.result"]}}}')$$);
SELECT expect_error($$SELECT wf_define('{"name": "x", "tasks": {"a": {"action": "x", "publish": {"my var": "$.result"}}}}')$$);
SELECT expect_error($$SELECT wf_define('{"name": "x", "tasks": {"a": {"action": "x", "publish": {"v": "$.result ?? 1"}}}}')$$);
SELECT expect_error($$SELECT wf_define('{"name": "x", "tasks": {"a": {"action": "x"}}, "output": {"v": "$.tasks.b.result"}}')$$);
SELECT expect_error($$SELECT wf_define('{"name": "x", "tasks": {"a": {"action": "x"}}, "output": "$.("}')$$);

-- input declaration
SELECT expect_error($$SELECT wf_define('{"name": "x", "input": "a", "tasks": {"a": {"action": "x"}}}')$$);
SELECT expect_error($$SELECT wf_define('{"name": "x", "input": [1], "tasks": {"a": {"action": "x"}}}')$$);
SELECT expect_error($$SELECT wf_define('{"name": "x", "input": ["a", "a"], "tasks": {"a": {"action": "x"}}}')$$);
SELECT expect_error($$SELECT wf_define('{"name": "x", "input": [{"a": 1, "b": 2}], "tasks": {"a": {"action": "x"}}}')$$);
SELECT expect_error($$SELECT wf_define('{"name": "x", "input": [""], "tasks": {"a": {"action": "x"}}}')$$);

-- limits
SELECT expect_error($$SELECT wf_define(jsonb_build_object('name', 'big', 'tasks',
    jsonb_build_object('a', jsonb_build_object('action', 'x', 'input', jsonb_build_object('pad', repeat('x', 1100000))))))$$);
SELECT expect_error($$SELECT wf_define(jsonb_build_object('name', 'wide', 'tasks',
    (SELECT jsonb_object_agg('t' || i, '{"action": "x"}'::jsonb) FROM generate_series(1, 10001) i)))$$);
SELECT expect_error(format($$SELECT wf_define('{"name": "x", "tasks": {"a": {"action": "x", "input": {"v": "$.input.%s"}}}}')$$, repeat('a', 8200)));
SELECT expect_error(format($$SELECT wf_define('{"name": "x", "tasks": {"%s": {"action": "x"}}}')$$, repeat('t', 64)));

-- Nothing was stored by any refusal.
SELECT count(*) AS workflows_after FROM wf.workflow;

-- At the limits is fine: 10,000 tasks in a chain, "$$" escapes, every construct.
SELECT wf_define(jsonb_build_object('name', 'chain', 'tasks',
    (SELECT jsonb_object_agg('t' || i,
        CASE WHEN i = 1 THEN '{"action": "x"}'::jsonb
             ELSE jsonb_build_object('action', 'x', 'requires', jsonb_build_array('t' || (i - 1))) END)
     FROM generate_series(1, 10000) i)));
SELECT wf_define('{
  "name": "full",
  "description": "every key of the language",
  "input": ["order", {"currency": "EUR"}],
  "tasks": {
    "check": {"action": "orders.check", "queue": "fast", "description": "validate",
              "input": {"order": "$.input.order", "price": "$$9.99", "n": 1},
              "publish": {"ok": "$.result.ok"}},
    "ship":  {"action": "orders.ship", "requires": ["check"],
              "input": {"ok": "$.vars.ok", "checked": "$.tasks.check.result"}}
  },
  "output": {"shipped": "$.tasks.ship.result", "currency": "$.input.currency"}
}');
