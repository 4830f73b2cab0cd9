package io.weaseldb.config;

import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import org.tomlj.TomlArray;
import org.tomlj.TomlTable;

/**
 * Typed, validating reads of one TOML table. Every key read is remembered so that
 * {@link #rejectUnknownKeys()} can fail startup on typos instead of silently using a default.
 * Used only while loading configuration, on the main thread.
 */
final class TomlSection {
    private final String name;
    private final TomlTable table; // null when the section is absent
    private final Set<String> known = new HashSet<>();

    TomlSection(String name, TomlTable table) {
        this.name = name;
        this.table = table;
    }

    String key(String key) {
        return "[" + name + "]." + key;
    }

    private Object raw(String key) {
        known.add(key);
        if (table == null || !table.contains(List.of(key))) {
            return null;
        }
        return table.get(List.of(key));
    }

    long getLong(String key, long def, long min, long max) {
        Object v = raw(key);
        if (v == null) {
            return def;
        }
        if (!(v instanceof Long l)) {
            throw new ConfigException(key(key) + " must be an integer, got " + describe(v));
        }
        if (l < min || l > max) {
            throw new ConfigException(key(key) + " must be between " + min + " and " + max + ", got " + l);
        }
        return l;
    }

    int getInt(String key, int def, int min, int max) {
        return (int) getLong(key, def, min, max);
    }

    double getDouble(String key, double def, double min, double max) {
        Object v = raw(key);
        if (v == null) {
            return def;
        }
        double d;
        if (v instanceof Double x) {
            d = x;
        } else if (v instanceof Long l) {
            d = l;
        } else {
            throw new ConfigException(key(key) + " must be a number, got " + describe(v));
        }
        if (!(d >= min && d <= max)) {
            throw new ConfigException(key(key) + " must be between " + min + " and " + max + ", got " + d);
        }
        return d;
    }

    boolean getBoolean(String key, boolean def) {
        Object v = raw(key);
        if (v == null) {
            return def;
        }
        if (!(v instanceof Boolean b)) {
            throw new ConfigException(key(key) + " must be true or false, got " + describe(v));
        }
        return b;
    }

    String getString(String key, String def) {
        Object v = raw(key);
        if (v == null) {
            return def;
        }
        if (!(v instanceof String s)) {
            // a secret given with the wrong type is still a secret: its type only
            boolean secret = SECRETS.contains(key);
            throw new ConfigException(key(key) + " must be a string, got " + (secret ? kind(v) : describe(v)));
        }
        return s;
    }

    /** Keys whose values are never shown in an error. */
    private static final java.util.Set<String> SECRETS = java.util.Set.of("token", "token_sha256", "secret_access_key");

    private static String kind(Object v) {
        return v instanceof TomlTable ? "a table" : v instanceof TomlArray ? "an array"
                : "a value of type " + v.getClass().getSimpleName().toLowerCase(java.util.Locale.ROOT);
    }

    List<String> getStringList(String key, List<String> def) {
        Object v = raw(key);
        if (v == null) {
            return def;
        }
        if (!(v instanceof TomlArray a)) {
            throw new ConfigException(key(key) + " must be an array of strings, got " + describe(v));
        }
        List<String> out = new ArrayList<>();
        for (int i = 0; i < a.size(); i++) {
            if (!(a.get(i) instanceof String s)) {
                throw new ConfigException(key(key) + "[" + i + "] must be a string, got " + describe(a.get(i)));
            }
            out.add(s);
        }
        return List.copyOf(out);
    }

    /** The array of tables under {@code key} (e.g. {@code [[s3.fake_fault]]}), each as a section. */
    List<TomlSection> getTableList(String key) {
        Object v = raw(key);
        if (v == null) {
            return List.of();
        }
        if (!(v instanceof TomlArray a)) {
            throw new ConfigException(key(key) + " must be an array of tables ([[" + name + "." + key + "]])");
        }
        List<TomlSection> out = new ArrayList<>();
        for (int i = 0; i < a.size(); i++) {
            if (!(a.get(i) instanceof TomlTable t)) {
                throw new ConfigException(key(key) + " must be an array of tables ([[" + name + "." + key + "]])");
            }
            out.add(new TomlSection(name + "." + key + "[" + i + "]", t));
        }
        return out;
    }

    void rejectUnknownKeys() {
        if (table == null) {
            return;
        }
        for (String k : table.keySet()) {
            if (!known.contains(k)) {
                String near = nearest(k);
                throw new ConfigException("unknown configuration key " + key(k)
                        + (near == null ? "" : " (did you mean " + near + "?)"));
            }
        }
    }

    /** The section's key closest to {@code k} by edit distance, if it is a likely typo of it; else null. */
    private String nearest(String k) {
        String best = null;
        int bestDistance = Integer.MAX_VALUE;
        for (String candidate : new java.util.TreeSet<>(known)) {
            int d = editDistance(k.toLowerCase(java.util.Locale.ROOT), candidate);
            if (d < bestDistance) {
                best = candidate;
                bestDistance = d;
            }
        }
        // a typo, not another word: at most 2 edits, and fewer than a third of the key
        return best != null && bestDistance <= Math.min(2, Math.max(1, best.length() / 3)) ? best : null;
    }

    /** Edit distance counting a swap of two neighbours as one edit (optimal string alignment): the usual typos. */
    static int editDistance(String a, String b) {
        int[][] d = new int[a.length() + 1][b.length() + 1];
        for (int i = 0; i <= a.length(); i++) {
            d[i][0] = i;
        }
        for (int j = 0; j <= b.length(); j++) {
            d[0][j] = j;
        }
        for (int i = 1; i <= a.length(); i++) {
            for (int j = 1; j <= b.length(); j++) {
                int cost = a.charAt(i - 1) == b.charAt(j - 1) ? 0 : 1;
                d[i][j] = Math.min(d[i - 1][j - 1] + cost, Math.min(d[i - 1][j], d[i][j - 1]) + 1);
                if (i > 1 && j > 1 && a.charAt(i - 1) == b.charAt(j - 2) && a.charAt(i - 2) == b.charAt(j - 1)) {
                    d[i][j] = Math.min(d[i][j], d[i - 2][j - 2] + 1);
                }
            }
        }
        return d[a.length()][b.length()];
    }

    private static String describe(Object v) {
        if (v instanceof TomlTable) {
            return "a table";
        }
        if (v instanceof TomlArray) {
            return "an array";
        }
        if (v instanceof String s) {
            return "string " + ConfigLoader.quoted(s); // escaped: the error stays one line
        }
        return v.getClass().getSimpleName().toLowerCase(java.util.Locale.ROOT) + " " + v;
    }
}
