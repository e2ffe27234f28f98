-- Control flow: transitions, conditions, joins, dead paths, engine tasks.
\set VERBOSITY terse

-- on_error handles a failure; the success path is then dead and skipped.
SELECT wf_define('{"name": "guarded", "tasks": {
    "charge":   {"action": "pay", "on_success": ["ship"], "on_error": ["apologise"]},
    "ship":     {"action": "ship"},
    "apologise": {"action": "mail", "input": {"why": "$.tasks.charge.error.message"}}}}');
SELECT wf_start('guarded') AS exec \gset
SELECT claim();
SELECT done(:exec, 'charge', '{"message": "card declined"}', 'error');
SELECT name, state, input FROM wf.task WHERE execution_id = :exec ORDER BY id;
SELECT claim();
SELECT done(:exec, 'apologise');
SELECT state, error FROM wf.execution WHERE id = :exec;
-- ... and on success the handler is the dead path.
SELECT wf_start('guarded') AS exec \gset
SELECT claim();
SELECT done(:exec, 'charge');
SELECT name, state FROM wf.task WHERE execution_id = :exec ORDER BY id;
SELECT claim();
SELECT done(:exec, 'ship');
SELECT state FROM wf.execution WHERE id = :exec;

-- Conditions: exactly one branch is taken; "when" sees the result.
SELECT wf_define('{"name": "route", "tasks": {
    "measure": {"action": "x", "on_success": [
        {"task": "big", "when": "$.result.n > 10"},
        {"task": "small", "when": "$.result.n <= 10 && $.input.allow_small == true"}]},
    "big": {"action": "x"}, "small": {"action": "x"},
    "report": {"action": "x", "requires": ["big", "small"], "join": 1}}}');
SELECT wf_start('route', '{"allow_small": true}') AS exec \gset
SELECT claim();
SELECT done(:exec, 'measure', '{"n": 5}');
SELECT name, state FROM wf.task WHERE execution_id = :exec ORDER BY id;
SELECT claim();
SELECT done(:exec, 'small');
SELECT name, state FROM wf.task WHERE execution_id = :exec ORDER BY id;
SELECT claim();
SELECT done(:exec, 'report');
SELECT state FROM wf.execution WHERE id = :exec;
-- No branch taken: both skipped, and the join after them too.
SELECT wf_start('route', '{"allow_small": false}') AS exec \gset
SELECT claim();
SELECT done(:exec, 'measure', '{"n": 5}');
SELECT name, state FROM wf.task WHERE execution_id = :exec ORDER BY id;
SELECT state FROM wf.execution WHERE id = :exec;

-- on_complete fires either way but does not handle an error.
SELECT wf_define('{"name": "cleanup", "tasks": {
    "work": {"action": "x", "on_complete": ["tidy"]},
    "tidy": {"action": "x"}}}');
SELECT wf_start('cleanup') AS exec \gset
SELECT claim();
SELECT done(:exec, 'work');
SELECT name, state FROM wf.task WHERE execution_id = :exec ORDER BY id;
SELECT claim();
SELECT done(:exec, 'tidy');
SELECT wf_start('cleanup') AS exec \gset
SELECT claim();
SELECT done(:exec, 'work', '{"message": "boom"}', 'error');
SELECT state, error - 'task_id' AS error FROM wf.execution WHERE id = :exec;
SELECT name, state FROM wf.task WHERE execution_id = :exec ORDER BY id;

-- A join with one dead branch: join all is skipped (and so is what follows);
-- join 1 goes on.
SELECT wf_define('{"name": "dead", "tasks": {
    "a": {"action": "x", "on_success": [{"task": "b", "when": "$.result.go"}, "c"]},
    "b": {"action": "x"},
    "c": {"action": "x"},
    "all_of": {"action": "x", "requires": ["b", "c"]},
    "after":  {"action": "x", "requires": ["all_of"]},
    "any_of": {"action": "x", "requires": ["b", "c"], "join": 1}}}');
SELECT wf_start('dead') AS exec \gset
SELECT claim();
SELECT done(:exec, 'a', '{"go": false}');
SELECT claim();
SELECT done(:exec, 'c');
SELECT name, state FROM wf.task WHERE execution_id = :exec ORDER BY id;
SELECT claim();
SELECT done(:exec, 'any_of');
SELECT state FROM wf.execution WHERE id = :exec;
SELECT count(*) AS joins_left FROM wf.join_state WHERE execution_id = :exec;

-- on_error recovery, then a join of the recovered and the normal branch.
SELECT wf_define('{"name": "recover", "tasks": {
    "risky":  {"action": "x", "on_error": ["fix"], "on_success": ["merge"]},
    "fix":    {"action": "x", "on_success": ["merge"]},
    "steady": {"action": "x", "on_success": ["merge"]},
    "merge":  {"action": "x", "join": 2}}}');
