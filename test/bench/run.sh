#!/usr/bin/env bash
# make bench: pg_wf against a floor measured in the same run, on a throwaway
# cluster with durable commits (fsync on, synchronous_commit on). Prints a
# table and writes the same figures to test/bench/results.json.
#   BENCH_SECONDS (default 10) per throughput run, BENCH_CLIENTS (default 4).
source "$(dirname "$0")/../lib.sh"
cd "$WF_ROOT"

wf_install_deps
[ -f "$("$PG_CONFIG" --includedir)/libpq-fe.h" ] || as_root apt-get install -y -qq libpq-dev >/dev/null
wf_build_install
WF_PGPORT=54331 WF_PGOPTS="-c fsync=on -c synchronous_commit=on -c shared_buffers=512MB -c max_connections=60 -c pg_wf.database=bench" \
    wf_start_cluster

DUR=${BENCH_SECONDS:-10}
CLIENTS=${BENCH_CLIENTS:-4}
PGBENCH="$("$PG_CONFIG" --bindir)/pgbench"
OUT=test/bench/results.json
LAT="$WF_PGDIR/latency"
gcc -O2 -I"$("$PG_CONFIG" --includedir)" test/bench/latency.c -L"$("$PG_CONFIG" --libdir)" -lpq -o "$LAT"

