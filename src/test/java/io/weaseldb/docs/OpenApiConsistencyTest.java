package io.weaseldb.docs;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.weaseldb.http.Endpoint;
import java.io.IOException;
import java.lang.reflect.Method;
import java.lang.reflect.RecordComponent;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Keeps {@code docs/openapi.yaml} and {@code docs/api.md} honest against the server code:
 * every route the router knows is a path in the OpenAPI file with exactly the methods the
 * router accepts, and both documents mention every endpoint, HTTP status and error code the
 * server code can produce, and only configuration keys that exist.
 *
 * <p>Text-based on purpose (no YAML library on the classpath): the OpenAPI file is read line by
 * line, relying on its two-space indentation ({@code paths:} at column 0, paths at 2, methods
 * at 4), and the server's codes are collected from its sources.
 */
class OpenApiConsistencyTest {
    private static final List<String> HTTP_METHODS =
            List.of("GET", "PUT", "POST", "DELETE", "PATCH", "HEAD", "OPTIONS", "TRACE");
    private static final Path MAIN = Path.of("src/main/java/io/weaseldb");

    private static String openapi;
    private static String apiMd;
    private static Map<String, Set<String>> specPaths; // path -> upper-case methods
    private static String mainSources;

    @BeforeAll
    static void load() throws IOException {
        openapi = Files.readString(Path.of("docs/openapi.yaml"));
        apiMd = Files.readString(Path.of("docs/api.md"));
        specPaths = parsePaths(openapi);
        StringBuilder sb = new StringBuilder();
        try (Stream<Path> walk = Files.walk(MAIN)) {
            for (Path f : walk.filter(p -> p.toString().endsWith(".java")).sorted().toList()) {
                sb.append(Files.readString(f)).append('\n');
            }
        }
        mainSources = sb.toString();
    }

    /** The {@code paths:} section: each path with its operations, read by indentation. */
    static Map<String, Set<String>> parsePaths(String yaml) {
        Map<String, Set<String>> paths = new LinkedHashMap<>();
        boolean inPaths = false;
        String current = null;
        for (String line : yaml.split("\n", -1)) {
            if (line.isBlank() || line.stripLeading().startsWith("#")) {
                continue;
            }
            int indent = line.length() - line.stripLeading().length();
            if (indent == 0) {
                inPaths = line.startsWith("paths:");
                current = null;
                continue;
            }
            if (!inPaths) {
                continue;
            }
            String t = line.strip();
            if (indent == 2 && t.endsWith(":")) {
                current = unquote(t.substring(0, t.length() - 1));
                assertTrue(current.startsWith("/"), "paths: entry does not look like a path: " + line);
                assertFalse(paths.containsKey(current), "path listed twice in openapi.yaml: " + current);
                paths.put(current, new TreeSet<>());
            } else if (indent == 4 && current != null && t.endsWith(":")) {
                String key = t.substring(0, t.length() - 1).toUpperCase(java.util.Locale.ROOT);
                if (HTTP_METHODS.contains(key)) {
                    paths.get(current).add(key);
                }
            }
        }
        return paths;
    }

    private static String unquote(String s) {
        if (s.length() >= 2 && (s.startsWith("'") && s.endsWith("'") || s.startsWith("\"") && s.endsWith("\""))) {
            return s.substring(1, s.length() - 1);
        }
        return s;
    }

