"""The HTTP layer over raw sockets: malformed commits, truncated bodies, 413, keep-alive, pipelining.

Every malformed commit carries a valid write of a key of the test's own before the bad
part, so a server that applied part of a request would show it in the log.
"""

from __future__ import annotations

import base64
import json
import threading

import pytest

import weaseldb
from harness import ConnectionClosed, RawConnection, http_request, history, raw_exchange
from weaseldb import ContentTooLarge, Write


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def good_write(ns: bytes) -> str:
    return json.dumps({"type": "write", "key": b64(ns + b"partial"), "value": b64(b"should never commit")})


def assert_nothing_committed(client: weaseldb.Client, ns: bytes, since: int) -> None:
    """No transaction after ``since`` touched the test's keys (one sentinel commit ends the read)."""
    sentinel = client.commit([Write(ns + b"sentinel", b"")])
    txs = history(client, since, sentinel.version)
    touched = [(t.version, op) for t in txs for op in t.operations
               if (getattr(op, "key", None) or getattr(op, "begin", b"")).startswith(ns) and t.version != sentinel.version]
    assert touched == [], f"a refused request left state behind: {touched}"


# name -> body with {W} for a valid write op (JSON) of the test's own key
MALFORMED = {
    # not JSON, or not the right JSON
    "unterminated": '{"operations": [{W}',
    "trailing comma": '{"operations": [{W},]}',
    "garbage after the document": '{"operations": [{W}]} {"x": 1}',
    "not json": "operations: write",
    "empty body": "",
    "top-level array": "[{W}]",
    "top-level null": "null",
    "top-level string": '"commit"',
    "invalid utf-8 inside a string": b'{"request_id": "\xff\xfe-0123456789abcdefghij", "operations": [{W}]}',
    # wrong types
    "read_version string": '{"read_version": "5", "operations": [{W}]}',
    "read_version float": '{"read_version": 1.5, "operations": [{W}]}',
    "read_version negative": '{"read_version": -1, "preconditions": [{"type": "point_read", "key": "YQ=="}], '
                             '"operations": [{W}]}',
    "read_version bool": '{"read_version": true, "operations": [{W}]}',
    "operations object": '{"operations": {"0": {W}}}',
    "operations string": '{"operations": "write"}',
    "operation not an object": '{"operations": [{W}, 7]}',
    "preconditions object": '{"preconditions": {}, "operations": [{W}]}',
    "precondition not an object": '{"read_version": 0, "preconditions": ["point_read"], "operations": [{W}]}',
    "key number": '{"operations": [{W}, {"type": "write", "key": 12, "value": "YQ=="}]}',
    "value null": '{"operations": [{W}, {"type": "write", "key": "YQ==", "value": null}]}',
    "type number": '{"operations": [{W}, {"type": 1, "key": "YQ=="}]}',
    "request_id number": '{"request_id": 123456789012345678901234567890, "operations": [{W}]}',
    "leader_id number": '{"leader_id": 5, "operations": [{W}]}',
    "precondition version string": '{"preconditions": [{"type": "point_read", "key": "YQ==", "version": "0"}], '
                                   '"operations": [{W}]}',
    # bad base64
    "base64 without padding": '{"operations": [{W}, {"type": "write", "key": "YQ", "value": "YQ=="}]}',
    "base64 bad character": '{"operations": [{W}, {"type": "write", "key": "Y!==", "value": "YQ=="}]}',
    "base64 url-safe alphabet": '{"operations": [{W}, {"type": "write", "key": "-_-_", "value": "YQ=="}]}',
    "base64 inner whitespace": '{"operations": [{W}, {"type": "write", "key": "YW Jj", "value": "YQ=="}]}',
    "base64 data after padding": '{"operations": [{W}, {"type": "write", "key": "YQ==YQ==", "value": "YQ=="}]}',
    "base64 bad value": '{"operations": [{W}, {"type": "write", "key": "YQ==", "value": "%%%%"}]}',
    "base64 bad range begin": '{"operations": [{W}, {"type": "range_delete", "begin": "Y", "end": "Yg=="}]}',
    "base64 bad precondition key": '{"read_version": 0, "preconditions": [{"type": "point_read", "key": "Y==="}], '
                                   '"operations": [{W}]}',
    # unknown types and missing fields
    "unknown operation type": '{"operations": [{W}, {"type": "increment", "key": "YQ=="}]}',
    "unknown precondition type": '{"read_version": 0, "preconditions": [{"type": "exists", "key": "YQ=="}], '
                                 '"operations": [{W}]}',
    "operation without type": '{"operations": [{W}, {"key": "YQ==", "value": "YQ=="}]}',
    "write without value": '{"operations": [{W}, {"type": "write", "key": "YQ=="}]}',
    "write without key": '{"operations": [{W}, {"type": "write", "value": "YQ=="}]}',
    "delete without key": '{"operations": [{W}, {"type": "delete"}]}',
    "range_delete without end": '{"operations": [{W}, {"type": "range_delete", "begin": "YQ=="}]}',
    "point_read without key": '{"read_version": 0, "preconditions": [{"type": "point_read"}], "operations": [{W}]}',
    # ranges must have begin < end
    "range_delete begin == end": '{"operations": [{W}, {"type": "range_delete", "begin": "YQ==", "end": "YQ=="}]}',
    "range_delete begin > end": '{"operations": [{W}, {"type": "range_delete", "begin": "Yg==", "end": "YQ=="}]}',
    "range_delete empty begin == empty end": '{"operations": [{W}, {"type": "range_delete", "begin": "", "end": ""}]}',
    "range_read begin == end": '{"read_version": 0, "preconditions": [{"type": "range_read", "begin": "YQ==", '
                               '"end": "YQ=="}], "operations": [{W}]}',
    "range_read begin > end": '{"read_version": 0, "preconditions": [{"type": "range_read", "begin": "Yg==", '
                              '"end": "YQ=="}], "operations": [{W}]}',
    # request ids
    "request_id too short": '{"request_id": "short", "operations": [{W}]}',
}


