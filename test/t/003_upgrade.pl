# Upgrades: install the oldest released version (0.1), leave executions in
# every state, ALTER EXTENSION pg_wf UPDATE along the chain of upgrade
# scripts, and check that (1) the extension's objects equal those of a fresh
# install of the newest version, compared catalog by catalog, and (2) the
# executions started before the upgrade finish afterwards, with the tokens
# handed out before it (a claim token and a delegate's callback token).
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('upgrade');
$node->init;
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'pg_wf'
pg_wf.database = 'upgraded'
});
$node->start;
$node->safe_psql('postgres', 'CREATE DATABASE upgraded');
$node->safe_psql('postgres', 'CREATE DATABASE fresh');

my $newest = $node->safe_psql('postgres',
	"SELECT default_version FROM pg_available_extensions WHERE name = 'pg_wf'");
isnt($newest, '0.1', "the newest version ($newest) is past the first release");

sub sq { my ($sql) = @_; return $node->safe_psql('upgraded', $sql) }

# --- the oldest version, with executions in every state -------------------
sq(q{CREATE EXTENSION pg_wf VERSION '0.1'});
is(sq(q{SELECT extversion FROM pg_extension WHERE extname = 'pg_wf'}), '0.1', 'installed 0.1');
sq(q{
  SELECT wf_define('{"name": "three", "tasks": {
      "a": {"action": "x"},
      "b": {"action": "x", "requires": ["a"]},
      "c": {"action": "x", "requires": ["b"]}}}');
  SELECT wf_define('{"name": "one", "tasks": {"only": {"action": "y", "queue": "other"}}}');
  SELECT wf_define('{"name": "bad", "tasks": {
      "a": {"action": "x", "queue": "other"},
      "b": {"action": "x", "requires": ["a"]}}}');
});
my %exec;
$exec{$_} = sq("SELECT wf_start('three')") for qw(claimed delegated ready paused);
$exec{failed} = sq("SELECT wf_start('bad')");
$exec{cancelled} = sq("SELECT wf_start('three')");
$exec{succeeded} = sq("SELECT wf_start('one')");
# the claimed and delegated ones hold tokens from before the upgrade
my %tok;
for my $which (qw(claimed delegated)) {
	$tok{$which} = sq(qq{
	  SELECT task_id || ' ' || token FROM wf_claim('default', 1)
	  WHERE execution_id = $exec{$which}});
	# wf_claim takes the oldest ready task: these executions came first
	isnt($tok{$which}, '', "the $which execution's first task was claimed");
}
my ($dtask, $dclaim) = split / /, $tok{delegated};
my $callback = sq("SELECT wf_task_delegate($dtask, '$dclaim', '1 day')");
sq("SELECT wf_pause($exec{paused})");
sq(qq{
  SELECT wf_task_complete(task_id, 'error', '{"boom": 1}', token) FROM wf_claim('other', 1)
  WHERE execution_id = $exec{failed}});
sq("SELECT wf_cancel($exec{cancelled}, 'before the upgrade')");
sq(qq{
  SELECT wf_task_complete(task_id, 'success', '{}', token) FROM wf_claim('other', 1)
  WHERE execution_id = $exec{succeeded}});
is(sq(q{SELECT string_agg(state, ',' ORDER BY id) FROM wf.execution}),
	'running,running,running,paused,failed,cancelled,succeeded',
	'executions in every state before the upgrade');
# The new library serves the old SQL objects until the update: a runner
# (not a superuser) claims and a paused execution's tasks stay unclaimable.
sq(q{CREATE ROLE upgrade_runner IN ROLE wf_runner});
is(sq(q{SET ROLE upgrade_runner; SELECT count(*) FROM wf_claim('nothing', 1)}), '0',
	'a runner claims with the 0.1 objects (nothing to claim, no error)');
# ... and refuses what only the 0.2 objects can hold, saying what to do
my ($rc, $out, $err) = $node->psql('upgraded',
	q{SELECT wf_define('{"name": "w", "tasks": {"w": {"engine": "wait", "event": "e", "key": "k"}}}')});
like($err, qr/needs the objects of pg_wf 0.2.*HINT:  Run ALTER EXTENSION pg_wf UPDATE/s,
	'a wait is refused before the update, with the remedy');
($rc, $out, $err) = $node->psql('upgraded',
	q{SELECT wf_define('{"name": "r", "tasks": {"r": {"action": "x", "repeat": {"while": "true"}}}}')});
like($err, qr/repeat needs the objects of pg_wf 0.2/, 'so is a repeat');

# --- upgrade ----------------------------------------------------------------
sq('ALTER EXTENSION pg_wf UPDATE');
is(sq(q{SELECT extversion FROM pg_extension WHERE extname = 'pg_wf'}), $newest,
	"updated along the chain to $newest");
$node->safe_psql('fresh', 'CREATE EXTENSION pg_wf');

