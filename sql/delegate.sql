-- Delegate tasks: the runner hands the task to a third party and returns at
-- once; the third party calls back later, from any session, with the
-- callback token.
SELECT wf_define('{"name": "approval", "tasks": {
    "ask":    {"action": "human.approve", "delegate_timeout": "1 hour",
               "publish": {"approved": "$.result.approved"}},
    "notify": {"action": "mail.send", "requires": ["ask"], "input": {"approved": "$.vars.approved"}}}}');
SELECT wf_start('approval') AS exec \gset
SELECT task_id AS ask, token AS runner_tok FROM wf_claim() \gset

-- The runner delegates: a new token for the third party, no lease, a deadline.
SELECT wf_task_delegate(:ask, :'runner_tok') AS cb \gset
SELECT :'cb' ~ '^[0-9a-f]{32}$' AS token_ok, :'cb' <> :'runner_tok' AS differs;
SELECT state, lease_until IS NULL AS no_lease,
       deadline BETWEEN now() + '59 minutes' AND now() + '61 minutes' AS deadline_from_definition
FROM wf.task WHERE id = :ask;
SELECT task, state, detail - 'deadline' AS detail FROM wf.event WHERE task_id = :ask ORDER BY id;
-- Nothing happens until the callback; the watchdog has nothing to do.
SELECT wf_tick() AS acted;
SELECT count(*) AS claimable FROM wf_claim('default', 10) WHERE execution_id = :exec;

-- Delegation errors: the runner's token is spent, the task is no longer running.
SELECT expect_error(format('SELECT wf_task_delegate(%s, %L)', :ask, :'runner_tok'));
SELECT expect_error(format('SELECT wf_task_delegate(%s, %L)', :ask, :'cb'));
SELECT expect_error(format('SELECT wf_task_complete(%s, %L, %L, %L)', :ask, 'success', '{}', :'runner_tok'));
SELECT expect_error(format('SELECT wf_heartbeat(%s, %L)', :ask, :'cb'));

-- Hours later, the third party calls back.
SELECT wf_task_complete(:ask, 'success', '{"approved": true}', :'cb');
SELECT name, state, input FROM wf.task WHERE execution_id = :exec ORDER BY id;
-- A repeat of the callback is a no-op; a conflicting one is refused.
SELECT wf_task_complete(:ask, 'success', '{"approved": true}', :'cb');
SELECT expect_error(format('SELECT wf_task_complete(%s, %L, %L, %L)', :ask, 'success', '{"approved": false}', :'cb'));
SELECT claim();
SELECT done(:exec, 'notify');
SELECT state, vars FROM wf.execution WHERE id = :exec;

-- The timeout argument wins over the definition; without either, no deadline.
SELECT wf_define('{"name": "plain", "tasks": {"a": {"action": "x"}}}');
SELECT wf_start('plain') AS exec \gset
SELECT task_id AS t, token AS tok FROM wf_claim() \gset
SELECT wf_task_delegate(:t, :'tok') IS NOT NULL AS delegated;
SELECT deadline IS NULL AS no_deadline FROM wf.task WHERE id = :t;
SELECT wf_start('approval') AS exec2 \gset
SELECT task_id AS t2, token AS tok2 FROM wf_claim() \gset
SELECT wf_task_delegate(:t2, :'tok2', '5 minutes') IS NOT NULL AS delegated;
SELECT deadline BETWEEN now() + '4 minutes' AND now() + '6 minutes' AS from_argument FROM wf.task WHERE id = :t2;

-- Argument errors
SELECT wf_start('plain') AS exec3 \gset
SELECT task_id AS t3, token AS tok3 FROM wf_claim() \gset
SELECT expect_error(format('SELECT wf_task_delegate(NULL, %L)', :'tok3'));
SELECT expect_error(format('SELECT wf_task_delegate(%s, NULL)', :t3));
SELECT expect_error(format('SELECT wf_task_delegate(%s, %L, %L)', :t3, :'tok3', '0 seconds'));
SELECT expect_error(format('SELECT wf_task_delegate(%s, %L)', :t3, 'wrong'));
SELECT expect_error(format('SELECT wf_task_delegate(%s, %L)', 999999999, :'tok3'));
SELECT state FROM wf.task WHERE id = :t3;

-- The third party never answers: at the deadline the attempt fails with a
-- timeout, and is retried; the new attempt can be delegated again.
SELECT wf_define('{"name": "slow_partner", "tasks": {"a": {"action": "x",
    "delegate_timeout": "20ms", "retry": {"count": 1}}}}');
SELECT wf_start('slow_partner') AS exec \gset
SELECT task_id AS sp, token AS sptok FROM wf_claim() \gset
SELECT wf_task_delegate(:sp, :'sptok') AS spcb \gset
SELECT pg_sleep(0.05);
SELECT wf_tick() AS acted;
SELECT state, attempt, error->>'type' AS error FROM wf.task WHERE id = :sp;
-- The callback arrives late: refused with WF008, kept in the history.
SELECT expect_error(format('SELECT wf_task_complete(%s, %L, %L, %L)', :sp, 'success', '{"late": true}', :'spcb'));
SELECT task, state, detail->'late_report' AS late_report FROM wf.event WHERE task_id = :sp AND state = 'rejected';
-- Attempt 2 is delegated and answered in time.
SELECT token AS sptok2 FROM wf_claim() \gset
SELECT wf_task_delegate(:sp, :'sptok2', '1 hour') AS spcb2 \gset
SELECT wf_task_complete(:sp, 'error', '{"partner": "said no"}', :'spcb2');
SELECT state, error - 'task_id' AS error FROM wf.execution WHERE id = :exec;
SELECT task, state, detail->>'attempt' AS attempt, coalesce(detail->'error'->>'type', detail->>'reason') AS why
FROM wf.event WHERE task_id = :sp ORDER BY id;
