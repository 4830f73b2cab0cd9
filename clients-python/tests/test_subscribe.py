"""Subscription: reconnection, Last-Event-ID, gap detection, durable=false rollback, 410, close."""

from __future__ import annotations

import os
import random
import socket
import threading
import time
from typing import Callable

import pytest

from conftest import Closing, FakeServer, FakeSleep, Recorded, Reply, Stream, b64, checkpoint_event, sse_event, tx_event
from weaseldb import (
    Backoff, Checkpoint, Client, Forbidden, GapError, LogTruncated, Rollback, StreamError, Transaction,
    TransportError, Write,
)


def sub(closing: Closing, server: FakeServer, sleep: FakeSleep, **kw: object):  # type: ignore[no-untyped-def]
    kw.setdefault("backoff", Backoff(0.1, 5.0, rng=random.Random(1)))
    return closing(closing(Client(server.url)).subscribe(sleep=sleep, **kw))  # type: ignore[arg-type]


def take(it, n: int) -> list:  # type: ignore[no-untyped-def]
    return [next(it) for _ in range(n)]


def test_decodes_transactions_and_checkpoints(closing: Closing, server: FakeServer, fake_sleep: FakeSleep) -> None:
    ops = [{"type": "write", "key": b64(b"k"), "value": b64(b"v")}]
    server.on("GET", "/v1/subscribe", Stream([tx_event(11, 10, ops), ": keepalive\n\n", checkpoint_event(11)],
                                             end="hang"))
    with sub(closing, server, fake_sleep, after=10) as s:
        tx, cp = take(s, 2)
    assert isinstance(tx, Transaction) and tx.version == 11 and tx.prev_version == 10
    assert tx.operations == (Write(b"k", b"v"),) and tx.leader_id == "L1"
    assert isinstance(cp, Checkpoint) and cp.committed_version == 11
    req = server.calls("/v1/subscribe")[0]
    assert req.query == {"after": "10", "durable": "true"}
    assert req.headers["accept"] == "text/event-stream"
    assert req.headers["last-event-id"] == "10"


def test_reconnects_after_a_mid_stream_drop_from_the_last_version(closing: Closing, server: FakeServer,
                                                                   fake_sleep: FakeSleep) -> None:
    server.on("GET", "/v1/subscribe",
              # the third event is cut in half, then the connection is reset
              Stream([tx_event(1, 0), tx_event(2, 1), tx_event(3, 2)[:25]], end="drop"),
              Stream([tx_event(3, 2), tx_event(4, 3)], end="hang"))
    with sub(closing, server, fake_sleep, after=0) as s:
        versions = [e.version for e in take(s, 4)]
    assert versions == [1, 2, 3, 4]
    second = server.calls("/v1/subscribe")[1]
    assert second.query["after"] == "2" and second.headers["last-event-id"] == "2"
    assert len(fake_sleep.delays) == 1 and 0 <= fake_sleep.delays[0] <= 0.1


def test_clean_end_of_stream_also_reconnects(closing: Closing, server: FakeServer, fake_sleep: FakeSleep) -> None:
    server.on("GET", "/v1/subscribe", Stream([tx_event(5, 4)], chunked=False),
              Stream([tx_event(6, 5)], end="hang"))
    with sub(closing, server, fake_sleep, after=4) as s:
        assert [e.version for e in take(s, 2)] == [5, 6]


def _resume_only_after(version: int, then: Stream) -> Callable[[Recorded], Reply | Stream]:
    """A reconnect handler: the stream if it resumes after ``version``, else 410 (the log
    up to ``version`` was truncated while the subscriber was away)."""
    def handle(req: Recorded) -> Reply | Stream:
        if req.query.get("after") == str(version) and req.headers.get("last-event-id") == str(version):
            return then
        return Reply(410, {"error": "log_truncated", "message": "gone", "oldest_version": version + 1})
    return handle


