package io.weaseldb.http;

import io.netty.buffer.ByteBufAllocator;
import io.netty.handler.ssl.ApplicationProtocolConfig;
import io.netty.handler.ssl.OpenSsl;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslContextBuilder;
import io.netty.handler.ssl.SslProvider;
import io.netty.handler.ssl.util.InsecureTrustManagerFactory;
import io.netty.util.ReferenceCountUtil;
import io.weaseldb.config.ConfigException;
import io.weaseldb.config.WeaselConfig;
import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.cert.CertificateException;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.util.ArrayList;
import java.util.Base64;
import java.util.Date;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import javax.net.ssl.SSLEngine;
import javax.net.ssl.SSLEngineResult;
import javax.net.ssl.SSLException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The listener's TLS context, built from the PEM files of {@code [security]} and proven at
 * startup: a certificate and key that load but do not belong together would otherwise start a
 * server whose every handshake fails (logged at DEBUG only). So the built context completes an
 * in-memory handshake with itself before the listener opens, and a file that does not load gets
 * a message saying what is supported. Used once, on the thread that starts the server.
 */
public final class ServerTls {
    private static final Logger log = LoggerFactory.getLogger(ServerTls.class);
    static final String SUPPORTED = "supported: tls_cert_file a PEM certificate chain, the server's own (leaf)"
            + " certificate first; tls_key_file its private key as unencrypted PKCS#8 PEM"
            + " (-----BEGIN PRIVATE KEY-----), RSA or EC";
    private static final Pattern PEM_LABEL = Pattern.compile("-----BEGIN ([A-Z0-9 ]+)-----");
    private static final Pattern PEM_BODY =
            Pattern.compile("-----BEGIN PRIVATE KEY-----([A-Za-z0-9+/=\\s]+)-----END PRIVATE KEY-----");
    /** Far more rounds than a TLS 1.2 or 1.3 handshake takes; a handshake that needs more is stuck. */
    private static final int MAX_HANDSHAKE_ROUNDS = 32;

    /** The JDK's switch (read once, into a static, at the first server handshake) against client-initiated renegotiation. */
    static final String REJECT_RENEGOTIATION = "jdk.tls.rejectClientInitiatedRenegotiation";

    private ServerTls() {}

    /**
     * Refuses TLS 1.2 renegotiation started by a client (TLS 1.3 has none): the JDK provider allows
     * it, and each one is a full handshake the server pays for, as often as the client asks. The
     * JDK reads the property once, at its first server handshake, so this runs at the start of
     * {@code main} and again before the context is built; an operator's own {@code -D} is left as set.
     */
    public static void rejectClientRenegotiation() {
        if (System.getProperty(REJECT_RENEGOTIATION) == null) {
            System.setProperty(REJECT_RENEGOTIATION, "true");
        }
    }

    /**
     * The server's context, with the OpenSSL provider when netty-tcnative is present, else the
     * JDK's. {@code nowMillis} (wall time) decides whether the certificate is in its validity
     * period: one that is not is a WARN, since a client that checks dates refuses it.
     */
    static SslContext context(WeaselConfig.Security sec, long nowMillis) {
        rejectClientRenegotiation();
        Path cert = sec.tlsCertFile();
        Path key = sec.tlsKeyFile();
        SslContext ssl;
        try {
            ssl = SslContextBuilder.forServer(cert.toFile(), key.toFile())
                    .sslProvider(OpenSsl.isAvailable() ? SslProvider.OPENSSL : SslProvider.JDK)
                    .applicationProtocolConfig(ApplicationProtocolConfig.DISABLED)
                    .build();
            handshakeWithItself(ssl);
        } catch (SSLException | IllegalArgumentException | HandshakeFailed e) {
            // the files' own faults first: with a chain out of order, say, the key is not the first certificate's
            String why = diagnosis(cert, key);
            if (why == null && e instanceof HandshakeFailed) {
                throw new ConfigException("[security] tls_cert_file " + cert + " and tls_key_file " + key
                        + " do not work together: a TLS handshake with the server's own certificate failed ("
                        + e.getMessage() + "). Is the key the certificate's? Compare `openssl x509 -noout -pubkey -in "
                        + cert + "` with `openssl pkey -pubout -in " + key + "`", e);
            }
            throw new ConfigException("[security] cannot load TLS certificate " + cert + " / key " + key + ": "
                    + (why != null ? why : e.getMessage()) + " (" + SUPPORTED + ")", e);
        }
        warnIfNotValid(cert, nowMillis);
        return ssl;
    }

