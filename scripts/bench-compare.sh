#!/usr/bin/env bash
# Runs the same redis-benchmark workload against redis-server (AOF, appendfsync
# everysec) and against Chorus clusters on this machine, in one run, and prints a
# markdown table with each Chorus row's ratio to redis-server's row of the same test
# and pipeline depth. Installs redis-server and redis-tools from Debian's packages if
# missing.
#
# Usage: [MODES="sync periodic"] [SOLO=1] [ETCD=1] [PROCS="default 1"] \
#          [CHORUS_BIN=bin/chorus] scripts/bench-compare.sh [requests] [clients]
#
# MODES lists the --durability modes of the three-node cluster to run (empty: none);
# SOLO=0 skips the one-node cluster; ETCD=0 skips etcd (three etcd-server members
# from Debian's package, fsync on every commit as etcd always does, driven through
# its v3 JSON gateway by scripts/etcdload with the same requests, clients, key range
# and value size; its PUT is compared with redis-server's SET). Every target is also run with -P 16 (except the
# three-node cluster in sync mode). CHORUS_BIN runs another binary (say, a build of an
# older commit) instead of building bin/chorus from this tree. PROCS lists the
# GOMAXPROCS of the Chorus servers to run each Chorus target with: "default" leaves it
# to Go (every core), a number sets it for each server process ("1": one core's worth of
# Go code per process, the budget of redis-server's one command thread). The sync
# three-node cluster, fsync-bound, runs with the first only.
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-200000}
c=${2:-50}
modes=${MODES-sync periodic}
solo=${SOLO:-1}
etcd=${ETCD:-1}
procs=${PROCS-default 1}
if ! command -v redis-server >/dev/null || ! command -v redis-benchmark >/dev/null; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq && apt-get install -y -qq redis-server redis-tools >/dev/null
fi
if [ "$etcd" = 1 ] && ! command -v etcd >/dev/null; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq && apt-get install -y -qq etcd-server >/dev/null
fi
if [ -z "${CHORUS_BIN:-}" ]; then
  go build -o bin/chorus ./cmd/chorus
  export CHORUS_BIN=bin/chorus
