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
                throw new ConfigException("unknown configuration key " + key(k));
            }
        }
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
