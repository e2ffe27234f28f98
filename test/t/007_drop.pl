# The watchdog's own database dropped WITH (FORCE): the watchdog ends, and
# the launcher says once that the database is gone and waits quietly (it
# used to fail to connect, with a FATAL, every five seconds forever). When
# the database is back, with pg_wf in it, the watchdog serves it again.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('drop');
$node->init;
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'pg_wf'
pg_wf.database = 'wfdb'
pg_wf.max_sleep = '1s'
});
$node->start;
$node->wait_for_log(qr/pg_wf launcher: database "wfdb" does not exist; the watchdog waits for it/);
pass('no database yet: the launcher waits for it');

$node->safe_psql('postgres', 'CREATE DATABASE wfdb');
$node->wait_for_log(qr/pg_wf launcher: extension pg_wf is not installed in database "wfdb"; waiting for CREATE EXTENSION/);
pass('the database appeared, without pg_wf: the launcher says so');
$node->safe_psql('wfdb', 'CREATE EXTENSION pg_wf');
$node->wait_for_log(qr/pg_wf watchdog started in database "wfdb"/);
pass('CREATE EXTENSION: the watchdog started in it');

my $offset = -s $node->logfile;
$node->safe_psql('postgres', 'DROP DATABASE wfdb WITH (FORCE)');
pass('DROP DATABASE ... WITH (FORCE) of the watchdog\'s database');
$node->wait_for_log(qr/pg_wf launcher: database "wfdb" does not exist; the watchdog waits for it/, $offset);
sleep 12;    # two restart intervals and several max_sleep periods
my $log = slurp_file($node->logfile, $offset);
my $fatals = () = $log =~ /FATAL:  database "wfdb" does not exist/g;
is($fatals, 0, 'no watchdog tries to connect to the dropped database');
my $waits = () = $log =~ /does not exist; the watchdog waits for it/g;
is($waits, 1, 'the launcher said so once');

# the database comes back, with pg_wf: the watchdog serves it again
$offset = -s $node->logfile;
$node->safe_psql('postgres', 'CREATE DATABASE wfdb');
$node->safe_psql('wfdb', q{
  CREATE EXTENSION pg_wf;
  SELECT wf_define('{"name": "d", "tasks": {"a": {"action": "x", "delegate_timeout": "1s"}}}');
  SELECT wf_start('d');
  SELECT wf_task_delegate(task_id, token) IS NOT NULL FROM wf_claim();
});
$node->wait_for_log(qr/pg_wf launcher: database "wfdb" exists again/, $offset);
ok($node->poll_query_until('wfdb', "SELECT state = 'failed' FROM wf.execution"),
	'the watchdog handles the new database\'s deadline');

# a plain DROP DATABASE (no FORCE) of the watchdog's database is not
# blocked by the watchdog: it is asked to exit first
$offset = -s $node->logfile;
$node->safe_psql('postgres', 'DROP DATABASE wfdb');
pass('a plain DROP DATABASE of the watchdog\'s database succeeds');
$node->wait_for_log(qr/pg_wf launcher: database "wfdb" does not exist; the watchdog waits for it/, $offset);
pass('and the launcher waits for the database again');

done_testing();
