package io.weaseldb.http;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.netty.buffer.Unpooled;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.handler.codec.DecoderResult;
import io.netty.handler.codec.http.HttpContent;
import io.netty.handler.codec.http.HttpDecoderConfig;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpRequestDecoder;
import io.netty.handler.codec.http.LastHttpContent;
import io.netty.util.ReferenceCountUtil;
import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * The server's request decoder, fast path ({@link PlainRequests}) included, decodes what Netty's
 * own {@link HttpRequestDecoder} decodes, on the server's settings: the same requests (method,
 * target, version, fields in order, names as sent), bodies, and failures, from the same bytes fed
 * in the same pieces. The bytes are pipelined requests, plain ones and ones that are not, and
 * each mutated at random (bytes replaced, inserted or removed: spaces, tabs, CR, LF, colons,
 * commas, digits, control and non-ASCII bytes), so the fast path meets the edges of "plain" from
 * both sides; and, on small limits, plain requests on either side of the line, header, field and
 * chunk limits, with everything decoded kept until the end (a body kept while later reads arrive
 * must keep its bytes). A seed that differs is named in the failure.
 */
class PlainRequestsDifferentialTest {
    private static final String[] METHODS = {"GET", "POST", "PUT", "HEAD", "DELETE", "OPTIONS", "get", "PATCH"};
    private static final String[] TARGETS = {"/v1/commit", "/ok", "/v1/version", "/metrics", "/v1/status?request_id=a%20b",
        "/v1/subscribe?after=3", "/v1/retention/p1", "*", "http://h/ok", "/x/" + "y".repeat(300)};
    private static final String[] NAMES = {"Host", "host", "Content-Type", "content-type", "Accept", "User-Agent",
        "Connection", "Expect", "Authorization", "Last-Event-ID", "X-Request-Id", "Cache-Control", "X-Many", "X_Under",
        "Transfer-Encoding", "Sec-WebSocket-Key1", "Sec-WebSocket-Key2", "TE", "Content-Lengthy"};
    private static final String[] VALUES = {"x", "localhost:8080", "application/json", "*/*", "close", "keep-alive",
        "Keep-Alive, Upgrade", "100-continue", "Bearer abc.def", "42", "", "  padded\t ", "a, b,c", "chunked",
        "gzip, chunked", "\"quoted\"", "v".repeat(300)};
    private static final byte[] INTERESTING = {' ', '\t', '\r', '\n', ':', ',', '0', '9', '+', '-', 'a', 'Z', 0, 1, 0x0B,
        0x0C, 0x7F, (byte) 0x80, (byte) 0xE9, (byte) 0xFF, '/', '%', '"'};

    @AfterEach
    void tearDown() {
        PlainRequests.enableOnThisThread(true);
    }

    @Test
    void theServersDecoderDecodesWhatNettysDecoderDecodes() {
        int plainDecoded = compareSeeds(3000);
        assertTrue(plainDecoded > 2000, "the fast path decoded many of the requests: " + plainDecoded);
    }

    @Test
    void withoutTheFastPathTheServersDecoderStillDecodesAsNettys() {
        // the comparison's other half: the server's decoder with every request through Netty's
        PlainRequests.enableOnThisThread(false);
        assertEquals(0, compareSeeds(300));
    }

    /** Compares the first {@code seeds} seeds' traffic; returns how many requests the fast path decoded. */
    private static int compareSeeds(int seeds) {
        int plainDecoded = 0;
        for (int seed = 0; seed < seeds; seed++) {
            SplittableRandom random = new SplittableRandom(seed);
            byte[] traffic = traffic(random);
            long split = random.nextLong();
            String nettys = decode(new EmbeddedChannel(new HttpRequestDecoder(HttpServer.decoderConfig(8192))), traffic, split);
            Decoded ours = decodeOurs(traffic, split);
            assertEquals(nettys, ours.text, "seed " + seed + ", traffic:\n" + new String(traffic, StandardCharsets.ISO_8859_1));
            plainDecoded += ours.plain;
        }
        return plainDecoded;
    }

