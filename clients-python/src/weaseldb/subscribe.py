"""A subscribe stream that survives disconnects without losing or repeating history.

:class:`Subscription` iterates typed events of ``GET /v1/subscribe`` and owns the
reconnection rules of the contract:

- it resumes with ``after`` (and the standard ``Last-Event-ID`` header) set to the last
  transaction's version or the last ``checkpoint``'s ``committed_version``, whichever
  is newer (the contract's rule; a caught-up stream's position moves on with the
  checkpoints sent over markers, so resuming does not ask for history that retention
  may since have deleted), after a randomized exponential backoff with full jitter;
- it checks the ``prev_version`` chain of every transaction against the version reached
  and raises :class:`~weaseldb.errors.GapError` on a gap (transactions lost) or on a
  transaction at or below what was already delivered;
- with ``durable=False``, when a stream ends while transactions newer than the last
  ``checkpoint`` were delivered, those may never become durable (the usual reason is a
  leader change), so it yields :class:`~weaseldb.model.Rollback` telling the consumer to
  discard them and resumes from the checkpoint's version;
- a ``410`` raises :class:`~weaseldb.errors.LogTruncated`: history is gone, retrying
  cannot help; other client errors (401, 403, 400...) are raised too, while 429/5xx and
  network failures are retried;
- :meth:`Subscription.close` may be called from any thread: it wakes the reader (socket
  shutdown) and any backoff sleep, and the iterator then simply ends. The connection's
  socket is closed at once when no read is under way (a consumer that stopped
  iterating), else by the woken reader as it leaves.

When ``after`` is ``None`` the subscription first asks ``/v1/version`` and starts from
there, so even the first reconnect knows its position (the server's own default, "the
latest version", would silently skip whatever committed while disconnected).
"""

from __future__ import annotations

import collections
import http.client
import json
import random
import socket
import ssl
import threading
from typing import TYPE_CHECKING, Callable, Iterator

from .errors import (
    CertificateError,
    GapError,
    LogTruncated,
    StreamError,
    Timeout,
    TooManyRequests,
    TransportError,
    Unavailable,
    WeaselError,
)
from .model import Checkpoint, Event, Rollback, Transaction, _as_version
from .sse import SSEEvent, SSEParser

if TYPE_CHECKING:
    from .client import Client

__all__ = ["Subscription", "Backoff"]


class Backoff:
    """Randomized exponential backoff with full jitter.

    The n-th delay is uniform in ``[0, min(cap, base * 2**n)]`` (never below
    ``floor``), the scheme that spreads a crowd of reconnecting clients best. ``rng`` is
    injected so tests are deterministic.

    A server's ``Retry-After`` (the ``hint`` of :meth:`next`) is honoured even beyond
    ``cap``: the server knows how long it needs. Only ``max_retry_after`` (default
    300 s) bounds it, so a far-off HTTP-date cannot stall a client for hours.
    """

    def __init__(self, base: float = 0.1, cap: float = 10.0, *, floor: float = 0.0,
                 rng: random.Random | None = None, max_retry_after: float = 300.0) -> None:
        self.base = base
        self.cap = cap
        self.floor = floor
        self.rng = rng or random.Random()
        self.max_retry_after = max_retry_after
        self.attempt = 0

    def next(self, hint: float | None = None) -> float:
        """The next delay; at least a server ``Retry-After`` ``hint``, if given (up to
        ``max_retry_after``, not ``cap``)."""
        ceiling = min(self.cap, self.base * (2 ** min(self.attempt, 30)))
        self.attempt += 1
        delay = max(self.floor, self.rng.uniform(0.0, ceiling))
        if hint is not None:
            delay = max(delay, min(hint, self.max_retry_after))
        return delay

    def reset(self) -> None:
        self.attempt = 0


class _StreamEnded(Exception):
    """The current connection is over (EOF, reset, idle timeout): reconnect."""


