package io.weaseldb.time;

import java.time.LocalDateTime;
import java.time.ZoneOffset;

/** Wall-clock timestamps as the API writes them: ISO-8601 UTC with milliseconds. Stateless. */
public final class Timestamps {
    private Timestamps() {}

    /** e.g. {@code 2026-11-22T20:27:42.555Z}. */
    public static String iso(long epochMillis) {
        LocalDateTime t = LocalDateTime.ofEpochSecond(Math.floorDiv(epochMillis, 1000),
                (int) Math.floorMod(epochMillis, 1000) * 1_000_000, ZoneOffset.UTC);
        char[] c = new char[24];
        put(c, 0, t.getYear(), 4);
        c[4] = '-';
        put(c, 5, t.getMonthValue(), 2);
        c[7] = '-';
        put(c, 8, t.getDayOfMonth(), 2);
        c[10] = 'T';
        put(c, 11, t.getHour(), 2);
        c[13] = ':';
        put(c, 14, t.getMinute(), 2);
        c[16] = ':';
        put(c, 17, t.getSecond(), 2);
        c[19] = '.';
        put(c, 20, t.getNano() / 1_000_000, 3);
        c[23] = 'Z';
        return new String(c);
    }

    /** Parses what {@link #iso} writes (any ISO-8601 instant). */
    public static long parse(String iso) {
        return java.time.Instant.parse(iso).toEpochMilli();
    }

    private static void put(char[] c, int at, int value, int digits) {
        for (int i = at + digits - 1; i >= at; i--) {
            c[i] = (char) ('0' + value % 10);
            value /= 10;
        }
    }
}
