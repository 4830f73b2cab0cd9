"""The optimistic transaction loop: read at a version, buffer writes, commit, retry.

:func:`run_transaction` (also ``Client.transact``) calls the user's function with a
:class:`Txn` carrying a read version. The function reads (through a
:class:`~weaseldb.replica.Replica`, which records the matching preconditions, or by
recording them itself) and buffers operations; then the helper commits with a fresh
request id and:

- on ``conflict`` / ``too_old`` / ``leader_changed``, and on failures that certainly did
  not commit (503 ``outcome: not_committed``, 429, connection refused), runs the
  function again at a newer version after a randomized exponential backoff;
- on an *unknown* outcome (connection lost or timed out after sending, 503 with
  ``outcome: unknown``, a 5xx without the server's ``outcome`` such as a proxy's 502 or
  504) asks ``/v1/status`` about the same request id. That answer is
  final: ``committed`` ends the loop with that version, ``not_committed`` means the id
  can never commit, so the function runs again under a new id. A transaction therefore
  never applies twice. If status cannot answer (410, or it keeps failing), the helper
  raises :class:`~weaseldb.errors.OutcomeUnknown` instead of guessing.
"""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable, Generic, TypeVar

from .errors import (
    CertificateError,
    CommitRejected,
    Conflict,
    LeaderChanged,
    LogTruncated,
    OutcomeUnknown,
    TooManyRequests,
    TooOld,
    TransportError,
    Unavailable,
    WeaselError,
)
from .model import CommitResult, Delete, Operation, PointRead, Precondition, RangeDelete, RangeRead, StatusResult, Write
from .subscribe import Backoff

if TYPE_CHECKING:
    from .client import Client
    from .replica import Replica

__all__ = ["Txn", "TxnResult", "run_transaction", "resolve_outcome", "new_request_id"]

T = TypeVar("T")


def new_request_id() -> str:
    """A random request id, well over the 20-character minimum of the contract."""
    return uuid.uuid4().hex + uuid.uuid4().hex[:8]


