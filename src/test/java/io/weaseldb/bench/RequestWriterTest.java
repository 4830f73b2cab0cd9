package io.weaseldb.bench;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.weaseldb.json.CommitLimits;
import io.weaseldb.json.CommitParser;
import io.weaseldb.txn.CommitRequest;
import io.weaseldb.txn.Operation;
import io.weaseldb.txn.Precondition;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Base64;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/** The generator's requests are valid for the servers they target, and shaped as the workload says. */
class RequestWriterTest {
    static final CommitLimits LIMITS = new CommitLimits(20, 256, 10240, 10000, 10000);

    record Http(String head, byte[] body) {}

    static Http request(BenchOptions o, long readVersion) {
        RequestWriter w = new RequestWriter(o, "bench-test-run-0001", 0);
        ByteBuf b = Unpooled.buffer();
        int n = w.write(b, new SplittableRandom(7), readVersion);
        assertEquals(n, b.readableBytes());
        byte[] all = new byte[n];
        b.readBytes(all);
        String text = new String(all, StandardCharsets.ISO_8859_1);
        int split = text.indexOf("\r\n\r\n");
        String head = text.substring(0, split);
        byte[] body = Arrays.copyOfRange(all, split + 4, all.length);
        String length = head.lines().filter(l -> l.startsWith("Content-Length:")).findFirst().orElseThrow()
                .substring("Content-Length:".length()).trim();
        assertEquals(body.length, Integer.parseInt(length), "Content-Length matches the body");
        return new Http(head, body);
    }

    static CommitRequest parse(byte[] body) throws Exception {
        try (CommitParser p = new CommitParser(CommitParser.newFactory(1 << 24), LIMITS)) {
            p.feed(ByteBuffer.wrap(body));
            return p.finish();
        }
    }

    static BenchOptions options(String... args) {
        List<String> a = new ArrayList<>(List.of("--port", "8080"));
        a.addAll(List.of(args));
        return BenchOptions.parse(a.toArray(String[]::new));
    }

    @ParameterizedTest
    @EnumSource(Workload.class)
    void everyWorkloadIsAValidCommitOfItsShape(Workload workload) throws Exception {
        BenchOptions o = options("--workload", workload.label());
        Http h = request(o, 41);
        assertTrue(h.head().startsWith("POST /v1/commit HTTP/1.1\r\n"), h.head());
        CommitRequest r = parse(h.body());
        Workload.Shape s = workload.shape();
        assertEquals(s.opsPerTxn(), r.operations().size());
        for (Operation op : r.operations()) {
            Operation.Write w = assertInstanceOf(Operation.Write.class, op);
            assertEquals(s.keyBytes(), w.key().length);
            assertEquals(s.valueBytes(), w.value().length);
        }
        switch (s.reads()) {
            case NONE -> assertEquals(0, r.preconditions().size());
            case POINT -> {
                assertEquals(41, r.readVersion());
                Precondition.PointRead p = assertInstanceOf(Precondition.PointRead.class, r.preconditions().get(0));
                Operation.Write w = (Operation.Write) r.operations().get(0);
                assertArrayEquals(p.key(), w.key(), "the read key is the written key");
            }
            case RANGE -> {
                Precondition.RangeRead p = assertInstanceOf(Precondition.RangeRead.class, r.preconditions().get(0));
                Operation.Write w = (Operation.Write) r.operations().get(0);
                assertTrue(Arrays.compareUnsigned(p.begin(), w.key()) <= 0 && Arrays.compareUnsigned(w.key(), p.end()) < 0,
                        "the write is inside the range read");
                assertEquals(s.rangeKeys(), index(p.end()) - index(p.begin()));
            }
        }
    }

