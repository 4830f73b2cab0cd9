package io.weaseldb.fakes3;

import java.util.Objects;

/** The precondition of a conditional PUT, checked atomically with the write. */
public sealed interface PutCondition {

    /** Unconditional write. */
    record None() implements PutCondition {}

    /** {@code If-None-Match: *}: write only if no object exists under the key. */
    record IfAbsent() implements PutCondition {}

    /**
     * {@code If-Match: <etag>}: write only if the current object's ETag equals {@code etag}
     * (quoted or not); {@code *} means "if any object exists".
     */
    record IfMatch(String etag) implements PutCondition {
        public IfMatch {
            Objects.requireNonNull(etag, "etag");
        }

        boolean matches(String currentEtag) {
            return etag.equals("*") || ETags.equal(etag, currentEtag);
        }
    }

    PutCondition NONE = new None();
    PutCondition IF_ABSENT = new IfAbsent();
}