@pytest.mark.parametrize("case", MALFORMED)
def test_malformed_commit_is_400_and_leaves_no_state(server, client: weaseldb.Client, ns: bytes, case: str) -> None:
    template = MALFORMED[case]
    w = good_write(ns)
    body = template.replace(b"{W}", w.encode()) if isinstance(template, bytes) else template.replace("{W}", w).encode()
    since = client.version().version
    resp = raw_exchange(server.port, http_request("POST", "/v1/commit", body))
    assert resp.status == 400, (case, resp.status, resp.body[:300])
    assert (resp.header("content-type") or "").startswith("application/json")
    doc = resp.json()
    assert doc["error"] == "bad_request" and doc.get("message"), doc
    assert_nothing_committed(client, ns, since)


def test_connection_stays_usable_after_a_400(server, ns: bytes) -> None:
    with RawConnection(server.port) as conn:
        conn.send(http_request("POST", "/v1/commit", b'{"operations": [{"type": "bogus"}]}'))
        assert conn.read_response().status == 400
        conn.send(http_request("GET", "/v1/version"))
        resp = conn.read_response()
        assert resp.status == 200 and "version" in resp.json()


def test_malformed_request_does_not_affect_other_connections(server, client: weaseldb.Client, ns: bytes) -> None:
    with RawConnection(server.port) as bystander:
        bystander.send(http_request("GET", "/v1/version"))
        assert bystander.read_response().status == 200
        for junk in (b"\x00\x01\x02 garbage\r\n\r\n", b"POST /v1/commit HTTP/1.1\r\nContent-Length: zz\r\n\r\n{}",
                     b"GET /v1/version HTTP/1.1\r\nNo colon here\r\n\r\n", http_request("POST", "/v1/commit", b"{" * 5000)):
            with RawConnection(server.port) as bad:
                bad.send(junk)
                try:  # a 4xx, or the connection closed: either way it must not take others down
                    assert 400 <= bad.read_response().status < 500
                except ConnectionClosed:
                    pass
        bystander.send(http_request("POST", "/v1/commit",
                                    json.dumps({"operations": [{"type": "write", "key": b64(ns + b"k"),
                                                                "value": "dg=="}]}).encode()))
        resp = bystander.read_response()
        assert resp.status == 200, resp.body
    assert client.ok().status == "ok"


