package io.weaseldb.fakes3;

import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.Set;

/**
 * One fault injection rule: which requests it matches, how often it fires and what it does.
 *
 * <p>A rule matches a request when {@link #operation()} matches (or is {@link Operation#ANY}) and
 * the request's object key starts with {@link #keyPrefix()} (an empty prefix matches every
 * request, including bucket-level ones that have no key). A matching rule fires with
 * {@link #probability()}, at most {@link #maxCount()} times over its life.
 *
 * @param operation   operation the rule applies to
 * @param keyPrefix   key prefix the rule applies to; empty for all
 * @param probability chance in [0, 1] that a matching request is hit
 * @param maxCount    how many times the rule may fire; {@link #UNLIMITED} for no limit
 * @param kind        what the fault does
 */
public record FaultRule(Operation operation, String keyPrefix, double probability, long maxCount, FaultKind kind) {

    public static final long UNLIMITED = Long.MAX_VALUE;

    /** The operation families a rule can target. */
    public enum Operation {
        /** PutObject and CreateBucket. */
        PUT,
        /** GetObject. */
        GET,
        /** HeadObject and HeadBucket. */
        HEAD,
        /** ListObjectsV2 and ListBuckets. */
        LIST,
        /** DeleteObject, DeleteObjects and DeleteBucket. */
        DELETE,
        /** Every operation. */
        ANY;

        boolean matches(Operation requested) {
            return this == ANY || this == requested;
        }
    }

    public FaultRule {
        Objects.requireNonNull(operation, "operation");
        Objects.requireNonNull(keyPrefix, "keyPrefix");
        Objects.requireNonNull(kind, "kind");
        if (!(probability >= 0.0 && probability <= 1.0)) {
            throw new IllegalArgumentException("probability must be in [0, 1], got " + probability);
        }
        if (maxCount < 1) {
            throw new IllegalArgumentException("count must be at least 1, got " + maxCount);
        }
    }

    /** A rule that always fires on {@code operation} for every key, without limit. */
    public static FaultRule always(Operation operation, FaultKind kind) {
        return new FaultRule(operation, "", 1.0, UNLIMITED, kind);
    }

    public FaultRule withKeyPrefix(String prefix) {
        return new FaultRule(operation, prefix, probability, maxCount, kind);
    }

    public FaultRule withProbability(double p) {
        return new FaultRule(operation, keyPrefix, p, maxCount, kind);
    }

    public FaultRule withMaxCount(long count) {
        return new FaultRule(operation, keyPrefix, probability, count, kind);
    }

    boolean matches(Operation requested, String key) {
        if (!operation.matches(requested)) {
            return false;
        }
        return keyPrefix.isEmpty() || (key != null && key.startsWith(keyPrefix));
    }

    private static final Set<String> KEYS = Set.of(
            "op", "prefix", "probability", "count", "kind", "status", "code", "ms", "min_ms", "max_ms");

