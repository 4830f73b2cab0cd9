package io.weaseldb.http;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import io.netty.handler.ssl.util.SelfSignedCertificate;
import io.weaseldb.config.ConfigException;
import io.weaseldb.config.WeaselConfig;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyPairGenerator;
import java.util.Base64;
import java.util.List;
import java.util.function.Supplier;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The listener's TLS files: what loads, what stops startup and with which message, what is a WARN. */
class ServerTlsTest {
    @TempDir
    Path dir;
    SelfSignedCertificate one;
    SelfSignedCertificate other;

    @BeforeEach
    void certificates() throws Exception {
        one = new SelfSignedCertificate("localhost");
        other = new SelfSignedCertificate("other.example");
    }

    @AfterEach
    void delete() {
        one.delete();
        other.delete();
    }

    private static WeaselConfig.Security tls(Path cert, Path key) {
        return new WeaselConfig.Security(List.of(), cert, key);
    }

    private Path copy(java.io.File f, String name) throws Exception {
        return Files.copy(f.toPath(), dir.resolve(name));
    }

    private Path write(String name, String text) throws Exception {
        return Files.writeString(dir.resolve(name), text, StandardCharsets.US_ASCII);
    }

    private static String pem(String label, byte[] der) {
        return "-----BEGIN " + label + "-----\n" + Base64.getMimeEncoder(64, "\n".getBytes(StandardCharsets.US_ASCII))
                .encodeToString(der) + "\n-----END " + label + "-----\n";
    }

    private static String error(Path cert, Path key) {
        return assertThrows(ConfigException.class, () -> ServerTls.context(tls(cert, key), System.currentTimeMillis()))
                .getMessage();
    }

    @Test
    void aCertificateAndItsKeyServe() throws Exception {
        assertNotNull(ServerTls.context(tls(copy(one.certificate(), "c.pem"), copy(one.privateKey(), "k.pem")),
                System.currentTimeMillis()));
    }

    @Test
    void aKeyThatIsNotTheCertificatesStopsStartupNamingBothFiles() throws Exception {
        // it loads: before the check the server started, said HTTPS, and failed every handshake
        Path cert = copy(one.certificate(), "c.pem");
        Path key = copy(other.privateKey(), "k.pem");
        String e = error(cert, key);
        assertTrue(e.startsWith("[security] tls_cert_file " + cert + " and tls_key_file " + key
                + " do not work together: a TLS handshake with the server's own certificate failed"), e);
        assertTrue(e.contains("Is the key the certificate's?"), e);
    }

    @Test
    void anEncryptedKeySaysSoAndWhatIsSupported() throws Exception {
        // the PKCS#8 EncryptedPrivateKeyInfo of the key, as `openssl pkcs8 -topk8` writes it with a passphrase
        var encryptor = new org.bouncycastle.openssl.jcajce.JceOpenSSLPKCS8EncryptorBuilder(
                org.bouncycastle.openssl.PKCS8Generator.AES_256_CBC).setProvider(new org.bouncycastle.jce.provider.BouncyCastleProvider())
                .setPassword("secret".toCharArray()).build();
        byte[] der = new org.bouncycastle.openssl.jcajce.JcaPKCS8Generator(one.key(), encryptor).generate().getContent();
        Path key = write("k.pem", pem("ENCRYPTED PRIVATE KEY", der));
        String e = error(copy(one.certificate(), "c.pem"), key);
        assertTrue(e.startsWith("[security] cannot load TLS certificate "), e);
        assertTrue(e.contains("tls_key_file " + key + " is encrypted, and the server has no passphrase"
                + " (convert it: openssl pkcs8 -topk8 -nocrypt"), e);
        assertTrue(e.endsWith("(" + ServerTls.SUPPORTED + ")"), e);
        assertTrue(ServerTls.SUPPORTED.contains("unencrypted PKCS#8") && ServerTls.SUPPORTED.contains("RSA or EC"));
    }

    @Test
    void anEd25519KeyIsNamedAsUnsupported() throws Exception {
        var pair = KeyPairGenerator.getInstance("Ed25519").generateKeyPair();
        Path key = write("k.pem", pem("PRIVATE KEY", pair.getPrivate().getEncoded()));
        String e = error(copy(one.certificate(), "c.pem"), key);
        assertTrue(e.contains("is an EdDSA (Ed25519 or Ed448) key, which the listener does not take: use an RSA or EC key"), e);
        assertTrue(e.endsWith("(" + ServerTls.SUPPORTED + ")"), e);
    }

