"""SSE parsing per the WHATWG rules, fed in every possible chunking."""

from __future__ import annotations

from weaseldb.sse import SSEEvent, SSEParser


def feed_all(data: bytes, sizes: int | None = None) -> tuple[list[SSEEvent], SSEParser]:
    p = SSEParser()
    out: list[SSEEvent] = []
    if sizes is None:
        out += p.feed(data)
    else:
        for i in range(0, len(data), sizes):
            out += p.feed(data[i:i + sizes])
    return out, p


STREAM = (
    b"\xef\xbb\xbf: hello\r\n"
    b"id: 5\r\nevent: transaction\r\ndata: {\"a\":\r\ndata:1}\r\n\r\n"
    b": keepalive\n\n"
    b"event: checkpoint\rdata: x\r\r"
    b"data:  two spaces\n\n"
    b"data\n\n"
    b"id: 7\nretry: 1500\nfoo: bar\ndata: last\n\n"
    b"data: unterminated"
)

EXPECTED = [
    SSEEvent("transaction", '{"a":\n1}', "5"),
    SSEEvent("checkpoint", "x", "5"),
    SSEEvent("message", " two spaces", "5"),
    SSEEvent("message", "", "5"),
    SSEEvent("message", "last", "7"),
]


def test_whole_stream() -> None:
    events, p = feed_all(STREAM)
    assert events == EXPECTED
    assert p.comments == 2 and p.retry_ms == 1500 and p.last_event_id == "7"


def test_every_chunk_size_gives_the_same_events() -> None:
    # Splits land inside CRLF pairs, inside the BOM, inside multi-byte UTF-8.
    for size in range(1, 12):
        assert feed_all(STREAM, size)[0] == EXPECTED, size


def test_crlf_split_across_chunks_is_one_line_break() -> None:
    p = SSEParser()
    assert p.feed(b"data: a\r") == []
    assert p.feed(b"\n") == []  # the LF belongs to the CR: not a blank line
    assert p.feed(b"\r\n") == [SSEEvent("message", "a", None)]


def test_utf8_split_inside_a_character() -> None:
    data = "data: wéasel ✓\n\n".encode()
    assert feed_all(data, 1)[0] == [SSEEvent("message", "wéasel ✓", None)]


def test_event_without_data_is_not_dispatched_but_its_id_counts() -> None:
    events, p = feed_all(b"id: 9\nevent: transaction\n\ndata: d\n\n")
    assert events == [SSEEvent("message", "d", "9")]  # event type was reset
    assert p.last_event_id == "9"


def test_id_with_nul_is_ignored_and_retry_must_be_digits() -> None:
    events, p = feed_all(b"id: 1\nid: a\x00b\nretry: 12x\ndata: d\n\n")
    assert events == [SSEEvent("message", "d", "1")]
    assert p.retry_ms is None


def test_field_without_space_and_colon_in_value() -> None:
    events, _ = feed_all(b"data:a:b: c\n\n")
    assert events == [SSEEvent("message", "a:b: c", None)]


def test_only_a_leading_bom_is_stripped() -> None:
    events, _ = feed_all(b"data: a\n\n\xef\xbb\xbfdata: b\n\n")
    assert events[0].data == "a"
    assert len(events) == 1  # "\ufeffdata" is an unknown field name
