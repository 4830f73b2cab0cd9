package io.weaseldb.bench;

import java.time.LocalDate;

/** Parses the fixed-width UTC timestamps the server writes ({@code 2026-11-22T20:27:42.555Z}) without allocating. */
final class IsoMillis {
    private IsoMillis() {}

    /** Epoch milliseconds of the 24-byte timestamp at {@code at}, or -1 if it is not one. */
    static long parse(byte[] b, int at) {
        if (b.length < at + 24 || b[at + 4] != '-' || b[at + 10] != 'T' || b[at + 19] != '.' || b[at + 23] != 'Z') {
            return -1;
        }
        int year = digits(b, at, 4);
        int month = digits(b, at + 5, 2);
        int day = digits(b, at + 8, 2);
        int hour = digits(b, at + 11, 2);
        int minute = digits(b, at + 14, 2);
        int second = digits(b, at + 17, 2);
        int millis = digits(b, at + 20, 3);
        if (year < 0 || month < 1 || month > 12 || day < 1 || day > 31 || hour < 0 || minute < 0 || second < 0 || millis < 0) {
            return -1;
        }
        long days;
        try {
            days = LocalDate.of(year, month, day).toEpochDay();
        } catch (java.time.DateTimeException e) {
            return -1;
        }
        return ((days * 24 + hour) * 60 + minute) * 60_000L + second * 1000L + millis;
    }

    private static int digits(byte[] b, int at, int n) {
        int v = 0;
        for (int i = at; i < at + n; i++) {
            if (b[i] < '0' || b[i] > '9') {
                return -1;
            }
            v = v * 10 + (b[i] - '0');
        }
        return v;
    }
}