def test_truncated_body_commits_nothing(server, client: weaseldb.Client, ns: bytes) -> None:
    since = client.version().version
    body = json.dumps({"operations": [json.loads(good_write(ns))]}).encode()
    # The client announces more than it sends, then gives up (half close, then full close).
    with RawConnection(server.port) as conn:
        conn.send(http_request("POST", "/v1/commit", body[: len(body) - 3], content_length=len(body)))
        conn.shutdown_write()
        # The server may answer 400 or just close; it must not commit the prefix.
        if not conn.closed_by_server(10):
            pytest.fail("server kept a half-closed connection with a truncated body open")
        if conn.buf:
            assert conn.buf.startswith(b"HTTP/1.1 4"), bytes(conn.buf[:200])
    with RawConnection(server.port) as conn:
        # A complete JSON document cut short by the announced length is truncated too.
        conn.send(http_request("POST", "/v1/commit", body, content_length=len(body) + 50))
        conn.close()
    assert_nothing_committed(client, ns, since)
    assert client.ok().status == "ok"


def test_chunked_request_body_commits(server, client: weaseldb.Client, ns: bytes) -> None:
    body = json.dumps({"operations": [{"type": "write", "key": b64(ns + b"chunked"), "value": b64(b"v" * 100)}]}).encode()
    chunks = b"".join(b"%x\r\n%s\r\n" % (len(body[i:i + 7]), body[i:i + 7]) for i in range(0, len(body), 7)) + b"0\r\n\r\n"
    head = (b"POST /v1/commit HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Transfer-Encoding: chunked\r\n\r\n")
    resp = raw_exchange(server.port, head + chunks)
    assert resp.status == 200, resp.body
    v = resp.json()["version"]
    [tx] = [t for t in history(client, v - 1, v) if t.version == v]
    assert list(tx.operations) == [Write(ns + b"chunked", b"v" * 100)]


# -- 413 ------------------------------------------------------------------------------------------


