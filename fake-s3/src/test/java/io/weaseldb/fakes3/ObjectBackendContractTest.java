package io.weaseldb.fakes3;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.time.InstantSource;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The {@link ObjectBackend} contract, run against each implementation directly (no HTTP), as the
 * deterministic simulation uses it. Time comes from a settable clock.
 */
abstract class ObjectBackendContractTest {
    protected final AtomicReference<Instant> now = new AtomicReference<>(Instant.parse("2026-01-02T03:04:05.678Z"));
    protected final InstantSource clock = () -> now.get();
    protected ObjectBackend backend;

    protected abstract ObjectBackend open() throws Exception;

    @BeforeEach
    void setUp() throws Exception {
        backend = open();
        assertEquals(ObjectBackend.CreateBucketResult.CREATED, backend.createBucket("bkt"));
    }

    @AfterEach
    void tearDown() {
        backend.close();
    }

    static byte[] bytes(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }

    ObjectInfo put(String key, String content) {
        var r = backend.put("bkt", key, bytes(content), ObjectAttributes.DEFAULT, PutCondition.NONE);
        return assertInstanceOf(ObjectBackend.PutResult.Stored.class, r).info();
    }

    List<String> keys(ListQuery q) {
        var page = assertInstanceOf(ObjectBackend.ListResult.Page.class, backend.list("bkt", q));
        return page.contents().stream().map(ObjectInfo::key).toList();
    }

    @Test
    void bucketsAreCreatedOnceAndDeletedWhenEmpty() {
        assertEquals(ObjectBackend.CreateBucketResult.ALREADY_EXISTS, backend.createBucket("bkt"));
        assertTrue(backend.bucketExists("bkt"));
        put("k", "v");
        assertEquals(ObjectBackend.DeleteBucketResult.NOT_EMPTY, backend.deleteBucket("bkt"));
        backend.delete("bkt", "k");
        assertEquals(ObjectBackend.DeleteBucketResult.DELETED, backend.deleteBucket("bkt"));
        assertEquals(ObjectBackend.DeleteBucketResult.NO_SUCH_BUCKET, backend.deleteBucket("bkt"));
        assertInstanceOf(ObjectBackend.PutResult.NoSuchBucket.class,
                backend.put("bkt", "k", bytes("v"), ObjectAttributes.DEFAULT, PutCondition.NONE));
        assertInstanceOf(ObjectBackend.GetResult.NoSuchBucket.class, backend.get("bkt", "k", null));
        assertInstanceOf(ObjectBackend.HeadResult.NoSuchBucket.class, backend.head("bkt", "k"));
        assertInstanceOf(ObjectBackend.ListResult.NoSuchBucket.class, backend.list("bkt", ListQuery.prefix("")));
        assertEquals(ObjectBackend.DeleteResult.NO_SUCH_BUCKET, backend.delete("bkt", "k"));
    }

    @Test
    void putStoresContentAndMetadata() {
        var attrs = new ObjectAttributes("text/plain", Optional.of(new ObjectChecksum(ChecksumAlgorithm.CRC32C,
                ChecksumAlgorithm.CRC32C.compute(bytes("hello"), 0, 5))), Map.of("a", "1"));
        var stored = assertInstanceOf(ObjectBackend.PutResult.Stored.class,
                backend.put("bkt", "dir/key", bytes("hello"), attrs, PutCondition.NONE)).info();
        assertEquals("\"5d41402abc4b2a76b9719d911017c592\"", stored.etag());
        assertEquals(5, stored.size());
        assertEquals(Instant.parse("2026-01-02T03:04:05Z"), stored.lastModified()); // whole seconds
        assertEquals(attrs, stored.attributes());
        var found = assertInstanceOf(ObjectBackend.GetResult.Found.class, backend.get("bkt", "dir/key", null));
        assertArrayEquals(bytes("hello"), found.content());
        assertEquals(stored, found.info());
        assertEquals(stored, assertInstanceOf(ObjectBackend.HeadResult.Found.class, backend.head("bkt", "dir/key")).info());
        assertInstanceOf(ObjectBackend.GetResult.NoSuchKey.class, backend.get("bkt", "dir/other", null));
        assertInstanceOf(ObjectBackend.HeadResult.NoSuchKey.class, backend.head("bkt", "dir"));
    }

    @Test
    void returnedContentBelongsToTheCaller() {
        put("k", "abc");
        var found = assertInstanceOf(ObjectBackend.GetResult.Found.class, backend.get("bkt", "k", null));
        found.content()[0] = 'X';
        var again = assertInstanceOf(ObjectBackend.GetResult.Found.class, backend.get("bkt", "k", null));
        assertArrayEquals(bytes("abc"), again.content());
    }