    /**
     * Parses a one-line spec such as {@code op=PUT,kind=error,status=503,code=SlowDown,probability=0.2,count=10}
     * or {@code op=GET,kind=latency,min_ms=5,max_ms=50}.
     *
     * <p>Keys: {@code op} (PUT, GET, HEAD, LIST, DELETE, ANY; default ANY), {@code prefix} (default
     * empty), {@code probability} (default 1), {@code count} (default unlimited), {@code kind}
     * (required: error, latency, reset, timeout, lost_reply). For {@code error}: {@code status}
     * (default 500) and {@code code} (default InternalError for 500, SlowDown for 503 and 429,
     * required otherwise). For {@code latency}: {@code ms}, or {@code min_ms} and {@code max_ms}.
     *
     * @throws IllegalArgumentException naming the offending key
     */
    public static FaultRule parse(String spec) {
        Objects.requireNonNull(spec, "spec");
        Map<String, String> fields = new LinkedHashMap<>();
        for (String part : spec.split(",")) {
            String item = part.trim();
            if (item.isEmpty()) {
                continue;
            }
            int eq = item.indexOf('=');
            if (eq <= 0) {
                throw new IllegalArgumentException("fault spec '" + spec + "': expected key=value, got '" + item + "'");
            }
            String key = item.substring(0, eq).trim().toLowerCase(Locale.ROOT);
            String value = item.substring(eq + 1).trim();
            if (!KEYS.contains(key)) {
                throw new IllegalArgumentException("fault spec '" + spec + "': unknown key '" + key
                        + "' (known: " + String.join(", ", KEYS.stream().sorted().toList()) + ")");
            }
            if (fields.put(key, value) != null) {
                throw new IllegalArgumentException("fault spec '" + spec + "': duplicate key '" + key + "'");
            }
        }
        try {
            Operation op = Operation.valueOf(fields.getOrDefault("op", "ANY").toUpperCase(Locale.ROOT));
            String prefix = fields.getOrDefault("prefix", "");
            double probability = Double.parseDouble(fields.getOrDefault("probability", "1"));
            long count = fields.containsKey("count") ? Long.parseLong(fields.get("count")) : UNLIMITED;
            String kindName = fields.get("kind");
            if (kindName == null) {
                throw new IllegalArgumentException("missing key 'kind'");
            }
            Set<String> allowed;
            FaultKind kind;
            switch (kindName.toLowerCase(Locale.ROOT)) {
                case "error" -> {
                    int status = Integer.parseInt(fields.getOrDefault("status", "500"));
                    String code = fields.get("code");
                    if (code == null) {
                        code = switch (status) {
                            case 500 -> "InternalError";
                            case 503, 429 -> "SlowDown";
                            default -> throw new IllegalArgumentException(
                                    "key 'code' is required for status " + status);
                        };
                    }
                    kind = new FaultKind.Error(status, code);
                    allowed = Set.of("status", "code");
                }
                case "latency" -> {
                    long min;
                    long max;
                    if (fields.containsKey("ms")) {
                        if (fields.containsKey("min_ms") || fields.containsKey("max_ms")) {
                            throw new IllegalArgumentException("use either 'ms' or 'min_ms'/'max_ms'");
                        }
                        min = max = Long.parseLong(fields.get("ms"));
                    } else {
                        if (!fields.containsKey("min_ms") || !fields.containsKey("max_ms")) {
                            throw new IllegalArgumentException("latency needs 'ms' or both 'min_ms' and 'max_ms'");
                        }
                        min = Long.parseLong(fields.get("min_ms"));
                        max = Long.parseLong(fields.get("max_ms"));
                    }
                    kind = new FaultKind.Latency(min, max);
                    allowed = Set.of("ms", "min_ms", "max_ms");
                }
                case "reset" -> {
                    kind = new FaultKind.Reset();
                    allowed = Set.of();
                }
                case "timeout" -> {
                    kind = new FaultKind.Timeout();
                    allowed = Set.of();
                }
                case "lost_reply" -> {
                    kind = new FaultKind.LostReply();
                    allowed = Set.of();
                }
                default -> throw new IllegalArgumentException("unknown kind '" + kindName
                        + "' (known: error, latency, reset, timeout, lost_reply)");
            }
            for (String key : fields.keySet()) {
                boolean common = Set.of("op", "prefix", "probability", "count", "kind").contains(key);
                if (!common && !allowed.contains(key)) {
                    throw new IllegalArgumentException("key '" + key + "' does not apply to kind " + kind.name());
                }
            }
            return new FaultRule(op, prefix, probability, count, kind);
        } catch (IllegalArgumentException e) {
            // NumberFormatException is an IllegalArgumentException; add the spec for context.
            throw new IllegalArgumentException("fault spec '" + spec + "': " + e.getMessage(), e);
        }
    }

    /** The spec that {@link #parse(String)} turns back into this rule. */
    public String toSpec() {
        StringBuilder sb = new StringBuilder("op=").append(operation);
        if (!keyPrefix.isEmpty()) {
            sb.append(",prefix=").append(keyPrefix);
        }
        sb.append(",kind=").append(kind.name());
        switch (kind) {
            case FaultKind.Error e -> sb.append(",status=").append(e.status()).append(",code=").append(e.code());
            case FaultKind.Latency l -> sb.append(",min_ms=").append(l.minMs()).append(",max_ms=").append(l.maxMs());
            case FaultKind.Reset r -> { }
            case FaultKind.Timeout t -> { }
            case FaultKind.LostReply l -> { }
        }
        if (probability != 1.0) {
            sb.append(",probability=").append(probability);
        }
        if (maxCount != UNLIMITED) {
            sb.append(",count=").append(maxCount);
        }
        return sb.toString();
    }

    @Override
    public String toString() {
        return toSpec();
    }
}
