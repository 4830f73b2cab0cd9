"""Replica: ordered application of writes/deletes/range deletes, waiting, rollback, streaming."""

from __future__ import annotations

import asyncio
import contextlib
import sys
import threading
from typing import Any, Callable, Iterator

import pytest

from conftest import Closing, FakeServer, Reply, Stream, b64, checkpoint_event, tx_event
from weaseldb import (
    Checkpoint, Client, Delete, LogTruncated, Operation, RangeDelete, Replica, Rollback, StreamError, Transaction,
    UnknownOperation, Write,
)


def tx(version: int, *ops: object, prev: int | None = None) -> Transaction:
    return Transaction(version, version - 1 if prev is None else prev, "r", "", "L", tuple(ops))  # type: ignore[arg-type]


def test_range_delete_includes_begin_and_excludes_end() -> None:
    r = Replica(None, initial={k: b"v" for k in (b"a", b"b", b"b\x00", b"c", b"c\x00", b"d")})
    r.apply(tx(1, RangeDelete(b"b", b"c")))
    assert list(r) == [b"a", b"c", b"c\x00", b"d"]
    r.apply(tx(2, RangeDelete(b"c\x00", b"d")))
    assert list(r) == [b"a", b"c", b"d"]
    r.apply(tx(3, RangeDelete(b"", b"\xff")))
    assert list(r) == []
    assert r.version == 3


def test_keys_order_by_unsigned_bytes() -> None:
    r = Replica(None)
    r.apply(tx(1, Write(b"\xff", b"1"), Write(b"\x00", b"2"), Write(b"\x7f", b"3"), Write(b"", b"4")))
    assert r.range(b"", b"\xff\xff") == [(b"", b"4"), (b"\x00", b"2"), (b"\x7f", b"3"), (b"\xff", b"1")]
    assert r.range(b"\x01", b"\xff") == [(b"\x7f", b"3")]
    assert r.range(b"b", b"a") == []
    assert r.range(b"", b"\xff\xff", limit=2) == [(b"", b"4"), (b"\x00", b"2")]


def test_operations_apply_in_order_within_a_transaction() -> None:
    r = Replica(None)
    r.apply(tx(1, Write(b"k", b"1"), Delete(b"k"), Write(b"k", b"2"), Write(b"j", b"x"),
               RangeDelete(b"j", b"k"), Delete(b"missing")))
    assert dict(r.snapshot()[0]) == {b"k": b"2"}
    assert r.get(b"k") == b"2" and r[b"k"] == b"2" and b"j" not in r and len(r) == 1
    assert r.get_at(b"k") == (b"2", 1) and r.get(b"nope", b"d") == b"d"


def test_repeated_version_and_unknown_operations_are_refused_untouched() -> None:
    r = Replica(None)
    r.apply(tx(1, Write(b"k", b"1")))
    with pytest.raises(StreamError):
        r.apply(tx(1, Write(b"k", b"2")))
    with pytest.raises(StreamError, match="unknown operation"):
        r.apply(tx(2, Write(b"k", b"3"), UnknownOperation("cas", {})))
    assert r.get(b"k") == b"1" and r.version == 1


def test_checkpoint_advances_the_version() -> None:
    r = Replica(None, after=5)
    r.apply(Checkpoint(9, "L"))
    assert r.version == 9


def test_rollback_restores_the_state_at_the_checkpoint() -> None:
    r = Replica(None, initial={b"a": b"0", b"b": b"0", b"c": b"0"}, durable=False)
    r.apply(tx(1, Write(b"a", b"1")))
    r.apply(Checkpoint(1, "L"))
    r.apply(tx(2, Write(b"a", b"2"), Write(b"new", b"n"), Delete(b"b")))
    r.apply(tx(3, RangeDelete(b"a", b"z"), Write(b"c", b"3")))
    assert dict(r.snapshot()[0]) == {b"c": b"3"}
    r.apply(Rollback(1, 2))
    assert r.snapshot() == ({b"a": b"1", b"b": b"0", b"c": b"0"}, 1)
    assert list(r) == [b"a", b"b", b"c"]