class Subscription:
    """Iterator of :class:`Transaction`, :class:`Checkpoint` and :class:`Rollback`.

    Use it as an iterator (``for event in client.subscribe(after=v)``) and, when done
    early, call :meth:`close` (or use it as a context manager).

    ``after`` must be an ``int`` or ``None`` (``TypeError`` otherwise, at once).

    Attributes:
        position: the version everything up to which has been delivered; the next
            connection resumes after it. With ``durable=False`` it may be the version of
            a transaction that is not durable yet (and may be rolled back), so it is not
            a safe point to persist and resume from after a restart: use ``checkpoint``.
        checkpoint: the last checkpoint's ``committed_version`` (before the first one,
            where the subscription started): every version up to it is durable. With
            ``durable=False`` this is the safe resume point; subscribe again with
            ``after=checkpoint`` and drop what was applied past it, which comes again.

    Arguments beyond the contract's ``after``/``durable``:
        idle_timeout: seconds without any byte (the server sends a keepalive comment
            every 30 s) after which the connection is presumed dead and replaced.
        max_reconnects: consecutive failed reconnection attempts before giving up with
            the last error; ``None`` retries forever. A connection that ends (or goes
            idle) before sending a single byte after its ``200`` head counts as failed:
            a server that keeps accepting and ending streams at once gives up too, with
            a :class:`~weaseldb.errors.TransportError`.
        backoff: the :class:`Backoff` between reconnects.
        sleep: ``sleep(seconds)``; the default is interrupted by :meth:`close`.
    """

    def __init__(
        self,
        client: Client,
        after: int | None = None,
        durable: bool = True,
        *,
        idle_timeout: float = 75.0,
        max_reconnects: int | None = None,
        backoff: Backoff | None = None,
        sleep: Callable[[float], None] | None = None,
        chunk_size: int = 65536,
    ) -> None:
        _as_version(after, "after")  # a str "600" would only fail mid-iteration
        self._client = client
        self.durable = durable
        self.idle_timeout = idle_timeout
        self.max_reconnects = max_reconnects
        self.backoff = backoff or Backoff()
        self._closed = threading.Event()
        self._sleep = sleep or self._interruptible_sleep
        self._chunk_size = chunk_size
        self._conn_lock = threading.Lock()
        # The current connection, its socket and response; _busy while the iterator is in
        # a blocking call on them (then only that thread may close them).
        self._conn: http.client.HTTPConnection | None = None
        self._sock: socket.socket | None = None
        self._resp: http.client.HTTPResponse | None = None
        self._busy = False
        # Position: the version everything up to which has been delivered (the last
        # transaction's, or a newer checkpoint's); the next connection resumes after it.
        self.position: int | None = after
        # The version of the last transaction delivered, when known: the next
        # transaction's prev_version must then equal it exactly (it links over the
        # markers a checkpoint may have moved the position past).
        self._last_tx: int | None = None
        # durable=False bookkeeping: last checkpoint, and versions delivered after it.
        self.checkpoint: int | None = after
        self._uncheckpointed: collections.deque[int] = collections.deque()
        self.reconnects = 0
        self.connections = 0
        self._delivered = 0
        self._received = False  # whether the current connection sent any byte of stream
        self._gen = self._run()

    # -- public --------------------------------------------------------------------

    def __iter__(self) -> Iterator[Event]:
        return self

    def __next__(self) -> Event:
        return next(self._gen)

    def __enter__(self) -> Subscription:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def closed(self) -> bool:
        return self._closed.is_set()

    def close(self) -> None:
        """Stop the subscription; safe from any thread, idempotent.

        Wakes a read blocked on the stream, and releases the connection (its file
        descriptor included) at once unless a read is under way in another thread,
        which then releases it as it ends.
        """
        with self._conn_lock:
            self._closed.set()
            sock = self._sock
            busy = self._busy
            conn, resp = (None, None) if busy else (self._conn, self._resp)
            if not busy:
                self._conn = self._sock = self._resp = None
        if sock is not None:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        if not busy:
            _release(conn, resp, sock)

    # -- internals -----------------------------------------------------------------

    def _interruptible_sleep(self, seconds: float) -> None:
        self._closed.wait(seconds)

    def _run(self) -> Iterator[Event]:
        failures = 0
        last_error: WeaselError | None = None
        while not self._closed.is_set():
            hint: float | None = None
            self._delivered = 0
            self._received = False
            try:
                if self.position is None:
                    self.position = self._client.version().version
                    if self.checkpoint is None:
                        self.checkpoint = self.position
                for event in self._one_connection():
                    self._delivered += 1
                    yield event
            except _StreamEnded:
                if not self._received and not self._closed.is_set():
                    # Connected, then ended (or went silent) without a byte: as useless
                    # as a refused connection, and it must not loop forever either.
                    last_error = TransportError(
                        f"subscribe: the stream after {self.position} ended without sending anything",
                        sent=True)
                    failures += 1
            except (LogTruncated, StreamError, CertificateError):
                raise
            except (TransportError, Unavailable, TooManyRequests) as exc:
                last_error = exc
                hint = exc.retry_after if isinstance(exc, (Unavailable, TooManyRequests)) else None
                failures += 1
            except WeaselError as exc:
                if exc.status is not None and exc.status >= 500:
                    last_error = exc
                    failures += 1
                else:
                    raise
            if self._closed.is_set():
                return
            if self._delivered or self._received:
                # The connection worked: the next outage starts its backoff afresh.
                failures = 0
                self.backoff.reset()
            if not self.durable and self._uncheckpointed:
                assert self.checkpoint is not None
                discarded = len(self._uncheckpointed)
                self._uncheckpointed.clear()
                self.position = self.checkpoint
                self._last_tx = None
                yield Rollback(self.checkpoint, discarded)
            if self.max_reconnects is not None and failures > self.max_reconnects:
                assert last_error is not None
                raise last_error
            self._sleep(self.backoff.next(hint))
            self.reconnects += 1

    def _open(self) -> http.client.HTTPResponse:
        transport = self._client.transport
        query: dict[str, object] = {"after": self.position, "durable": self.durable}
        target = transport.path("/v1/subscribe", query)
        headers = transport.headers({"Accept": "text/event-stream", "Cache-Control": "no-cache"})
        if self.position is not None:
            headers["Last-Event-ID"] = str(self.position)
        conn = transport.new_connection()
        with self._conn_lock:
            self._conn = conn
        if self._closed.is_set():
            raise _StreamEnded()
        try:
            conn.connect()
        except socket.timeout as exc:
            raise Timeout(f"subscribe: connect to {transport.host}:{transport.port} timed out",
                          sent=False) from exc
        except ssl.SSLCertVerificationError as exc:
            raise CertificateError(f"subscribe: TLS certificate not trusted: {exc.verify_message or exc}") from exc
        except OSError as exc:
            if self._closed.is_set():
                raise _StreamEnded() from exc
            # Refused, unreachable: the request never left.
            raise TransportError(f"subscribe: cannot connect to {transport.host}:{transport.port}: {exc}",
                                 sent=False) from exc
        try:
            with self._conn_lock:
                # Kept apart: a response that owns the connection (Connection: close)
                # leaves conn.sock None, yet close() must still shut the socket down.
                self._sock = conn.sock
            if conn.sock is not None:
                # Connect under the client's timeout; then wait at most idle_timeout for
                # any byte, keepalives included.
                conn.sock.settimeout(self.idle_timeout)
            if self._closed.is_set():
                raise _StreamEnded()
            conn.request("GET", target, headers=headers)
            resp = conn.getresponse()
            with self._conn_lock:
                self._resp = resp
        except socket.timeout as exc:
            raise Timeout(f"subscribe: no answer within {self.idle_timeout}s", sent=True) from exc
        except (OSError, http.client.HTTPException) as exc:
            if self._closed.is_set():
                raise _StreamEnded() from exc
            raise TransportError(f"subscribe: {exc!r}", sent=True) from exc
        if resp.status != 200:
            from .transport import Response, _headers_of

            try:
                body = resp.read()
            except (OSError, http.client.HTTPException):
                body = b""
            raise Response(resp.status, resp.reason, _headers_of(resp), body).error()
        ctype = resp.getheader("Content-Type", "")
        if not ctype.lower().startswith("text/event-stream"):
            raise StreamError(f"subscribe answered Content-Type {ctype!r}, not text/event-stream")
        self.connections += 1
        return resp

    def _enter_io(self) -> None:
        with self._conn_lock:
            if self._closed.is_set():
                raise _StreamEnded()
            self._busy = True

    def _leave_io(self) -> None:
        with self._conn_lock:
            self._busy = False

    def _one_connection(self) -> Iterator[Event]:
        try:
            self._enter_io()
            try:
                resp = self._open()
            finally:
                self._leave_io()
            parser = SSEParser()
            while not self._closed.is_set():
                self._enter_io()
                try:
                    chunk = resp.read1(self._chunk_size)
                except (OSError, http.client.HTTPException, ValueError) as exc:
                    # Timeout (idle), reset, broken chunked framing, or closed by close().
                    raise _StreamEnded() from exc
                finally:
                    self._leave_io()
                if not chunk:
                    raise _StreamEnded()
                self._received = True
                for raw in parser.feed(chunk):
                    event = self._decode(raw)
                    if event is not None:
                        yield event
                if parser.retry_ms is not None:
                    self.backoff.base = max(0.001, parser.retry_ms / 1000.0)
        finally:
            with self._conn_lock:
                conn, sock, held = self._conn, self._sock, self._resp
                self._conn = self._sock = self._resp = None
            _release(conn, held, sock)

    def _decode(self, raw: SSEEvent) -> Event | None:
        if raw.event not in ("transaction", "checkpoint"):
            return None  # unknown event types are ignored for forward compatibility
        try:
            doc = json.loads(raw.data)
            if not isinstance(doc, dict):
                raise ValueError("not an object")
            event: Transaction | Checkpoint = (
                Transaction.from_json(doc) if raw.event == "transaction" else Checkpoint.from_json(doc)
            )
        except (ValueError, TypeError) as exc:
            raise StreamError(f"bad {raw.event} event {raw.data[:200]!r}: {exc}") from exc
        if isinstance(event, Transaction):
            self._check_chain(event)
            self.position = event.version
            self._last_tx = event.version
            if not self.durable:
                self._uncheckpointed.append(event.version)
        else:
            cv = event.committed_version
            if self.checkpoint is None or cv > self.checkpoint:
                self.checkpoint = cv
            # Everything up to cv has been sent (with durable=False, cv is at most the
            # last version delivered): resume after it, not after an older transaction.
            if self.position is None or cv > self.position:
                self.position = cv
            while self._uncheckpointed and self._uncheckpointed[0] <= cv:
                self._uncheckpointed.popleft()
        return event

    def _check_chain(self, tx: Transaction) -> None:
        pos = self.position
        if pos is None:
            return
        prev = tx.prev_version
        last = self._last_tx
        if tx.version <= pos:
            raise GapError(
                f"transaction {tx.version} is not after version {pos} already delivered "
                f"(out of order or repeated)", expected=pos, prev_version=prev, version=tx.version)
        if prev is None:
            if last is not None:
                raise GapError(f"transaction {tx.version} has no prev_version after {last}",
                               expected=last, prev_version=prev, version=tx.version)
            return
        if prev > pos:
            raise GapError(
                f"gap in the log: transaction {tx.version} follows {prev}, but this subscriber "
                f"has only reached {pos}; transactions in ({pos}, {prev}] were never delivered",
                expected=pos, prev_version=prev, version=tx.version)
        if last is not None and prev != last:
            raise GapError(
                f"history diverged: transaction {tx.version} follows {prev}, but the last "
                f"transaction delivered was {last}", expected=last, prev_version=prev, version=tx.version)


def _release(conn: http.client.HTTPConnection | None, resp: http.client.HTTPResponse | None,
             sock: socket.socket | None) -> None:
    """Close a stream's response, connection and socket: the descriptor is freed only
    once all three let go of it (the response reads through a file made from the socket)."""
    if resp is not None:
        resp.close()
    if conn is not None:
        conn.close()
    if sock is not None:
        sock.close()
