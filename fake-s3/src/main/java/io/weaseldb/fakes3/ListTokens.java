package io.weaseldb.fakes3;

import java.nio.charset.StandardCharsets;
import java.util.Base64;

/**
 * ListObjectsV2 continuation tokens: opaque to clients, here the base64url of a version tag and the
 * last key of the previous page. Clients must not build them; a token that does not decode is
 * rejected like S3 does.
 */
final class ListTokens {
    private static final String TAG = "wdb1:";

    private ListTokens() {}

    static String encode(String lastKey) {
        return Base64.getUrlEncoder().withoutPadding()
                .encodeToString((TAG + lastKey).getBytes(StandardCharsets.UTF_8));
    }

    /** The key to continue after. @throws S3ErrorException InvalidArgument for a foreign token */
    static String decode(String token) {
        try {
            String s = new String(Base64.getUrlDecoder().decode(token), StandardCharsets.UTF_8);
            if (s.startsWith(TAG)) {
                return s.substring(TAG.length());
            }
        } catch (IllegalArgumentException e) {
            // fall through
        }
        throw new S3ErrorException(S3ErrorCode.INVALID_ARGUMENT, "The continuation token provided is incorrect");
    }
}
