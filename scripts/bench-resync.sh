#!/usr/bin/env bash
# Measures how long anti-entropy takes to refill a wiped node, and the bytes it sends:
# starts three nodes, loads KEYS keys with redis-benchmark (100-byte values, at ALL),
# stops node 2, deletes its data directory, restarts it, and waits until it no longer
# reports "filling". Usage: scripts/bench-resync.sh [keys]
set -euo pipefail
cd "$(dirname "$0")/.."
keys=${1:-100000}
go build -o bin/chorus ./cmd/chorus
work=$(mktemp -d)
trap 'pkill -f "data-dir $work" 2>/dev/null || true; rm -rf "$work"' EXIT
o=200
pids=$(PORT_OFFSET=$o scripts/cluster3.sh "$work" --durability periodic)
# Sequential keys key:000000000000 … via __rand_int__ over a range equal to the count.
redis-benchmark -p $((6380 + o)) -t set -n $((keys * 3)) -r "$keys" -d 100 -c 50 -q >/dev/null
n2=$(echo "$pids" | awk '{print $3}')
kill "$n2"; sleep 1
rm -rf "$work/n2"
sent_before=0
for i in 0 1; do
  v=$(curl -s "127.0.0.1:$((7380 + o + i))/metrics" | awk '/^chorus_antientropy_bytes_sent_total /{print $2}')
  sent_before=$(python3 -c "print($sent_before + ${v:-0})")
done
start=$(date +%s.%N)
"${CHORUS_BIN:-bin/chorus}" server --node-id n2 --data-dir "$work/n2" --durability periodic \
  --resp-addr 127.0.0.1:$((6382 + o)) --http-addr 127.0.0.1:$((7382 + o)) --gossip-addr 127.0.0.1:$((8382 + o)) \
  --rpc-addr 127.0.0.1:$((9382 + o)) --join 127.0.0.1:$((8380 + o)),127.0.0.1:$((8381 + o)) --log-level warn >"$work/n2.log" 2>&1 &
sleep 0.5
until curl -sf "127.0.0.1:$((7382 + o))/healthz" | grep -q '"filling":false'; do sleep 0.2; done
end=$(date +%s.%N)
sent=0
for i in 0 1 2; do
  v=$(curl -s "127.0.0.1:$((7380 + o + i))/metrics" | awk '/^chorus_antientropy_bytes_sent_total /{print $2}')
  sent=$(python3 -c "print($sent + ${v:-0})")
done
repaired=$(curl -s "127.0.0.1:$((7382 + o))/metrics" | awk '/^chorus_antientropy_keys_repaired_total /{print $2}')
python3 - "$keys" "$start" "$end" "$sent_before" "$sent" "$repaired" <<'PY'
import sys
keys, start, end, before, after, repaired = sys.argv[1:]
secs = float(end) - float(start)
sent = float(after) - float(before)
data = int(keys) * (100 + 16)
print(f"refill of a wiped node: {keys} keys, {secs:.1f} s until it stopped filling, "
      f"{float(repaired):.0f} keys repaired, {sent/1e6:.1f} MB anti-entropy bytes sent "
      f"(data ≈ {data/1e6:.1f} MB: {sent/data:.2f}×)")
PY
