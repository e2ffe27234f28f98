-- Hostile and unlucky input: each case here once broke pg_wf (or could
-- have), and must now be refused clearly or handled within bounds. Add to
-- it with every new input pg_wf accepts.

-- The peak memory (VmHWM) of this backend, in MB.
CREATE FUNCTION backend_peak_mb() RETURNS bigint LANGUAGE sql AS $$
    SELECT (regexp_match(pg_read_file('/proc/' || pg_backend_pid() || '/status'),
                         'VmHWM:\s+(\d+) kB'))[1]::bigint / 1024
$$;

-- 1. A for_each's memory grew with items x context: every item's input was
--    evaluated in a copy of the whole context (which holds the item list),
--    and nothing was freed until the step ended (2,500 items: 346 MB;
--    100,000: killed by the OOM killer). Now bounded by what is written.
SELECT wf_define('{"name": "wide_each", "input": ["xs", "tag"], "tasks": {
    "each": {"action": "x", "for_each": "$.input.xs",
             "input": {"x": "$.item", "i": "$.index", "tag": "$.input.tag",
                       "next": "$.input.xs[$.index + 1]"}}}}');
\c
SELECT wf_start('wide_each', jsonb_build_object(
    'tag', 't',
    'xs', (SELECT jsonb_agg(repeat('x', 40) || i) FROM generate_series(0, 4999) i))) AS e \gset
SELECT backend_peak_mb() < 150 AS peak_memory_bounded;
-- every kind of expression still sees what it should: $.item and $.index
-- (item only), $.input.tag (the same for every item), $.input.xs[$.index + 1]
-- (both kinds)
SELECT count(*) AS items,
       count(*) FILTER (WHERE input->>'x' = repeat('x', 40) || item
                          AND (input->>'i')::int = item
                          AND input->>'tag' = 't'
                          AND input->>'next' IS NOT DISTINCT FROM
                              CASE WHEN item < 4999 THEN repeat('x', 40) || (item + 1) END) AS right
FROM wf.task WHERE execution_id = :e AND item IS NOT NULL;

-- 2. A cancel or statement_timeout in the middle of an expression was
--    caught like an expression error: the completion returned 'succeeded'
--    and committed the execution as failed (expression_error), which
--    wf_rerun then refused. Now the call aborts and changes nothing.
SELECT wf_define('{"name": "slow_publish", "tasks": {
    "a": {"action": "x", "queue": "slow",
          "publish": {"hits": "$.result.a[*] ? (@ == $.result.a[*])"}},
    "b": {"action": "x", "queue": "slow", "requires": ["a"]}}}');
SELECT wf_start('slow_publish') AS e \gset
SELECT task_id AS t, token AS tok FROM wf_claim('slow') \gset
SET statement_timeout = '300ms';
SELECT wf_task_complete(:t, 'success',
    (SELECT jsonb_build_object('a', jsonb_agg(g)) FROM generate_series(1, 20000) g), :'tok');
RESET statement_timeout;
SELECT e.state AS execution, t.state AS task FROM wf.execution e JOIN wf.task t ON t.execution_id = e.id
WHERE e.id = :e;
-- the runner can still report (a result that does not take long)
SELECT wf_task_complete(:t, 'success', '{"a": [1, 2]}', :'tok');
SELECT name, state FROM wf.task WHERE execution_id = :e ORDER BY name;

-- 3. A self-calling workflow with two sub-workflow tasks starts 2^16
--    executions in one statement; it ignored statement_timeout and
--    pg_cancel_backend (the cancel was caught as a child that could not
--    start). Now it is cancelled like any statement, and nothing is kept.
SELECT wf_define('{"name": "twice", "tasks": {
    "left": {"workflow": "twice"}, "right": {"workflow": "twice"}}}');
SELECT count(*) AS executions_before FROM wf.execution \gset
SET statement_timeout = '500ms';
\set VERBOSITY terse
SELECT wf_start('twice');
\set VERBOSITY default
RESET statement_timeout;
SELECT count(*) - :executions_before AS executions_kept FROM wf.execution;

-- 4. wf_rerun ran a for_each task again whose failure an on_error edge had
--    already handled: its edges then resolved a second time (23505 on
--    task_execution_id_name_item_key, in the watchdog too). A handled
--    failure now stands; only the task whose failure ended the execution,
--    and the cancelled ones, run again.
SELECT wf_define('{"name": "handled_each", "input": ["xs"], "tasks": {
    "each": {"action": "x", "queue": "he", "for_each": "$.input.xs", "on_error": ["handle"]},
    "handle": {"action": "x", "queue": "he"},
    "boom": {"action": "x", "queue": "he"}}}');
SELECT wf_start('handled_each', '{"xs": [1, 2]}') AS e \gset
SELECT count(*) AS claimed FROM claim('he');
-- item 0 fails: the for_each fails, and "handle" handles it
SELECT wf_task_complete(c.task_id, 'error', '{"bad": 1}', c.token)
FROM claimed c JOIN wf.task t ON t.id = c.task_id WHERE c.execution_id = :e AND t.item = 0;
-- "boom" fails, unhandled: the execution fails
SELECT done(:e, 'boom', '{"boom": 1}', 'error');
SELECT state FROM wf.execution WHERE id = :e;
SELECT wf_rerun(:e);
SELECT name, item, state FROM wf.task WHERE execution_id = :e ORDER BY name, item NULLS FIRST;
SELECT claim('he');
SELECT done(:e, 'boom'), done(:e, 'handle');
SELECT state FROM wf.execution WHERE id = :e;
