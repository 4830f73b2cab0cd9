package io.weaseldb.http;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import io.netty.handler.codec.ByteToMessageDecoder;

/**
 * Gathers what a connection reads into heap buffers before the request decoder sees it (Netty's
 * {@link ByteToMessageDecoder#MERGE_CUMULATOR}, but the cumulation is always on the heap).
 *
 * <p>Why: the socket reads into direct buffers, and on JDK 25, where Netty 4.2 does without
 * {@code sun.misc.Unsafe}, every copy out of a direct buffer into a {@code byte[]} goes through a
 * new {@code ByteBuffer} duplicate. Netty's decoder copies each request line and header line that
 * way, and the commit parser copied each body chunk: 64-88 bytes of garbage per line, the largest
 * single share of a commit's garbage on the event loop (docs/performance.md, finding 19). Here a
 * read is copied once, through the buffer's own cached view, and every later copy is heap to heap.
 * The bytes were copied once already (into the commit parser's staging array), so no copy is added.
 *
 * <p>Ownership as in Netty's cumulators: {@code in} is the cumulator's, released here or returned
 * as the cumulation; the cumulation is replaced, never written, while a slice of it is still held.
 */
final class HeapCumulator implements ByteToMessageDecoder.Cumulator {
    static final HeapCumulator INSTANCE = new HeapCumulator();

    private HeapCumulator() {}

    @Override
    public ByteBuf cumulate(ByteBufAllocator alloc, ByteBuf cumulation, ByteBuf in) {
        if (cumulation == in) {
            // when the in buffer is the same as the cumulation it is doubly retained, release it once
            in.release();
            return cumulation;
        }
        try {
            int required = in.readableBytes();
            if (!cumulation.isReadable()) {
                // a composite, even of one heap component, would grow by adding components: no array
                if (in.hasArray() && !(in instanceof io.netty.buffer.CompositeByteBuf)) {
                    cumulation.release();
                    return in.retain(); // the finally block releases it once: ownership passes on
                }
                ByteBuf heap = alloc.heapBuffer(required);
                copy(in, heap);
                cumulation.release();
                return heap;
            }
            if (!cumulation.hasArray() || required > cumulation.maxWritableBytes()
                    || required > cumulation.maxFastWritableBytes() && cumulation.refCnt() > 1
                    || cumulation.isReadOnly()) {
                // grow by replacing: a slice of the old one may still be held (a body chunk)
                int old = cumulation.readableBytes();
                ByteBuf grown = alloc.heapBuffer(alloc.calculateNewCapacity(old + required, Integer.MAX_VALUE));
                try {
                    grown.writeBytes(cumulation, cumulation.readerIndex(), old);
                    copy(in, grown);
                } catch (Throwable t) {
                    grown.release();
                    throw t;
                }
                cumulation.release();
                return grown;
            }
            cumulation.ensureWritable(required);
            copy(in, cumulation);
            return cumulation;
        } finally {
            in.release();
        }
    }

    /**
     * Reads up to this long are copied eight bytes at a time: a direct buffer's {@code getLong}
     * makes no view, while its cached view (88 bytes) is made anew for every read buffer.
     */
    static final int WORD_COPY_MAX = 1024;

    /** Appends {@code in}'s readable bytes to {@code heap} (which has an array) and consumes them. */
    static void copy(ByteBuf in, ByteBuf heap) {
        int n = in.readableBytes();
        heap.ensureWritable(n);
        int at = heap.writerIndex();
        if (!heap.hasArray()) {
            heap.writeBytes(in); // not made here (see cumulate); correct, if not garbage-free
            return;
        }
        if (in.hasArray()) {
            heap.setBytes(at, in.array(), in.arrayOffset() + in.readerIndex(), n);
        } else if (n <= WORD_COPY_MAX) {
            int from = in.readerIndex();
            int i = 0;
            for (; i + Long.BYTES <= n; i += Long.BYTES) {
                heap.setLong(at + i, in.getLong(from + i)); // both big-endian: the bytes in order
            }
            for (; i < n; i++) {
                heap.setByte(at + i, in.getByte(from + i));
            }
        } else if (in.nioBufferCount() == 1) {
            // the buffer's own view (made once per buffer), not a new duplicate per copy
            in.internalNioBuffer(in.readerIndex(), n).get(heap.array(), heap.arrayOffset() + at, n);
        } else {
            in.getBytes(in.readerIndex(), heap.array(), heap.arrayOffset() + at, n);
        }
        heap.writerIndex(at + n);
        in.skipBytes(n);
    }
}
