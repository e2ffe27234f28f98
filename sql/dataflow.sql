-- Data flow: input declarations, expressions, publish, vars and output.
SELECT wf_define('{
  "name": "order",
  "input": ["order_id", {"currency": "EUR"}, {"lines": []}],
  "tasks": {
    "price": {"action": "price",
              "input": {"id": "$.input.order_id", "currency": "$.input.currency",
                        "count": "$.input.lines.size()", "skus": "$.input.lines[*].sku",
                        "first": "$.input.lines[0].sku", "missing": "$.input.nope",
                        "literal": "$$ 5", "plain": "text", "nested": {"deep": ["$.input.order_id", 2]}},
              "publish": {"total": "$.result.total", "big": "$.result.total > 100"}},
    "charge": {"action": "charge", "requires": ["price"],
               "input": {"amount": "$.vars.total", "big": "$.vars.big",
                         "all": "$.tasks.price.result", "state": "$.tasks.price.state"},
               "publish": {"charged": "$.result.ok", "total": "$.vars.total * 2"}}
  },
  "output": {"order": "$.input.order_id", "total": "$.vars.total", "charged": "$.vars.charged",
             "receipt": "$.tasks.charge.result.receipt"}
}');

-- Input is checked against the declaration; defaults fill in.
SELECT expect_error($$SELECT wf_start('order')$$);
SELECT expect_error($$SELECT wf_start('order', '{"order_id": 1, "colour": "red"}')$$);
SELECT expect_error($$SELECT wf_start('order', '[1]')$$);
SELECT expect_error($$SELECT wf_start('nope')$$);
SELECT expect_error($$SELECT wf_start(NULL)$$);
SELECT count(*) AS executions_after_refusals FROM wf.execution WHERE workflow IN ('order', 'nope');

SELECT wf_start('order', '{"order_id": 42, "lines": [{"sku": "A"}, {"sku": "B"}]}') AS exec \gset
SELECT input FROM wf.execution WHERE id = :exec;
SELECT claim();
SELECT jsonb_pretty(input) FROM claimed WHERE execution_id = :exec AND task = 'price';
SELECT done(:exec, 'price', '{"total": 150.5}');
SELECT vars FROM wf.execution WHERE id = :exec;
SELECT claim();
SELECT jsonb_pretty(input) FROM claimed WHERE execution_id = :exec AND task = 'charge';
SELECT done(:exec, 'charge', '{"ok": true, "receipt": "R-1"}');
SELECT state, vars, output FROM wf.execution WHERE id = :exec;

-- Without "output" the execution's output is its vars; NULL input is {}.
SELECT wf_define('{"name": "vars_out", "tasks": {"a": {"action": "x", "publish": {"got": "$.result"}}}}');
SELECT wf_start('vars_out', NULL) AS exec \gset
SELECT claim();
SELECT done(:exec, 'a', '[1, 2]');
SELECT state, output FROM wf.execution WHERE id = :exec;

-- A whole-value expression, and an expression failing at run time:
-- the completion stands, the execution fails with the expression's error.
SELECT wf_define('{"name": "strict", "tasks": {
    "a": {"action": "x", "input": "$.input"},
    "b": {"action": "x", "requires": ["a"], "input": {"v": "$.tasks.a.result.n + 1"}}}}');
SELECT wf_start('strict', '{"k": "v"}') AS exec \gset
SELECT claim();
SELECT input FROM claimed WHERE execution_id = :exec;
SELECT done(:exec, 'a', '{"n": "one"}');
SELECT state, error FROM wf.execution WHERE id = :exec;
SELECT name, state FROM wf.task WHERE execution_id = :exec ORDER BY id;

-- An expression failing at wf_start refuses the start and stores nothing.
SELECT wf_define('{"name": "bad_start", "tasks": {"a": {"action": "x", "input": {"v": "$.input.n + 1"}}}}');
SELECT expect_error($$SELECT wf_start('bad_start', '{"n": "one"}')$$);
SELECT count(*) FROM wf.execution WHERE workflow = 'bad_start';

-- publish failing at run time fails the execution too.
SELECT wf_define('{"name": "bad_publish", "tasks": {"a": {"action": "x", "publish": {"v": "$.result.n * 2"}}}}');
SELECT wf_start('bad_publish') AS exec \gset
SELECT claim();
SELECT done(:exec, 'a', '{"n": "two"}');
SELECT state, error->>'type' AS type, error->>'task' AS task FROM wf.execution WHERE id = :exec;
