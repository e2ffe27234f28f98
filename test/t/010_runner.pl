# wf-runner, the real binary, against a live cluster: actions that succeed,
# fail and are retried, misbehave (invalid JSON, too much output, too slow,
# unknown); heartbeats; a delegated task completed through the HTTP
# endpoint and every error status it answers; the server restarting under
# the runner; a flood of malformed HTTP requests; SIGTERM mid-task; and
# kill -9 mid-task (the watchdog retries; the task succeeds exactly once).
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use HTTP::Tiny;
use IO::Socket::INET;
use IPC::Run;
use Time::HiRes qw(time sleep);

my $node = PostgreSQL::Test::Cluster->new('runner');
$node->init;
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'pg_wf'
pg_wf.database = 'postgres'
});
$node->start;
$node->safe_psql('postgres', q{
  CREATE EXTENSION pg_wf;
  CREATE ROLE run LOGIN IN ROLE wf_runner;
  CREATE ROLE cb LOGIN IN ROLE wf_callback;
});

# --- actions ----------------------------------------------------------------
my $adir = PostgreSQL::Test::Utils::tempdir;
sub action {
	my ($name, $body) = @_;
	open my $f, '>', "$adir/$name" or die;
	print $f "#!/bin/sh\n$body\n";
	close $f;
	chmod 0755, "$adir/$name";
}
action('flaky', q{read input
if [ "$WF_ATTEMPT" = 1 ]; then echo "flaky: first attempt fails" >&2; exit 3; fi
echo "{\"attempt\": $WF_ATTEMPT, \"task\": \"$WF_TASK\", \"input\": $input}"});
action('badjson', q{echo 'this is not json'});
action('bigout', q{head -c 200000 /dev/zero | tr '\0' x});
action('hang', qq{echo \$\$ > $adir/hang.\$WF_TASK_ID.pid; exec sleep 30});
action('jsonerr', q{echo '{"type": "declined", "code": 51}' >&2; exit 1});
action('approve', qq{echo "\$WF_CALLBACK_URL \$WF_CALLBACK_TOKEN" > $adir/handover.\$WF_TASK_ID
echo '{"wf": "delegated"}'});
open my $ini, '>', "$adir/actions.ini" or die;
print $ini qq{# wf-runner actions for 010_runner.pl
[human.approve]
command = approve
delegate = 1 hour

[human.quick]
command = approve
delegate = 1 second

[slow.hang]
command = hang
timeout = 1
};
close $ini;

my $port = PostgreSQL::Test::Cluster::get_free_port();
my $base = "http://127.0.0.1:$port";
my $log = "$adir/runner1.log";
my $conn = $node->connstr('postgres');
sub runner {
	my ($logfile, @extra) = @_;
	return IPC::Run::start(
		[ 'wf-runner', '-d', "$conn user=run", '-a', $adir, '-f', "$adir/actions.ini",
		  '--heartbeat', '0.3', '--max-output', '100000', '-c', '8', '--poll', '1', @extra ],
		'<', \undef, '>', $logfile, '2>', $logfile);
}
my $r1 = runner($log, '--http', "127.0.0.1:$port", '--http-dbname', "$conn user=cb");

