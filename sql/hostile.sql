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
