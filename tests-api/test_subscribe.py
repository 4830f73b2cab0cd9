"""GET /v1/subscribe: the SSE format, history, live tail, Last-Event-ID, durable=false, keepalives.

Restarts (history read back from S3, a subscriber surviving a restart) are in
test_restart.py; 410 after truncation is in test_retention.py.
"""

from __future__ import annotations

import json
import re
import socket
import threading
import time

import pytest

import weaseldb
from harness import RawStream, collect, history, wait_until
from weaseldb import Checkpoint, Delete, RangeDelete, Transaction, Write

TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,9})?Z$")


def has_tx(version: int):
    return lambda events, raw: any(e.event == "transaction" and json.loads(e.data)["version"] >= version
                                   for e in events)


def test_event_format(server, client: weaseldb.Client, ns: bytes) -> None:
    before = client.version().version
    a = client.commit([Write(ns + b"a", b"\x00\xff"), Delete(ns + b"b"), RangeDelete(ns + b"c", ns + b"d")],
                      request_id="fmt-a-" + ns.hex())
    b = client.commit([Write(ns + b"a", b"")], request_id="fmt-b-" + ns.hex())
    with RawStream(server.port, f"after={before}") as s:
        assert s.status == 200
        assert s.resp.getheader("Content-Type", "").split(";")[0].strip() == "text/event-stream"
        s.read_until(has_tx(b.version), 20, f"transaction {b.version}")
        mine = [e for e in s.events if e.event == "transaction" and json.loads(e.data)["version"] in (a.version, b.version)]
    assert len(mine) == 2
    ea, eb = (json.loads(e.data) for e in mine)
    # id: is the version, so EventSource's Last-Event-ID resumes at the right place.
    assert [e.id for e in mine] == [str(a.version), str(b.version)]
    assert set(ea) >= {"request_id", "version", "prev_version", "timestamp", "leader_id", "operations"}
    assert ea["request_id"] == a.request_id and eb["request_id"] == b.request_id
    assert ea["leader_id"] == a.leader_id
    assert TIMESTAMP.match(ea["timestamp"]), ea["timestamp"]
    assert eb["prev_version"] == a.version
    assert ea["operations"] == [
        {"type": "write", "key": weaseldb.model.b64encode(ns + b"a"), "value": "AP8="},
        {"type": "delete", "key": weaseldb.model.b64encode(ns + b"b")},
        {"type": "range_delete", "begin": weaseldb.model.b64encode(ns + b"c"), "end": weaseldb.model.b64encode(ns + b"d")},
    ]
    assert eb["operations"] == [{"type": "write", "key": weaseldb.model.b64encode(ns + b"a"), "value": ""}]


@pytest.mark.both_backends
def test_history_starts_after_the_given_version(client: weaseldb.Client, ns: bytes) -> None:
    versions = [client.commit([Write(ns + b"k", b"%d" % i)]).version for i in range(6)]
    txs = history(client, versions[2], versions[-1])
    assert txs[0].version == versions[3], "the first event must be the first transaction after `after`"
    assert [t.version for t in txs] == sorted({t.version for t in txs})
    mine = [t.version for t in txs if any(getattr(op, "key", b"").startswith(ns) for op in t.operations)]
    assert mine == versions[3:]
    # prev_version links every event to the one before it.
    for prev, tx in zip(txs, txs[1:]):
        assert tx.prev_version == prev.version
    assert txs[0].prev_version is not None and txs[0].prev_version <= versions[2]


def test_default_after_is_the_live_tail(server, client: weaseldb.Client, ns: bytes) -> None:
    client.commit([Write(ns + b"old", b"")])
    latest = client.version().version
    with RawStream(server.port) as s:
        assert s.status == 200
        new = client.commit([Write(ns + b"new", b"")]).version
        s.read_until(has_tx(new), 20, f"transaction {new}")
        versions = [json.loads(e.data)["version"] for e in s.events if e.event == "transaction"]
    assert versions and min(versions) > latest, f"history was sent without after: {versions}"
    assert new in versions


def test_last_event_id_replaces_after(server, client: weaseldb.Client, ns: bytes) -> None:
    versions = [client.commit([Write(ns + b"k", b"%d" % i)]).version for i in range(4)]
    with RawStream(server.port, headers={"Last-Event-ID": str(versions[1])}) as s:
        assert s.status == 200
        s.read_until(has_tx(versions[-1]), 20, f"transaction {versions[-1]}")
        got = [json.loads(e.data)["version"] for e in s.events if e.event == "transaction"]
    assert got[0] == versions[2], f"resumed at {got[0]}, expected the transaction after {versions[1]}"


