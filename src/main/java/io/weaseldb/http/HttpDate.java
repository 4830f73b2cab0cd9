package io.weaseldb.http;

import io.netty.buffer.ByteBuf;
import io.netty.handler.codec.DateFormatter;
import io.netty.util.AsciiString;
import java.nio.charset.StandardCharsets;

/**
 * The {@code Date} header every answer carries (RFC 9110 6.6.1: an origin server with a clock
 * sends it on 2xx, 3xx and 4xx answers; we send it on all), in the IMF-fixdate form
 * ({@code Sun, 06 Nov 1994 08:49:37 GMT}). Made once a second and shared by every event loop:
 * an answer copies bytes, it formats nothing.
 */
final class HttpDate {
    private HttpDate() {}

    /** The value and the whole header line of one second. */
    private record Second(long epochSecond, AsciiString value, byte[] line) {}

    private static volatile Second current = make(System.currentTimeMillis() / 1000);

    private static Second make(long epochSecond) {
        String value = DateFormatter.format(new java.util.Date(epochSecond * 1000));
        return new Second(epochSecond, AsciiString.cached(value),
                ("date: " + value + "\r\n").getBytes(StandardCharsets.US_ASCII));
    }

    private static Second now() {
        long second = System.currentTimeMillis() / 1000;
        Second s = current;
        if (s.epochSecond() != second) {
            s = make(second); // racing event loops each make one; any of them is right
            current = s;
        }
        return s;
    }

    /** The header's value now. */
    static AsciiString value() {
        return now().value();
    }

    /** Writes {@code date: <now>\r\n}. */
    static void writeLine(ByteBuf out) {
        out.writeBytes(now().line());
    }
}
