package io.weaseldb.http;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import io.netty.buffer.CompositeByteBuf;
import io.netty.buffer.PooledByteBufAllocator;
import io.netty.buffer.Unpooled;
import io.netty.buffer.AdaptiveByteBufAllocator;
import io.netty.channel.embedded.EmbeddedChannel;
import io.weaseldb.txn.CommitRequest;
import io.weaseldb.txn.Operation;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * The request decoder's cumulation is always on the heap, and it holds exactly the bytes read, in
 * order, whatever buffers they came in: direct or heap, pooled or not, contiguous or composite,
 * while a slice of the old cumulation (a body chunk) is still held. And the whole pipeline decodes
 * requests read as direct buffers split at every byte the same as read in one piece.
 */
class HeapCumulatorTest {
    private static final ByteBufAllocator[] ALLOCATORS = {
        new AdaptiveByteBufAllocator(), PooledByteBufAllocator.DEFAULT, io.netty.buffer.UnpooledByteBufAllocator.DEFAULT,
    };

    private static ByteBuf direct(ByteBufAllocator alloc, String s) {
        ByteBuf b = alloc.directBuffer(s.length());
        b.writeCharSequence(s, StandardCharsets.US_ASCII);
        return b;
    }

    private static String text(ByteBuf b) {
        return b.toString(StandardCharsets.US_ASCII);
    }

    @Test
    void directReadsAreGatheredOnTheHeapAndReleased() {
        for (ByteBufAllocator alloc : ALLOCATORS) {
            ByteBuf first = direct(alloc, "GET /a HT");
            ByteBuf c = HeapCumulator.INSTANCE.cumulate(alloc, Unpooled.EMPTY_BUFFER, first);
            assertTrue(c.hasArray(), alloc.toString());
            assertEquals(0, first.refCnt(), "the read buffer is released once copied");
            assertEquals("GET /a HT", text(c));
            ByteBuf second = direct(alloc, "TP/1.1\r\n\r\n");
            c = HeapCumulator.INSTANCE.cumulate(alloc, c, second);
            assertEquals(0, second.refCnt());
            assertTrue(c.hasArray());
            assertEquals("GET /a HTTP/1.1\r\n\r\n", text(c));
            c.release();
        }
    }

    @Test
    void aHeapReadBecomesTheCumulationAsItIs() {
        ByteBuf heap = Unpooled.copiedBuffer("GET / HTTP/1.1\r\n", StandardCharsets.US_ASCII);
        ByteBuf c = HeapCumulator.INSTANCE.cumulate(ByteBufAllocator.DEFAULT, Unpooled.EMPTY_BUFFER, heap);
        assertSame(heap, c);
        assertEquals(1, c.refCnt());
        c.release();
    }

    @Test
    void aCumulationWithAHeldSliceIsReplacedNotOverwritten() {
        for (ByteBufAllocator alloc : ALLOCATORS) {
            ByteBuf c = HeapCumulator.INSTANCE.cumulate(alloc, Unpooled.EMPTY_BUFFER, direct(alloc, "0123456789"));
            ByteBuf held = c.readRetainedSlice(6); // a body chunk passed on, still being read
            String more = "x".repeat(c.maxFastWritableBytes() + 100); // beyond what fits without reallocating
            ByteBuf grown = HeapCumulator.INSTANCE.cumulate(alloc, c, direct(alloc, more));
            assertNotSame(c, grown, alloc.toString());
            assertEquals("012345", text(held), "the held slice still reads the bytes it was cut from");
            assertEquals("6789" + more, text(grown));
            assertTrue(grown.hasArray());
            held.release();
            grown.release();
            assertEquals(0, c.refCnt(), "the old cumulation is released once its slice is");
        }
    }

    @Test
    void aCompositeReadIsCopiedWhole() {
        CompositeByteBuf in = Unpooled.compositeBuffer();
        in.addComponent(true, direct(ByteBufAllocator.DEFAULT, "POST /v1/"));
        in.addComponent(true, Unpooled.copiedBuffer("commit HTTP/1.1", StandardCharsets.US_ASCII));
        ByteBuf c = HeapCumulator.INSTANCE.cumulate(ByteBufAllocator.DEFAULT, Unpooled.EMPTY_BUFFER, in);
        assertEquals("POST /v1/commit HTTP/1.1", text(c));
        assertEquals(0, in.refCnt());
        c.release();
    }

