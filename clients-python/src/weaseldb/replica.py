"""A local, read-only copy of the key space kept current from the subscribe stream.

The server serves no reads: a reader builds its own view from ``/v1/subscribe`` and
commits with preconditions at the version its view reflects. :class:`Replica` is that
view for Python: a sorted in-memory map updated by a background thread, in log order,
with the version it reflects, so that ``get``/``range`` results can be turned into
:class:`~weaseldb.model.PointRead`/:class:`~weaseldb.model.RangeRead` preconditions
that are exactly right.

It holds the whole key space in memory (a dict plus a sorted key list, O(n) per new key),
which suits tests, tools and small data sets; it is a reference for building real
materialized views, not a cache for large ones.

With ``durable=False`` the replica may show transactions that never become durable; it
keeps an undo log back to the last checkpoint so a :class:`~weaseldb.model.Rollback`
restores the exact earlier state.
"""

from __future__ import annotations

import bisect
import collections.abc
import contextvars
import threading
import time
from typing import TYPE_CHECKING, Any, ItemsView, Iterator, KeysView, Mapping, ValuesView

from .errors import StreamError
from .model import (
    Checkpoint,
    Delete,
    Event,
    Operation,
    RangeDelete,
    Rollback,
    Transaction,
    UnknownOperation,
    Write,
    _as_bytes,
    _as_version,
)

if TYPE_CHECKING:
    from .client import Client
    from .subscribe import Subscription

__all__ = ["Replica"]

_MISSING = object()
# How long after keys() (or the previous lookup of its keys) a [] lookup still reads from
# its copy: dict() looks every key up at once; see Replica.keys.
_KEYS_PATIENCE_S = 1.0


class _Walk:
    """One thread's iteration of a replica: the copy it lists, and how far ``[]`` got.

    ``patience``: for the keys ``keys()`` returned, how long after the previous step a
    lookup may come and still read from the copy (``dict()`` looks its keys up at once;
    a program that keeps them for later reads the current state then). ``None`` for an
    iteration, which ends the walk itself when it ends.
    """

    __slots__ = ("keys", "data", "next", "patience", "deadline")

    def __init__(self, keys: list[bytes], data: dict[bytes, bytes], patience: float | None) -> None:
        self.keys = keys
        self.data = data
        self.next = 0
        self.patience = patience
        self.deadline = time.monotonic() + patience if patience is not None else 0.0


class _CopyKeys(collections.abc.KeysView):  # type: ignore[type-arg]
    """``Replica.keys()``: a copy's keys; iterating them starts a walk (``Replica._keys_walk``)."""

    def __init__(self, replica: Replica, data: dict[bytes, bytes]) -> None:
        super().__init__(data)
        self._replica = replica

    def __iter__(self) -> Iterator[bytes]:
        return self._replica._keys_walk(self._mapping)  # type: ignore[arg-type]


