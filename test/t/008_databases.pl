# Every database: with pg_wf.database unset, the launcher starts a watchdog
# in each database where pg_wf is installed (found at start and when
# CREATE EXTENSION commits), none where it is not, and none in templates;
# DROP DATABASE of one succeeds at once and the others keep working; DROP
# EXTENSION stops its watchdog; wf.watchdog_status shows them all; and
# pg_wf.retention makes the watchdog purge finished executions.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time);

my $node = PostgreSQL::Test::Cluster->new('databases');
$node->init;
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'pg_wf'
pg_wf.max_sleep = '10min'
});
$node->start;

my $deadline_wf = q{SELECT wf_define('{"name": "d", "tasks": {"a": {"action": "x", "delegate_timeout": "1s"}}}')};
sub delegate_one
{
	my ($db) = @_;
	return $node->safe_psql($db, q{
	  SELECT wf_start('d');
	  SELECT wf_task_delegate(task_id, token) IS NOT NULL FROM wf_claim();
	  SELECT max(id) FROM wf.execution;
	}) =~ s/.*\n//sr;
}
sub watchdogs
{
	return $node->safe_psql('postgres', q{
	  SELECT string_agg(datname, ',' ORDER BY datname) FROM pg_stat_activity
	  WHERE backend_type = 'pg_wf watchdog'});
}

# Two databases with pg_wf, one without. Installed before a restart:
# found at start.
$node->safe_psql('postgres', 'CREATE DATABASE db1');
$node->safe_psql('postgres', 'CREATE DATABASE plain');
$node->safe_psql('db1', "CREATE EXTENSION pg_wf; $deadline_wf");
$node->restart;
$node->wait_for_log(qr/pg_wf watchdog started in database "db1"/);
pass('found at start: a watchdog in db1');

# ... and one installed while the server runs: found at CREATE EXTENSION.
my $offset = -s $node->logfile;
$node->safe_psql('postgres', 'CREATE DATABASE db2');
$node->safe_psql('db2', "CREATE EXTENSION pg_wf; $deadline_wf");
$node->wait_for_log(qr/pg_wf watchdog started in database "db2"/, $offset);
pass('CREATE EXTENSION: a watchdog in db2');
ok($node->poll_query_until('postgres', "SELECT count(*) = 2 FROM pg_stat_activity WHERE backend_type = 'pg_wf watchdog'"),
	'two watchdogs');
is(watchdogs(), 'db1,db2', 'in db1 and db2 only (not in postgres, plain, or the templates)');

# A deadline in each: both handled by their watchdogs.
my $e1 = delegate_one('db1');
my $e2 = delegate_one('db2');
ok($node->poll_query_until('db1', "SELECT state = 'failed' FROM wf.execution WHERE id = $e1"),
	'db1\'s deadline handled');
ok($node->poll_query_until('db2', "SELECT state = 'failed' FROM wf.execution WHERE id = $e2"),
	'db2\'s deadline handled');

# wf.watchdog_status, from either database, shows both.
is($node->safe_psql('db1', q{
  SELECT string_agg(database || ':' || (pid IS NOT NULL) || ':' || (passes > 0) || ':' || (tasks_handled >= 1), ' ' ORDER BY database)
  FROM wf.watchdog_status}),
	'db1:true:true:true db2:true:true:true', 'wf.watchdog_status: both watchdogs, alive, each handled its task');

# A launcher that exits (and is restarted by the postmaster) finds the
# watchdogs still serving, and starts no second one.
my $launcher = $node->safe_psql('postgres', "SELECT pid FROM pg_stat_activity WHERE backend_type = 'pg_wf launcher'");
$node->safe_psql('postgres', "SELECT pg_terminate_backend($launcher)");
ok($node->poll_query_until('postgres', "SELECT count(*) = 1 FROM pg_stat_activity WHERE backend_type = 'pg_wf launcher' AND pid <> $launcher"),
	'the launcher was restarted');
sleep 7;    # past the restart interval
is(watchdogs(), 'db1,db2', 'still one watchdog per database');

# DROP DATABASE of one succeeds at once; the other keeps working.
my $t0 = time;
$node->safe_psql('postgres', 'DROP DATABASE db2');
my $took = time - $t0;
cmp_ok($took, '<', 3, "DROP DATABASE db2 succeeded at once ($took s)");
$e1 = delegate_one('db1');
ok($node->poll_query_until('db1', "SELECT state = 'failed' FROM wf.execution WHERE id = $e1"),
	'db1 keeps its watchdog');
ok($node->poll_query_until('db1', "SELECT count(*) = 1 FROM wf.watchdog_status"),
	'the dropped database leaves wf.watchdog_status');
sleep 12;    # past the launcher's grace after a drop
ok(!$node->log_contains(qr/FATAL:  database "db2" does not exist/),
	'no watchdog tried to connect to the dropped database');

# A database that becomes a template loses its watchdog (CREATE DATABASE
# from it would fail while one is connected), and a copy gets its own.
$offset = -s $node->logfile;
$node->safe_psql('postgres', 'ALTER DATABASE db1 IS_TEMPLATE true');
ok($node->poll_query_until('postgres', "SELECT count(*) = 0 FROM pg_stat_activity WHERE backend_type = 'pg_wf watchdog'"),
	'a template is not served');
$node->safe_psql('postgres', 'CREATE DATABASE db3 TEMPLATE db1');
pass('CREATE DATABASE from it succeeds');
$node->wait_for_log(qr/pg_wf watchdog started in database "db3"/, $offset);
pass('the copy, with pg_wf, gets a watchdog');
$node->safe_psql('postgres', 'ALTER DATABASE db1 IS_TEMPLATE false');
$node->wait_for_log(qr/pg_wf watchdog started in database "db1"/, $offset);
pass('no longer a template: served again');

# DROP EXTENSION stops the watchdog of that database, without waiting.
$offset = -s $node->logfile;
$node->safe_psql('db3', 'DROP EXTENSION pg_wf');
$node->wait_for_log(qr/extension pg_wf was dropped from database "db3"; exiting/, $offset);
ok($node->poll_query_until('postgres', q{SELECT string_agg(datname, ',') = 'db1' FROM pg_stat_activity WHERE backend_type = 'pg_wf watchdog'}),
	'only db1 keeps a watchdog');
$node->safe_psql('db3', "CREATE EXTENSION pg_wf");
$node->wait_for_log(qr/pg_wf watchdog started in database "db3"/, $offset);
pass('CREATE EXTENSION again: back');

# Retention: executions finished longer ago than pg_wf.retention go.
$node->safe_psql('db1', q{
  UPDATE wf.execution SET finished_at = now() - interval '2 hours' WHERE state = 'failed';
  SELECT wf_start('d');
});
$node->safe_psql('postgres', "ALTER SYSTEM SET pg_wf.retention = '1h'; SELECT pg_reload_conf()");
ok($node->poll_query_until('db1', "SELECT count(*) = 0 FROM wf.execution WHERE state = 'failed'"),
	'pg_wf.retention: the watchdog purged the old executions');
is($node->safe_psql('db1', "SELECT count(*) FROM wf.execution"), '1', 'and kept the running one');
is($node->safe_psql('db1', "SELECT purged FROM wf.watchdog_status WHERE database = 'db1'"), '2',
	'wf.watchdog_status counts them');

done_testing();
