package io.weaseldb.http;

import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

/** Trailers are dropped, but a trailer Netty's own table would refuse still fails its request. */
class SmallHeadersTest {
    @Test
    void aTrailerThatMayNotBeSentOrIsMalformedIsRefusedAndAGoodOneDropped() {
        SmallHeaders.DroppedTrailers t = SmallHeaders.DroppedTrailers.INSTANCE;
        t.add("X-Checksum", "abc");
        assertTrue(t.isEmpty(), "dropped");
        // framing fields in a trailer could change how the body is read (RFC 9110 6.5.1)
        assertThrows(IllegalArgumentException.class, () -> t.add("Content-Length", "5"));
        assertThrows(IllegalArgumentException.class, () -> t.add("Transfer-Encoding", "chunked"));
        assertThrows(IllegalArgumentException.class, () -> t.add("bad name", "x"));
        assertThrows(IllegalArgumentException.class, () -> t.add("X-Checksum", "a\r\nInjected: 1"));
    }
}
