"""Bounds instead of unbounded growth: too many connections or subscribers (503), slow subscribers.

One server with small limits (conftest.LIMITS_CONFIG) is shared by these tests.
"""

from __future__ import annotations

import json
import socket
import threading
import uuid

import pytest

import weaseldb
from harness import ConnectionClosed, RawConnection, RawStream, history, http_request, wait_until
from weaseldb import Write


def test_connections_beyond_the_limit_get_503(limited) -> None:
    conns: list[RawConnection] = []
    refused = None
    try:
        for _ in range(12):
            conn = RawConnection(limited.port, timeout=10)
            conns.append(conn)
            try:
                conn.send(http_request("GET", "/v1/version"))
                resp = conn.read_response()
            except (ConnectionClosed, ConnectionResetError, BrokenPipeError):
                pytest.fail("a connection over the limit must be answered 503, not dropped silently")
            if resp.status != 200:
                refused = resp
                break
        assert refused is not None, "12 concurrent connections were all served with max_connections = 8"
        assert len(conns) <= 9
        assert refused.status == 503, refused
        assert refused.json()["error"] == "unavailable"
        assert conns[-1].closed_by_server(5), "the refused connection must be closed"
    finally:
        for conn in conns:
            conn.close()

    def served() -> bool:
        with RawConnection(limited.port) as conn:
            conn.send(http_request("GET", "/v1/version"))
            return conn.read_response().status == 200

    wait_until(served, 15, "connections to be accepted again once others closed")


def subscribers(srv) -> float | None:
    c = weaseldb.Client(srv.url, timeout=10)
    try:
        return c.metrics().value("weaseldb_subscribers")
    finally:
        c.close()


def test_subscribers_beyond_the_limit_get_503(limited) -> None:
    wait_until(lambda: subscribers(limited) == 0, 15, "no subscriber left from earlier tests")
    with RawStream(limited.port) as first:
        assert first.status == 200
        # (the slot is reserved on admission; the gauge follows once the stream starts)
        wait_until(lambda: subscribers(limited) == 1, 10, "the first subscriber to be counted")
        with RawStream(limited.port) as second:
            assert second.status == 503, second.status
            doc = json.loads(second.body())
            assert doc["error"] == "unavailable"

    def admitted() -> bool:
        with RawStream(limited.port) as again:
            return again.status == 200

    wait_until(admitted, 15, "a subscriber to be admitted once the first one left")


def slow_drops(srv) -> float:
    c = weaseldb.Client(srv.url, timeout=10)
    try:
        return c.metrics().total("weaseldb_subscribers_dropped_total", reason="slow")
    finally:
        c.close()


class Backlog:
    """Events committed while one subscriber read nothing, until the server dropped it."""

    def __init__(self, start: int, versions: list[int], received: bytes, prefix: bytes) -> None:
        self.start = start
        self.versions = sorted(versions)
        self.end = self.versions[-1]
        self.received = received
        self.prefix = prefix


@pytest.fixture(scope="module")
def backlog(limits_process) -> Backlog:
    srv = limits_process
    wait_until(lambda: subscribers(srv) == 0, 15, "no subscriber left (max_subscribers = 1)")
    prefix = b"t/backlog/%s/" % uuid.uuid4().hex[:8].encode()
    c = srv.client()
    start = c.version().version
    # A subscriber that reads nothing, with a tiny receive buffer.
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.settimeout(30)
    sock.connect(("127.0.0.1", srv.port))
    sock.sendall(http_request("GET", f"/v1/subscribe?after={start}", headers={"Accept": "text/event-stream"}))
    try:
        # Events keep coming until the server gives up on this subscriber. How much the kernel
        # absorbs for a client that reads nothing varies between runs (from 3 MB to tens of MB
        # on loopback), so the writers stop on the drop, not after a fixed amount; bounded at
        # 4 x 1,000 commits of 32 KiB.
        value = b"s" * 32768
        versions: list[int] = []
        stop = threading.Event()

        def writer(w: int) -> None:
            wc = weaseldb.Client(srv.url, timeout=30)
            try:
                for i in range(1000):
                    if stop.is_set():
                        break
                    versions.append(wc.commit([Write(prefix + b"w%d/%04d" % (w, i), value)]).version)
            finally:
                wc.close()

        dropped_before = slow_drops(srv)
        threads = [threading.Thread(target=writer, args=(w,)) for w in range(4)]
        for t in threads:
            t.start()
        # Live, the bound is max_buffer_size_bytes; once behind the in-memory window the stream
        # replays from S3, where the rule is 10 s without progress. The wait covers both.
        wait_until(lambda: slow_drops(srv) > dropped_before, 90, "the server to drop the subscriber that reads nothing")
        stop.set()
        for t in threads:
            t.join(120)
        assert versions
        # Now read what the server sent before it gave up on this subscriber.
        got = bytearray()
        while True:
            try:
                chunk = sock.recv(1 << 20)
            except (ConnectionResetError, socket.timeout):
                break
            if not chunk:
                break
            got += chunk
    finally:
        sock.close()
    assert got.startswith(b"HTTP/1.1 200"), bytes(got[:200])
    return Backlog(start, versions, bytes(got), prefix)


def test_subscriber_limit_holds_for_simultaneous_requests(limited) -> None:
    for _ in range(5):
        wait_until(lambda: subscribers(limited) == 0, 15, "no subscriber left")
        socks = [socket.create_connection(("127.0.0.1", limited.port), timeout=10) for _ in range(8)]
        barrier = threading.Barrier(len(socks))
        heads: list[bytes] = [b""] * len(socks)

        def go(i: int) -> None:
            barrier.wait()
            socks[i].sendall(http_request("GET", "/v1/subscribe", headers={"Accept": "text/event-stream"}))
            heads[i] = socks[i].recv(64)

        threads = [threading.Thread(target=go, args=(i,)) for i in range(len(socks))]
        for t in threads:
            t.start()
        for t in threads:
            t.join(20)
        for sock in socks:
            sock.close()
        admitted = sum(h.startswith(b"HTTP/1.1 200") for h in heads)
        assert admitted == 1, f"max_subscribers = 1, yet {admitted} of 8 simultaneous subscribers were admitted"


def test_slow_subscriber_is_disconnected_and_resumes(limited, backlog: Backlog) -> None:
    assert f"id: {backlog.end}\n".encode() not in backlog.received, \
        "a subscriber that read nothing (max_buffer_size_bytes = 64 KiB) was not disconnected"
    ids = [int(line[4:]) for line in backlog.received.decode("utf-8", "replace").splitlines()
           if line.startswith("id: ")]
    # It resumes after the last version it saw and gets the rest, each once, in order.
    resume_at = ids[-1] if ids else backlog.start
    txs = history(limited.client(), resume_at, backlog.end, timeout=60)
    mine = [t.version for t in txs if any(getattr(op, "key", b"").startswith(backlog.prefix) for op in t.operations)]
    assert mine == [v for v in backlog.versions if v > resume_at]


def test_catching_up_subscriber_is_not_disconnected(limited, backlog: Backlog) -> None:
    # Reading continuously from the start of the backlog: nothing is buffered for this
    # subscriber beyond what the socket holds, so it is not slow and must get everything
    # on one connection.
    with RawStream(limited.port, f"after={backlog.start}", timeout=30) as s:
        assert s.status == 200
        end = str(backlog.end)
        # (the predicate looks at the newest events only: the backlog is tens of MB)
        s.read_until(lambda ev, raw: any(e.id == end for e in ev[-50:]), 120,
                     f"transaction {backlog.end} on the same connection")
