package io.weaseldb.json;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.core.StreamReadConstraints;
import com.fasterxml.jackson.core.async.ByteBufferFeeder;
import io.netty.buffer.ByteBuf;
import io.weaseldb.txn.CommitRequest;
import io.weaseldb.txn.Operation;
import io.weaseldb.txn.Precondition;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * Parses a {@code POST /v1/commit} body as it arrives: each chunk is fed to jackson-core's
 * non-blocking parser and every complete token is consumed before {@link #feed} returns, so the
 * caller may release the chunk's buffer right after. Produces an immutable {@link CommitRequest}
 * and validates everything the API contract requires, failing with a precise message.
 *
 * <p>Owned by one event loop at a time. After a body that parsed cleanly, {@link #reset} readies
 * the parser for another body ({@link CommitParserPool} keeps reset parsers per event loop), and
 * jackson's parser, its contexts and buffers are reused: the stream simply continues with the next
 * root value. So jackson never sees what is not a value: a leading UTF-8 byte order mark is
 * skipped here (jackson skips one only at the start of its stream, and then miscounts offsets by
 * its length), and bytes after a body's closing brace are checked here (they must be JSON
 * whitespace, which leaves jackson between root values). A body that failed, ended early, was
 * large, or carried field names this parser does not know is not reused: unknown names would
 * grow the parser's symbol table, a large body its text buffers, for as long as it is kept.
 * Not thread-safe.
 */
public final class CommitParser implements AutoCloseable {

    /** Deepest nesting of arrays and objects in a body, unknown fields' values included. */
    public static final int MAX_NESTING_DEPTH = 64;

    /** A factory shared by all parsers: thread-safe once configured. */
    public static JsonFactory newFactory(long maxRequestSizeBytes) {
        int maxString = (int) Math.min(Integer.MAX_VALUE, Math.max(1024, maxRequestSizeBytes));
        return new OffsetParserFactory((com.fasterxml.jackson.core.JsonFactoryBuilder) JsonFactory.builder()
                // names are matched with equals; String.intern of every new name (a body of
                // unknown field names) cost 5-10x the parse itself
                .disable(JsonFactory.Feature.INTERN_FIELD_NAMES)
                .streamReadConstraints(StreamReadConstraints.builder()
                        .maxStringLength(maxString)
                        // an unknown field's name is ignored however long (jackson's default
                        // stopped at 50,000 characters, with a 400 the contract does not allow)
                        .maxNameLength(maxString)
                        .maxNestingDepth(MAX_NESTING_DEPTH)
                        .maxNumberLength(64)
                        .build()));
    }

    /**
     * jackson's factory, making non-blocking parsers that tell their byte offset without a
     * {@code JsonLocation} (48 bytes per body, made to find where the root object ended).
     */
    private static final class OffsetParserFactory extends JsonFactory {
        OffsetParserFactory(com.fasterxml.jackson.core.JsonFactoryBuilder b) {
            super(b);
        }

        @Override
        public JsonParser createNonBlockingByteBufferParser() {
            return new OffsetParser(_createNonBlockingContext(null), _parserFeatures,
                    _byteSymbolCanonicalizer.makeChildOrPlaceholder(_factoryFeatures));
        }
    }

    /** jackson's non-blocking parser, and the offset it puts in {@code currentLocation()}, without making one. */
    static final class OffsetParser extends com.fasterxml.jackson.core.json.async.NonBlockingByteBufferJsonParser {
        OffsetParser(com.fasterxml.jackson.core.io.IOContext ctxt, int features,
                     com.fasterxml.jackson.core.sym.ByteQuadsCanonicalizer symbols) {
            super(ctxt, features, symbols);
        }

        /** {@code currentLocation().getByteOffset()} (jackson 2.20's NonBlockingJsonParserBase). */
        long byteOffset() {
            return _currInputProcessed + (_inputPtr - _currBufferStart);
        }
    }

    private enum State { ROOT_START, ROOT, ROOT_VALUE, PRECONDITIONS, OPERATIONS, ITEM, ITEM_VALUE, SKIP, DONE }

    private static final int F_TYPE = 1, F_KEY = 2, F_VALUE = 4, F_BEGIN = 8, F_END = 16, F_VERSION = 32;
    private static final int R_REQUEST_ID = 1, R_LEADER_ID = 2, R_READ_VERSION = 4, R_PRECONDITIONS = 8, R_OPERATIONS = 16;

    /**
     * A parser is replaced after this many bytes: jackson keeps some positions in {@code int}s
     * (row starts, for error locations) that drift with every byte fed on one line.
     */
    static final long MAX_REUSE_BYTES = 256L << 20;
    /** Bodies larger than this leave jackson's text buffers grown; such a parser is not reused. */
    static final int MAX_REUSE_BODY_BYTES = 16 << 10;
    /** Size of the heap array direct chunks are copied through (see {@code staging}). */
    static final int STAGING_BYTES = 4 << 10;
    private static final byte[] BOM = {(byte) 0xEF, (byte) 0xBB, (byte) 0xBF};
    /**
     * Fed to every new parser: takes jackson past its first document, where it would handle a
     * byte order mark itself (and then count offsets 3 short), so that every body, first or not,
     * takes the same path through jackson.
     */
    private static final byte[] PRIME = {'{', '}', ' '};

    private final JsonParser parser;
    private final ByteBufferFeeder feeder;
    private final Utf8Check utf8 = new Utf8Check();
    private final CommitLimits limits;
    /** Bytes fed to jackson so far, all bodies: jackson's offsets count from the first byte. */
    private long streamFed;
    /** {@link #streamFed} when this body began. */
    private long streamBase;
    /** Stream offset just past this body's closing brace, once {@link State#DONE}. */
    private long rootEnd = -1;
    /** False once this body held a field name the parser skips (see the class comment). */
    private boolean knownNamesOnly = true;
    /** Bytes of a leading byte order mark matched so far; -1 once the body's first bytes are past it. */
    private int bomMatched;
    /** Bytes of this body skipped as a byte order mark (0 or 3): error offsets count them. */
    private int bomSkipped;
    /** A trailing ',' or ':' of the last chunk, and whitespace after it, not yet fed (see feedJackson). */
    private byte[] held = new byte[16];
    private int heldLength;
    /**
     * Where {@link #feed(ByteBuf)} copies a chunk that lives in direct memory before jackson reads
     * it. Jackson reads its input a byte at a time, and on JDK 25 (where Netty 4.2 does without
     * {@code sun.misc.Unsafe}) every {@code get} on a direct {@code ByteBuffer} pays a bounds and a
     * memory-session check; one bulk copy into the heap is cheaper. Fixed size: longer chunks go
     * through it in pieces, so a pooled parser holds no more than this. Made on first use.
     */
    private byte[] staging;
    private ByteBuffer stagingView;
    /** The backing array of the last heap chunk fed, and a view of all of it (see {@link #feed(ByteBuf)}). */
    private byte[] heapArray;
    private ByteBuffer heapView;

    private State state = State.ROOT_START;
    private State afterSkip;
    private int skipDepth;
    private String field;
    private int rootSeen;

    // root fields
    private String requestId;
    private String leaderId;
    private long readVersion = CommitRequest.NO_READ_VERSION;
    private final List<Precondition> preconditions = new ArrayList<>();
    private final List<Operation> operations = new ArrayList<>();
    private int bodyBytes;

    // the item (precondition or operation) being parsed
    private boolean inPreconditions;
    private int itemSeen;
    private String itemType;
    private byte[] itemKey, itemValue, itemBegin, itemEnd;
    private long itemVersion;

    public CommitParser(JsonFactory factory, CommitLimits limits) {
        try {
            this.parser = factory.createNonBlockingByteBufferParser();
        } catch (IOException e) {
            throw new IllegalStateException("jackson cannot create a non-blocking parser", e);
        }
        this.feeder = (ByteBufferFeeder) parser.getNonBlockingInputFeeder();
        this.limits = limits;
        feedRange(ByteBuffer.wrap(PRIME), 0, PRIME.length);
        try {
            if (parser.nextToken() != JsonToken.START_OBJECT || parser.nextToken() != JsonToken.END_OBJECT
                    || parser.nextToken() != JsonToken.NOT_AVAILABLE) {
                throw new IllegalStateException("jackson did not parse {} as an object");
            }
        } catch (IOException e) {
            throw new IllegalStateException("jackson cannot parse {}", e);
        }
        streamBase = streamFed;
    }

    /**
     * Feeds the readable bytes of the next chunk of the body and consumes every complete token in
     * them; the chunk's indexes are left as they were. A heap chunk is read where it is; any other
     * (direct, composite) is copied to the heap first, at most {@link #STAGING_BYTES} at a time.
     */
    public void feed(ByteBuf chunk) throws BadRequestException {
        int from = chunk.readerIndex();
        int end = chunk.writerIndex();
        if (chunk.hasArray()) {
            byte[] array = chunk.array();
            if (array != heapArray) {
                // One view per backing array, not one per chunk: a pooled heap cumulation keeps
                // its array (an arena chunk) from request to request, and jackson holds the last
                // buffer fed until the next one anyway.
                heapArray = array;
                heapView = ByteBuffer.wrap(array);
            }
            int offset = chunk.arrayOffset();
            feed(heapView.clear().limit(offset + end).position(offset + from));
            return;
        }
        if (staging == null && from < end) {
            staging = new byte[STAGING_BYTES];
            stagingView = ByteBuffer.wrap(staging);
        }
        while (from < end) {
            int n = Math.min(STAGING_BYTES, end - from);
            chunk.getBytes(from, staging, 0, n);
            // the next piece may overwrite these bytes: jackson reads none of its input once it
            // needs more (partial tokens are in its own buffers), and a held ',' or ':' is copied out
            feed(stagingView.limit(n).position(0));
            from += n;
        }
    }

    /**
     * Feeds the next chunk of the body and consumes every complete token in it. The chunk's
     * position and limit are left as they were.
     */
    public void feed(ByteBuffer chunk) throws BadRequestException {
        if (!chunk.hasRemaining()) {
            return;
        }
        int position = chunk.position();
        int to = chunk.limit();
        int bad = utf8.check(chunk, position, to);
        if (bad >= 0) {
            throw new BadRequestException("malformed JSON: invalid UTF-8 (at byte " + (bodyBytes + bad - position)
                    + ": 0x" + Integer.toHexString(chunk.get(bad) & 0xFF).toUpperCase(java.util.Locale.ROOT)
                    + " cannot come there; overlong forms, encoded surrogates and code points past U+10FFFF are not"
                    + " UTF-8)");
        }
        bodyBytes += to - position;
        if (state == State.DONE) {
            // after the object: only whitespace may follow, and jackson need not see it
            requireWhitespace(chunk, position, to);
            return;
        }
        int from = skipBom(chunk, position, to);
        if (from == to) {
            return;
        }
        if (heldLength > 0) {
            if (isAllWhitespace(chunk, from, to)) {
                // more whitespace after the held ',' or ':': keep it with them. (Joining and then
                // holding again would copy everything held once per chunk, quadratic in a body
                // padded with whitespace.)
                appendHeld(chunk, from, to);
                return;
            }
            // rare: the last chunk ended in ',' or ':'; feed those bytes with this chunk
            byte[] joined = Arrays.copyOf(held, heldLength + (to - from));
            chunk.get(from, joined, heldLength, to - from);
            heldLength = 0;
            feedJackson(ByteBuffer.wrap(joined), 0, joined.length);
        } else {
            feedJackson(chunk, from, to);
        }
    }

    /**
     * Feeds {@code [from, to)} of {@code buf} to jackson and consumes every complete token, except
     * a trailing ',' or ':' (and whitespace after it), which is held for the next chunk: jackson
     * 2.20's non-blocking parser accepts "}" right after a chunk that ended in an object's ',' or
     * ':' (a trailing comma, a missing value), so whether {"a": 1,} was accepted depended on where
     * TCP split it. Moving a chunk boundary earlier is always safe for jackson.
     */
    private void feedJackson(ByteBuffer buf, int from, int to) throws BadRequestException {
        int end = to;
        int last = to - 1;
        while (last >= from && isWhitespace(buf.get(last))) {
            last--;
        }
        if (last >= from && (buf.get(last) == ',' || buf.get(last) == ':')) {
            end = last;
            hold(buf, last, to);
        }
        if (end == from) {
            return;
        }
        feedRange(buf, from, end);
        drain();
        if (state == State.DONE) {
            // The object ended in this chunk and drain() stopped there. Check the rest here:
            // jackson would take "{} tru" as the start of a second value and wait for more.
            long chunkStart = streamFed - (end - from);
            requireWhitespace(buf, from + (int) Math.max(0, rootEnd - chunkStart), end);
            skipWhitespace();
            if (heldLength > 0) {
                throw new BadRequestException("unexpected data after the end of the JSON object");
            }
        }
        assert feeder.needMoreInput() : "chunk not fully consumed";
    }

    /** Hands {@code [from, end)} of {@code buf} to jackson; the buffer's position and limit are left as they were. */
    private void feedRange(ByteBuffer buf, int from, int end) {
        int position = buf.position();
        int limit = buf.limit();
        try {
            // jackson reads [position, limit) by absolute index; both are restored below
            buf.limit(end).position(from);
            feeder.feedInput(buf);
        } catch (IOException e) {
            throw new IllegalStateException("fed before the previous chunk was consumed", e);
        } finally {
            buf.limit(limit).position(position);
        }
        streamFed += end - from;
    }

    private void hold(ByteBuffer buf, int from, int to) {
        if (held.length < to - from) {
            held = new byte[Math.max(to - from, 2 * held.length)];
        }
        buf.get(from, held, 0, to - from);
        heldLength = to - from;
    }

    private void appendHeld(ByteBuffer buf, int from, int to) {
        int n = to - from;
        if (held.length - heldLength < n) {
            held = Arrays.copyOf(held, Math.max(heldLength + n, 2 * held.length));
        }
        buf.get(from, held, heldLength, n);
        heldLength += n;
    }

    private static boolean isAllWhitespace(ByteBuffer buf, int from, int to) {
        for (int i = from; i < to; i++) {
            if (!isWhitespace(buf.get(i))) {
                return false;
            }
        }
        return true;
    }

    private static boolean isWhitespace(byte b) {
        return b == ' ' || b == '\n' || b == '\r' || b == '\t';
    }

    /**
     * Skips a UTF-8 byte order mark at the start of the body (RFC 8259 lets parsers ignore one),
     * across chunks if it is split; returns where the chunk's JSON starts.
     */
    private int skipBom(ByteBuffer chunk, int from, int to) throws BadRequestException {
        int i = from;
        while (bomMatched >= 0 && i < to) {
            if (chunk.get(i) != BOM[bomMatched]) {
                if (bomMatched > 0) {
                    throw new BadRequestException("malformed JSON: the body starts with an incomplete UTF-8 byte order mark");
                }
                bomMatched = -1;
                break;
            }
            i++;
            if (++bomMatched == BOM.length) {
                bomMatched = -1;
                bomSkipped = BOM.length;
            }
        }
        return i;
    }

    /** Lets jackson consume the whitespace after the object, which leaves it between root values. */
    private void skipWhitespace() {
        try {
            JsonToken t = parser.nextToken();
            if (t != JsonToken.NOT_AVAILABLE) {
                throw new IllegalStateException("jackson found " + t + " in whitespace");
            }
        } catch (IOException e) {
            throw new IllegalStateException("jackson failed on whitespace", e);
        }
    }

    private static void requireWhitespace(ByteBuffer chunk, int from, int to) throws BadRequestException {
        if (!isAllWhitespace(chunk, from, to)) {
            throw new BadRequestException("unexpected data after the end of the JSON object");
        }
    }

    /** Ends the body; returns the request or fails if it is incomplete or invalid. */
    public CommitRequest finish() throws BadRequestException {
        if (state != State.DONE) {
            if (heldLength > 0) {
                // the body ended in ',' or ':': jackson reports the end of input inside the object
                feedRange(ByteBuffer.wrap(held), 0, heldLength);
                heldLength = 0;
            }
            // let jackson report a token the end of input cut short ("1." or "tru")
            feeder.endOfInput();
            drain();
        }
        if (state != State.DONE) {
            if (bodyBytes == 0) {
                throw new BadRequestException("request body is empty; expected a JSON object");
            }
            throw new BadRequestException("truncated JSON: the body ended inside " + where());
        }
        if (readVersion == CommitRequest.NO_READ_VERSION) {
            for (int i = 0; i < preconditions.size(); i++) {
                if (preconditions.get(i).version() == Precondition.DEFAULT_VERSION) {
                    throw new BadRequestException("preconditions[" + i + "] has no \"version\" and the request has no"
                            + " \"read_version\"; one of them is required");
                }
            }
        }
        return new CommitRequest(requestId, leaderId, readVersion, preconditions, operations, bodyBytes);
    }

    /**
     * Readies this parser for the next body on the same connection. Returns false, and the caller
     * must {@link #close} it and make a new one, unless the last body was parsed to its end with
     * only known field names (see the class comment).
     */
    public boolean reset() {
        if (state != State.DONE || !knownNamesOnly || bodyBytes > MAX_REUSE_BODY_BYTES || streamFed > MAX_REUSE_BYTES) {
            return false;
        }
        streamBase = streamFed;
        bodyBytes = 0;
        rootEnd = -1;
        bomMatched = 0;
        bomSkipped = 0;
        heldLength = 0;
        utf8.reset();
        state = State.ROOT_START;
        afterSkip = null;
        skipDepth = 0;
        field = null;
        rootSeen = 0;
        requestId = null;
        leaderId = null;
        readVersion = CommitRequest.NO_READ_VERSION;
        preconditions.clear();
        operations.clear();
        inPreconditions = false;
        itemSeen = 0;
        itemType = null;
        itemKey = itemValue = itemBegin = itemEnd = null;
        itemVersion = Precondition.DEFAULT_VERSION;
        return true;
    }

    @Override
    public void close() {
        try {
            parser.close();
        } catch (IOException ignored) {
            // non-blocking parser over fed buffers holds no external resource
        }
    }

    private void drain() throws BadRequestException {
        try {
            JsonToken t;
            while (state != State.DONE && (t = parser.nextToken()) != null && t != JsonToken.NOT_AVAILABLE) {
                token(t);
            }
        } catch (com.fasterxml.jackson.core.io.JsonEOFException e) {
            throw new BadRequestException("truncated JSON: the body ended inside " + where());
        } catch (com.fasterxml.jackson.core.exc.StreamConstraintsException e) {
            // jackson's limits (nesting depth, number and string length) give no location
            String m = e.getOriginalMessage();
            throw new BadRequestException(m.contains("nesting depth")
                    ? "JSON nested more than " + MAX_NESTING_DEPTH + " levels deep (unknown fields count too)"
                    : "a JSON value longer than this server accepts");
        } catch (JsonProcessingException e) {
            com.fasterxml.jackson.core.JsonLocation at = e.getLocation();
            throw new BadRequestException("malformed JSON: " + JsonErrors.clean(e.getOriginalMessage())
                    + (at == null ? "" : " (at byte " + (at.getByteOffset() - streamBase + bomSkipped) + ")"));
        } catch (IOException e) {
            throw new BadRequestException("malformed JSON: " + e.getMessage());
        }
    }

    private void token(JsonToken t) throws IOException, BadRequestException {
        switch (state) {
            case ROOT_START -> {
                if (t != JsonToken.START_OBJECT) {
                    throw new BadRequestException("the body must be a JSON object, got " + describe(t));
                }
                state = State.ROOT;
            }
            case ROOT -> {
                if (t == JsonToken.END_OBJECT) {
                    state = State.DONE;
                    // just past the '}'. Not the token offset plus one: jackson 2.20's non-blocking
                    // parser puts the '}' token's offset past it when it closes an empty object, and
                    // at the whitespace before it after a value ("{\"a\": 1 }").
                    rootEnd = parser instanceof OffsetParser o ? o.byteOffset() : parser.currentLocation().getByteOffset();
                } else {
                    field = parser.currentName();
                    state = State.ROOT_VALUE;
                }
            }
            case ROOT_VALUE -> rootValue(t);
            case PRECONDITIONS, OPERATIONS -> {
                if (t == JsonToken.END_ARRAY) {
                    state = State.ROOT;
                } else if (t == JsonToken.START_OBJECT) {
                    beginItem(state == State.PRECONDITIONS);
                } else {
                    throw new BadRequestException(arrayName() + "[" + itemIndex() + "] must be an object, got " + describe(t));
                }
            }
            case ITEM -> {
                if (t == JsonToken.END_OBJECT) {
                    endItem();
                } else {
                    field = parser.currentName();
                    state = State.ITEM_VALUE;
                }
            }
            case ITEM_VALUE -> itemValue(t);
            case SKIP -> {
                if (t.isStructStart()) {
                    skipDepth++;
                } else if (t.isStructEnd() && --skipDepth == 0) {
                    state = afterSkip;
                }
            }
            case DONE -> throw new BadRequestException("unexpected data after the end of the JSON object");
        }
    }

    private void rootValue(JsonToken t) throws IOException, BadRequestException {
        State next = State.ROOT;
        switch (field) {
            case "request_id" -> {
                once(R_REQUEST_ID);
                if (t != JsonToken.VALUE_NULL) {
                    requestId = string(t, "request_id");
                    int surrogate = unpairedSurrogate(requestId);
                    if (surrogate >= 0) {
                        // it could not be stored or echoed as UTF-8 without losing it: two ids would become one
                        throw new BadRequestException("request_id has an unpaired UTF-16 surrogate (\\u"
                                + Integer.toHexString(requestId.charAt(surrogate)) + ") at character " + surrogate);
                    }
                    int length = CommitLimits.idLength(requestId);
                    if (length < limits.minRequestIdLength()) {
                        throw new BadRequestException("request_id must be at least " + limits.minRequestIdLength()
                                + " characters, got " + length);
                    }
                    if (length > limits.maxRequestIdLength()) {
                        throw new BadRequestException("request_id must be at most " + limits.maxRequestIdLength()
                                + " characters, got " + length);
                    }
                }
            }
            case "leader_id" -> {
                once(R_LEADER_ID);
                if (t != JsonToken.VALUE_NULL) {
                    leaderId = string(t, "leader_id");
                }
            }
            case "read_version" -> {
                once(R_READ_VERSION);
                if (t != JsonToken.VALUE_NULL) {
                    readVersion = version(t, "read_version");
                }
            }
            case "preconditions" -> {
                once(R_PRECONDITIONS);
                next = array(t, "preconditions", State.PRECONDITIONS);
            }
            case "operations" -> {
                once(R_OPERATIONS);
                next = array(t, "operations", State.OPERATIONS);
            }
            default -> {
                knownNamesOnly = false;
                next = skip(t, State.ROOT); // unknown fields are ignored (forward compatibility)
            }
        }
        state = next;
    }

    private State array(JsonToken t, String name, State inArray) throws BadRequestException {
        if (t == JsonToken.VALUE_NULL) {
            return State.ROOT;
        }
        if (t != JsonToken.START_ARRAY) {
            throw new BadRequestException(name + " must be an array, got " + describe(t));
        }
        return inArray;
    }

    private State skip(JsonToken t, State resume) {
        if (t.isStructStart()) {
            skipDepth = 1;
            afterSkip = resume;
            return State.SKIP;
        }
        return resume;
    }

    private void once(int bit) throws BadRequestException {
        if ((rootSeen & bit) != 0) {
            throw new BadRequestException("duplicate field \"" + field + "\"");
        }
        rootSeen |= bit;
    }

    private void beginItem(boolean precondition) throws BadRequestException {
        inPreconditions = precondition;
        if (precondition && preconditions.size() >= limits.maxPreconditions()) {
            throw new BadRequestException("too many preconditions: at most " + limits.maxPreconditions() + " per commit");
        }
        if (!precondition && operations.size() >= limits.maxOperations()) {
            throw new BadRequestException("too many operations: at most " + limits.maxOperations() + " per commit");
        }
        itemSeen = 0;
        itemType = null;
        itemKey = itemValue = itemBegin = itemEnd = null;
        itemVersion = Precondition.DEFAULT_VERSION;
        state = State.ITEM;
    }

    private void itemValue(JsonToken t) throws IOException, BadRequestException {
        State next = State.ITEM;
        switch (field) {
            case "type" -> {
                itemOnce(F_TYPE);
                itemType = string(t, "type");
            }
            case "key" -> {
                itemOnce(F_KEY);
                itemKey = key(t, "key");
            }
            case "begin" -> {
                itemOnce(F_BEGIN);
                itemBegin = key(t, "begin");
            }
            case "end" -> {
                itemOnce(F_END);
                // one byte more than a key: a range must be able to end past the largest key
                itemEnd = key(t, "end", limits.maxKeyBytes() + 1);
            }
            case "value" -> {
                itemOnce(F_VALUE);
                itemValue = bytes(t, "value");
            }
            case "version" -> {
                itemOnce(F_VERSION);
                if (t != JsonToken.VALUE_NULL) {
                    itemVersion = version(t, "version");
                }
            }
            default -> {
                knownNamesOnly = false;
                next = skip(t, State.ITEM);
            }
        }
        state = next;
    }

    private void itemOnce(int bit) throws BadRequestException {
        if ((itemSeen & bit) != 0) {
            throw new BadRequestException(itemPath() + ": duplicate field \"" + field + "\"");
        }
        itemSeen |= bit;
    }

    private void endItem() throws BadRequestException {
        if (itemType == null) {
            throw new BadRequestException(itemPath() + ": missing \"type\"");
        }
        if (inPreconditions) {
            switch (itemType) {
                case "point_read" -> {
                    allowOnly(F_TYPE | F_KEY | F_VERSION, "point_read");
                    preconditions.add(new Precondition.PointRead(require(itemKey, "key"), itemVersion));
                }
                case "range_read" -> {
                    allowOnly(F_TYPE | F_BEGIN | F_END | F_VERSION, "range_read");
                    checkRange();
                    preconditions.add(new Precondition.RangeRead(itemBegin, itemEnd, itemVersion));
                }
                default -> throw new BadRequestException(itemPath() + ": unknown precondition type \"" + itemType
                        + "\" (expected point_read or range_read)");
            }
            state = State.PRECONDITIONS;
        } else {
            switch (itemType) {
                case "write" -> {
                    allowOnly(F_TYPE | F_KEY | F_VALUE, "write");
                    operations.add(new Operation.Write(require(itemKey, "key"), require(itemValue, "value")));
                }
                case "delete" -> {
                    allowOnly(F_TYPE | F_KEY, "delete");
                    operations.add(new Operation.Delete(require(itemKey, "key")));
                }
                case "range_delete" -> {
                    allowOnly(F_TYPE | F_BEGIN | F_END, "range_delete");
                    checkRange();
                    operations.add(new Operation.RangeDelete(itemBegin, itemEnd));
                }
                default -> throw new BadRequestException(itemPath() + ": unknown operation type \"" + itemType
                        + "\" (expected write, delete or range_delete)");
            }
            state = State.OPERATIONS;
        }
    }

    /**
     * Known fields that do not belong to the item's type are an error rather than silently
     * ignored: a {@code write} without {@code value} but with {@code begin} is a client bug.
     */
    private void allowOnly(int allowed, String type) throws BadRequestException {
        int extra = itemSeen & ~allowed;
        if (extra != 0) {
            throw new BadRequestException(itemPath() + ": field \"" + fieldName(Integer.lowestOneBit(extra))
                    + "\" does not apply to " + type);
        }
    }

    private static String fieldName(int bit) {
        return switch (bit) {
            case F_TYPE -> "type";
            case F_KEY -> "key";
            case F_VALUE -> "value";
            case F_BEGIN -> "begin";
            case F_END -> "end";
            default -> "version";
        };
    }

    private byte[] require(byte[] v, String name) throws BadRequestException {
        if (v == null) {
            throw new BadRequestException(itemPath() + ": missing \"" + name + "\" for " + itemType);
        }
        return v;
    }

    private void checkRange() throws BadRequestException {
        require(itemBegin, "begin");
        require(itemEnd, "end");
        if (Arrays.compareUnsigned(itemBegin, itemEnd) >= 0) {
            throw new BadRequestException(itemPath() + ": begin must be less than end");
        }
    }

    /** The index of the first surrogate that is not half of a pair, or -1: such a string has no UTF-8 form. */
    static int unpairedSurrogate(String s) {
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (Character.isHighSurrogate(c) && i + 1 < s.length() && Character.isLowSurrogate(s.charAt(i + 1))) {
                i++;
            } else if (Character.isSurrogate(c)) {
                return i;
            }
        }
        return -1;
    }

    private String string(JsonToken t, String name) throws IOException, BadRequestException {
        if (t != JsonToken.VALUE_STRING) {
            throw new BadRequestException(path(name) + " must be a string, got " + describe(t));
        }
        return parser.getText();
    }

    private byte[] key(JsonToken t, String name) throws IOException, BadRequestException {
        return key(t, name, limits.maxKeyBytes());
    }

    private byte[] key(JsonToken t, String name, int limit) throws IOException, BadRequestException {
        byte[] k = bytes(t, name);
        if (k.length > limit) {
            throw new BadRequestException(path(name) + ": key is " + k.length + " bytes, the limit is " + limit);
        }
        return k;
    }

    private byte[] bytes(JsonToken t, String name) throws IOException, BadRequestException {
        if (t != JsonToken.VALUE_STRING) {
            throw new BadRequestException(path(name) + " must be a base64 string, got " + describe(t));
        }
        try {
            return Base64Codec.decode(parser.getTextCharacters(), parser.getTextOffset(), parser.getTextLength());
        } catch (Base64Codec.InvalidBase64Exception e) {
            throw new BadRequestException(path(name) + ": " + e.getMessage());
        }
    }

    private long version(JsonToken t, String name) throws IOException, BadRequestException {
        if (t != JsonToken.VALUE_NUMBER_INT) {
            throw new BadRequestException(path(name) + " must be a non-negative integer, got " + describe(t));
        }
        if (parser.getNumberType() == JsonParser.NumberType.BIG_INTEGER) {
            throw new BadRequestException(path(name) + " is out of range (must fit in a signed 64-bit integer)");
        }
        long v = parser.getLongValue();
        if (v < 0) {
            throw new BadRequestException(path(name) + " must be a non-negative integer, got " + v);
        }
        return v;
    }

    private String path(String name) {
        return state == State.ITEM_VALUE ? itemPath() + "." + name : name;
    }

    private String itemPath() {
        return arrayName() + "[" + itemIndex() + "]";
    }

    private String arrayName() {
        boolean pre = switch (state) {
            case PRECONDITIONS -> true;
            case OPERATIONS -> false;
            default -> inPreconditions;
        };
        return pre ? "preconditions" : "operations";
    }

    private int itemIndex() {
        return arrayName().equals("preconditions") ? preconditions.size() : operations.size();
    }

    private String where() {
        return switch (state) {
            case ROOT_START -> "the top-level value";
            case ROOT, ROOT_VALUE, SKIP -> "the top-level object";
            case PRECONDITIONS -> "the preconditions array";
            case OPERATIONS -> "the operations array";
            case ITEM, ITEM_VALUE -> itemPath();
            case DONE -> "nothing";
        };
    }

    private static String describe(JsonToken t) {
        return switch (t) {
            case START_OBJECT -> "an object";
            case START_ARRAY -> "an array";
            case VALUE_STRING -> "a string";
            case VALUE_NUMBER_INT -> "an integer";
            case VALUE_NUMBER_FLOAT -> "a floating-point number";
            case VALUE_TRUE, VALUE_FALSE -> "a boolean";
            case VALUE_NULL -> "null";
            default -> t.toString();
        };
    }
}
