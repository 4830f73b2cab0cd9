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
        preconditions = immutable(preconditions);
        operations = immutable(operations);
    }

    /**
     * {@link List#copyOf}, without the array it copies through for the one- and two-item lists
     * most transactions carry (24 B each, per commit).
     */
    private static <T> List<T> immutable(List<T> items) {
        return switch (items.size()) {
            case 1 -> List.of(items.get(0));
            case 2 -> List.of(items.get(0), items.get(1));
            default -> List.copyOf(items);
        };
    }
}