def test_caught_up_durable_stream_resumes_from_the_last_checkpoint(closing: Closing, server: FakeServer,
                                                                   fake_sleep: FakeSleep) -> None:
    # Transaction 5, then heartbeats up to 9 (markers, reported by checkpoints), then an
    # ordinary disconnect; retention has since dropped the log up to 9.
    server.on("GET", "/v1/subscribe", Stream([tx_event(5, 4), checkpoint_event(8), checkpoint_event(9)]),
              _resume_only_after(9, Stream([tx_event(10, 5)], end="hang")))
    with sub(closing, server, fake_sleep, after=4) as s:
        events = take(s, 4)
        assert s.position == 10
    assert [getattr(e, "version", None) or e.committed_version for e in events] == [5, 8, 9, 10]
    assert server.calls("/v1/subscribe")[1].query["after"] == "9"


def test_prev_version_is_still_checked_exactly_across_a_checkpoint_resume(closing: Closing, server: FakeServer,
                                                                          fake_sleep: FakeSleep) -> None:
    server.on("GET", "/v1/subscribe", Stream([tx_event(5, 4), checkpoint_event(9)]),
              Stream([tx_event(10, 7)], end="hang"))
    s = sub(closing, server, fake_sleep, after=4)
    take(s, 2)
    with pytest.raises(GapError, match="diverged"):
        next(s)  # 10 must follow 5, the last transaction: the markers up to 9 hold none
    s.close()


def test_durable_false_resumes_from_a_checkpoint_newer_than_the_last_transaction(closing: Closing, server: FakeServer,
                                                                                 fake_sleep: FakeSleep) -> None:
    # api.md's example: 7, checkpoint 7, checkpoint 8 (a marker), then the stream ends.
    server.on("GET", "/v1/subscribe", Stream([tx_event(7, 3), checkpoint_event(7), checkpoint_event(8)]),
              _resume_only_after(8, Stream([tx_event(9, 7)], end="hang")))
    with sub(closing, server, fake_sleep, after=3, durable=False) as s:
        events = take(s, 4)
    assert [type(e).__name__ for e in events] == ["Transaction", "Checkpoint", "Checkpoint", "Transaction"]
    assert events[3].version == 9


def test_after_none_starts_from_the_current_version(closing: Closing,
                                                    server: FakeServer, fake_sleep: FakeSleep) -> None:
    server.on("GET", "/v1/version", Reply(body={"version": 70, "leader_id": "L1"}))
    server.on("GET", "/v1/subscribe", Stream([tx_event(71, 70)]), Stream([tx_event(72, 71)], end="hang"))
    with sub(closing, server, fake_sleep) as s:
        assert [e.version for e in take(s, 2)] == [71, 72]
    assert [r.query["after"] for r in server.calls("/v1/subscribe")] == ["70", "71"]


def test_a_new_leader_may_start_higher_when_prev_version_links(closing: Closing,
                                                               server: FakeServer, fake_sleep: FakeSleep) -> None:
    server.on("GET", "/v1/subscribe", Stream([tx_event(5, 4), tx_event(1000, 5, leader="L2")], end="hang"))
    with sub(closing, server, fake_sleep, after=4) as s:
        assert [e.version for e in take(s, 2)] == [5, 1000]


def test_first_event_may_link_below_an_arbitrary_after(closing: Closing,
                                                       server: FakeServer, fake_sleep: FakeSleep) -> None:
    server.on("GET", "/v1/subscribe", Stream([tx_event(1000, 5)], end="hang"))
    with sub(closing, server, fake_sleep, after=500) as s:
        assert next(s).version == 1000


def test_gap_in_prev_version_chain_raises(closing: Closing, server: FakeServer, fake_sleep: FakeSleep) -> None:
    server.on("GET", "/v1/subscribe", Stream([tx_event(5, 4), tx_event(8, 7)], end="hang"))
    s = sub(closing, server, fake_sleep, after=4)
    assert next(s).version == 5
    with pytest.raises(GapError) as info:
        next(s)
    assert (info.value.expected, info.value.prev_version, info.value.version) == (5, 7, 8)
    assert "(5, 7]" in str(info.value)
    s.close()


