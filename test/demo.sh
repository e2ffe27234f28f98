#!/usr/bin/env bash
# The demo: pg_wf's design in one minute, on a throwaway local cluster.
# Installs the build dependencies it lacks (and Graphviz), builds and
# installs pg_wf and wf-runner, starts a private cluster with the watchdog,
# defines an order workflow (parallel branches, a join, a retry that really
# happens, a delegated approval), starts wf-runner with its HTTP callback
# endpoint, and lets a stand-in third party approve or decline over HTTP a
# few seconds later. It shows progress while it runs, prints each
# execution's timeline, renders a picture of the first one, and cleans up.
# Run as root (or a sudoer).
source "$(dirname "$0")/lib.sh"
cd "$WF_ROOT"

command -v dot >/dev/null || WF_EXTRA_PKGS=graphviz
[ -z "${WF_EXTRA_PKGS:-}" ] || need_graphviz=1
wf_install_deps
if [ -n "${need_graphviz:-}" ] && ! command -v dot >/dev/null; then
    as_root apt-get update -qq && as_root apt-get install -y -qq graphviz >/dev/null
fi
wf_build_install
WF_PGPORT=54330 wf_start_cluster

OUT=${WF_DEMO_OUT:-/tmp/pg_wf-demo}
mkdir -p "$OUT"
export WF_DEMO_LOG=$OUT/third_party.log
: >"$WF_DEMO_LOG"
sql() { psql -X -q -v ON_ERROR_STOP=1 "$@"; }
step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

# a free port for the callback endpoint
port=18787
while (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; do port=$((port + 1)); done

step "1. install pg_wf and define the workflow"
sql -c "CREATE EXTENSION pg_wf"
# least privilege: the runner may only claim and report, the HTTP endpoint only complete
sql -c "CREATE ROLE demo_runner LOGIN IN ROLE wf_runner" -c "CREATE ROLE demo_callback LOGIN IN ROLE wf_callback"
sql -tA <<'SQL'
SELECT 'order_fulfilment, version ' || wf_define('{
  "name": "order_fulfilment",
  "input": ["order_id", "amount"],
  "tasks": {
    "validate": {"action": "orders.validate",
                 "input": {"order_id": "$.input.order_id", "amount": "$.input.amount"}},
    "charge":   {"action": "payments.charge", "requires": ["validate"],
                 "retry": {"count": 2, "delay": "1s"},
                 "input": {"amount": "$.input.amount"}},
    "reserve":  {"action": "stock.reserve", "requires": ["validate"],
                 "input": {"order_id": "$.input.order_id"}},
    "approve":  {"action": "approval.request", "requires": ["validate"],
                 "input": {"order_id": "$.input.order_id", "amount": "$.input.amount"}},
    "ship":     {"action": "shipping.send", "requires": ["charge", "reserve", "approve"],
                 "input": {"order_id": "$.input.order_id",
                           "shelf": "$.tasks.reserve.result.shelf",
                           "receipt": "$.tasks.charge.result.receipt"}}
  },
  "output": {"tracking": "$.tasks.ship.result.tracking",
             "approved_by": "$.tasks.approve.result.by"}
}');
SQL
cat <<'EOF'
   validate ─┬─ charge  (fails once; retried after 1 s) ─┐
             ├─ reserve ─────────────────────────────────┼─ ship (a join: all three)
             └─ approve (delegated to a manager, who ────┘
                         calls back over HTTP)
EOF

step "2. start two orders (the manager declines the second: it is over 500)"
sql -tA <<'SQL'
SELECT 'order 101: execution ' || wf_start('order_fulfilment', '{"order_id": 101, "amount": 25.00}');
SELECT 'order 102: execution ' || wf_start('order_fulfilment', '{"order_id": 102, "amount": 990.00}');
SQL

step "3. wf-runner claims, runs the actions, reports; the third party calls back"
echo "   wf-runner -d 'user=demo_runner ...' --http-dbname 'user=demo_callback ...' --http 127.0.0.1:$port"
echo "             --actions test/demo/actions --config test/demo/actions.ini"
"$("$PG_CONFIG" --bindir)/wf-runner" -d "host=$PGHOST port=$PGPORT dbname=postgres user=demo_runner" \
    --http-dbname "host=$PGHOST port=$PGPORT dbname=postgres user=demo_callback" \
    --actions "$WF_ROOT/test/demo/actions" --config "$WF_ROOT/test/demo/actions.ini" \
    --http "127.0.0.1:$port" --concurrency 8 \
    > >(sed -u 's/^[0-9-]* \([0-9:.]*\) /  runner | \1 /') 2>&1 &
runner=$!
demo_cleanup() {
    local rc=$?
    kill "$runner" 2>/dev/null || true
    wait "$runner" 2>/dev/null || true
    set +e; (exit $rc)
    wf_stop_cluster
}
trap demo_cleanup EXIT
tail -n +1 -f "$WF_DEMO_LOG" &
tailer=$!
for _ in $(seq 1 240); do
    kill -0 "$runner" 2>/dev/null || { echo "wf-runner stopped unexpectedly" >&2; exit 1; }
    left=$(sql -tA -c "SELECT count(*) FROM wf.execution WHERE state IN ('running', 'paused')")
    [ "$left" = 0 ] && break
    sleep 0.25
done
sleep 0.3
kill "$tailer" 2>/dev/null || true
kill -TERM "$runner"; wait "$runner" 2>/dev/null || true
sleep 0.2

step "4. the executions"
sql -c "SELECT id, input->>'order_id' AS order_id, state, output, error->'error' AS error
        FROM wf.execution ORDER BY id"

step "5. the timeline of execution 1 (wf.event: every state change, with who and when)"
sql -c "SELECT to_char(e.at - x.created_at, 'SS.MS') || ' s' AS at, coalesce(e.task, '(execution)') AS task,
               e.state, e.actor,
               coalesce(e.detail->>'attempt', '') AS attempt,
               left(coalesce(e.detail->'error'->>'message', e.detail->>'by', e.detail->>'runner', ''), 40) AS detail
        FROM wf.event e JOIN wf.execution x ON x.id = e.execution_id
        WHERE e.execution_id = 1 ORDER BY e.id"

step "6. a picture of execution 1 (wf_graph(1), Graphviz DOT)"
sql -tA -c "SELECT wf_graph(1)" > "$OUT/execution-1.dot"
sql -tA -c "SELECT wf_graph(2)" > "$OUT/execution-2.dot"
if command -v dot >/dev/null; then
    dot -Tpng -Gdpi=110 "$OUT/execution-1.dot" -o "$OUT/execution-1.png"
    dot -Tpng -Gdpi=110 "$OUT/execution-2.dot" -o "$OUT/execution-2.png"
    echo "   $OUT/execution-1.png and execution-2.png (and their .dot sources)"
else
    echo "   $OUT/execution-1.dot (install graphviz to render it: dot -Tpng)"
fi
echo
echo "demo finished; the cluster is removed on exit (the pictures stay in $OUT)"
