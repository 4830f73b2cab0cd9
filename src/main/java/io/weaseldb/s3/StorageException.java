package io.weaseldb.s3;

/**
 * A failed storage request, classified so callers can decide without knowing the SDK:
 * {@link Kind#TRANSIENT} is worth retrying (5xx, throttling, timeouts, resets),
 * {@link Kind#NOT_FOUND} and {@link Kind#PERMANENT} are not.
 */
public final class StorageException extends RuntimeException {
    public enum Kind { TRANSIENT, NOT_FOUND, PERMANENT }

    private final Kind kind;
    private final int statusCode;

    public StorageException(Kind kind, int statusCode, String message, Throwable cause) {
        super(message, cause);
        this.kind = kind;
        this.statusCode = statusCode;
    }

    public Kind kind() {
        return kind;
    }

    /** HTTP status, or 0 when no response arrived (timeout, reset). */
    public int statusCode() {
        return statusCode;
    }

    /** Unwraps CompletionException layers to find a StorageException, or wraps an unexpected error. */
    public static StorageException of(Throwable t) {
        Throwable c = t;
        while ((c instanceof java.util.concurrent.CompletionException || c instanceof java.util.concurrent.ExecutionException)
                && c.getCause() != null) {
            c = c.getCause();
        }
        if (c instanceof StorageException s) {
            return s;
        }
        return new StorageException(Kind.TRANSIENT, 0, String.valueOf(c), c);
    }
}