def test_gap_on_the_first_event_after_reconnecting(closing: Closing, server: FakeServer, fake_sleep: FakeSleep) -> None:
    server.on("GET", "/v1/subscribe", Stream([tx_event(5, 4)]), Stream([tx_event(9, 6)], end="hang"))
    s = sub(closing, server, fake_sleep, after=4)
    assert next(s).version == 5
    with pytest.raises(GapError):
        next(s)
    s.close()


def test_repeated_or_forked_history_raises(closing: Closing, server: FakeServer, fake_sleep: FakeSleep) -> None:
    server.on("GET", "/v1/subscribe", Stream([tx_event(5, 4), tx_event(5, 4)], end="hang"))
    s = sub(closing, server, fake_sleep, after=4)
    next(s)
    with pytest.raises(GapError, match="not after"):
        next(s)
    s.close()
    server.set("GET", "/v1/subscribe", Stream([tx_event(5, 4), tx_event(7, 3)], end="hang"))
    s = sub(closing, server, fake_sleep, after=4)
    next(s)
    with pytest.raises(GapError, match="diverged"):
        next(s)
    s.close()


def test_410_raises_log_truncated_with_oldest_version(closing: Closing,
                                                      server: FakeServer, fake_sleep: FakeSleep) -> None:
    server.on("GET", "/v1/subscribe",
              Reply(410, {"error": "log_truncated", "message": "gone", "oldest_version": 300}))
    with pytest.raises(LogTruncated) as info:
        next(sub(closing, server, fake_sleep, after=1))
    assert info.value.oldest_version == 300


def test_410_on_reconnect_also_raises(closing: Closing, server: FakeServer, fake_sleep: FakeSleep) -> None:
    server.on("GET", "/v1/subscribe", Stream([tx_event(2, 1)]),
              Reply(410, {"error": "log_truncated", "message": "gone", "oldest_version": 300}))
    s = sub(closing, server, fake_sleep, after=1)
    assert next(s).version == 2
    with pytest.raises(LogTruncated):
        next(s)


def test_503_and_network_errors_are_retried_with_growing_jittered_backoff(closing: Closing, server: FakeServer,
                                                                         fake_sleep: FakeSleep) -> None:
    unavailable = Reply(503, {"error": "unavailable", "message": "not leader"})
    server.on("GET", "/v1/subscribe", unavailable, unavailable, Reply(drop=True), unavailable,
              Reply(503, {"error": "unavailable", "message": "x"}, headers={"Retry-After": "3"}),
              Stream([tx_event(2, 1)], end="hang"))
    with sub(closing, server, fake_sleep, after=1, backoff=Backoff(0.1, 10.0, rng=random.Random(7))) as s:
        assert next(s).version == 2
    d = fake_sleep.delays
    assert len(d) == 5
    for i, delay in enumerate(d[:4]):
        assert 0 <= delay <= 0.1 * 2 ** i
    assert d[4] == 3.0  # Retry-After honoured
    assert len(set(d)) == 5  # randomized


def test_max_reconnects_gives_up_with_the_last_error(closing: Closing,
                                                     server: FakeServer, fake_sleep: FakeSleep) -> None:
    server.on("GET", "/v1/subscribe", Reply(drop=True))
    with pytest.raises(TransportError):
        next(sub(closing, server, fake_sleep, after=1, max_reconnects=3))
    assert len(fake_sleep.delays) == 3


def test_max_reconnects_also_counts_streams_that_end_at_once(closing: Closing,
                                                             server: FakeServer, fake_sleep: FakeSleep) -> None:
    # Each connection is accepted (200) and ends before any byte of stream.
    server.on("GET", "/v1/subscribe", Stream([]), Stream([]), Stream([]),
              Reply(500, {"error": "internal", "message": "only reached when the empty streams are ignored"}))
    with pytest.raises(TransportError, match="ended without sending anything"):
        next(sub(closing, server, fake_sleep, after=1, max_reconnects=2))
    assert len(server.calls("/v1/subscribe")) == 3 and len(fake_sleep.delays) == 2