def test_wait_for_times_out_and_wakes_up() -> None:
    r = Replica(None)
    with pytest.raises(TimeoutError):
        r.wait_for(1, timeout=0.05)
    threading.Timer(0.05, r.apply, args=(tx(1, Write(b"k", b"v")),)).start()
    assert r.wait_for(1, timeout=5) == 1


def test_follows_a_stream_across_reconnects(closing: Closing, server: FakeServer) -> None:
    w = lambda k, v: {"type": "write", "key": b64(k), "value": b64(v)}  # noqa: E731
    server.on("GET", "/v1/subscribe",
              Stream([tx_event(1, 0, [w(b"a", b"1"), w(b"b", b"1"), w(b"c", b"1")]),
                      tx_event(2, 1, [{"type": "range_delete", "begin": b64(b"a"), "end": b64(b"c")}])], end="drop"),
              Stream([tx_event(3, 2, [w(b"d", b"4"), {"type": "delete", "key": b64(b"c")}]), checkpoint_event(3)],
                     end="hang"))
    with Replica(closing(Client(server.url)), after=0, backoff=None) as r:
        assert r.wait_for(3, timeout=10) == 3
        assert r.snapshot() == ({b"d": b"4"}, 3)
    assert [c.query["after"] for c in server.calls("/v1/subscribe")] == ["0", "2"]


def test_errors_surface_through_wait_for(closing: Closing, server: FakeServer) -> None:
    server.on("GET", "/v1/subscribe", Reply(410, {"error": "log_truncated", "message": "gone",
                                                  "oldest_version": 40}))
    r = closing(Replica(closing(Client(server.url))))
    with pytest.raises(LogTruncated):
        r.wait_for(1, timeout=10)
    assert isinstance(r.error, LogTruncated)
    r.close()


def test_term_start_checkpoint_between_linked_transactions(closing: Closing, server: FakeServer) -> None:
    # As the Java server streams a restart: the new term starts at 207 with a checkpoint
    # at 206 (no transaction has that version), /v1/version may answer 210.
    w = lambda k: [{"type": "write", "key": b64(k), "value": b64(b"x")}]  # noqa: E731
    server.on("GET", "/v1/subscribe",
              Stream([tx_event(205, 204, w(b"a")), checkpoint_event(206, "L2"), tx_event(207, 205, w(b"b"), leader="L2"),
                      checkpoint_event(210, "L3")], end="hang"))
    with Replica(closing(Client(server.url)), after=204) as r:
        assert r.wait_for(210, timeout=10) == 210
        assert list(r) == [b"a", b"b"]


def test_wait_for_on_a_closed_replica_raises_instead_of_blocking(closing: Closing, server: FakeServer) -> None:
    server.on("GET", "/v1/subscribe", Stream([tx_event(1, 0)], end="hang"))
    r = closing(Replica(closing(Client(server.url))))
    assert r.wait_for(1, timeout=10) == 1
    waiter_error: list[BaseException] = []

    def wait() -> None:
        try:
            r.wait_for(50)  # no timeout: only close() can end it
        except BaseException as exc:
            waiter_error.append(exc)

    t = threading.Thread(target=wait, daemon=True)
    t.start()
    r.close()
    t.join(5)
    assert not t.is_alive(), "a thread waiting without timeout was left blocked by close()"
    assert isinstance(waiter_error[0], RuntimeError) and "closed" in str(waiter_error[0])
    with pytest.raises(RuntimeError, match="closed at version 1"):
        r.wait_for(2)
    assert r.wait_for(1) == 1  # versions already reached still answer


@pytest.mark.parametrize("after", ["600", None, 1.5, True])
def test_after_of_the_wrong_type_is_refused_at_once(closing: Closing, after: object) -> None:
    with pytest.raises(TypeError, match="after must be an int"):
        Replica(closing(Client("http://127.0.0.1:9")), after=after, start=False)  # type: ignore[arg-type]


CHURNED = [b"k%02d" % i for i in range(50)]


