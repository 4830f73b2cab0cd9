package io.weaseldb.conflict;

import java.lang.management.ManagementFactory;
import java.lang.management.ThreadInfo;
import java.lang.management.ThreadMXBean;
import java.util.List;
import org.openjdk.jmh.infra.BenchmarkParams;
import org.openjdk.jmh.infra.IterationParams;
import org.openjdk.jmh.profile.InternalProfiler;
import org.openjdk.jmh.results.AggregationPolicy;
import org.openjdk.jmh.results.IterationResult;
import org.openjdk.jmh.results.ScalarResult;

/**
 * CPU time per operation, for comparing implementations on a machine shared with other
 * builds: wall-clock throughput there mostly measures the share of the CPU the fork got, but
 * CPU time per operation does not (cache interference from the neighbours remains).
 *
 * <p>Reports {@code cpu.process} (all threads of the fork: the benchmark thread plus GC, so
 * allocation-heavy code pays for its collections) and {@code cpu.worker} (JMH worker threads
 * only), both in ns/op. Use with {@code -prof io.weaseldb.conflict.CpuTimeProfiler}.
 */
public final class CpuTimeProfiler implements InternalProfiler {

    private final com.sun.management.OperatingSystemMXBean os =
            (com.sun.management.OperatingSystemMXBean) ManagementFactory.getOperatingSystemMXBean();
    private final ThreadMXBean threads = ManagementFactory.getThreadMXBean();
    private long processCpuNanosBefore;
    private long workerCpuNanosBefore;

    @Override
    public String getDescription() {
        return "CPU time per operation (process and JMH worker threads)";
    }

    @Override
    public void beforeIteration(BenchmarkParams benchmarkParams, IterationParams iterationParams) {
        processCpuNanosBefore = os.getProcessCpuTime();
        workerCpuNanosBefore = workerCpuNanos();
    }

    @Override
    public List<ScalarResult> afterIteration(BenchmarkParams benchmarkParams, IterationParams iterationParams,
                                       IterationResult result) {
        long processCpuNanos = os.getProcessCpuTime() - processCpuNanosBefore;
        long workerCpuNanos = workerCpuNanos() - workerCpuNanosBefore;
        long ops = Math.max(1, result.getMetadata().getMeasuredOps());
        return List.of(
                new ScalarResult("cpu.process", (double) processCpuNanos / ops, "ns/op", AggregationPolicy.AVG),
                new ScalarResult("cpu.worker", (double) workerCpuNanos / ops, "ns/op", AggregationPolicy.AVG));
    }

    /** CPU time of the JMH worker threads (workers persist across iterations of a fork). */
    private long workerCpuNanos() {
        long total = 0;
        for (ThreadInfo info : threads.getThreadInfo(threads.getAllThreadIds())) {
            if (info != null && info.getThreadName().contains("jmh-worker")) {
                long cpu = threads.getThreadCpuTime(info.getThreadId());
                if (cpu > 0) {
                    total += cpu;
                }
            }
        }
        return total;
    }
}