export PGDATABASE=bench
createdb bench
psql -X -q -v ON_ERROR_STOP=1 -f test/bench/setup.sql >/dev/null
q() { psql -X -q -t -A -v ON_ERROR_STOP=1 -c "$1"; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", (b > 0 ? a / b : 0) }'; }

wf_done() { q "SELECT count(*) FROM wf.task WHERE state = 'succeeded'"; }
floor_done() { q "SELECT count(*) FROM bench.floor_task WHERE state = 'done'"; }

# CPU time (clock ticks) of the server's backends that have exited: the
# postmaster's cutime + cstime (/proc/PID/stat fields 16, 17)
server_cpu_ticks() { awk '{ print $16 + $17 }' "/proc/$(head -1 "$WF_PGDIR/data/postmaster.pid")/stat"; }

# tasks completed per second by $CLIENTS pgbench clients running $1 for $DUR s
# ($3, if given: a shell command run just before the clients start). The
# server CPU per task (us; every backend of the run, i.e. the runners'
# backends and any autovacuum worker that ended meanwhile) goes to
# $WF_PGDIR/cpu.<script>.
throughput() {
    local script=$1 counter=$2 before after t0 t1 c0 c1
    q "VACUUM ANALYZE" >/dev/null
    [ -n "${3:-}" ] && $3 >/dev/null
    before=$($counter)
    c0=$(server_cpu_ticks)
    t0=$(date +%s.%N)
    "$PGBENCH" -n -c "$CLIENTS" -j "$CLIENTS" -T "$DUR" ${PGBENCH_VARS:-} -f "test/bench/$script" >/dev/null 2>"$WF_PGDIR/pgbench.err" \
        || { cat "$WF_PGDIR/pgbench.err"; exit 1; }
    t1=$(date +%s.%N)
    sleep 0.5    # the clients' backends exit and are reaped
    c1=$(server_cpu_ticks)
    after=$($counter)
    awk -v n=$((after - before)) -v c=$((c1 - c0)) -v hz="$(getconf CLK_TCK)" \
        'BEGIN { printf "%.0f", (n > 0 ? c * 1e6 / hz / n : 0) }' > "$WF_PGDIR/cpu.$script"
    awk -v n=$((after - before)) -v t0="$t0" -v t1="$t1" 'BEGIN { printf "%.0f", n / (t1 - t0) }'
}
cpu_of() { cat "$WF_PGDIR/cpu.$1"; }
prestart_wf() { q "SELECT count(wf_start('chain5')) FROM generate_series(1, $1)" >/dev/null; }
prestart_floor() { q "INSERT INTO bench.floor_task (exec, step) SELECT g, 1 FROM generate_series(1, $1) g" >/dev/null; }

# pg_wf.notify for the transactions that make tasks ready: workload 1 is
# measured with both; everything after it with "hungry"
notify_mode() { q "ALTER SYSTEM SET pg_wf.notify = '$1'" >/dev/null; q "SELECT pg_reload_conf()" >/dev/null; sleep 0.2; }

echo "== 1. throughput, unbatched ($CLIENTS runners, ${DUR}s each)"
prestart_floor 40000; prestart_wf 80000
floor1=$(throughput floor_unbatched.pgbench floor_done); cpu_floor1=$(cpu_of floor_unbatched.pgbench)
notify_mode always
wf1a=$(throughput wf_unbatched.pgbench wf_done); cpu_wf1a=$(cpu_of wf_unbatched.pgbench)
wf1ca=$(PGBENCH_VARS="-D id=0 -D tok=none" throughput wf_complete_claim.pgbench wf_done)
echo "   pg_wf.notify = always: pg_wf $wf1a tasks/s; completing and claiming in one transaction $wf1ca tasks/s"
notify_mode hungry
wf1=$(throughput wf_unbatched.pgbench wf_done); cpu_wf1=$(cpu_of wf_unbatched.pgbench)
echo "   floor $floor1 tasks/s, pg_wf $wf1 tasks/s"
# the same runners, each completing its task and claiming the next in one
# transaction (wf_task_complete_claim): one commit per task, the floor two
wf1c=$(PGBENCH_VARS="-D id=0 -D tok=none" throughput wf_complete_claim.pgbench wf_done)
echo "   pg_wf completing and claiming in one transaction: $wf1c tasks/s"

echo "== 2. throughput, batched (claim 100, complete 100)"
prestart_floor 150000; prestart_wf 150000
floor2=$(throughput floor_batched.pgbench floor_done); cpu_floor2=$(cpu_of floor_batched.pgbench)
wf2=$(throughput wf_batched.pgbench wf_done); cpu_wf2=$(cpu_of wf_batched.pgbench)
echo "   floor $floor2 tasks/s, pg_wf $wf2 tasks/s"

echo "== 3. width: one execution, fan-out and join (batched runner)"
# One execution, already started as workflow $1, run to the end by one
# batching runner (pgbench script $2, $3 claims of up to 100); prints
# microseconds per task for $4 tasks.
run_width() {
    local workflow=$1 script=$2 claims=$3 tasks=$4 t0 t1
    t0=$(date +%s.%N)
    "$PGBENCH" -n -c 1 -t "$claims" -f "test/bench/$script" >/dev/null 2>"$WF_PGDIR/pgbench.err" \
        || { cat "$WF_PGDIR/pgbench.err"; exit 1; }
    t1=$(date +%s.%N)
    [ "$(q "SELECT state FROM wf.execution WHERE workflow = '$workflow'")" = succeeded ] \
        || { echo "$workflow did not finish"; exit 1; }
    awk -v n="$tasks" -v t0="$t0" -v t1="$t1" 'BEGIN { printf "%.0f", (t1 - t0) * 1e6 / n }'
}
# n parallel tasks joined by one
run_fan() {
    q "SELECT bench.define_fan($1); SELECT wf_start('fan$1')" >/dev/null
    run_width "fan$1" fan_batched.pgbench $(($1 / 100 + 1)) $(($1 + 1))
}
# a for_each of n items
run_foreach() {
    q "SELECT bench.define_foreach($1);
       SELECT wf_start('each$1', jsonb_build_object('items', (SELECT jsonb_agg(g) FROM generate_series(1, $1) g)))" >/dev/null
    run_width "each$1" foreach_batched.pgbench $(($1 / 100)) "$1"
}
fan100=$(run_fan 100)
fan1000=$(run_fan 1000)
echo "   100 wide: $fan100 us/task, 1000 wide: $fan1000 us/task"
each1000=$(run_foreach 1000)
each10000=$(run_foreach 10000)
echo "   for_each 1,000 items: $each1000 us/item, 10,000 items: $each10000 us/item"

# wf_define of a dense graph: microseconds per edge, ~100,000 edges vs ~10,000
define_dense() {
    local t0 t1
    q "CREATE TABLE IF NOT EXISTS bench.defs (n integer PRIMARY KEY, d jsonb);
       INSERT INTO bench.defs SELECT $1, bench.dense_definition($1) ON CONFLICT DO NOTHING" >/dev/null
    t0=$(date +%s.%N)
    q "SELECT wf_define(d) FROM bench.defs WHERE n = $1" >/dev/null
    t1=$(date +%s.%N)
    awk -v e=$(($1 * ($1 - 1) / 2)) -v t0="$t0" -v t1="$t1" 'BEGIN { printf "%.2f", (t1 - t0) * 1e6 / e }'
}
def10k=$(define_dense 142)
def100k=$(define_dense 448)
echo "   wf_define: $def10k us/edge at 10,011 edges, $def100k us/edge at 100,128 edges"

echo "== 4. delegate storm: 10,000 callbacks from 8 sessions"
q "SELECT count(wf_start('approve')) FROM generate_series(1, 10000)" >/dev/null
q "CREATE TABLE bench.cb (n integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY, task_id bigint, token text);
   CREATE SEQUENCE bench.cb_seq;"
for i in $(seq 10); do
    q "INSERT INTO bench.cb (task_id, token)
       SELECT task_id, wf_task_delegate(task_id, token, '1 hour') FROM wf_claim('delegates', 1000)" >/dev/null
done
t0=$(date +%s.%N)
"$PGBENCH" -n -c 8 -j 8 -t 1250 -f test/bench/callback.pgbench >/dev/null 2>"$WF_PGDIR/pgbench.err" \
    || { cat "$WF_PGDIR/pgbench.err"; exit 1; }
t1=$(date +%s.%N)
cbs=$(awk -v t0="$t0" -v t1="$t1" 'BEGIN { printf "%.0f", 10000 / (t1 - t0) }')
storm_ok=$(q "SELECT ((SELECT count(*) FROM wf.execution WHERE workflow = 'approve' AND state = 'succeeded') = 10000
              AND (SELECT count(*) FROM wf.task WHERE queue = 'delegates' AND state = 'succeeded') = 10000
              AND NOT EXISTS (SELECT 1 FROM wf.event e JOIN wf.task t ON t.id = e.task_id
                              WHERE t.queue = 'delegates' AND e.state = 'succeeded'
                              GROUP BY e.task_id HAVING count(*) <> 1))::text")
echo "   $cbs callbacks/s; all 10,000 applied exactly once: $storm_ok"

echo "== 4b. the same storm over HTTP: wf-runner's endpoint, 8 keep-alive connections"
HCB="$WF_PGDIR/http_callbacks"
gcc -O2 -pthread test/bench/http_callbacks.c -o "$HCB"
hport=18990
while (exec 3<>"/dev/tcp/127.0.0.1/$hport") 2>/dev/null; do hport=$((hport + 1)); done
q "SELECT count(wf_start('approve')) FROM generate_series(1, 10000)" >/dev/null
for i in $(seq 10); do
    q "SELECT task_id || ' ' || wf_task_delegate(task_id, token, '1 hour') FROM wf_claim('delegates', 1000)"
done > "$WF_PGDIR/http_tasks"
# (its own queue, which nobody fills: this runner only serves callbacks)
"$("$PG_CONFIG" --bindir)/wf-runner" -d "host=$PGHOST port=$PGPORT dbname=bench" -q http_bench_idle \
    --quiet --http "127.0.0.1:$hport" --http-threads 8 2>"$WF_PGDIR/wf-runner.log" &
hrunner=$!
for _ in $(seq 50); do (exec 3<>"/dev/tcp/127.0.0.1/$hport") 2>/dev/null && break; sleep 0.1; done
http_storm=$("$HCB" "$hport" 8 < "$WF_PGDIR/http_tasks")
kill -TERM "$hrunner"; wait "$hrunner" || true
hcbs=$(echo "$http_storm" | sed 's/.*"callbacks_per_s": \([0-9]*\).*/\1/')
http_ok=$(q "SELECT (count(*) = 20000)::text FROM wf.task WHERE queue = 'delegates' AND state = 'succeeded'")
echo "   $hcbs callbacks/s over HTTP ($http_storm); all 20,000 delegated tasks succeeded: $http_ok"

echo "== 6. latency: completion commit -> next task claimed by a LISTENing runner"
lat_low=$("$LAT" 500)
echo "   low load:  $lat_low"
prestart_wf 20000
"$PGBENCH" -n -c "$CLIENTS" -j "$CLIENTS" -T 30 -f test/bench/wf_unbatched.pgbench >/dev/null 2>&1 &
load=$!
sleep 1
lat_high=$("$LAT" 300)
kill "$load" 2>/dev/null || true; wait "$load" 2>/dev/null || true
echo "   high load: $lat_high"

echo "== 5. scale: workload 1 again with 1,000,000 finished tasks in the tables"
q "INSERT INTO wf.execution (workflow, version, state, input, vars, output, active, finished_at)
   SELECT 'chain5', 1, 'succeeded', '{}', '{}', '{}', 0, now() FROM generate_series(1, 200000);
   INSERT INTO wf.task (execution_id, name, action, queue, state, attempt, input, result, finished_at)
   SELECT e.id, 's' || s, 'work', 'default', 'succeeded', 1, '{}', '{\"ok\": true}', now()
   FROM (SELECT id FROM wf.execution ORDER BY id DESC LIMIT 200000) e, generate_series(1, 5) s;
   INSERT INTO wf.event (execution_id, task_id, task, state)
   SELECT t.execution_id, t.id, t.name, st FROM wf.task t, unnest(ARRAY['ready', 'running', 'succeeded']) st
   WHERE t.id > (SELECT max(id) - 1000000 FROM wf.task);" >/dev/null
finished=$(q "SELECT count(*) FROM wf.task WHERE state = 'succeeded'")
prestart_wf 40000
wf5=$(throughput wf_unbatched.pgbench wf_done)
echo "   $finished finished tasks: pg_wf $wf5 tasks/s"

echo "== 7. retention: runners while the watchdog purges 1,000,000 finished executions"
# a million executions that finished two days ago, two tasks and four
# history rows each (beside the 200,000 of workload 5, finished today)
q "INSERT INTO wf.execution (workflow, version, state, input, vars, output, active, created_at, finished_at)
   SELECT 'chain5', 1, 'succeeded', '{}', '{}', '{}', 0, now() - interval '3 days', now() - interval '2 days'
   FROM generate_series(1, 1000000);
   INSERT INTO wf.task (execution_id, name, action, queue, state, attempt, input, result, finished_at)
   SELECT e.id, 's' || s, 'work', 'default', 'succeeded', 1, '{}', '{\"ok\": true}', e.finished_at
   FROM wf.execution e, generate_series(1, 2) s WHERE e.finished_at < now() - interval '1 day';
   INSERT INTO wf.event (execution_id, task_id, task, state)
   SELECT t.execution_id, t.id, t.name, st FROM wf.task t, unnest(ARRAY['ready', 'succeeded']) st
   WHERE t.finished_at < now() - interval '1 day';" >/dev/null
old=$(q "SELECT count(*) FROM wf.execution WHERE finished_at < now() - interval '1 day'")
prestart_wf 40000
# (the purge deletes succeeded tasks: count only those finished today)
wf_done_today() { q "SELECT count(*) FROM wf.task WHERE state = 'succeeded' AND finished_at > now() - interval '1 day'"; }
wf7_base=$(throughput wf_unbatched.pgbench wf_done_today)
purged() { q "SELECT coalesce(sum(purged), 0) FROM wf.watchdog_status WHERE database = 'bench'"; }
p0=$(purged); t0=$(date +%s.%N)
retention() { q "ALTER SYSTEM SET pg_wf.retention = '$1'"; q "SELECT pg_reload_conf()"; }
wf7=$(throughput wf_unbatched.pgbench wf_done_today "retention 1d")
p1=$(purged); t1=$(date +%s.%N)
retention 0 >/dev/null
purge_rate=$(awk -v n=$((p1 - p0)) -v t0="$t0" -v t1="$t1" 'BEGIN { printf "%.0f", n / (t1 - t0) }')
left=$(q "SELECT count(*) FROM wf.execution WHERE finished_at < now() - interval '1 day'")
echo "   $old old executions; runners: $wf7_base tasks/s without the purge, $wf7 with it; purged $((p1 - p0)) at $purge_rate executions/s ($left left)"

echo "== 8. backlog: throughput with 10,000, 100,000 and 1,000,000 ready executions in the queue"
# The queue emptied of what earlier workloads left, then topped up to n
# ready chain5 executions (written directly, as wf_start leaves them: the
# execution, its first task ready, their history). Completing a task makes
# the next one ready, so the backlog stays about n during the runs.
q "UPDATE wf.task SET state = 'cancelled' WHERE state = 'ready' AND queue = 'default'" >/dev/null
backlog() {
    local have
    have=$(q "SELECT count(*) FROM wf.task WHERE state = 'ready' AND queue = 'default'")
    [ "$have" -ge "$1" ] && return 0
    q "WITH e AS (INSERT INTO wf.execution (workflow, version, state, input, vars, active)
                  SELECT 'chain5', 1, 'running', '{}', '{}', 1 FROM generate_series(1, $1 - $have) RETURNING id),
            h AS (INSERT INTO wf.event (execution_id, state) SELECT id, 'running' FROM e),
            t AS (INSERT INTO wf.task (execution_id, name, action, queue, input)
                  SELECT id, 's1', 'work', 'default', '{}' FROM e RETURNING id, execution_id)
       INSERT INTO wf.event (execution_id, task_id, task, state) SELECT execution_id, id, 's1', 'ready' FROM t" >/dev/null
}
for n in 10000 100000 1000000; do
    backlog $n
    u=$(throughput wf_unbatched.pgbench wf_done)
    backlog $n
    b=$(throughput wf_batched.pgbench wf_done)
    eval "bl_u_$n=$u bl_b_$n=$b"
    echo "   $n ready: unbatched $u tasks/s, batched $b tasks/s"