    /**
     * Keys given twice in one mapping, as "line N: key" (YAML 1.2 requires unique keys; lenient
     * loaders keep the last, strict ones refuse the file). Reads block mappings and sequences of
     * mappings by indentation and skips block scalars ({@code |}, {@code >}), which is all the
     * OpenAPI file uses.
     */
    static List<String> duplicateKeys(String yaml) {
        List<String> out = new ArrayList<>();
        java.util.ArrayDeque<Map.Entry<Integer, Set<String>>> scopes = new java.util.ArrayDeque<>();
        int scalarIndent = -1; // inside a block scalar whose key was at this indent
        String[] lines = yaml.split("\n", -1);
        for (int n = 0; n < lines.length; n++) {
            String line = lines[n];
            if (line.isBlank()) {
                continue;
            }
            int indent = line.length() - line.stripLeading().length();
            if (scalarIndent >= 0) {
                if (indent > scalarIndent) {
                    continue;
                }
                scalarIndent = -1;
            }
            String t = line.strip();
            if (t.startsWith("#")) {
                continue;
            }
            boolean item = t.startsWith("- ");
            if (item) {
                t = t.substring(2).strip();
                indent += 2;
            }
            Matcher m = Pattern.compile("^('[^']*'|\"[^\"]*\"|[^\\s:'\"][^:]*?):(\\s|$)(.*)").matcher(t);
            while (!scopes.isEmpty() && (scopes.peek().getKey() > indent || (item && scopes.peek().getKey() == indent))) {
                scopes.pop();
            }
            if (!m.find()) {
                continue;
            }
            if (scopes.isEmpty() || scopes.peek().getKey() < indent) {
                scopes.push(Map.entry(indent, new TreeSet<>()));
            }
            String key = unquote(m.group(1).strip());
            if (!scopes.peek().getValue().add(key)) {
                out.add("line " + (n + 1) + ": " + key);
            }
            String value = m.group(3).strip();
            if (value.startsWith("|") || value.startsWith(">")) {
                scalarIndent = indent;
            }
        }
        return out;
    }

    @Test
    void noMappingInTheOpenApiFileGivesAKeyTwice() {
        // audit 35: GET /metrics listed '503' twice; strict YAML loaders (ruamel, Go's yaml.v3) refused the file
        assertTrue(duplicateKeys(openapi).isEmpty(), "duplicate keys in docs/openapi.yaml: " + duplicateKeys(openapi));
        // the check itself finds one, and not keys of separate mappings or of a sequence's items
        assertFalse(duplicateKeys("a:\n  '503':\n    x: 1\n  '404':\n    x: 2\n  '503':\n    y: 3\n").isEmpty());
        assertTrue(duplicateKeys("a:\n  - name: x\n    in: query\n  - name: y\n    in: query\n"
                + "b:\n  description: |\n    name: z\n    name: z\n  name: w\n").isEmpty());
    }

    /** Route.of(method, path) through reflection: the router is package-private to io.weaseldb.http. */
    private record Routed(Endpoint endpoint, String allow) {}

    private static Routed route(String method, String path) throws Exception {
        Class<?> routeClass = Class.forName("io.weaseldb.http.Route");
        Method of = routeClass.getDeclaredMethod("of", HttpMethod.class, String.class);
        of.setAccessible(true);
        Object r = of.invoke(null, HttpMethod.valueOf(method), path);
        Endpoint endpoint = null;
        String allow = null;
        for (RecordComponent c : routeClass.getRecordComponents()) {
            Method accessor = c.getAccessor();
            accessor.setAccessible(true);
            Object v = accessor.invoke(r);
            if (c.getName().equals("endpoint")) {
                endpoint = (Endpoint) v;
            } else if (c.getName().equals("allow")) {
                allow = (String) v;
            }
        }
        return new Routed(endpoint, allow);
    }

    private static String concrete(String specPath) {
        return specPath.replace("{policy_id}", "policy-1");
    }

    @Test
    void openApiParsesToTheExpectedShape() {
        assertTrue(openapi.startsWith("openapi: 3.1."), "docs/openapi.yaml must be OpenAPI 3.1");
        assertTrue(specPaths.size() >= 8, "too few paths parsed from openapi.yaml: " + specPaths);
        specPaths.forEach((p, m) -> assertFalse(m.isEmpty(), p + " has no operations in openapi.yaml"));
    }

    @Test
    void everyOpenApiPathIsRoutedWithExactlyItsMethods() throws Exception {
        List<String> problems = new ArrayList<>();
        for (var e : specPaths.entrySet()) {
            for (String method : HTTP_METHODS) {
                Routed r = route(method, concrete(e.getKey()));
                boolean documented = e.getValue().contains(method);
                if (r.endpoint() == Endpoint.UNKNOWN) {
                    problems.add(method + " " + e.getKey() + ": the server does not route this path");
                } else if (documented && r.allow() != null) {
                    problems.add(method + " " + e.getKey() + ": documented but the server answers 405 (allows "
                            + r.allow() + ")");
                } else if (!documented && r.allow() == null) {
                    problems.add(method + " " + e.getKey() + ": the server accepts it but openapi.yaml does not list it");
                }
            }
        }
        assertTrue(problems.isEmpty(), String.join("\n", problems));
    }

