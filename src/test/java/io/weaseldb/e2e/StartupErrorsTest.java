package io.weaseldb.e2e;

import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.weaseldb.testing.TestServer;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/** A server that cannot start says why, naming the address and the settings that chose it. */
@Timeout(60)
class StartupErrorsTest {
    @TempDir
    Path dir;

    @Test
    void aPortInUseIsNamedInTheStartupError() throws Exception {
        try (ServerSocket taken = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            int port = taken.getLocalPort();
            Exception e = assertThrows(Exception.class,
                    () -> TestServer.start(dir, "[server]\nhost = \"127.0.0.1\"\nport = " + port + "\n"));
            assertTrue(e.getMessage().startsWith("cannot listen on 127.0.0.1:" + port + " ([server] host and port"),
                    e.getMessage());
            assertTrue(e.getMessage().contains("Address already in use"), e.getMessage());
        }
    }

    @Test
    void aHostThatDoesNotResolveIsNamedInTheStartupError() {
        Exception e = assertThrows(Exception.class,
                () -> TestServer.start(dir, "[server]\nhost = \"no such host.invalid\"\nport = 0\n"));
        assertTrue(e.getMessage().startsWith("cannot listen on no such host.invalid:0 ([server] host and port"),
                String.valueOf(e.getMessage()));
        assertTrue(e.getMessage().endsWith("the host does not resolve"), e.getMessage());
    }
}
