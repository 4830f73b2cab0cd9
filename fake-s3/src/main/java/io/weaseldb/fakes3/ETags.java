package io.weaseldb.fakes3;

/** ETag comparison as S3 does it for conditional requests: quotes are optional on the client side. */
final class ETags {
    private ETags() {}

    static String unquote(String etag) {
        String t = etag.trim();
        if (t.startsWith("W/")) {
            t = t.substring(2);
        }
        if (t.length() >= 2 && t.startsWith("\"") && t.endsWith("\"")) {
            return t.substring(1, t.length() - 1);
        }
        return t;
    }

    static boolean equal(String a, String b) {
        return unquote(a).equals(unquote(b));
    }

    /** Whether a comma-separated {@code If-Match}/{@code If-None-Match} list contains {@code etag}. */
    static boolean listContains(String headerValue, String etag) {
        for (String item : headerValue.split(",")) {
            String t = item.trim();
            if (t.equals("*") || (!t.isEmpty() && equal(t, etag))) {
                return true;
            }
        }
        return false;
    }
}
