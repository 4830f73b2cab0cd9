package io.weaseldb.fakes3;

/**
 * A snapshot of the server's counters, for tests and metrics.
 *
 * @param requests             requests whose head was received
 * @param errorResponses       answers with status >= 400 (injected errors included)
 * @param rejectedConnections  connections closed on accept because of {@code maxConnections}
 * @param rejectedBusy         requests answered 503 SlowDown because the worker queue or the
 *                             buffered-bytes budget was full
 * @param openConnections      connections open now
 * @param bufferedBytes        request body bytes reserved now (uploads being received or stored)
 * @param timedOutRequests     requests closed while being received because bytes stopped coming
 *                             (400 RequestTimeout, or the refusal of a body refused at its head)
 */
public record FakeS3Stats(long requests, long errorResponses, long rejectedConnections, long rejectedBusy,
                          int openConnections, long bufferedBytes, long timedOutRequests) {}