    /** The context's handshake with itself failed: the message is the TLS alert or the engine's error. */
    private static final class HandshakeFailed extends Exception {
        HandshakeFailed(String message, Throwable cause) {
            super(message, cause);
        }
    }

    /** Why the files cannot serve, when it can be told from them; null when it cannot. */
    static String diagnosis(Path cert, Path key) {
        String chain = chainOrder(cert);
        if (chain != null) {
            return chain;
        }
        String text;
        try {
            text = Files.readString(key, java.nio.charset.StandardCharsets.ISO_8859_1);
        } catch (IOException e) {
            return null;
        }
        Matcher label = PEM_LABEL.matcher(text);
        String first = null;
        String found = null; // the first block that holds a key (openssl ecparam -genkey writes EC PARAMETERS before it)
        while (found == null && label.find()) {
            first = first == null ? label.group(1) : first;
            found = label.group(1).endsWith("PRIVATE KEY") ? label.group(1) : null;
        }
        if (first == null) {
            return "tls_key_file " + key + " holds no PEM block";
        }
        if (found == null) {
            return "tls_key_file " + key + " holds no private key (its first PEM block is " + first + ")";
        }
        String convert = " (convert it: openssl pkcs8 -topk8 -nocrypt -in " + key + " -out key.pem)";
        return switch (found) {
            case "ENCRYPTED PRIVATE KEY" -> "tls_key_file " + key + " is encrypted, and the server has no passphrase"
                    + convert;
            case "RSA PRIVATE KEY", "EC PRIVATE KEY" -> "tls_key_file " + key + " is an " + found
                    + " (PKCS#1 or SEC 1), not PKCS#8" + convert;
            case "PRIVATE KEY" -> edwards(text) ? "tls_key_file " + key + " is an EdDSA (Ed25519 or Ed448) key,"
                    + " which the listener does not take: use an RSA or EC key" : null;
            default -> "tls_key_file " + key + " holds a " + found + ", which the listener does not take: use an"
                    + " unencrypted PKCS#8 RSA or EC key";
        };
    }

    /** Whether the PKCS#8 key in {@code pem} is an EdDSA key (the JDK's TLS keys are RSA and EC). */
    private static boolean edwards(String pem) {
        Matcher body = PEM_BODY.matcher(pem);
        if (!body.find()) {
            return false;
        }
        try {
            byte[] der = Base64.getMimeDecoder().decode(body.group(1));
            java.security.KeyFactory.getInstance("EdDSA").generatePrivate(new java.security.spec.PKCS8EncodedKeySpec(der));
            return true;
        } catch (IllegalArgumentException | java.security.GeneralSecurityException e) {
            return false;
        }
    }

    /**
     * What is wrong with the order of the certificates in {@code cert}, or null if they are in
     * order (each followed by its issuer) or cannot be read here (then the loader's message says it).
     */
    static String chainOrder(Path cert) {
        List<X509Certificate> chain = certificates(cert);
        for (int i = 0; i + 1 < chain.size(); i++) {
            if (!chain.get(i).getIssuerX500Principal().equals(chain.get(i + 1).getSubjectX500Principal())) {
                return "tls_cert_file " + cert + " is not in order: the server's own (leaf) certificate must come"
                        + " first, each certificate followed by the one that issued it (certificate " + (i + 1)
                        + " is " + chain.get(i).getSubjectX500Principal() + ", issued by "
                        + chain.get(i).getIssuerX500Principal() + ", but certificate " + (i + 2) + " is "
                        + chain.get(i + 1).getSubjectX500Principal() + ")";
            }
        }
        return null;
    }

    /** The certificates in {@code cert}, in file order; empty when it cannot be read as PEM certificates. */
    private static List<X509Certificate> certificates(Path cert) {
        List<X509Certificate> out = new ArrayList<>();
        try (InputStream in = Files.newInputStream(cert)) {
            for (var c : CertificateFactory.getInstance("X.509").generateCertificates(in)) {
                out.add((X509Certificate) c);
            }
        } catch (IOException | CertificateException | ClassCastException e) {
            return List.of();
        }
        return out;
    }

