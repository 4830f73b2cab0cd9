package io.weaseldb.retention;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.JsonToken;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.weaseldb.json.BadRequestException;
import io.weaseldb.json.JsonWriter;
import io.weaseldb.time.Timestamps;
import java.io.IOException;

/**
 * JSON of retention policies: the API body of {@code PUT}, the API representation, and the
 * stored form in S3 (the same document as the API returns). Stateless; thread-safe.
 */
public final class PolicyCodec {
    private static final JsonFactory FACTORY = new JsonFactory();

    private PolicyCodec() {}

    /** What a PUT asks for. */
    public record Request(long version, Long ttlSeconds) {}

    /**
     * Parses a PUT body: {@code {"version": V, "ttl_seconds": T}} (ttl optional, unknown fields
     * ignored). A known field given twice is refused, as in commits, rather than the last one winning.
     */
    public static Request parseRequest(byte[] body) throws BadRequestException {
        Long version = null;
        Long ttl = null;
        boolean ttlSeen = false;
        int bad = io.weaseldb.json.Utf8Check.firstInvalid(body);
        if (bad >= 0) {
            throw new BadRequestException("malformed JSON: invalid UTF-8 (at byte " + bad + ")");
        }
        try (JsonParser p = FACTORY.createParser(body)) {
            if (p.nextToken() != JsonToken.START_OBJECT) {
                throw new BadRequestException("the body must be a JSON object like {\"version\": 123, \"ttl_seconds\": 86400}");
            }
            JsonToken t;
            while ((t = p.nextToken()) == JsonToken.FIELD_NAME) {
                String name = p.currentName();
                JsonToken v = p.nextToken();
                if ((name.equals("version") && version != null) || (name.equals("ttl_seconds") && ttlSeen)) {
                    throw new BadRequestException("duplicate field \"" + name + "\"");
                }
                switch (name) {
                    case "version" -> {
                        if (v != JsonToken.VALUE_NUMBER_INT || p.getNumberType() == JsonParser.NumberType.BIG_INTEGER
                                || p.getLongValue() < 0) {
                            throw new BadRequestException("version must be a non-negative integer");
                        }
                        version = p.getLongValue();
                    }
                    case "ttl_seconds" -> {
                        ttlSeen = true;
                        if (v == JsonToken.VALUE_NULL) {
                            ttl = null;
                        } else if (v != JsonToken.VALUE_NUMBER_INT || p.getNumberType() == JsonParser.NumberType.BIG_INTEGER
                                || p.getLongValue() <= 0 || p.getLongValue() > 100L * 365 * 86_400) {
                            throw new BadRequestException("ttl_seconds must be a positive integer (at most 100 years) or null");
                        } else {
                            ttl = p.getLongValue();
                        }
                    }
                    default -> p.skipChildren();
                }
            }
            if (t != JsonToken.END_OBJECT) {
                throw new BadRequestException("malformed JSON body");
            }
            if (trailingData(p)) {
                throw new BadRequestException("unexpected data after the end of the JSON object");
            }
        } catch (com.fasterxml.jackson.core.io.JsonEOFException e) {
            throw new BadRequestException("truncated JSON: the body ended inside the top-level object");
        } catch (JsonProcessingException e) {
            throw new BadRequestException(malformed(e));
        } catch (IOException e) {
            throw new BadRequestException("malformed JSON: " + e.getMessage());
        }
        if (version == null) {
            throw new BadRequestException("version is required");
        }
        return new Request(version, ttl);
    }

    /** Whether anything but whitespace follows the top-level object (a token, or bytes that are none). */
    private static boolean trailingData(JsonParser p) {
        try {
            return p.nextToken() != null;
        } catch (IOException e) {
            return true;
        }
    }

    /**
     * A parse error as the commit parser words it: where, and Jackson's reason without its
     * internals ({@link io.weaseldb.json.JsonErrors#clean}).
     */
    private static String malformed(JsonProcessingException e) {
        String reason = io.weaseldb.json.JsonErrors.clean(e.getOriginalMessage());
        var at = e.getLocation();
        return at == null ? "malformed JSON: " + reason
                : "malformed JSON at line " + at.getLineNr() + ", column " + at.getColumnNr() + ": " + reason;
    }

    /** Writes the API/stored representation of a policy. */
    public static void write(JsonWriter w, Policy p) {
        w.field("policy_id", p.policyId()).field("version", p.version());
        if (p.ttlSeconds() == null) {
            w.field("ttl_seconds", (String) null).field("expires_at", (String) null);
        } else {
            w.field("ttl_seconds", p.ttlSeconds()).field("expires_at", Timestamps.iso(p.expiresAtMillis()));
        }
        w.field("updated_at", Timestamps.iso(p.updatedAtMillis()));
    }

    public static byte[] encode(Policy p) {
        ByteBuf b = Unpooled.buffer(256);
        JsonWriter w = new JsonWriter(b).beginObject();
        write(w, p);
        w.endObject();
        byte[] out = new byte[b.readableBytes()];
        b.readBytes(out);
        return out;
    }

    /** Reads a stored policy. */
    public static Policy decode(String objectKey, byte[] json) throws IOException {
        String id = null;
        Long version = null;
        Long ttl = null;
        Long expires = null;
        Long updated = null;
        try (JsonParser p = FACTORY.createParser(json)) {
            if (p.nextToken() != JsonToken.START_OBJECT) {
                throw new IOException(objectKey + ": not a policy document");
            }
            while (p.nextToken() == JsonToken.FIELD_NAME) {
                String name = p.currentName();
                JsonToken v = p.nextToken();
                switch (name) {
                    case "policy_id" -> id = p.getText();
                    case "version" -> version = p.getLongValue();
                    case "ttl_seconds" -> ttl = v == JsonToken.VALUE_NULL ? null : p.getLongValue();
                    case "expires_at" -> expires = v == JsonToken.VALUE_NULL ? null : Timestamps.parse(p.getText());
                    case "updated_at" -> updated = Timestamps.parse(p.getText());
                    default -> p.skipChildren();
                }
            }
        } catch (RuntimeException e) {
            throw new IOException(objectKey + ": invalid policy document: " + e.getMessage(), e);
        }
        if (id == null || version == null || updated == null) {
            throw new IOException(objectKey + ": policy document lacks policy_id, version or updated_at");
        }
        return new Policy(id, version, ttl, expires, updated);
    }
}
