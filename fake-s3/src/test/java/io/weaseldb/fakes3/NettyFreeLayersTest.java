package io.weaseldb.fakes3;

import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/**
 * Storage, faults and S3 semantics must stay free of Netty: the deterministic simulation drives
 * them without a network. Only the HTTP layer (listed here) may import io.netty.
 */
class NettyFreeLayersTest {
    private static final Set<String> HTTP_LAYER = Set.of(
            "FakeS3Server.java", "S3RequestHandler.java", "RequestParser.java", "RequestBodyReader.java",
            "SigV4Verifier.java");

    @Test
    void onlyTheHttpLayerImportsNetty() throws IOException {
        Path sources = Path.of("fake-s3/src/main/java/io/weaseldb/fakes3");
        assertTrue(Files.isDirectory(sources), "run from the project root: " + sources.toAbsolutePath());
        List<String> offenders = new ArrayList<>();
        try (Stream<Path> files = Files.list(sources)) {
            for (Path f : files.filter(p -> p.toString().endsWith(".java")).toList()) {
                if (HTTP_LAYER.contains(f.getFileName().toString())) {
                    continue;
                }
                if (Files.readString(f).contains("import io.netty")) {
                    offenders.add(f.getFileName().toString());
                }
            }
        }
        assertTrue(offenders.isEmpty(), "Netty imported outside the HTTP layer: " + offenders);
    }
}