sub q1 { $node->safe_psql('postgres', $_[0]) }
sub start_flow {
	my ($name, $def, $input) = @_;
	q1("SELECT wf_define('$def')") unless q1("SELECT count(*) FROM wf.workflow WHERE name = '$name'");
	return q1("SELECT wf_start('$name', '" . ($input // '{}') . "')");
}
sub wait_exec {
	my ($id, $state) = @_;
	return $node->poll_query_until('postgres', "SELECT state FROM wf.execution WHERE id = $id", $state);
}

# --- success, an error then a retry -----------------------------------------
my $ok = start_flow('ok', '{"name": "ok", "tasks": {
  "a": {"action": "std.echo", "input": {"n": 1}},
  "b": {"action": "flaky", "requires": ["a"], "retry": {"count": 1}, "input": {"from_a": "$.tasks.a.result.n"}}}}');
ok(wait_exec($ok, 'succeeded'), 'a workflow run by wf-runner succeeds');
is(q1("SELECT attempt || ' ' || (result->>'attempt') || ' ' || (result->'input'->>'from_a') FROM wf.task WHERE execution_id = $ok AND name = 'b'"),
	'2 2 1', 'the flaky action failed once, was retried, and got its input on stdin');
like(q1("SELECT detail::text FROM wf.event WHERE execution_id = $ok AND task = 'b' AND state = 'ready' AND detail ? 'error'"),
	qr/action_failed.*flaky: first attempt fails/, 'the first attempt\'s error holds the exit code and stderr');

# --- misbehaving actions are task errors, never a crash of the runner -------
my %bad = (badjson => 'invalid_output', bigout => 'output_too_large',
	'no.such' => 'unknown_action', 'slow.hang' => 'action_timeout', jsonerr => 'declined');
my %bad_exec;
for my $a (sort keys %bad) {
	(my $n = "bad_$a") =~ s/\./_/g;
	$bad_exec{$a} = start_flow($n, qq{{"name": "$n", "tasks": {"a": {"action": "$a"}}}});
}
for my $a (sort keys %bad) {
	ok(wait_exec($bad_exec{$a}, 'failed'), "action $a fails its task");
	is(q1("SELECT error->'error'->>'type' FROM wf.execution WHERE id = $bad_exec{$a}"), $bad{$a},
		"... with error type $bad{$a}");
}
is(q1("SELECT error->'error'->>'code' FROM wf.execution WHERE id = $bad_exec{jsonerr}"), '51',
	'a JSON object on stderr is the error document');
ok(kill(0, $r1->{KIDS}[0]{PID}), 'the runner still runs');

# --- heartbeats keep a long action's lease ----------------------------------
my $hb = start_flow('hb', '{"name": "hb", "tasks": {"a": {"action": "std.sleep", "timeout": "1s", "input": {"seconds": 2.5}}}}');
ok(wait_exec($hb, 'succeeded'), 'a 2.5 s action with a 1 s lease succeeds');
is(q1("SELECT attempt FROM wf.task WHERE execution_id = $hb"), '1', '... in its first attempt (heartbeats)');

# --- an operator cancels a running task: its next heartbeat is refused ------
# and the runner stops the action (its process is killed) and goes on
my $hc = start_flow('hcancel', '{"name": "hcancel", "tasks": {"a": {"action": "hang", "timeout": "1s"}}}');
$node->poll_query_until('postgres', "SELECT state FROM wf.task WHERE execution_id = $hc", 'running');
my $hc_task = q1("SELECT id FROM wf.task WHERE execution_id = $hc");
my $t0 = time;
sleep 0.05 until -s "$adir/hang.$hc_task.pid" || time - $t0 > 30;
my ($hang_pid) = slurp_file("$adir/hang.$hc_task.pid") =~ /(\d+)/;
ok($hang_pid && kill(0, $hang_pid), "the action runs (pid $hang_pid)");
q1("SELECT wf_task_cancel(id, 'not needed any more') FROM wf.task WHERE execution_id = $hc");
$t0 = time;
sleep 0.05 while kill(0, $hang_pid) && time - $t0 < 10;
ok(!kill(0, $hang_pid), 'its heartbeat refused, the runner killed the action');
like(slurp_file($log), qr/task \d+ \(exec $hc a, hang\): heartbeat refused \(WF006\).*the action is stopped/,
	'... and says so in its log');
is(q1("SELECT state || ' ' || (error->>'type') FROM wf.task WHERE execution_id = $hc"), 'failed cancelled',
	'the task stays failed as cancelled (the runner reported nothing over it)');

# --- a delegated task, completed through the HTTP endpoint ------------------
sub handover {
	my ($exec) = @_;
	my $id = q1("SELECT id FROM wf.task WHERE execution_id = $exec AND name = 'ask'");
	my $file = "$adir/handover.$id";
	my $t0 = time;
	sleep 0.05 until -s $file || time - $t0 > 30;
	open my $f, '<', $file or die "no handover for task $id";
	my ($url, $token) = split ' ', <$f>;
	return ($id, $url, $token);
}
my $http = HTTP::Tiny->new(timeout => 10);
sub post {
	my ($url, $token, $body, %h) = @_;
	my %headers = ('Content-Type' => 'application/json', %h);
	$headers{Authorization} = "Bearer $token" if defined $token;
	return $http->request('POST', $url, { headers => \%headers, content => $body });
}
my $del = start_flow('del', '{"name": "del", "tasks": {
  "ask": {"action": "human.approve"},
  "then": {"action": "std.echo", "requires": ["ask"], "input": {"approved": "$.tasks.ask.result.approved"}}}}');
