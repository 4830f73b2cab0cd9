package io.weaseldb.log;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonGenerator;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import java.io.ByteArrayOutputStream;
import java.io.IOException;

/**
 * Who leads which term, and where clients reach it: {@code leader/<20-digit term>}, written by a
 * new leader right after its claim wins. Standbys read the newest one to name the leader in
 * their 503 answers. Informational only: leadership itself is decided by the log's conditional
 * writes, never by this record.
 *
 * <p>{@code maxInFlightPuts} is the leader's setting (0 in records written before it was
 * recorded): how many of its log writes can be in flight at once, so how far back from the log's
 * end its holes can lie. A server recovering the log, or a standby finding its end, widens its
 * window to cover it when the leader's setting was larger than its own ({@link #recoveryWindow}).
 */
public record LeaderRecord(String leaderId, long term, String url, long startVersion, long startedAtMillis,
                           int maxInFlightPuts) {
    /**
     * The recovery window for a server with {@code maxInFlightPuts} log writes in flight: how many
     * of the newest log objects recovery walks (LogRecovery). Holes and orphans of a term lie among
     * its last {@code maxInFlightPuts} objects; four times that leaves room for objects listed
     * out of order by a slow store.
     */
    public static int recoveryWindow(int maxInFlightPuts) {
        return Math.max(64, 4 * maxInFlightPuts);
    }

    /** The window that covers both this server's writes and those of the leader of {@code record}, if known. */
    public static int recoveryWindow(int ownMaxInFlightPuts, LeaderRecord record) {
        int own = recoveryWindow(ownMaxInFlightPuts);
        if (record == null || record.maxInFlightPuts() <= 0) {
            return own;
        }
        // read from storage: held to the setting's own range (config: 1 to 1024)
        return Math.max(own, recoveryWindow(Math.min(MAX_IN_FLIGHT_PUTS, record.maxInFlightPuts())));
    }

    /** The largest {@code max_in_flight_puts} a server accepts (ConfigLoader). */
    static final int MAX_IN_FLIGHT_PUTS = 1024;

    private static final JsonFactory FACTORY = new JsonFactory();

    public byte[] encode() {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        try (JsonGenerator g = FACTORY.createGenerator(out)) {
            g.writeStartObject();
            g.writeStringField("leader_id", leaderId);
            g.writeNumberField("term", term);
            g.writeStringField("url", url);
            g.writeNumberField("start_version", startVersion);
            g.writeNumberField("started_at", startedAtMillis);
            g.writeNumberField("max_in_flight_puts", maxInFlightPuts);
            g.writeEndObject();
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
        return out.toByteArray();
    }

    public static LeaderRecord decode(String key, byte[] json) throws IOException {
        String id = null;
        String url = null;
        long term = -1;
        long start = -1;
        long at = 0;
        int inFlight = 0;
        try (JsonParser p = FACTORY.createParser(json)) {
            if (p.nextToken() != JsonToken.START_OBJECT) {
                throw new IOException(key + ": not a leader record");
            }
            while (p.nextToken() == JsonToken.FIELD_NAME) {
                String name = p.currentName();
                p.nextToken();
                switch (name) {
                    case "leader_id" -> id = p.getText();
                    case "url" -> url = p.getText();
                    case "term" -> term = p.getLongValue();
                    case "start_version" -> start = p.getLongValue();
                    case "started_at" -> at = p.getLongValue();
                    case "max_in_flight_puts" -> inFlight = p.getIntValue();
                    default -> p.skipChildren();
                }
            }
        }
        if (id == null || url == null || term < 0) {
            throw new IOException(key + ": incomplete leader record");
        }
        return new LeaderRecord(id, term, url, start, at, Math.max(0, inFlight));
    }
}
