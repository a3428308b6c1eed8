#!/usr/bin/env bash
# Runs the same redis-benchmark workload against redis-server (AOF, appendfsync
# everysec) and against Chorus clusters on this machine, in one run, and prints a
# markdown table. Installs redis-server and redis-tools from Debian's packages if
# missing. Usage: scripts/bench-compare.sh [requests] [clients]
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-200000}
c=${2:-50}
if ! command -v redis-server >/dev/null || ! command -v redis-benchmark >/dev/null; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq && apt-get install -y -qq redis-server redis-tools >/dev/null
fi
go build -o bin/chorus ./cmd/chorus
work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; pkill -f "data-dir $work" 2>/dev/null || true; rm -rf "$work"' EXIT

# bench PORT LABEL [extra redis-benchmark flags]: one row per test (SET, GET).
bench() {
  local port=$1 label=$2
  shift 2
  redis-benchmark -p "$port" -t set,get -n "$n" -c "$c" -r 100000 -d 100 --csv "$@" 2>/dev/null |
    awk -F'","' -v label="$label" 'NR > 1 { gsub(/"/, "", $1); gsub(/"/, "", $8); printf "| %s | %s | %.0f | %s | %s |\n", label, $1, $2, $5, $7 }'
}

echo "| target | test | requests/s | p50 ms | p99 ms |"
echo "|---|---|---|---|---|"
redis-server --port 6399 --appendonly yes --appendfsync everysec --dir "$work" --save "" --daemonize no >/dev/null &
sleep 0.5
bench 6399 "redis-server (AOF everysec)"
kill %1; wait %1 2>/dev/null || true

for mode in sync periodic; do
  pids=$(PORT_OFFSET=100 scripts/cluster3.sh "$work/$mode" --durability "$mode")
  bench 6480 "chorus 3 nodes RF3 QUORUM, $mode"
  [ "$mode" = periodic ] && bench 6480 "chorus 3 nodes RF3 QUORUM, $mode, -P 16" -P 16
  kill $pids; sleep 1
done

"${CHORUS_BIN:-bin/chorus}" server --node-id solo --data-dir "$work/solo" --replication-factor 1 --durability periodic \
  --resp-addr 127.0.0.1:6490 --http-addr 127.0.0.1:7490 --gossip-addr 127.0.0.1:8490 --rpc-addr 127.0.0.1:9490 --log-level warn &
for _ in $(seq 1 100); do curl -sf 127.0.0.1:7490/healthz | grep -q '"filling":false' && break; sleep 0.1; done
bench 6490 "chorus 1 node RF1, periodic"
