package io.weaseldb;

import io.weaseldb.config.WeaselConfig;
import java.net.URI;

/** The in-process fake S3 used when no endpoint is configured. PLACEHOLDER until fake-s3 lands. */
final class EmbeddedS3 implements AutoCloseable {
    static final String ACCESS_KEY = "weaseldb";
    static final String SECRET_KEY = "weaseldb-embedded";

    static EmbeddedS3 start(WeaselConfig.S3 s3) {
        throw new UnsupportedOperationException("embedded fake S3 not yet available; configure [s3].endpoint");
    }

    URI endpoint() {
        throw new UnsupportedOperationException();
    }

    @Override
    public void close() {}
}