fi
work=$(mktemp -d)
running=() # PIDs of the servers this script started and has not stopped yet
stop() {
  [ ${#running[@]} -gt 0 ] && kill "${running[@]}" 2>/dev/null || true
  for p in "${running[@]}"; do
    while kill -0 "$p" 2>/dev/null; do sleep 0.1; done
  done
  running=()
}
trap 'stop; rm -rf "$work"' EXIT

declare -A redis # "TEST P" → redis-server's requests/s

# cputicks: the CPU time (user + system, in clock ticks) the servers this script
# started have used so far.
cputicks() {
  local t=0 pid f
  for pid in "${running[@]}"; do
    if [ -r "/proc/$pid/stat" ]; then
      f=$(sed 's/^.*) //' "/proc/$pid/stat") # the fields after the command name
      set -- $f
      t=$((t + ${12} + ${13}))               # utime, stime (fields 14 and 15)
    fi
  done
  echo "$t"
}
tck=$(getconf CLK_TCK)

# row LABEL TEST RPS P50 P99 P CPU REF: prints one table row; CPU is the servers' CPU
# ticks over the test's n requests; REF=1 marks redis-server's rows, the reference.
row() {
  local label=$1 test=$2 rps=$3 p50=$4 p99=$5 p=$6 ticks=$7 ref=$2 ratio us
  [ "$test" = PUT ] && ref=SET
  if [ "$8" = 1 ]; then
    redis["$test $p"]=$rps
  fi
  ratio=$(awk -v a="$rps" -v b="${redis["$ref $p"]:-0}" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "?" }')
  us=$(awk -v d="$ticks" -v n="$n" -v h="$tck" 'BEGIN { printf "%.1f", d / h * 1e6 / n }')
  printf "| %s | %s | %.0f | %s | %s | %s | %s |\n" "$label" "$test" "$rps" "$ratio" "$p50" "$p99" "$us"
}

# bench PORT LABEL [extra redis-benchmark flags]: one row per test (SET, GET), each
# test a redis-benchmark run of its own so that the servers' CPU is measured per test.
bench() {
  local port=$1 label=$2 p=1
  shift 2
  [ "${1:-}" = -P ] && p=$2
  local out test rps p50 p99 before t
  for t in set get; do
    before=$(cputicks)
    if ! out=$(redis-benchmark -p "$port" -t "$t" -n "$n" -c "$c" -r 100000 -d 100 --csv "$@" 2>"$work/err"); then
      # redis-benchmark exits at the first error reply (a TIMEOUT under overload): say so.
      printf "| %s | %s failed: %s | | | | | |\n" "$label" "$t" "$(grep -m1 -i error "$work/err" | tr -d '\r|')"
      continue
    fi
    while IFS=, read -r test rps _ _ p50 _ p99 _; do
      test=${test//\"/} rps=${rps//\"/} p50=${p50//\"/} p99=${p99//\"/}
      [ -z "$test" ] || [ "$test" = test ] && continue
      row "$label" "$test" "$rps" "$p50" "$p99" "$p" $(($(cputicks) - before)) $([ "$port" = 6399 ] && echo 1 || echo 0)
    done <<<"$out"
  done
}

echo "| target | test | requests/s | × redis | p50 ms | p99 ms | server CPU µs/request |"
echo "|---|---|---|---|---|---|---|"
redis-server --port 6399 --appendonly yes --appendfsync everysec --dir "$work" --save "" --daemonize no >/dev/null &
running=($!)
sleep 0.5
bench 6399 "redis-server (AOF everysec)"
bench 6399 "redis-server (AOF everysec), -P 16" -P 16
stop

# procsenv P: the env(1) arguments that run a server with GOMAXPROCS P ("default":
# unset, so Go uses every core).
procsenv() { if [ "$1" = default ]; then echo "-u GOMAXPROCS"; else echo "GOMAXPROCS=$1"; fi; }
# procslabel P: the label suffix of a row run with GOMAXPROCS P.
procslabel() { [ "$1" = default ] || echo ", GOMAXPROCS=$1"; }

first=${procs%% *}
for mode in $modes; do
  for p in $procs; do
    [ "$mode" = sync ] && [ "$p" != "$first" ] && continue
    read -ra running <<<"$(env $(procsenv "$p") PORT_OFFSET=100 scripts/cluster3.sh "$work/$mode-$p" --durability "$mode")"
    if [ ${#running[@]} != 3 ]; then
      echo "chorus 3 nodes ($mode, GOMAXPROCS $p) did not start" >&2
      exit 1
    fi
    bench 6480 "chorus 3 nodes RF3 QUORUM, $mode$(procslabel "$p")"
    [ "$mode" != sync ] && bench 6480 "chorus 3 nodes RF3 QUORUM, $mode$(procslabel "$p"), -P 16" -P 16
    stop
  done
done

if [ "$solo" = 1 ]; then
  for p in $procs; do
    env $(procsenv "$p") "$CHORUS_BIN" server --node-id solo --data-dir "$work/solo-$p" --replication-factor 1 --durability periodic \
      --resp-addr 127.0.0.1:6490 --http-addr 127.0.0.1:7490 --gossip-addr 127.0.0.1:8490 --rpc-addr 127.0.0.1:9490 \
      --log-level warn >"$work/solo-$p.log" 2>&1 &
    running=($!)
    for _ in $(seq 1 100); do curl -sf 127.0.0.1:7490/healthz | grep -q '"filling":false' && break; sleep 0.1; done
    if ! kill -0 "${running[0]}" 2>/dev/null; then
      echo "chorus 1 node did not start (a port taken?):" >&2
      cat "$work/solo-$p.log" >&2
      exit 1
    fi
    bench 6490 "chorus 1 node RF1, periodic$(procslabel "$p")"
    bench 6490 "chorus 1 node RF1, periodic$(procslabel "$p"), -P 16" -P 16
    stop
  done
fi

if [ "$etcd" = 1 ]; then
  go build -o "$work/etcdload" ./scripts/etcdload
  cluster=e0=http://127.0.0.1:12380,e1=http://127.0.0.1:12381,e2=http://127.0.0.1:12382
  for i in 0 1 2; do
    etcd --name "e$i" --data-dir "$work/e$i" \
      --listen-client-urls "http://127.0.0.1:$((12379 + 10 + i))" --advertise-client-urls "http://127.0.0.1:$((12379 + 10 + i))" \
      --listen-peer-urls "http://127.0.0.1:$((12380 + i))" --initial-advertise-peer-urls "http://127.0.0.1:$((12380 + i))" \
      --initial-cluster "$cluster" --initial-cluster-state new --logger zap --log-level error >"$work/e$i.log" 2>&1 &
    running+=($!)
  done
  for _ in $(seq 1 100); do
    curl -sf -X POST -d '{"key":"aGVhbHRo","value":"b2s="}' 127.0.0.1:12389/v3/kv/put >/dev/null && break
    sleep 0.2
  done
  for t in put get; do
    before=$(cputicks)
    if ! out=$("$work/etcdload" -endpoint http://127.0.0.1:12389 -n "$n" -c "$c" -r 100000 -d 100 -t "$t" 2>"$work/err"); then
      printf "| etcd 3 members | %s failed: %s | | | | | |\n" "$t" "$(head -c 200 "$work/err" | tr -d '\r|\n')"
      continue
    fi
    while IFS=, read -r test rps _ _ p50 _ p99 _; do
      test=${test//\"/} rps=${rps//\"/} p50=${p50//\"/} p99=${p99//\"/}
      [ -z "$test" ] || [ "$test" = test ] && continue
      row "etcd 3.4 3 members (fsync), HTTP gateway" "$test" "$rps" "$p50" "$p99" 1 $(($(cputicks) - before)) 0
    done <<<"$out"
  done
  stop
fi
