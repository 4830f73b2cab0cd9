package io.weaseldb.fakes3;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * A complete answer, built off the event loop and written by it. Netty-free so that operations can
 * be tested without a server.
 *
 * @param status        HTTP status
 * @param headers       response headers in order (without Content-Length, request id, date)
 * @param body          body bytes; empty for HEAD
 * @param contentLength the Content-Length to announce: {@code body.length}, except for HEAD where
 *                      it is the object's size
 */
record S3Response(int status, List<Map.Entry<String, String>> headers, byte[] body, long contentLength) {
    private static final byte[] EMPTY = new byte[0];

    S3Response {
        headers = List.copyOf(headers);
        Objects.requireNonNull(body, "body");
    }

    static S3Response empty(int status) {
        return new S3Response(status, List.of(), EMPTY, 0);
    }

    static S3Response xml(int status, byte[] xml) {
        return new S3Response(status, List.of(Map.entry("Content-Type", "application/xml")), xml, xml.length);
    }

    static S3Response error(S3ErrorCode code, String resource, String requestId) {
        return error(code.status, code.code, code.defaultMessage, resource, requestId);
    }

    static S3Response error(S3ErrorException e, String resource, String requestId) {
        return error(e.code.status, e.code.code, e.getMessage(), resource, requestId);
    }

    static S3Response error(int status, String code, String message, String resource, String requestId) {
        byte[] xml = new XmlWriter()
                .open("Error")
                .element("Code", code)
                .element("Message", message)
                .element("Resource", resource)
                .element("RequestId", requestId)
                .close("Error")
                .toBytes();
        return xml(status, xml);
    }

    /** Builder for responses with several headers. Not thread-safe. */
    static final class Builder {
        private final int status;
        private final List<Map.Entry<String, String>> headers = new ArrayList<>();

        Builder(int status) {
            this.status = status;
        }

        Builder header(String name, String value) {
            headers.add(Map.entry(name, value));
            return this;
        }

        S3Response body(byte[] body) {
            return new S3Response(status, headers, body, body.length);
        }

        /** A HEAD answer: no body, but the Content-Length of the object. */
        S3Response headOnly(long contentLength) {
            return new S3Response(status, headers, EMPTY, contentLength);
        }

        S3Response empty() {
            return new S3Response(status, headers, EMPTY, 0);
        }
    }
}
