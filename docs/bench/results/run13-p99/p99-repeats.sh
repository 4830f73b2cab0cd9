#!/usr/bin/env bash
set -euo pipefail
cd /work/main
ROOT=/work/main
source docs/bench/lib.sh
OUT_DIR=${OUT_DIR:-/work/main/target/bench/p99-repeats}
JAR=$ROOT/target/weaseldb.jar
CONFIG=${CONFIG:-$ROOT/config/weaseldb.toml}
SERVER_JAVA_OPTS="-Xms1g -Xmx1g -XX:+UseZGC"
JAVA_BIN=$(find_java)
prepare_run
start_weaseldb "$OUT_DIR/server.log"
gen() { timeout 120 "$JAVA_BIN" -Xmx1g --enable-native-access=ALL-UNNAMED -cp "$JAR" io.weaseldb.bench.LoadGenerator --port "$WEASEL_PORT" --workload rmw "$@"; }
gen --connections 64 --mode closed --warmup-s 5 --duration-s 25 --label prewarm > "$OUT_DIR/prewarm.txt" 2>&1
grep throughput "$OUT_DIR/prewarm.txt"
for i in $(seq ${RUNS:-5}); do
  gen --connections 64 --depth 4 --mode open --rate 13000 --warmup-s 5 --duration-s 20 --server-pid "$WEASEL_PID" --label "open-d4-$i" --json "$OUT_DIR/open-d4-$i.json" > "$OUT_DIR/open-d4-$i.txt" 2>&1
  echo "run $i (load $(cut -d' ' -f1 /proc/loadavg)): $(grep 'latency us' "$OUT_DIR/open-d4-$i.txt")"
done