@contextlib.contextmanager
def _churning(clear: Callable[[list[bytes]], list[Operation]]) -> Iterator[Replica]:
    """A replica whose follower thread, in turn, writes all of CHURNED with the version and
    applies ``clear`` (deleting them all), switching threads often, mid-copy included: a
    consistent copy holds all of them with one value, or none."""
    r = Replica()
    stop = threading.Event()

    def follow() -> None:
        v = 0
        while not stop.is_set():
            v += 1
            if v % 2:
                r.apply(tx(v, *[Write(k, b"%d" % v) for k in CHURNED]))
            else:
                r.apply(tx(v, *clear(CHURNED)))

    t = threading.Thread(target=follow, daemon=True)
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    t.start()
    try:
        yield r
    finally:
        sys.setswitchinterval(interval)
        stop.set()
        t.join(5)


def test_keys_items_values_are_consistent_while_the_stream_applies() -> None:
    keys = CHURNED
    with _churning(lambda keys: [Delete(k) for k in keys]) as r:
        for _ in range(300):
            items = list(r.items())
            assert [k for k, _ in items] in ([], keys)
            assert len({v for _, v in items}) <= 1
            values = list(r.values())
            assert len(values) in (0, len(keys)) and len(set(values)) <= 1
            assert list(r.keys()) in ([], keys)
            copy = dict(r.items())
            assert len(copy) in (0, len(keys))
    r.apply(tx(r.version + 1, Write(b"z", b"1")))
    snapshot_keys = r.keys()
    r.apply(tx(r.version + 1, Delete(b"z")))
    assert b"z" in snapshot_keys and b"z" not in r  # a copy, not a live view


class _FollowerBetweenLookups(Replica):
    """Runs ``step`` once, right after the ``n``-th lookup, as the follower thread may."""

    def __init__(self, n: int, step: object, **kwargs: object) -> None:
        super().__init__(None, **kwargs)  # type: ignore[arg-type]
        self.n, self.step, self.lookups = n, step, 0

    def keys(self):  # type: ignore[no-untyped-def]
        keys = super().keys()
        self._after(0)
        return keys

    def __iter__(self):  # type: ignore[no-untyped-def]
        it = super().__iter__()
        self._after(0)
        return it

    def __getitem__(self, key: bytes) -> bytes:
        value = super().__getitem__(key)
        self.lookups += 1
        self._after(self.lookups)
        return value

    def _after(self, lookups: int) -> None:
        if lookups == self.n:
            self.step()  # type: ignore[operator]


ABC = {b"a": b"0", b"b": b"0", b"c": b"0"}


@pytest.mark.parametrize("copy", [dict, lambda r: {**r}, lambda r: {k: r[k] for k in r}],
                         ids=["dict", "unpack", "loop"])
def test_copying_while_the_follower_deletes_is_the_state_before(copy: Any) -> None:
    r = _FollowerBetweenLookups(0, lambda: r.apply(tx(1, Delete(b"b"), RangeDelete(b"c", b"d"))), initial=ABC)
    assert copy(r) == ABC
    assert r.snapshot() == ({b"a": b"0"}, 1)  # the lookups after the copy are live again
    assert r.get(b"b") is None and b"c" not in r
    with pytest.raises(KeyError):
        r[b"b"]


@pytest.mark.parametrize("copy", [dict, lambda r: {**r}, lambda r: {k: r[k] for k in r}],
                         ids=["dict", "unpack", "loop"])
def test_copying_while_the_follower_applies_a_transaction_is_not_torn(copy: Any) -> None:
    r = _FollowerBetweenLookups(1, lambda: r.apply(tx(1, *[Write(k, b"1") for k in ABC])), initial=ABC)
    assert copy(r) == ABC
    assert dict(r) == {k: b"1" for k in ABC}


def test_lookups_that_skip_keys_of_an_iteration_read_at_its_version() -> None:
    r = _FollowerBetweenLookups(0, lambda: r.apply(tx(1, Write(b"a", b"1"), Write(b"c", b"1"))), initial=ABC)
    assert {k: r[k] for k in r if k != b"b"} == {b"a": b"0", b"c": b"0"}
    assert r[b"c"] == b"1"  # that iteration is over: c was its last key


