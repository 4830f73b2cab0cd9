package io.weaseldb.http;

import static org.junit.jupiter.api.Assertions.assertEquals;

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
import org.junit.jupiter.api.Test;

/** Review probe: the differential comparison on small limits, many fields, and outputs held across reads. */
class PlainRequestsProbeTest {
    static HttpDecoderConfig config(int line, int header, int chunk) {
        return new HttpDecoderConfig().setMaxInitialLineLength(line).setMaxHeaderSize(header).setMaxChunkSize(chunk)
                .setHeadersFactory(SmallHeaders.REQUEST_FACTORY).setTrailersFactory(SmallHeaders.TRAILERS_FACTORY);
    }

    @Test
    void smallLimitsManyFieldsHeldOutputs() {
        for (int seed = 0; seed < 4000; seed++) {
            SplittableRandom r = new SplittableRandom(seed);
            int line = 16 + r.nextInt(60);
            int header = 10 + r.nextInt(400);
            int chunk = 1 + r.nextInt(120);
            byte[] traffic = traffic(r);
            long split = r.nextLong();
            boolean hold = r.nextBoolean();
            String nettys = decode(new EmbeddedChannel(new HttpRequestDecoder(config(line, header, chunk))), traffic, split, hold);
            String ours = decode(new EmbeddedChannel(new ServerCodec(config(line, header, chunk))), traffic, split, hold);
            assertEquals(nettys, ours, "seed " + seed + " line " + line + " header " + header + " chunk " + chunk
                    + " hold " + hold + "\n" + new String(traffic, StandardCharsets.ISO_8859_1));
        }
    }

    static byte[] traffic(SplittableRandom r) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        int n = 1 + r.nextInt(6);
        for (int i = 0; i < n; i++) {
            StringBuilder b = new StringBuilder();
            b.append(new String[] {"GET", "POST", "PUT", "HEAD", "DELETE"}[r.nextInt(5)]).append(' ');
            b.append('/').append("t".repeat(r.nextInt(60))).append(" HTTP/1.1\r\n");
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

    static String decode(EmbeddedChannel ch, byte[] traffic, long split, boolean hold) {
        SplittableRandom pieces = new SplittableRandom(split);
        List<Object> held = new ArrayList<>();
        StringBuilder text = new StringBuilder();
        ByteArrayOutputStream body = new ByteArrayOutputStream();
        int sent = 0;
        while (sent < traffic.length) {
            int n = pieces.nextInt(3) == 0 ? traffic.length - sent
                    : Math.min(traffic.length - sent, 1 + pieces.nextInt(pieces.nextBoolean() ? 8 : 300));
            ch.writeInbound(Unpooled.copiedBuffer(traffic, sent, n));
            sent += n;
            Object o;
            while ((o = ch.readInbound()) != null) {
                if (hold) {
                    held.add(o);
                } else {
                    describe(o, text, body);
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
        return text.toString();
    }

    static void describe(Object o, StringBuilder text, ByteArrayOutputStream body) {
        if (o instanceof HttpRequest r) {
            text.append(result(r.decoderResult())).append(' ').append(r.method()).append(' ').append(r.uri()).append('\n');
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

    static String result(DecoderResult r) {
        return r.isSuccess() ? "ok" : "failed(" + r.cause() + ")";
    }
}