    @Test
    void pipelinedCommitsReadAsDirectBuffersSplitAnywhereDecodeAsInOnePiece() {
        String body1 = "{\"request_id\":\"first-request-id-0001\",\"operations\":[{\"type\":\"write\",\"key\":\"a2V5MQ==\",\"value\":\"dmFsdWUx\"}]}";
        String body2 = "{\"request_id\":\"second-request-id-0002\",\"operations\":[{\"type\":\"write\",\"key\":\"a2V5Mg==\",\"value\":\"dmFsdWUy\"}]}";
        String wire = "POST /v1/commit HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: "
                + body1.length() + "\r\n\r\n" + body1
                + "POST /v1/commit HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                + Integer.toHexString(10) + "\r\n" + body2.substring(0, 10) + "\r\n"
                + Integer.toHexString(body2.length() - 10) + "\r\n" + body2.substring(10) + "\r\n0\r\n\r\n";
        ByteBufAllocator alloc = new AdaptiveByteBufAllocator();
        for (int split = 1; split < wire.length(); split++) {
            HttpServerTest.HeldBackend backend = new HttpServerTest.HeldBackend();
            EmbeddedChannel channel = EmbeddedPipeline.openPlain(backend, new SimpleMeterRegistry());
            try {
                channel.writeInbound(direct(alloc, wire.substring(0, split)));
                channel.writeInbound(direct(alloc, wire.substring(split)));
                channel.runPendingTasks();
                String out = EmbeddedPipeline.drain(channel);
                assertEquals(2, out.split("HTTP/1.1 200 OK", -1).length - 1, "split at " + split + ": " + out);
                List<String> ids = new ArrayList<>();
                List<String> values = new ArrayList<>();
                for (CommitRequest r : backend.requests) {
                    ids.add(r.requestId());
                    values.add(new String(((Operation.Write) r.operations().get(0)).value(), StandardCharsets.US_ASCII));
                }
                assertEquals(List.of("first-request-id-0001", "second-request-id-0002"), ids, "split at " + split);
                assertEquals(List.of("value1", "value2"), values, "split at " + split);
            } finally {
                channel.finishAndReleaseAll();
                backend.blocking.shutdownNow();
            }
        }
    }

    @Test
    void theBytesSurviveEveryAllocatorAndSize() {
        byte[] all = new byte[70_000];
        for (int i = 0; i < all.length; i++) {
            all[i] = (byte) (i * 31);
        }
        for (ByteBufAllocator alloc : ALLOCATORS) {
            ByteBuf c = Unpooled.EMPTY_BUFFER;
            int at = 0;
            int step = 1;
            while (at < all.length) {
                int n = Math.min(step, all.length - at);
                ByteBuf in = (step % 2 == 0) ? alloc.directBuffer(n) : alloc.heapBuffer(n);
                in.writeBytes(all, at, n);
                c = HeapCumulator.INSTANCE.cumulate(alloc, c, in);
                at += n;
                step = step * 3 + 1;
            }
            byte[] got = new byte[c.readableBytes()];
            c.getBytes(c.readerIndex(), got);
            assertArrayEquals(all, got, alloc.toString());
            c.release();
        }
    }

    @Test
    void aCompositeFirstReadIsCopiedNotAdoptedSoLaterReadsStillFit() {
        CompositeByteBuf first = Unpooled.compositeBuffer();
        first.addComponent(true, Unpooled.copiedBuffer("GET /v1/", StandardCharsets.US_ASCII)); // one heap component
        ByteBuf c = HeapCumulator.INSTANCE.cumulate(ByteBufAllocator.DEFAULT, Unpooled.EMPTY_BUFFER, first);
        String rest = "version HTTP/1.1\r\n" + "x".repeat(3000); // a large direct read after it
        c = HeapCumulator.INSTANCE.cumulate(ByteBufAllocator.DEFAULT, c, direct(ByteBufAllocator.DEFAULT, rest));
        assertEquals("GET /v1/" + rest, text(c));
        assertTrue(c.hasArray());
        c.release();
    }
}