def big_commit(ns: bytes, size: int) -> bytes:
    """A valid commit document of about ``size`` bytes."""
    value = b"x" * (size * 3 // 4)
    return json.dumps({"operations": [{"type": "write", "key": b64(ns + b"big"), "value": b64(value)}]}).encode()


def test_body_over_limit_is_413_through_the_client(client: weaseldb.Client, ns: bytes) -> None:
    since = client.version().version
    with pytest.raises(ContentTooLarge) as info:
        client.commit([Write(ns + b"big", b"x" * (2 << 20))])
    assert info.value.status == 413 and info.value.code == "content_too_large"
    assert_nothing_committed(client, ns, since)


def test_body_over_limit_is_413_and_closes(server, client: weaseldb.Client, ns: bytes) -> None:
    body = big_commit(ns, 2 << 20)
    assert len(body) >= 2 << 20
    answer: dict = {}

    with RawConnection(server.port) as conn:
        def read() -> None:
            try:
                answer["resp"] = conn.read_response()
                answer["closed"] = conn.closed_by_server(10)
            except Exception as exc:  # noqa: BLE001
                answer["error"] = exc

        reader = threading.Thread(target=read, daemon=True)
        reader.start()
        conn.send(http_request("POST", "/v1/commit", None, headers={
            "Content-Type": "application/json", "Content-Length": str(len(body))}))
        try:
            for i in range(0, len(body), 65536):
                conn.send(body[i:i + 65536])
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server may stop reading once it has answered
        reader.join(20)
    assert "resp" in answer, answer
    resp = answer["resp"]
    assert resp.status == 413, (resp.status, resp.body[:200])
    assert resp.json()["error"] == "content_too_large"
    assert answer["closed"], "the connection must be closed after a 413"
    assert client.ok().status == "ok"


def test_chunked_body_over_limit_is_413(server, client: weaseldb.Client, ns: bytes) -> None:
    body = big_commit(ns, 2 << 20)
    with RawConnection(server.port) as conn:
        conn.send(b"POST /v1/commit HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                  b"Transfer-Encoding: chunked\r\n\r\n")
        try:
            for i in range(0, len(body), 65536):
                part = body[i:i + 65536]
                conn.send(b"%x\r\n%s\r\n" % (len(part), part))
            conn.send(b"0\r\n\r\n")
        except (BrokenPipeError, ConnectionResetError):
            pass
        resp = conn.read_response()
    assert resp.status == 413 and resp.json()["error"] == "content_too_large"
    assert client.ok().status == "ok"


def test_body_just_under_limit_is_accepted(client: weaseldb.Client, ns: bytes) -> None:
    # max_request_size_bytes defaults to 1 MiB; a ~1000 KB body is fine.
    res = client.commit([Write(ns + b"big", b"y" * 740_000)])
    assert res.version > 0


# -- keep-alive and pipelining ---------------------------------------------------------------------


def test_keep_alive_serves_many_requests_on_one_connection(server, ns: bytes) -> None:
    with RawConnection(server.port) as conn:
        for i in range(5):
            conn.send(http_request("GET", "/v1/version"))
            resp = conn.read_response()
            assert resp.status == 200
            assert (resp.header("connection") or "").lower() != "close"
            conn.send(http_request("POST", "/v1/commit", json.dumps(
                {"operations": [{"type": "write", "key": b64(ns + b"%d" % i), "value": "dg=="}]}).encode()))
            assert conn.read_response().json()["status"] == "committed"
        conn.send(http_request("GET", "/v1/nothing"))
        assert conn.read_response().status == 404
        conn.send(http_request("GET", "/ok"))
        assert conn.read_response().status == 200


def test_connection_close_is_honoured(server) -> None:
    with RawConnection(server.port) as conn:
        conn.send(http_request("GET", "/v1/version", headers={"Connection": "close"}))
        assert conn.read_response().status == 200
        assert conn.closed_by_server(5)


def test_pipelined_requests_are_answered_in_order(server, ns: bytes) -> None:
    rid = "pipelined-" + ns.hex()
    commit_a = json.dumps({"request_id": rid, "operations": [
        {"type": "write", "key": b64(ns + b"a"), "value": "YQ=="}]}).encode()
    commit_b = json.dumps({"operations": [{"type": "write", "key": b64(ns + b"b"), "value": "Yg=="}]}).encode()
    requests = [
        http_request("GET", "/v1/version"),
        http_request("POST", "/v1/commit", commit_a),
        http_request("GET", f"/v1/status?request_id={rid}"),
        http_request("POST", "/v1/commit", b'{"operations": [{"type": "nope"}]}'),
        http_request("POST", "/v1/commit", commit_b),
        http_request("GET", "/v1/nothing"),
        http_request("DELETE", "/ok"),
        http_request("GET", "/ok"),
    ]
    with RawConnection(server.port) as conn:
        conn.send(b"".join(requests))  # all at once, before reading anything
        answers = [conn.read_response() for _ in requests]
    assert [r.status for r in answers] == [200, 200, 200, 400, 200, 404, 405, 200]
    version, a, status, _, b, *_ = [r.json() for r in answers]
    assert a["request_id"] == rid and a["status"] == "committed"
    # Answers are in request order: the status request came after commit A on the wire.
    assert status == {**status, "status": "committed", "version": a["version"]}
    assert b["version"] > a["version"] > version["version"] - 1


def test_pipelined_commits_are_answered_in_order(server, ns: bytes) -> None:
    n = 20
    bodies = [json.dumps({"request_id": f"pipe-{i:02d}-{ns.hex()}", "operations": [
        {"type": "write", "key": b64(ns + b"k"), "value": b64(b"%d" % i)}]}).encode() for i in range(n)]
    with RawConnection(server.port) as conn:
        conn.send(b"".join(http_request("POST", "/v1/commit", body) for body in bodies))
        answers = [conn.read_response().json() for _ in range(n)]
    assert [a["request_id"] for a in answers] == [f"pipe-{i:02d}-{ns.hex()}" for i in range(n)]
    # Each got its own version (HTTP promises the order of answers, not of sequencing).
    assert all(a["status"] == "committed" for a in answers)
    assert len({a["version"] for a in answers}) == n
