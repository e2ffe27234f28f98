-- Execution lifecycle: task_defaults, vars, timeout, start keys, cancel,
-- pause/resume, rerun.

-- task_defaults fill in what a task does not say; vars start from the input.
SELECT wf_define('{"name": "defaults",
  "input": ["user"],
  "vars": {"greeting": "$.input.user", "count": 0},
  "task_defaults": {"queue": "bulk", "timeout": "1 hour", "retry": {"count": 2}},
  "tasks": {
    "a": {"action": "x", "input": {"hi": "$.vars.greeting"}},
    "b": {"action": "x", "queue": "fast", "timeout": "1 minute", "requires": ["a"]},
    "c": {"engine": "noop", "requires": ["b"]}}}');
SELECT wf_start('defaults', '{"user": "ann"}') AS exec \gset
SELECT vars FROM wf.execution WHERE id = :exec;
SELECT name, queue, timeout, input FROM wf.task WHERE execution_id = :exec;
SELECT claim('bulk');
SELECT done(:exec, 'a', '{}', 'error');
SELECT state, attempt FROM wf.task WHERE execution_id = :exec AND name = 'a';
SELECT claim('bulk');
SELECT done(:exec, 'a');
SELECT name, queue, timeout FROM wf.task WHERE execution_id = :exec AND name = 'b';
SELECT claim('fast');
SELECT done(:exec, 'b');
SELECT state FROM wf.execution WHERE id = :exec;
SELECT :exec AS done_exec \gset

-- wf_start with a key starts once.
SELECT wf_define('{"name": "once", "tasks": {"a": {"action": "x", "queue": "once"}}}');
SELECT wf_start('once', '{}', 'order-17') AS first \gset
SELECT wf_start('once', '{}', 'order-17') = :first AS same;
SELECT wf_start('once', '{}', 'order-18') <> :first AS other_key_other_execution;
SELECT count(*) FROM wf.execution WHERE workflow = 'once';
SELECT wf_start('once') <> wf_start('once') AS no_key_no_dedup;

-- wf_cancel: every active task ends cancelled; late reports are refused.
SELECT wf_define('{"name": "cancellable", "tasks": {
    "r": {"action": "x", "queue": "cq"}, "d": {"action": "x", "queue": "cq"},
    "later": {"action": "x", "queue": "cq"}, "z": {"action": "x", "queue": "cq", "requires": ["r"]}}}');
SELECT wf_start('cancellable') AS exec \gset
SELECT claim('cq', 2);
SELECT wf_task_delegate(task_id, token) AS cb FROM claimed WHERE execution_id = :exec AND task = 'd' \gset
SELECT wf_cancel(:exec, 'customer changed their mind');
SELECT state, error - 'by' AS error, finished_at IS NOT NULL AS finished FROM wf.execution WHERE id = :exec;
SELECT name, state FROM wf.task WHERE execution_id = :exec ORDER BY id;
SELECT expect_error(format('SELECT done(%s, %L)', :exec, 'r'));
SELECT expect_error(format('SELECT wf_task_complete(%s, %L, NULL, %L)',
    (SELECT id FROM wf.task WHERE execution_id = :exec AND name = 'd'), 'success', :'cb'));
SELECT count(*) AS claimable FROM wf_claim('cq', 10);
SELECT wf_cancel(:exec);
SELECT expect_error('SELECT wf_cancel(NULL)');
SELECT expect_error('SELECT wf_cancel(999999999)');
SELECT expect_error(format('SELECT wf_cancel(%s)', :done_exec));
SELECT expect_error(format('SELECT wf_pause(%s)', :done_exec));
SELECT expect_error(format('SELECT wf_pause(%s)', :exec));
-- (the cancelled tasks in name order: one statement cancels them all)
SELECT task, state FROM wf.event WHERE execution_id = :exec
ORDER BY state = 'cancelled', CASE WHEN state = 'cancelled' THEN coalesce(task, '~') END, id;

-- Pause: nothing of the execution can be claimed; running tasks may still
-- complete, and what they enable waits until wf_resume.
SELECT wf_define('{"name": "pausable", "tasks": {
    "a": {"action": "x", "queue": "pq"}, "b": {"action": "x", "queue": "pq"},
    "c": {"action": "x", "queue": "pq", "requires": ["a"]}}}');
SELECT wf_start('pausable') AS exec \gset
SELECT claim('pq', 1);
SELECT wf_pause(:exec);
SELECT wf_pause(:exec);
SELECT count(*) AS claimable_while_paused FROM wf_claim('pq', 10);
SELECT done(:exec, 'a');
SELECT name, state FROM wf.task WHERE execution_id = :exec ORDER BY id;
SELECT count(*) AS still_nothing FROM wf_claim('pq', 10);
SELECT state FROM wf.execution WHERE id = :exec;
SELECT wf_resume(:exec);
SELECT wf_resume(:exec);
SELECT claim('pq');
SELECT done(:exec, 'b');
SELECT done(:exec, 'c');
SELECT state FROM wf.execution WHERE id = :exec;
SELECT expect_error(format('SELECT wf_resume(%s)', :exec));

