#!/usr/bin/env bash
# WeaselDB memory: heap (live, after a full GC) and RSS of the server process
#   1. idle after startup
#   2. holding IDLE_CONNECTIONS (10,000) idle keep-alive connections (each asked /v1/version once)
#   3. with SUBSCRIBERS (1,000) SSE subscribers attached while a light open-loop load
#      (SUBSCRIBER_RATE commits/s) streams to them
# Writes OUT_DIR/memory.json and prints a table.
#
# Usage: docs/bench/memory.sh   (from the repository root, after ./mvnw package)
# Knobs: IDLE_CONNECTIONS=10000 SUBSCRIBERS=1000 SUBSCRIBER_RATE=1000 HOLD_S=20
#   SERVER_JAVA_OPTS="-Xms1g -Xmx1g -XX:+UseZGC ..." OUT_DIR=target/bench/memory JAVA=/path/to/java
# The server's max_connections (10000 by default) must cover IDLE_CONNECTIONS, and the open-file
# limit (ulimit -n) both processes' connections.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
# shellcheck source=lib.sh
source "$ROOT/docs/bench/lib.sh"

IDLE_CONNECTIONS=${IDLE_CONNECTIONS:-10000}
SUBSCRIBERS=${SUBSCRIBERS:-1000}
SUBSCRIBER_RATE=${SUBSCRIBER_RATE:-1000}
HOLD_S=${HOLD_S:-20}
# AlwaysPreTouch makes the whole heap resident at start, so RSS deltas show memory outside the
# heap rather than heap pages first touched by allocation.
# ZGC, as every script in docs/bench/ runs the server (the shipped launch setting).
SERVER_JAVA_OPTS=${SERVER_JAVA_OPTS:-"-Xms1g -Xmx1g -XX:+UseZGC -XX:+AlwaysPreTouch -XX:NativeMemoryTracking=summary"}
OUT_DIR=${OUT_DIR:-$ROOT/target/bench/memory}
JAR=${JAR:-$ROOT/target/weaseldb.jar}
CONFIG=${CONFIG:-$ROOT/config/weaseldb.toml}
JAVA_BIN=$(find_java)
JCMD=$(dirname "$JAVA_BIN")/jcmd

ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
prepare_run

start_weaseldb "$OUT_DIR/server.log"

# sample NAME: live heap after a full GC, committed heap, RSS; one JSON line per sample.
sample() {
    local name=$1
    local heap rss
    # Right after the full GC: under load, young regions refill within a second.
    "$JCMD" "$WEASEL_PID" GC.run >/dev/null
    heap=$("$JCMD" "$WEASEL_PID" GC.heap_info)
    echo "$heap" >"$OUT_DIR/heap-$name.txt"
    "$JCMD" "$WEASEL_PID" VM.native_memory summary >"$OUT_DIR/nmt-$name.txt" 2>/dev/null || true
    rss=$(awk '/VmRSS/ {print $2 * 1024}' "/proc/$WEASEL_PID/status")
    python3 - "$name" "$rss" "$OUT_DIR/heap-$name.txt" "$OUT_DIR/nmt-$name.txt" >>"$OUT_DIR/samples.jsonl" <<'PY'
import json, os, re, sys
name, rss, heap_file, nmt_file = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
text = open(heap_file).read()
nmt = open(nmt_file).read() if os.path.exists(nmt_file) else ""
total = re.search(r"Total: reserved=\d+KB, committed=(\d+)KB", nmt)
heap_nmt = re.search(r"Java Heap \(reserved=\d+KB, committed=(\d+)KB", nmt)
non_heap = (int(total.group(1)) - int(heap_nmt.group(1))) * 1024 if total and heap_nmt else None
# ZGC: " ZHeap            used 14M, capacity 1024M, max capacity 1024M" (MiB: after a full GC,
# used is the live set, to 1 MiB)
# G1: "garbage-first heap   total reserved 1048576K, committed 1048576K, used 23456K"
# Others: "total 1048576K, used 23456K"
zgc = re.search(r"ZHeap\s+used (\d+)M, capacity (\d+)M", text)
used = re.search(r"used (\d+)K", text)
# G1: "region size 1024K, 108 young (110592K), 0 survivors (0K)": what was allocated since the
# full GC, not live data; subtract it.
young = re.search(r"(\d+) young \((\d+)K\)", text)
committed = re.search(r"committed (\d+)K", text) or re.search(r"total (\d+)K", text)
live = (int(used.group(1)) - (int(young.group(2)) if young else 0)) * 1024 if used else None
if zgc:
    live, committed_bytes = int(zgc.group(1)) << 20, int(zgc.group(2)) << 20
else:
    committed_bytes = int(committed.group(1)) * 1024 if committed else None
print(json.dumps({"state": name, "rss_bytes": rss,
                  "heap_used_after_gc_bytes": live,
                  "heap_committed_bytes": committed_bytes,
                  "nmt_non_heap_committed_bytes": non_heap}))
PY
    tail -1 "$OUT_DIR/samples.jsonl"
}

