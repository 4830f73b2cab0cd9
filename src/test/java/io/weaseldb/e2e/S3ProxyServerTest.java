package io.weaseldb.e2e;

import io.weaseldb.testing.S3ProxyServer;
import java.net.URI;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;

/** The server against S3Proxy, a third-party S3 implementation that runs without Docker (in CI). */
class S3ProxyServerTest extends RealS3Contract {
    static S3ProxyServer s3;

    @BeforeAll
    static void start() throws Exception {
        Assumptions.assumeTrue(S3ProxyServer.available(), "s3proxy jar not fetched (run through Maven)");
        s3 = S3ProxyServer.start();
    }

    @AfterAll
    static void stop() {
        if (s3 != null) {
            s3.close();
        }
    }

    @Override
    protected URI endpoint() {
        return s3.endpoint();
    }

    @Override
    protected String accessKey() {
        return S3ProxyServer.ACCESS_KEY;
    }

    @Override
    protected String secretKey() {
        return S3ProxyServer.SECRET_KEY;
    }
}
