package io.weaseldb.subscribe;

import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.handler.codec.http.HttpContent;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** What a subscriber's client reads: the bytes written to its channel, and the events they frame. */
final class SseStream {
    private static final Pattern CHECKPOINT = Pattern.compile("event: checkpoint\ndata: \\{\"committed_version\":(\\d+),");
    private static final Pattern TRANSACTION = Pattern.compile("id: (\\d+)\nevent: transaction\ndata: \\{[^\n]*\"version\":(\\d+),[^\n]*\\}");

    private SseStream() {}

    /** Everything written to {@code ch} since the last call, as text (the HTTP framing's contents, released). */
    static String drain(EmbeddedChannel ch) {
        ch.runPendingTasks();
        StringBuilder out = new StringBuilder();
        for (Object m; (m = ch.readOutbound()) != null; ) {
            if (m instanceof HttpContent c) {
                out.append(c.content().toString(StandardCharsets.UTF_8));
                c.release();
            }
        }
        return out.toString();
    }

    /**
     * The events of {@code text} in order: a transaction's version ("7", after checking that its
     * id and its data agree), "cp7" for a checkpoint, "keepalive"; anything else fails.
     */
    static List<String> events(String text) {
        List<String> out = new ArrayList<>();
        if (text.isEmpty()) {
            return out;
        }
        if (!text.endsWith("\n\n")) {
            throw new AssertionError("the stream stops inside an event: " + text);
        }
        for (String e : text.substring(0, text.length() - 2).split("\n\n", -1)) {
            Matcher t = TRANSACTION.matcher(e);
            Matcher c = CHECKPOINT.matcher(e);
            if (t.matches()) {
                if (!t.group(1).equals(t.group(2))) {
                    throw new AssertionError("id " + t.group(1) + " framing version " + t.group(2));
                }
                out.add(t.group(1));
            } else if (c.lookingAt()) {
                out.add("cp" + c.group(1));
            } else if (e.equals(": keepalive")) {
                out.add("keepalive");
            } else {
                throw new AssertionError("not an event: " + e);
            }
        }
        return out;
    }

    /** The events written to {@code ch} since the last call. */
    static List<String> read(EmbeddedChannel ch) {
        return events(drain(ch));
    }
}
