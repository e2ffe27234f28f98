# The watchdog serves everyone: a step that fails fails its own execution
# and the worker goes on with the others; a lock a client holds is never
# waited for (the step is retried on a later pass).
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('watchdog');
$node->init;
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'pg_wf'
pg_wf.database = 'postgres'
pg_wf.max_sleep = '10min'
});
$node->start;
$node->safe_psql('postgres', q{
  CREATE EXTENSION pg_wf;
  SELECT wf_define('{"name": "w", "tasks": {"a": {"action": "x"}}}');
  SELECT wf_define('{"name": "slow", "timeout": "2s", "tasks": {"a": {"action": "x", "queue": "slow"}}}');
});
$node->wait_for_log(qr/pg_wf watchdog started/);
my $worker_pid = sub {
	$node->safe_psql('postgres',
		"SELECT pid FROM pg_stat_activity WHERE backend_type = 'pg_wf watchdog'");
};
my $pid0 = $worker_pid->();
ok($pid0, "the worker runs (pid $pid0)");

# --- a poisoned execution does not stop the watchdog ------------------------
# P's claimed task is edited by hand into a name its workflow does not have
# and its lease put in the past: the watchdog's step on it raises an error
# (first in line: the oldest lease). Q's lease passes a second later.
my ($p, $ptask) = split /\|/, $node->safe_psql('postgres', q{
  SELECT e, (SELECT task_id FROM wf_claim('default', 1, '1 hour'))
  FROM wf_start('w') e});
$node->safe_psql('postgres',
	"UPDATE wf.task SET name = 'ghost', lease_until = now() - interval '1 minute' WHERE id = $ptask");
my $log_offset = -s $node->logfile;
my ($q, $qtask) = split /\|/, $node->safe_psql('postgres', q{
  SELECT e, (SELECT task_id FROM wf_claim('default', 1, '1 second'))
  FROM wf_start('w') e});
ok($node->poll_query_until('postgres',
	"SELECT state = 'failed' FROM wf.execution WHERE id = $q"),
	'an unrelated expired lease is handled while a poisoned execution exists');
is($node->safe_psql('postgres', "SELECT error->'error'->>'type' FROM wf.execution WHERE id = $q"),
	'lease_expired', 'Q failed because its lease passed');
is($node->safe_psql('postgres', "SELECT state || ' ' || (error->>'type') FROM wf.execution WHERE id = $p"),
	'failed engine_error', 'the poisoned execution failed, with the step\'s error as its error');
like($node->safe_psql('postgres', "SELECT error->>'message' FROM wf.execution WHERE id = $p"),
	qr/ghost/, 'the error says what went wrong');
ok($node->log_contains(qr/WARNING:  pg_wf watchdog: lease_expired of execution $p failed/, $log_offset),
	'the failure is in the server log');
is($worker_pid->(), $pid0, 'the worker did not exit');
like($node->safe_psql('postgres', q{
  SELECT errors || ' ' || last_error FROM wf.watchdog_status WHERE database = 'postgres'}),
	qr/^1 lease_expired of execution $p: .*ghost/, 'wf.watchdog_status shows the failed step as its last error');

# --- a lock a client holds is never waited for -------------------------------
# A runner claims R's task and keeps its transaction open; R's timeout (2 s)
# passes, and failing R must cancel that task: the watchdog may not wait for
# the runner. Meanwhile S's lease passes, and the watchdog handles it.
my $r = $node->safe_psql('postgres', "SELECT wf_start('slow')");
my $runner = $node->background_psql('postgres');
$runner->query_safe("BEGIN; SELECT task_id FROM wf_claim('slow', 1, '1 hour');");
my ($s) = split /\|/, $node->safe_psql('postgres', q{
  SELECT e, (SELECT task_id FROM wf_claim('default', 1, '3 seconds'))
  FROM wf_start('w') e});
ok($node->poll_query_until('postgres',
	"SELECT state = 'failed' FROM wf.execution WHERE id = $s"),
	'while a runner holds a lock the watchdog needs, it handles the others');
is($node->safe_psql('postgres', "SELECT state FROM wf.execution WHERE id = $r"),
	'running', 'the execution whose task is locked waits for a later pass');
is($node->safe_psql('postgres',
	"SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'pg_wf watchdog' AND wait_event_type = 'Lock'"),
	'0', 'the worker is not waiting for a lock');
$runner->query_safe('COMMIT');
$runner->quit;
ok($node->poll_query_until('postgres',
	"SELECT state = 'failed' FROM wf.execution WHERE id = $r"),
	'once the runner commits, the timeout is enforced');
is($node->safe_psql('postgres', "SELECT error->>'type' FROM wf.execution WHERE id = $r"),
	'timeout', 'with the timeout as the error');
is($worker_pid->(), $pid0, 'the worker never exited');

# --- a slow step has a time budget -------------------------------------------
# After a one-second sleep, the worker makes "b" ready, and b's input is a
# quadratic jsonpath filter over 20,000 numbers (tens of seconds). With
# pg_wf.step_timeout at 300 ms, that step fails its execution and the
# watchdog goes on.
$node->safe_psql('postgres', q{
  ALTER SYSTEM SET pg_wf.step_timeout = '300ms';
  SELECT pg_reload_conf();
  SELECT wf_define('{"name": "slowx", "input": ["a"], "tasks": {
      "nap": {"engine": "sleep", "for": "1s", "on_success": ["b"]},
      "b": {"action": "x", "input": {"hits": "$.input.a[*] ? (@ == $.input.a[*])"}}}}');
});
my $x = $node->safe_psql('postgres',
	q{SELECT wf_start('slowx', jsonb_build_object('a', (SELECT jsonb_agg(g) FROM generate_series(1, 20000) g)))});
my $t0 = time;
ok($node->poll_query_until('postgres',
	"SELECT state = 'failed' FROM wf.execution WHERE id = $x"),
	'the execution whose step was over budget failed');
cmp_ok(time - $t0, '<', 15, 'within the budget, not after the expression ran its course');
like($node->safe_psql('postgres', "SELECT error::text FROM wf.execution WHERE id = $x"),
	qr/engine_error.*pg_wf.step_timeout/, 'with an error that names the budget');
is($worker_pid->(), $pid0, 'the worker went on');

done_testing();
