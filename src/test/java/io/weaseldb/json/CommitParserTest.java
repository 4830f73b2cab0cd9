package io.weaseldb.json;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.core.JsonFactory;
import io.weaseldb.txn.CommitRequest;
import io.weaseldb.txn.Operation;
import io.weaseldb.txn.Precondition;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.Base64;
import java.util.HexFormat;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class CommitParserTest {
    static final JsonFactory FACTORY = CommitParser.newFactory(1 << 20);
    static final CommitLimits LIMITS = new CommitLimits(20, 256, 64, 100, 100);

    static String b64(String s) {
        return Base64.getEncoder().encodeToString(s.getBytes(StandardCharsets.UTF_8));
    }

    static final String FULL = """
            {"request_id": "req-0123456789-abcdefghij", "leader_id": "L\\u00e9", "read_version": 42,
             "unknown_field": {"nested": [1, 2, {"x": null}], "s": "\\"q\\""},
             "preconditions": [
               {"type": "point_read", "key": "%s", "version": 40},
               {"version": 7, "end": "%s", "type": "range_read", "begin": "%s", "extra": [true]},
               {"type": "point_read", "key": ""}
             ],
             "operations": [
               {"type": "write", "key": "%s", "value": "%s"},
               {"type": "delete", "key": "%s"},
               {"type": "range_delete", "begin": "%s", "end": "%s"}
             ]}
            """.formatted(b64("k1"), b64("zz"), b64("a"), b64("key\u0000"), b64("v\u00ff\u0001x"), b64("gone"),
            b64("b"), b64("c"));

    static CommitRequest parse(byte[] body, int... splits) throws BadRequestException {
        CommitParser p = new CommitParser(FACTORY, LIMITS);
        int start = 0;
        for (int s : splits) {
            p.feed(ByteBuffer.wrap(body, start, s - start));
            start = s;
        }
        p.feed(ByteBuffer.wrap(body, start, body.length - start));
        return p.finish();
    }

    static CommitRequest parse(String body) throws BadRequestException {
        return parse(body.getBytes(StandardCharsets.UTF_8));
    }

    /** {@code prefix}, the raw bytes {@code raw}, then {@code suffix}. */
    static byte[] withRaw(String prefix, byte[] raw, String suffix) {
        byte[] p = prefix.getBytes(StandardCharsets.UTF_8);
        byte[] s = suffix.getBytes(StandardCharsets.UTF_8);
        byte[] out = Arrays.copyOf(p, p.length + raw.length + s.length);
        System.arraycopy(raw, 0, out, p.length, raw.length);
        System.arraycopy(s, 0, out, p.length + raw.length, s.length);
        return out;
    }

    static byte[] bytes(int... b) {
        byte[] out = new byte[b.length];
        for (int i = 0; i < b.length; i++) {
            out[i] = (byte) b[i];
        }
        return out;
    }

    static void assertFull(CommitRequest r) {
        assertEquals("req-0123456789-abcdefghij", r.requestId());
        assertEquals("Lé", r.leaderId());
        assertEquals(42, r.readVersion());
        assertEquals(3, r.preconditions().size());
        var p0 = assertInstanceOf(Precondition.PointRead.class, r.preconditions().get(0));
        assertArrayEquals("k1".getBytes(), p0.key());
        assertEquals(40, p0.version());
        var p1 = assertInstanceOf(Precondition.RangeRead.class, r.preconditions().get(1));
        assertArrayEquals("a".getBytes(), p1.begin());
        assertArrayEquals("zz".getBytes(), p1.end());
        assertEquals(7, p1.version());
        var p2 = assertInstanceOf(Precondition.PointRead.class, r.preconditions().get(2));
        assertEquals(0, p2.key().length);
        assertEquals(Precondition.DEFAULT_VERSION, p2.version());
        var w = assertInstanceOf(Operation.Write.class, r.operations().get(0));
        assertArrayEquals("key\u0000".getBytes(StandardCharsets.UTF_8), w.key());
        assertArrayEquals("v\u00ff\u0001x".getBytes(StandardCharsets.UTF_8), w.value());
        assertInstanceOf(Operation.Delete.class, r.operations().get(1));
        var rd = assertInstanceOf(Operation.RangeDelete.class, r.operations().get(2));
        assertArrayEquals("b".getBytes(), rd.begin());
    }

    /**
     * Audit 14: jackson decoded byte sequences that are not UTF-8 (an overlong {@code E0 80 A8}
     * came out as '(', so two request ids became one idempotency key; {@code C0 80} as U+0000).
     * Every such body is a 400, wherever the bytes are (a request id, an unknown field, its name)
     * and however TCP split them; real UTF-8 at each boundary still parses.
     */
    @Test
    void bytesThatAreNotUtf8AreRejectedWhereverTheyAre() throws Exception {
        byte[][] notUtf8 = {
            bytes(0xE0, 0x80, 0xA8), // overlong '('
            bytes(0xC0, 0x80), // overlong U+0000
            bytes(0xC1, 0xBF), // overlong 2-byte lead
            bytes(0xF0, 0x80, 0x80, 0xA8), // overlong 4-byte
            bytes(0xED, 0xA0, 0x80), // an encoded UTF-16 surrogate
            bytes(0xF4, 0x90, 0x80, 0x80), // past U+10FFFF
            bytes(0xF5, 0x80, 0x80, 0x80), // a lead byte that never starts UTF-8
            bytes(0xFF), bytes(0x80), // no lead / a continuation without one
            bytes(0xE2, 0x82), // cut short by the closing quote
        };
        String[][] places = {
            {"{\"request_id\": \"overlong-0123456789-", "\", \"operations\": []}"},
            {"{\"zzz\": \"", "\", \"operations\": []}"},
            {"{\"z", "zz\": 1, \"operations\": []}"},
            {"{\"leader_id\": \"L", "\", \"operations\": []}"},
        };
        for (byte[] bad : notUtf8) {
            for (String[] place : places) {
                byte[] body = withRaw(place[0], bad, place[1]);
                for (int split = 0; split <= body.length; split++) {
                    int at = split;
                    var e = assertThrows(BadRequestException.class, () -> parse(body, at),
                            HexFormat.of().formatHex(bad) + " in " + place[0] + " split at " + at);
                    assertTrue(e.getMessage().startsWith("malformed JSON: invalid UTF-8 (at byte "), e.getMessage());
                }
            }
        }
        // the boundaries of the ranges are UTF-8, and parse as themselves
        byte[][] utf8 = {
            bytes(0xC2, 0x80), bytes(0xDF, 0xBF), bytes(0xE0, 0xA0, 0x80), bytes(0xED, 0x9F, 0xBF),
            bytes(0xEE, 0x80, 0x80), bytes(0xEF, 0xBF, 0xBF), bytes(0xF0, 0x90, 0x80, 0x80), bytes(0xF4, 0x8F, 0xBF, 0xBF),
        };
        for (byte[] good : utf8) {
            byte[] body = withRaw("{\"request_id\": \"overlong-0123456789-", good, "\", \"operations\": []}");
            for (int split = 0; split <= body.length; split++) {
                String id = parse(body, split).requestId();
                assertEquals("overlong-0123456789-" + new String(good, StandardCharsets.UTF_8), id);
            }
        }
        var e = assertThrows(BadRequestException.class, () -> parse(withRaw("{\"zzz\": \"", bytes(0xE0, 0x80, 0xA8), "\"}")));
        assertTrue(e.getMessage().contains("(at byte 10: 0x80 cannot come there"), e.getMessage()); // E0 needs A0-BF next
    }

    /** Audit 14: an unknown field is ignored whatever the length of its name (jackson stopped at 50,000). */
    @Test
    void anUnknownFieldWithALongNameIsIgnored() throws Exception {
        String name = "z".repeat(200_000);
        assertEquals(0, parse("{\"" + name + "\": 1, \"operations\": []}").operations().size());
    }

    @Test
    void parsesEveryFieldAndIgnoresUnknownOnes() throws Exception {
        assertFull(parse(FULL));
    }

    @Test
    void givesTheSameResultForEverySplitPointOfTheBody() throws Exception {
        byte[] body = FULL.getBytes(StandardCharsets.UTF_8);
        for (int split = 0; split <= body.length; split++) {
            assertFull(parse(body, split));
        }
    }

    @Test
    void givesTheSameResultFedOneByteAtATime() throws Exception {
        byte[] body = FULL.getBytes(StandardCharsets.UTF_8);
        int[] splits = new int[body.length - 1];
        for (int i = 0; i < splits.length; i++) {
            splits[i] = i + 1;
        }
        assertFull(parse(body, splits));
    }

    @Test
    void acceptsAnEmptyTransactionAndNullsForOptionalFields() throws Exception {
        CommitRequest r = parse("{}");
        assertEquals(List.of(), r.operations());
        assertEquals(null, r.requestId());
        r = parse("{\"request_id\":null,\"preconditions\":null,\"operations\":[],\"read_version\":null}");
        assertEquals(CommitRequest.NO_READ_VERSION, r.readVersion());
    }

    @ParameterizedTest
    @CsvSource(delimiter = '|', textBlock = """
            ''                                                                  | request body is empty
            '[]'                                                                | the body must be a JSON object
            '{"operations": [}'                                                 | malformed JSON
            '{"operations": [{"type": "write", "key": "YQ==", "value": "YQ=="}' | truncated JSON: the body ended inside the operations array
            '{"operations": [{"type": "write"'                                  | truncated JSON: the body ended inside operations[0]
            '{} {}'                                                             | unexpected data after the end of the JSON object
            '{} tru'                                                            | unexpected data after the end of the JSON object
            '{"operations": []}12'                                              | unexpected data after the end of the JSON object
            '{}  x'                                                             | unexpected data after the end of the JSON object
            '{"request_id": 5}'                                                 | request_id must be a string, got an integer
            '{"request_id": "short"}'                                           | request_id must be at least 20 characters, got 5
            '{"read_version": "5"}'                                             | read_version must be a non-negative integer, got a string
            '{"read_version": -1}'                                              | read_version must be a non-negative integer, got -1
            '{"read_version": 1.5}'                                             | read_version must be a non-negative integer, got a floating-point number
            '{"read_version": 99999999999999999999}'                            | read_version is out of range
            '{"operations": {}}'                                                | operations must be an array, got an object
            '{"operations": [1]}'                                               | operations[0] must be an object, got an integer
            '{"operations": [{"key": "YQ=="}]}'                                 | operations[0]: missing "type"
            '{"operations": [{"type": "put", "key": "YQ=="}]}'                  | operations[0]: unknown operation type "put"
            '{"operations": [{"type": "write", "key": "YQ=="}]}'                | operations[0]: missing "value" for write
            '{"operations": [{"type": "write", "key": "YQ", "value": ""}]}'     | operations[0].key: invalid base64: length 2 is not a multiple of 4
            '{"operations": [{"type": "write", "key": "Y!==", "value": ""}]}'   | operations[0].key: invalid base64: illegal character '!' at position 1
            '{"operations": [{"type": "write", "key": "YR==", "value": ""}]}'   | operations[0].key: invalid base64: non-zero bits before padding
            '{"operations": [{"type": "write", "key": "=AAA", "value": ""}]}'   | operations[0].key: invalid base64: padding '=' at position 0
            '{"operations": [{"type": "write", "key": "YQ==", "value": 5}]}'    | operations[0].value must be a base64 string, got an integer
            '{"operations": [{"type": "delete", "key": "YQ==", "value": ""}]}'  | operations[0]: field "value" does not apply to delete
            '{"operations": [{"type": "range_delete", "begin": "Yg==", "end": "YQ=="}]}' | operations[0]: begin must be less than end
            '{"operations": [{"type": "range_delete", "begin": "YQ==", "end": "YQ=="}]}' | operations[0]: begin must be less than end
            '{"operations": [{"type": "delete", "key": "YQ==", "key": "Yg=="}]}'| operations[0]: duplicate field "key"
            '{"preconditions": [{"type": "point_read", "key": "YQ=="}]}'        | preconditions[0] has no "version" and the request has no "read_version"
            '{"preconditions": [{"type": "scan", "key": "YQ=="}]}'              | preconditions[0]: unknown precondition type "scan"
            '{"preconditions": [{"type": "range_read", "begin": "YQ=="}]}'      | preconditions[0]: missing "end" for range_read
            '{"read_version": 1, "read_version": 2}'                            | duplicate field "read_version"
            '{"request_id": "req-0123456789-abcdefghij", "request_id": "req-0123456789-abcdefghik"}' | duplicate field "request_id"
            '{"leader_id": "a", "leader_id": "b"}'                              | duplicate field "leader_id"
            '{"preconditions": [], "preconditions": []}'                        | duplicate field "preconditions"
            '{"operations": [], "operations": []}'                              | duplicate field "operations"
            '{"operations": [{"type": "delete", "type": "write", "key": "YQ=="}]}' | operations[0]: duplicate field "type"
            '{"operations": [{"type": "range_delete", "begin": "", "begin": "YQ==", "end": "Yg=="}]}' | operations[0]: duplicate field "begin"
            '{"operations": [{"type": "range_delete", "begin": "", "end": "YQ==", "end": "Yg=="}]}' | operations[0]: duplicate field "end"
            '{"preconditions": [{"type": "point_read", "key": "", "version": 1, "version": 2}]}' | preconditions[0]: duplicate field "version"
            '{"read_version": 1, "preconditions": [{"type": "point_read", "key": "", "end": "YQ=="}]}' | preconditions[0]: field "end" does not apply to point_read
            '{"read_version": 1, "preconditions": [{"type": "range_read", "begin": "", "end": "YQ==", "key": ""}]}' | preconditions[0]: field "key" does not apply to range_read
            '{"operations": [{"type": "write", "key": "", "value": "", "begin": ""}]}' | operations[0]: field "begin" does not apply to write
            '{"operations": [{"type": "write", "key": "", "value": "", "version": 1}]}' | operations[0]: field "version" does not apply to write
            '{"operations": [{"type": "range_delete", "begin": "", "end": "YQ==", "value": ""}]}' | operations[0]: field "value" does not apply to range_delete
            '{,'                                                                | malformed JSON
            """)
    void rejectsInvalidBodiesWithAPreciseMessage(String body, String expected) {
        BadRequestException e = assertThrows(BadRequestException.class, () -> parse(body));
        assertTrue(e.getMessage().startsWith(expected), "message was: " + e.getMessage());
    }

    /** Limits count characters (code points), as the API and JSON Schema's minLength do: an emoji is one. */
    @Test
    void requestIdLengthsCountCharactersNotUtf16Units() throws Exception {
        String emoji = "\uD83D\uDE00"; // one character, two UTF-16 units
        BadRequestException shortOne = assertThrows(BadRequestException.class,
                () -> parse("{\"request_id\": \"" + emoji.repeat(19) + "\"}"));
        assertEquals("request_id must be at least 20 characters, got 19", shortOne.getMessage());
        assertEquals(emoji.repeat(20), parse("{\"request_id\": \"" + emoji.repeat(20) + "\"}").requestId());
        assertEquals(emoji.repeat(256), parse("{\"request_id\": \"" + emoji.repeat(256) + "\"}").requestId());
        BadRequestException longOne = assertThrows(BadRequestException.class,
                () -> parse("{\"request_id\": \"" + emoji.repeat(257) + "\"}"));
        assertEquals("request_id must be at most 256 characters, got 257", longOne.getMessage());
    }

    /** jackson's own limits and settings are not what a client needs to read about. */
    @Test
    void nestingAndNonStandardTokensGetAPlainMessage() throws Exception {
        String ok = "{\"zzz\": " + "[".repeat(CommitParser.MAX_NESTING_DEPTH - 1) + "]".repeat(CommitParser.MAX_NESTING_DEPTH - 1) + "}";
        assertEquals(List.of(), parse(ok).operations(), "an unknown field's value is skipped, however deep within the limit");
        String deep = "{\"zzz\": " + "[".repeat(CommitParser.MAX_NESTING_DEPTH) + "]".repeat(CommitParser.MAX_NESTING_DEPTH) + "}";
        BadRequestException e = assertThrows(BadRequestException.class, () -> parse(deep));
        assertEquals("JSON nested more than 64 levels deep (unknown fields count too)", e.getMessage());
        for (String body : new String[] {"{\"read_version\": NaN}", "{\"a\": 'x'}", "{\"a\": 1} // c", "{\"a\": 01}",
                "{\"a\": /* c */ 1}", "{\"a\": 1 # c\n}"}) {
            BadRequestException bad = assertThrows(BadRequestException.class, () -> parse(body));
            assertTrue(bad.getMessage().startsWith("malformed JSON: ") || bad.getMessage().startsWith("unexpected data"),
                    body + ": " + bad.getMessage());
            for (String internal : new String[] {"JsonReadFeature", "StreamReadFeature", "Feature '", "Source:", "REDACTED", "enable `"}) {
                assertFalse(bad.getMessage().contains(internal), body + ": " + bad.getMessage());
            }
        }
    }

    /**
     * Where the object ends, wherever the body splits: whitespace before the closing brace (a
     * pretty-printed body) is not data after it, and a byte right after it is.
     */
    @Test
    void theObjectEndsJustPastItsClosingBrace() throws Exception {
        for (String text : new String[] {"{\"read_version\": 3 }", "{\n  \"operations\": []\n}\n", "{ }", "{\"a\": {} }"}) {
            byte[] body = text.getBytes(StandardCharsets.UTF_8);
            for (int split = 0; split <= body.length; split++) {
                CommitParser p = new CommitParser(FACTORY, LIMITS);
                feedAll(p, body, split);
                p.finish();
            }
        }
        assertTrailingDataRejectedAtEverySplit("{}x", "{ }x", "{\"read_version\": 3 }x");
    }

    /**
     * Audit 36: with ends limited like keys, no range could cover the largest key (max_key_bytes
     * of 0xFF): a "delete everything" left it, a whole-space range read missed writes to it. A
     * range's end may be one byte longer than a key; begin and keys may not.
     */
    @Test
    void aRangesEndMayBeOneByteLongerThanAKeySoARangeCanCoverTheLargestKey() throws Exception {
        byte[] past = new byte[65];
        java.util.Arrays.fill(past, 0, 64, (byte) 0xFF);
        String end = Base64.getEncoder().encodeToString(past);
        CommitRequest r = parse("{\"read_version\":0,\"preconditions\":[{\"type\":\"range_read\",\"begin\":\"\",\"end\":\""
                + end + "\"}],\"operations\":[{\"type\":\"range_delete\",\"begin\":\"\",\"end\":\"" + end + "\"}]}");
        assertEquals(65, ((io.weaseldb.txn.Operation.RangeDelete) r.operations().get(0)).end().length);
        assertEquals(65, ((io.weaseldb.txn.Precondition.RangeRead) r.preconditions().get(0)).end().length);
        String tooLong = Base64.getEncoder().encodeToString(new byte[66]);
        var e = assertThrows(BadRequestException.class, () -> parse(
                "{\"operations\":[{\"type\":\"range_delete\",\"begin\":\"\",\"end\":\"" + tooLong + "\"}]}"));
        assertTrue(e.getMessage().contains("end: key is 66 bytes, the limit is 65"), e.getMessage());
        e = assertThrows(BadRequestException.class, () -> parse(
                "{\"operations\":[{\"type\":\"range_delete\",\"begin\":\"" + end + "\",\"end\":\"" + tooLong + "\"}]}"));
        assertTrue(e.getMessage().contains("begin: key is 65 bytes, the limit is 64"), e.getMessage());
        e = assertThrows(BadRequestException.class, () -> parse(
                "{\"operations\":[{\"type\":\"write\",\"key\":\"" + end + "\",\"value\":\"\"}]}"));
        assertTrue(e.getMessage().contains("key is 65 bytes, the limit is 64"), e.getMessage());
    }

    @Test
    void parseErrorsCarryNoFragmentOfTheLibrarysLocation() {
        // review 37: "expected ']' (for Array starting (at byte 24)" kept half of Jackson's location
        var e = assertThrows(BadRequestException.class, () -> parse("{\"read_version\":1,\"a\":[1}"));
        assertTrue(e.getMessage().startsWith("malformed JSON: "), e.getMessage());
        assertTrue(!e.getMessage().contains("(for ") && !e.getMessage().contains("Source"), e.getMessage());
        assertTrue(e.getMessage().endsWith("(at byte 24)"), e.getMessage());
    }

    @Test
    void enforcesKeySizeAndCountLimits() {
        String bigKey = Base64.getEncoder().encodeToString(new byte[65]);
        var e = assertThrows(BadRequestException.class,
                () -> parse("{\"operations\":[{\"type\":\"delete\",\"key\":\"" + bigKey + "\"}]}"));
        assertTrue(e.getMessage().contains("key is 65 bytes, the limit is 64"), e.getMessage());
        StringBuilder many = new StringBuilder("{\"operations\":[");
        for (int i = 0; i < 101; i++) {
            many.append(i == 0 ? "" : ",").append("{\"type\":\"delete\",\"key\":\"YQ==\"}");
        }
        many.append("]}");
        e = assertThrows(BadRequestException.class, () -> parse(many.toString()));
        assertTrue(e.getMessage().startsWith("too many operations: at most 100"), e.getMessage());
    }

    /** A commit may hold exactly max_preconditions preconditions and max_operations operations; one more is a 400. */
    @Test
    void theCountLimitsAdmitExactlyTheirNumber() throws Exception {
        CommitLimits three = new CommitLimits(20, 256, 64, 3, 3);
        String read = "{\"type\":\"point_read\",\"key\":\"YQ==\",\"version\":1}";
        String delete = "{\"type\":\"delete\",\"key\":\"YQ==\"}";
        CommitRequest r = parseWith(three, "{\"preconditions\":[" + String.join(",", java.util.Collections.nCopies(3, read))
                + "],\"operations\":[" + String.join(",", java.util.Collections.nCopies(3, delete)) + "]}");
        assertEquals(3, r.preconditions().size());
        assertEquals(3, r.operations().size());
        var e = assertThrows(BadRequestException.class, () -> parseWith(three,
                "{\"preconditions\":[" + String.join(",", java.util.Collections.nCopies(4, read)) + "]}"));
        assertEquals("too many preconditions: at most 3 per commit", e.getMessage());
        e = assertThrows(BadRequestException.class, () -> parseWith(three,
                "{\"operations\":[" + String.join(",", java.util.Collections.nCopies(4, delete)) + "]}"));
        assertEquals("too many operations: at most 3 per commit", e.getMessage());
    }

    static CommitRequest parseWith(CommitLimits limits, String body) throws BadRequestException {
        CommitParser p = new CommitParser(FACTORY, limits);
        p.feed(ByteBuffer.wrap(body.getBytes(StandardCharsets.UTF_8)));
        return p.finish();
    }

    /** An error names the item by its index in its own array, whatever the other array holds. */
    @Test
    void errorsNameTheItemByItsIndexInItsOwnArray() {
        String read = "{\"type\":\"point_read\",\"key\":\"\",\"version\":1}";
        String delete = "{\"type\":\"delete\",\"key\":\"\"}";
        var e = assertThrows(BadRequestException.class, () -> parse("{\"preconditions\":[" + read + "," + read + "," + read
                + "],\"operations\":[" + delete + ",{\"type\":\"put\"}]}"));
        assertTrue(e.getMessage().startsWith("operations[1]: unknown operation type \"put\""), e.getMessage());
        e = assertThrows(BadRequestException.class, () -> parse("{\"operations\":[" + delete + "," + delete + "," + delete
                + "],\"preconditions\":[" + read + ",{\"type\":\"point_read\",\"key\":5}]}"));
        assertEquals("preconditions[1].key must be a base64 string, got an integer", e.getMessage());
    }

    /**
     * A request id with a lone UTF-16 surrogate (a JSON escape can write one) has no UTF-8 form:
     * stored or echoed, two such ids would become one. It is a 400 wherever the surrogate is;
     * a surrogate pair is one character.
     */
    @Test
    void aRequestIdWithAnUnpairedSurrogateIsRejected() throws Exception {
        String pad = "r".repeat(24);
        String[][] cases = {
            {"\\ud800" + pad, "\\ud800) at character 0"}, // a high surrogate first
            {pad + "\\ud83d", "\\ud83d) at character 24"}, // a high surrogate last
            {pad + "\\ude00" + pad, "\\ude00) at character 24"}, // a low surrogate alone
            {pad + "\\ud83d\\ud83d\\ude00", "\\ud83d) at character 24"}, // a high one before a pair
            {"\\ud83d\\ude00\\ude00" + pad, "\\ude00) at character 2"}, // a low one after a pair
        };
        for (String[] c : cases) {
            var e = assertThrows(BadRequestException.class, () -> parse("{\"request_id\": \"" + c[0] + "\"}"), c[0]);
            assertEquals("request_id has an unpaired UTF-16 surrogate (" + c[1], e.getMessage());
        }
        assertEquals("\ud83d\ude00" + pad + "\ud83d\ude00", parse("{\"request_id\": \"\\ud83d\\ude00" + pad + "\\ud83d\\ude00\"}").requestId());
    }

    /** The body fed in three chunks, each a buffer of its own (heap, or direct memory): the first starts at index 0. */
    static void feedCopies(CommitParser p, byte[] body, boolean direct, int a, int b) throws BadRequestException {
        int[] cuts = {0, a, b, body.length};
        for (int i = 0; i < 3; i++) {
            byte[] piece = Arrays.copyOfRange(body, cuts[i], cuts[i + 1]);
            ByteBuffer chunk = direct ? ByteBuffer.allocateDirect(piece.length).put(piece).flip() : ByteBuffer.wrap(piece);
            p.feed(chunk);
        }
    }

    /**
     * Bytes that are not UTF-8 get the same 400, naming the same offset in the body, however the
     * body is cut and whatever buffers carry it: the bad byte first in a chunk, a sequence cut
     * between chunks and followed by plain ASCII, a chunk at a position past 0 of its array, and
     * chunks in direct memory (checked byte by byte, not through the array).
     */
    @Test
    void invalidUtf8IsReportedAtTheSameOffsetHoweverTheBodyIsCut() throws Exception {
        byte[][] notUtf8 = {bytes(0xC0, 0x80), bytes(0x80), bytes(0xE2, 0x82), bytes(0xC3), bytes(0xE0, 0x80, 0xA8),
            bytes(0xF4, 0x90, 0x80, 0x80), bytes(0xED, 0xA0, 0x80)};
        for (byte[] bad : notUtf8) {
            byte[] body = withRaw("{\"request_id\": \"overlong-0123456789-", bad, "\", \"operations\": [], \"read_version\": 1}");
            String expected = assertThrows(BadRequestException.class, () -> parse(body)).getMessage();
            assertTrue(expected.startsWith("malformed JSON: invalid UTF-8 (at byte "), expected);
            for (int a = 0; a <= body.length; a++) {
                for (int b = a; b <= body.length; b += Math.max(1, (body.length - a) / 5)) {
                    int x = a;
                    int y = b;
                    String where = HexFormat.of().formatHex(bad) + " cut at " + a + "/" + b;
                    assertEquals(expected, assertThrows(BadRequestException.class, () -> parse(body, x, y), where).getMessage(), where);
                    for (boolean direct : new boolean[] {false, true}) {
                        String got = assertThrows(BadRequestException.class, () -> {
                            CommitParser p = new CommitParser(FACTORY, LIMITS);
                            feedCopies(p, body, direct, x, y);
                            p.finish();
                        }, where).getMessage();
                        assertEquals(expected, got, (direct ? "direct, " : "heap, ") + where);
                    }
                }
            }
        }
    }

    /**
     * A malformed body's error names the same byte wherever it is cut in three, whitespace after a
     * comma arriving in a chunk of its own included (the comma is held back with it, not dropped).
     */
    @Test
    void errorOffsetsDoNotDependOnWhereTheBodyIsCut() {
        for (String text : new String[] {"{\"read_version\": 1,   \n  ]}", "{\"read_version\":   \t 1 x}",
                "{\"operations\": [{\"type\":  \"delete\", \"key\": \"\"},  {\"type\": \"delete\",   \"key\": 1]}"}) {
            byte[] body = text.getBytes(StandardCharsets.UTF_8);
            String expected = assertThrows(BadRequestException.class, () -> parse(body)).getMessage();
            for (int a = 0; a <= body.length; a++) {
                for (int b = a; b <= body.length; b++) {
                    int x = a;
                    int y = b;
                    assertEquals(expected, assertThrows(BadRequestException.class, () -> parse(body, x, y)).getMessage(),
                            text + " cut at " + a + "/" + b);
                }
            }
        }
    }

    /** A body that is UTF-8 throughout parses the same from direct memory, cut anywhere, as from one heap array. */
    @Test
    void utf8FromDirectMemoryParsesAsFromTheHeap() throws Exception {
        String raw = "{\"request_id\": \"req-\u00e9\u20ac\ud83d\ude00-0123456789abcdef\", \"leader_id\": \"L\u00e9\", \"read_version\": 1}";
        for (String text : new String[] {FULL, raw}) {
            byte[] body = text.getBytes(StandardCharsets.UTF_8);
            String expected = describe(parse(body));
            for (int a = 0; a <= body.length; a += 3) {
                for (int b = a; b <= body.length; b += 11) {
                    CommitParser p = new CommitParser(FACTORY, LIMITS);
                    feedCopies(p, body, true, a, b);
                    assertEquals(expected, describe(p.finish()), "cut at " + a + "/" + b);
                }
            }
        }
        // a raw NUL is UTF-8 but not JSON: jackson's error, from direct memory as from the heap
        byte[] nul = withRaw("{\"leader_id\": \"L", bytes(0), "\"}");
        String expected = assertThrows(BadRequestException.class, () -> parse(nul)).getMessage();
        assertTrue(expected.startsWith("malformed JSON: ") && !expected.contains("UTF-8"), expected);
        assertEquals(expected, assertThrows(BadRequestException.class, () -> {
            CommitParser p = new CommitParser(FACTORY, LIMITS);
            feedCopies(p, nul, true, 3, 15);
            p.finish();
        }).getMessage());
    }

    @Test
    void base64MatchesTheJdkOnRandomInput() throws Exception {
        var random = new java.util.SplittableRandom(1);
        for (int n = 0; n < 200; n++) {
            byte[] data = new byte[random.nextInt(0, 64)];
            random.nextBytes(data);
            String enc = Base64.getEncoder().encodeToString(data);
            assertEquals(enc, Base64Codec.encodeToString(data));
            assertArrayEquals(data, Base64Codec.decode(enc));
        }
    }

    static String describe(CommitRequest r) {
        StringBuilder b = new StringBuilder(r.requestId() + "|" + r.leaderId() + "|" + r.readVersion() + "|" + r.bodyBytes());
        for (Precondition p : r.preconditions()) {
            switch (p) {
                case Precondition.PointRead pr -> b.append("|read ").append(java.util.Arrays.toString(pr.key())).append('@').append(pr.version());
                case Precondition.RangeRead rr -> b.append("|range ").append(java.util.Arrays.toString(rr.begin()))
                        .append(java.util.Arrays.toString(rr.end())).append('@').append(rr.version());
            }
        }
        for (Operation o : r.operations()) {
            switch (o) {
                case Operation.Write w -> b.append("|write ").append(java.util.Arrays.toString(w.key())).append(java.util.Arrays.toString(w.value()));
                case Operation.Delete d -> b.append("|delete ").append(java.util.Arrays.toString(d.key()));
                case Operation.RangeDelete rd -> b.append("|rdelete ").append(java.util.Arrays.toString(rd.begin()))
                        .append(java.util.Arrays.toString(rd.end()));
            }
        }
        return b.toString();
    }

    static void feedAll(CommitParser p, byte[] body, int split) throws BadRequestException {
        p.feed(ByteBuffer.wrap(body, 0, split));
        p.feed(ByteBuffer.wrap(body, split, body.length - split));
    }

    static final String[] BODIES = {
        "{}",
        "{\"request_id\": \"req-0123456789-abcdefghij\", \"read_version\": 42, \"preconditions\": "
                + "[{\"type\": \"point_read\", \"key\": \"YQ==\"}], \"operations\": "
                + "[{\"type\": \"write\", \"key\": \"YQ==\", \"value\": \"Yg==\"}]}  \r\n",
        "{\"read_version\":7,\"operations\":[{\"type\":\"range_delete\",\"begin\":\"YQ==\",\"end\":\"Yg==\"},"
                + "{\"type\":\"delete\",\"key\":\"\"}]}",
        "\t{\"leader_id\": null, \"read_version\": 123456789012}\n",
    };

    /** One parser for a connection's bodies gives what a new parser per body gives, wherever chunks split. */
    @Test
    void aResetParserParsesTheNextBodyLikeANewOne() throws Exception {
        CommitParser reused = new CommitParser(FACTORY, LIMITS);
        int n = 0;
        for (int round = 0; round < 3; round++) {
            for (String text : BODIES) {
                byte[] body = text.getBytes(StandardCharsets.UTF_8);
                for (int split = 0; split <= body.length; split++) {
                    feedAll(reused, body, split);
                    assertEquals(describe(parse(body)), describe(reused.finish()), text + " split at " + split);
                    assertTrue(reused.reset(), "reusable after " + text);
                    n++;
                }
            }
        }
        assertTrue(n > 300);
    }

    @Test
    void aResetParserReportsOffsetsWithinTheCurrentBody() throws Exception {
        CommitParser p = new CommitParser(FACTORY, LIMITS);
        feedAll(p, BODIES[1].getBytes(StandardCharsets.UTF_8), 3);
        p.finish();
        assertTrue(p.reset());
        byte[] bad = "{\"operations\": [}".getBytes(StandardCharsets.UTF_8);
        var fresh = assertThrows(BadRequestException.class, () -> parse(bad));
        var reused = assertThrows(BadRequestException.class, () -> feedAll(p, bad, 5));
        assertEquals(fresh.getMessage(), reused.getMessage());
        assertTrue(reused.getMessage().contains("(at byte 16)"), reused.getMessage());
    }

    /** Garbage after the object is caught in whichever chunk it arrives, even a token jackson would wait on. */
    @Test
    void trailingDataIsRejectedWhereverTheBodySplits() {
        assertTrailingDataRejectedAtEverySplit("{} tru", "{}\n\n1", "{\"read_version\": 3}  \"", "{} {");
    }

    /** Each body, split in two at every byte, is refused for the data after its object. */
    static void assertTrailingDataRejectedAtEverySplit(String... texts) {
        for (String text : texts) {
            byte[] body = text.getBytes(StandardCharsets.UTF_8);
            for (int split = 0; split <= body.length; split++) {
                int at = split;
                var e = assertThrows(BadRequestException.class, () -> {
                    CommitParser p = new CommitParser(FACTORY, LIMITS);
                    feedAll(p, body, at);
                    p.finish();
                }, text + " split at " + split);
                assertEquals("unexpected data after the end of the JSON object", e.getMessage(), text);
            }
        }
    }

    @Test
    void aParserIsNotReusedAfterUnknownFieldsOrAnUnfinishedBody() throws Exception {
        CommitParser unknown = new CommitParser(FACTORY, LIMITS);
        feedAll(unknown, "{\"future_field\": 1}".getBytes(StandardCharsets.UTF_8), 4);
        unknown.finish();
        assertEquals(false, unknown.reset(), "an unknown name is in jackson's symbol table now");

        CommitParser nested = new CommitParser(FACTORY, LIMITS);
        feedAll(nested, "{\"operations\": [{\"type\": \"delete\", \"key\": \"\", \"x\": {}}]}".getBytes(StandardCharsets.UTF_8), 9);
        nested.finish();
        assertEquals(false, nested.reset());

        CommitParser cut = new CommitParser(FACTORY, LIMITS);
        cut.feed(ByteBuffer.wrap("{\"read_version\": 1".getBytes(StandardCharsets.UTF_8)));
        assertThrows(BadRequestException.class, cut::finish);
        assertEquals(false, cut.reset());
    }

    static byte[] withBom(String text) {
        byte[] t = text.getBytes(StandardCharsets.UTF_8);
        byte[] b = new byte[t.length + 3];
        b[0] = (byte) 0xEF;
        b[1] = (byte) 0xBB;
        b[2] = (byte) 0xBF;
        System.arraycopy(t, 0, b, 3, t.length);
        return b;
    }

    /** describe() without the body size (a byte order mark adds 3). */
    static String withoutSize(String described) {
        return described.replaceFirst("^([^|]*\\|[^|]*\\|[^|]*\\|)[0-9]+", "$1");
    }

    /** How {@link #parseChunks} hands over each piece of a body. */
    enum ChunkKind {
        /** Direct memory, staged through the parser's heap array. */
        DIRECT,
        /** A slice of a larger heap array: array offset and reader index both past 0. */
        HEAP_SLICE,
        /** Two components, direct then heap. */
        COMPOSITE
    }

    static io.netty.buffer.ByteBuf chunk(ChunkKind kind, byte[] body, int from, int to) {
        int n = to - from;
        return switch (kind) {
            case DIRECT -> {
                io.netty.buffer.ByteBuf b = io.netty.buffer.Unpooled.directBuffer(n + 8);
                b.writeBytes(new byte[] {'x', 'x', 'x'}).skipBytes(3); // a reader index past 0, as in a slice
                yield b.writeBytes(body, from, n);
            }
            case HEAP_SLICE -> {
                io.netty.buffer.ByteBuf slice = io.netty.buffer.Unpooled.buffer(n + 40).slice(17, n + 20).clear();
                slice.writeBytes(new byte[] {'x', 'x', 'x'}).skipBytes(3);
                yield slice.writeBytes(body, from, n);
            }
            case COMPOSITE -> {
                int half = from + n / 2;
                io.netty.buffer.CompositeByteBuf c = io.netty.buffer.Unpooled.compositeBuffer();
                c.addComponent(true, io.netty.buffer.Unpooled.directBuffer(Math.max(1, half - from)).writeBytes(body, from, half - from));
                c.addComponent(true, io.netty.buffer.Unpooled.buffer(Math.max(1, to - half)).writeBytes(body, half, to - half));
                yield c;
            }
        };
    }

    /** Parses {@code body} through {@link CommitParser#feed(io.netty.buffer.ByteBuf)}, cut at {@code splits}. */
    static String parseChunks(CommitParser p, ChunkKind kind, byte[] body, int... splits) {
        int start = 0;
        try {
            for (int i = 0; i <= splits.length; i++) {
                int end = i < splits.length ? splits[i] : body.length;
                io.netty.buffer.ByteBuf chunk = chunk(kind, body, start, end);
                try {
                    int reader = chunk.readerIndex();
                    p.feed(chunk);
                    assertEquals(reader, chunk.readerIndex(), "feed moved the chunk's reader index");
                } finally {
                    chunk.release();
                }
                start = end;
            }
            return describe(p.finish());
        } catch (BadRequestException e) {
            return "error: " + e.getMessage();
        }
    }

    static String parseHeap(byte[] body) {
        try {
            return describe(parse(body));
        } catch (BadRequestException e) {
            return "error: " + e.getMessage();
        }
    }

    /**
     * The server's chunks live in direct memory and are staged through a 4 KiB heap array (and
     * heap chunks are read in place): the same requests and the same errors (offsets included) as
     * parsing one heap buffer, wherever the chunks split, for bodies several staging arrays long
     * with a ',' or a ':' on a staging boundary, a byte order mark, trailing garbage or an error
     * past the first array, on a new and on a reused parser.
     */
    @Test
    void byteBufChunksParseAsOneHeapBufferDoesAcrossStagingBoundaries() {
        int stage = CommitParser.STAGING_BYTES;
        String bigValue = Base64.getEncoder().encodeToString(new byte[(int) (stage * 1.6)]);
        String big = "{\"request_id\": \"req-0123456789-abcdefghij\", \"operations\": [{\"type\": \"write\", \"key\": \""
                + b64("k") + "\", \"value\": \"" + bigValue + "\"}, {\"type\": \"delete\", \"key\": \"" + b64("k") + "\"}]}";
        // a ',' right at the end of the first staging piece, then whitespace over the second
        String comma = "{\"read_version\": 7" + " ".repeat(stage - 18 - 1) + ",\n" + " ".repeat(stage)
                + "\"request_id\": \"req-0123456789-abcdefghij\"}";
        // a ':' there instead
        String colon = "{" + " ".repeat(stage - 16) + "\"read_version\":" + " ".repeat(stage + 3) + "8}";
        String badLate = big.substring(0, big.length() - 3) + "}x}";
        String trailingGarbage = big + " ".repeat(stage) + "tru";
        byte[][] bodies = {FULL.getBytes(StandardCharsets.UTF_8), BODIES[1].getBytes(StandardCharsets.UTF_8),
            big.getBytes(StandardCharsets.UTF_8), comma.getBytes(StandardCharsets.UTF_8), colon.getBytes(StandardCharsets.UTF_8),
            badLate.getBytes(StandardCharsets.UTF_8), trailingGarbage.getBytes(StandardCharsets.UTF_8), withBom(big)};
        assertEquals(',', bodies[3][stage - 1], "the ',' sits at the staging boundary");
        assertEquals(':', bodies[4][stage - 1], "the ':' sits at the staging boundary");
        CommitParser reused = new CommitParser(FACTORY, LIMITS);
        int checked = 0;
        for (byte[] body : bodies) {
            String expected = parseHeap(body);
            for (ChunkKind kind : ChunkKind.values()) {
                for (int split : new int[] {0, 1, 2, stage - 1, stage, stage + 1, 2 * stage, body.length / 2,
                        body.length - 1, body.length}) {
                    if (split > body.length) {
                        continue;
                    }
                    assertEquals(expected, parseChunks(new CommitParser(FACTORY, LIMITS), kind, body, split),
                            kind + ", new parser, split at " + split);
                    String got = parseChunks(reused, kind, body, split);
                    assertEquals(expected, got, kind + ", reused parser, split at " + split);
                    if (got.startsWith("error") || !reused.reset()) {
                        reused = new CommitParser(FACTORY, LIMITS);
                    }
                    checked++;
                }
            }
        }
        assertTrue(checked > 200);
        assertTrue(parseHeap(bodies[5]).startsWith("error: malformed JSON"));
        assertTrue(parseHeap(bodies[6]).startsWith("error: unexpected data after"));
        assertTrue(parseHeap(bodies[2]).contains("|delete "));
        assertTrue(parseHeap(bodies[3]).contains("|7|"));
        assertTrue(parseHeap(bodies[4]).contains("|8|"));
        assertEquals(withoutSize(parseHeap(bodies[2])), withoutSize(parseHeap(bodies[7])));
    }

    /**
     * Whitespace after a ',' or ':' that ends a chunk is held until a token follows. A body padded
     * with a MiB of it, in 4 KiB chunks, must cost work in proportion to its size: holding it by
     * re-copying everything held per chunk allocated ~250 MiB here.
     */
    @Test
    void whitespaceAfterAHeldCommaCostsLinearWork() throws Exception {
        int pad = 1 << 20;
        byte[] body = ("{\"read_version\": 7," + " ".repeat(pad) + "\"request_id\": \"req-0123456789-abcdefghij\"}")
                .getBytes(StandardCharsets.UTF_8);
        int[] splits = new int[body.length / 4096];
        for (int i = 0; i < splits.length; i++) {
            splits[i] = (i + 1) * 4096;
        }
        com.sun.management.ThreadMXBean threads = (com.sun.management.ThreadMXBean) java.lang.management.ManagementFactory.getThreadMXBean();
        long id = Thread.currentThread().threadId();
        for (ChunkKind kind : new ChunkKind[] {ChunkKind.DIRECT, ChunkKind.HEAP_SLICE}) {
            long before = threads.getThreadAllocatedBytes(id);
            String got = parseChunks(new CommitParser(FACTORY, LIMITS), kind, body, splits);
            long allocated = threads.getThreadAllocatedBytes(id) - before;
            assertTrue(got.contains("|7|"), got);
            // the chunks themselves (~1 MiB), the held whitespace (doubling: < 4 MiB in all) and one join (~1 MiB)
            assertTrue(allocated < 16L * pad, kind + ": allocated " + allocated + " bytes for a " + body.length + "-byte body");
        }
    }

    /** RFC 8259 lets a parser ignore a leading byte order mark: on a new or a reused parser, split anywhere. */
    @Test
    void aLeadingByteOrderMarkIsSkippedWhereverTheBodySplits() throws Exception {
        CommitParser reused = new CommitParser(FACTORY, LIMITS);
        for (String text : new String[] {"{\"read_version\": 5}", BODIES[1], "{}"}) {
            byte[] body = withBom(text);
            String expected = withoutSize(describe(parse(text.getBytes(StandardCharsets.UTF_8))));
            for (int split = 0; split <= body.length; split++) {
                for (int second = split; second <= body.length; second += Math.max(1, body.length / 7)) {
                    CommitParser fresh = new CommitParser(FACTORY, LIMITS);
                    fresh.feed(ByteBuffer.wrap(body, 0, split));
                    fresh.feed(ByteBuffer.wrap(body, split, second - split));
                    fresh.feed(ByteBuffer.wrap(body, second, body.length - second));
                    assertEquals(expected, withoutSize(describe(fresh.finish())), text + " split at " + split + "/" + second);
                }
                feedAll(reused, body, split);
                assertEquals(expected, withoutSize(describe(reused.finish())), "reused: " + text + " split at " + split);
                assertTrue(reused.reset());
            }
        }
        byte[] partial = {(byte) 0xEF, (byte) 0xBB, '{', '}'};
        for (int split = 0; split <= partial.length; split++) {
            int at = split;
            var e = assertThrows(BadRequestException.class, () -> {
                CommitParser p = new CommitParser(FACTORY, LIMITS);
                feedAll(p, partial, at);
                p.finish();
            });
            assertTrue(e.getMessage().startsWith("malformed JSON"), e.getMessage());
        }
        var e = assertThrows(BadRequestException.class, () -> parse(new byte[] {(byte) 0xEF, (byte) 0xBB, (byte) 0xBF}));
        assertTrue(e.getMessage().startsWith("truncated JSON"), e.getMessage());
        // offsets in messages count the mark; a second mark is not JSON, for a new parser as for a reused one
        e = assertThrows(BadRequestException.class, () -> parse(withBom("{\"operations\": [}")));
        assertTrue(e.getMessage().contains("(at byte 19)"), e.getMessage());
        byte[] twice = withBom(new String(new char[] {'\uFEFF', '{', '}'}));
        String fresh = assertThrows(BadRequestException.class, () -> parse(twice)).getMessage();
        assertTrue(fresh.startsWith("malformed JSON: Unexpected character"), fresh);
        for (int split = 0; split <= twice.length; split++) {
            CommitParser used = new CommitParser(FACTORY, LIMITS);
            feedAll(used, "{}".getBytes(StandardCharsets.UTF_8), 1);
            used.finish();
            assertTrue(used.reset());
            int at = split;
            String again = assertThrows(BadRequestException.class, () -> {
                feedAll(used, twice, at);
                used.finish();
            }).getMessage();
            assertEquals(fresh, again, "split at " + split);
        }
    }

    @Test
    void aParserIsNotReusedAfterALargeBody() throws Exception {
        String big = Base64.getEncoder().encodeToString(new byte[CommitParser.MAX_REUSE_BODY_BYTES]);
        CommitParser p = new CommitParser(FACTORY, LIMITS);
        feedAll(p, ("{\"request_id\": \"" + "r".repeat(20) + "\", \"leader_id\": \"" + big + "\"}").getBytes(StandardCharsets.UTF_8), 7);
        p.finish();
        assertEquals(false, p.reset(), "its text buffer now holds a string as long as the body");
    }

    @Test
    void thePoolKeepsResetParsersPerThreadUpToItsLimit() throws Exception {
        CommitParserPool pool = new CommitParserPool(FACTORY, LIMITS, 2);
        CommitParser[] taken = {pool.take(), pool.take(), pool.take()};
        for (CommitParser p : taken) {
            feedAll(p, BODIES[1].getBytes(StandardCharsets.UTF_8), 10);
            p.finish();
            pool.give(p);
        }
        assertEquals(2, pool.kept());
        CommitParser again = pool.take();
        assertTrue(again == taken[1] || again == taken[0], "a kept parser is handed out again");
        feedAll(again, "{\"x\": 1}".getBytes(StandardCharsets.UTF_8), 2);
        again.finish();
        pool.give(again); // an unknown name: closed, not kept
        assertEquals(1, pool.kept());
        Thread other = new Thread(() -> assertEquals(0, pool.kept()));
        other.start();
        other.join();
    }

    /**
     * Jackson 2.20's non-blocking parser accepts '}' after a chunk that ended in an object's ','
     * or ':'; CommitParser holds such a byte back, so these bodies fail wherever they are split.
     */
    @Test
    void trailingCommasAndMissingValuesAreRejectedWhereverTheBodySplits() {
        String[] bad = {
            "{\"read_version\": 1,}",
            "{\"read_version\": 1 , \n}",
            "{\"read_version\": }",
            "{\"future\": {\"x\": 1,}}",
            "{\"future\": {\"x\": }}",
            "{\"operations\": [{\"type\": \"delete\", \"key\": \"YQ==\",}]}",
            "{\"operations\": [{\"type\": \"delete\", \"key\": \"YQ==\", \"x\": }]}",
            "{\"read_version\": 1},",
            "{\"read_version\": 1,",
        };
        for (String text : bad) {
            byte[] body = text.getBytes(StandardCharsets.UTF_8);
            for (int split = 0; split <= body.length; split++) {
                for (int second = split; second <= body.length; second++) {
                    int a = split;
                    int b = second;
                    var e = assertThrows(BadRequestException.class, () -> {
                        CommitParser p = new CommitParser(FACTORY, LIMITS);
                        p.feed(ByteBuffer.wrap(body, 0, a));
                        p.feed(ByteBuffer.wrap(body, a, b - a));
                        p.feed(ByteBuffer.wrap(body, b, body.length - b));
                        p.finish();
                    }, text + " split at " + a + "/" + b);
                    String m = e.getMessage();
                    assertTrue(m.startsWith("malformed JSON") || m.startsWith("truncated JSON")
                            || m.startsWith("unexpected data after") || m.startsWith("read_version must"), text + ": " + m);
                }
            }
        }
        // a ',' or ':' inside a string at a chunk's end is held back too, and parses as before
        for (String text : new String[] {"{\"request_id\": \"abcdefghij,klmnopqrst:uvwxyz\"}", FULL}) {
            byte[] body = text.getBytes(StandardCharsets.UTF_8);
            for (int split = 0; split <= body.length; split++) {
                try {
                    CommitParser p = new CommitParser(FACTORY, LIMITS);
                    feedAll(p, body, split);
                    assertEquals(describe(parse(body)), describe(p.finish()), "split at " + split);
                } catch (BadRequestException e) {
                    throw new AssertionError(text + " split at " + split, e);
                }
            }
        }
    }

    @Test
    void theFactorysParsersTellTheByteOffsetJacksonsLocationTells() throws Exception {
        // the root object's end is read from OffsetParser.byteOffset() instead of a JsonLocation:
        // after every token, fed in every split, the two agree (a jackson upgrade that changes
        // its fields fails here, not in production)
        String[] bodies = {"{}", "{\"a\": 1 }", " {\"a\" : [1, 2.5e3, {}], \"b\": \"x\\\"y\"}\n", FULL,
            "{\"s\": \"\\u00e9\u00e9\", \"n\": null, \"t\": true}"};
        for (String body : bodies) {
            byte[] bytes = body.getBytes(StandardCharsets.UTF_8);
            for (int split = 1; split <= bytes.length; split++) {
                try (com.fasterxml.jackson.core.JsonParser p = FACTORY.createNonBlockingByteBufferParser()) {
                    CommitParser.OffsetParser offsets = assertInstanceOf(CommitParser.OffsetParser.class, p);
                    com.fasterxml.jackson.core.async.ByteBufferFeeder feeder =
                            (com.fasterxml.jackson.core.async.ByteBufferFeeder) p.getNonBlockingInputFeeder();
                    int tokens = 0;
                    for (int from = 0; from < bytes.length; from += split) {
                        feeder.feedInput(ByteBuffer.wrap(bytes, from, Math.min(split, bytes.length - from)));
                        com.fasterxml.jackson.core.JsonToken t;
                        while ((t = p.nextToken()) != null && t != com.fasterxml.jackson.core.JsonToken.NOT_AVAILABLE) {
                            assertEquals(p.currentLocation().getByteOffset(), offsets.byteOffset(),
                                    body + " split " + split + " after " + t);
                            tokens++;
                        }
                    }
                    assertTrue(tokens >= 2, body);
                }
            }
        }
    }
}
