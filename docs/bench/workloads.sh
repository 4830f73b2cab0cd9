#!/usr/bin/env bash
# Every weaseldb-bench workload against one WeaselDB server (embedded fake S3, fsync on), closed
# loop, same connections: blind writes, read-modify-write, hot-key contention, range reads,
# 100-write transactions, 10 KiB values, and rmw with SUBSCRIBERS SSE readers attached.
# Prints a table and writes OUT_DIR/workloads.json.
#
# Usage: docs/bench/workloads.sh   (from the repository root, after ./mvnw package)
# Knobs: DURATION_S=15 WARMUP_S=5 CONNECTIONS=64 SUBSCRIBERS=16 SERVER_JAVA_OPTS="-Xms1g -Xmx1g -XX:+UseZGC"
#   OUT_DIR=target/bench/workloads JAVA=/path/to/java
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
# shellcheck source=lib.sh
source "$ROOT/docs/bench/lib.sh"

DURATION_S=${DURATION_S:-15}
WARMUP_S=${WARMUP_S:-5}
CONNECTIONS=${CONNECTIONS:-64}
SUBSCRIBERS=${SUBSCRIBERS:-16}
SERVER_JAVA_OPTS=${SERVER_JAVA_OPTS:-"-Xms1g -Xmx1g -XX:+UseZGC"}
OUT_DIR=${OUT_DIR:-$ROOT/target/bench/workloads}
JAR=${JAR:-$ROOT/target/weaseldb.jar}
CONFIG=${CONFIG:-$ROOT/config/weaseldb.toml}
JAVA_BIN=$(find_java)

prepare_run

start_weaseldb "$OUT_DIR/server.log"

run() {
    local name=$1
    shift
    echo "== $name (load $(cut -d' ' -f1 /proc/loadavg))"
    timeout $((WARMUP_S + DURATION_S + 60)) "$JAVA_BIN" -Xmx1g --enable-native-access=ALL-UNNAMED -cp "$JAR" \
        io.weaseldb.bench.LoadGenerator --port "$WEASEL_PORT" --connections "$CONNECTIONS" --warmup-s "$WARMUP_S" \
        --duration-s "$DURATION_S" --server-pid "$WEASEL_PID" --label "$name" --json "$OUT_DIR/$name.json" "$@" \
        2>>"$OUT_DIR/generator.err" | tee "$OUT_DIR/$name.txt"
}

# A first rmw run warms the JIT; it is reported but the table's rmw row is the second one.
run warmup --workload rmw
run blind-write --workload blind-write
run rmw --workload rmw
run hot-key --workload hot-key
run range-read --workload range-read
run txn-100 --workload txn-100
run big-value --workload big-value
run "rmw-$SUBSCRIBERS-subscribers" --workload rmw --subscribers "$SUBSCRIBERS"

python3 - "$OUT_DIR" <<'PY'
import glob, json, os, sys
out = sys.argv[1]
order = ["blind-write", "rmw", "hot-key", "range-read", "txn-100", "big-value"]
runs = {os.path.basename(p)[:-5]: json.load(open(p)) for p in glob.glob(os.path.join(out, "*.json"))}
names = [n for n in order if n in runs] + sorted(n for n in runs if n.endswith("subscribers"))
print("\n| workload | committed/s | conflict rate | p50 ms | p99 ms | p99.9 ms | max ms | request MB/s | server cores | subscriber events/s |")
print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
for n in names:
    r = runs[n]
    l = r["latency_us"]
    s = r["subscribers"]
    ev = f"{s['events'] / r['measured_seconds']:.0f} (lag p99 {s['lag_ms']['p99']} ms)" if s["connected"] else "-"
    print(f"| {n} | {r['committed_per_second']:.0f} | {100 * r['conflict_rate']:.1f}% | {l['p50'] / 1000:.1f} | "
          f"{l['p99'] / 1000:.1f} | {l['p99_9'] / 1000:.1f} | {l['max'] / 1000:.1f} | "
          f"{r['request_bytes'] / r['measured_seconds'] / 1e6:.2f} | {r['server_cpu_cores']:.2f} | {ev} |")
json.dump({"machine": open(os.path.join(out, "machine.txt")).read().splitlines(), "runs": runs},
          open(os.path.join(out, "workloads.json"), "w"), indent=2)
PY
