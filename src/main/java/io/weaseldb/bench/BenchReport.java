package io.weaseldb.bench;

import com.fasterxml.jackson.core.JsonEncoding;
import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonGenerator;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;
import org.HdrHistogram.Histogram;

/**
 * The results of one run, in the units their names say, printed for people and written as JSON
 * for scripts (docs/bench/side-by-side.sh reads {@code committed_per_second} and the latency
 * percentiles).
 *
 * @param measuredSeconds   length of the measured window (warmup excluded)
 * @param completed         answers that arrived in the measured window, errors and duplicates
 *                          excluded: with {@code committed}, {@code conflicts}, {@code tooOld},
 *                          {@code refused} and {@code completedEachSecond} the throughput, so
 *                          divided by the window they were counted in (closed and open loop)
 * @param measuredRequestsAnswered the measured requests (intended in the measured window; in
 *                          closed loop sent in it) answered, errors and duplicates excluded,
 *                          whenever the answer came (the drain included): the latencies' answers
 * @param errors            error answers (4xx but 409, 5xx, or an answer to nothing sent) to
 *                          measured requests or arriving in the measured window; not in the
 *                          latencies; any makes the run incomplete
 * @param duplicates        200 answers with {@code "duplicate":true}: an earlier commit's
 *                          outcome, not a commit of this request; any makes the run incomplete
 * @param unanswered        requests sent that never got an answer: still in flight when the
 *                          run gave up waiting (after the drain), or on a connection the
 *                          server closed
 * @param unsent            open loop: requests due before the end that never went out
 * @param latencyMicros     the measured requests answered (by intended time, so coordinated
 *                          omission cannot hide a stall), plus the unanswered and unsent ones
 *                          at what they had waited when given up (a lower bound), so a server
 *                          that stalls cannot look faster for it
 * @param reconnects        commit connections opened again after the server closed them
 *                          ({@code --reconnect}); each such close is also a connection failure
 * @param unansweredInLatency how many of the histogram's values are such lower bounds
 * @param serverCpuCores    server CPU seconds per measured second (-1 without --server-pid)
 * @param serverSystemCpuCores the kernel-time part of it (syscalls, fsync, TCP)
 * @param generatorCpuCores this generator's CPU seconds per measured second
 */
