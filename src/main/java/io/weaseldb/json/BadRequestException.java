package io.weaseldb.json;

/**
 * Invalid client input; becomes a 400 {@code bad_request} whose message is this exception's.
 * Expected in normal operation, so it carries no stack trace.
 */
public final class BadRequestException extends Exception {
    public BadRequestException(String message) {
        super(message, null, false, false);
    }
}
