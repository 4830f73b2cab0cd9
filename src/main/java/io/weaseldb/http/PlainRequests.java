package io.weaseldb.http;

import io.netty.buffer.ByteBuf;
import io.netty.handler.codec.DecoderResult;
import io.netty.handler.codec.http.DefaultLastHttpContent;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.codec.http.LastHttpContent;
import io.netty.util.AbstractReferenceCounted;
import io.netty.util.AsciiString;
import java.util.ArrayDeque;
import java.util.List;

/**
 * The request decoder's fast path: a request in its plainest shape, whole in the bytes read, is
 * decoded here into reused objects; anything else is left untouched for Netty's decoder
 * ({@link ServerCodec}), which decides about it as before.
 *
 * <p>Plain means: a request line {@code GET|HEAD|POST|PUT|DELETE SP target SP HTTP/1.1 CRLF}
 * with single spaces and a target of visible ASCII; header fields {@code token ":" OWS value OWS
 * CRLF} whose values hold only visible ASCII, spaces and tabs; at most one {@code Content-Length}
 * of plain digits and no {@code Transfer-Encoding}; no {@code Sec-WebSocket-} field (Netty gives
 * an old-style WebSocket handshake a body of 8 bytes); the head within the decoder's line and
 * header limits and 4 KiB, the body within one content chunk, and both already read. That is
 * a subset of what Netty's decoder accepts, and on it this decodes what Netty's does (checked by
 * {@code PlainRequestsDifferentialTest}): the same method, target, version, fields (names as
 * sent, values trimmed) and body. A request that is not plain (obsolete line folding, a bare LF,
 * control or non-ASCII bytes, duplicate lengths, chunked framing, an oversized head, a body still
 * arriving) goes to Netty's decoder untouched, so every error, limit and smuggling defence is
 * still Netty's.
 *
 * <p>What it saves, per request: the request line's word array and strings, the header table's
 * entries and value strings (values and names repeat from request to request, and are taken from
 * a per-thread cache of the recent ones), the decoder's result object, the Content-Length check's
 * list, and the body's last-content object (a {@link PlainBody} is used again; its content is a
 * slice of the read buffer, as Netty's decoder makes it). docs/performance.md, finding 22.
 *
 * <p>Per-thread state: the caches and the bodies belong to the event loop that decodes.
 */
final class PlainRequests {
    /** Heads longer than this go to Netty's decoder (a plain commit's head is about 100 bytes). */
    static final int MAX_HEAD_BYTES = 4096;
    /** Requests with more header fields go to Netty's decoder. */
    static final int MAX_FIELDS = 32;
    /** Longer values are not cached (a new string each time). */
    static final int MAX_CACHED_VALUE = 256;

    private static final io.netty.util.concurrent.FastThreadLocal<PerThread> PER_THREAD = new io.netty.util.concurrent.FastThreadLocal<>() {
        @Override
        protected PerThread initialValue() {
            return new PerThread();
        }
    };

    /** RFC 9110 tchar: the bytes a field name may hold. */
    private static final boolean[] TOKEN = new boolean[256];

    static {
        for (int c = '0'; c <= '9'; c++) {
            TOKEN[c] = true;
        }
        for (int c = 'A'; c <= 'Z'; c++) {
            TOKEN[c] = true;
            TOKEN[c + ('a' - 'A')] = true;
        }
        for (char c : "!#$%&'*+-.^_`|~".toCharArray()) {
            TOKEN[c] = true;
        }
    }

    private PlainRequests() {}

