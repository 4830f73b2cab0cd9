#!/usr/bin/env bash
# CPU and allocation profile of WeaselDB's commit path under load, with JDK Flight Recorder.
# Starts WeaselDB (embedded fake S3, fsync on), drives it with weaseldb-bench (closed loop by
# default), records JFR (settings=profile) over the measured window, and summarizes:
#   - CPU samples by thread and by top frame (jfr ExecutionSample), and by the innermost
#     io.weaseldb frame on the stack (what our code spends, callees included)
#   - allocation: bytes per commit (ThreadAllocationStatistics deltas / commits), by thread and
#     by class
# Output in OUT_DIR: weaseldb.jfr, profile.txt, the generator's JSON.
#
# Usage: docs/bench/profile.sh [generator options...]   (e.g. --mode open --rate 3000)
# Knobs: DURATION_S=20 WARMUP_S=20 (past C2 compilation on a busy 2-core machine) CONNECTIONS=64 WORKLOAD=rmw SERVER_JAVA_OPTS="-Xms1g -Xmx1g -XX:+UseZGC"
#   OUT_DIR=target/bench/profile JAVA=/path/to/java
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
# shellcheck source=lib.sh
source "$ROOT/docs/bench/lib.sh"

DURATION_S=${DURATION_S:-20}
WARMUP_S=${WARMUP_S:-20}
CONNECTIONS=${CONNECTIONS:-64}
WORKLOAD=${WORKLOAD:-rmw}
SERVER_JAVA_OPTS=${SERVER_JAVA_OPTS:-"-Xms1g -Xmx1g -XX:+UseZGC"}
OUT_DIR=${OUT_DIR:-$ROOT/target/bench/profile}
JAR=${JAR:-$ROOT/target/weaseldb.jar}
CONFIG=${CONFIG:-$ROOT/config/weaseldb.toml}
JAVA_BIN=$(find_java)
JCMD=$(dirname "$JAVA_BIN")/jcmd
JFR=$(dirname "$JAVA_BIN")/jfr

prepare_run

start_weaseldb "$OUT_DIR/server.log"

timeout $((WARMUP_S + DURATION_S + 60)) "$JAVA_BIN" -Xmx1g --enable-native-access=ALL-UNNAMED -cp "$JAR" \
    io.weaseldb.bench.LoadGenerator --port "$WEASEL_PORT" --workload "$WORKLOAD" --connections "$CONNECTIONS" \
    --warmup-s "$WARMUP_S" --duration-s "$DURATION_S" --server-pid "$WEASEL_PID" --label profile \
    --json "$OUT_DIR/load.json" "$@" >"$OUT_DIR/load.txt" 2>"$OUT_DIR/generator.err" &