    @Test
    void everyEndpointOfTheServerIsAnOpenApiPath() {
        for (Endpoint e : Endpoint.values()) {
            if (e == Endpoint.UNKNOWN) {
                continue;
            }
            assertTrue(specPaths.containsKey(e.label), "endpoint " + e + " (" + e.label + ") missing from openapi.yaml");
        }
    }

    @Test
    void everyPathTheRouterMatchesLiterallyIsAnOpenApiPath() throws IOException {
        String router = Files.readString(MAIN.resolve("http/Route.java"));
        Matcher m = Pattern.compile("case\\s+((?:\"[^\"]+\"\\s*,?\\s*)+):").matcher(router);
        int n = 0;
        while (m.find()) {
            Matcher lit = Pattern.compile("\"([^\"]+)\"").matcher(m.group(1));
            while (lit.find()) {
                n++;
                assertTrue(specPaths.containsKey(lit.group(1)), "routed path " + lit.group(1) + " missing from openapi.yaml");
            }
        }
        assertTrue(n >= 7, "found only " + n + " literal routes in Route.java; has the router changed shape?");
        Matcher prefix = Pattern.compile("startsWith\\(\"([^\"]+)\"\\)").matcher(router);
        while (prefix.find()) {
            String p = prefix.group(1);
            assertTrue(specPaths.keySet().stream().anyMatch(s -> s.startsWith(p) && s.contains("{")),
                    "routed prefix " + p + " has no templated path in openapi.yaml");
        }
    }

    @Test
    void apiMdNamesEveryOperation() {
        for (var e : specPaths.entrySet()) {
            for (String method : e.getValue()) {
                String op = method + " " + e.getKey();
                assertTrue(apiMd.contains(op), "docs/api.md does not mention \"" + op + "\"");
            }
        }
        for (Endpoint e : Endpoint.values()) {
            if (e != Endpoint.UNKNOWN) {
                assertTrue(apiMd.contains(e.label), "docs/api.md does not mention endpoint " + e.label);
            }
        }
    }

    /** Every HTTP status the server code can answer with. */
    static Set<Integer> statusesInCode() throws Exception {
        Set<Integer> codes = new TreeSet<>();
        Matcher m = Pattern.compile("HttpResponseStatus\\.([A-Z][A-Z0-9_]+)").matcher(mainSources);
        while (m.find()) {
            Object s = HttpResponseStatus.class.getField(m.group(1)).get(null);
            codes.add(((HttpResponseStatus) s).code());
        }
        Matcher raw = Pattern.compile("\"HTTP/1\\.1 (\\d{3}) ").matcher(mainSources);
        while (raw.find()) {
            codes.add(Integer.parseInt(raw.group(1)));
        }
        return codes;
    }

    @Test
    void everyStatusTheServerProducesIsDocumented() throws Exception {
        Set<Integer> codes = statusesInCode();
        assertTrue(codes.containsAll(Set.of(200, 400, 404, 405, 409, 410, 413, 503)), "status scan looks broken: " + codes);
        List<String> problems = new ArrayList<>();
        for (int code : codes) {
            if (!Pattern.compile("^\\| " + code + " ", Pattern.MULTILINE).matcher(apiMd).find()) {
                problems.add(code + " is not in the status table of docs/api.md");
            }
            if (code == 405) {
                // Not an operation's response (an operation's own method never gets 405): the
                // shared MethodNotAllowed response with its Allow header documents it.
                if (!openapi.contains("    MethodNotAllowed:") || !openapi.contains("$ref: '#/components/headers/Allow'")) {
                    problems.add("405 (components.responses.MethodNotAllowed with Allow) is missing from docs/openapi.yaml");
                }
            } else if (code >= 200 && !openapi.contains("'" + code + "':")) {
                problems.add(code + " is not a response of any operation in docs/openapi.yaml");
            }
        }
        assertTrue(problems.isEmpty(), String.join("\n", problems));
    }

    @Test
    void everyResponseStatusInTheSpecIsOneTheServerProduces() throws Exception {
        Set<Integer> codes = statusesInCode();
        Matcher m = Pattern.compile("^\\s+'(\\d{3})':", Pattern.MULTILINE).matcher(openapi);
        while (m.find()) {
            int code = Integer.parseInt(m.group(1));
            assertTrue(codes.contains(code), "openapi.yaml documents status " + code + " that the server never sends");
        }
    }

