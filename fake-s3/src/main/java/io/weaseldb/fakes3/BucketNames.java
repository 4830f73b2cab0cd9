package io.weaseldb.fakes3;

/**
 * S3's bucket naming rules (the modern, strict ones), shared by config validation and
 * CreateBucket. Valid names are also safe directory names, which the directory backend relies on.
 */
final class BucketNames {
    private BucketNames() {}

    /** Why {@code name} is not a valid bucket name, or {@code null} if it is valid. */
    static String problem(String name) {
        if (name == null) {
            return "missing";
        }
        if (name.length() < 3 || name.length() > 63) {
            return "must be 3 to 63 characters long";
        }
        for (int i = 0; i < name.length(); i++) {
            char c = name.charAt(i);
            boolean ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '-';
            if (!ok) {
                return "may contain only lowercase letters, digits, '.' and '-'";
            }
        }
        if (!isAlnum(name.charAt(0)) || !isAlnum(name.charAt(name.length() - 1))) {
            return "must begin and end with a letter or digit";
        }
        if (name.contains("..")) {
            return "must not contain two adjacent periods";
        }
        if (name.matches("\\d+\\.\\d+\\.\\d+\\.\\d+")) {
            return "must not be formatted as an IP address";
        }
        return null;
    }

    /** Throws {@link IllegalArgumentException} naming the rule {@code name} breaks, if any: what CreateBucket on a backend does. */
    static void requireValid(String name) {
        String problem = problem(name);
        if (problem != null) {
            throw new IllegalArgumentException("invalid bucket name '" + name + "': " + problem);
        }
    }

    private static boolean isAlnum(char c) {
        return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
    }
}
