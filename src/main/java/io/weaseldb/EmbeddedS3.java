package io.weaseldb;

import io.weaseldb.config.ConfigException;
import io.weaseldb.config.WeaselConfig;
import io.weaseldb.fakes3.FakeS3Config;
import io.weaseldb.fakes3.FakeS3Server;
import io.weaseldb.fakes3.FaultRule;
import java.net.URI;
import java.util.ArrayList;
import java.util.List;

/**
 * The in-process fake S3 that the server starts when no S3 endpoint is configured: zero-setup
 * development, with the log in a directory ({@code [s3].data_dir}, fsync before every answer).
 * It checks request signatures like real S3 does, with fixed local credentials.
 */
final class EmbeddedS3 implements AutoCloseable {
    static final String ACCESS_KEY = "weaseldb-embedded";
    static final String SECRET_KEY = "weaseldb-embedded-secret";

    private final FakeS3Server server;

    private EmbeddedS3(FakeS3Server server) {
        this.server = server;
    }

    /** The fault rules of {@code [s3] fake_faults}; a rule that does not parse is a configuration error. */
    static List<FaultRule> faultRules(WeaselConfig.S3 s3) {
        List<FaultRule> faults = new ArrayList<>();
        for (int i = 0; i < s3.fakeFaults().size(); i++) {
            try {
                faults.add(FaultRule.parse(s3.fakeFaults().get(i)));
            } catch (IllegalArgumentException e) {
                throw new ConfigException("[s3].fake_faults[" + i + "]: " + e.getMessage());
            }
        }
        return faults;
    }

    static EmbeddedS3 start(WeaselConfig.S3 s3) throws InterruptedException {
        List<FaultRule> faults = faultRules(s3);
        FakeS3Config config = FakeS3Config.builder()
                .host("127.0.0.1")
                .port(s3.fakePort())
                .dataDir(s3.dataDir())
                .fsync(s3.fsync())
                .layout(io.weaseldb.fakes3.DataLayout.fromConfigName(s3.fakeLayout()).orElseThrow())
                .credentials(ACCESS_KEY, SECRET_KEY)
                .bucket(s3.bucket())
                .faults(faults)
                .build();
        return new EmbeddedS3(FakeS3Server.start(config));
    }

    URI endpoint() {
        return server.endpoint();
    }

    FakeS3Server server() {
        return server;
    }

    @Override
    public void close() {
        server.close();
    }
}