def test_a_stream_that_sent_something_resets_the_count(closing: Closing,
                                                       server: FakeServer, fake_sleep: FakeSleep) -> None:
    server.on("GET", "/v1/subscribe", Stream([]), Stream([": keepalive\n\n"]), Stream([]),
              Stream([tx_event(2, 1)], end="hang"))
    with sub(closing, server, fake_sleep, after=1, max_reconnects=1) as s:
        assert next(s).version == 2


def test_connection_refused_is_reported_as_not_sent(closing: Closing) -> None:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    sleep = FakeSleep()
    with pytest.raises(TransportError) as info:
        next(closing(Client(f"http://127.0.0.1:{port}", timeout=2)).subscribe(after=1, max_reconnects=1, sleep=sleep))
    assert info.value.sent is False and "cannot connect" in str(info.value)
    assert len(sleep.delays) == 1  # still retried, like any network failure


def test_client_errors_are_not_retried(closing: Closing, server: FakeServer, fake_sleep: FakeSleep) -> None:
    server.on("GET", "/v1/subscribe", Reply(403, {"error": "forbidden", "message": "no"}))
    with pytest.raises(Forbidden):
        next(sub(closing, server, fake_sleep, after=1))
    assert fake_sleep.delays == []


def test_wrong_content_type_is_a_stream_error(closing: Closing, server: FakeServer, fake_sleep: FakeSleep) -> None:
    server.on("GET", "/v1/subscribe", Stream(["{}"], content_type="application/json"))
    with pytest.raises(StreamError):
        next(sub(closing, server, fake_sleep, after=1))


def test_malformed_event_data_is_a_stream_error(closing: Closing, server: FakeServer, fake_sleep: FakeSleep) -> None:
    server.on("GET", "/v1/subscribe", Stream([sse_event("transaction", "{not json", id=2)], end="hang"))
    s = sub(closing, server, fake_sleep, after=1)
    with pytest.raises(StreamError, match="bad transaction event"):
        next(s)
    s.close()


def test_unknown_event_types_are_skipped(closing: Closing, server: FakeServer, fake_sleep: FakeSleep) -> None:
    server.on("GET", "/v1/subscribe", Stream([sse_event("hint", {"x": 1}), tx_event(2, 1)], end="hang"))
    with sub(closing, server, fake_sleep, after=1) as s:
        assert next(s).version == 2


def test_durable_false_rolls_back_to_the_last_checkpoint_and_resumes_there(closing: Closing, server: FakeServer,
                                                                          fake_sleep: FakeSleep) -> None:
    server.on("GET", "/v1/subscribe",
              Stream([tx_event(11, 10), tx_event(12, 11), checkpoint_event(11), tx_event(13, 12)]),
              # new leader: 12 made it to the log, 13 did not; the term starts higher
              Stream([tx_event(12, 11), tx_event(20, 12, leader="L2"), checkpoint_event(20, "L2")], end="hang"))
    with sub(closing, server, fake_sleep, after=10, durable=False) as s:
        events = take(s, 7)
    kinds = [(type(e).__name__, getattr(e, "version", getattr(e, "committed_version", None))) for e in events]
    assert kinds == [("Transaction", 11), ("Transaction", 12), ("Checkpoint", 11), ("Transaction", 13),
                     ("Rollback", 11), ("Transaction", 12), ("Transaction", 20)]
    assert isinstance(events[4], Rollback) and events[4].discarded == 2
    first, second = server.calls("/v1/subscribe")
    assert first.query == {"after": "10", "durable": "false"}
    assert second.query["after"] == "11" and second.headers["last-event-id"] == "11"


def test_durable_false_without_events_past_the_checkpoint_needs_no_rollback(closing: Closing, server: FakeServer,
                                                                           fake_sleep: FakeSleep) -> None:
    server.on("GET", "/v1/subscribe", Stream([tx_event(11, 10), checkpoint_event(11)]),
              Stream([tx_event(12, 11)], end="hang"))
    with sub(closing, server, fake_sleep, after=10, durable=False) as s:
        events = take(s, 3)
    assert [type(e).__name__ for e in events] == ["Transaction", "Checkpoint", "Transaction"]
    assert server.calls("/v1/subscribe")[1].query["after"] == "11"


