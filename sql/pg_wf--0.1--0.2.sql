/* pg_wf 0.1 -> 0.2 */
\echo Use "ALTER EXTENSION pg_wf UPDATE TO '0.2'" to load this file. \quit

-- Every table has a comment; "active" means ready, running or delegated.
COMMENT ON TABLE wf.execution IS 'Workflow executions: one row per run of a workflow version';
COMMENT ON COLUMN wf.execution.active IS 'Engine bookkeeping: how many of this execution''s tasks are active (ready, running or delegated)';
COMMENT ON TABLE wf.join_state IS 'Engine bookkeeping: joins still waiting for some of their inbound edges (edges resolved, edges fired, decided)';
COMMENT ON TABLE wf.foreach_state IS 'Engine bookkeeping: for_each tasks whose items are running, and how many items succeeded';
COMMENT ON TABLE wf.inbox IS 'Sub-workflows that ended, waiting for the watchdog to finish their parent''s task';