    /**
     * Decodes the request at {@code in}'s reader index if it is plain and whole: adds its head to
     * {@code out} (and the empty last part if it has no body), consumes the head and returns the
     * length of its body, already read, which {@link #body} passes on next (as Netty's decoder
     * passes a head on before reading its body: a handler may stop decoding in between, see
     * {@link ServerCodec#discardInput}). Otherwise consumes and adds nothing and returns -1. Only at
     * the start of a request (Netty's decoder holding none of one).
     */
    static int decode(ByteBuf in, List<Object> out, int maxInitialLine, int maxHeaderSize, int maxChunk) {
        PerThread t = PER_THREAD.get();
        if (!t.enabled || !in.hasArray()) {
            return -1;
        }
        byte[] a = in.array();
        int base = in.arrayOffset();
        int start = base + in.readerIndex();
        int limit = base + in.writerIndex();
        int headLimit = Math.min(limit, start + MAX_HEAD_BYTES);
        int p = start;

        HttpMethod method;
        if (starts(a, p, headLimit, "GET ")) {
            method = HttpMethod.GET;
        } else if (starts(a, p, headLimit, "POST ")) {
            method = HttpMethod.POST;
        } else if (starts(a, p, headLimit, "PUT ")) {
            method = HttpMethod.PUT;
        } else if (starts(a, p, headLimit, "HEAD ")) {
            method = HttpMethod.HEAD;
        } else if (starts(a, p, headLimit, "DELETE ")) {
            method = HttpMethod.DELETE;
        } else {
            return -1;
        }
        p += method.name().length() + 1;
        int targetStart = p;
        while (p < headLimit && a[p] > ' ' && a[p] < 0x7F) {
            p++;
        }
        int targetEnd = p;
        if (targetEnd == targetStart || !starts(a, p, headLimit, " HTTP/1.1\r\n")) {
            return -1;
        }
        p += 11;
        if (p - 2 - start > maxInitialLine) {
            return -1;
        }

        int[] fields = t.fields;
        int count = 0;
        int headerBytes = 0;
        long contentLength = -1;
        while (true) {
            if (p + 2 > headLimit) {
                return -1;
            }
            if (a[p] == '\r') {
                if (a[p + 1] != '\n') {
                    return -1;
                }
                p += 2;
                break;
            }
            int nameStart = p;
            while (p < headLimit && TOKEN[a[p] & 0xFF]) {
                p++;
            }
            if (p == nameStart || p >= headLimit || a[p] != ':') {
                return -1;
            }
            int nameEnd = p++;
            while (p < headLimit && (a[p] == ' ' || a[p] == '\t')) {
                p++;
            }
            int valueStart = p;
            while (p < headLimit && (a[p] >= ' ' && a[p] < 0x7F || a[p] == '\t')) {
                p++;
            }
            if (p + 2 > headLimit || a[p] != '\r' || a[p + 1] != '\n') {
                return -1;
            }
            int valueEnd = p;
            while (valueEnd > valueStart && (a[valueEnd - 1] == ' ' || a[valueEnd - 1] == '\t')) {
                valueEnd--;
            }
            headerBytes += p - nameStart;
            p += 2;
            if (headerBytes > maxHeaderSize || count == MAX_FIELDS) {
                return -1;
            }
            if (equalsIgnoreCase(a, nameStart, nameEnd, "content-length")) {
                if (contentLength >= 0) {
                    return -1; // Netty decides about a repeated length
                }
                contentLength = digits(a, valueStart, valueEnd);
                if (contentLength < 0) {
                    return -1;
                }
            } else if (equalsIgnoreCase(a, nameStart, nameEnd, "transfer-encoding")
                    || nameEnd - nameStart >= 14 && equalsIgnoreCase(a, nameStart, nameStart + 14, "sec-websocket-")) {
                return -1;
            }
            fields[4 * count] = nameStart;
            fields[4 * count + 1] = nameEnd;
            fields[4 * count + 2] = valueStart;
            fields[4 * count + 3] = valueEnd;
            count++;
        }
        if (contentLength < 0) {
            contentLength = 0; // a request with neither length nor coding has no body (RFC 9112 6.3)
        }
        if (contentLength > maxChunk || limit - p < contentLength) {
            return -1; // Netty's decoder reads a body in parts as it arrives
        }

        String known = ServerCodec.Targets.known(a, targetStart, targetEnd - targetStart);
        @SuppressWarnings("deprecation") // the ASCII constructor, as Netty's decoder makes its strings
        String uri = known != null ? known : new String(a, 0, targetStart, targetEnd - targetStart);
        ServerCodec.PooledRequest request = ServerCodec.PooledRequest.takePlain(HttpVersion.HTTP_1_1, method, uri);
        FlatHeaders headers = (FlatHeaders) request.headers();
        for (int i = 0; i < count; i++) {
            int f = 4 * i;
            headers.append(t.name(a, fields[f], fields[f + 1]), t.value(a, fields[f + 2], fields[f + 3]));
        }
        out.add(request);
        if (contentLength == 0) {
            out.add(LastHttpContent.EMPTY_LAST_CONTENT);
        }
        in.readerIndex(p - base);
        return (int) contentLength;
    }

