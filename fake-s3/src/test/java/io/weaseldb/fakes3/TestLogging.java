package io.weaseldb.fakes3;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.Logger;
import org.slf4j.LoggerFactory;

/**
 * Without a logback-test.xml everything logs at DEBUG, and the SDK's and Netty's wire dumps of
 * every request swamp the surefire output (and slow the tests down). Quiet just those loggers.
 */
final class TestLogging {
    private TestLogging() {}

    static void quietLibraries() {
        for (String name : new String[] {"software.amazon.awssdk", "io.netty"}) {
            if (LoggerFactory.getLogger(name) instanceof Logger logger && logger.getLevel() == null) {
                logger.setLevel(Level.INFO);
            }
        }
    }
}