class Txn:
    """One attempt of a transaction: its read version, reads recorded, writes buffered.

    Reads through :meth:`get`/:meth:`range` need a replica; each records a precondition
    at the version the replica reflected when it answered (at least ``read_version``), so
    what was read is exactly what is checked. Without a replica, record reads done
    elsewhere with :meth:`add_read`/:meth:`add_range_read` (version defaults to
    ``read_version``). Reads see this transaction's own buffered writes.
    """

    def __init__(self, read_version: int, *, request_id: str, attempt: int = 1, replica: Replica | None = None) -> None:
        self.read_version = read_version
        self.request_id = request_id
        self.attempt = attempt
        self.replica = replica
        self.preconditions: list[Precondition] = []
        self.operations: list[Operation] = []

    # -- reads ---------------------------------------------------------------------

    def _need_replica(self) -> Replica:
        if self.replica is None:
            raise RuntimeError("Txn.get/range need a replica: pass replica= to transact(), or use add_read()")
        return self.replica

    def get(self, key: bytes) -> bytes | None:
        """The value of ``key`` (``None`` if absent); records a PointRead."""
        value, version = self._need_replica().get_at(key)
        self.preconditions.append(PointRead(key, version))
        return self._overlay_point(key, value)

    def range(self, begin: bytes, end: bytes, limit: int | None = None) -> list[tuple[bytes, bytes]]:
        """Items in ``[begin, end)`` in key order; records a RangeRead of what was seen.

        With ``limit``, the precondition covers only up to the last key returned, so keys
        beyond it may change without a conflict.
        """
        items, version = self._need_replica().range_at(begin, end)
        merged = self._overlay_range(begin, end, items)
        read_end = end
        if limit is not None and len(merged) > limit:
            merged = merged[:limit]
            read_end = merged[-1][0] + b"\x00" if merged else begin
        if begin < read_end:
            self.preconditions.append(RangeRead(begin, read_end, version))
        return merged

    def add_read(self, key: bytes, version: int | None = None) -> None:
        """Record a point read done elsewhere (default version: ``read_version``)."""
        self.preconditions.append(PointRead(key, version))

    def add_range_read(self, begin: bytes, end: bytes, version: int | None = None) -> None:
        """Record a range read done elsewhere (default version: ``read_version``)."""
        self.preconditions.append(RangeRead(begin, end, version))

    # -- writes --------------------------------------------------------------------

    def set(self, key: bytes, value: bytes) -> None:
        self.operations.append(Write(key, value))

    def delete(self, key: bytes) -> None:
        self.operations.append(Delete(key))

    def delete_range(self, begin: bytes, end: bytes) -> None:
        self.operations.append(RangeDelete(begin, end))

    # -- read-your-writes ------------------------------------------------------------

    def _overlay_point(self, key: bytes, value: bytes | None) -> bytes | None:
        for op in self.operations:
            if isinstance(op, Write) and op.key == key:
                value = op.value
            elif isinstance(op, Delete) and op.key == key:
                value = None
            elif isinstance(op, RangeDelete) and op.begin <= key < op.end:
                value = None
        return value

    def _overlay_range(self, begin: bytes, end: bytes, items: list[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
        if not self.operations:
            return items
        view = dict(items)
        for op in self.operations:
            if isinstance(op, Write):
                if begin <= op.key < end:
                    view[op.key] = op.value
            elif isinstance(op, Delete):
                view.pop(op.key, None)
            elif isinstance(op, RangeDelete):
                for k in [k for k in view if op.begin <= k < op.end]:
                    del view[k]
        return sorted(view.items())


@dataclass(frozen=True)
class TxnResult(Generic[T]):
    """What :func:`run_transaction` returns.

    ``value``: the function's return value of the attempt that committed. ``commit``:
    the commit (``None`` if the function buffered nothing, so nothing was sent).
    ``attempts``: how many times the function ran. ``resolved_by_status``: the commit's
    reply was lost and ``/v1/status`` confirmed it.
    """

    value: T
    commit: CommitResult | None
    attempts: int
    resolved_by_status: bool = False

    @property
    def version(self) -> int | None:
        return self.commit.version if self.commit else None


def resolve_outcome(
    client: Client,
    request_id: str,
    *,
    min_version: int | None = None,
    attempts: int = 8,
    patience: float = 30.0,
    backoff: Backoff | None = None,
    sleep: Callable[[float], None] | None = None,
) -> StatusResult:
    """Ask ``/v1/status`` until it answers; the answer makes the id's outcome final.

    Raises :class:`OutcomeUnknown` if the server says the history is gone (410), or
    does not answer in ``attempts`` tries *and* ``patience`` seconds. The patience covers
    a server restarting or a standby taking over (a few seconds with the default
    ``leader_timeout_ms``), when every try is refused at once; tries that each wait out
    the client's timeout use it up as they go. ``patience=0`` stops after ``attempts``.
    """
    import time

    backoff = backoff or Backoff(0.05, 2.0)
    do_sleep = sleep or time.sleep
    last: WeaselError | None = None
    started = time.monotonic()
    waited = 0.0  # slept between tries: what an injected sleep does not spend on the clock
    i = 0
    while True:
        try:
            return client.status(request_id, min_version=min_version)
        except LogTruncated as exc:
            raise OutcomeUnknown(f"outcome of {request_id} is unknown: request history truncated",
                                 request_id=request_id, cause=exc) from exc
        except CertificateError:
            raise
        except (TransportError, Unavailable, TooManyRequests) as exc:
            last = exc
        except WeaselError as exc:
            if exc.status is None or exc.status < 500:
                raise
            last = exc
        i += 1
        if i >= attempts and max(waited, time.monotonic() - started) >= patience:
            break
        hint = last.retry_after if isinstance(last, (Unavailable, TooManyRequests)) else None
        delay = backoff.next(hint)
        do_sleep(delay)
        waited += delay
    raise OutcomeUnknown(f"outcome of {request_id} is unknown: /v1/status did not answer ({last})",
                         request_id=request_id, cause=last)


def run_transaction(
    client: Client,
    fn: Callable[[Txn], T],
    *,
    replica: Replica | None = None,
    retries: int | None = 10,
    read_version: int | None = None,
    backoff: Backoff | None = None,
    sleep: Callable[[float], None] | None = None,
    rng: random.Random | None = None,
    request_id_factory: Callable[[], str] | None = None,
    status_attempts: int = 8,
    status_patience: float = 30.0,
    replica_timeout: float | None = 30.0,
) -> TxnResult[T]:
    """Run ``fn(txn)`` and commit what it buffered, retrying until it commits once.

    Any exception raised by ``fn`` (a :class:`~weaseldb.errors.WeaselError` of a call
    it made too) aborts: it propagates at once, nothing is committed or retried.

    Args:
        replica: read through it (``txn.get``/``txn.range``); each attempt first waits
            until it reflects the attempt's read version. What that wait raises is not
            retried: the error that stopped the replica (:attr:`Replica.error`),
            ``TimeoutError`` after ``replica_timeout`` seconds, ``RuntimeError`` once it
            is closed.
        retries: attempts after the first (``None``: unlimited); when exhausted the last
            error (e.g. :class:`Conflict`) is raised. If that error was an unknown outcome
            that ``/v1/status`` settled as not committed, its ``resolved`` is
            ``"not_committed"`` and its ``outcome_unknown`` false.
        read_version: the first attempt's read version (default: ``/v1/version``); later
            attempts use the version a conflict reported, or ``/v1/version``.
        backoff/sleep/rng: the randomized exponential backoff between attempts
            (defaults: 10 ms doubling up to 1 s, ``time.sleep``); injectable for tests.
        request_id_factory: makes a new request id for every attempt.
        status_attempts/status_patience: how often, and for at least how many seconds of
            waiting between tries, ``/v1/status`` is asked to resolve an unknown outcome
            (see :func:`resolve_outcome`) before :class:`OutcomeUnknown` is raised.
    """
    import time

    backoff = backoff or Backoff(0.01, 1.0, rng=rng or random.Random())
    do_sleep = sleep or time.sleep
    make_id = request_id_factory or client.request_id_factory
    next_version = read_version
    attempt = 0
    while True:
        attempt += 1
        hint: float | None = None
        error: WeaselError
        try:
            rv = next_version if next_version is not None else client.version().version
        except WeaselError as exc:
            error, hint = _retryable(exc)  # /v1/version failed, or raised
        else:
            next_version = None
            if replica is not None:
                # Outside the handler: the replica's own failure (its subscription gave up,
                # e.g. after max_reconnects, or hit LogTruncated) is permanent, and
                # wait_for would raise it again on every attempt; it is raised at once.
                replica.wait_for(rv, timeout=replica_timeout)
            request_id = make_id()
            txn = Txn(rv, request_id=request_id, attempt=attempt, replica=replica)
            # Outside every handler: whatever fn raises (a WeaselError of a call it made
            # included) aborts the transaction; nothing is committed or retried.
            value = fn(txn)
            if not txn.operations and not txn.preconditions:
                return TxnResult(value, None, attempt)
            try:
                result = client.commit(txn.operations, txn.preconditions, read_version=rv, request_id=request_id)
                return TxnResult(value, result, attempt)
            except WeaselError as exc:
                if exc.outcome_unknown:
                    status = resolve_outcome(client, request_id, min_version=rv, attempts=status_attempts,
                                             patience=status_patience, backoff=Backoff(0.05, 2.0, rng=backoff.rng,
                                                             max_retry_after=backoff.max_retry_after),
                                             sleep=do_sleep)
                    if status.committed:
                        commit = CommitResult(status.version, status.leader_id or "", request_id, False, status.raw)
                        return TxnResult(value, commit, attempt, resolved_by_status=True)
                    # Final: not committed, and never will be; retry under a new id. Should
                    # the retries run out, the error raised says so.
                    exc.resolved = "not_committed"
                    error = exc
                    hint = exc.retry_after if isinstance(exc, (Unavailable, TooManyRequests)) else None
                else:
                    error, hint = _retryable(exc)
                    if isinstance(exc, (Conflict, TooOld)):
                        next_version = exc.version
        if retries is not None and attempt > retries:
            raise error
        do_sleep(backoff.next(hint))


def _retryable(exc: WeaselError) -> tuple[WeaselError, float | None]:
    """``(error, Retry-After hint)`` for a failure worth another attempt; raise the others.

    Retried: the 409 outcomes (the commit did not happen), 503/429 that certainly did
    not commit (a commit's unknown outcome is resolved before this), and transport
    failures before a commit was sent (connection refused, ``/v1/version`` failing).
    """
    if isinstance(exc, CommitRejected):
        return exc, None
    if isinstance(exc, (Unavailable, TooManyRequests)):
        return exc, exc.retry_after
    if isinstance(exc, TransportError) and not isinstance(exc, CertificateError):
        return exc, None  # a certificate problem is configuration, not transient
    raise exc
