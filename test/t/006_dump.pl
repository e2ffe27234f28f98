# Backups: pg_dump of a database with running, delegated and finished
# executions, restored into a new database, holds every workflow,
# execution, task and history row; the executions finish there with the
# tokens handed out before the dump (a claim token and a delegate's
# callback token), and new ids never collide with restored ones.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('dump');
$node->init;
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'pg_wf'
pg_wf.database = 'postgres'
});
$node->start;
$node->safe_psql('postgres', 'CREATE DATABASE source');
$node->safe_psql('postgres', 'CREATE DATABASE restored');

sub src { $node->safe_psql('source', $_[0]) }
sub dst { $node->safe_psql('restored', $_[0]) }

src(q{
  CREATE EXTENSION pg_wf;
  SELECT wf_define('{"name": "two", "tasks": {
      "a": {"action": "x"}, "b": {"action": "x", "requires": ["a"],
                                  "input": {"got": "$.tasks.a.result.v"}}}}');
  SELECT wf_define('{"name": "ask", "tasks": {"call": {"action": "partner", "queue": "partners"}}}');
});
my $done = src(q{SELECT wf_start('two')});
src(q{SELECT wf_task_complete(task_id, 'success', '{"v": 1}', token) FROM wf_claim('default', 1)});
src(q{SELECT wf_task_complete(task_id, 'success', '{}', token) FROM wf_claim('default', 1)});
my $running = src(q{SELECT wf_start('two')});
my ($rtask, $rtoken) = split /\|/, src(q{SELECT task_id, token FROM wf_claim('default', 1)});
my $asking = src(q{SELECT wf_start('ask')});
my ($dtask, $dclaim) = split /\|/, src(q{SELECT task_id, token FROM wf_claim('partners', 1)});
my $callback = src("SELECT wf_task_delegate($dtask, '$dclaim', '1 day')");
is(src(q{SELECT string_agg(state, ',' ORDER BY id) FROM wf.execution}),
	'succeeded,running,running', 'before the dump: one finished, one claimed, one delegated');

my $counts = q{SELECT (SELECT count(*) FROM wf.workflow) || ' ' || (SELECT count(*) FROM wf.execution)
  || ' ' || (SELECT count(*) FROM wf.task) || ' ' || (SELECT count(*) FROM wf.event)};
my $before = src($counts);

my $file = $node->basedir . '/source.dump';
$node->command_ok([ 'pg_dump', '-Fc', '-f', $file, '-d', $node->connstr('source') ], 'pg_dump');
$node->command_ok([ 'pg_restore', '-d', $node->connstr('restored'), $file ], 'pg_restore');

is(dst($counts), $before, "the restore holds every workflow, execution, task and event ($before)");
is(dst(q{SELECT string_agg(state, ',' ORDER BY id) FROM wf.execution}),
	'succeeded,running,running', 'with their states');

# finish them in the restored database, with the tokens from before the dump
is(dst("SELECT wf_task_complete($rtask, 'success', '{\"v\": 2}', '$rtoken')"), 'succeeded',
	'a claim token from before the dump completes its task');
is(dst("SELECT wf_task_complete($dtask, 'success', '{\"ok\": true}', '$callback')"), 'succeeded',
	'a callback token from before the dump completes the delegated task');
is(dst(q{SELECT input->>'got' FROM wf_claim('default', 1)}), '2',
	'the next task was made ready, with its input from the restored results');
dst(q{SELECT wf_task_complete(t.id, 'success', '{}') FROM wf.task t WHERE t.state = 'running'});
is(dst(q{SELECT string_agg(state, ',' ORDER BY id) FROM wf.execution}),
	'succeeded,succeeded,succeeded', 'every execution ran to its end after the restore');

# new rows get new ids
my $new = dst(q{SELECT wf_start('two')});
cmp_ok($new, '>', $asking, "a new execution's id ($new) follows the restored ones");
is(dst("SELECT min(id) > (SELECT max(id) FROM wf.task WHERE execution_id < $new) FROM wf.task WHERE execution_id = $new"),
	't', "its tasks' ids follow the restored ones");
cmp_ok(dst(q{SELECT max(id) FROM wf.event}), '>', 0, 'history goes on');

done_testing();
