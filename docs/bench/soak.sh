#!/usr/bin/env bash
# Soak: WeaselDB under a steady open-loop load for a long time, watching what must not grow with
# time once the server's bounded structures have filled: live heap (after a full GC), RSS, open
# files, threads, the data directory (a retention policy trims the log as it goes), and the
# gauges of what the leader remembers (request ids, conflict set, event cache).
#
# Load: open-loop rmw at RATE with a request_id on every commit (so the request-id index fills to
# its window and then turns over), SUBSCRIBERS live SSE readers for the whole run, and at every
# sample a short-lived subscriber that replays history from halfway between the oldest retained
# version and the newest (S3 reads, the history budget, holds; not from the oldest itself: the
# 15 s hold a closed stream keeps on the log would then pin truncation at the oldest whenever a
# pass starts inside it, as passes every 60 s and samples every ~64 s can for minutes on end). Every sample moves the retention policy `soak` up to
# KEEP_VERSIONS below the newest version, so truncation deletes objects all along.
#
# Usage: docs/bench/soak.sh   (from the repository root, after ./mvnw package)
# Knobs: RATE=2000 DURATION_S=1200 SAMPLE_S=60 SUBSCRIBERS=8 KEEP_VERSIONS=300000 (truncation also
#   keeps the request-id window, request_id_retention_versions: 1,000,000 by default)
#   SERVER_JAVA_OPTS="-Xms1g -Xmx1g -XX:+UseZGC -XX:+AlwaysPreTouch" OUT_DIR=target/bench/soak JAVA=/path/to/java
# Output: OUT_DIR/samples.jsonl (one line per sample), OUT_DIR/load.txt/.json (the generator),
# OUT_DIR/soak.json, and a table. It reports; it does not judge: read the table (the first samples
# grow while the request-id window, the event cache and the conflict window fill).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
# shellcheck source=lib.sh
source "$ROOT/docs/bench/lib.sh"

RATE=${RATE:-2000}
DURATION_S=${DURATION_S:-1200}
SAMPLE_S=${SAMPLE_S:-60}
SUBSCRIBERS=${SUBSCRIBERS:-8}
KEEP_VERSIONS=${KEEP_VERSIONS:-300000}
SERVER_JAVA_OPTS=${SERVER_JAVA_OPTS:-"-Xms1g -Xmx1g -XX:+UseZGC -XX:+AlwaysPreTouch"}
OUT_DIR=${OUT_DIR:-$ROOT/target/bench/soak}
JAR=${JAR:-$ROOT/target/weaseldb.jar}
CONFIG=${CONFIG:-$ROOT/config/weaseldb.toml}
JAVA_BIN=$(find_java)
JCMD=$(dirname "$JAVA_BIN")/jcmd

prepare_run
# Both processes run from a copy: a rebuild of target/weaseldb.jar during the run (it is long)
# would otherwise pull classes from under them (a NoClassDefFoundError at the next class loaded).
cp "$JAR" "$DATA/weaseldb.jar"
JAR=$DATA/weaseldb.jar
start_weaseldb "$OUT_DIR/server.log"
URL="http://127.0.0.1:$WEASEL_PORT"

"$JAVA_BIN" -Xmx1g --enable-native-access=ALL-UNNAMED -cp "$JAR" io.weaseldb.bench.LoadGenerator --mode open \
    --rate "$RATE" --connections 64 --depth 4 --port "$WEASEL_PORT" --request-ids --subscribers "$SUBSCRIBERS" \
    --warmup-s 5 --duration-s "$DURATION_S" --server-pid "$WEASEL_PID" --label "soak-$RATE" \
    --json "$OUT_DIR/load.json" >"$OUT_DIR/load.txt" 2>&1 &
GEN=$!
STARTED_PIDS+=("$GEN") # stopped on exit if the script fails before it ends

