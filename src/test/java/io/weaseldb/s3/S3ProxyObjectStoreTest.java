package io.weaseldb.s3;

import io.weaseldb.testing.S3ProxyServer;
import java.net.URI;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;

/** The object-store contract against S3Proxy, a third-party S3 implementation (no Docker needed). */
class S3ProxyObjectStoreTest extends ObjectStoreContract {
    static S3ProxyServer server;

    @BeforeAll
    static void startServer() throws Exception {
        Assumptions.assumeTrue(S3ProxyServer.available(), "s3proxy jar not fetched (run through Maven)");
        server = S3ProxyServer.start();
    }

    @AfterAll
    static void stopServer() {
        if (server != null) {
            server.close();
        }
    }

    @Override
    protected URI endpoint() {
        return server.endpoint();
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
