package io.weaseldb.testing;

import io.weaseldb.fakes3.DataLayout;
import io.weaseldb.fakes3.ListQuery;
import io.weaseldb.fakes3.ObjectBackend;
import io.weaseldb.fakes3.ObjectInfo;
import io.weaseldb.log.Batch;
import io.weaseldb.log.BatchCodec;
import io.weaseldb.log.BatchHeader;
import io.weaseldb.log.LogLayout;
import io.weaseldb.txn.Transaction;
import java.nio.file.Path;
import java.time.InstantSource;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Reads the log the way an auditor would: straight from the embedded fake S3's directory (the
 * server stopped), decoding every object and following the chain. Fails on anything a valid log
 * must never contain: a broken chain, a gap in versions, a version or request id twice.
 */
public final class LogAudit {
    /** The valid log: every version from first to last is either a transaction or a marker. */
    public record Result(List<Batch> chain, Map<Long, Transaction> transactions, Map<String, Long> versionByRequestId,
                         List<String> orphans, List<String> bans) {}

    private LogAudit() {}

    public static Result read(Path dataDir) throws Exception {
        List<Batch> all = new ArrayList<>();
        List<String> keys = new ArrayList<>();
        try (ObjectBackend backend = DataLayout.open(dataDir, DataLayout.SEGMENTS, false, InstantSource.system())) {
            String after = "";
            while (true) {
                var r = backend.list("weaseldb", new ListQuery("log/", "", after, 1000));
                var page = (ObjectBackend.ListResult.Page) r;
                for (ObjectInfo info : page.contents()) {
                    var got = (ObjectBackend.GetResult.Found) backend.get("weaseldb", info.key(), null);
                    all.add(BatchCodec.decode(info.key(), got.content()));
                    keys.add(info.key());
                }
                if (!page.truncated()) {
                    break;
                }
                after = page.lastKey();
            }
        }
        return audit(keys, all);
    }

    /** Audits decoded log objects given in key order. */
    public static Result audit(List<String> keys, List<Batch> all) {
        return audit(keys, all, Long.MAX_VALUE);
    }

    /**
     * Audits decoded log objects given in key order; a request id may be committed again only
     * more than {@code requestIdWindow} versions after it was (the server forgets it then).
     */
    public static Result audit(List<String> keys, List<Batch> all, long requestIdWindow) {
        LogLayout layout = new LogLayout("");
        for (int i = 0; i < all.size(); i++) {
            if (layout.versionOf(keys.get(i)) != all.get(i).header().firstVersion()) {
                throw new AssertionError(keys.get(i) + " holds versions from " + all.get(i).header().firstVersion());
            }
        }
        List<Batch> chain = new ArrayList<>();
        List<String> orphans = new ArrayList<>();
        for (int i = 0; i < all.size(); i++) {
            Batch b = all.get(i);
            if (chain.isEmpty()) {
                chain.add(b);
                continue;
            }
            BatchHeader last = chain.get(chain.size() - 1).header();
            if (last.isFollowedBy(b.header())) {
                chain.add(b);
            } else if (b.header().term() < last.term() || b.header().firstVersion() > last.lastVersion() + 1) {
                orphans.add(keys.get(i)); // never acknowledged: past a hole, or an older term's leftover
            } else {
                throw new AssertionError("log chain broken at " + keys.get(i) + ": " + b.header() + " after " + last);
            }
        }
        Map<Long, Transaction> txns = new LinkedHashMap<>();
        Map<String, Long> byId = new LinkedHashMap<>();
        List<String> bans = new ArrayList<>();
        long prevTxn = chain.isEmpty() ? -1 : chain.get(0).header().prevTxnVersion();
        for (Batch b : chain) {
            for (Transaction t : b.transactions()) {
                if (t.prevVersion() != prevTxn) {
                    throw new AssertionError("transaction " + t.version() + " links to " + t.prevVersion() + ", previous is " + prevTxn);
                }
                prevTxn = t.version();
                if (txns.put(t.version(), t) != null) {
                    throw new AssertionError("version " + t.version() + " twice");
                }
                Long dup = byId.put(t.requestId(), t.version());
                if (dup != null && t.version() - dup <= requestIdWindow) {
                    throw new AssertionError("request id " + t.requestId() + " at versions " + dup + " and " + t.version());
                }
            }
            bans.addAll(b.bans());
        }
        return new Result(chain, txns, byId, orphans, bans);
    }
}
