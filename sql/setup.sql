-- Install pg_wf and the helpers the other suites use.
CREATE EXTENSION pg_wf;

-- Every object the extension made (tables in wf, functions in public).
SELECT pg_describe_object(classid, objid, 0) AS object
FROM pg_depend
WHERE refclassid = 'pg_extension'::regclass AND deptype = 'e'
  AND refobjid = (SELECT oid FROM pg_extension WHERE extname = 'pg_wf')
ORDER BY 1;

-- Nothing is executable by PUBLIC.
SELECT p.proname, has_function_privilege('public', p.oid, 'EXECUTE') AS public_can
FROM pg_proc p WHERE p.proname LIKE 'wf\_%' ORDER BY 1;

-- The SQLSTATE, message, detail and hint of an error, as text.
CREATE FUNCTION expect_error(sql text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    st text; msg text; det text; hnt text;
BEGIN
    EXECUTE sql;
    RETURN 'no error';
EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS st = RETURNED_SQLSTATE, msg = MESSAGE_TEXT,
                            det = PG_EXCEPTION_DETAIL, hnt = PG_EXCEPTION_HINT;
    -- ids depend on what ran before; the tests name tasks instead
    RETURN st || ': ' || regexp_replace(msg, '(task|execution) \d+', '\1 N', 'g')
        || coalesce(E'\n    DETAIL: ' || nullif(det, ''), '')
        || coalesce(E'\n    HINT: ' || nullif(hnt, ''), '');
END
$$;

-- Claimed tasks and their tokens, so that tests can complete them by name.
CREATE TABLE claimed AS SELECT * FROM wf_claim() WHERE false;

CREATE FUNCTION claim(q text DEFAULT 'default', n integer DEFAULT 1000)
RETURNS SETOF text LANGUAGE sql AS $$
    WITH c AS (INSERT INTO claimed SELECT * FROM wf_claim(q, n) RETURNING task, execution_id)
    SELECT task FROM c ORDER BY execution_id, task
$$;

CREATE FUNCTION done(exec bigint, t text, res jsonb DEFAULT '{}', status text DEFAULT 'success')
RETURNS text LANGUAGE sql AS $$
    SELECT wf_task_complete(c.task_id, status, res, c.token)
    FROM claimed c WHERE c.execution_id = exec AND c.task = t
    ORDER BY c.attempt DESC LIMIT 1
$$;

CREATE FUNCTION tasks(exec bigint)
RETURNS TABLE (name text, state text, attempt integer, input jsonb, result jsonb, error jsonb)
LANGUAGE sql AS $$
    SELECT name, state, attempt, input, result, error FROM wf.task
    WHERE execution_id = exec ORDER BY id
$$;

CREATE FUNCTION history(exec bigint)
RETURNS TABLE (task text, state text, detail jsonb)
LANGUAGE sql AS $$
    SELECT task, state, detail - 'task_id' FROM wf.event WHERE execution_id = exec ORDER BY id
$$;
