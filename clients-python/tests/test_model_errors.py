"""Request encoding (exact JSON, base64) and the mapping of error bodies to exceptions."""

from __future__ import annotations

import datetime as dt
import re

import pytest

from weaseldb import (
    BadRequest, Client, Conflict, ContentTooLarge, Delete, Forbidden, InternalError, LeaderChanged,
    LogTruncated, MethodNotAllowed, NotFound, PointRead, RangeDelete, RangeRead, TooManyRequests, TooOld,
    Transaction, Unauthorized, Unavailable, WeaselError, Write,
)
from weaseldb.errors import error_from_response, parse_retry_after
from weaseldb.model import b64decode, b64encode, decode_operation, decode_precondition


def test_commit_body_is_the_contract_shape_with_standard_padded_base64() -> None:
    doc = Client.commit_body(
        [Write(b"k\xff", b"v"), Delete(b""), RangeDelete(b"a", b"b\x00")],
        [PointRead(b"k", 5), RangeRead(b"\x00", b"\xff\xfe")],
        read_version=7, request_id="r" * 20, leader_id="L",
    )
    assert doc == {
        "request_id": "r" * 20,
        "leader_id": "L",
        "read_version": 7,
        "preconditions": [
            {"type": "point_read", "key": "aw==", "version": 5},
            {"type": "range_read", "begin": "AA==", "end": "//4="},
        ],
        "operations": [
            {"type": "write", "key": "a/8=", "value": "dg=="},
            {"type": "delete", "key": ""},
            {"type": "range_delete", "begin": "YQ==", "end": "YgA="},
        ],
    }
    assert list(doc) == ["request_id", "leader_id", "read_version", "preconditions", "operations"]


def test_commit_body_omits_absent_optional_fields() -> None:
    assert Client.commit_body() == {"preconditions": [], "operations": []}


def test_keys_must_be_bytes_not_text() -> None:
    with pytest.raises(TypeError, match="bytes"):
        Write("k", b"v")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        PointRead(b"k", "5")  # type: ignore[arg-type]
    assert Write(bytearray(b"k"), memoryview(b"v")) == Write(b"k", b"v")  # type: ignore[arg-type]


def test_base64_decoding_is_strict() -> None:
    assert b64decode("YWI=") == b"ab"
    assert b64encode(b"ab") == "YWI="
    for bad in ("YWI", "YW=I", "Y*I=", "ab_-", "é"):
        with pytest.raises(ValueError):
            b64decode(bad)


def test_operations_and_preconditions_decode_back() -> None:
    assert decode_operation({"type": "write", "key": "aw==", "value": ""}) == Write(b"k", b"")
    assert decode_operation({"type": "range_delete", "begin": "YQ==", "end": "Yg=="}) == RangeDelete(b"a", b"b")
    unknown = decode_operation({"type": "compare_and_swap", "key": "aw=="})
    assert type(unknown).__name__ == "UnknownOperation" and unknown.type == "compare_and_swap"  # type: ignore[union-attr]
    assert decode_precondition({"type": "range_read", "begin": "YQ==", "end": "Yg==", "version": 3}) == \
        RangeRead(b"a", b"b", 3)
    with pytest.raises(ValueError):
        decode_operation({"type": "write", "key": 5, "value": ""})


def test_transaction_event_parses_timestamp() -> None:
    tx = Transaction.from_json({"request_id": "r", "version": 2, "prev_version": 1,
                                "timestamp": "2026-11-22T20:27:42.555Z", "leader_id": "L", "operations": []})
    assert tx.time == dt.datetime(2026, 11, 22, 20, 27, 42, 555000, tzinfo=dt.timezone.utc)


@pytest.mark.parametrize("status,body,cls", [
    (400, {"error": "bad_request", "message": "m"}, BadRequest),
    (401, {"error": "unauthorized", "message": "m"}, Unauthorized),
    (403, {"error": "forbidden", "message": "m"}, Forbidden),
    (404, {"error": "not_found", "message": "m"}, NotFound),
    (405, {"error": "method_not_allowed", "message": "m"}, MethodNotAllowed),
    (409, {"error": "conflict", "status": "conflict", "version": 9, "conflicts": [1]}, Conflict),
    (409, {"error": "too_old", "status": "too_old", "version": 9}, TooOld),
    (409, {"error": "leader_changed", "status": "leader_changed", "version": 9, "leader_id": "L2"}, LeaderChanged),
    (409, {"status": "too_old", "version": 9}, TooOld),  # status alone is enough
    (410, {"error": "log_truncated", "message": "m", "oldest_version": 100}, LogTruncated),
    (413, {"error": "content_too_large", "message": "m"}, ContentTooLarge),
    (429, {"error": "too_many_requests", "message": "m"}, TooManyRequests),
    (500, {"error": "internal", "message": "m"}, InternalError),
    (503, {"error": "unavailable", "message": "m"}, Unavailable),
    (502, "<html>bad gateway</html>", InternalError),
    (418, {"error": "teapot", "message": "m"}, WeaselError),
])
def test_error_bodies_map_to_typed_exceptions(status: int, body: object, cls: type) -> None:
    err = error_from_response(status, body, text=str(body))
    assert type(err) is cls
    assert err.status == status
    assert isinstance(err, WeaselError)


