package io.weaseldb.http;

import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.handler.codec.http.HttpRequest;
import io.weaseldb.config.ConfigLoader;
import io.weaseldb.config.WeaselConfig;
import java.security.MessageDigest;
import java.util.List;

/**
 * Bearer-token authentication with roles. Tokens are configured by their SHA-256 only; a
 * presented token is hashed and compared against every configured hash with a constant-time
 * comparison, so neither timing nor logs reveal a token. With no tokens configured every
 * request is allowed. Stateless and thread-safe.
 */
final class Authenticator {
    /**
     * The verdict on one request: allowed; no bearer token (401, the bare challenge); a token
     * that is not configured (401, {@code invalid_token}); a token without the role (403,
     * {@code insufficient_scope}); more than one {@code Authorization} header (400: which one
     * counts is not the server's guess to make).
     */
    enum Decision { ALLOW, NO_TOKEN, INVALID_TOKEN, FORBIDDEN, TWO_HEADERS }

    private final List<WeaselConfig.Token> tokens;

    Authenticator(List<WeaselConfig.Token> tokens) {
        this.tokens = List.copyOf(tokens);
    }

    boolean enabled() {
        return !tokens.isEmpty();
    }

    /** The role an endpoint needs; null when any valid token will do, or none is needed. */
    static WeaselConfig.Role roleFor(Endpoint e) {
        return switch (e) {
            case COMMIT, STATUS -> WeaselConfig.Role.COMMIT;
            case SUBSCRIBE -> WeaselConfig.Role.SUBSCRIBE;
            case RETENTION_LIST, RETENTION_POLICY, METRICS -> WeaselConfig.Role.ADMIN;
            case VERSION, OK, UNKNOWN -> null;
        };
    }

    Decision check(HttpRequest req, Endpoint endpoint) {
        if (tokens.isEmpty() || endpoint == Endpoint.OK) {
            return Decision.ALLOW; // /ok stays open for load balancers' health checks
        }
        HttpHeaders fields = req.headers();
        int count = fields instanceof FlatHeaders flat ? flat.count(HttpHeaderNames.AUTHORIZATION) // no list per request
                : fields.getAll(HttpHeaderNames.AUTHORIZATION).size();
        if (count > 1) {
            return Decision.TWO_HEADERS;
        }
        String header = fields.get(HttpHeaderNames.AUTHORIZATION);
        if (header == null || header.length() < 8 || !header.regionMatches(true, 0, "Bearer ", 0, 7)) {
            return Decision.NO_TOKEN;
        }
        byte[] presented = ConfigLoader.sha256(header.substring(7).trim());
        WeaselConfig.Token match = null;
        for (WeaselConfig.Token t : tokens) {
            if (MessageDigest.isEqual(presented, t.sha256())) { // constant time; compare them all
                match = t;
            }
        }
        if (match == null) {
            return Decision.INVALID_TOKEN;
        }
        WeaselConfig.Role needed = roleFor(endpoint);
        return needed == null || match.roles().contains(needed) ? Decision.ALLOW : Decision.FORBIDDEN;
    }
}
