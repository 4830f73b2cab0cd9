package io.weaseldb.bench;

import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Reads a process's CPU time and resident memory from {@code /proc} (Linux), and this JVM's own
 * CPU time, so a run can say how many cores the server and the generator used: on a 2-core
 * machine shared by both, that is what explains most numbers.
 *
 * <p>Stateless and thread-safe; returns -1 where the information is unavailable.
 */
final class ProcessSampler {
    private ProcessSampler() {}

    /** Clock ticks per second for /proc/PID/stat times; 100 on every Linux we run on. */
    static final long TICKS_PER_SECOND = 100;

    /** User + system CPU time of process {@code pid} in nanoseconds. */
    static long cpuNanos(long pid) {
        return cpuNanos(pid, true);
    }

    /** System (kernel) CPU time of process {@code pid} in nanoseconds: syscalls, fsync, TCP. */
    static long systemCpuNanos(long pid) {
        return cpuNanos(pid, false);
    }

    private static long cpuNanos(long pid, boolean userToo) {
        try {
            String stat = Files.readString(Path.of("/proc/" + pid + "/stat"));
            // fields after the parenthesised command name, which may contain spaces
            String[] f = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
            long ticks = (userToo ? Long.parseLong(f[11]) : 0) + Long.parseLong(f[12]); // utime, stime (fields 14, 15)
            return ticks * (1_000_000_000L / TICKS_PER_SECOND);
        } catch (IOException | RuntimeException e) {
            return -1;
        }
    }

    /** Resident set size of process {@code pid} in bytes. */
    static long rssBytes(long pid) {
        return statusKiB(pid, "VmRSS:") * 1024;
    }

    private static long statusKiB(long pid, String field) {
        try {
            for (String line : Files.readAllLines(Path.of("/proc/" + pid + "/status"))) {
                if (line.startsWith(field)) {
                    return Long.parseLong(line.substring(field.length()).trim().split("\\s+")[0]);
                }
            }
        } catch (IOException | RuntimeException e) {
            // fall through
        }
        return -1;
    }

    /** This JVM's CPU time in nanoseconds. */
    static long ownCpuNanos() {
        if (ManagementFactory.getOperatingSystemMXBean() instanceof com.sun.management.OperatingSystemMXBean os) {
            return os.getProcessCpuTime();
        }
        return -1;
    }

    /** The 1-minute load average. */
    static double loadAverage() {
        try {
            return Double.parseDouble(Files.readString(Path.of("/proc/loadavg")).split(" ")[0]);
        } catch (IOException | RuntimeException e) {
            return ManagementFactory.getOperatingSystemMXBean().getSystemLoadAverage();
        }
    }
}