def test_error_fields_are_exposed() -> None:
    c = error_from_response(409, {"error": "conflict", "status": "conflict", "version": 12, "leader_id": "L",
                                  "request_id": "r" * 20, "conflicts": [0, 2], "message": "precondition failed"})
    assert isinstance(c, Conflict)
    assert (c.conflicts, c.version, c.leader_id, c.request_id, c.code) == ([0, 2], 12, "L", "r" * 20, "conflict")
    assert c.body["conflicts"] == [0, 2]
    t = error_from_response(410, {"error": "log_truncated", "message": "gone", "oldest_version": 77})
    assert isinstance(t, LogTruncated) and t.oldest_version == 77 and t.message == "gone"
    u = error_from_response(503, {"error": "unavailable", "message": "?", "outcome": "unknown"}, retry_after="3")
    assert isinstance(u, Unavailable) and u.outcome == "unknown" and u.outcome_unknown and u.retry_after == 3.0
    d = error_from_response(503, {"error": "unavailable", "message": "not leader"})
    assert isinstance(d, Unavailable) and d.outcome is None and not d.outcome_unknown
    assert "HTTP 503 unavailable: not leader" == str(d)


def test_unavailable_exposes_the_leader_hints_of_a_standby() -> None:
    standby = error_from_response(503, {
        "error": "unavailable", "message": "this server is not the leader", "outcome": "not_committed",
        "leader_id": "744996e6-22f3-4de0-8d47-e8631c6352e4", "leader_url": "http://127.0.0.1:18125"})
    assert isinstance(standby, Unavailable)
    assert standby.leader_id == "744996e6-22f3-4de0-8d47-e8631c6352e4"
    assert standby.leader_url == "http://127.0.0.1:18125"
    storage = error_from_response(503, {"error": "unavailable", "message": "s3", "outcome": "unknown",
                                        "leader_id": "L1"})
    assert isinstance(storage, Unavailable) and storage.leader_id == "L1" and storage.leader_url is None
    bare = error_from_response(503, {"error": "unavailable", "message": "max_connections"})
    assert isinstance(bare, Unavailable) and bare.leader_id is None and bare.leader_url is None
    proxy = error_from_response(503, "<html>busy</html>")
    assert isinstance(proxy, Unavailable) and proxy.leader_url is None


def test_retry_after_accepts_seconds_and_http_dates() -> None:
    now = dt.datetime(2026, 1, 1, 0, 0, 0, tzinfo=dt.timezone.utc)
    assert parse_retry_after("5") == 5.0
    assert parse_retry_after("0.5") == 0.5
    assert parse_retry_after("Thu, 01 Jan 2026 00:00:30 GMT", now=now) == 30.0
    assert parse_retry_after("Wed, 31 Dec 2025 00:00:00 GMT", now=now) == 0.0
    assert parse_retry_after("soon") is None
    assert parse_retry_after(None) is None
    assert parse_retry_after("-3") is None


def test_every_error_survives_pickling() -> None:
    # multiprocessing sends a worker's exception to the parent pickled; an error that cannot
    # be rebuilt kills the pool's result thread and leaves the parent waiting for ever.
    import pickle

    from weaseldb.errors import (CertificateError, Conflict, GapError, OutcomeUnknown, StreamError, Timeout,
                                 TransportError, Unavailable, error_from_response)

    errors = [
        TransportError("reset", sent=True, request_id="r-1"),
        Timeout("slow", sent=False),
        CertificateError("bad cert"),
        OutcomeUnknown("lost", request_id="r-2", cause=TransportError("refused", sent=False)),
        StreamError("bad event"),
        GapError("gap", expected=4, prev_version=6, version=7),
        Conflict("stale", body={"version": 9, "conflicts": [0], "request_id": "r-3"}),
        error_from_response(503, {"error": "unavailable", "message": "down", "outcome": "unknown"}, retry_after="1"),
    ]
    for e in errors:
        back = pickle.loads(pickle.dumps(e))
        assert type(back) is type(e)
        assert str(back) == str(e) and back.__dict__.keys() == e.__dict__.keys(), e
        assert (back.request_id, back.outcome_unknown) == (e.request_id, e.outcome_unknown)
    assert pickle.loads(pickle.dumps(errors[3])).cause.sent is False
    assert pickle.loads(pickle.dumps(errors[5])).prev_version == 6
    assert isinstance(errors[7], Unavailable)


@pytest.mark.parametrize("call,message", [
    (lambda c: c.status(12345), "request_id must be a str"),
    (lambda c: c.status(b"r" * 20), "request_id must be a str"),
    (lambda c: c.status("r" * 20, min_version="5"), "min_version must be an int"),
    (lambda c: c.commit([Write(b"k", b"v")], read_version="5"), "read_version must be an int"),
    (lambda c: c.commit([Write(b"k", b"v")], read_version=True), "read_version must be an int"),
    (lambda c: c.commit([Write(b"k", b"v")], request_id=7), "request_id must be a str"),
    (lambda c: c.commit(Write(b"k", b"v")), "got a single Write: pass [Write(...)]"),
    (lambda c: c.commit([Write(b"k", b"v")], PointRead(b"k")), "got a single PointRead"),
    (lambda c: c.commit("k=v"), "operations must be a list, not str"),
])
def test_wrong_argument_types_raise_type_error_before_sending(closing: Closing, call, message: str) -> None:  # type: ignore[no-untyped-def]
    client = closing(Client("http://127.0.0.1:1", timeout=0.1))  # nothing listens: a request would fail otherwise
    with pytest.raises(TypeError, match=re.escape(message)):
        call(client)


def test_replica_reads_refuse_str_keys() -> None:
    from weaseldb import Replica

    r = Replica(None)
    r.apply(Transaction(1, 0, "r", "", "L", (Write(b"k", b"v"),)))
    for read in (lambda: r.get("k"), lambda: r.get_at("k"), lambda: r["k"], lambda: "k" in r,
                 lambda: r.range("a", "z"), lambda: r.range_at(b"a", "z")):
        with pytest.raises(TypeError, match="must be bytes, not str"):
            read()
    assert r.get(b"k") == b"v" and r.get(bytearray(b"k")) == b"v" and b"k" in r