def test_durable_false_before_any_checkpoint_rolls_back_to_the_start(closing: Closing, server: FakeServer,
                                                                    fake_sleep: FakeSleep) -> None:
    server.on("GET", "/v1/subscribe", Stream([tx_event(11, 10)]), Stream([], end="hang"))
    s = sub(closing, server, fake_sleep, after=10, durable=False)
    assert next(s).version == 11
    rb = next(s)
    assert rb == Rollback(10, 1)
    s.close()


@pytest.mark.parametrize("chunked", [True, False])
def test_close_from_another_thread_ends_a_blocked_iteration(closing: Closing,
                                                            server: FakeServer, chunked: bool) -> None:
    # Not chunked: an HTTP/1.0-style stream ending with the connection, which http.client
    # hands over to the response (conn.sock is None): close() must still wake the read.
    server.on("GET", "/v1/subscribe", Stream([tx_event(2, 1)], end="hang", chunked=chunked))
    s = closing(closing(Client(server.url)).subscribe(after=1, idle_timeout=8))
    assert next(s).version == 2
    threading.Timer(0.2, s.close).start()
    started = time.monotonic()
    assert list(s) == []
    assert time.monotonic() - started < 5
    assert s.closed


def _local_ports_of_open_sockets() -> set[int]:
    """Local ports of the sockets this process holds a descriptor for."""
    ports = set()
    for name in os.listdir("/proc/self/fd"):
        try:
            if not os.readlink(f"/proc/self/fd/{name}").startswith("socket:"):
                continue
            s = socket.socket(fileno=os.dup(int(name)))
        except OSError:
            continue
        try:
            ports.add(s.getsockname()[1])
        except (OSError, IndexError, TypeError):
            pass
        finally:
            s.close()
    return ports


@pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="needs /proc")
@pytest.mark.parametrize("chunked", [True, False])
def test_close_releases_the_socket_at_once(closing: Closing, server: FakeServer, chunked: bool) -> None:
    # The consumer stopped iterating (nothing is reading): close() must free the file
    # descriptor itself, not leave it to garbage collection.
    server.on("GET", "/v1/subscribe", Stream([tx_event(2, 1)], end="hang", chunked=chunked))
    s = closing(closing(Client(server.url)).subscribe(after=1))
    assert next(s).version == 2
    port = server.calls("/v1/subscribe")[0].port
    assert port in _local_ports_of_open_sockets()
    s.close()
    assert port not in _local_ports_of_open_sockets()
    assert list(s) == []


def test_close_interrupts_the_backoff_sleep(closing: Closing, server: FakeServer) -> None:
    server.on("GET", "/v1/subscribe", Reply(503, {"error": "unavailable", "message": "x"},
                                            headers={"Retry-After": "60"}))
    s = closing(closing(Client(server.url)).subscribe(after=1, backoff=Backoff(1, 60)))
    threading.Timer(0.3, s.close).start()
    started = time.monotonic()
    assert list(s) == []
    assert time.monotonic() - started < 5


def test_idle_connection_is_replaced(closing: Closing, server: FakeServer, fake_sleep: FakeSleep) -> None:
    server.on("GET", "/v1/subscribe", Stream([tx_event(2, 1)], end="hang"), Stream([tx_event(3, 2)], end="hang"))
    with sub(closing, server, fake_sleep, after=1, idle_timeout=0.3) as s:
        assert [e.version for e in take(s, 2)] == [2, 3]
    assert server.calls("/v1/subscribe")[1].query["after"] == "2"


@pytest.mark.parametrize("after", ["600", 1.5, True])
def test_after_of_the_wrong_type_is_refused_before_iterating(closing: Closing,
                                                             server: FakeServer, after: object) -> None:
    from weaseldb import Subscription

    c = closing(Client(server.url))
    with pytest.raises(TypeError, match="after must be an int"):
        c.subscribe(after=after)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="after must be an int"):
        Subscription(c, after)  # type: ignore[arg-type]
    assert server.requests == []
