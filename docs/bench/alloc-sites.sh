#!/usr/bin/env bash
# Exact allocation sites per commit, by thread role, class and stack (io.weaseldb.bench.AllocationSites).
# JFR's usual allocation samples are weighted by TLAB refills and, in a loop allocating the same
# bytes per iteration, keep landing on the same few sites; with -XX:-UseTLAB every allocation the
# JIT did not eliminate is a jdk.ObjectAllocationOutsideTLAB event, so the counts are exact (the
# run is slower; the bytes are what matter).
#
#   docs/bench/alloc-sites.sh http     one commit through a connection's HTTP pipeline, in memory
#                                      (HttpPathBenchmark, target=weaseldb; builds with -Pbench)
#   docs/bench/alloc-sites.sh server   the whole server (embedded fake S3, fsync on) under a light
#                                      open-loop rmw load: every thread, per committed transaction
#                                      (batch costs are shared by fewer commits than at full load)
#
# Knobs: RATE=3000 (server mode) OUT_DIR=target/bench/alloc-sites JAVA=/path/to/java
# Output: OUT_DIR/alloc.jfr and OUT_DIR/alloc-sites.txt.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
# shellcheck source=lib.sh
source "$ROOT/docs/bench/lib.sh"

MODE=${1:-http}
RATE=${RATE:-3000}
OUT_DIR=${OUT_DIR:-$ROOT/target/bench/alloc-sites}
JAR=${JAR:-$ROOT/target/weaseldb.jar}
CONFIG=${CONFIG:-$ROOT/config/weaseldb.toml}
JAVA_BIN=$(find_java)

prepare_run
cat >"$OUT_DIR/alloc.jfc" <<'JFC'
<?xml version="1.0" encoding="UTF-8"?>
<configuration version="2.0">
  <event name="jdk.ObjectAllocationOutsideTLAB"><setting name="enabled">true</setting><setting name="stackTrace">true</setting></event>
</configuration>
JFC
# Record 1 s after the warmup: every allocation is an event, so a second is plenty.
case "$MODE" in
http)
    # the benchmark's backend drops the CommitRequest, so the JIT may elide it; count requests by
    # their response slots (request heads are used again since finding 21: no longer one each)
    MARKER='io.weaseldb.http.ConnectionHandler$Slot'
    (cd "$ROOT" && timeout 600 ./mvnw -q -B -Pbench -Djmh.args="HttpPathBenchmark -p target=weaseldb -f 1 -wi 2 -w 2 -i 1 -r 1 \
        -jvmArgsAppend -XX:-UseTLAB \
        -jvmArgsAppend -XX:StartFlightRecording=settings=$OUT_DIR/alloc.jfc,filename=$OUT_DIR/alloc.jfr,delay=4s,duration=1s") \
        >"$OUT_DIR/jmh.log" 2>&1
    ;;
server)
    MARKER=io.weaseldb.txn.CommitRequest
    SERVER_JAVA_OPTS="-Xms1g -Xmx1g -XX:+UseZGC -XX:-UseTLAB -XX:StartFlightRecording=settings=$OUT_DIR/alloc.jfc,filename=$OUT_DIR/alloc.jfr,delay=20s,duration=1s"
    start_weaseldb "$OUT_DIR/server.log"
    timeout 90 "$JAVA_BIN" -Xmx1g --enable-native-access=ALL-UNNAMED -cp "$JAR" io.weaseldb.bench.LoadGenerator \
        --port "$WEASEL_PORT" --workload rmw --connections 64 --mode open --rate "$RATE" --warmup-s 5 --duration-s 20 \
        >"$OUT_DIR/load.txt" 2>"$OUT_DIR/generator.err"
    grep throughput "$OUT_DIR/load.txt"
    kill "$WEASEL_PID"
    wait "$WEASEL_PID" 2>/dev/null || true
    ;;
*)
    echo "usage: $0 [http|server]" >&2
    exit 2
    ;;
esac
"$JAVA_BIN" -cp "$JAR" io.weaseldb.bench.AllocationSites "$OUT_DIR/alloc.jfr" "$MARKER" 9 \
    | tee "$OUT_DIR/alloc-sites.txt"
