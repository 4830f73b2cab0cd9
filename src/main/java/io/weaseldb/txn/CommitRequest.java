package io.weaseldb.txn;

import java.util.List;

/**
 * A parsed, validated {@code POST /v1/commit} body. Immutable; built on an event loop and then
 * owned by the pipeline.
 *
 * @param requestId   the caller's request id, or null when the server must generate one
 * @param leaderId    the leader the caller expects, or null
 * @param readVersion the default precondition version, or {@link #NO_READ_VERSION}
 * @param bodyBytes   size of the JSON body, for metrics and batch accounting
 */
public record CommitRequest(
        String requestId,
        String leaderId,
        long readVersion,
        List<Precondition> preconditions,
        List<Operation> operations,
        int bodyBytes) {

    public static final long NO_READ_VERSION = -1;

    public CommitRequest {
        preconditions = List.copyOf(preconditions);
        operations = List.copyOf(operations);
    }
}