# sample N LOADED: one JSON line in samples.jsonl
sample() {
    local n=$1 loaded=$2 version oldest replay_bytes
    version=$(curl --noproxy '*' -sf --max-time 10 "$URL/v1/version" | python3 -c 'import json,sys; print(json.load(sys.stdin)["version"])')
    if [ "$version" -gt "$KEEP_VERSIONS" ]; then
        curl --noproxy '*' -sf --max-time 10 -X PUT -H 'Content-Type: application/json' \
            -d "{\"version\": $((version - KEEP_VERSIONS))}" "$URL/v1/retention/soak" >/dev/null
    fi
    oldest=$(curl --noproxy '*' -sf --max-time 10 "$URL/v1/retention/" | python3 -c 'import json,sys; print(json.load(sys.stdin)["oldest_version"])')
    # a replay from halfway into the retained log for 3 s (S3 reads); curl's 28 is its timeout
    replay_bytes=$(curl --noproxy '*' -s --max-time 3 -o /dev/null -w '%{size_download}' \
        "$URL/v1/subscribe?after=$((oldest + (version - oldest) / 2))" || true)
    "$JCMD" "$WEASEL_PID" GC.run >/dev/null
    "$JCMD" "$WEASEL_PID" GC.heap_info >"$OUT_DIR/heap.txt"
    curl --noproxy '*' -sf --max-time 10 "$URL/metrics" >"$OUT_DIR/metrics.txt" || true
    python3 - "$n" "$WEASEL_PID" "$DATA/weaseldb" "$OUT_DIR/heap.txt" "$OUT_DIR/metrics.txt" "$version" "$oldest" \
        "$replay_bytes" "$loaded" >>"$OUT_DIR/samples.jsonl" <<'PY'
import json, os, re, sys, time
n, pid, data, heap_file, metrics_file, version, oldest, replay, loaded = sys.argv[1:10]
heap = open(heap_file).read()
zgc = re.search(r"ZHeap\s+used (\d+)M", heap)
used = re.search(r"used (\d+)K", heap)
young = re.search(r"(\d+) young \((\d+)K\)", heap)
live = (int(zgc.group(1)) << 20) if zgc else ((int(used.group(1)) - (int(young.group(2)) if young else 0)) * 1024 if used else None)
status = open(f"/proc/{pid}/status").read()
rss = int(re.search(r"VmRSS:\s+(\d+) kB", status).group(1)) * 1024
files = size = 0
for root, dirs, names in os.walk(data):
    for name in names:
        try:
            size += os.path.getsize(os.path.join(root, name))
            files += 1
        except OSError:
            pass  # deleted by truncation meanwhile
m = {}
for line in open(metrics_file):
    if not line.startswith("#"):
        k, _, v = line.rpartition(" ")
        try:
            m[k] = float(v)
        except ValueError:
            pass
def g(name):
    return m.get(name)
print(json.dumps({
    "sample": int(n), "under_load": loaded == "true", "time": time.time(), "version": int(version),
    "oldest_version": int(oldest),
    "live_heap_bytes": live, "rss_bytes": rss,
    "open_files": len(os.listdir(f"/proc/{pid}/fd")), "threads": len(os.listdir(f"/proc/{pid}/task")),
    "data_files": files, "data_bytes": size, "replay_bytes_3s": int(replay or 0),
    "request_ids_committed": g('weaseldb_request_ids{kind="committed"}'),
    "conflict_set_entries": g("weaseldb_conflict_set_entries"),
    "event_cache_bytes": g("weaseldb_subscribe_buffered_bytes"),
    "subscribers": g("weaseldb_subscribers"),
    "connections": g("weaseldb_http_connections"),
    "deleted_objects": g("weaseldb_retention_deleted_objects_total"),
}))
PY
    tail -1 "$OUT_DIR/samples.jsonl"
}

sleep 10
i=0
while kill -0 "$GEN" 2>/dev/null; do
    sample "$i" true
    i=$((i + 1))
    # sleep until the next sample or the generator's end, whichever comes first
    timeout "$SAMPLE_S" tail --pid="$GEN" -f /dev/null || true
done
wait "$GEN" || true
forget_pid "$GEN"
sample "$i" false # after the load: what stays
cat "$OUT_DIR/load.txt"

python3 - "$OUT_DIR" <<'PY'
import json, os, sys
out = sys.argv[1]
s = [json.loads(l) for l in open(os.path.join(out, "samples.jsonl"))]
t0 = s[0]["time"]
mib = lambda b: (b or 0) / 2**20
print("\n== soak samples")
print(f"{'min':>5}{'version':>11}{'oldest':>11}{'heap MiB':>10}{'RSS MiB':>9}{'fds':>6}{'thr':>5}"
      f"{'files':>7}{'data MiB':>10}{'req ids':>9}{'cset':>7}{'cache MiB':>10}{'replay KiB':>11}")
for x in s:
    print(f"{(x['time'] - t0) / 60:>5.1f}{x['version']:>11}{x['oldest_version']:>11}{mib(x['live_heap_bytes']):>10.1f}"
          f"{mib(x['rss_bytes']):>9.0f}{x['open_files']:>6}{x['threads']:>5}{x['data_files']:>7}"
          f"{mib(x['data_bytes']):>10.1f}{int(x['request_ids_committed'] or 0):>9}{int(x['conflict_set_entries'] or 0):>7}"
          f"{mib(x['event_cache_bytes']):>10.1f}{x['replay_bytes_3s'] / 1024:>11.0f}")
# growth over the second half of the run under load (the first half fills the bounded windows)
loaded = [x for x in s if x["under_load"]]
half = loaded[len(loaded) // 2:]
if len(half) >= 2:
    a, b = half[0], half[-1]
    mins = (b["time"] - a["time"]) / 60
    print(f"\nsecond half under load ({mins:.1f} min): live heap {mib(b['live_heap_bytes']) - mib(a['live_heap_bytes']):+.1f} MiB, "
          f"RSS {mib(b['rss_bytes']) - mib(a['rss_bytes']):+.0f} MiB, open files {b['open_files'] - a['open_files']:+d}, "
          f"threads {b['threads'] - a['threads']:+d}, data files {b['data_files'] - a['data_files']:+d}")
load = os.path.join(out, "load.json")
if not os.path.exists(load):
    print("WARNING: the load generator wrote no results (see load.txt)")
json.dump({"samples": s, "load": json.load(open(load)) if os.path.exists(load) else None,
           "machine": open(os.path.join(out, "machine.txt")).read().splitlines()},
          open(os.path.join(out, "soak.json"), "w"), indent=2)
print(f"results: {os.path.join(out, 'soak.json')}")
PY