my ($tid, $url, $token) = handover($del);
is($url, "$base/tasks/$tid/complete", 'the action got the callback URL');
like($token, qr/^[0-9a-f]{32}$/, '... and the callback token');
is(q1("SELECT state FROM wf.task WHERE id = $tid"), 'delegated', 'the task is delegated');
my $good = '{"status": "success", "result": {"approved": true}}';
is(post($url, undef, $good)->{status}, 401, 'no token: 401');
is(post($url, undef, $good, Authorization => 'Basic abc')->{status}, 401, 'not a bearer token: 401');
is(post($url, '0' x 32, $good)->{status}, 403, 'wrong token: 403');
is(post($url, $token, '{"status": "success", ')->{status}, 400, 'bad JSON: 400');
is(post($url, $token, '[1, 2]')->{status}, 400, 'not an object: 400');
is(post($url, $token, '{"status": "maybe"}')->{status}, 400, 'bad status: 400');
is(post("$base/tasks/987654321/complete", $token, $good)->{status}, 404, 'unknown task: 404');
is(post("$base/tasks/$tid/finish", $token, $good)->{status}, 404, 'another path: 404');
is($http->request('GET', $url)->{status}, 405, 'GET: 405');
my $res = post($url, $token, '{"status": "success", "result": "' . ('x' x 1_100_000) . '"}');
is($res->{status}, 413, 'a body over --http-max-body: 413') or diag explain $res;
is(q1("SELECT state FROM wf.task WHERE id = $tid"), 'delegated', 'none of those changed the task');
$res = post($url, $token, $good);
is($res->{status}, 200, 'the callback: 200');
like($res->{content}, qr/"state":"succeeded"/, '... with the task\'s state');
is(post($url, $token, $good)->{status}, 200, 'the same callback again: 200 (retries are safe)');
is(post($url, $token, '{"status": "error", "result": {"why": "no"}}')->{status}, 409,
	'a different outcome afterwards: 409');
ok(wait_exec($del, 'succeeded'), 'the execution goes on after the callback and succeeds');
is(q1("SELECT result->>'approved' FROM wf.task WHERE execution_id = $del AND name = 'then'"), 'true',
	'the callback\'s result reached the next task');

# late: the delegation timed out before the callback
my $late = start_flow('late', '{"name": "late", "tasks": {"ask": {"action": "human.quick"}}}');
my ($ltid, $lurl, $ltoken) = handover($late);
ok(wait_exec($late, 'failed'), 'a delegation past its timeout fails');
$res = post($lurl, $ltoken, $good);
is($res->{status}, 409, 'a callback after the timeout: 409');
like($res->{content}, qr/WF008/, '... saying it came too late (WF008)');

# --- a flood of malformed requests leaves the endpoint serving --------------
my $sent = 0;
my @junk = ("GARBAGE\r\n\r\n", "\x00\x01\x02\xff\xfe" x 100,
	"POST /tasks/1/complete HTTP/1.1\r\nContent-Length: 99999999999999\r\n\r\n",
	"POST /tasks/1/complete HTTP/1.1\r\nHost: x\r\nNo-Colon-Header\r\n\r\n",
	"GET /" . ('a' x 20000) . " HTTP/1.1\r\nHost: x\r\n\r\n",
	"POST /tasks/1/complete HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n{\"st",
	"POST /tasks/1/complete HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nZZZ\r\n");
for my $i (1 .. 300) {
	my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $port, Timeout => 2) or next;
	print $s $junk[$i % @junk];
	$sent++;
	close $s;
}
is($sent, 300, '300 malformed requests sent');
$res = post("$base/tasks/987654321/complete", $token, $good);
is($res->{status}, 404, 'after the flood the endpoint still answers');

# --- the server restarts under the runner -----------------------------------
my $rs = start_flow('rs', '{"name": "rs", "tasks": {
  "a": {"action": "std.sleep", "input": {"seconds": 2}},
  "b": {"action": "std.echo", "requires": ["a"]}}}');
$node->poll_query_until('postgres', "SELECT state FROM wf.task WHERE execution_id = $rs AND name = 'a'", 'running');
$node->stop('fast');
is(post($url, $token, $good)->{status}, 503, 'database down: the endpoint answers 503');
sleep 1;
$node->start;
ok(wait_exec($rs, 'succeeded'), 'after a restart the runner reconnects, reports and claims again');
is(q1("SELECT count(*) FROM wf.event WHERE execution_id = $rs AND task = 'a' AND state = 'succeeded'"), '1',
	'... its task succeeded once');
is(post($url, $token, $good)->{status}, 200, 'the endpoint reconnects too');

