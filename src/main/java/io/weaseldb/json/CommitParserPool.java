package io.weaseldb.json;

import com.fasterxml.jackson.core.JsonFactory;
import java.util.ArrayDeque;

/**
 * Reset {@link CommitParser}s kept per thread (in the server, per event loop) for the next commit
 * body on any of that thread's connections. A parser is only needed while a body is arriving, so an
 * event loop needs a handful however many connections it serves, and idle connections hold none.
 * Creating one per request was ~0.8 KB of garbage per commit (docs/performance.md, finding 13).
 *
 * <p>A parser goes back only if {@link CommitParser#reset} accepts it: the body parsed to its end
 * with known field names only, and was small (a large body leaves jackson's text buffers grown to
 * its longest string, which a pooled parser would keep). At most {@code perThread} are kept.
 *
 * <p>Thread-safe: each thread has its own parsers; a parser must be given back on the thread that
 * took it.
 */
public final class CommitParserPool {
    private final JsonFactory factory;
    private final CommitLimits limits;
    private final int perThread;
    private final ThreadLocal<ArrayDeque<CommitParser>> spare = ThreadLocal.withInitial(ArrayDeque::new);

    public CommitParserPool(JsonFactory factory, CommitLimits limits, int perThread) {
        this.factory = factory;
        this.limits = limits;
        this.perThread = perThread;
    }

    /** A parser ready for a new body: a kept one, or a new one. */
    public CommitParser take() {
        CommitParser p = spare.get().pollLast();
        return p != null ? p : new CommitParser(factory, limits);
    }

    /** Takes back a parser whose body is finished (or abandoned): kept if reusable, else closed. */
    public void give(CommitParser p) {
        ArrayDeque<CommitParser> kept = spare.get();
        if (kept.size() < perThread && p.reset()) {
            kept.addLast(p);
        } else {
            p.close();
        }
    }

    /** Parsers kept by the calling thread (for tests). */
    int kept() {
        return spare.get().size();
    }
}
