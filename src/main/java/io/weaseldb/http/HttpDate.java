package io.weaseldb.http;

import io.netty.buffer.ByteBuf;
import io.netty.handler.codec.DateFormatter;
import io.netty.util.AsciiString;
import java.nio.charset.StandardCharsets;
import java.util.function.LongSupplier;

/**
 * The {@code Date} header every answer carries (RFC 9110 6.6.1: an origin server with a clock
 * sends it on 2xx, 3xx and 4xx answers; we send it on all), in the IMF-fixdate form
 * ({@code Sun, 06 Nov 1994 08:49:37 GMT}), stamped when the answer is written. Made once a second
 * and shared by a server's event loops: an answer copies bytes, it formats nothing.
 */
final class HttpDate {
    /** The value and the whole header line of one second. */
    private record Second(long epochSecond, AsciiString value, byte[] line) {}

    private final LongSupplier epochMillis;
    private volatile Second current;

    /** @param epochMillis wall-clock time */
    HttpDate(LongSupplier epochMillis) {
        this.epochMillis = epochMillis;
        this.current = make(Math.floorDiv(epochMillis.getAsLong(), 1000));
    }

    private static Second make(long epochSecond) {
        String value = DateFormatter.format(new java.util.Date(epochSecond * 1000));
        return new Second(epochSecond, AsciiString.cached(value),
                ("date: " + value + "\r\n").getBytes(StandardCharsets.US_ASCII));
    }

    private Second now() {
        long second = Math.floorDiv(epochMillis.getAsLong(), 1000);
        Second s = current;
        if (s.epochSecond() != second) {
            s = make(second);
            // Event loops racing at a second's turn each make one; only a newer second replaces
            // the cached one, so a loop that read the clock just before the turn does not put the
            // old second back for everyone.
            if (second > current.epochSecond()) {
                current = s;
            }
        }
        return s;
    }

    /** The header's value now. */
    AsciiString value() {
        return now().value();
    }

    /** Writes {@code date: <now>\r\n}. */
    void writeLine(ByteBuf out) {
        out.writeBytes(now().line());
    }
}
