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
 */
public record LeaderRecord(String leaderId, long term, String url, long startVersion, long startedAtMillis) {
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
                    default -> p.skipChildren();
                }
            }
        }
        if (id == null || url == null || term < 0) {
            throw new IOException(key + ": incomplete leader record");
        }
        return new LeaderRecord(id, term, url, start, at);
    }
}
