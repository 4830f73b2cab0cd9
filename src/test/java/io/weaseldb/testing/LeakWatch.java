package io.weaseldb.testing;

import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import java.util.List;
import org.slf4j.LoggerFactory;

/**
 * Turns Netty's leak reports (the detector runs paranoid in tests) into test failures: attach
 * before the traffic, then {@link #assertNoLeaks} after garbage collection and a little more
 * traffic (reports are emitted when new buffers are tracked after the leaked ones are collected).
 */
public final class LeakWatch implements AutoCloseable {
    private final Logger detector = (Logger) LoggerFactory.getLogger("io.netty.util.ResourceLeakDetector");
    private final ListAppender<ILoggingEvent> events = new ListAppender<>();

    public LeakWatch() {
        events.start();
        detector.addAppender(events);
    }

    public void assertNoLeaks(ThrowingRunnable moreTraffic) throws Exception {
        for (int i = 0; i < 3; i++) {
            System.gc();
            moreTraffic.run();
        }
        List<String> leaks = events.list.stream().map(ILoggingEvent::getFormattedMessage)
                .filter(m -> m.contains("LEAK")).toList();
        if (!leaks.isEmpty()) {
            throw new AssertionError("ByteBuf leaks:\n" + String.join("\n\n", leaks));
        }
    }

    @FunctionalInterface
    public interface ThrowingRunnable {
        void run() throws Exception;
    }

    @Override
    public void close() {
        detector.detachAppender(events);
    }
}
