#!/usr/bin/env bash
# The p99 target, repeated: one WeaselDB server (embedded fake S3, fsync as configured), a
# closed-loop prewarm that also measures the maximum, then RUNS open-loop runs at half of it
# (or at RATE) with DEPTH requests in flight per connection. The open-loop p99 at half load swings
# between identical runs on a shared 2-core machine; this shows the spread.
#
# Usage: docs/bench/p99-repeats.sh   (from the repository root, after ./mvnw package)
# Knobs: RUNS=5 DEPTH=4 RATE=(half the prewarm's committed/s) DURATION_S=20 CONNECTIONS=64
#   CONFIG=config/weaseldb.toml (e.g. a copy with fsync = false) OUT_DIR=target/bench/p99-repeats
#   SERVER_JAVA_OPTS="-Xms1g -Xmx1g -XX:+UseZGC" JAVA=/path/to/java
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
# shellcheck source=lib.sh
source "$ROOT/docs/bench/lib.sh"

RUNS=${RUNS:-5}
DEPTH=${DEPTH:-4}
DURATION_S=${DURATION_S:-20}
CONNECTIONS=${CONNECTIONS:-64}
OUT_DIR=${OUT_DIR:-$ROOT/target/bench/p99-repeats}
JAR=${JAR:-$ROOT/target/weaseldb.jar}
CONFIG=${CONFIG:-$ROOT/config/weaseldb.toml}
SERVER_JAVA_OPTS=${SERVER_JAVA_OPTS:-"-Xms1g -Xmx1g -XX:+UseZGC"}
JAVA_BIN=$(find_java)

prepare_run
start_weaseldb "$OUT_DIR/server.log"
gen() {
    timeout $((DURATION_S + 60)) "$JAVA_BIN" -Xmx1g --enable-native-access=ALL-UNNAMED -cp "$JAR" \
        io.weaseldb.bench.LoadGenerator --port "$WEASEL_PORT" --workload rmw --connections "$CONNECTIONS" "$@"
}
gen --mode closed --warmup-s 5 --duration-s 25 --label prewarm --json "$OUT_DIR/prewarm.json" >"$OUT_DIR/prewarm.txt" 2>&1
grep throughput "$OUT_DIR/prewarm.txt"
RATE=${RATE:-$(python3 -c 'import json,sys; print(int(json.load(open(sys.argv[1]))["committed_per_second"] / 2))' "$OUT_DIR/prewarm.json")}
for i in $(seq "$RUNS"); do
    gen --depth "$DEPTH" --mode open --rate "$RATE" --warmup-s 5 --duration-s "$DURATION_S" --server-pid "$WEASEL_PID" \
        --label "open-$i" --json "$OUT_DIR/open-$i.json" >"$OUT_DIR/open-$i.txt" 2>&1
    echo "run $i at $RATE/s, $DEPTH in flight (load $(cut -d' ' -f1 /proc/loadavg)): $(grep 'latency us' "$OUT_DIR/open-$i.txt")"
    grep 'WARNING' "$OUT_DIR/open-$i.txt" || true # an incomplete run (lost, unsent or error answers): its p99 proves nothing
done
