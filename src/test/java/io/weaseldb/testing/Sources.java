package io.weaseldb.testing;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/** Reads the project's own sources, for tests that check code against a list kept beside it. */
public final class Sources {
    private Sources() {}

    /** For every match of {@code p} in the .java files under {@code dir}, its first group that matched. */
    public static Set<String> captured(Path dir, Pattern p) throws IOException {
        Set<String> out = new TreeSet<>();
        try (Stream<Path> files = Files.walk(dir)) {
            for (Path f : files.filter(x -> x.toString().endsWith(".java")).sorted().toList()) {
                Matcher m = p.matcher(Files.readString(f));
                while (m.find()) {
                    for (int g = 1; g <= m.groupCount(); g++) {
                        if (m.group(g) != null) {
                            out.add(m.group(g));
                            break;
                        }
                    }
                }
            }
        }
        return out;
    }
}
