package io.weaseldb.fakes3;

/**
 * A request the server rejects with an S3 error. Thrown by request parsing and verification, which
 * are deep call chains where a typed result at every level would bury the logic; caught at exactly
 * two places (the request handler for header-time errors, {@link S3Operations} for body-time ones)
 * and turned into an error response. It never escapes the package and never means a bug.
 */
final class S3ErrorException extends RuntimeException {
    final S3ErrorCode code;

    S3ErrorException(S3ErrorCode code) {
        this(code, code.defaultMessage);
    }

    S3ErrorException(S3ErrorCode code, String message) {
        super(message, null, false, false); // no stack trace: this is an expected outcome
        this.code = code;
    }
}