    @Test
    void conditionsAreChecked() {
        assertInstanceOf(ObjectBackend.PutResult.Stored.class,
                backend.put("bkt", "k", bytes("1"), ObjectAttributes.DEFAULT, PutCondition.IF_ABSENT));
        assertInstanceOf(ObjectBackend.PutResult.PreconditionFailed.class,
                backend.put("bkt", "k", bytes("2"), ObjectAttributes.DEFAULT, PutCondition.IF_ABSENT));
        String etag = assertInstanceOf(ObjectBackend.HeadResult.Found.class, backend.head("bkt", "k")).info().etag();
        assertInstanceOf(ObjectBackend.PutResult.PreconditionFailed.class,
                backend.put("bkt", "k", bytes("2"), ObjectAttributes.DEFAULT, new PutCondition.IfMatch("\"abc\"")));
        assertInstanceOf(ObjectBackend.PutResult.Stored.class,
                backend.put("bkt", "k", bytes("2"), ObjectAttributes.DEFAULT,
                        new PutCondition.IfMatch(ETags.unquote(etag)))); // quotes optional
        assertInstanceOf(ObjectBackend.PutResult.PreconditionFailed.class,
                backend.put("bkt", "missing", bytes("2"), ObjectAttributes.DEFAULT, new PutCondition.IfMatch("*")));
        var got = assertInstanceOf(ObjectBackend.GetResult.Found.class, backend.get("bkt", "k", null));
        assertArrayEquals(bytes("2"), got.content());
        assertEquals(ObjectBackend.DeleteResult.DELETED, backend.delete("bkt", "k"));
        assertEquals(ObjectBackend.DeleteResult.ABSENT, backend.delete("bkt", "k"));
        assertInstanceOf(ObjectBackend.PutResult.Stored.class,
                backend.put("bkt", "k", bytes("3"), ObjectAttributes.DEFAULT, PutCondition.IF_ABSENT));
    }

    @Test
    void rangesResolveAgainstTheSize() {
        put("k", "0123456789");
        var p = assertInstanceOf(ObjectBackend.GetResult.Partial.class,
                backend.get("bkt", "k", new ByteRange.FromTo(2, 4)));
        assertArrayEquals(bytes("234"), p.content());
        assertEquals(new ByteRange.Resolved(2, 4), p.range());
        p = assertInstanceOf(ObjectBackend.GetResult.Partial.class, backend.get("bkt", "k", new ByteRange.Suffix(3)));
        assertArrayEquals(bytes("789"), p.content());
        p = assertInstanceOf(ObjectBackend.GetResult.Partial.class, backend.get("bkt", "k", new ByteRange.From(8)));
        assertArrayEquals(bytes("89"), p.content());
        assertInstanceOf(ObjectBackend.GetResult.RangeNotSatisfiable.class,
                backend.get("bkt", "k", new ByteRange.From(10)));
        assertInstanceOf(ObjectBackend.GetResult.RangeNotSatisfiable.class,
                backend.get("bkt", "k", new ByteRange.Suffix(0)));
        put("empty", "");
        assertInstanceOf(ObjectBackend.GetResult.RangeNotSatisfiable.class,
                backend.get("bkt", "empty", new ByteRange.Suffix(5)));
    }

    @Test
    void listingPagesInUtf8OrderWithPrefixStartAfterAndDelimiter() {
        List<String> all = List.of("a", "a/1", "a/2", "a/b/3", "b", "b\uE000", "b\uD83D\uDE00", "c/x");
        for (String k : all.reversed()) {
            put(k, k);
        }
        assertEquals(all, keys(ListQuery.prefix("")));
        assertEquals(List.of("a/1", "a/2", "a/b/3"), keys(ListQuery.prefix("a/")));
        assertEquals(List.of("a/2", "a/b/3"), keys(new ListQuery("a/", "", "a/1", 1000)));
        assertEquals(List.of("b\uE000", "b\uD83D\uDE00", "c/x"), keys(new ListQuery("", "", "b", 1000)));
        // start-after before the prefix: the prefix wins.
        assertEquals(List.of("c/x"), keys(new ListQuery("c", "", "a", 1000)));

        var page = assertInstanceOf(ObjectBackend.ListResult.Page.class, backend.list("bkt", new ListQuery("", "/", "", 1000)));
        assertEquals(List.of("a", "b", "b\uE000", "b\uD83D\uDE00"), page.contents().stream().map(ObjectInfo::key).toList());
        assertEquals(List.of("a/", "c/"), page.commonPrefixes());

        // Walking with pages of 2 visits every entry once, and lastKey continues past rolled-up keys.
        List<String> entries = new ArrayList<>();
        String after = "";
        while (true) {
            var p = assertInstanceOf(ObjectBackend.ListResult.Page.class, backend.list("bkt", new ListQuery("", "/", after, 2)));
            p.contents().forEach(o -> entries.add(o.key()));
            entries.addAll(p.commonPrefixes());
            assertTrue(p.contents().size() + p.commonPrefixes().size() <= 2);
            if (!p.truncated()) {
                break;
            }
            after = p.lastKey();
        }
        entries.sort(KeyOrder.INSTANCE);
        assertEquals(List.of("a", "a/", "b", "b\uE000", "b\uD83D\uDE00", "c/"), entries);
    }

    @Test
    void arbitraryKeysRoundTrip() {
        String longKey = "x/".repeat(400) + "END"; // 803 bytes: too long to escape into a file name
        List<String> odd = List.of("UPPER/lower", "with space", "percent%2F", "../../etc/passwd", ".", "..",
                "tab\tnewline\n", "uni\u00fc\u4e2d\uD83D\uDE00", longKey, "trailing/");
        for (String k : odd) {
            put(k, "content of " + k);
        }
        for (String k : odd) {
            var f = assertInstanceOf(ObjectBackend.GetResult.Found.class, backend.get("bkt", k, null), k);
            assertArrayEquals(bytes("content of " + k), f.content(), k);
        }
        assertEquals(odd.stream().sorted(KeyOrder.INSTANCE).toList(), keys(ListQuery.prefix("")));
    }
}