def test_live_events_through_the_client(server, ns: bytes) -> None:
    c = server.client()
    start = c.version().version
    committed: list[int] = []

    def writer() -> None:
        for i in range(10):
            committed.append(c.commit([Write(ns + b"live", b"%d" % i)]).version)

    def mine(events: list) -> list[Transaction]:
        return [e for e in events if isinstance(e, Transaction)
                and any(getattr(op, "key", None) == ns + b"live" for op in e.operations)]

    with c.subscribe(after=start) as sub:
        t = threading.Thread(target=writer)
        t.start()
        try:
            events = collect(sub, lambda ev: len(mine(ev)) >= 10, 30, "10 live commits")
        finally:
            t.join()
    mine = mine(events)
    assert [e.version for e in mine] == committed
    assert [e.operations[0].value for e in mine] == [b"%d" % i for i in range(10)]


def test_concurrent_subscribers_see_the_same_log(server, client: weaseldb.Client, ns: bytes) -> None:
    start = client.version().version
    versions = [client.commit([Write(ns + b"k", b"%d" % i)]).version for i in range(5)]
    results: list[list[int]] = [[] for _ in range(4)]

    def read(i: int) -> None:
        results[i] = [t.version for t in history(server.client(), start, versions[-1])]

    threads = [threading.Thread(target=read, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert all(r == results[0] for r in results) and set(versions) <= set(results[0])


def test_not_durable_stream_sends_checkpoints(server, client: weaseldb.Client, ns: bytes) -> None:
    start = client.version().version
    with RawStream(server.port, f"after={start}&durable=false") as s:
        assert s.status == 200
        v = client.commit([Write(ns + b"k", b"v")]).version

        def checkpointed(events, raw) -> bool:
            return any(e.event == "checkpoint" and json.loads(e.data)["committed_version"] >= v for e in events)

        s.read_until(checkpointed, 20, f"a checkpoint covering {v}")
        events = list(s.events)
    kinds = [(e.event, json.loads(e.data)) for e in events]
    tx_index = next(i for i, (k, d) in enumerate(kinds) if k == "transaction" and d["version"] == v)
    cp = [d for k, d in kinds[tx_index:] if k == "checkpoint"]
    assert cp and set(cp[-1]) >= {"committed_version", "leader_id"}
    assert cp[-1]["leader_id"] == client.version().leader_id
    # Checkpoints never go backwards.
    all_cp = [d["committed_version"] for k, d in kinds if k == "checkpoint"]
    assert all_cp == sorted(all_cp)


def test_not_durable_through_the_client(server, ns: bytes) -> None:
    c = server.client()
    start = c.version().version
    with c.subscribe(after=start, durable=False) as sub:
        v = c.commit([Write(ns + b"k", b"v")]).version
        events = collect(sub, lambda ev: any(isinstance(e, Checkpoint) and e.committed_version >= v for e in ev),
                         20, f"a checkpoint covering {v}")
    assert [e.version for e in events if isinstance(e, Transaction) and e.version == v] == [v]


def test_keepalive_comments_on_an_idle_stream(tuned_server) -> None:
    # The tuned server sends a keepalive every second.
    with RawStream(tuned_server.port) as s:
        assert s.status == 200
        s.read_until(lambda ev, raw: raw.count(b": keepalive") >= 2, 15, "two keepalive comments")
        assert re.search(rb"(^|\n): keepalive\r?\n", bytes(s.raw)), bytes(s.raw)[:300]


def test_subscribers_are_counted(server) -> None:
    c = server.client()
    gauge = lambda: c.metrics().value("weaseldb_subscribers")  # noqa: E731
    # Tests close their streams when they end; the server may take a moment to notice.
    wait_until(lambda: gauge() == 0, 10, "no subscriber left from earlier tests")
    with RawStream(server.port) as s, RawStream(server.port, "durable=false") as s2:
        assert s.status == 200 and s2.status == 200
        wait_until(lambda: gauge() == 2, 10, "weaseldb_subscribers to count both streams")
    wait_until(lambda: gauge() == 0, 10, "weaseldb_subscribers to drop when the streams close")


@pytest.mark.parametrize("query", ["after=abc", "after=1.5", "durable=maybe", "after=99999999999999999999999"])
def test_bad_subscribe_parameters_are_400(server, query: str) -> None:
    with RawStream(server.port, query) as s:
        assert s.status == 400, (query, s.status)
        doc = json.loads(s.body())
        assert doc["error"] == "bad_request"


def test_durable_stream_waits_for_storage(make_server, ns: bytes) -> None:
    # The embedded fake S3 holds the first commit's log write (log/...01) for 2 s.
    srv = make_server({"s3": {"fake_faults": [
        "op=PUT,prefix=log/00000000000000000001,kind=latency,ms=2000,count=1"]}})
    c = srv.client()
    assert c.version().version == 0
    times: dict[str, float] = {}
    with RawStream(srv.port, "after=0") as durable, RawStream(srv.port, "after=0&durable=false") as fast:
        assert durable.status == 200 and fast.status == 200
        t0 = time.monotonic()

        def commit() -> None:
            times["v"] = c.commit([Write(ns + b"k", b"v")]).version
            times["ack"] = time.monotonic() - t0

        t = threading.Thread(target=commit)
        t.start()
        try:
            fast.read_until(has_tx(1), 20, "the transaction on the durable=false stream")
            times["fast"] = time.monotonic() - t0
            durable.read_until(has_tx(1), 20, "the transaction on the durable stream")
            times["durable"] = time.monotonic() - t0
            fast.read_until(lambda ev, raw: any(e.event == "checkpoint" and json.loads(e.data)["committed_version"] >= 1
                                                for e in ev), 20, "a checkpoint covering the transaction")
        finally:
            t.join(30)
    assert times["v"] == 1, times
    assert times["ack"] >= 1.9, f"acknowledged before storage answered: {times}"
    assert times["fast"] < times["ack"] - 0.3, f"durable=false must send transactions once sequenced: {times}"
    assert times["durable"] >= 1.9, f"durable=true sent a transaction before it was durable: {times}"
    # On the durable=false stream the checkpoint follows the transaction it covers.
    kinds = [e.event for e in fast.events]
    assert kinds.index("transaction") < len(kinds) - 1 - kinds[::-1].index("checkpoint")


def test_last_event_id_wins_over_after_on_reconnect(server, client: weaseldb.Client, ns: bytes) -> None:
    versions = [client.commit([Write(ns + b"k", b"%d" % i)]).version for i in range(4)]
    # EventSource("/v1/subscribe?after=A") reconnecting after it saw event L sends the same URL plus Last-Event-ID: L.
    with RawStream(server.port, f"after={versions[0] - 1}", headers={"Last-Event-ID": str(versions[1])}) as s:
        assert s.status == 200
        s.read_until(has_tx(versions[-1]), 20, f"transaction {versions[-1]}")
        got = [json.loads(e.data)["version"] for e in s.events if e.event == "transaction"]
    assert got[0] == versions[2], f"the reconnect replayed {got[0]}..{versions[1]}, already delivered"


def test_http_1_0_subscriber_gets_the_stream_without_chunked_framing(server, client: weaseldb.Client,
                                                                    ns: bytes) -> None:
    # HTTP/1.0 has no chunked transfer coding (RFC 9112 section 6.1): the events are the body, up
    # to the close, and a 1.0 client reads them as they are.
    before = client.version().version
    c = client.commit([Write(ns + b"h10", b"v")], request_id="h10-" + ns.hex())
    sock = socket.create_connection(("127.0.0.1", server.port), timeout=20)
    try:
        sock.sendall(f"GET /v1/subscribe?after={before} HTTP/1.0\r\nAccept: text/event-stream\r\n\r\n".encode())
        raw = bytearray()
        deadline = time.monotonic() + 20
        marker = f'"version":{c.version},'.encode()
        # the event whole: its data line and the blank line that ends it
        while b"\r\n\r\n" not in raw or marker not in raw or b"\n\n" not in raw[raw.index(marker):]:
            assert time.monotonic() < deadline, f"no event for version {c.version}: {bytes(raw)[:2000]!r}"
            chunk = sock.recv(65536)
            assert chunk, f"stream closed early: {bytes(raw)[:2000]!r}"
            raw += chunk
    finally:
        sock.close()
    head, _, body = bytes(raw).partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    assert lines[0].split(" ")[1] == "200", lines[0]
    fields = {k.strip().lower(): v.strip() for k, v in (line.split(":", 1) for line in lines[1:])}
    assert "transfer-encoding" not in fields, fields
    assert "content-length" not in fields, fields
    assert fields.get("connection", "").lower() == "close", fields
    assert fields["content-type"].startswith("text/event-stream"), fields
    # the body is SSE text from its first byte: no chunk-size lines
    assert body.startswith((b"id: ", b"event: ", b": ")), body[:200]
    events = weaseldb.SSEParser().feed(body)
    mine = [json.loads(e.data) for e in events if e.event == "transaction"]
    assert c.version in [t["version"] for t in mine], mine