SELECT wf_start('recover') AS exec \gset
SELECT claim();
SELECT done(:exec, 'risky', '{"message": "flaky"}', 'error');
SELECT done(:exec, 'steady');
SELECT claim();
SELECT name, state FROM wf.task WHERE execution_id = :exec ORDER BY id;
SELECT done(:exec, 'fix');
SELECT name, state FROM wf.task WHERE execution_id = :exec ORDER BY id;
SELECT claim();
SELECT done(:exec, 'merge');
SELECT state FROM wf.execution WHERE id = :exec;

-- Engine tasks: no runner needed.
SELECT wf_define('{"name": "engine", "tasks": {
    "start": {"engine": "noop", "on_success": ["nap", "check"]},
    "nap":   {"engine": "sleep", "for": "30ms", "on_success": ["wake"]},
    "wake":  {"action": "x"},
    "check": {"action": "x", "on_error": ["give_up"]},
    "give_up": {"engine": "fail", "message": "checked and gave up"}}}');
SELECT wf_start('engine') AS exec \gset
SELECT name, state, action FROM wf.task WHERE execution_id = :exec ORDER BY id;
SELECT pg_sleep(0.05);
SELECT wf_tick() AS acted;
SELECT name, state FROM wf.task WHERE execution_id = :exec ORDER BY id;
SELECT claim();
SELECT done(:exec, 'wake');
SELECT done(:exec, 'check', '{"message": "bad"}', 'error');
SELECT state, error - 'task_id' AS error FROM wf.execution WHERE id = :exec;

-- {"engine": "succeed"} ends the execution at once; what still runs is cancelled.
SELECT wf_define('{"name": "shortcut", "tasks": {
    "slow": {"action": "x"},
    "fast": {"action": "x", "on_success": [{"task": "done_early", "when": "$.result.enough"}]},
    "done_early": {"engine": "succeed"}},
  "output": {"fast": "$.tasks.fast.result"}}');
SELECT wf_start('shortcut') AS exec \gset
SELECT claim();
SELECT done(:exec, 'fast', '{"enough": true}');
SELECT state, output FROM wf.execution WHERE id = :exec;
SELECT name, state FROM wf.task WHERE execution_id = :exec ORDER BY id;
SELECT expect_error(format('SELECT done(%s, %L)', :exec, 'slow'));

-- A "when" that raises an error fails the execution. (In a predicate,
-- "$.result.n + 1 > 2", jsonpath turns the error into "unknown": not true.)
SELECT wf_define('{"name": "badwhen", "tasks": {
    "a": {"action": "x", "on_success": [{"task": "b", "when": "$.result.n * 2"}]},
    "b": {"action": "x"}}}');
SELECT wf_start('badwhen') AS exec \gset
SELECT claim();
SELECT done(:exec, 'a', '{"n": "two"}');
SELECT state, error->>'type' AS type, error->>'task' AS task FROM wf.execution WHERE id = :exec;

