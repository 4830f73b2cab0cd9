package io.weaseldb.http;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.netty.handler.codec.http.DefaultHttpHeaders;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaderValues;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.util.AsciiString;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/**
 * A {@link FlatHeaders} table reads as Netty's {@link DefaultHttpHeaders} holding the same fields
 * reads, for every read the server and Netty's {@code HttpUtil} make: first value, all values,
 * presence, whole-value and comma-separated element matches in either case, numbers, and order.
 */
class FlatHeadersTest {
    private static final String[] NAMES = {"Host", "host", "Connection", "connection", "Expect", "Content-Length",
        "Authorization", "X-Many", "x-many", "Last-Event-ID"};
    private static final String[] VALUES = {"close", "Close", "keep-alive", "Keep-Alive, Upgrade", " upgrade ,close",
        "100-continue", "100-Continue", "42", "-7", "x", "", "a,,b", "Bearer t", "closer", ",close,", "close,"};
    private static final CharSequence[] ASKED = {HttpHeaderNames.CONNECTION, HttpHeaderNames.HOST, HttpHeaderNames.EXPECT,
        HttpHeaderNames.CONTENT_LENGTH, "X-MANY", "last-event-id", HttpHeaderNames.TRANSFER_ENCODING, "Absent"};
    private static final CharSequence[] ASKED_VALUES = {HttpHeaderValues.CLOSE, HttpHeaderValues.KEEP_ALIVE,
        HttpHeaderValues.CONTINUE, HttpHeaderValues.UPGRADE, "42", "x", "", "a", "b"};

    @Test
    void readsAsNettysTableHoldingTheSameFields() {
        for (int seed = 0; seed < 500; seed++) {
            SplittableRandom random = new SplittableRandom(seed);
            FlatHeaders flat = new FlatHeaders(2); // grows past its first capacity
            HttpHeaders netty = new DefaultHttpHeaders();
            int n = random.nextInt(8);
            for (int i = 0; i < n; i++) {
                String name = NAMES[random.nextInt(NAMES.length)];
                String value = VALUES[random.nextInt(VALUES.length)].strip();
                flat.append(new AsciiString(name), value);
                netty.add(name, value);
            }
            String at = "seed " + seed + ": " + netty;
            assertEquals(netty.size(), flat.size(), at);
            assertEquals(netty.isEmpty(), flat.isEmpty(), at);
            assertEquals(entries(netty), entries(flat), at);
            assertEquals(List.copyOf(netty.names()), List.copyOf(flat.names()), at);
            for (CharSequence name : ASKED) {
                assertEquals(netty.get(name), flat.get(name), at + " get " + name);
                assertEquals(netty.get(name.toString()), flat.get(name.toString()), at);
                assertEquals(netty.getAll(name), flat.getAll(name), at + " getAll " + name);
                assertEquals(netty.contains(name), flat.contains(name), at);
                assertEquals(netty.getInt(name), flat.getInt(name), at + " getInt " + name);
                for (CharSequence value : ASKED_VALUES) {
                    for (boolean ignoreCase : new boolean[] {true, false}) {
                        String what = at + " " + name + " " + value + " " + ignoreCase;
                        assertEquals(netty.contains(name, value, ignoreCase), flat.contains(name, value, ignoreCase), what);
                        assertEquals(netty.containsValue(name, value, ignoreCase), flat.containsValue(name, value, ignoreCase),
                                "containsValue " + what);
                    }
                }
            }
        }
    }

    @Test
    void changesAreValidatedAsNettysRequestTablesValidateThem() {
        FlatHeaders flat = new FlatHeaders(4);
        assertThrows(IllegalArgumentException.class, () -> flat.add("Bad Name", "v"));
        assertThrows(IllegalArgumentException.class, () -> flat.add("X", "a\r\nInjected: 1"));
        assertThrows(NullPointerException.class, () -> flat.add("X", null));
        flat.add("X-A", "1").add("x-a", "2").add("X-B", 3);
        assertEquals(List.of("1", "2"), flat.getAll("X-A"));
        assertThrows(IllegalArgumentException.class, () -> flat.set("X-A", "bad\nvalue"));
        assertEquals(List.of("1", "2"), flat.getAll("X-A"), "a refused value leaves the fields as they were");
        flat.set("X-A", "9");
        assertEquals(List.of("9"), flat.getAll("x-a"));
        java.util.Date when = new java.util.Date(784111777000L);
        flat.add("Date", when);
        assertEquals(new DefaultHttpHeaders().add("Date", when).get("Date"), flat.get("Date"), "a date in HTTP form");
        flat.remove("Date");
        assertEquals(List.of("X-B", "X-A"), entries(flat).stream().map(Map.Entry::getKey).toList(), "set appends after the rest");
        flat.remove("X-B");
        assertEquals(1, flat.size());
        flat.clear();
        assertTrue(flat.isEmpty());
        assertEquals(null, flat.get("X-A"));
    }

    private static List<Map.Entry<String, String>> entries(HttpHeaders h) {
        return h.entries().stream().map(e -> Map.entry(e.getKey(), e.getValue())).toList();
    }

    /** containsValue's elements are Netty's comma-separated, trimmed ones: nothing after a last comma is one. */
    @Test
    void nothingAfterALastCommaIsAnElement() {
        FlatHeaders flat = new FlatHeaders(4);
        io.netty.handler.codec.http.HttpHeaders nettys = new io.netty.handler.codec.http.DefaultHttpHeaders();
        for (String value : new String[] {"a,", "a, ", "a,,b", ""}) {
            flat.clear();
            nettys.clear();
            flat.add("X", value);
            nettys.add("X", value);
            assertEquals(nettys.containsValue("X", "", true), flat.containsValue("X", "", true), "[" + value + "]");
        }
    }
}
