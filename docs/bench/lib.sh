# Shared helpers for the benchmark scripts in docs/bench/ (sourced, not run).
# Every server a script starts is recorded in STARTED_PIDS and stopped by cleanup on exit.

STARTED_PIDS=()

# A JDK >= 21 (the jar's class version): $JAVA, then java on PATH, then /usr/lib/jvm/*.
find_java() {
    local c
    for c in "${JAVA:-}" "$(command -v java || true)" /usr/lib/jvm/*/bin/java; do
        [ -n "$c" ] && [ -x "$c" ] || continue
        local v
        v=$("$c" -XshowSettings:properties -version 2>&1 | awk -F'= ' '/java.specification.version/ {print $2}')
        if [ -n "$v" ] && [ "${v%%.*}" -ge 21 ] 2>/dev/null; then
            echo "$c"
            return 0
        fi
    done
    echo "no JDK >= 21 found: set JAVA=/path/to/bin/java" >&2
    return 1
}

# A free TCP port on 127.0.0.1.
free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

# wait_for_line FILE REGEX SECONDS: prints the first match of REGEX in FILE, fails after SECONDS.
wait_for_line() {
    local file=$1 regex=$2 seconds=$3 i line
    for ((i = 0; i < seconds * 10; i++)); do
        line=$(grep -m1 -oE "$regex" "$file" 2>/dev/null || true)
        if [ -n "$line" ]; then
            echo "$line"
            return 0
        fi
        sleep 0.1
    done
    echo "timed out after ${seconds}s waiting for /$regex/ in $file" >&2
    tail -20 "$file" >&2 || true
    return 1
}

# stop_pid PID: SIGTERM, up to 15 s to exit, then SIGKILL.
stop_pid() {
    local pid=$1 i
    kill -TERM "$pid" 2>/dev/null || return 0
    for ((i = 0; i < 150; i++)); do
        kill -0 "$pid" 2>/dev/null || return 0
        sleep 0.1
    done
    kill -KILL "$pid" 2>/dev/null || true
}

# forget_pid PID: a started process that has exited (and been waited for) is no longer stopped on
# exit, so cleanup never signals a PID the system has since given to another process.
forget_pid() {
    local pid=$1 kept=() p
    for p in "${STARTED_PIDS[@]}"; do
        [ "$p" = "$pid" ] || kept+=("$p")
    done
    STARTED_PIDS=("${kept[@]}")
}

cleanup() {
    local pid
    for pid in "${STARTED_PIDS[@]}"; do
        stop_pid "$pid"
    done
    STARTED_PIDS=()
}

# prepare_run: empties $OUT_DIR, makes $DATA on the repository's disk (not tmpfs, so fsync means
# what it says), removes it and stops every started server on exit, and records the machine.
prepare_run() {
    rm -rf "$OUT_DIR"
    mkdir -p "$OUT_DIR"
    DATA=$(mktemp -d "$ROOT/target/bench-data.XXXXXX")
    trap 'cleanup; rm -rf "$DATA"' EXIT
    trap 'exit 130' INT TERM
    machine_summary | tee "$OUT_DIR/machine.txt"
}

# start_weaseldb LOG: starts the jar ($SERVER_JAVA_OPTS, $CONFIG) on a fresh $DATA/weaseldb and a
# free port, logging to LOG; sets WEASEL_PID and WEASEL_PORT once it listens.
start_weaseldb() {
    local log=$1
    rm -rf "$DATA/weaseldb"
    # shellcheck disable=SC2086
    "$JAVA_BIN" $SERVER_JAVA_OPTS --enable-native-access=ALL-UNNAMED -jar "$JAR" --config "$CONFIG" \
        --port 0 --data-dir "$DATA/weaseldb" >"$log" 2>&1 &
    WEASEL_PID=$!
    STARTED_PIDS+=("$WEASEL_PID")
    WEASEL_PORT=$(wait_for_line "$log" 'WeaselDB listening on http://127.0.0.1:[0-9]+' 60 | grep -oE '[0-9]+$')
}

machine_summary() {
    echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
    echo "kernel: $(uname -srm)"
    echo "cpu: $(lscpu | awk -F': +' '/^Model name/ {print $2}') x $(nproc) online"
    echo "memory: $(awk '/MemTotal/ {printf "%.1f GiB", $2/1048576}' /proc/meminfo)"
    echo "java: $("$JAVA_BIN" -version 2>&1 | head -1)"
    echo "load: $(cut -d' ' -f1-3 /proc/loadavg)"
}

# json_get FILE KEY.PATH: a number from a JSON file (python3 is on every machine we use).
json_get() {
    python3 -c 'import json,sys
v=json.load(open(sys.argv[1]))
for k in sys.argv[2].split("."):
    v=v[k]
print(v)' "$1" "$2"
}

# weasel_metrics PORT FILE: saves WeaselDB's /metrics to FILE and prints the batch and storage
# means (since server start): transactions per batch, batch age, PUT latency, sequenced->durable.
weasel_metrics() {
    curl --noproxy '*' -sf "http://127.0.0.1:$1/metrics" >"$2" || true
    python3 - "$2" <<'PY'
import sys
m = {}
for line in open(sys.argv[1]):
    if line.startswith("#"):
        continue
    parts = line.rsplit(" ", 1)
    if len(parts) == 2:
        try:
            m[parts[0]] = float(parts[1])
        except ValueError:
            pass
def mean(name):
    c, s = m.get(name + "_count", 0), m.get(name + "_sum", 0)
    return s / c if c else float("nan")
put_sum = m.get('weaseldb_s3_request_seconds_sum{operation="put",outcome="ok"}', 0)
put_count = m.get('weaseldb_s3_request_seconds_count{operation="put",outcome="ok"}', 0)
print(f"  server      {mean('weaseldb_batch_transactions'):.1f} txn/batch, batch age {1000 * mean('weaseldb_batch_age_seconds'):.1f} ms, "
      f"{put_count:.0f} PUTs of {1000 * put_sum / max(1, put_count):.1f} ms, "
      f"sequenced->durable {1000 * mean('weaseldb_batch_durable_seconds'):.1f} ms (means since start)")
PY
}
