package io.weaseldb.arch;

import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/**
 * Packages follow the data flow, and this test is the import-control file: each package lists
 * the WeaselDB packages it may import. Anything else fails the build, so a dependency that goes
 * against the flow (say, the pipeline reaching into HTTP) is a deliberate change to this table,
 * reviewed as such. See docs/architecture.md.
 */
class PackageDependencyTest {
    static final String ROOT = "io.weaseldb";

    /** package (relative to io.weaseldb; "" is the root) -> packages it may import. */
    static final Map<String, Set<String>> ALLOWED = Map.ofEntries(
            Map.entry("time", Set.of()),
            Map.entry("txn", Set.of()),
            Map.entry("config", Set.of()),
            Map.entry("conflict", Set.of()),
            Map.entry("s3", Set.of()),
            Map.entry("json", Set.of("txn", "config")),
            Map.entry("log", Set.of("txn", "s3", "time")),
            Map.entry("pipeline", Set.of("txn", "log", "s3", "time", "conflict")),
            Map.entry("subscribe", Set.of("txn", "log", "s3", "time", "json", "pipeline")),
            Map.entry("retention", Set.of("log", "s3", "time", "json", "subscribe")),
            Map.entry("metrics", Set.of("pipeline", "s3")),
            Map.entry("http", Set.of("txn", "json", "pipeline", "subscribe", "retention", "config")),
            Map.entry("bench", Set.of("json", "txn", "time")),
            Map.entry("fakes3", Set.of()),
            Map.entry("", Set.of("*")));

    static final Pattern PACKAGE = Pattern.compile("^package\\s+([\\w.]+);", Pattern.MULTILINE);
    static final Pattern IMPORT = Pattern.compile("^import\\s+(?:static\\s+)?([\\w.]+)\\s*;", Pattern.MULTILINE);
    static final Pattern QUALIFIED = Pattern.compile("\\bio\\.weaseldb\\.(\\w+)\\.");

    @Test
    void everyPackageImportsOnlyWhatTheFlowAllows() throws IOException {
        List<String> violations = new ArrayList<>();
        int files = 0;
        for (Path root : List.of(Path.of("src/main/java"), Path.of("fake-s3/src/main/java"))) {
            try (Stream<Path> walk = Files.walk(root)) {
                for (Path file : walk.filter(p -> p.toString().endsWith(".java")).toList()) {
                    files++;
                    String src = Files.readString(file);
                    Matcher pm = PACKAGE.matcher(src);
                    if (!pm.find()) {
                        continue;
                    }
                    String pkg = relative(pm.group(1));
                    Set<String> allowed = ALLOWED.get(pkg);
                    if (allowed == null) {
                        violations.add(file + ": package " + pm.group(1) + " is not in the dependency table");
                        continue;
                    }
                    if (allowed.contains("*")) {
                        continue;
                    }
                    List<String> used = new ArrayList<>();
                    Matcher im = IMPORT.matcher(src);
                    while (im.find()) {
                        used.add(im.group(1));
                    }
                    Matcher qm = QUALIFIED.matcher(src.replaceAll("(?m)^(package|import) .*$", ""));
                    while (qm.find()) {
                        used.add(ROOT + "." + qm.group(1) + ".X");
                    }
                    for (String u : used) {
                        if (!u.startsWith(ROOT + ".")) {
                            continue;
                        }
                        String target = relative(u.substring(0, u.lastIndexOf('.')));
                        int dot = target.indexOf('.');
                        if (dot > 0) {
                            target = target.substring(0, dot);
                        }
                        if (!target.equals(pkg) && !allowed.contains(target)) {
                            violations.add(file + ": " + pkg + " must not depend on " + target + " (" + u + ")");
                        }
                    }
                }
            }
        }
        assertTrue(files > 20, "found the sources");
        assertTrue(violations.isEmpty(), String.join("\n", violations));
    }

    private static String relative(String pkg) {
        if (pkg.equals(ROOT)) {
            return "";
        }
        String rest = pkg.substring(ROOT.length() + 1);
        int dot = rest.indexOf('.');
        return dot < 0 ? rest : rest.substring(0, dot);
    }
}
