-- Events by correlation key: {"engine": "wait"} and wf_signal().
\set VERBOSITY terse

SELECT wf_define('{"name": "ev_order", "input": ["order_id"], "tasks": {
    "pay":  {"engine": "wait", "event": "payment.received", "key": "$.input.order_id",
             "timeout": "3 days", "on_error": ["chase"]},
    "ship": {"action": "ship", "queue": "ev", "requires": ["pay"],
             "input": {"paid": "$.tasks.pay.result.payload.amount", "via": "$.tasks.pay.result.event"}},
    "chase": {"action": "remind", "queue": "ev"}}}');
SELECT wf_start('ev_order', '{"order_id": 42}') AS exec \gset
SELECT name, state, deadline > now() + interval '2 days' AS deadline_set FROM wf.task WHERE execution_id = :exec;
SELECT event, key FROM wf.wait WHERE execution_id = :exec;
SELECT task, state, detail FROM history(:exec) WHERE task = 'pay';
-- another key, another event: nobody waits
SELECT wf_signal('payment.received', '41');
SELECT wf_signal('payment.refused', '42');
-- the right one: the wait succeeds with the event, and what follows goes on
SELECT wf_signal('payment.received', '42', '{"amount": 10}');
SELECT name, state, result - 'at' AS result, input FROM wf.task WHERE execution_id = :exec ORDER BY id;
SELECT (result->>'at')::timestamptz <= now() AS at_ok FROM wf.task WHERE execution_id = :exec AND name = 'pay';
SELECT count(*) AS waits_left FROM wf.wait WHERE execution_id = :exec;
-- a second signal finds nobody waiting
SELECT wf_signal('payment.received', '42', '{"amount": 99}');

-- Several events: the first to arrive wins (deferred choice); the result
-- says which, so "when" conditions route on it.
SELECT wf_define('{"name": "ev_choice", "input": ["id"], "tasks": {
    "decide": {"engine": "wait", "event": ["order.approved", "order.rejected"], "key": "$.input.id",
               "on_success": [{"task": "ok", "when": "$.result.event == \"order.approved\""},
                              {"task": "no", "when": "$.result.event == \"order.rejected\""}]},
    "ok": {"action": "x", "queue": "ev"}, "no": {"action": "x", "queue": "ev"}}}');
SELECT wf_start('ev_choice', '{"id": "A-1"}') AS exec \gset
SELECT event, key FROM wf.wait WHERE execution_id = :exec ORDER BY event;
SELECT wf_signal('order.rejected', 'A-1', '{"why": "stock"}');
SELECT name, state, result->>'event' AS event FROM wf.task WHERE execution_id = :exec ORDER BY id;
SELECT wf_signal('order.approved', 'A-1');
SELECT count(*) AS waits_left FROM wf.wait WHERE execution_id = :exec;

-- Every task waiting on the key, in every execution.
SELECT wf_start('ev_order', '{"order_id": 7}') AS e1 \gset
SELECT wf_start('ev_order', '{"order_id": 7}') AS e2 \gset
SELECT wf_signal('payment.received', '7', '{"amount": 1}');
SELECT execution_id = :e1 AS first, state FROM wf.task WHERE execution_id IN (:e1, :e2) AND name = 'pay' ORDER BY id;

-- A signal without a ttl before the wait starts is lost; with a ttl it is
-- kept, and a wait that starts meanwhile completes at once with it.
SELECT wf_signal('payment.received', '77', '{"amount": 5}');
SELECT wf_start('ev_order', '{"order_id": 77}') AS exec \gset
SELECT name, state FROM wf.task WHERE execution_id = :exec;
SELECT wf_signal('payment.received', '78', '{"amount": 6}', '1 hour');
SELECT wf_signal('payment.received', '78', '{"amount": 8}', '1 hour');
SELECT count(*) AS kept FROM wf.signal WHERE key = '78';
SELECT wf_start('ev_order', '{"order_id": 78}') AS exec \gset
SELECT name, state, result->'payload' AS payload FROM wf.task WHERE execution_id = :exec ORDER BY id;
SELECT task, state, detail FROM history(:exec) WHERE task = 'pay';
SELECT count(*) AS waits FROM wf.wait WHERE execution_id = :exec;

-- A timeout fails the wait with {"type": "timeout"}; on_error handles it.
SELECT wf_define('{"name": "ev_short", "tasks": {
    "pay":  {"engine": "wait", "event": "payment.received", "key": "short", "timeout": "1ms",
             "on_error": ["chase"]},
    "chase": {"action": "remind", "queue": "ev", "input": {"why": "$.tasks.pay.error.type"}}}}');
SELECT wf_start('ev_short') AS exec \gset
SELECT pg_sleep(0.02);
SELECT wf_tick() > 0 AS acted;
SELECT name, state, error->>'type' AS type, error->>'message' AS message, input FROM wf.task WHERE execution_id = :exec ORDER BY id;
SELECT wf_signal('payment.received', 'short');
SELECT count(*) AS stale_waits_left FROM wf.wait WHERE execution_id = :exec;

-- Cancelled, as an execution or as one task: a later signal finds no one.
SELECT wf_start('ev_order', '{"order_id": 500}') AS exec \gset
SELECT wf_cancel(:exec);
SELECT wf_signal('payment.received', '500');
SELECT wf_start('ev_order', '{"order_id": 501}') AS exec \gset
SELECT wf_task_cancel(id, 'paid by cheque') FROM wf.task WHERE execution_id = :exec AND name = 'pay';
SELECT name, state FROM wf.task WHERE execution_id = :exec ORDER BY id;
SELECT wf_signal('payment.received', '501');

