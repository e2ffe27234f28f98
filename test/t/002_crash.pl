# Durability of the engine's state across a clean restart and a crash.
#  - A restart while tasks are running and delegated loses nothing: the
#    same tokens complete them afterwards.
#  - After kill -9 of the postmaster with tasks running and delegated, the
#    restarted server's watchdog expires the leases and deadlines and
#    retries; the old attempts' tokens are fenced off (WF008), and every
#    execution ends with each step succeeded exactly once.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('crash');
$node->init;
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'pg_wf'
pg_wf.database = 'postgres'
});
$node->start;
$node->safe_psql('postgres', q{
  CREATE EXTENSION pg_wf;
  SELECT wf_define('{"name": "chain", "tasks": {
      "one":   {"action": "work", "retry": {"count": 2}},
      "two":   {"action": "partner", "requires": ["one"], "retry": {"count": 2}},
      "three": {"action": "work", "requires": ["two"], "retry": {"count": 2}}}}');
  CREATE TABLE held (task_id bigint, task text, token text, kind text);
});

# Claim everything one runner can see; delegate the partner steps.
sub claim_round
{
	my ($lease, $deadline) = @_;
	return $node->safe_psql('postgres', qq{
	  WITH c AS (SELECT * FROM wf_claim('default', 1000, '$lease'))
	  INSERT INTO held
	  SELECT task_id, task,
	         CASE WHEN action = 'partner' THEN wf_task_delegate(task_id, token, '$deadline') ELSE token END,
	         CASE WHEN action = 'partner' THEN 'callback' ELSE 'runner' END
	  FROM c RETURNING 1;
	});
}

# Complete what is held, with the tokens held; returns how many succeeded.
sub complete_held
{
	return $node->safe_psql('postgres', q{
	  WITH d AS (DELETE FROM held RETURNING *)
	  SELECT count(*) FILTER (WHERE wf_task_complete(task_id, 'success', '{"ok": true}', token) = 'succeeded') FROM d;
	});
}

# --- A clean restart mid-run loses nothing.
$node->safe_psql('postgres', "SELECT wf_start('chain') FROM generate_series(1, 5)");
claim_round('1 hour', '1 hour');
is(complete_held(), '5', 'first steps completed');
claim_round('1 hour', '1 hour');
is($node->safe_psql('postgres', "SELECT count(*) FROM wf.task WHERE state = 'delegated'"), '5',
	'five partner steps delegated');
$node->restart;
is(complete_held(), '5', 'after a restart the callbacks complete the delegated steps with their tokens');
claim_round('1 hour', '1 hour');
is(complete_held(), '5', 'last steps completed');
is($node->safe_psql('postgres', "SELECT string_agg(state, ',') FROM (SELECT DISTINCT state FROM wf.execution) s"),
	'succeeded', 'all executions succeeded');

# --- A crash with tasks running and delegated.
$node->safe_psql('postgres', q{
  TRUNCATE held;
  SELECT wf_start('chain') FROM generate_series(1, 10);
});
claim_round('1 hour', '1 hour');
is(complete_held(), '10', 'first steps of the second batch completed');
claim_round('3s', '3s');    # ten partner steps, delegated with a 3 s deadline
$node->safe_psql('postgres', "SELECT wf_start('chain') FROM generate_series(1, 10)");
claim_round('3s', '3s');    # ten first steps, running with a 3 s lease
is($node->safe_psql('postgres', "SELECT state || ':' || count(*) FROM wf.task WHERE state IN ('running', 'delegated') GROUP BY state ORDER BY state"),
	"delegated:10\nrunning:10", 'ten running and ten delegated tasks at the crash');
# Keep the pre-crash tokens: their holders will try to report later.
$node->safe_psql('postgres', "CREATE TABLE fenced AS SELECT * FROM held; TRUNCATE held;");

my $old_pid = $node->{_pid};
$node->kill9;
# kill -9 is asynchronous, and orphaned children leave when they notice:
# start again once the old processes are gone.
for my $wait (1 .. 600)
{
	last unless kill(0, $old_pid);
	select(undef, undef, undef, 0.1);
}
my $started = 0;
for my $try (1 .. 30)
{
	if ($node->start(fail_ok => 1))
	{
		$started = 1;
		last;
	}
	$node->{_pid} = undef;    # the failed attempt read a stale postmaster.pid
	sleep 1;
}
ok($started, 'the server restarted after kill -9');

ok($node->poll_query_until('postgres',
	"SELECT count(*) = 0 FROM wf.task WHERE state IN ('running', 'delegated')"),
	'after the crash the watchdog expired every lease and deadline');
is($node->safe_psql('postgres', q{
  SELECT count(*) FROM wf.event WHERE state = 'ready' AND detail->'error'->>'type' IN ('lease_expired', 'timeout')
}), '20', 'twenty attempts failed by expiry and were retried');

# The old holders report now: every one is refused as expired.
my $refused = 0;
foreach my $row (split /\n/, $node->safe_psql('postgres', "SELECT task_id || ' ' || token FROM fenced"))
{
	my ($id, $token) = split / /, $row;
	my ($ret, $out, $err) = $node->psql('postgres',
		"SELECT wf_task_complete($id, 'success', '{\"late\": true}', '$token')");
	$refused++ if $err =~ /came after its attempt expired/;
}
is($refused, 20, 'all twenty pre-crash tokens were fenced off (WF008)');

# New runners finish everything.
for my $round (1 .. 6)
{
	claim_round('1 hour', '1 hour');
	complete_held();
}
is($node->safe_psql('postgres', "SELECT state || ':' || count(*) FROM wf.execution GROUP BY state"),
	'succeeded:25', 'every execution succeeded');
is($node->safe_psql('postgres', q{
  SELECT count(*) FROM (SELECT task_id FROM wf.event WHERE state = 'succeeded' AND task_id IS NOT NULL
                        GROUP BY task_id HAVING count(*) <> 1) x
}), '0', 'each step succeeded exactly once');
is($node->safe_psql('postgres', "SELECT count(*) FROM wf.task WHERE state = 'succeeded'"),
	'75', 'all 75 steps succeeded');
is($node->safe_psql('postgres', "SELECT count(*) FROM wf.event WHERE state = 'rejected'"),
	'20', 'the twenty late reports are in the history');

$node->stop;
done_testing();