# Every object of the extension, described with what defines it.
my $catalog = q{
WITH ext AS (SELECT oid FROM pg_extension WHERE extname = 'pg_wf'),
     member AS (SELECT d.classid, d.objid FROM pg_depend d, ext
                WHERE d.refclassid = 'pg_extension'::regclass
                  AND d.refobjid = ext.oid AND d.deptype = 'e'),
     rel AS (SELECT c.oid FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
             WHERE n.nspname = 'wf')
SELECT line FROM (
  SELECT 'member ' || pg_describe_object(classid, objid, 0) AS line FROM member
  UNION ALL
  SELECT format('function %s %s acl=%s comment=%s', p.oid::regprocedure,
                pg_get_functiondef(p.oid), p.proacl, obj_description(p.oid, 'pg_proc'))
  FROM member m JOIN pg_proc p ON m.classid = 'pg_proc'::regclass AND p.oid = m.objid
  UNION ALL
  SELECT format('relation %s kind=%s options=%s acl=%s comment=%s', c.oid::regclass,
                c.relkind, c.reloptions, c.relacl, obj_description(c.oid, 'pg_class'))
  FROM pg_class c JOIN rel ON rel.oid = c.oid
  UNION ALL
  SELECT format('column %s.%s %s notnull=%s default=%s identity=%s comment=%s',
                a.attrelid::regclass, a.attname, format_type(a.atttypid, a.atttypmod),
                a.attnotnull, pg_get_expr(ad.adbin, ad.adrelid), a.attidentity,
                col_description(a.attrelid, a.attnum))
  FROM pg_attribute a JOIN rel ON rel.oid = a.attrelid
  LEFT JOIN pg_attrdef ad ON ad.adrelid = a.attrelid AND ad.adnum = a.attnum
  WHERE a.attnum > 0 AND NOT a.attisdropped
  UNION ALL
  SELECT 'index ' || pg_get_indexdef(i.indexrelid) FROM pg_index i JOIN rel ON rel.oid = i.indrelid
  UNION ALL
  SELECT format('constraint %s %s', co.conname, pg_get_constraintdef(co.oid))
  FROM pg_constraint co JOIN rel ON rel.oid = co.conrelid
  UNION ALL
  SELECT 'trigger ' || pg_get_triggerdef(t.oid) FROM pg_trigger t JOIN rel ON rel.oid = t.tgrelid
  WHERE NOT t.tgisinternal
  UNION ALL
  SELECT format('schema %s acl=%s comment=%s', n.nspname, n.nspacl, obj_description(n.oid, 'pg_namespace'))
  FROM pg_namespace n WHERE n.nspname = 'wf'
  UNION ALL
  SELECT format('config %s %s', c.oid::regclass, e.extcondition[i])
  FROM pg_extension e, unnest(e.extconfig) WITH ORDINALITY AS u(c_oid, i)
  JOIN pg_class c ON c.oid = u.c_oid WHERE e.extname = 'pg_wf'
) x ORDER BY line};
my $up = sq($catalog);
my $fr = $node->safe_psql('fresh', $catalog);
cmp_ok(scalar(split /\n/, $fr), '>', 50, 'the catalog description is not empty');
if ($up eq $fr) {
	pass('the upgraded extension equals a fresh install');
} else {
	my %u = map { $_ => 1 } split /\n/, $up;
	my %f = map { $_ => 1 } split /\n/, $fr;
	diag("only after the upgrade: $_") for grep { !$f{$_} } sort keys %u;
	diag("only in a fresh install: $_") for grep { !$u{$_} } sort keys %f;
	fail('the upgraded extension equals a fresh install');
}

# --- the executions from before finish after it ------------------------------
my ($ctask, $ctoken) = split / /, $tok{claimed};
is(sq("SELECT wf_task_complete($ctask, 'success', '{}', '$ctoken')"), 'succeeded',
	'a claim token from before the upgrade completes its task');
is(sq("SELECT wf_task_complete($dtask, 'success', '{\"ok\": true}', '$callback')"), 'succeeded',
	'a callback token from before the upgrade completes the delegated task');
sq("SELECT wf_resume($exec{paused})");
sq("SELECT wf_rerun($exec{failed})");
# run everything that is left to the end
for (1 .. 20) {
	last if sq(q{SELECT count(*) FROM wf.task WHERE state IN ('ready', 'running')}) eq '0';
	sq(q{SELECT wf_task_complete(task_id, 'success', '{}', token) FROM wf_claim('default', 100)});
	sq(q{SELECT wf_task_complete(task_id, 'success', '{}', token) FROM wf_claim('other', 100)});
}
is(sq(q{SELECT string_agg(state, ',' ORDER BY id) FROM wf.execution}),
	'succeeded,succeeded,succeeded,succeeded,succeeded,cancelled,succeeded',
	'every execution started before the upgrade ran to its end after it');

done_testing();