    /** The body of the plain request {@link #decode} passed on the head of, {@code length} bytes at {@code in}'s reader index, consumed. */
    static PlainBody body(ByteBuf in, int length) {
        PlainBody b = PlainBody.take(PER_THREAD.get(), in, in.readerIndex(), length);
        in.skipBytes(length);
        return b;
    }

    /**
     * Whether this thread's decoders take the fast path (tests: off sends every request through
     * Netty's decoder, to compare with).
     */
    static void enableOnThisThread(boolean enabled) {
        PER_THREAD.get().enabled = enabled;
    }

    private static boolean starts(byte[] a, int p, int limit, String s) {
        return limit - p >= s.length() && sameAscii(a, p, p + s.length(), s);
    }

    /** Whether bytes {@code from} to {@code to} of {@code a} are {@code s}'s characters (one byte each, as ASCII text is). */
    static boolean sameAscii(byte[] a, int from, int to, CharSequence s) {
        if (to - from != s.length()) {
            return false;
        }
        for (int i = 0; i < s.length(); i++) {
            if (a[from + i] != (byte) s.charAt(i)) {
                return false;
            }
        }
        return true;
    }

    /** {@code lower} is lower case ASCII. */
    private static boolean equalsIgnoreCase(byte[] a, int from, int to, String lower) {
        if (to - from != lower.length()) {
            return false;
        }
        for (int i = 0; i < lower.length(); i++) {
            int c = a[from + i];
            if (c >= 'A' && c <= 'Z') {
                c += 'a' - 'A';
            }
            if (c != lower.charAt(i)) {
                return false;
            }
        }
        return true;
    }

    /** The value as a decimal length: 1 to 18 digits, no leading zero; else -1 (left to Netty's checks). */
    private static long digits(byte[] a, int from, int to) {
        int n = to - from;
        if (n < 1 || n > 18 || n > 1 && a[from] == '0') {
            return -1;
        }
        long v = 0;
        for (int i = from; i < to; i++) {
            if (a[i] < '0' || a[i] > '9') {
                return -1;
            }
            v = v * 10 + (a[i] - '0');
        }
        return v;
    }

    private static int hash(byte[] a, int from, int to) {
        int h = to - from;
        for (int i = from; i < to; i++) {
            h = 31 * h + a[i];
        }
        return h ^ (h >>> 15);
    }

    /** An event loop's recent field names and values, its spare bodies, and the fields being decoded. */
    private static final class PerThread {
        static final int SLOTS = 128;
        final AsciiString[] names = new AsciiString[SLOTS];
        final String[] values = new String[SLOTS];
        final int[] fields = new int[4 * MAX_FIELDS];
        final ArrayDeque<PlainBody> bodies = new ArrayDeque<>();
        boolean enabled = true;

        /** The name as sent: a cached copy if one of the recent names has these bytes. */
        AsciiString name(byte[] a, int from, int to) {
            int slot = hash(a, from, to) & (SLOTS - 1);
            AsciiString cached = names[slot];
            if (cached != null && sameAscii(a, from, to, cached)) {
                return cached;
            }
            AsciiString name = new AsciiString(a, from, to - from, true);
            names[slot] = name;
            return name;
        }