-- An execution timeout fails it, cancelling what is left.
SELECT wf_define('{"name": "hurry", "timeout": "50ms", "tasks": {"a": {"action": "x", "queue": "hq"}}}');
SELECT wf_start('hurry') AS exec \gset
SELECT deadline BETWEEN now() AND now() + '1 second' AS has_deadline FROM wf.execution WHERE id = :exec;
SELECT claim('hq');
SELECT pg_sleep(0.1);
SELECT wf_tick() AS acted;
SELECT state, error FROM wf.execution WHERE id = :exec;
SELECT name, state FROM wf.task WHERE execution_id = :exec;
SELECT expect_error($$SELECT wf_define('{"name": "x", "timeout": "soon", "tasks": {"a": {"action": "x"}}}')$$);
SELECT expect_error($$SELECT wf_define('{"name": "x", "vars": [1], "tasks": {"a": {"action": "x"}}}')$$);
SELECT expect_error($$SELECT wf_define('{"name": "x", "task_defaults": {"join": 1}, "tasks": {"a": {"action": "x"}}}')$$);
SELECT expect_error($$SELECT wf_define('{"name": "x", "task_defaults": {"queue": "Q"}, "tasks": {"a": {"action": "x"}}}')$$);

-- Rerun after a mid-graph failure: what succeeded is kept (and counted by
-- its join); the failed task gets a new attempt.
SELECT wf_define('{"name": "rerunnable", "tasks": {
    "a": {"action": "x", "queue": "rq"},
    "b": {"action": "x", "queue": "rq", "requires": ["a"]},
    "c": {"action": "x", "queue": "rq", "requires": ["a"]},
    "d": {"action": "x", "queue": "rq", "requires": ["b", "c"],
          "input": {"b": "$.tasks.b.result", "c": "$.tasks.c.result"}}}}');
SELECT wf_start('rerunnable') AS exec \gset
SELECT claim('rq');
SELECT done(:exec, 'a');
SELECT claim('rq');
SELECT done(:exec, 'c', '"C"');
SELECT done(:exec, 'b', '{"message": "transient"}', 'error');
SELECT state, error->>'task' AS failed_task FROM wf.execution WHERE id = :exec;
SELECT expect_error(format('SELECT wf_rerun(%s)', :done_exec));
SELECT wf_rerun(:exec);
SELECT state, error FROM wf.execution WHERE id = :exec;
SELECT name, state, attempt FROM wf.task WHERE execution_id = :exec ORDER BY id;
SELECT claim('rq');
SELECT done(:exec, 'b', '"B"');
SELECT name, state, attempt, input FROM wf.task WHERE execution_id = :exec ORDER BY id;
SELECT claim('rq');
SELECT done(:exec, 'd');
SELECT state FROM wf.execution WHERE id = :exec;
SELECT expect_error(format('SELECT wf_rerun(%s)', :exec));
SELECT task, state, detail FROM wf.event WHERE execution_id = :exec AND detail ? 'rerun' ORDER BY id;
-- A cancelled execution reruns its cancelled tasks.
SELECT wf_start('rerunnable') AS exec \gset
SELECT wf_cancel(:exec);
SELECT wf_rerun(:exec);
SELECT name, state FROM wf.task WHERE execution_id = :exec;

-- An expression in vars that fails refuses the start (WF003), storing nothing.
SELECT wf_define('{"name": "badvars", "vars": {"n": "$.input.n * 2"}, "tasks": {"a": {"action": "x"}}}');
SELECT expect_error($$SELECT wf_start('badvars', '{"n": "two"}')$$);
SELECT count(*) AS stored FROM wf.execution WHERE workflow = 'badvars';

-- An execution that failed on an expression cannot be rerun: it would fail the same way.
SELECT wf_define('{"name": "badexpr", "tasks": {
    "a": {"action": "x", "queue": "bx"},
    "b": {"action": "x", "queue": "bx", "requires": ["a"], "input": {"v": "$.tasks.a.result.n * 2"}}}}');
SELECT wf_start('badexpr') AS exec \gset
SELECT claim('bx');
SELECT done(:exec, 'a', '{"n": "two"}');
SELECT state, error->>'type' AS type FROM wf.execution WHERE id = :exec;
SELECT expect_error(format('SELECT wf_rerun(%s)', :exec));