class Replica(Mapping[bytes, bytes]):
    """Dict-like view of the database at :attr:`version`, fed by a subscription.

    Every read is of one version, also while the follower thread applies transactions:
    ``get_at``, ``range_at``, ``snapshot``, ``items()``, ``values()`` and ``keys()``
    copy under the replica's lock. ``dict(replica)``, ``{**replica}`` and
    ``{k: replica[k] for k in replica}`` are consistent copies too: they list the keys
    and then look each up, and the ``[]`` lookups a thread makes of an iteration's keys
    while it runs, in its order (keys may be skipped), read at the version the iteration
    started at. A lookup out of that order, or of a key the iteration did not list, ends
    it and reads the current state, as does any lookup once the iteration is over (after
    ``list(replica)`` too; for ``keys()``, a second after the previous step) or after any
    other read of the replica (``get``, ``in``, ``version``, ``wait_for``...). The walk is
    per thread and per asyncio task.

    Args:
        client: where to subscribe; ``None`` for a replica fed by hand with :meth:`apply`.
        after: the version ``initial`` reflects (default 0 with an empty map: the whole
            log is replayed, which needs the log not to be truncated); an ``int``, else
            ``TypeError`` at once.
        initial: the key space at version ``after``.
        durable: subscribe with ``durable=True`` (only durable transactions) or not.
        start: start the background thread now (otherwise call :meth:`start`).
        subscribe_options: passed to :meth:`weaseldb.Client.subscribe`.
    """

    def __init__(
        self,
        client: Client | None = None,
        after: int = 0,
        *,
        initial: Mapping[bytes, bytes] | None = None,
        durable: bool = True,
        start: bool = True,
        **subscribe_options: Any,
    ) -> None:
        if _as_version(after, "after") is None:
            raise TypeError("after must be an int, not None")
        self._client = client
        self._data: dict[bytes, bytes] = dict(initial or {})
        self._keys: list[bytes] = sorted(self._data)
        self._version = after
        self._cond = threading.Condition()
        # Per thread, and per asyncio task: the iteration its [] lookups read from (see
        # __getitem__). Any other read ends it.
        self._walking: contextvars.ContextVar[_Walk | None] = contextvars.ContextVar("weaseldb_replica_walk", default=None)
        self._error: BaseException | None = None
        self._closed = False
        self._durable = durable
        self._checkpoint = after
        # durable=False only: per transaction after the checkpoint, what to restore.
        self._undo: list[tuple[int, list[tuple[bytes, bytes | None]]]] = []
        self._options = subscribe_options
        self._subscription: Subscription | None = None
        self._thread: threading.Thread | None = None
        self.transactions_applied = 0
        if client is not None and start:
            self.start()

    # -- lifecycle -----------------------------------------------------------------

    def start(self) -> None:
        """Start following the log in a daemon thread."""
        if self._client is None:
            raise ValueError("this replica has no client to subscribe with")
        if self._thread is not None:
            return
        self._subscription = self._client.subscribe(after=self._version, durable=self._durable, **self._options)
        self._thread = threading.Thread(target=self._follow, name="weaseldb-replica", daemon=True)
        self._thread.start()

    def close(self, timeout: float | None = 5.0) -> None:
        """Stop following; the data stays readable.

        :meth:`wait_for` a version not reached yet then raises ``RuntimeError`` (at once,
        and in threads already waiting) instead of waiting for what will never come.
        """
        with self._cond:
            self._closed = True
            self._cond.notify_all()
        if self._subscription is not None:
            self._subscription.close()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout)

    def __enter__(self) -> Replica:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _follow(self) -> None:
        assert self._subscription is not None
        try:
            for event in self._subscription:
                self.apply(event)
        except BaseException as exc:  # noqa: BLE001 - surfaced through wait_for/error
            with self._cond:
                self._error = exc
                self._cond.notify_all()

    @property
    def error(self) -> BaseException | None:
        """Why following stopped (e.g. :class:`~weaseldb.errors.LogTruncated`), if it did."""
        with self._cond:
            return self._error

    # -- reads -----------------------------------------------------------------------

    @property
    def version(self) -> int:
        """The version the contents reflect: every transaction up to it is applied."""
        self._end_walk()
        with self._cond:
            return self._version

    def wait_for(self, version: int, timeout: float | None = None) -> int:
        """Block until the replica reflects at least ``version``; return its version.

        Raises ``TimeoutError`` after ``timeout`` seconds, the error that stopped the
        subscription, or ``RuntimeError`` once the replica is closed (it will not move).
        """
        self._end_walk()
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._cond:
            while self._version < version:
                if self._error is not None:
                    raise self._error
                if self._closed:
                    raise RuntimeError(f"replica is closed at version {self._version}; "
                                       f"it will not reach {version}")
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    raise TimeoutError(f"replica at version {self._version}, waited for {version}")
                self._cond.wait(remaining)
            return self._version

    def get(self, key: bytes, default: Any = None) -> Any:
        """The value of ``key``, else ``default``. Keys are ``bytes``: a ``str`` raises
        ``TypeError`` (it could never be found, so ``None`` would hide the mistake)."""
        self._end_walk()
        key = _as_bytes(key, "key")
        with self._cond:
            return self._data.get(key, default)

    def get_at(self, key: bytes) -> tuple[bytes | None, int]:
        """``(value or None, version)`` read atomically: use the version in a PointRead."""
        self._end_walk()
        key = _as_bytes(key, "key")
        with self._cond:
            return self._data.get(key), self._version

    def range(self, begin: bytes, end: bytes, limit: int | None = None) -> list[tuple[bytes, bytes]]:
        """Items with ``begin <= key < end`` in key order (unsigned byte order)."""
        return self.range_at(begin, end, limit)[0]

    def range_at(self, begin: bytes, end: bytes, limit: int | None = None) -> tuple[list[tuple[bytes, bytes]], int]:
        """``(items, version)`` read atomically: use the version in a RangeRead."""
        self._end_walk()
        begin, end = _as_bytes(begin, "begin"), _as_bytes(end, "end")
        with self._cond:
            lo = bisect.bisect_left(self._keys, begin)
            hi = bisect.bisect_left(self._keys, end, lo) if begin < end else lo
            if limit is not None:
                hi = min(hi, lo + limit)
            return [(k, self._data[k]) for k in self._keys[lo:hi]], self._version

    def snapshot(self) -> tuple[dict[bytes, bytes], int]:
        """A copy of everything and the version it reflects."""
        self._end_walk()
        with self._cond:
            return dict(self._data), self._version

    # dict(replica) and {**replica} call keys() and then look every key up with [];
    # so does `for k in replica: replica[k]`. The follower may apply transactions in
    # between, so those lookups are answered from the copy the iteration was made from,
    # while they follow its key order: the result is the state at one version, never a
    # KeyError for a key deleted meanwhile nor half of a later transaction. A lookup of
    # a key that is not ahead in that order ends it and reads the current state, and so
    # does any lookup once the iteration is over (for keys(): more than a second after
    # the previous step).

    def __getitem__(self, key: bytes) -> bytes:
        key = _as_bytes(key, "key")
        walk = self._walking.get()
        if walk is not None:
            i = bisect.bisect_left(walk.keys, key, walk.next)
            if i < len(walk.keys) and walk.keys[i] == key and (
                    walk.patience is None or time.monotonic() <= walk.deadline):
                walk.next = i + 1
                if walk.next == len(walk.keys):
                    self._walking.set(None)
                elif walk.patience is not None:
                    walk.deadline = time.monotonic() + walk.patience
                return walk.data[key]
            self._walking.set(None)
        with self._cond:
            return self._data[key]

    def _end_walk(self) -> None:
        """Any read other than ``[]`` ends this thread's (or task's) walk: it reads now."""
        if self._walking.get() is not None:
            self._walking.set(None)

    def __contains__(self, key: object) -> bool:
        self._end_walk()
        key = _as_bytes(key, "key")
        with self._cond:
            return key in self._data

    def _sorted_copy(self) -> dict[bytes, bytes]:
        with self._cond:
            return {k: self._data[k] for k in self._keys}

    def _walk(self, data: dict[bytes, bytes]) -> Iterator[bytes]:
        """Yield the keys of ``data`` (a copy); while the iteration runs, this thread's
        ``[]`` lookups of them, in that order, read from the copy. It ends when the
        iteration does (exhausted, closed, or dropped), so a lookup made after
        ``list(replica)``, or after a loop over it, reads the current state."""
        walk = _Walk(list(data), data, None)
        self._walking.set(walk)
        try:
            yield from walk.keys
        finally:
            if self._walking.get() is walk:
                self._walking.set(None)

    def __iter__(self) -> Iterator[bytes]:
        """The keys at one version, in key order (a copy); ``[]`` lookups of them made
        during the iteration, in that order, read at that version too."""
        return self._walk(self._sorted_copy())

    def keys(self) -> KeysView[bytes]:
        """The keys at one version, in key order (a copy: later changes do not show).

        Once they are iterated, ``[]`` lookups of them that follow at once, in that order,
        read at that version too, so ``dict(replica)`` and ``{**replica}`` (which list these
        keys and then look each up) are consistent copies. "At once": within a second of
        the previous one; a later lookup, one out of that order, one after the last key,
        or any other read of the replica (``get``, ``in``, ``version``, ``wait_for``, ...)
        reads the current state. ``key in replica.keys()`` and ``len(replica.keys())`` do
        not iterate.
        """
        self._end_walk()
        return _CopyKeys(self, self._sorted_copy())

    def _keys_walk(self, data: dict[bytes, bytes]) -> Iterator[bytes]:
        """Iterating ``keys()``: this thread's in-order lookups read ``data`` at once after."""
        keys = list(data)
        self._walking.set(_Walk(keys, data, _KEYS_PATIENCE_S) if keys else None)
        return iter(keys)

    def items(self) -> ItemsView[bytes, bytes]:
        """The ``(key, value)`` pairs at one version, in key order (a copy)."""
        self._end_walk()
        return self._sorted_copy().items()

    def values(self) -> ValuesView[bytes]:
        """The values at one version, in key order (a copy)."""
        self._end_walk()
        return self._sorted_copy().values()

    def __len__(self) -> int:
        self._end_walk()
        with self._cond:
            return len(self._data)

    # -- writes (from the stream) -----------------------------------------------------

    def apply(self, event: Event) -> None:
        """Apply one subscribe event; used by the follower thread, public for feeding by hand."""
        with self._cond:
            if isinstance(event, Transaction):
                self._apply_transaction(event)
            elif isinstance(event, Checkpoint):
                cv = event.committed_version
                self._checkpoint = max(self._checkpoint, cv)
                self._undo = [u for u in self._undo if u[0] > cv]
                # Every transaction up to a checkpoint precedes it in the stream, so the
                # replica also reflects versions between the last transaction and it.
                self._version = max(self._version, cv)
            elif isinstance(event, Rollback):
                while self._undo and self._undo[-1][0] > event.version:
                    _, saved = self._undo.pop()
                    for key, old in reversed(saved):
                        self._restore(key, old)
                self._version = event.version
            self._cond.notify_all()

    def _apply_transaction(self, tx: Transaction) -> None:
        if tx.version <= self._version:
            raise StreamError(f"replica at {self._version} got transaction {tx.version} again")
        known: list[Operation] = []
        for op in tx.operations:
            if isinstance(op, UnknownOperation):
                # Refuse before touching anything: a half-applied transaction is worse.
                raise StreamError(f"transaction {tx.version} has an unknown operation {op.type!r}")
            known.append(op)
        saved: list[tuple[bytes, bytes | None]] | None = None if self._durable else []
        for op in known:
            self._apply_op(op, saved)
        if saved is not None:
            self._undo.append((tx.version, saved))
        self._version = tx.version
        self.transactions_applied += 1

    def _apply_op(self, op: Operation, saved: list[tuple[bytes, bytes | None]] | None) -> None:
        if isinstance(op, Write):
            if saved is not None:
                saved.append((op.key, self._data.get(op.key)))
            if op.key not in self._data:
                bisect.insort(self._keys, op.key)
            self._data[op.key] = op.value
        elif isinstance(op, Delete):
            if op.key in self._data:
                if saved is not None:
                    saved.append((op.key, self._data[op.key]))
                del self._data[op.key]
                del self._keys[bisect.bisect_left(self._keys, op.key)]
        elif isinstance(op, RangeDelete):
            if not op.begin < op.end:
                return
            lo = bisect.bisect_left(self._keys, op.begin)
            hi = bisect.bisect_left(self._keys, op.end, lo)
            for key in self._keys[lo:hi]:
                if saved is not None:
                    saved.append((key, self._data[key]))
                del self._data[key]
            del self._keys[lo:hi]

    def _restore(self, key: bytes, old: bytes | None) -> None:
        present = key in self._data
        if old is None:
            if present:
                del self._data[key]
                del self._keys[bisect.bisect_left(self._keys, key)]
        else:
            if not present:
                bisect.insort(self._keys, key)
            self._data[key] = old

