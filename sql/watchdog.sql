-- Leases, heartbeats and the watchdog pass (wf_tick), driven by hand.
SELECT wf_tick() AS nothing_due;

-- A definition's timeout is the lease of every attempt, whatever wf_claim asks.
SELECT wf_define('{"name": "leased", "tasks": {
    "a": {"action": "x", "timeout": "50ms", "retry": {"count": 1}},
    "b": {"action": "x", "requires": ["a"]}}}');
SELECT wf_start('leased') AS exec \gset
SELECT task, attempt FROM wf_claim('default', 1, '1 hour');
SELECT id AS a FROM wf.task WHERE execution_id = :exec AND name = 'a' \gset
SELECT state, lease, lease_until - started_at AS lease_length FROM wf.task WHERE id = :a;

-- The runner dies: its lease passes, the watchdog fails the attempt and retries.
SELECT pg_sleep(0.1);
SELECT wf_tick() AS acted;
SELECT state, attempt, error->>'type' AS error, lease_until IS NULL AS no_lease,
       expired_token_hash IS NOT NULL AS remembers_expired_token
FROM wf.task WHERE id = :a;
SELECT task, state, detail->>'by' AS by, detail->'error'->>'type' AS error
FROM wf.event WHERE task_id = :a ORDER BY id;
SELECT wf_tick() AS acted_again;

-- Attempt 2: a heartbeat keeps it alive past its first lease.
SELECT claim();
SELECT token AS tok2 FROM claimed WHERE execution_id = :exec AND task = 'a' \gset
SELECT wf_heartbeat(:a, :'tok2', '1 hour') > now() + '59 minutes' AS extended;
SELECT lease FROM wf.task WHERE id = :a;
SELECT pg_sleep(0.1);
SELECT wf_tick() AS acted;
-- Without a lease argument the heartbeat renews the attempt's current lease.
SELECT wf_heartbeat(:a, :'tok2') BETWEEN now() + '59 minutes' AND now() + '61 minutes' AS renewed;

-- Heartbeat errors
SELECT expect_error(format('SELECT wf_heartbeat(%s, %L)', :a, 'wrong'));
SELECT expect_error(format('SELECT wf_heartbeat(%s, NULL)', :a));
SELECT expect_error(format('SELECT wf_heartbeat(NULL, %L)', :'tok2'));
SELECT expect_error(format('SELECT wf_heartbeat(%s, %L, %L)', :a, :'tok2', '-1 second'));
SELECT expect_error(format('SELECT wf_heartbeat(%s, %L)', 999999999, :'tok2'));
SELECT done(:exec, 'a', '{"second": "try"}');
SELECT expect_error(format('SELECT wf_heartbeat(%s, %L)', :a, :'tok2'));
SELECT claim();
SELECT done(:exec, 'b');

-- Out of retries: an expired lease fails the task and the execution.
SELECT wf_define('{"name": "lost", "tasks": {"a": {"action": "x"}}}');
SELECT wf_start('lost') AS exec \gset
SELECT task_id AS lost, token AS losttok FROM wf_claim('default', 1, '10ms') \gset
SELECT pg_sleep(0.05);
SELECT wf_tick() AS acted;
SELECT state, error->>'type' AS error FROM wf.task WHERE id = :lost;
SELECT state, error->'error'->>'type' AS error FROM wf.execution WHERE id = :exec;
-- The runner was not dead after all: its late completion is refused (WF008),
-- and what it reported is kept in the history.
SELECT expect_error(format('SELECT wf_task_complete(%s, %L, %L, %L)', :lost, 'success', '{"late": 1}', :'losttok'));
SELECT state, detail, actor = current_user AS actor_ok FROM wf.event WHERE task_id = :lost AND state = 'rejected';
-- and a late heartbeat is told the same.
SELECT expect_error(format('SELECT wf_heartbeat(%s, %L)', :lost, :'losttok'));

-- The watchdog works in bounded batches.
SELECT wf_define('{"name": "many", "tasks": {"a": {"action": "x"}}}');
SELECT count(wf_start('many')) FROM generate_series(1, 5);
SELECT count(*) FROM wf_claim('default', 10, '10ms');
SELECT pg_sleep(0.05);
SET pg_wf.batch_size = 2;
SELECT wf_tick() AS first, wf_tick() AS second, wf_tick() AS third, wf_tick() AS fourth;
RESET pg_wf.batch_size;
SELECT state, count(*) FROM wf.execution WHERE workflow = 'many' GROUP BY state;