-- A key that is not a string or a number fails the execution, saying so.
SELECT wf_define('{"name": "ev_badkey", "tasks": {"w": {"engine": "wait", "event": "e", "key": "$.input"}}}');
SELECT wf_start('ev_badkey', '{"a": 1}') AS exec \gset
SELECT state, error FROM wf.execution WHERE id = :exec;
-- A literal key, a number key.
SELECT wf_define('{"name": "ev_literal", "tasks": {"w": {"engine": "wait", "event": "tick", "key": 12}}}');
SELECT wf_start('ev_literal') AS exec \gset
SELECT wf_signal('tick', '12');
SELECT state FROM wf.execution WHERE id = :exec;

-- Kept events are forgotten when they expire.
SELECT wf_signal('gone.soon', 'k', '{}', '1ms');
SELECT pg_sleep(0.02);
SELECT wf_tick() >= 0 AS ticked;
SELECT count(*) AS kept FROM wf.signal WHERE event = 'gone.soon';

-- wf_purge removes what a wait left behind.
SELECT wf_start('ev_order', '{"order_id": 900}') AS exec \gset
SELECT wf_cancel(:exec);
SELECT count(*) AS stale FROM wf.wait WHERE execution_id = :exec;
UPDATE wf.execution SET finished_at = now() - interval '1 day' WHERE id = :exec;
SELECT wf_purge('1 hour') >= 1 AS purged;
SELECT count(*) AS stale FROM wf.wait WHERE execution_id = :exec;

-- Definitions are checked.
SELECT expect_error($$SELECT wf_define('{"name": "bad", "tasks": {"w": {"engine": "wait", "key": "k"}}}')$$);
SELECT expect_error($$SELECT wf_define('{"name": "bad", "tasks": {"w": {"engine": "wait", "event": "e"}}}')$$);
SELECT expect_error($$SELECT wf_define('{"name": "bad", "tasks": {"w": {"engine": "wait", "event": 3, "key": "k"}}}')$$);
SELECT expect_error($$SELECT wf_define('{"name": "bad", "tasks": {"w": {"engine": "wait", "event": [], "key": "k"}}}')$$);
SELECT expect_error($$SELECT wf_define('{"name": "bad", "tasks": {"w": {"engine": "wait", "event": ["a", "a"], "key": "k"}}}')$$);
SELECT expect_error($$SELECT wf_define('{"name": "bad", "tasks": {"w": {"engine": "wait", "event": "no spaces", "key": "k"}}}')$$);
SELECT expect_error($$SELECT wf_define('{"name": "bad", "tasks": {"w": {"engine": "wait", "event": "e", "key": {"a": 1}}}}')$$);
SELECT expect_error($$SELECT wf_define('{"name": "bad", "tasks": {"w": {"engine": "wait", "event": "e", "key": "$.input.(("}}}')$$);
SELECT expect_error($$SELECT wf_define('{"name": "bad", "tasks": {"w": {"engine": "wait", "event": "e", "key": "k", "retry": {"count": 1}}}}')$$);
SELECT expect_error($$SELECT wf_define('{"name": "bad", "tasks": {"w": {"engine": "wait", "event": "e", "key": "k", "timeout": "-1 day"}}}')$$);
SELECT expect_error($$SELECT wf_define('{"name": "bad", "tasks": {"w": {"action": "x", "event": "e"}}}')$$);
SELECT expect_error($$SELECT wf_define('{"name": "bad", "tasks": {"w": {"engine": "sleep", "for": "1s", "key": "k"}}}')$$);
-- ... and so are signals.
SELECT expect_error($$SELECT wf_signal(NULL, 'k')$$);
SELECT expect_error($$SELECT wf_signal('e', NULL)$$);
SELECT expect_error($$SELECT wf_signal('bad name', 'k')$$);
SELECT expect_error($$SELECT wf_signal('e', repeat('k', 2000))$$);
SELECT expect_error($$SELECT wf_signal('e', 'k', jsonb_build_object('x', repeat('x', 1100000)))$$);
SELECT expect_error($$SELECT wf_signal('e', 'k', '{}', '-1 hour')$$);
SELECT expect_error($$SELECT wf_signal('e', 'k', '{}', '0')$$);
SELECT wf_signal('e', 'k', NULL);
-- Who may signal is a privilege (wf_admin; grant it to a callback-facing role).
SET ROLE wf_runner;
SELECT expect_error($$SELECT wf_signal('e', 'k')$$);
RESET ROLE;

-- wf_rerun replaces a wait that timed out: the old task's wait row is left
-- behind, and a signal passes over it to the new wait (it raised "task
-- does not exist" before).
SELECT wf_define('{"name": "ev_rerun", "tasks": {"w": {"engine": "wait", "event": "go", "key": "rr", "timeout": "1ms"}}}');
SELECT wf_start('ev_rerun') AS exec \gset
SELECT pg_sleep(0.02);
SELECT wf_tick() > 0 AS acted;
SELECT state, error->'error'->>'type' AS type FROM wf.execution WHERE id = :exec;
SELECT wf_rerun(:exec);
SELECT count(*) AS wait_rows, count(DISTINCT task_id) AS tasks FROM wf.wait WHERE execution_id = :exec;
SELECT wf_signal('go', 'rr', '{"x": 1}');
SELECT state FROM wf.execution WHERE id = :exec;
SELECT count(*) AS wait_rows FROM wf.wait WHERE execution_id = :exec;