    @Test
    void keysOrderLikeTheirIndexesAndStayInTheKeySpace() throws Exception {
        BenchOptions o = options("--workload", "blind-write", "--keys", "10", "--ops", "50");
        for (Operation op : parse(request(o, 0).body()).operations()) {
            long i = index(((Operation.Write) op).key());
            assertTrue(i >= 0 && i < 10, "index " + i);
        }
        RequestWriter w = new RequestWriter(o, "r", 0);
        byte[] a = w.key(255).clone();
        byte[] b = w.key(256).clone();
        assertTrue(Arrays.compareUnsigned(a, b) < 0);
    }

    @Test
    void requestIdsAreLongEnoughAndUnique() throws Exception {
        BenchOptions o = options("--workload", "blind-write", "--request-ids");
        List<String> ids = requestIds(new RequestWriter(o, "bench-test-run-0001", 0), 3);
        assertEquals(3, ids.stream().distinct().count());
        assertTrue(ids.get(0).length() >= 20, ids.get(0));
    }

    /** --threads N makes one writer per event loop, all with the run's id: their ids must not meet. */
    @Test
    void writersOfDifferentEventLoopsSendDifferentRequestIds() throws Exception {
        BenchOptions o = options("--workload", "blind-write", "--request-ids", "--threads", "2");
        List<String> ids = new ArrayList<>(requestIds(new RequestWriter(o, "bench-test-run-0001", 0), 3));
        ids.addAll(requestIds(new RequestWriter(o, "bench-test-run-0001", 1), 3));
        assertEquals(6, ids.stream().distinct().count(), ids.toString());
    }

    private static List<String> requestIds(RequestWriter w, int n) throws Exception {
        SplittableRandom random = new SplittableRandom(1);
        List<String> ids = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            ByteBuf b = Unpooled.buffer();
            w.write(b, random, 0);
            String text = b.toString(StandardCharsets.US_ASCII);
            ids.add(parse(text.substring(text.indexOf("\r\n\r\n") + 4).getBytes(StandardCharsets.US_ASCII)).requestId());
        }
        return ids;
    }

    @Test
    void etcdTxnComparesModRevisionWithTheReadRevisionAndPutsTheReadKey() throws Exception {
        BenchOptions o = options("--target", "etcd", "--workload", "rmw");
        Http h = request(o, 99);
        assertTrue(h.head().startsWith("POST /v3/kv/txn HTTP/1.1\r\n"), h.head());
        String compareKey = null;
        String putKey = null;
        String modRevision = null;
        String result = null;
        try (JsonParser p = new JsonFactory().createParser(h.body())) {
            String field = null;
            for (JsonToken t = p.nextToken(); t != null; t = p.nextToken()) {
                if (t == JsonToken.FIELD_NAME) {
                    field = p.currentName();
                } else if (t == JsonToken.VALUE_STRING) {
                    String path = p.getParsingContext().getParent().getParent() == null ? ""
                            : String.valueOf(p.getParsingContext().getParent().getParent().getCurrentName());
                    switch (field) {
                        case "key" -> {
                            if (path.equals("compare")) {
                                compareKey = p.getText();
                            } else {
                                putKey = p.getText();
                            }
                        }
                        case "mod_revision" -> modRevision = p.getText();
                        case "result" -> result = p.getText();
                        default -> { }
                    }
                }
            }
        }
        assertEquals("100", modRevision, "mod_revision < read revision + 1: not written after the read revision");
        assertEquals("LESS", result);
        assertNotNull(compareKey);
        assertEquals(compareKey, putKey);
        assertEquals(16, Base64.getDecoder().decode(putKey).length);
    }

    @Test
    void versionProbesAskForTheNewestVersion() {
        assertTrue(new String(RequestWriter.versionProbe(options()), StandardCharsets.US_ASCII).startsWith("GET /v1/version "));
        assertTrue(new String(RequestWriter.versionProbe(options("--target", "etcd")), StandardCharsets.US_ASCII)
                .startsWith("POST /v3/kv/range "));
    }

    private static long index(byte[] key) {
        return ByteBuffer.wrap(key, key.length - 8, 8).getLong();
    }
}
