package io.weaseldb.http;

import io.netty.handler.codec.http.DefaultHttpHeadersFactory;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.util.AsciiString;
import java.util.AbstractMap;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * A request's header table as two arrays, names and values in the order received, for the heads
 * {@link PlainRequests} decodes: filling it makes no entry objects (Netty's table makes one per
 * field), and clearing it keeps the arrays for the next request. Lookups are linear, which for
 * the few fields a request carries is as fast as hashing.
 *
 * <p>The reads are those of Netty's {@code DefaultHttpHeaders}: names compare case-insensitively;
 * {@link #contains(CharSequence, CharSequence, boolean)} compares whole values,
 * {@link #containsValue} each comma-separated, trimmed element. The reads the server makes on
 * every request ({@code get}, {@code contains}, {@code containsValue}) allocate nothing. A field
 * added through the public methods is validated as Netty's request tables validate it; the
 * decoder's own {@link #append} is not, as it takes only fields it has checked.
 *
 * <p>Not thread-safe, like any header table: its request's event loop owns it.
 */
final class FlatHeaders extends HttpHeaders {
    private static final DefaultHttpHeadersFactory VALIDATION = DefaultHttpHeadersFactory.headersFactory();

    private CharSequence[] names;
    private String[] values;
    private int size;

    FlatHeaders(int capacity) {
        names = new CharSequence[capacity];
        values = new String[capacity];
    }

    /** Adds a field the decoder checked (a token name, a value of visible characters). */
    void append(CharSequence name, String value) {
        if (size == names.length) {
            names = java.util.Arrays.copyOf(names, size * 2);
            values = java.util.Arrays.copyOf(values, size * 2);
        }
        names[size] = name;
        values[size] = value;
        size++;
    }

    private int indexOf(CharSequence name, int from) {
        for (int i = from; i < size; i++) {
            if (AsciiString.contentEqualsIgnoreCase(names[i], name)) {
                return i;
            }
        }
        return -1;
    }

    @Override
    public String get(String name) {
        return get((CharSequence) name);
    }

    @Override
    public String get(CharSequence name) {
        int i = indexOf(name, 0);
        return i < 0 ? null : values[i];
    }

    @Override
    public Integer getInt(CharSequence name) {
        String v = get(name);
        if (v == null) {
            return null;
        }
        try {
            return Integer.parseInt(v);
        } catch (NumberFormatException e) {
            return null;
        }
    }

    @Override
    public int getInt(CharSequence name, int defaultValue) {
        Integer v = getInt(name);
        return v == null ? defaultValue : v;
    }

    @Override
    public Short getShort(CharSequence name) {
        String v = get(name);
        if (v == null) {
            return null;
        }
        try {
            return Short.parseShort(v);
        } catch (NumberFormatException e) {
            return null;
        }
    }

    @Override
    public short getShort(CharSequence name, short defaultValue) {
        Short v = getShort(name);
        return v == null ? defaultValue : v;
    }

    @Override
    public Long getTimeMillis(CharSequence name) {
        String v = get(name);
        if (v == null) {
            return null;
        }
        java.util.Date d = io.netty.handler.codec.DateFormatter.parseHttpDate(v);
        return d == null ? null : d.getTime();
    }

    @Override
    public long getTimeMillis(CharSequence name, long defaultValue) {
        Long v = getTimeMillis(name);
        return v == null ? defaultValue : v;
    }

    /** How many fields are named {@code name}, without the list {@link #getAll} makes. */
    int count(CharSequence name) {
        int n = 0;
        for (int i = indexOf(name, 0); i >= 0; i = indexOf(name, i + 1)) {
            n++;
        }
        return n;
    }

    @Override
    public List<String> getAll(String name) {
        return getAll((CharSequence) name);
    }

    @Override
    public List<String> getAll(CharSequence name) {
        List<String> all = new ArrayList<>(2);
        for (int i = indexOf(name, 0); i >= 0; i = indexOf(name, i + 1)) {
            all.add(values[i]);
        }
        return all;
    }

    @Override
    public List<Map.Entry<String, String>> entries() {
        List<Map.Entry<String, String>> all = new ArrayList<>(size);
        for (int i = 0; i < size; i++) {
            all.add(new AbstractMap.SimpleImmutableEntry<>(names[i].toString(), values[i]));
        }
        return all;
    }

    @Override
    public boolean contains(String name) {
        return indexOf(name, 0) >= 0;
    }

    @Override
    public boolean contains(CharSequence name) {
        return indexOf(name, 0) >= 0;
    }

    @Override
    public boolean contains(String name, String value, boolean ignoreCase) {
        return contains((CharSequence) name, (CharSequence) value, ignoreCase);
    }

    @Override
    public boolean contains(CharSequence name, CharSequence value, boolean ignoreCase) {
        for (int i = indexOf(name, 0); i >= 0; i = indexOf(name, i + 1)) {
            if (ignoreCase ? AsciiString.contentEqualsIgnoreCase(values[i], value) : AsciiString.contentEquals(values[i], value)) {
                return true;
            }
        }
        return false;
    }

    @Override
    public boolean containsValue(CharSequence name, CharSequence value, boolean ignoreCase) {
        for (int i = indexOf(name, 0); i >= 0; i = indexOf(name, i + 1)) {
            if (hasElement(values[i], value, ignoreCase)) {
                return true;
            }
        }
        return false;
    }

    /** Whether a comma-separated element of {@code list}, trimmed, is {@code expected} (HttpHeaders' own rule). */
    static boolean hasElement(String list, CharSequence expected, boolean ignoreCase) {
        int begin = 0;
        while (true) {
            int end = list.indexOf(',', begin);
            boolean last = end < 0;
            if (last) {
                end = list.length();
            }
            int from = begin;
            int to = end;
            while (from < to && list.charAt(from) <= ' ') {
                from++;
            }
            while (to > from && list.charAt(to - 1) <= ' ') {
                to--;
            }
            if (to - from == expected.length() && list.regionMatches(ignoreCase, from, expected.toString(), 0, to - from)) {
                return true;
            }
            begin = end + 1;
            if (last || begin >= list.length()) {
                return false; // as Netty's: nothing after a last comma is an element
            }
        }
    }

    @Override
    public Iterator<Map.Entry<String, String>> iterator() {
        return entries().iterator();
    }

    @Override
    public Iterator<Map.Entry<CharSequence, CharSequence>> iteratorCharSequence() {
        List<Map.Entry<CharSequence, CharSequence>> all = new ArrayList<>(size);
        for (int i = 0; i < size; i++) {
            all.add(new AbstractMap.SimpleImmutableEntry<>(names[i], values[i]));
        }
        return all.iterator();
    }

    @Override
    public boolean isEmpty() {
        return size == 0;
    }

    @Override
    public int size() {
        return size;
    }

    @Override
    public Set<String> names() {
        Set<String> all = new LinkedHashSet<>(); // as Netty's: each spelling once, in order
        for (int i = 0; i < size; i++) {
            all.add(names[i].toString());
        }
        return all;
    }

    @Override
    public HttpHeaders add(String name, Object value) {
        return add((CharSequence) name, value);
    }

    @Override
    public HttpHeaders add(CharSequence name, Object value) {
        append(name, validated(name, value));
        return this;
    }

    /** The value as Netty's tables store it (dates in HTTP form), after checking both as they check them. */
    private static String validated(CharSequence name, Object value) {
        java.util.Objects.requireNonNull(value, "value"); // as Netty's tables
        VALIDATION.getNameValidator().validateName(name);
        String v = value instanceof java.util.Date d ? io.netty.handler.codec.DateFormatter.format(d)
                : value instanceof java.util.Calendar c ? io.netty.handler.codec.DateFormatter.format(c.getTime())
                : value instanceof CharSequence cs ? cs.toString() : String.valueOf(value);
        VALIDATION.getValueValidator().validate(v);
        return v;
    }

    @Override
    public HttpHeaders add(String name, Iterable<?> values) {
        for (Object v : values) {
            add(name, v);
        }
        return this;
    }

    @Override
    public HttpHeaders addInt(CharSequence name, int value) {
        return add(name, Integer.toString(value));
    }

    @Override
    public HttpHeaders addShort(CharSequence name, short value) {
        return add(name, Short.toString(value));
    }

    @Override
    public HttpHeaders set(String name, Object value) {
        return set((CharSequence) name, value);
    }

    @Override
    public HttpHeaders set(CharSequence name, Object value) {
        String v = validated(name, value); // a bad value leaves the table as it was
        remove(name);
        append(name, v);
        return this;
    }

    @Override
    public HttpHeaders set(String name, Iterable<?> values) {
        List<String> all = new ArrayList<>();
        for (Object v : values) {
            all.add(validated(name, v));
        }
        remove(name);
        for (String v : all) {
            append(name, v);
        }
        return this;
    }

    @Override
    public HttpHeaders setInt(CharSequence name, int value) {
        return set(name, Integer.toString(value));
    }

    @Override
    public HttpHeaders setShort(CharSequence name, short value) {
        return set(name, Short.toString(value));
    }

    @Override
    public HttpHeaders remove(String name) {
        return remove((CharSequence) name);
    }

    @Override
    public HttpHeaders remove(CharSequence name) {
        int kept = 0;
        for (int i = 0; i < size; i++) {
            if (!AsciiString.contentEqualsIgnoreCase(names[i], name)) {
                names[kept] = names[i];
                values[kept] = values[i];
                kept++;
            }
        }
        java.util.Arrays.fill(names, kept, size, null);
        java.util.Arrays.fill(values, kept, size, null);
        size = kept;
        return this;
    }

    @Override
    public HttpHeaders clear() {
        java.util.Arrays.fill(names, 0, size, null);
        java.util.Arrays.fill(values, 0, size, null);
        size = 0;
        return this;
    }
}