    @Test
    void atTheLimitsWithManyFieldsAndBodiesKeptItDecodesAsNettysDecoder() {
        // small line, header and chunk limits, so requests fall on either side of each; up to 40
        // fields (the fast path takes 32); bodies up to 300 bytes; every part kept to the end
        int plainDecoded = 0;
        for (int seed = 0; seed < 4000; seed++) {
            SplittableRandom random = new SplittableRandom(seed);
            int line = 16 + random.nextInt(60);
            int header = 10 + random.nextInt(400);
            int chunk = 1 + random.nextInt(120);
            byte[] traffic = manyFields(random);
            long split = random.nextLong();
            boolean hold = random.nextBoolean();
            String nettys = decode(new EmbeddedChannel(new HttpRequestDecoder(limits(line, header, chunk))), traffic, split, hold,
                    o -> { });
            Decoded ours = decodeOurs(limits(line, header, chunk), traffic, split, hold);
            assertEquals(nettys, ours.text, "seed " + seed + " line " + line + " header " + header + " chunk " + chunk
                    + " hold " + hold + "\n" + new String(traffic, StandardCharsets.ISO_8859_1));
            plainDecoded += ours.plain;
        }
        assertTrue(plainDecoded > 1000, "the fast path decoded many of the requests: " + plainDecoded);
    }

    private static HttpDecoderConfig limits(int line, int header, int chunk) {
        return new HttpDecoderConfig().setMaxInitialLineLength(line).setMaxHeaderSize(header).setMaxChunkSize(chunk)
                .setHeadersFactory(SmallHeaders.REQUEST_FACTORY).setTrailersFactory(SmallHeaders.TRAILERS_FACTORY);
    }