def test_a_lookup_out_of_the_iteration_order_reads_the_current_state() -> None:
    r = Replica(None, initial=ABC)
    it = iter(r)
    assert next(it) == b"a"
    r.apply(tx(1, Write(b"a", b"1"), Write(b"b", b"1")))
    assert r[b"b"] == b"0"  # still the iteration's version
    assert r[b"a"] == b"1"  # behind it: the iteration's reads ended, this one is current
    assert r[b"c"] == b"0" and r[b"b"] == b"1"


@pytest.mark.parametrize("listing", [list, sorted, lambda r: [k for k in r]], ids=["list", "sorted", "loop"])
def test_a_lookup_after_an_iteration_ended_reads_the_current_state(listing: Any) -> None:
    r = Replica(None, initial=ABC)
    keys = listing(r)
    r.apply(tx(1, Write(b"b", b"1"), Delete(b"c")))
    assert r[keys[1]] == b"1"  # not the listed copy's b"0": the iteration is over
    with pytest.raises(KeyError):
        r[keys[2]]


def test_the_keys_of_keys_are_read_at_their_version_only_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    now = [100.0]
    monkeypatch.setattr("weaseldb.replica.time.monotonic", lambda: now[0])
    r = Replica(None, initial=ABC)
    keys = list(r.keys())
    r.apply(tx(1, Write(b"a", b"1"), Write(b"b", b"1"), Write(b"c", b"1")))
    assert r[keys[0]] == b"0"  # as dict() does it: at once, in order
    now[0] += 1.5  # a program that kept the keys for later
    assert r[keys[1]] == b"1" and r[keys[2]] == b"1"


def test_dict_of_the_replica_is_consistent_while_the_stream_applies() -> None:
    # As test_keys_items_values_are_consistent_while_the_stream_applies, for dict(replica)
    # and {**replica}, which look every key up after listing them.
    with _churning(lambda keys: [RangeDelete(keys[0], b"l")]) as r:
        for _ in range(300):
            for copy in (dict(r), {**r}):
                assert list(copy) in ([], CHURNED)
                assert len(set(copy.values())) <= 1


@pytest.mark.parametrize("listing", [lambda r: b"b" in r.keys(), lambda r: set(r.keys()), lambda r: len(r.keys())],
                         ids=["in-keys", "set-of-keys", "len-of-keys"])
def test_a_lookup_after_waiting_for_a_version_reads_at_least_that_version(listing: Any) -> None:
    # Review 42: keys() called for anything (a membership check, a set, a count) left this
    # thread's next in-order [] lookups reading its copy for a second, even after wait_for
    # returned a newer version: replica[k] then disagreed with replica.get(k) and with version.
    r = Replica(None, initial=ABC)
    listing(r)
    r.apply(tx(1, Write(b"b", b"1")))  # the follower applies the program's own commit
    assert r.wait_for(1) == 1
    assert r.get(b"b") == b"1"
    assert r[b"b"] == b"1", "a read after wait_for(1) answered from a copy of version 0"


def test_an_iteration_in_one_asyncio_task_does_not_answer_another_tasks_lookups() -> None:
    # Review 42: tasks share a thread; one paused inside `for k in replica` must not make
    # another task's replica[k] read the paused iteration's copy.
    r = Replica(None, initial=ABC)

    async def walker(started: asyncio.Event, resume: asyncio.Event) -> None:
        for k in r:
            if k == b"a":
                started.set()
                await resume.wait()

    async def other(started: asyncio.Event, resume: asyncio.Event) -> bytes:
        await started.wait()
        r.apply(tx(1, Write(b"b", b"1")))
        value = r[b"b"]
        resume.set()
        return value

    async def main() -> bytes:
        started, resume = asyncio.Event(), asyncio.Event()
        w = asyncio.create_task(walker(started, resume))
        o = asyncio.create_task(other(started, resume))
        await w
        return await o

    assert asyncio.run(main()) == b"1"
