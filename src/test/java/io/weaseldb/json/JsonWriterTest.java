package io.weaseldb.json;

import static org.junit.jupiter.api.Assertions.assertEquals;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import io.netty.buffer.PooledByteBufAllocator;
import io.netty.buffer.Unpooled;
import java.nio.charset.StandardCharsets;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

class JsonWriterTest {
    private static final JsonFactory JSON = new JsonFactory();
    /** Unpooled, pooled (heap arrays shared at an offset) and the server's default (adaptive). */
    private static final ByteBufAllocator[] ALLOCATORS = {Unpooled.buffer().alloc(), PooledByteBufAllocator.DEFAULT,
        ByteBufAllocator.DEFAULT};

    /** What a JSON parser reads back from {@code bytes}, which must hold one object {"s": "..."}. */
    private static String readBack(byte[] bytes) throws Exception {
        try (JsonParser p = JSON.createParser(bytes)) {
            assertEquals(JsonToken.START_OBJECT, p.nextToken());
            assertEquals(JsonToken.FIELD_NAME, p.nextToken());
            assertEquals("s", p.currentName());
            assertEquals(JsonToken.VALUE_STRING, p.nextToken());
            String s = p.getText();
            assertEquals(JsonToken.END_OBJECT, p.nextToken());
            return s;
        }
    }

    private static byte[] write(ByteBufAllocator alloc, boolean direct, String s) {
        ByteBuf buf = direct ? alloc.directBuffer(4) : alloc.heapBuffer(4);
        try {
            new JsonWriter(buf).beginObject().field("s", s).endObject();
            byte[] out = new byte[buf.readableBytes()];
            buf.readBytes(out);
            return out;
        } finally {
            buf.release();
        }
    }

    @Test
    void stringsRoundTripThroughAJsonParserOnHeapAndDirectBuffers() throws Exception {
        String[] fixed = {"", "plain-ascii_0123", "quote\"in", "back\\slash", "tab\tnew\nline\rcr", "\u0000\u001f\u007f",
            "Lé", "é at start", "ends in é", "\u20ac\ud83d\ude00 emoji", "mixed \"é\\\u0001"};
        SplittableRandom random = new SplittableRandom(7);
        for (int round = 0; round < 2000; round++) {
            String s;
            if (round < fixed.length) {
                s = fixed[round];
            } else {
                StringBuilder b = new StringBuilder();
                int len = random.nextInt(0, 40);
                for (int i = 0; i < len; i++) {
                    int kind = random.nextInt(10);
                    if (kind < 6) {
                        b.append((char) random.nextInt(0x20, 0x7f));
                    } else if (kind < 7) {
                        b.append((char) random.nextInt(0, 0x20));
                    } else if (kind < 8) {
                        b.append(random.nextBoolean() ? '"' : '\\');
                    } else if (kind < 9) {
                        b.append((char) random.nextInt(0x80, 0xd800));
                    } else {
                        b.appendCodePoint(random.nextInt(0x10000, 0x110000));
                    }
                }
                s = b.toString();
            }
            for (ByteBufAllocator alloc : ALLOCATORS) {
                for (boolean direct : new boolean[] {false, true}) {
                    byte[] bytes = write(alloc, direct, s);
                    assertEquals(s, readBack(bytes), "round " + round);
                    // RFC 8259: control characters must be escaped, so none appear raw
                    for (byte x : bytes) {
                        assertEquals(false, x >= 0 && x < 0x20, "raw control byte in " + new String(bytes, StandardCharsets.UTF_8));
                    }
                }
            }
        }
    }

    @Test
    void longsRoundTripOnHeapAndDirectBuffers() throws Exception {
        SplittableRandom random = new SplittableRandom(11);
        long[] values = new long[300];
        long[] fixed = {0, 1, 9, 10, 99, 100, -1, -9, -10, 1_000_000_007L, Long.MAX_VALUE, Long.MIN_VALUE, Long.MIN_VALUE + 1};
        for (int i = 0; i < values.length; i++) {
            values[i] = i < fixed.length ? fixed[i] : random.nextLong() >> random.nextInt(64);
        }
        for (ByteBufAllocator alloc : ALLOCATORS) {
            for (boolean direct : new boolean[] {false, true}) {
                ByteBuf buf = direct ? alloc.directBuffer(4) : alloc.heapBuffer(4);
                try {
                    JsonWriter w = new JsonWriter(buf).beginObject().beginArray("a");
                    for (long v : values) {
                        w.element(v);
                    }
                    w.endArray().field("s", "end").endObject();
                    byte[] bytes = new byte[buf.readableBytes()];
                    buf.readBytes(bytes);
                    try (JsonParser p = JSON.createParser(bytes)) {
                        assertEquals(JsonToken.START_OBJECT, p.nextToken());
                        assertEquals(JsonToken.FIELD_NAME, p.nextToken());
                        assertEquals(JsonToken.START_ARRAY, p.nextToken());
                        for (long v : values) {
                            assertEquals(JsonToken.VALUE_NUMBER_INT, p.nextToken());
                            assertEquals(v, p.getLongValue(), new String(bytes, StandardCharsets.US_ASCII));
                        }
                        assertEquals(JsonToken.END_ARRAY, p.nextToken());
                        assertEquals(JsonToken.FIELD_NAME, p.nextToken());
                        assertEquals(JsonToken.VALUE_STRING, p.nextToken());
                        assertEquals("end", p.getText());
                        assertEquals(JsonToken.END_OBJECT, p.nextToken());
                    }
                } finally {
                    buf.release();
                }
            }
        }
    }
    /**
     * The exact text of a document using every kind of field, written by chaining calls, on heap
     * (pooled ones at an array offset) and direct buffers; a writer reset for a second document
     * starts it afresh. Zero is "0": "-0" is a float in some clients' eyes (Go's uint64 refuses it).
     */
    @Test
    void writesEveryKindOfFieldAsExactJson() {
        String expected = "{\"zero\":0,\"neg\":-5,\"none\":null,\"yes\":true,\"no\":false,\"k\":\"AAH/\",\"k1\":\"AQ==\","
                + "\"empty\":\"\",\"xs\":[{\"v\":0},{},0,10,-1]}";
        for (ByteBufAllocator alloc : ALLOCATORS) {
            for (boolean direct : new boolean[] {false, true}) {
                ByteBuf buf = direct ? alloc.directBuffer(4) : alloc.heapBuffer(4);
                ByteBuf second = direct ? alloc.directBuffer(4) : alloc.heapBuffer(4);
                try {
                    buf.writeByte('#'); // the writer appends after what is there
                    JsonWriter w = new JsonWriter(buf).beginObject().field("zero", 0L).field("neg", -5L)
                            .field("none", (String) null).field("yes", true).field("no", false)
                            .fieldBase64("k", new byte[] {0, 1, (byte) 0xFF}).fieldBase64("k1", new byte[] {1})
                            .fieldBase64("empty", new byte[0])
                            .beginArray("xs").beginElementObject().field("v", 0L).endObject().beginElementObject().endObject()
                            .element(0).element(10).element(-1).endArray().endObject();
                    assertEquals("#" + expected, buf.toString(StandardCharsets.UTF_8), alloc + (direct ? " direct" : " heap"));
                    org.junit.jupiter.api.Assertions.assertSame(buf, w.buffer());
                    w.reset(second).beginObject().field("a", 1L).endObject();
                    assertEquals("{\"a\":1}", second.toString(StandardCharsets.UTF_8), "a reset writer starts a new document");
                } finally {
                    buf.release();
                    second.release();
                }
            }
        }
    }
}
