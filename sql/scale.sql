-- Work per completion follows the finishing task's out-edges, not the size
-- of the execution: completing a branch of a join touches about as many
-- rows when the join is 1000 wide as when it is 10 wide. Rows are counted
-- by the statistics of the completing transaction, so the test does not
-- depend on timing; a rescan of the execution's tasks would touch ~1000.
CREATE FUNCTION define_fan(width integer) RETURNS integer LANGUAGE sql AS $$
    SELECT wf_define(jsonb_build_object('name', 'fan' || width, 'tasks',
        (SELECT jsonb_object_agg('b' || i, jsonb_build_object('action', 'work')) FROM generate_series(1, width) i)
        || jsonb_build_object('total', jsonb_build_object('action', 'sum',
             'requires', (SELECT jsonb_agg('b' || i) FROM generate_series(1, width) i)))))
$$;

-- Rows and index entries read or written in wf.* so far in this
-- transaction (pending statistics only grow within a transaction).
CREATE FUNCTION rows_touched() RETURNS bigint LANGUAGE sql AS $$
    SELECT sum(pg_stat_get_xact_tuples_returned(c.oid) + pg_stat_get_xact_tuples_fetched(c.oid)
               + pg_stat_get_xact_tuples_inserted(c.oid) + pg_stat_get_xact_tuples_updated(c.oid)
               + pg_stat_get_xact_tuples_deleted(c.oid))::bigint
    FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE n.nspname = 'wf' AND c.relkind IN ('r', 'i')
$$;

CREATE TABLE cost (width integer, phase text, rows_touched bigint);

CREATE FUNCTION complete_measured(exec bigint, width integer, task text, phase text)
RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    before bigint := rows_touched();
BEGIN
    PERFORM done(exec, task);
    INSERT INTO cost VALUES (width, phase, rows_touched() - before);
END
$$;

-- Each completion in its own transaction, as runners do it.
CREATE PROCEDURE measure(width integer) LANGUAGE plpgsql AS $$
DECLARE
    exec bigint;
BEGIN
    PERFORM define_fan(width);
    exec := wf_start('fan' || width);
    PERFORM claim();
    COMMIT;
    PERFORM complete_measured(exec, width, 'b1', 'first branch');
    COMMIT;
    FOR i IN 2 .. width - 1 LOOP
        IF i = width / 2 THEN
            PERFORM complete_measured(exec, width, 'b' || i, 'middle branch');
        ELSE
            PERFORM done(exec, 'b' || i);
        END IF;
        COMMIT;
    END LOOP;
    PERFORM complete_measured(exec, width, 'b' || width, 'last branch (fires the join)');
    COMMIT;
    PERFORM claim();
    PERFORM complete_measured(exec, width, 'total', 'join task (ends the execution)');
    COMMIT;
    IF (SELECT state FROM wf.execution WHERE id = exec) <> 'succeeded' THEN
        RAISE EXCEPTION 'execution % did not succeed', exec;
    END IF;
END
$$;

CALL measure(10);
CALL measure(1000);
SELECT phase,
       max(rows_touched) FILTER (WHERE width = 1000)
         <= 2 * max(rows_touched) FILTER (WHERE width = 10) AS bounded
FROM cost GROUP BY phase ORDER BY phase;

-- A claim reads only the tasks it takes, however many executions and ready
-- tasks there are (a plan that scanned wf.execution per claim once cost a
-- third of the throughput).
SELECT wf_define('{"name": "crowd", "tasks": {"t": {"action": "x", "queue": "crowd"}}}');
SELECT count(wf_start('crowd')) FROM generate_series(1, 3000);
ANALYZE wf.task;
ANALYZE wf.execution;
CREATE FUNCTION claim_cost(q text DEFAULT 'crowd') RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
    before bigint := rows_touched();
BEGIN
    PERFORM * FROM wf_claim(q, 1);
    RETURN rows_touched() - before;
END
$$;
SELECT claim_cost() < 100 AS claim_reads_little, claim_cost() < 100 AS again;
