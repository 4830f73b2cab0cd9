package io.weaseldb.e2e;

import java.net.URI;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.testcontainers.containers.MinIOContainer;
import org.testcontainers.junit.jupiter.Testcontainers;

/** The server against real MinIO; runs only where a Docker engine is available. */
@Testcontainers(disabledWithoutDocker = true)
class MinioServerTest extends RealS3Contract {
    static MinIOContainer minio;

    @BeforeAll
    static void start() {
        minio = new MinIOContainer("minio/minio:RELEASE.2025-04-22T22-12-26Z");
        minio.start();
    }

    @AfterAll
    static void stop() {
        if (minio != null) {
            minio.stop();
        }
    }

    @Override
    protected URI endpoint() {
        return URI.create(minio.getS3URL());
    }

    @Override
    protected String accessKey() {
        return minio.getUserName();
    }

    @Override
    protected String secretKey() {
        return minio.getPassword();
    }
}