    /** Plain requests of every size: targets up to 60 bytes, up to 40 fields, bodies up to 300 bytes. */
    private static byte[] manyFields(SplittableRandom r) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        int n = 1 + r.nextInt(6);
        for (int i = 0; i < n; i++) {
            StringBuilder b = new StringBuilder();
            b.append(METHODS[r.nextInt(5)]).append(' ').append('/').append("t".repeat(r.nextInt(60))).append(" HTTP/1.1\r\n");
            int fields = r.nextInt(r.nextInt(8) == 0 ? 40 : 6);
            for (int f = 0; f < fields; f++) {
                b.append("X-F").append(r.nextInt(50)).append(':').append(" ".repeat(r.nextInt(3)))
                        .append("v".repeat(r.nextInt(20))).append(r.nextBoolean() ? "\t" : "").append("\r\n");
            }
            String body = "b".repeat(r.nextInt(r.nextInt(4) == 0 ? 300 : 20));
            if (r.nextBoolean()) {
                b.append("Content-Length: ").append(body.length()).append("\r\n\r\n").append(body);
            } else {
                b.append("\r\n");
            }
            out.writeBytes(b.toString().getBytes(StandardCharsets.ISO_8859_1));
        }
        return out.toByteArray();
    }

    private record Decoded(String text, int plain) {}

    private static Decoded decodeOurs(byte[] traffic, long split) {
        return decodeOurs(HttpServer.decoderConfig(8192), traffic, split, false);
    }

    private static Decoded decodeOurs(HttpDecoderConfig config, byte[] traffic, long split, boolean hold) {
        EmbeddedChannel ch = new EmbeddedChannel(new ServerCodec(config));
        int[] plain = {0};
        String text = decode(ch, traffic, split, hold, o -> {
            if (o instanceof HttpRequest r && r.headers() instanceof FlatHeaders) {
                plain[0]++;
            }
        });
        return new Decoded(text, plain[0]);
    }

    private static String decode(EmbeddedChannel ch, byte[] traffic, long split) {
        return decode(ch, traffic, split, false, o -> { });
    }

    /**
     * What {@code ch} decodes from {@code traffic} fed in pieces (the same pieces for the same
     * {@code split}): read and let go of as they come, or, with {@code hold}, all kept until the end
     * (bodies kept while later reads arrive and later requests are decoded).
     */
    private static String decode(EmbeddedChannel ch, byte[] traffic, long split, boolean hold,
                                 java.util.function.Consumer<Object> seen) {
        SplittableRandom pieces = new SplittableRandom(split);
        StringBuilder text = new StringBuilder();
        ByteArrayOutputStream body = new ByteArrayOutputStream();
        List<Object> held = new ArrayList<>();
        int sent = 0;
        while (sent < traffic.length) {
            int n = pieces.nextInt(3) == 0 ? traffic.length - sent
                    : Math.min(traffic.length - sent, 1 + pieces.nextInt(pieces.nextBoolean() ? 8 : 300));
            ch.writeInbound(Unpooled.copiedBuffer(traffic, sent, n));
            sent += n;
            Object o;
            while ((o = ch.readInbound()) != null) {
                seen.accept(o);
                if (hold) {
                    held.add(o);
                } else {
                    describe(o, text, body);
                    if (o instanceof ServerCodec.PooledRequest r) {
                        ServerCodec.PooledRequest.give(r); // as the handler does once it has read it
                    }
                    ReferenceCountUtil.release(o);
                }
            }
        }
        ch.finish();
        Object o;
        while ((o = ch.readInbound()) != null) {
            held.add(o);
        }
        for (Object h : held) {
            describe(h, text, body);
            ReferenceCountUtil.release(h);
        }
        text.append(body.size() > 0 ? "unfinished body " + body.size() + "\n" : "");
        return text.toString();
    }

    private static void describe(Object o, StringBuilder text, ByteArrayOutputStream body) {
        if (o instanceof HttpRequest r) {
            text.append(result(r.decoderResult())).append(' ').append(r.method()).append(' ').append(r.uri()).append(' ')
                    .append(r.protocolVersion()).append('\n');
            for (Map.Entry<CharSequence, CharSequence> e : (Iterable<Map.Entry<CharSequence, CharSequence>>) r.headers()::iteratorCharSequence) {
                text.append("  ").append(e.getKey()).append(": [").append(e.getValue()).append("]\n");
            }
        }
        if (o instanceof HttpContent c) {
            byte[] bytes = new byte[c.content().readableBytes()];
            c.content().getBytes(c.content().readerIndex(), bytes);
            body.writeBytes(bytes);
            if (c.decoderResult().isFailure()) {
                text.append("content ").append(result(c.decoderResult())).append('\n');
            }
            if (c instanceof LastHttpContent) {
                text.append("body [").append(body.toString(StandardCharsets.ISO_8859_1)).append("]\n");
                body.reset();
            }
        }
    }

    private static String result(DecoderResult r) {
        return r.isSuccess() ? "ok" : "failed(" + r.cause() + ")";
    }

    private static byte[] traffic(SplittableRandom random) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        int requests = 1 + random.nextInt(6);
        for (int i = 0; i < requests; i++) {
            byte[] request = request(random);
            if (random.nextInt(3) == 0) {
                request = mutate(request, random);
            }
            if (random.nextInt(10) == 0) {
                out.writeBytes("\r\n".getBytes(StandardCharsets.US_ASCII));
            }
            out.writeBytes(request);
        }
        return out.toByteArray();
    }

    /** A request, plain most of the time. */
    private static byte[] request(SplittableRandom random) {
        StringBuilder b = new StringBuilder();
        boolean plainish = random.nextInt(4) != 0;
        String method = plainish ? METHODS[random.nextInt(5)] : METHODS[random.nextInt(METHODS.length)];
        String target = TARGETS[random.nextInt(plainish ? 7 : TARGETS.length)];
        String version = plainish || random.nextBoolean() ? "HTTP/1.1" : random.nextBoolean() ? "HTTP/1.0" : "HTTP/1.2";
        b.append(method).append(' ').append(target).append(' ').append(version).append("\r\n");
        int fields = random.nextInt(plainish ? 6 : 12);
        for (int i = 0; i < fields; i++) {
            String name = NAMES[random.nextInt(plainish ? 13 : NAMES.length)];
            String value = VALUES[random.nextInt(plainish ? 13 : VALUES.length)];
            b.append(name).append(':').append(random.nextInt(4) == 0 ? "" : " ").append(value).append("\r\n");
        }
        String body = "{\"k\":\"" + "b".repeat(random.nextInt(40)) + "\"}";
        switch (random.nextInt(plainish ? 3 : 5)) {
            case 0 -> b.append("\r\n");
            case 1, 2 -> b.append("Content-Length: ").append(body.length()).append("\r\n\r\n").append(body);
            case 3 -> b.append("Transfer-Encoding: chunked\r\n\r\n").append(Integer.toHexString(body.length())).append("\r\n")
                    .append(body).append("\r\n0\r\n\r\n");
            default -> b.append("Content-Length: ").append(body.length()).append("\r\nContent-Length: ")
                    .append(random.nextBoolean() ? body.length() : body.length() + 1).append("\r\n\r\n").append(body);
        }
        return b.toString().getBytes(StandardCharsets.ISO_8859_1);
    }

    private static byte[] mutate(byte[] request, SplittableRandom random) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        int at = random.nextInt(request.length);
        byte b = INTERESTING[random.nextInt(INTERESTING.length)];
        switch (random.nextInt(3)) {
            case 0 -> {
                out.write(request, 0, at);
                out.write(b);
                out.write(request, at + 1, request.length - at - 1);
            }
            case 1 -> {
                out.write(request, 0, at);
                out.write(b);
                out.write(request, at, request.length - at);
            }
            default -> {
                out.write(request, 0, at);
                out.write(request, at + 1, request.length - at - 1);
            }
        }
        return out.toByteArray();
    }
}
