package io.weaseldb.fakes3;

import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;

/** The hashes S3 speaks (MD5 ETags, SHA-256 payload hashes, HMAC-SHA256 signatures) and hex. */
final class Digests {
    static final HexFormat HEX = HexFormat.of();

    private Digests() {}

    static MessageDigest md5() {
        return digest("MD5");
    }

    static MessageDigest sha256() {
        return digest("SHA-256");
    }

    static MessageDigest digest(String algorithm) {
        try {
            return MessageDigest.getInstance(algorithm);
        } catch (NoSuchAlgorithmException e) {
            // Every JDK ships MD5, SHA-1 and SHA-256.
            throw new AssertionError(algorithm + " missing from the JDK", e);
        }
    }

    /** One MD5 per thread for ETags: looking a digest up in the providers costs more than hashing a small object. */
    private static final ThreadLocal<MessageDigest> ETAG_MD5 = ThreadLocal.withInitial(Digests::md5);

    /** The S3 ETag of a single-part object: the quoted lowercase hex MD5 of its content. */
    static String etag(byte[] content, int offset, int length) {
        MessageDigest md5 = ETAG_MD5.get(); // digest() below resets it for the next use
        md5.update(content, offset, length);
        return '"' + HEX.formatHex(md5.digest()) + '"';
    }

    static String etag(byte[] content) {
        return etag(content, 0, content.length);
    }

    static byte[] sha256(byte[] data, int offset, int length) {
        MessageDigest d = sha256();
        d.update(data, offset, length);
        return d.digest();
    }

    static String sha256Hex(String text) {
        return hex(sha256().digest(text.getBytes(StandardCharsets.UTF_8)));
    }

    static byte[] hmacSha256(byte[] key, String data) {
        try {
            Mac mac = Mac.getInstance("HmacSHA256");
            mac.init(new SecretKeySpec(key, "HmacSHA256"));
            return mac.doFinal(data.getBytes(StandardCharsets.UTF_8));
        } catch (GeneralSecurityException e) {
            throw new AssertionError("HmacSHA256 missing from the JDK", e);
        }
    }

    static String hex(byte[] bytes) {
        return HEX.formatHex(bytes);
    }

    /** Whether {@code s} is exactly 64 lowercase or uppercase hex digits. */
    static boolean isSha256Hex(String s) {
        if (s == null || s.length() != 64) {
            return false;
        }
        for (int i = 0; i < s.length(); i++) {
            if (Character.digit(s.charAt(i), 16) < 0) {
                return false;
            }
        }
        return true;
    }
}
