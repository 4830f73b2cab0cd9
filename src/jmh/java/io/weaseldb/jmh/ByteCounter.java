package io.weaseldb.jmh;

import org.openjdk.jmh.annotations.AuxCounters;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;

/** Bytes a benchmark processed (its input or output), reported by JMH per second next to ops/s. */
@AuxCounters(AuxCounters.Type.OPERATIONS)
@State(Scope.Thread)
public class ByteCounter {
    public long bytes;

    @Setup(Level.Iteration)
    public void clear() {
        bytes = 0;
    }
}