record BenchReport(
        BenchOptions options,
        double measuredSeconds,
        long sent,
        long completed,
        long measuredRequestsAnswered,
        long committed,
        long duplicates,
        long conflicts,
        long tooOld,
        long refused,
        long errors,
        long unanswered,
        long unsent,
        long connectionFailures,
        long reconnects,
        Latency latencyMicros,
        long unansweredInLatency,
        long requestBytes,
        long responseBytes,
        long[] completedEachSecond,
        Subscribers subscribers,
        double serverCpuCores,
        double serverSystemCpuCores,
        long serverRssPeakBytes,
        double generatorCpuCores,
        double loadAverageStart,
        double loadAverageEnd,
        int idleConnectionsHeld) {

    /** Percentiles of a histogram, in its unit. */
    record Latency(long count, double mean, long p50, long p90, long p99, long p999, long max) {
        static Latency of(Histogram h) {
            if (h.getTotalCount() == 0) {
                return new Latency(0, 0, 0, 0, 0, 0, 0);
            }
            return new Latency(h.getTotalCount(), h.getMean(), h.getValueAtPercentile(50), h.getValueAtPercentile(90),
                    h.getValueAtPercentile(99), h.getValueAtPercentile(99.9), h.getMaxValue());
        }
    }

    /**
     * What the SSE readers saw.
     *
     * @param connected      subscribes answered 200 (streams that ran), of {@code requested}
     * @param refused        subscribes answered otherwise (503 at the server's limit)
     * @param events         transaction events in the measured window
     * @param disconnects    streams that ended before the run
     * @param gaps           events whose prev_version was not the version of the event before
     * @param duplicateEvents events whose version was not above the one before
     * @param maxVersionLag  versions behind the newest the generator saw, at the end, over the
     *                       streams that had an event
     * @param withoutEvents  streams with no transaction event by the end: their lag is unknown,
     *                       left out of {@code maxVersionLag}
     */
    record Subscribers(int requested, long connected, long refused, long events, long bytes, long disconnects, long gaps,
                       long duplicateEvents, Latency lagMillis, long maxVersionLag, long withoutEvents) {
        static Subscribers none() {
            return new Subscribers(0, 0, 0, 0, 0, 0, 0, 0, Latency.of(new LoopStats(1).subscriberLagMillis), 0, 0);
        }

        /** Every subscriber streamed to the end without a lost or repeated event. */
        boolean complete() {
            return connected == requested && refused == 0 && disconnects == 0 && gaps == 0 && duplicateEvents == 0;
        }
    }

    double completedPerSecond() {
        return completed / measuredSeconds;
    }

    double committedPerSecond() {
        return committed / measuredSeconds;
    }

    /**
     * Every request due was sent and answered, on connections that stayed up, none with an
     * error and none as a duplicate of another (the generator sends each request id once); and
     * every subscriber streamed to the end without a gap; and something was measured.
     */
    boolean complete() {
        return commitsComplete() && subscribers.complete() && !emptyWindow();
    }

    private boolean commitsComplete() {
        return unanswered == 0 && unsent == 0 && connectionFailures == 0 && duplicates == 0 && errors == 0;
    }

    /** Commit connections ran, but no request was measured: there is nothing to report. */
    boolean emptyWindow() {
        return options.mode() != BenchOptions.Mode.IDLE && options.connections() > 0 && latencyMicros.count() == 0;
    }

    /** Failed preconditions per answered commit. */
    double conflictRate() {
        return completed == 0 ? 0 : (double) conflicts / completed;
    }

    String text() {
        BenchOptions o = options;
        StringBuilder s = new StringBuilder();
        if (o.mode() == BenchOptions.Mode.IDLE) { // no load, no warmup: only connections held
            s.append(String.format(Locale.ROOT, "%s: idle, target %s, %d connections%n",
                    o.label(), o.target().name().toLowerCase(Locale.ROOT), o.connections()));
            s.append(String.format(Locale.ROOT, "  held %d idle keep-alive connections for %.0f s; server RSS peak %s; load average %.2f -> %.2f%n",
                    idleConnectionsHeld, measuredSeconds, serverRssPeakBytes < 0 ? "n/a" : (serverRssPeakBytes >> 20) + " MiB",
                    loadAverageStart, loadAverageEnd));
            return s.toString();
        }
        s.append(String.format(Locale.ROOT, "%s: %s loop, target %s, workload %s, %d connections x depth %d%s, %.0f s measured after %d s warmup%n",
                o.label(), o.mode().name().toLowerCase(Locale.ROOT),
                o.target().name().toLowerCase(Locale.ROOT),
                o.workload().label(), o.connections(), o.depth(),
                o.mode() == BenchOptions.Mode.OPEN ? String.format(Locale.ROOT, ", %.0f txn/s offered", o.rate()) : "",
                measuredSeconds, o.warmupSeconds()));
        s.append(String.format(Locale.ROOT, "  throughput  %.0f answered/s, %.0f committed/s; conflicts %.2f%%, too_old %d, refused %d, duplicates %d, errors %d, unanswered %d, unsent %d, connection failures %d%s%n",
                completedPerSecond(), committedPerSecond(), 100 * conflictRate(), tooOld, refused, duplicates, errors, unanswered,
                unsent, connectionFailures, o.reconnect() ? ", reconnects " + reconnects : ""));
        Latency l = latencyMicros;
        s.append(String.format(Locale.ROOT, "  latency us  p50 %d  p90 %d  p99 %d  p99.9 %d  max %d  (mean %.0f, n %d: %d measured requests answered%s)%n",
                l.p50, l.p90, l.p99, l.p999, l.max, l.mean, l.count, measuredRequestsAnswered,
                unansweredInLatency > 0 ? ", " + unansweredInLatency + " given up" : ""));
        if (emptyWindow()) {
            s.append(String.format(Locale.ROOT, "  WARNING     incomplete run: no request in the measured window"
                    + " was answered with a success or a commit-protocol outcome%n"));
        }
        if (!commitsComplete()) { // (also with an empty window: every answer an error, say)
            s.append(String.format(Locale.ROOT, "  WARNING     incomplete run: %d requests never answered, %d never sent, %d connections failed,"
                    + " %d error answers, %d answered as duplicates; the latencies include the unanswered and unsent (%d)"
                    + " at what they had waited when the run gave up (a lower bound), no error answers%n",
                    unanswered, unsent, connectionFailures, errors, duplicates, unansweredInLatency));
        }
        s.append(String.format(Locale.ROOT, "  bytes       sent %.2f MB/s, received %.2f MB/s%n",
                requestBytes / measuredSeconds / 1e6, responseBytes / measuredSeconds / 1e6));
        if (subscribers.requested > 0) {
            Subscribers b = subscribers;
            Latency g = b.lagMillis;
            s.append(String.format(Locale.ROOT, "  subscribers %d of %d streaming: %.0f events/s (%.2f MB/s), lag ms p50 %d p99 %d max %d,"
                            + " max version lag at end %d%s; refused %d, disconnects %d, gaps %d, duplicate events %d%n",
                    b.connected, b.requested, b.events / measuredSeconds, b.bytes / measuredSeconds / 1e6,
                    g.p50, g.p99, g.max, b.maxVersionLag,
                    b.withoutEvents > 0 ? " (" + b.withoutEvents + " streams without an event left out)" : "",
                    b.refused, b.disconnects, b.gaps, b.duplicateEvents));
            if (!b.complete()) {
                s.append(String.format(Locale.ROOT, "  WARNING     incomplete run: %d of %d subscribers streamed, %d refused,"
                        + " %d disconnected, %d gaps, %d duplicate events%n",
                        b.connected, b.requested, b.refused, b.disconnects, b.gaps, b.duplicateEvents));
            }
        }
        s.append(String.format(Locale.ROOT, "  cpu         server %s, generator %.2f cores; server RSS peak %s; load average %.2f -> %.2f%n",
                serverCpuCores < 0 ? "n/a" : String.format(Locale.ROOT, "%.2f cores (%.2f system)%s", serverCpuCores,
                        serverSystemCpuCores,
                        committed > 0 ? String.format(Locale.ROOT, " (%.1f us/commit)", serverCpuCores * 1e6 / committedPerSecond()) : ""),
                generatorCpuCores,
                serverRssPeakBytes < 0 ? "n/a" : (serverRssPeakBytes >> 20) + " MiB",
                loadAverageStart, loadAverageEnd));
        return s.toString();
    }

    /** Writes the JSON file; fails with a message naming the file (and the directory, if that is what is missing). */
    void writeJson(Path file) throws IOException {
        Path dir = file.toAbsolutePath().getParent();
        if (dir != null && !Files.isDirectory(dir)) {
            throw new IOException("cannot write " + file + ": no directory " + dir);
        }
        try {
            writeJsonTo(file);
        } catch (IOException e) {
            throw new IOException("cannot write " + file + ": " + e, e);
        }
    }

    private void writeJsonTo(Path file) throws IOException {
        try (OutputStream out = Files.newOutputStream(file);
             JsonGenerator g = new JsonFactory().createGenerator(out, JsonEncoding.UTF8)) {
            g.useDefaultPrettyPrinter();
            BenchOptions o = options;
            g.writeStartObject();
            g.writeStringField("label", o.label());
            g.writeObjectFieldStart("options");
            g.writeStringField("target", o.target().name().toLowerCase(Locale.ROOT));
            g.writeStringField("host", o.host());
            g.writeNumberField("port", o.port());
            g.writeStringField("mode", o.mode().name().toLowerCase(Locale.ROOT));
            g.writeStringField("workload", o.workload().label());
            g.writeNumberField("connections", o.connections());
            g.writeNumberField("depth", o.depth());
            g.writeNumberField("threads", o.threads());
            g.writeNumberField("rate", o.rate());
            g.writeNumberField("warmup_seconds", o.warmupSeconds());
            g.writeNumberField("duration_seconds", o.durationSeconds());
            g.writeNumberField("drain_seconds", o.drainSeconds());
            g.writeNumberField("count", o.countLimit());
            g.writeNumberField("keys", o.keys());
            g.writeNumberField("key_bytes", o.keyBytes());
            g.writeNumberField("value_bytes", o.valueBytes());
            g.writeNumberField("ops_per_txn", o.opsPerTxn());
            g.writeNumberField("range_keys", o.rangeKeys());
            g.writeNumberField("read_version_lag", o.readVersionLag());
            g.writeBooleanField("request_ids", o.requestIds());
            g.writeBooleanField("reconnect", o.reconnect());
            g.writeNumberField("subscribers", o.subscribers());
            g.writeNumberField("subscriber_threads", o.subscriberThreads());
            g.writeBooleanField("durable", o.subscribersDurable());
            g.writeNumberField("server_pid", o.serverPid());
            g.writeNumberField("seed", o.seed());
            g.writeEndObject();
            g.writeNumberField("measured_seconds", measuredSeconds);
            g.writeNumberField("sent", sent);
            g.writeNumberField("completed", completed);
            g.writeNumberField("measured_requests_answered", measuredRequestsAnswered);
            g.writeNumberField("committed", committed);
            g.writeNumberField("duplicates", duplicates);
            g.writeNumberField("conflicts", conflicts);
            g.writeNumberField("too_old", tooOld);
            g.writeNumberField("refused", refused);
            g.writeNumberField("errors", errors);
            g.writeNumberField("unanswered", unanswered);
            g.writeNumberField("unsent", unsent);
            g.writeNumberField("connection_failures", connectionFailures);
            g.writeNumberField("reconnects", reconnects);
            g.writeBooleanField("complete", complete());
            g.writeNumberField("completed_per_second", completedPerSecond());
            g.writeNumberField("committed_per_second", committedPerSecond());
            g.writeNumberField("conflict_rate", conflictRate());
            writeLatency(g, "latency_us", latencyMicros);
            g.writeNumberField("unanswered_in_latency", unansweredInLatency);
            g.writeNumberField("request_bytes", requestBytes);
            g.writeNumberField("response_bytes", responseBytes);
            g.writeArrayFieldStart("completed_each_second");
            for (long c : completedEachSecond) {
                g.writeNumber(c);
            }
            g.writeEndArray();
            g.writeObjectFieldStart("subscribers");
            g.writeNumberField("requested", subscribers.requested);
            g.writeNumberField("connected", subscribers.connected);
            g.writeNumberField("refused", subscribers.refused);
            g.writeNumberField("events", subscribers.events);
            g.writeNumberField("bytes", subscribers.bytes);
            g.writeNumberField("disconnects", subscribers.disconnects);
            g.writeNumberField("gaps", subscribers.gaps);
            g.writeNumberField("duplicate_events", subscribers.duplicateEvents);
            g.writeNumberField("max_version_lag", subscribers.maxVersionLag);
            g.writeNumberField("without_events", subscribers.withoutEvents);
            writeLatency(g, "lag_ms", subscribers.lagMillis);
            g.writeEndObject();
            g.writeNumberField("server_cpu_cores", serverCpuCores);
            g.writeNumberField("server_system_cpu_cores", serverSystemCpuCores);
            g.writeNumberField("server_rss_peak_bytes", serverRssPeakBytes);
            g.writeNumberField("generator_cpu_cores", generatorCpuCores);
            g.writeNumberField("load_average_start", loadAverageStart);
            g.writeNumberField("load_average_end", loadAverageEnd);
            g.writeNumberField("idle_connections_held", idleConnectionsHeld);
            g.writeEndObject();
        }
    }

    private static void writeLatency(JsonGenerator g, String name, Latency l) throws IOException {
        g.writeObjectFieldStart(name);
        g.writeNumberField("count", l.count);
        g.writeNumberField("mean", l.mean);
        g.writeNumberField("p50", l.p50);
        g.writeNumberField("p90", l.p90);
        g.writeNumberField("p99", l.p99);
        g.writeNumberField("p99_9", l.p999);
        g.writeNumberField("max", l.max);
        g.writeEndObject();
    }
}