GEN=$!
# thread_cpu FILE: per-thread CPU ticks (user+system, 1/100 s) and names, for a per-role table.
thread_cpu() {
    for t in /proc/"$WEASEL_PID"/task/*; do
        # utime and stime are fields 14 and 15, counted after the parenthesised name (which may hold spaces)
        echo "$(sed 's/.*) //' "$t/stat" 2>/dev/null | awk '{print $12, $13}') $(cat "$t/comm" 2>/dev/null)"
    done >"$1"
}
sleep "$WARMUP_S"
thread_cpu "$OUT_DIR/threads-start.txt"
# The profile settings sample every 10-20 ms; 2 ms gives enough samples in a short window.
"$JFR" configure --input profile jdk.ExecutionSample#period=2ms jdk.NativeMethodSample#period=10ms \
    --output "$OUT_DIR/bench.jfc" >/dev/null
"$JCMD" "$WEASEL_PID" JFR.start name=bench settings="$OUT_DIR/bench.jfc" duration="$((DURATION_S - 1))s" \
    filename="$OUT_DIR/weaseldb.jfr" >/dev/null
sleep "$((DURATION_S - 2))"
thread_cpu "$OUT_DIR/threads-end.txt"
wait "$GEN"
weasel_metrics "$WEASEL_PORT" "$OUT_DIR/metrics.txt" >>"$OUT_DIR/load.txt"
cat "$OUT_DIR/load.txt"
for _ in $(seq 100); do
    [ -s "$OUT_DIR/weaseldb.jfr" ] && ! "$JCMD" "$WEASEL_PID" JFR.check 2>/dev/null | grep -q 'name=bench' && break
    sleep 0.2
done

"$JFR" print --json --events jdk.ExecutionSample --stack-depth 64 "$OUT_DIR/weaseldb.jfr" >"$OUT_DIR/samples.json"
"$JFR" print --json --events jdk.NativeMethodSample --stack-depth 8 "$OUT_DIR/weaseldb.jfr" >"$OUT_DIR/native.json"
"$JFR" print --json --events jdk.ThreadAllocationStatistics "$OUT_DIR/weaseldb.jfr" >"$OUT_DIR/alloc-stats.json"
"$JFR" view --width 160 allocation-by-class "$OUT_DIR/weaseldb.jfr" >"$OUT_DIR/allocation-by-class.txt" 2>&1 || true
"$JFR" view --width 160 hot-methods "$OUT_DIR/weaseldb.jfr" >"$OUT_DIR/hot-methods.txt" 2>&1 || true
"$JFR" view --width 160 gc "$OUT_DIR/weaseldb.jfr" >"$OUT_DIR/gc.txt" 2>&1 || true

python3 - "$OUT_DIR" "$DURATION_S" <<'PY' | tee "$OUT_DIR/profile.txt"
import collections, json, os, re, sys
out, seconds = sys.argv[1], float(sys.argv[2])
load = json.load(open(os.path.join(out, "load.json")))

def thread_ticks(name):
    t = {}
    for line in open(os.path.join(out, name)):
        parts = line.split(None, 2)
        if len(parts) == 3:
            key = re.sub(r"[-#]?\d+$", "", re.sub(r"(-\d+)+$", "", parts[2].strip()))
            u, s_ = t.get(key, (0, 0))
            t[key] = (u + int(parts[0]), s_ + int(parts[1]))
    return t
events = json.load(open(os.path.join(out, "samples.json")))["recording"]["events"]

def frame_name(f):
    m = f["method"]
    # JFR writes class names with '/' (hidden lambda classes with '.'): normalize
    return m["type"]["name"].replace("/", ".") + "." + m["name"]

def thread_group(name):
    # event-loop threads are numbered; fold them so the table reads by role
    return re.sub(r"-\d+(-\d+)*$", "-N", name or "?")

by_thread, by_top, by_ours, by_ours_thread = (collections.Counter() for _ in range(4))
for e in events:
    v = e["values"]
    thread = thread_group((v.get("sampledThread") or {}).get("javaName") or (v.get("sampledThread") or {}).get("osName"))
    frames = (v.get("stackTrace") or {}).get("frames") or []
    if not frames:
        continue
    by_thread[thread] += 1
    by_top[frame_name(frames[0])] += 1
    ours = next((n for n in map(frame_name, frames)
                 if n.startswith("io.weaseldb.") and "$$Lambda" not in n), "(no io.weaseldb frame)")
    by_ours[ours] += 1
    by_ours_thread[(thread, ours)] += 1
total = sum(by_thread.values()) or 1

print(f"JFR execution samples: {total} over ~{seconds:.0f} s; load: {load['committed_per_second']:.0f} committed/s, "
      f"server {load['server_cpu_cores']:.2f} cores")
print(open(os.path.join(out, "load.txt")).read().rstrip())
# /proc thread CPU over the window (names cut to 15 characters by the kernel); user and system.
t0, t1 = thread_ticks("threads-start.txt"), thread_ticks("threads-end.txt")
window = seconds - 2
rows = []
for k in t1:
    u0, s0 = t0.get(k, (0, 0))
    u, s_ = t1[k][0] - u0, t1[k][1] - s0
    if u + s_ > 0:
        rows.append((u + s_, u, s_, k))
rows.sort(reverse=True)
all_ticks = sum(r[0] for r in rows) or 1
commits_per_s = load["committed_per_second"] or 1
print(f"\n-- CPU by thread role from /proc over {window:.0f} s: cores (user/system), share, us per commit")
for total_ticks, u, s_, k in rows[:16]:
    cores = total_ticks / 100 / window
    print(f"{cores:6.3f} ({u / 100 / window:.3f}/{s_ / 100 / window:.3f})  {100 * total_ticks / all_ticks:5.1f}%  "
          f"{1e6 * cores / commits_per_s:7.1f} us  {k}")
print(f"{all_ticks / 100 / window:6.3f} cores in all")

print("\n-- CPU samples by thread (Java code only; threads blocked in native code are not sampled here)")
for k, n in by_thread.most_common(15):
    print(f"{100 * n / total:6.1f}%  {k}")
print("\n-- top frames (self)")
for k, n in by_top.most_common(25):
    print(f"{100 * n / total:6.1f}%  {k}")
print("\n-- innermost io.weaseldb frame (callees included)")
for k, n in by_ours.most_common(25):
    print(f"{100 * n / total:6.1f}%  {k}")
print("\n-- by thread and innermost io.weaseldb frame")
for (t, k), n in by_ours_thread.most_common(25):
    print(f"{100 * n / total:6.1f}%  {t:<28} {k}")

# Threads in native code (blocked or working outside Java): where each role waits.
native = json.load(open(os.path.join(out, "native.json")))["recording"]["events"]
by_native = collections.Counter()
for e in native:
    v = e["values"]
    thread = thread_group((v.get("sampledThread") or {}).get("javaName") or (v.get("sampledThread") or {}).get("osName"))
    frames = (v.get("stackTrace") or {}).get("frames") or []
    if frames:
        by_native[(thread, frame_name(frames[0]))] += 1
native_total = sum(by_native.values()) or 1
print("\n-- native-method samples (threads inside native code: waiting in epoll/park, or in fsync/write)")
for (t, k), n in by_native.most_common(15):
    print(f"{100 * n / native_total:6.1f}%  {t:<28} {k}")

# Allocation: ThreadAllocationStatistics is emitted at chunk start and end (settings=profile);
# the per-thread delta between the first and last sample is what each thread allocated.
stats = json.load(open(os.path.join(out, "alloc-stats.json")))["recording"]["events"]
first, last = {}, {}
for e in stats:
    v = e["values"]
    t = v["thread"]
    key = (t.get("javaThreadId") or t.get("osThreadId"), t.get("javaName") or t.get("osName"))
    first.setdefault(key, v["allocated"])
    last[key] = v["allocated"]
per_group = collections.Counter()
for key in last:
    per_group[thread_group(key[1])] += last[key] - first[key]
allocated = sum(per_group.values())
# the recording covers seconds - 1 of the measured seconds
commits = max(1, load["committed"] * (seconds - 1) / seconds)
print(f"\n-- allocation: {allocated / 2**20:.0f} MiB in the recording, {allocated / commits:.0f} bytes per committed "
      f"transaction (~{commits:.0f} commits during the recording)")
for k, n in per_group.most_common(12):
    print(f"{n / commits:10.0f} B/commit  {k}")
PY
echo "details: $OUT_DIR/{hot-methods,allocation-by-class,gc}.txt"