sleep 2
sample idle

# 2. idle keep-alive connections
"$JAVA_BIN" -Xmx1g --enable-native-access=ALL-UNNAMED -cp "$JAR" io.weaseldb.bench.LoadGenerator --mode idle \
    --port "$WEASEL_PORT" --connections "$IDLE_CONNECTIONS" --duration-s "$HOLD_S" --server-pid "$WEASEL_PID" \
    --label "idle-$IDLE_CONNECTIONS" --json "$OUT_DIR/idle-connections.json" >"$OUT_DIR/idle-connections.txt" 2>&1 &
GEN=$!
STARTED_PIDS+=("$GEN") # stopped on exit if the script fails before it ends
wait_for_line "$OUT_DIR/idle-connections.txt" 'holding [0-9]+ idle connections' $((HOLD_S + 120))
sleep 2
sample "connections-$IDLE_CONNECTIONS"
timeout $((HOLD_S + 60)) tail --pid="$GEN" -f /dev/null || kill "$GEN"
wait "$GEN" || true
forget_pid "$GEN"
sleep 3 # the server sees the closes

# 3. subscribers under a light load
"$JAVA_BIN" -Xmx1g --enable-native-access=ALL-UNNAMED -cp "$JAR" io.weaseldb.bench.LoadGenerator --mode open \
    --rate "$SUBSCRIBER_RATE" --connections 64 --port "$WEASEL_PORT" --subscribers "$SUBSCRIBERS" --warmup-s 2 \
    --duration-s "$HOLD_S" --server-pid "$WEASEL_PID" --label "subscribers-$SUBSCRIBERS" \
    --json "$OUT_DIR/subscribers.json" >"$OUT_DIR/subscribers.txt" 2>&1 &
GEN=$!
STARTED_PIDS+=("$GEN") # stopped on exit if the script fails before it ends
sleep $((HOLD_S / 2 + 4))
sample "subscribers-$SUBSCRIBERS"
timeout $((HOLD_S + 60)) tail --pid="$GEN" -f /dev/null || kill "$GEN"
wait "$GEN" || true
forget_pid "$GEN"
cat "$OUT_DIR/subscribers.txt"

python3 - "$OUT_DIR" <<'PY'
import json, os, sys
out = sys.argv[1]
samples = [json.loads(l) for l in open(os.path.join(out, "samples.jsonl"))]
subs = json.load(open(os.path.join(out, "subscribers.json")))
idle = json.load(open(os.path.join(out, "idle-connections.json")))
base = samples[0]
print("\n== server memory")
print(f"{'state':<22}{'RSS MiB':>9}{'live heap MiB':>15}{'non-heap MiB':>14}{'per conn KiB: RSS':>19}{'heap':>7}")
for s, n in zip(samples, [1, idle["idle_connections_held"], subs["subscribers"]["connected"]]):
    d = (s["rss_bytes"] - base["rss_bytes"]) / 1024 / max(1, n) if s is not base else 0
    h = ((s["heap_used_after_gc_bytes"] or 0) - (base["heap_used_after_gc_bytes"] or 0)) / 1024 / max(1, n) if s is not base else 0
    nh = (s.get("nmt_non_heap_committed_bytes") or 0) / 2**20
    print(f"{s['state']:<22}{s['rss_bytes'] / 2**20:>9.0f}{(s['heap_used_after_gc_bytes'] or 0) / 2**20:>15.1f}{nh:>14.0f}{d:>19.1f}{h:>7.1f}")
json.dump({"samples": samples, "idle_connections": idle, "subscribers": subs,
           "machine": open(os.path.join(out, "machine.txt")).read().splitlines()},
          open(os.path.join(out, "memory.json"), "w"), indent=2)
print(f"results: {os.path.join(out, 'memory.json')}")
PY