# --- SIGTERM mid-task: no more claims, the running action finishes ---------
my $term = start_flow('term', '{"name": "term", "tasks": {
  "a": {"action": "std.sleep", "input": {"seconds": 1.5}},
  "b": {"action": "std.echo", "requires": ["a"]}}}');
$node->poll_query_until('postgres', "SELECT state FROM wf.task WHERE execution_id = $term AND name = 'a'", 'running');
$r1->signal('TERM');
$r1->finish;
is($r1->full_result(0), 0, 'the runner exits 0 after SIGTERM');
is(q1("SELECT string_agg(name || ' ' || state, ', ' ORDER BY id) FROM wf.task WHERE execution_id = $term"),
	'a succeeded, b ready', 'the running action finished and was reported; nothing new was claimed');
my $log1 = slurp_file($log);
like($log1, qr/stopped; every action finished and was reported/, 'the log says so');
like($log1, qr/task \d+ \(exec $ok b, flaky\) claimed, attempt 2/, 'one log line per task event');

# --- kill -9 mid-task: the watchdog retries, the task succeeds once ---------
my $r2 = runner("$adir/runner2.log");
ok(wait_exec($term, 'succeeded'), 'a new runner picks up where the old one stopped');
my $kill = start_flow('kill', '{"name": "kill", "tasks": {
  "a": {"action": "std.sleep", "timeout": "1s", "retry": {"count": 2}, "input": {"seconds": 1.5}}}}');
$node->poll_query_until('postgres', "SELECT state FROM wf.task WHERE execution_id = $kill", 'running');
$r2->signal('KILL');
$r2->finish;
my $r3 = runner("$adir/runner3.log");
ok(wait_exec($kill, 'succeeded'), 'after kill -9 of the runner the execution still succeeds');
is(q1("SELECT attempt FROM wf.task WHERE execution_id = $kill"), '2', '... in a second attempt');
like(q1("SELECT string_agg(detail->'error'->>'type', ',') FROM wf.event WHERE execution_id = $kill AND detail ? 'error'"),
	qr/lease_expired/, 'the first attempt ended when its lease expired');
is(q1("SELECT count(*) FROM wf.event WHERE execution_id = $kill AND task = 'a' AND state = 'succeeded'"), '1',
	'the task succeeded exactly once');
$r3->signal('TERM');
$r3->finish;
is($r3->full_result(0), 0, 'the last runner stops cleanly');

# --- pg_wf.notify = hungry: runners that follow the protocol still wake ----
# Two runners that would otherwise poll only hourly; work arrives in bursts
# and trickles from another session. A lost wake-up would leave a task
# waiting for the poll.
q1("ALTER SYSTEM SET pg_wf.notify = hungry");
q1("SELECT pg_reload_conf()");
my @hungry = map { runner("$adir/hungry$_.log", '--poll', '3600', '-c', '2', '-q', 'trickle') } (1, 2);
q1(q{SELECT wf_define('{"name": "trickle", "tasks": {
  "a": {"action": "std.echo", "queue": "trickle"},
  "b": {"action": "std.echo", "queue": "trickle", "requires": ["a"]},
  "c": {"action": "std.echo", "queue": "trickle", "requires": ["b"]}}}')});
sleep(0.5);
my $hungry_t0 = time;
for my $round (1 .. 12)
{
	q1("SELECT count(wf_start('trickle')) FROM generate_series(1, " . ($round % 3 == 0 ? 10 : 1) . ")");
	sleep(0.02 * ($round % 4));
}
my $left;
for (1 .. 300)
{
	$left = q1("SELECT count(*) FROM wf.execution WHERE workflow = 'trickle' AND state <> 'succeeded'");
	last if $left == 0;
	sleep(0.1);
}
is($left, '0', 'with pg_wf.notify = hungry, runners polling hourly finish every execution');
cmp_ok(time - $hungry_t0, '<', 30, '... woken by notifications, not by their poll');
$_->signal('TERM') for @hungry;
$_->finish for @hungry;
q1("ALTER SYSTEM RESET pg_wf.notify");
q1("SELECT pg_reload_conf()");

# --- the command line -------------------------------------------------------
my ($out, $err);
IPC::Run::run([ 'wf-runner', '--help' ], '>', \$out, '2>', \$err);
like($out, qr/--concurrency=N.*--http=\[ADDR:\]PORT/s, '--help documents the flags');
ok(!IPC::Run::run([ 'wf-runner', '--concurrency', 'x' ], '>', \$out, '2>', \$err), 'a bad flag is refused');
like($err, qr/invalid --concurrency/, '... with a message');

$node->stop;
done_testing();