    @Test
    void aChainOutOfOrderSaysTheLeafComesFirst() throws Exception {
        // the key's own certificate second: the loader said only "failed to initialize the server-side SSL context"
        Path cert = write("c.pem", Files.readString(other.certificate().toPath()) + Files.readString(one.certificate().toPath()));
        String e = error(cert, copy(one.privateKey(), "k.pem"));
        assertTrue(e.contains("tls_cert_file " + cert + " is not in order: the server's own (leaf) certificate must come first"), e);
        assertTrue(e.contains("leaf) certificate first"), e);
    }

    @Test
    void aCertificateOutsideItsValidityPeriodIsAWarning() throws Exception {
        var logger = (ch.qos.logback.classic.Logger) org.slf4j.LoggerFactory.getLogger(ServerTls.class);
        var events = new ListAppender<ILoggingEvent>();
        events.start();
        logger.addAppender(events);
        try {
            Path cert = copy(one.certificate(), "c.pem");
            Path key = copy(one.privateKey(), "k.pem");
            Supplier<List<String>> warnings = () -> events.list.stream()
                    .filter(ev -> ev.getLevel() == ch.qos.logback.classic.Level.WARN)
                    .map(ILoggingEvent::getFormattedMessage).toList();
            ServerTls.context(tls(cert, key), System.currentTimeMillis());
            assertEquals(List.of(), warnings.get());
            ServerTls.context(tls(cert, key), one.cert().getNotAfter().getTime() + 1_000); // it still serves
            assertEquals(1, warnings.get().size());
            assertTrue(warnings.get().get(0).startsWith("!!! the TLS certificate in " + cert), warnings.get().toString());
            assertTrue(warnings.get().get(0).contains(") EXPIRED on "), warnings.get().toString());
            ServerTls.context(tls(cert, key), one.cert().getNotBefore().getTime() - 1_000);
            assertTrue(warnings.get().get(1).contains(") is NOT VALID BEFORE "), warnings.get().toString());
        } finally {
            logger.detachAppender(events);
        }
    }

    /**
     * Review 23: openssl ecparam -genkey writes an EC PARAMETERS block before the SEC 1 key, and
     * the diagnosis looked at the first block only ("starts with a EC PARAMETERS block, not a
     * private key", no hint how to convert it).
     */
    @Test
    void aKeyFileWithParametersBeforeTheKeyIsDiagnosedByItsKey(@org.junit.jupiter.api.io.TempDir java.nio.file.Path dir)
            throws Exception {
        java.nio.file.Path key = dir.resolve("key.pem");
        java.nio.file.Files.writeString(key, "-----BEGIN EC PARAMETERS-----\nBggqhkjOPQMBBw==\n-----END EC PARAMETERS-----\n"
                + "-----BEGIN EC PRIVATE KEY-----\nAAAA\n-----END EC PRIVATE KEY-----\n");
        String why = ServerTls.diagnosis(dir.resolve("no-cert.pem"), key);
        org.junit.jupiter.api.Assertions.assertNotNull(why);
        org.junit.jupiter.api.Assertions.assertTrue(why.contains("is an EC PRIVATE KEY (PKCS#1 or SEC 1), not PKCS#8")
                && why.contains("openssl pkcs8 -topk8"), why);
    }

    /** Each client-started TLS 1.2 renegotiation is a full handshake the server pays for: refused unless the operator says otherwise. */
    @Test
    void clientRenegotiationIsRefusedUnlessTheOperatorSetItThemselves() {
        String before = System.getProperty(ServerTls.REJECT_RENEGOTIATION);
        try {
            System.clearProperty(ServerTls.REJECT_RENEGOTIATION);
            ServerTls.rejectClientRenegotiation();
            assertEquals("true", System.getProperty(ServerTls.REJECT_RENEGOTIATION));
            System.setProperty(ServerTls.REJECT_RENEGOTIATION, "false"); // an operator's -D
            ServerTls.rejectClientRenegotiation();
            assertEquals("false", System.getProperty(ServerTls.REJECT_RENEGOTIATION));
        } finally {
            if (before == null) {
                System.clearProperty(ServerTls.REJECT_RENEGOTIATION);
            } else {
                System.setProperty(ServerTls.REJECT_RENEGOTIATION, before);
            }
        }
    }
}
