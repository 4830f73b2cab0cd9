package io.weaseldb.http;

import io.netty.handler.codec.http.DefaultHttpHeaders;
import io.netty.handler.codec.http.DefaultHttpHeadersFactory;
import io.netty.handler.codec.http.EmptyHttpHeaders;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.handler.codec.http.HttpHeadersFactory;

/**
 * Header tables with a few buckets instead of Netty's 16, for the tables made per request: a
 * request's headers, an answer's (two to four); a request body's trailers are dropped. Names and
 * values are validated as Netty's own factory for that kind of table does. Not thread-safe, like
 * any header table.
 */
final class SmallHeaders extends DefaultHttpHeaders {
    private static final DefaultHttpHeadersFactory HEADERS = DefaultHttpHeadersFactory.headersFactory();
    private static final DefaultHttpHeadersFactory TRAILERS = DefaultHttpHeadersFactory.trailersFactory();

    /**
     * For the HTTP decoder's trailers (HttpDecoderConfig.setTrailersFactory): every request body's
     * trailers go to {@link DroppedTrailers}. No request's trailers are read, and the decoder made
     * a table (~180 bytes) for every body sent with a Content-Length, which cannot have any.
     */
    static final HttpHeadersFactory TRAILERS_FACTORY = new HttpHeadersFactory() {
        @Override
        public HttpHeaders newHeaders() {
            return DroppedTrailers.INSTANCE;
        }

        @Override
        public HttpHeaders newEmptyHeaders() {
            return TRAILERS.newEmptyHeaders();
        }
    };

    /**
     * For the HTTP decoder's request headers (HttpDecoderConfig.setHeadersFactory): 8 buckets, for
     * the 3 to 10 headers clients send (Netty's 16-bucket array alone was ~140 bytes per request).
     */
    static final HttpHeadersFactory REQUEST_FACTORY = new HttpHeadersFactory() {
        @Override
        public HttpHeaders newHeaders() {
            return new SmallHeaders(HEADERS, 8);
        }

        @Override
        public HttpHeaders newEmptyHeaders() {
            return HEADERS.newEmptyHeaders();
        }
    };

    private SmallHeaders(DefaultHttpHeadersFactory validation, int buckets) {
        super(validation.getNameValidator(), validation.getValueValidator(), buckets);
    }

    /** Headers of an answer. */
    static SmallHeaders answer() {
        return new SmallHeaders(HEADERS, 4);
    }

    /**
     * Trailer fields, validated as Netty's trailer tables validate them (a field a trailer may not
     * carry, or an invalid name or value, still fails the request) and then dropped. Always empty,
     * so one instance serves every connection; every other change throws, as an empty table's does.
     */
    static final class DroppedTrailers extends EmptyHttpHeaders {
        static final DroppedTrailers INSTANCE = new DroppedTrailers();

        private DroppedTrailers() {}

        @Override
        public HttpHeaders add(String name, Object value) {
            TRAILERS.getNameValidator().validateName(name);
            TRAILERS.getValueValidator().validate(value instanceof CharSequence cs ? cs : String.valueOf(value));
            return this;
        }
    }
}
