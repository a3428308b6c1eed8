#!/usr/bin/env bash
# Starts three `chorus server` processes on loopback (RESP 6380-6382, HTTP 7380-7382),
# waits until they see each other, and leaves them running; prints their PIDs.
# Usage: [PORT_OFFSET=N] scripts/cluster3.sh DIR [extra server flags...]
# PORT_OFFSET shifts every port by N (RESP 6380+N…), to run beside another cluster.
set -euo pipefail
dir=${1:?data directory}
shift
bin=${CHORUS_BIN:-bin/chorus}
o=${PORT_OFFSET:-0}
mkdir -p "$dir"
pids=()
for i in 0 1 2; do
  join=()
  for j in 0 1 2; do [ "$j" != "$i" ] && join+=("127.0.0.1:$((8380 + o + j))"); done
  "$bin" server --node-id "n$i" --data-dir "$dir/n$i" \
    --resp-addr "127.0.0.1:$((6380 + o + i))" --http-addr "127.0.0.1:$((7380 + o + i))" \
    --gossip-addr "127.0.0.1:$((8380 + o + i))" --rpc-addr "127.0.0.1:$((9380 + o + i))" \
    --join "$(IFS=,; echo "${join[*]}")" --log-level warn "$@" > "$dir/n$i.log" 2>&1 &
  pids+=($!)
done
for _ in $(seq 1 600); do
  alive=$(curl -s "127.0.0.1:$((7380 + o))/v1/cluster" 2>/dev/null | grep -o '"status":"alive"' | wc -l || true)
  ready=0
  for i in 0 1 2; do
    curl -s "127.0.0.1:$((7380 + o + i))/healthz" 2>/dev/null | grep -q '"filling":false' && ready=$((ready + 1))
  done
  if [ "$alive" = 3 ] && [ "$ready" = 3 ]; then echo "${pids[*]}"; exit 0; fi
  sleep 0.1
done
echo "cluster did not form" >&2
kill "${pids[@]}"
exit 1