done
rbu1=$(ratio "$bl_u_100000" "$bl_u_10000"); rbu2=$(ratio "$bl_u_1000000" "$bl_u_10000")
rbb1=$(ratio "$bl_b_100000" "$bl_b_10000"); rbb2=$(ratio "$bl_b_1000000" "$bl_b_10000")

echo "== memory after the runs"
backend_kb=$(q "DO \$\$ BEGIN PERFORM wf_task_complete(task_id, 'success', '{}', token) FROM wf_claim('default', 1000); END \$\$;
               SELECT (sum(total_bytes) / 1024)::int FROM pg_backend_memory_contexts" | tail -1)
graphs_kb=$(q "SELECT wf_start('chain5') > 0; SELECT coalesce((sum(total_bytes) / 1024)::int, 0) FROM pg_backend_memory_contexts WHERE name = 'pg_wf graph'" | tail -1)
wpid=$(q "SELECT pid FROM pg_stat_activity WHERE backend_type = 'pg_wf watchdog'")
worker_kb=$(awk '/^Private_(Clean|Dirty)/ { s += $2 } END { print s + 0 }' "/proc/$wpid/smaps_rollup" 2>/dev/null || echo 0)
echo "   backend after 1000 completions: ${backend_kb} kB of memory contexts (compiled graph: ${graphs_kb} kB); watchdog worker: ${worker_kb} kB private"
# A new backend starts a 100,000-item for_each (the limit); its peak
# resident memory (VmHWM) and the time the start took.
q "SELECT bench.define_foreach(100000)" >/dev/null
t0=$(date +%s.%N)
each_peak_mb=$(q "SELECT wf_start('each100000', jsonb_build_object('items', (SELECT jsonb_agg(g) FROM generate_series(1, 100000) g))) > 0;
                  SELECT (regexp_match(pg_read_file('/proc/' || pg_backend_pid() || '/status'), 'VmHWM:\s+(\d+) kB'))[1]::bigint / 1024" | tail -1)
each_start_s=$(awk -v t0="$t0" -v t1="$(date +%s.%N)" 'BEGIN { printf "%.1f", t1 - t0 }')
echo "   a 100,000-item for_each: started in ${each_start_s} s, backend peak ${each_peak_mb} MB"

r1c=$(ratio "$wf1c" "$floor1"); r1a=$(ratio "$wf1a" "$floor1"); r1ca=$(ratio "$wf1ca" "$floor1")
r1=$(ratio "$wf1" "$floor1"); r2=$(ratio "$wf2" "$floor2"); r5=$(ratio "$wf5" "$wf1"); rw=$(ratio "$fan1000" "$fan100")
r7=$(ratio "$wf7" "$wf7_base")
re=$(ratio "$each10000" "$each1000")
p50=$(echo "$lat_low" | sed 's/.*"p50_ms": \([0-9.]*\).*/\1/')
p99=$(echo "$lat_low" | sed 's/.*"p99_ms": \([0-9.]*\).*/\1/')
met() { awk -v v="$1" -v t="$2" -v d="$3" 'BEGIN { print ((d == "ge" ? v >= t : v < t) ? "yes" : "NO") }'; }

cpu=$(awk -F: '/model name/ { print $2; exit }' /proc/cpuinfo | sed 's/^ *//')
echo
echo "pg_wf benchmark — $(nproc) cores ($cpu), PostgreSQL $("$PG_CONFIG" --version | awk '{print $2}'), fsync on, synchronous_commit on, $CLIENTS runners, ${DUR}s runs"
printf '%-44s %12s %12s %8s %10s %5s\n' workload pg_wf floor ratio target met
printf '%-44s %12s %12s %8s %10s %5s\n' "1. unbatched (tasks/s)" "$wf1" "$floor1" "$r1" ">= 0.85" "$(met "$r1" 0.85 ge)"
printf '%-44s %12s %12s %8s %10s %5s\n' "1. complete+claim in one call (tasks/s)" "$wf1c" "$floor1" "$r1c" ">= 1.2" "$(met "$r1c" 1.2 ge)"
printf '%-44s %12s %12s %8s %10s %5s\n' "1. unbatched, pg_wf.notify=always (tasks/s)" "$wf1a" "$floor1" "$r1a" ">= 0.85" "$(met "$r1a" 0.85 ge)"
printf '%-44s %12s %12s %8s %10s %5s\n' "1. complete+claim, notify=always (tasks/s)" "$wf1ca" "$floor1" "$r1ca" ">= 1.2" "$(met "$r1ca" 1.2 ge)"
printf '%-44s %12s %12s %8s %10s %5s\n' "2. batched x100, 150k backlog (tasks/s)" "$wf2" "$floor2" "$r2" ">= 0.5" "$(met "$r2" 0.5 ge)"
printf '%-44s %12s %12s %8s\n' "1. server CPU per task, unbatched (us)" "$cpu_wf1" "$cpu_floor1" "$(ratio "$cpu_wf1" "$cpu_floor1")"
printf '%-44s %12s %12s %8s\n' "2. server CPU per task, batched (us)" "$cpu_wf2" "$cpu_floor2" "$(ratio "$cpu_wf2" "$cpu_floor2")"
printf '%-44s %12s %12s %8s %10s %5s\n' "3. fan-out+join, us/task, 1000 vs 100 wide" "$fan1000" "$fan100" "$rw" "~1" "$(met "$rw" 1.5 lt)"
printf '%-44s %12s %12s %8s %10s %5s\n' "3. for_each, us/item, 10,000 vs 1,000 items" "$each10000" "$each1000" "$re" "~1" "$(met "$re" 1.5 lt)"
rd=$(ratio "$def100k" "$def10k")
printf '%-44s %12s %12s %8s %10s %5s\n' "3. wf_define, us/edge, 100k vs 10k edges" "$def100k" "$def10k" "$rd" "~1" "$(met "$rd" 1.5 lt)"
printf '%-44s %12s %12s %8s %10s %5s\n' "4. delegate storm (callbacks/s, 8 sessions)" "$cbs" "" "" "exact" "$storm_ok"
printf '%-44s %12s %12s %8s %10s %5s\n' "4. the same over HTTP (callbacks/s, 8 conns)" "$hcbs" "$cbs" "$(ratio "$hcbs" "$cbs")" "exact" "$http_ok"
printf '%-44s %12s %12s %8s %10s %5s\n' "5. unbatched, 1M finished vs empty (tasks/s)" "$wf5" "$wf1" "$r5" ">= 0.9" "$(met "$r5" 0.9 ge)"
printf '%-44s %12s %12s %8s %10s %5s\n' "7. unbatched while purging vs not (tasks/s)" "$wf7" "$wf7_base" "$r7" ">= 0.8" "$(met "$r7" 0.8 ge)"
printf '%-44s %12s\n' "7. purge rate (executions/s, 2 tasks each)" "$purge_rate"
printf '%-44s %12s %12s %8s %10s %5s\n' "8. unbatched, 100k vs 10k ready (tasks/s)" "$bl_u_100000" "$bl_u_10000" "$rbu1" ">= 0.9" "$(met "$rbu1" 0.9 ge)"
printf '%-44s %12s %12s %8s %10s %5s\n' "8. unbatched, 1M vs 10k ready (tasks/s)" "$bl_u_1000000" "$bl_u_10000" "$rbu2" ">= 0.9" "$(met "$rbu2" 0.9 ge)"
printf '%-44s %12s %12s %8s %10s %5s\n' "8. batched, 100k vs 10k ready (tasks/s)" "$bl_b_100000" "$bl_b_10000" "$rbb1" ">= 0.9" "$(met "$rbb1" 0.9 ge)"
printf '%-44s %12s %12s %8s %10s %5s\n' "8. batched, 1M vs 10k ready (tasks/s)" "$bl_b_1000000" "$bl_b_10000" "$rbb2" ">= 0.9" "$(met "$rbb2" 0.9 ge)"
printf '%-44s %12s %12s %8s %10s %5s\n' "6. latency p50 / p99, low load (ms)" "$p50 / $p99" "" "" "<2 / <10" "$(met "$p50" 2 lt)/$(met "$p99" 10 lt)"
printf '%-44s %12s\n' "6. latency, high load" "$lat_high"
printf '%-44s %12s\n' "memory: backend / graph / worker (kB)" "$backend_kb / $graphs_kb / $worker_kb"
printf '%-44s %12s\n' "memory: 100,000-item for_each start (MB, s)" "$each_peak_mb MB, $each_start_s s"

cat > "$OUT" <<JSON
{
  "machine": {"cores": $(nproc), "cpu": "$cpu", "postgresql": "$("$PG_CONFIG" --version | awk '{print $2}')",
              "fsync": true, "synchronous_commit": true, "runners": $CLIENTS, "seconds": $DUR},
  "notify": "hungry",
  "unbatched": {"pg_wf": $wf1, "floor": $floor1, "ratio": $r1, "target": 0.85},
  "complete_claim": {"pg_wf": $wf1c, "floor": $floor1, "ratio": $r1c, "target": 1.2},
  "notify_always": {"unbatched": {"pg_wf": $wf1a, "ratio": $r1a, "cpu_us_per_task": $cpu_wf1a},
                    "complete_claim": {"pg_wf": $wf1ca, "ratio": $r1ca}},
  "batched": {"pg_wf": $wf2, "floor": $floor2, "ratio": $r2, "target": 0.5},
  "server_cpu_us_per_task": {"unbatched": {"pg_wf": $cpu_wf1, "floor": $cpu_floor1},
                             "batched": {"pg_wf": $cpu_wf2, "floor": $cpu_floor2}},
  "width": {"fan100_us_per_task": $fan100, "fan1000_us_per_task": $fan1000, "ratio": $rw,
            "for_each_1000_us_per_item": $each1000, "for_each_10000_us_per_item": $each10000, "for_each_ratio": $re},
  "define": {"edges_10k_us_per_edge": $def10k, "edges_100k_us_per_edge": $def100k, "ratio": $rd},
  "delegate_storm": {"callbacks_per_s": $cbs, "sessions": 8, "exactly_once": $storm_ok},
  "http_callbacks": {"callbacks_per_s": $hcbs, "connections": 8, "http_threads": 8, "sql_callbacks_per_s": $cbs,
                     "all_succeeded": $http_ok},
  "scale": {"finished_tasks": $finished, "pg_wf": $wf5, "empty": $wf1, "ratio": $r5, "target": 0.9},
  "retention": {"old_executions": $old, "pg_wf_purging": $wf7, "pg_wf_not_purging": $wf7_base, "ratio": $r7, "target": 0.8,
                "purged": $((p1 - p0)), "purge_per_s": $purge_rate},
  "backlog": {"unbatched": {"10000": $bl_u_10000, "100000": $bl_u_100000, "1000000": $bl_u_1000000,
                            "ratio_100k": $rbu1, "ratio_1m": $rbu2},
              "batched": {"10000": $bl_b_10000, "100000": $bl_b_100000, "1000000": $bl_b_1000000,
                          "ratio_100k": $rbb1, "ratio_1m": $rbb2}, "target": 0.9},
  "latency_low": $lat_low,
  "latency_high": $lat_high,
  "memory_kb": {"backend": $backend_kb, "graph": $graphs_kb, "worker_private": $worker_kb},
  "foreach_100000_start": {"peak_mb": $each_peak_mb, "seconds": $each_start_s}
}
JSON
echo "(written to $OUT)"
