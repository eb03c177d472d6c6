#!/usr/bin/env bash
# The main job end to end, on the embedded bbolt store: development
# certificates, a server, a Gateway API file applied to payments/staging, an
# agent writing routes.json, an incremental change and delete, and an agent
# refused a scope its identity is not granted. Run it as `make demo`.
set -euo pipefail

cd "$(dirname "$0")/.."
bin=$PWD/bin
work=$(mktemp -d)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

td=demo.routecast.test
scope=payments/staging
step() { printf '\n== %s\n' "$*"; }

# wait_for DESCRIPTION COMMAND...: poll COMMAND until it succeeds, for up to
# 30 seconds.
wait_for() {
  local what=$1; shift
  for _ in $(seq 300); do
    if "$@" >/dev/null 2>&1; then return 0; fi
    sleep 0.1
  done
  echo "demo: timed out waiting for $what" >&2
  echo "--- server log"; cat "$work/server.log" >&2 || true
  echo "--- agent log"; cat "$work/agent.log" >&2 || true
  exit 1
}

step "development CA and workload certificates in $work/certs"
"$bin/routecastd" certs init --dir "$work/certs" --trust-domain "$td"
"$bin/routecastd" certs issue --dir "$work/certs" --spiffe-id "spiffe://$td/operator/alice" --ttl 1h
"$bin/routecastd" certs issue --dir "$work/certs" --spiffe-id "spiffe://$td/agent/payments/host-1" --ttl 1h
"$bin/routecastd" certs issue --dir "$work/certs" --spiffe-id "spiffe://$td/agent/orders/host-2" --ttl 1h

step "start routecastd on bbolt in $work/data"
"$bin/routecastd" serve --listen 127.0.0.1:0 --addr-file "$work/addr" --data-dir "$work/data" \
  --cert "$work/certs/server.pem" --key "$work/certs/server-key.pem" --ca "$work/certs/ca.pem" \
  --policy examples/policy.yaml 2>"$work/server.log" &
pids+=($!)
wait_for "the server's address" test -s "$work/addr"
addr=$(cat "$work/addr")
echo "listening on $addr"

export ROUTECAST_SERVER=$addr ROUTECAST_CA=$work/certs/ca.pem
export ROUTECAST_CERT=$work/certs/operator-alice.pem ROUTECAST_KEY=$work/certs/operator-alice-key.pem
rc() { "$bin/routecast" "$@"; }

step "apply examples/payments-routes.yaml (Gateway API HTTPRoutes) to $scope"
rc apply -f examples/payments-routes.yaml --scope "$scope"
rc list --scope "$scope"

step "start an agent for $scope"
agent_out=$work/agent/out
"$bin/routecast-agent" --server "$addr" --scope "$scope" --out "$agent_out" --state-dir "$work/agent/state" \
  --cert "$work/certs/agent-payments-host-1.pem" --key "$work/certs/agent-payments-host-1-key.pem" \
  --ca "$work/certs/ca.pem" --node-id host-1 2>"$work/agent.log" &
pids+=($!)
wait_for "the agent's first routes.json" grep -q '"revision": 1' "$agent_out/routes.json"
echo "$agent_out/routes.json:"
cat "$agent_out/routes.json"

step "change one route (canary weight 10 -> 25) and delete another"
sed -e 's/weight: 90$/weight: 75/' -e 's/weight: 10$/weight: 25/' examples/payments-routes.yaml >"$work/changed.yaml"
rc apply -f "$work/changed.yaml" --scope "$scope"
wait_for "the agent to take the change" grep -q '"revision": 2' "$agent_out/routes.json"
rc delete payments.payments-legacy.r1.m0 --scope "$scope"
wait_for "the agent to follow" grep -q '"revision": 3' "$agent_out/routes.json"

step "the agent's file followed: 6 routes, the canary at weight 25"
grep -c '"name": "payments\.' "$agent_out/routes.json" | sed 's/^/routes in routes.json: /'
grep -A4 '"cluster": "payments-api-canary:8080"' "$agent_out/routes.json" | grep weight
if grep -q 'payments.payments-legacy.r1.m0' "$agent_out/routes.json"; then
  echo "demo: the deleted route is still in routes.json" >&2; exit 1
fi

step "only the changes were sent (the agent's log)"
grep 'update applied' "$work/agent.log"
grep 'update applied' "$work/agent.log" | tail -2 | head -1 | grep -q 'upserts=1 removed=0' || { echo "demo: change not sent alone" >&2; exit 1; }
grep 'update applied' "$work/agent.log" | tail -1 | grep -q 'upserts=0 removed=1' || { echo "demo: delete not sent alone" >&2; exit 1; }

step "an agent whose identity is not granted payments/production is refused"
if "$bin/routecast-agent" --server "$addr" --scope payments/production --out "$work/refused/out" \
  --state-dir "$work/refused/state" --cert "$work/certs/agent-orders-host-2.pem" \
  --key "$work/certs/agent-orders-host-2-key.pem" --ca "$work/certs/ca.pem" 2>"$work/refused.log"; then
  echo "demo: the agent was not refused" >&2; exit 1
fi
tail -1 "$work/refused.log"

step "status"
rc status

step "history"
rc history --scope "$scope"

step "stop"
for pid in "${pids[@]}"; do kill -TERM "$pid"; done
wait
pids=()
echo "demo finished"