        /** The value: a cached string if one of the recent values has these bytes. */
        @SuppressWarnings("deprecation") // the ASCII constructor, as Netty's decoder makes its strings
        String value(byte[] a, int from, int to) {
            int n = to - from;
            if (n == 0) {
                return "";
            }
            if (n > MAX_CACHED_VALUE) {
                return new String(a, 0, from, n);
            }
            int slot = hash(a, from, to) & (SLOTS - 1);
            String cached = values[slot];
            if (cached != null && sameAscii(a, from, to, cached)) {
                return cached;
            }
            String value = new String(a, 0, from, n);
            values[slot] = value;
            return value;
        }
    }

    /**
     * A request body read whole: a slice of the read buffer holding one reference to it, as Netty's
     * decoder makes it (bounded to the body, not resizable, index 0 at the body's start), in a
     * last-content object used again. The object has a count of its own: given back to its
     * thread's spares (at most {@link #PER_THREAD_MAX}) when it is released for the last time, on
     * that thread, and it lets go of its slice then. A content retained past its message is the
     * slice, which keeps the read buffer and is never used again here.
     */
    static final class PlainBody extends AbstractReferenceCounted implements LastHttpContent {
        static final int PER_THREAD_MAX = 16;
        private final PerThread owner;
        private ByteBuf content;
        private DecoderResult result = DecoderResult.SUCCESS;

        private PlainBody(PerThread owner) {
            this.owner = owner;
        }

        static PlainBody take(PerThread t, ByteBuf in, int index, int length) {
            PlainBody b = t.bodies.pollLast();
            if (b == null) {
                b = new PlainBody(t);
            } else {
                b.setRefCnt(1);
                b.result = DecoderResult.SUCCESS;
            }
            b.content = in.retainedSlice(index, length);
            return b;
        }

        @Override
        protected void deallocate() {
            ByteBuf held = content;
            content = null;
            held.release();
            if (PER_THREAD.isSet() && PER_THREAD.get() == owner && owner.bodies.size() < PER_THREAD_MAX) {
                owner.bodies.addLast(this);
            }
        }

        @Override
        public ByteBuf content() {
            ByteBuf c = content;
            if (c == null) {
                throw new io.netty.util.IllegalReferenceCountException(0);
            }
            return c;
        }

        @Override
        public HttpHeaders trailingHeaders() {
            return SmallHeaders.DroppedTrailers.INSTANCE;
        }

        @Override
        public LastHttpContent copy() {
            return replace(content().copy());
        }

        @Override
        public LastHttpContent duplicate() {
            return replace(content().duplicate());
        }

        @Override
        public LastHttpContent retainedDuplicate() {
            return replace(content().retainedDuplicate());
        }

        @Override
        public LastHttpContent replace(ByteBuf content) {
            LastHttpContent c = new DefaultLastHttpContent(content);
            c.setDecoderResult(result);
            return c;
        }

        @Override
        public PlainBody retain() {
            super.retain();
            return this;
        }

        @Override
        public PlainBody retain(int increment) {
            super.retain(increment);
            return this;
        }

        @Override
        public PlainBody touch() {
            return touch(null);
        }

        @Override
        public PlainBody touch(Object hint) {
            ByteBuf c = content;
            if (c != null) {
                c.touch(hint);
            }
            return this;
        }

        @Override
        public DecoderResult decoderResult() {
            return result;
        }

        @Override
        @Deprecated
        public DecoderResult getDecoderResult() {
            return result;
        }

        @Override
        public void setDecoderResult(DecoderResult result) {
            this.result = java.util.Objects.requireNonNull(result, "result");
        }

        @Override
        public String toString() {
            ByteBuf c = content;
            return "PlainBody(" + (c == null ? "released" : c.readableBytes() + " bytes") + ")";
        }
    }
}
