# The watchdog background worker: it acts on its own at the due time (not
# on a poll: max_sleep is ten minutes here), applies a changed GUC on
# SIGHUP, is restarted after an error, and leaves other databases alone.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time);

my $node = PostgreSQL::Test::Cluster->new('worker');
$node->init;
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'pg_wf'
pg_wf.database = 'postgres'
pg_wf.max_sleep = '10min'
});
$node->start;
# Before CREATE EXTENSION the watchdog finds nothing to serve, and says so.
$node->wait_for_log(qr/pg_wf launcher: extension pg_wf is not installed in database "postgres"; waiting for CREATE EXTENSION/);
# The launcher, connected to no database, reads pg_database without its
# indexes (it once failed until another session had written the shared
# relation cache, minutes later).
ok(!$node->log_contains(qr/FATAL/), 'the launcher looked at the database without an error');

$node->safe_psql('postgres', q{
  CREATE EXTENSION pg_wf;
  SELECT wf_define('{"name": "ask", "tasks": {
      "call": {"action": "partner.ask", "delegate_timeout": "1s"},
      "flaky": {"action": "x", "retry": {"count": 1, "delay": "1s"}}}}');
});
$node->wait_for_log(qr/pg_wf watchdog started in database "postgres"/);
pass('CREATE EXTENSION: the watchdog started');
# Let the worker fall asleep with nothing due.
sleep 1;

# A delegated task times out on its own, about a second later.
my $t0 = time;
my $task = $node->safe_psql('postgres', q{
  SELECT wf_start('ask');
  SELECT wf_task_delegate(task_id, token) IS NOT NULL FROM wf_claim() WHERE task = 'call';
  SELECT id FROM wf.task WHERE name = 'call';
});
($task) = (split /\n/, $task)[-1];
ok($node->poll_query_until('postgres',
	"SELECT state <> 'delegated' FROM wf.task WHERE id = $task"),
	'the worker timed out the delegated task');
my $elapsed = time - $t0;
cmp_ok($elapsed, '<', 60, "woken at the deadline, not after max_sleep ($elapsed s)");
is($node->safe_psql('postgres', "SELECT error->>'type' FROM wf.task WHERE id = $task"),
	'timeout', 'the attempt failed with a timeout error');
is($node->safe_psql('postgres', "SELECT state FROM wf.execution WHERE id = (SELECT execution_id FROM wf.task WHERE id = $task)"),
	'failed', 'no retries: the execution failed');

# A retry's not_before wakes the queue: the worker clears wake_at then.
$node->safe_psql('postgres', q{
  SELECT wf_start('ask');
  SELECT wf_task_complete(task_id, 'error', '{"n": 1}', token) FROM wf_claim('default', 10) WHERE task = 'flaky';
});
is($node->safe_psql('postgres', "SELECT count(*) FROM wf.task WHERE name = 'flaky' AND wake_at IS NOT NULL"),
	'1', 'the retry waits for its not_before');
ok($node->poll_query_until('postgres',
	"SELECT count(*) = 0 FROM wf.task WHERE name = 'flaky' AND wake_at IS NOT NULL"),
	'the worker woke the queue when not_before came');

# A sub-workflow's end reaches its parent through the worker, at once
# (the child's commit wakes it; max_sleep is ten minutes).
$node->safe_psql('postgres', q{
  SELECT wf_define('{"name": "kid", "tasks": {"k": {"action": "x", "queue": "kids"}}, "output": "$.tasks.k.result"}');
  SELECT wf_define('{"name": "mum", "tasks": {"call": {"workflow": "kid"}}, "output": {"got": "$.tasks.call.result"}}');
});
my $mum = $node->safe_psql('postgres', "SELECT wf_start('mum')");
$t0 = time;
$node->safe_psql('postgres',
	"SELECT wf_task_complete(task_id, 'success', '\"done\"', token) FROM wf_claim('kids')");
ok($node->poll_query_until('postgres',
	"SELECT state = 'succeeded' FROM wf.execution WHERE id = $mum"),
	'the worker finished the parent when its child ended');
$elapsed = time - $t0;
cmp_ok($elapsed, '<', 60, "without waiting for max_sleep ($elapsed s)");
is($node->safe_psql('postgres', "SELECT output->>'got' FROM wf.execution WHERE id = $mum"),
	'done', "the child's output became the parent task's result");

# SIGHUP applies a changed GUC.
$node->safe_psql('postgres', "ALTER SYSTEM SET pg_wf.max_sleep = '5min'; SELECT pg_reload_conf();");
$node->wait_for_log(qr/pg_wf watchdog reloaded its configuration \(batch_size 1000, max_sleep 300000 ms,/);
pass('the worker applied pg_wf.max_sleep after SIGHUP');

# Overdue work beyond one batch is done in several bounded transactions,
# one after the other, without waiting for the next due time.
$node->safe_psql('postgres', "ALTER SYSTEM SET pg_wf.batch_size = 2; SELECT pg_reload_conf();");
$node->wait_for_log(qr/pg_wf watchdog reloaded its configuration \(batch_size 2,/);
$node->safe_psql('postgres', q{
  SELECT wf_define('{"name": "many", "tasks": {"t": {"action": "x", "queue": "many"}}}');
  SELECT count(wf_start('many')) FROM generate_series(1, 7);
  SELECT count(*) FROM wf_claim('many', 10, '1 second');
});
ok($node->poll_query_until('postgres',
	"SELECT count(*) = 7 FROM wf.execution WHERE workflow = 'many' AND state = 'failed'"),
	'seven expired leases handled in batches of two');
is($node->safe_psql('postgres', q{
  SELECT count(DISTINCT xmin::text) >= 4 FROM wf.task WHERE queue = 'many'
}), 't', 'in at least four transactions');
$node->safe_psql('postgres', "ALTER SYSTEM RESET pg_wf.batch_size; SELECT pg_reload_conf();");

# The worker does not block DROP DATABASE of other databases.
$node->safe_psql('postgres', 'CREATE DATABASE scratch');
$node->safe_psql('scratch', 'CREATE EXTENSION pg_wf');
$node->safe_psql('postgres', 'DROP DATABASE scratch');
pass('DROP DATABASE of another database is not blocked');

# Killed by an error, the worker is restarted and carries on.
my $offset = -s $node->logfile;
my $pid = $node->safe_psql('postgres',
	"SELECT pid FROM pg_stat_activity WHERE backend_type = 'pg_wf watchdog'");
ok($pid, "the worker runs (pid $pid)");
$node->safe_psql('postgres', "SELECT pg_terminate_backend($pid)");
$node->wait_for_log(qr/pg_wf watchdog started in database "postgres"/, $offset);
ok($node->poll_query_until('postgres',
	"SELECT count(*) = 1 FROM pg_stat_activity WHERE backend_type = 'pg_wf watchdog' AND pid <> $pid"),
	'the worker was restarted');
$task = $node->safe_psql('postgres', q{
  SELECT wf_start('ask');
  SELECT wf_task_delegate(task_id, token, '1s') IS NOT NULL FROM wf_claim('default', 10) WHERE task = 'call';
  SELECT max(id) FROM wf.task WHERE name = 'call';
});
($task) = (split /\n/, $task)[-1];
ok($node->poll_query_until('postgres',
	"SELECT state = 'failed' FROM wf.task WHERE id = $task"),
	'the restarted worker times out delegated tasks too');

$node->stop;
done_testing();
