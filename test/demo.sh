#!/usr/bin/env bash
# The demo: a real workflow driven end to end on a throwaway local cluster.
# Installs build dependencies, builds and installs pg_wf, starts a private
# cluster, defines an order workflow, starts three orders, and runs a small
# runner (this script, through psql) until every execution has ended,
# printing what happened. Run as root (or a sudoer).
source "$(dirname "$0")/lib.sh"
cd "$WF_ROOT"

wf_install_deps
wf_build_install
WF_PGPORT=54330 wf_start_cluster

sql() { psql -X -q -v ON_ERROR_STOP=1 "$@"; }

sql -c "CREATE EXTENSION pg_wf"
echo
echo "== 1. define the workflow"
sql -tA <<'SQL'
SELECT 'order_fulfilment version ' || wf_define('{
  "name": "order_fulfilment",
  "input": ["order_id", "amount", {"card": "4242"}],
  "tasks": {
    "validate": {"action": "orders.validate",
                 "input": {"order_id": "$.input.order_id", "amount": "$.input.amount"}},
    "charge":   {"action": "payments.charge", "requires": ["validate"],
                 "input": {"amount": "$.input.amount", "card": "$.input.card"},
                 "publish": {"receipt": "$.result.receipt"}},
    "reserve":  {"action": "stock.reserve", "requires": ["validate"],
                 "input": {"order_id": "$.input.order_id"},
                 "publish": {"shelf": "$.result.shelf"}},
    "ship":     {"action": "shipping.send", "requires": ["charge", "reserve"],
                 "input": {"order_id": "$.input.order_id", "shelf": "$.vars.shelf",
                           "receipt": "$.vars.receipt"}}
  },
  "output": {"tracking": "$.tasks.ship.result.tracking", "receipt": "$.vars.receipt"}
}');
SQL

echo
echo "== 2. start three orders (the third card is declined)"
sql -tA <<'SQL'
SELECT 'execution ' || wf_start('order_fulfilment', '{"order_id": 101, "amount": 25.00}')
UNION ALL SELECT 'execution ' || wf_start('order_fulfilment', '{"order_id": 102, "amount": 99.90}')
UNION ALL SELECT 'execution ' || wf_start('order_fulfilment', '{"order_id": 103, "amount": 15.00, "card": "0000"}');
SQL

echo
echo "== 3. a runner claims ready tasks, does the work, reports back"
round=0
while :; do
    round=$((round + 1))
    # task_id|execution_id|task|action|token|input
    batch=$(sql -tA -F '|' -c "SELECT task_id, execution_id, task, action, token, input
                               FROM wf_claim('default', 10, '1 minute', 'demo-runner')")
    [ -z "$batch" ] && break
    echo "-- round $round: claimed $(echo "$batch" | wc -l) task(s)"
    while IFS='|' read -r id exec task action token input; do
        status=success
        case "$action" in
            orders.validate) result='{"valid": true}' ;;
            payments.charge)
                if [[ "$input" == *'"card": "0000"'* ]]; then
                    status=error result='{"message": "card declined"}'
                else
                    result="{\"receipt\": \"R-$exec-$id\"}"
                fi ;;
            stock.reserve) result="{\"shelf\": \"S$((id % 7))\"}" ;;
            shipping.send) result="{\"tracking\": \"TRK$exec$id\"}" ;;
        esac
        # psql variables quote the values (-c does not interpolate: use stdin)
        # A refusal (e.g. the execution failed meanwhile) is printed, not fatal.
        state=$(sql -tA -v id="$id" -v st="$status" -v res="$result" -v tok="$token" \
                <<< "SELECT wf_task_complete(:id, :'st', :'res', :'tok')" 2>&1) || true
        if [[ "$state" == ERROR* ]]; then
            state="refused: ${state#ERROR:  }" result=""
        fi
        printf '   execution %-3s %-9s %-16s input %-55s -> %s %s\n' \
            "$exec" "$task" "$action" "$input" "$state" "$result"
    done <<< "$batch"
done

echo
echo "== 4. executions"
sql -c "SELECT id, state, input->>'order_id' AS order_id, output, error
        FROM wf.execution ORDER BY id"
echo "== 5. history of execution 1 (wf.event)"
sql -c "SELECT to_char(at, 'HH24:MI:SS.MS') AS at, coalesce(task, '(execution)') AS task, state, detail
        FROM wf.event WHERE execution_id = 1 ORDER BY id"
echo "== 6. tasks of execution 3"
sql -c "SELECT name, state, attempt, error FROM wf.task WHERE execution_id = 3 ORDER BY id"
echo "demo finished; the cluster is removed on exit"
