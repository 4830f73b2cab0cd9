package io.weaseldb.fakes3;

import java.util.Map;

/**
 * A request body as received, decoded from its framing but not yet verified. Created on the event
 * loop and handed, whole, to a worker thread which verifies and consumes it; nobody touches it
 * after that hand-off except the worker.
 *
 * @param content           the decoded content (exactly the announced length)
 * @param chunkEnds         for signed aws-chunked bodies: end offset in {@code content} of each chunk,
 *                          including the final empty chunk; otherwise empty
 * @param chunkSignatures   for signed aws-chunked bodies: the signature sent with each chunk
 * @param trailers          trailer headers (names lowercase) in the order received, without the
 *                          trailer signature
 * @param trailerSignature  the {@code x-amz-trailer-signature}, or {@code null}
 */
record ReceivedBody(byte[] content, int[] chunkEnds, String[] chunkSignatures,
                    Map<String, String> trailers, String trailerSignature) {
    static final ReceivedBody EMPTY = new ReceivedBody(new byte[0], new int[0], new String[0], Map.of(), null);
}
