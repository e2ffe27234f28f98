# No engine statement is JIT-compiled, whatever the server's jit settings,
# and the claim reads a bounded number of rows however long the queue.
# (Above roughly 100,000 ready tasks, the claim's generic plan passed
# jit_above_cost and every claim spent 17 ms compiling with LLVM: runners
# fell from 1,200 to 98 tasks/s.) Here JIT is forced for everything
# (jit_above_cost = 0): a user's query is compiled, the engine's are not.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('jit');
$node->init;
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'pg_wf, pg_stat_statements'
pg_wf.database = 'postgres'
pg_stat_statements.track = all
jit = on
jit_above_cost = 0
jit_inline_above_cost = 0
jit_optimize_above_cost = 0
});
$node->start;
$node->safe_psql('postgres', q{
  CREATE EXTENSION pg_wf;
  CREATE EXTENSION pg_stat_statements;
  SELECT wf_define('{"name": "two", "tasks": {"a": {"action": "x"}, "b": {"action": "x", "requires": ["a"]}}}');
});

# The control: with these settings, a user's statement is JIT-compiled (if
# not, this server has no JIT and the test proves nothing).
my $jit = $node->safe_psql('postgres', q{
  SELECT pg_stat_statements_reset();
  SELECT sum(g) FROM generate_series(1, 1000) g;
  SELECT coalesce(sum(jit_functions), 0) FROM pg_stat_statements WHERE query LIKE '%generate_series(%';
}) =~ s/.*\n//sr;
SKIP:
{
	skip 'this server has no JIT provider', 4 unless $jit > 0;
	pass("a user's statement is JIT-compiled ($jit functions)");

	# A backlog: 100,000 ready executions (written directly: started one by
	# one, without the fix, each start took JIT compilations).
	$node->safe_psql('postgres', q{
	  SET jit = off;    -- (the foreign key's checks, one per row, are not ours)
	  INSERT INTO wf.execution (workflow, version, state, active)
	  SELECT 'two', 1, 'running', 1 FROM generate_series(1, 100000);
	  INSERT INTO wf.task (execution_id, name, action, queue)
	  SELECT id, 'a', 'x', 'default' FROM wf.execution;
	  ANALYZE;
	  SELECT pg_stat_statements_reset();
	});
	# Runners: claims and completions, the watchdog's passes, a lifecycle call.
	$node->safe_psql('postgres', q{
	  SELECT count(wf_task_complete(task_id, 'success', '{}', token)) FROM wf_claim('default', 50);
	  SELECT count(wf_task_complete(task_id, 'success', '{}', token)) FROM wf_claim('default', 1) , generate_series(1, 1);
	  SELECT count(*) FROM (SELECT wf_task_complete(c.task_id, 'success', '{}', c.token)
	                        FROM generate_series(1, 20) g, LATERAL wf_claim('default', 1 + 0 * g) c) x;
	  SELECT wf_tick();
	  SELECT wf_cancel(100000);
	  SELECT wf_start('two');
	});
	my ($stmts, $jitted) = split /\|/, $node->safe_psql('postgres', q{
	  SELECT count(*), coalesce(sum(jit_functions), 0) FROM pg_stat_statements
	  WHERE NOT toplevel AND query ~ 'wf\.(task|execution|event)'});
	cmp_ok($stmts, '>=', 5, "the engine's statements ran ($stmts of them)");
	is($jitted, '0', 'none was JIT-compiled');

	# A claim of one task reads a few blocks, not the queue.
	my $blocks = $node->safe_psql('postgres', q{
	  SELECT pg_stat_statements_reset();
	  SELECT count(*) FROM generate_series(1, 20) g, LATERAL wf_claim('default', 1 + 0 * g) c;
	  SELECT max((shared_blks_hit + shared_blks_read) / calls) FROM pg_stat_statements
	  WHERE NOT toplevel AND query LIKE '%FOR UPDATE SKIP LOCKED)) WITH ORDINALITY%';
	}) =~ s/.*\n//sr;
	cmp_ok($blocks, '<', 50, "a claim of one task reads $blocks blocks, with 100,000 ready");
}

done_testing();