    /** Every value of an "error" field the server code writes. */
    static Set<String> errorCodesInCode() {
        Set<String> codes = new TreeSet<>();
        List<Pattern> patterns = List.of(
                // Responses.error(alloc, status, "code", message)
                Pattern.compile("Responses\\.error\\([^;]*?(?:HttpResponseStatus|Responses)\\.[A-Z_]+\\s*,\\s*\"([a-z_]+)\"",
                        Pattern.DOTALL),
                // JsonWriter .field("error", "code")
                Pattern.compile("field\\(\"error\",\\s*\"([a-z_]+)\"\\)"),
                // hand-written bytes: \"error\":\"code\"
                Pattern.compile("\\\\\"error\\\\\":\\\\\"([a-z_]+)\\\\\""));
        for (Pattern p : patterns) {
            Matcher m = p.matcher(mainSources);
            while (m.find()) {
                codes.add(m.group(1));
            }
        }
        return codes;
    }

    @Test
    void everyErrorCodeTheServerProducesIsDocumented() {
        Set<String> codes = errorCodesInCode();
        assertTrue(codes.containsAll(Set.of("bad_request", "conflict", "too_old", "leader_changed", "not_found",
                "method_not_allowed", "content_too_large", "log_truncated", "unavailable", "internal")),
                "error code scan looks broken: " + codes);
        List<String> problems = new ArrayList<>();
        for (String code : codes) {
            if (!apiMd.contains("`" + code + "`")) {
                problems.add("docs/api.md does not mention error code `" + code + "`");
            }
            if (!Pattern.compile("\\b" + code + "\\b").matcher(openapi).find()) {
                problems.add("docs/openapi.yaml does not mention error code " + code);
            }
        }
        Matcher enumLine = Pattern.compile("enum: \\[bad_request[^\\]]*\\]").matcher(openapi);
        assertTrue(enumLine.find(), "the Error schema's enum of codes is missing from openapi.yaml");
        String en = enumLine.group();
        for (String code : codes) {
            if (!Pattern.compile("\\b" + code + "\\b").matcher(en).find()) {
                problems.add("Error.error enum in openapi.yaml lacks " + code);
            }
        }
        assertTrue(problems.isEmpty(), String.join("\n", problems));
    }

    @Test
    void outcomesOfUnavailableAreDocumented() {
        String flat = mainSources.replaceAll("\\s+", " ");
        assertTrue(flat.contains("field(\"outcome\", u.outcomeUnknown() ? \"unknown\" : \"not_committed\")"),
                "Responses no longer writes outcome unknown/not_committed the documented way");
        for (String s : List.of("\"unknown\"", "\"not_committed\"")) {
            assertTrue(apiMd.contains("`" + s + "`"), "docs/api.md does not explain outcome " + s);
        }
        assertTrue(openapi.contains("enum: [unknown, not_committed]"), "openapi.yaml lacks the outcome enum");
        assertTrue(openapi.contains("Retry-After:") && openapi.contains("Allow:") && openapi.contains("Last-Event-ID"),
                "openapi.yaml must describe the Retry-After, Allow and Last-Event-ID headers");
    }

    @Test
    void configKeysNamedInApiMdExist() throws IOException {
        String loader = Files.readString(MAIN.resolve("config/ConfigLoader.java"));
        Set<String> keys = new TreeSet<>();
        Matcher m = Pattern.compile("\\.get\\w+\\(\"([a-z0-9_]+)\"").matcher(loader);
        while (m.find()) {
            keys.add(m.group(1));
        }
        assertTrue(keys.contains("max_request_size_bytes"), "config key scan looks broken: " + keys);
        List<String> missing = new ArrayList<>();
        Matcher doc = Pattern.compile("`\\[(\\w+)\\] ([a-z0-9_]+)`").matcher(apiMd);
        int n = 0;
        while (doc.find()) {
            n++;
            if (!keys.contains(doc.group(2))) {
                missing.add("[" + doc.group(1) + "] " + doc.group(2));
            }
        }
        assertTrue(n >= 10, "docs/api.md names too few configuration keys");
        assertTrue(missing.isEmpty(), "docs/api.md names configuration keys the server does not have: " + missing);
    }
}
