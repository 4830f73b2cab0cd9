package io.weaseldb.fakes3;

/**
 * What an injected fault does to a request. A closed family: the request handler consumes it
 * with an exhaustive switch.
 */
public sealed interface FaultKind {

    /** Short name used in fault specs and counters, e.g. {@code lost_reply}. */
    String name();

    /** Answer with an S3 error instead of performing the operation. */
    record Error(int status, String code) implements FaultKind {
        public Error {
            if (status < 400 || status > 599) {
                throw new IllegalArgumentException("error fault status must be 400..599, got " + status);
            }
            if (code == null || code.isBlank() || !code.chars().allMatch(Character::isLetterOrDigit)) {
                throw new IllegalArgumentException("error fault code must be alphanumeric, got '" + code + "'");
            }
        }

        @Override
        public String name() {
            return "error";
        }
    }

    /**
     * Delay the answer by a uniformly drawn {@code minMs..maxMs} milliseconds (fixed when equal).
     * Latency rules add up and combine with at most one other fault.
     */
    record Latency(long minMs, long maxMs) implements FaultKind {
        public Latency {
            if (minMs < 0 || maxMs < minMs) {
                throw new IllegalArgumentException(
                        "latency fault needs 0 <= min_ms <= max_ms, got " + minMs + ".." + maxMs);
            }
        }

        @Override
        public String name() {
            return "latency";
        }
    }

    /** Reset the connection (TCP RST) before the operation is applied. */
    record Reset() implements FaultKind {
        @Override
        public String name() {
            return "reset";
        }
    }

    /** Never answer; hold the connection open until the client or the server closes it. */
    record Timeout() implements FaultKind {
        @Override
        public String name() {
            return "timeout";
        }
    }

    /** Apply the operation durably, then close the connection without answering. */
    record LostReply() implements FaultKind {
        @Override
        public String name() {
            return "lost_reply";
        }
    }
}