-- Definitions that would be ambiguous or could never run are refused.
\pset format unaligned
\pset tuples_only on
SELECT expect_error($$SELECT wf_define('{"name": "x", "tasks": {"a": {"action": "x", "on_success": ["nope"]}}}')$$);
SELECT expect_error($$SELECT wf_define('{"name": "x", "tasks": {"a": {"action": "x", "on_error": ["a"]}}}')$$);
SELECT expect_error($$SELECT wf_define('{"name": "x", "tasks": {"a": {"action": "x", "on_success": ["b"]}, "b": {"action": "x", "on_success": ["a"]}}}')$$);
SELECT expect_error($$SELECT wf_define('{"name": "x", "tasks": {"a": {"action": "x", "on_success": ["b"], "on_error": ["b"]}, "b": {"action": "x"}}}')$$);
SELECT expect_error($$SELECT wf_define('{"name": "x", "tasks": {"a": {"action": "x", "on_success": ["b"]}, "b": {"action": "x", "requires": ["a"]}}}')$$);
SELECT expect_error($$SELECT wf_define('{"name": "x", "tasks": {"a": {"action": "x", "on_success": "b"}, "b": {"action": "x"}}}')$$);
SELECT expect_error($$SELECT wf_define('{"name": "x", "tasks": {"a": {"action": "x", "on_success": [{"task": "b", "when": "yes"}]}, "b": {"action": "x"}}}')$$);
SELECT expect_error($$SELECT wf_define('{"name": "x", "tasks": {"a": {"action": "x", "on_success": [{"task": "b", "if": "$.x"}]}, "b": {"action": "x"}}}')$$);
SELECT expect_error($$SELECT wf_define('{"name": "x", "tasks": {"a": {"action": "x", "on_success": [{"when": "$.x"}]}, "b": {"action": "x"}}}')$$);
SELECT expect_error($$SELECT wf_define('{"name": "x", "tasks": {"a": {"action": "x", "on_success": ["b"]}, "b": {"action": "x", "join": 1}}}')$$);
SELECT expect_error($$SELECT wf_define('{"name": "x", "tasks": {"a": {"action": "x"}, "b": {"action": "x"}, "c": {"action": "x", "requires": ["a", "b"], "join": 3}}}')$$);
SELECT expect_error($$SELECT wf_define('{"name": "x", "tasks": {"a": {"action": "x"}, "b": {"action": "x"}, "c": {"action": "x", "requires": ["a", "b"], "join": "any"}}}')$$);
SELECT expect_error($$SELECT wf_define('{"name": "x", "tasks": {"a": {"engine": "wait"}}}')$$);
SELECT expect_error($$SELECT wf_define('{"name": "x", "tasks": {"a": {"engine": "noop", "action": "x"}}}')$$);
SELECT expect_error($$SELECT wf_define('{"name": "x", "tasks": {"a": {"engine": "noop", "queue": "q"}}}')$$);
SELECT expect_error($$SELECT wf_define('{"name": "x", "tasks": {"a": {"engine": "noop", "message": "hi"}}}')$$);
SELECT expect_error($$SELECT wf_define('{"name": "x", "tasks": {"a": {"engine": "sleep"}}}')$$);
SELECT expect_error($$SELECT wf_define('{"name": "x", "tasks": {"a": {"engine": "sleep", "for": "1 month"}}}')$$);
SELECT expect_error($$SELECT wf_define('{"name": "x", "tasks": {"a": {"action": "x", "for": "1s"}}}')$$);

-- A "when" (and a for_each) is any jsonpath, not only one starting with
-- "$": a negation, a lax or strict mode. (They were refused.)
SELECT wf_define('{"name": "any_path", "tasks": {
    "a": {"action": "x", "queue": "ap", "on_success": [
        {"task": "neg", "when": "!($.result.ok == true)"},
        {"task": "lax", "when": "lax $.result.n > 1"},
        {"task": "strict", "when": "strict $.result.n > 1"}]},
    "neg": {"engine": "noop"}, "lax": {"engine": "noop"}, "strict": {"engine": "noop"},
    "each": {"action": "x", "queue": "ap", "for_each": "strict $.input.xs[*]", "requires": ["a"]}}}');
SELECT wf_start('any_path', '{"xs": [1, 2, 3]}') AS exec \gset
SELECT claim('ap');
SELECT done(:exec, 'a', '{"ok": true, "n": 5}');
SELECT name, state, items_total FROM wf.task WHERE execution_id = :exec AND item IS NULL ORDER BY id;
SELECT expect_error($q$SELECT wf_define('{"name": "x", "tasks": {"a": {"action": "x", "on_success": [{"task": "b", "when": "$$.literal"}]}, "b": {"action": "x"}}}')$q$);
SELECT expect_error($q$SELECT wf_define('{"name": "x", "tasks": {"a": {"action": "x", "on_success": [{"task": "b", "when": ""}]}, "b": {"action": "x"}}}')$q$);
SELECT expect_error($q$SELECT wf_define('{"name": "x", "tasks": {"a": {"action": "x", "on_success": [{"task": "b", "when": "lax lax $"}]}, "b": {"action": "x"}}}')$q$);
SELECT expect_error($q$SELECT wf_define('{"name": "x", "tasks": {"a": {"action": "x", "on_success": [{"task": "b", "when": true}]}, "b": {"action": "x"}}}')$q$);

-- An execution that succeeds early (engine succeed) leaves no half-filled
-- join behind (its wf.join_state row stayed forever). A failed or
-- cancelled one keeps them for wf_rerun (wf_purge removes them).
\pset format aligned
\pset tuples_only off
SELECT wf_define('{"name": "early_end", "tasks": {
    "a": {"action": "x", "queue": "ee"}, "b": {"action": "x", "queue": "ee"},
    "j": {"action": "x", "queue": "ee", "requires": ["a", "b"]},
    "stop": {"engine": "succeed", "requires": ["a"]}}}');
SELECT wf_start('early_end') AS exec \gset
SELECT claim('ee');
SELECT done(:exec, 'a');
SELECT state FROM wf.execution WHERE id = :exec;
SELECT count(*) AS join_rows FROM wf.join_state WHERE execution_id = :exec;
SELECT name, state FROM wf.task WHERE execution_id = :exec ORDER BY id;