    /** WARN if the leaf certificate is expired or not yet valid: the server still starts (clock skew, a renewal under way). */
    private static void warnIfNotValid(Path cert, long nowMillis) {
        List<X509Certificate> chain = certificates(cert);
        if (chain.isEmpty()) {
            return;
        }
        X509Certificate leaf = chain.get(0);
        Date now = new Date(nowMillis);
        if (now.after(leaf.getNotAfter())) {
            log.warn("!!! the TLS certificate in {} ({}) EXPIRED on {}: clients that check it refuse every"
                    + " connection; renew it (docs/operations.md, TLS) !!!", cert, leaf.getSubjectX500Principal(),
                    leaf.getNotAfter().toInstant());
        } else if (now.before(leaf.getNotBefore())) {
            log.warn("!!! the TLS certificate in {} ({}) is NOT VALID BEFORE {}: clients that check it refuse"
                    + " every connection until then (or this server's clock is wrong) !!!", cert,
                    leaf.getSubjectX500Principal(), leaf.getNotBefore().toInstant());
        }
    }

    /**
     * Proves the context serves: a handshake between a server engine from it and a client that
     * trusts any certificate, over buffers in memory. It fails when the key is not the
     * certificate's (the server's signature does not verify), which loading the files does not check.
     */
    private static void handshakeWithItself(SslContext server) throws HandshakeFailed {
        SSLEngine s = server.newEngine(ByteBufAllocator.DEFAULT);
        SSLEngine c = null;
        try {
            c = SslContextBuilder.forClient().sslProvider(SslProvider.JDK)
                    .trustManager(InsecureTrustManagerFactory.INSTANCE).endpointIdentificationAlgorithm(null)
                    .build().newEngine(ByteBufAllocator.DEFAULT);
            int size = Math.max(s.getSession().getPacketBufferSize(), c.getSession().getPacketBufferSize());
            ByteBuffer toServer = ByteBuffer.allocate(4 * size);
            ByteBuffer toClient = ByteBuffer.allocate(4 * size);
            ByteBuffer app = ByteBuffer.allocate(4 * Math.max(s.getSession().getApplicationBufferSize(),
                    c.getSession().getApplicationBufferSize()));
            c.beginHandshake();
            s.beginHandshake();
            for (int round = 0; round < MAX_HANDSHAKE_ROUNDS; round++) {
                boolean moved = step(c, toServer, toClient, app);
                moved |= step(s, toClient, toServer, app);
                if (done(c) && done(s)) {
                    return;
                }
                if (!moved) {
                    throw new HandshakeFailed("the handshake stalled (" + c.getHandshakeStatus() + " / "
                            + s.getHandshakeStatus() + ")", null);
                }
            }
            throw new HandshakeFailed("the handshake did not complete in " + MAX_HANDSHAKE_ROUNDS + " rounds", null);
        } catch (SSLException | RuntimeException e) {
            throw new HandshakeFailed(e.getMessage(), e);
        } finally {
            ReferenceCountUtil.release(s);
            ReferenceCountUtil.release(c);
        }
    }

    private static boolean done(SSLEngine e) {
        var status = e.getHandshakeStatus();
        return status == SSLEngineResult.HandshakeStatus.NOT_HANDSHAKING || status == SSLEngineResult.HandshakeStatus.FINISHED;
    }

    /**
     * One engine's turn: reads every whole record the peer sent ({@code in}), then writes what
     * it has to say ({@code out}). Returns whether any bytes moved.
     */
    private static boolean step(SSLEngine e, ByteBuffer out, ByteBuffer in, ByteBuffer app) throws SSLException {
        boolean moved = false;
        in.flip();
        while (in.hasRemaining()) {
            SSLEngineResult r = e.unwrap(in, app);
            app.clear();
            runTasks(e);
            if (r.bytesConsumed() == 0) {
                break; // a partial record: the rest comes next round
            }
            moved = true;
        }
        in.compact();
        while (e.getHandshakeStatus() == SSLEngineResult.HandshakeStatus.NEED_WRAP) {
            SSLEngineResult r = e.wrap(ByteBuffer.allocate(0), out);
            runTasks(e);
            if (r.bytesProduced() == 0) {
                break;
            }
            moved = true;
        }
        return moved;
    }

    private static void runTasks(SSLEngine e) {
        for (Runnable task = e.getDelegatedTask(); task != null; task = e.getDelegatedTask()) {
            task.run();
        }
    }
}
