package io.weaseldb.json;

import io.netty.buffer.ByteBuf;
import java.nio.charset.StandardCharsets;

/**
 * Writes small JSON documents straight into a Netty buffer: no intermediate String, no
 * databind. Field names are trusted ASCII constants; string values are escaped. The caller owns
 * the buffer. Not thread-safe; one document at a time ({@link #reset} starts the next).
 */
public final class JsonWriter {
    private static final byte[] HEX = "0123456789abcdef".getBytes(StandardCharsets.US_ASCII);
    private ByteBuf out;
    private boolean first = true;

    public JsonWriter(ByteBuf out) {
        this.out = out;
    }

    /**
     * This writer, from now on writing a new document into {@code out} (null: into nothing, so as
     * not to keep the last buffer). For a writer kept by a thread, used for one document at a time.
     */
    public JsonWriter reset(ByteBuf out) {
        this.out = out;
        this.first = true;
        return this;
    }

    public ByteBuf buffer() {
        return out;
    }

    public JsonWriter beginObject() {
        out.writeByte('{');
        first = true;
        return this;
    }

    public JsonWriter endObject() {
        out.writeByte('}');
        first = false;
        return this;
    }

    public JsonWriter beginArray(String name) {
        name(name);
        out.writeByte('[');
        first = true;
        return this;
    }

    public JsonWriter endArray() {
        out.writeByte(']');
        first = false;
        return this;
    }

    /** Starts an object as an array element. */
    public JsonWriter beginElementObject() {
        comma();
        return beginObject();
    }

    public JsonWriter element(long v) {
        comma();
        writeLong(out, v);
        return this;
    }

    public JsonWriter field(String name, String value) {
        name(name);
        if (value == null) {
            out.writeBytes(NULL);
        } else {
            writeString(out, value);
        }
        return this;
    }

    public JsonWriter field(String name, long value) {
        name(name);
        writeLong(out, value);
        return this;
    }

    public JsonWriter field(String name, boolean value) {
        name(name);
        out.writeBytes(value ? TRUE : FALSE);
        return this;
    }

    /** {@code "name":} followed by base64 of {@code bytes} in quotes. */
    public JsonWriter fieldBase64(String name, byte[] bytes) {
        name(name);
        out.writeByte('"');
        int n = Base64Codec.encodedLength(bytes.length);
        out.ensureWritable(n + 1);
        if (out.hasArray()) {
            int idx = out.arrayOffset() + out.writerIndex();
            Base64Codec.encode(bytes, out.array(), idx);
            out.writerIndex(out.writerIndex() + n);
        } else {
            byte[] tmp = new byte[n];
            Base64Codec.encode(bytes, tmp, 0);
            out.writeBytes(tmp);
        }
        out.writeByte('"');
        return this;
    }

    private static final byte[] NULL = "null".getBytes(StandardCharsets.US_ASCII);
    private static final byte[] TRUE = "true".getBytes(StandardCharsets.US_ASCII);
    private static final byte[] FALSE = "false".getBytes(StandardCharsets.US_ASCII);

    private void comma() {
        if (!first) {
            out.writeByte(',');
        }
        first = false;
    }

    private void name(String name) {
        comma();
        writeString(out, name); // names are printable ASCII constants: the one-pass copy
        out.writeByte(':');
    }

    /**
     * Writes a JSON string literal (with quotes), escaping as RFC 8259 requires. Printable ASCII,
     * which request ids, leader ids and names are, is copied in one pass; the first other
     * character hands the rest to {@link #writeEscaped}. (Netty's {@code writeCharSequence} on a
     * pooled direct buffer allocates a {@code ByteBuffer} view per call.)
     *
     * <p>On a heap buffer the pass stores into its array. A direct buffer costs a bounds check and,
     * with Netty 4.2 on JDK 25 (no {@code sun.misc.Unsafe}), a memory-session check per byte
     * stored, so every body the server writes this way is a heap buffer ({@code Responses},
     * {@code ConnectionHandler}, {@code SseEncoder}, {@code PolicyCodec}); the per-byte path keeps
     * direct buffers correct, not fast.
     */
    public static void writeString(ByteBuf out, String s) {
        int n = s.length();
        out.ensureWritable(n + 2);
        int w = out.writerIndex();
        if (out.hasArray()) {
            byte[] a = out.array();
            int base = out.arrayOffset() + w;
            a[base] = '"';
            for (int i = 0; i < n; i++) {
                char c = s.charAt(i);
                if (c < 0x20 || c >= 0x7f || c == '"' || c == '\\') {
                    out.writerIndex(w + 1 + i);
                    writeEscaped(out, s, i);
                    return;
                }
                a[base + 1 + i] = (byte) c;
            }
            a[base + 1 + n] = '"';
            out.writerIndex(w + n + 2);
            return;
        }
        out.setByte(w++, '"');
        for (int i = 0; i < n; i++) {
            char c = s.charAt(i);
            if (c < 0x20 || c >= 0x7f || c == '"' || c == '\\') {
                out.writerIndex(w);
                writeEscaped(out, s, i);
                return;
            }
            out.setByte(w++, c);
        }
        out.setByte(w++, '"');
        out.writerIndex(w);
    }

    /** The rest of {@code s} from {@code from}, escaped and UTF-8 encoded, then the closing quote. */
    private static void writeEscaped(ByteBuf out, String s, int from) {
        int start = from;
        int n = s.length();
        for (int i = from; i < n; i++) {
            char c = s.charAt(i);
            if (c < 0x20 || c == '"' || c == '\\') {
                if (i > start) {
                    out.writeCharSequence(s.subSequence(start, i), StandardCharsets.UTF_8);
                }
                out.writeByte('\\');
                switch (c) {
                    case '"' -> out.writeByte('"');
                    case '\\' -> out.writeByte('\\');
                    case '\n' -> out.writeByte('n');
                    case '\r' -> out.writeByte('r');
                    case '\t' -> out.writeByte('t');
                    default -> {
                        out.writeByte('u');
                        out.writeByte('0');
                        out.writeByte('0');
                        out.writeByte(HEX[c >> 4]);
                        out.writeByte(HEX[c & 0xf]);
                    }
                }
                start = i + 1;
            }
        }
        if (start < n) {
            out.writeCharSequence(s.subSequence(start, n), StandardCharsets.UTF_8);
        }
        out.writeByte('"');
    }

    /** Writes a decimal long without allocating. */
    public static void writeLong(ByteBuf out, long v) {
        if (v == Long.MIN_VALUE) {
            out.writeCharSequence("-9223372036854775808", StandardCharsets.US_ASCII);
            return;
        }
        if (v < 0) {
            out.writeByte('-');
            v = -v;
        }
        if (v < 10) {
            out.writeByte('0' + (int) v);
            return;
        }
        int digits = 1;
        for (long x = v / 10; x > 0; x /= 10) {
            digits++;
        }
        out.ensureWritable(digits);
        int end = out.writerIndex() + digits;
        if (out.hasArray()) {
            byte[] a = out.array();
            int offset = out.arrayOffset();
            for (int i = end - 1; i >= out.writerIndex(); i--) {
                a[offset + i] = (byte) ('0' + (int) (v % 10));
                v /= 10;
            }
        } else {
            for (int i = end - 1; i >= out.writerIndex(); i--) {
                out.setByte(i, '0' + (int) (v % 10));
                v /= 10;
            }
        }
        out.writerIndex(end);
    }
}
