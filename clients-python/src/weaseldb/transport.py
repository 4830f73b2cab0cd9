"""HTTP/1.1 with keep-alive on the standard library, safe to share between threads.

``http.client`` connections are not thread-safe, so the transport keeps a small pool of
idle connections under a lock: a request borrows one (or opens a new one), and gives it
back only if the response was read to the end and the server did not ask to close.
That gives connection reuse without a connection per thread lingering forever.

A pooled connection may have been closed by the server while idle. One that already
shows its end (readable while idle: EOF or stray bytes) is dropped before it is used.
Otherwise the first request on it fails before any byte of a response arrives; but so
does a request the server received and acted on before dying, and the two cannot be
told apart. Such a request is therefore retried once on a fresh connection only when
the caller says resending is safe (``retry_stale=True``): GETs, PUT of a policy, a
commit carrying a request id (the server answers ``duplicate`` if the first one
committed), a DELETE whose caller accepts 404 after a retry (:attr:`Response.retried`).
A commit without a request id is never resent.
"""

from __future__ import annotations

import http.client
import json
import select
import socket
import ssl
import threading
import urllib.parse
from dataclasses import dataclass, field
from typing import Any, Mapping

from .errors import BadResponse, CertificateError, Timeout, TransportError, WeaselError, error_from_response

__all__ = ["Response", "Transport", "DEFAULT_URL"]

DEFAULT_URL = "http://127.0.0.1:8080"
USER_AGENT = "weaseldb-python/0.1"

# Errors that mean "the connection broke" (reset, closed early, garbage instead of
# HTTP), as opposed to a timeout, which is caught first.
_LOST: tuple[type[Exception], ...] = (http.client.HTTPException, OSError)


@dataclass
class Response:
    """A complete HTTP response: status, lower-cased headers, and the whole body."""

    status: int
    reason: str
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    #: True when a pooled connection broke before any answer and the request was sent
    #: again on a fresh one: the first attempt may have been received and acted on.
    retried: bool = False

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())

    def json(self) -> Any:
        """The body as JSON; raises :class:`WeaselError` if it is not JSON."""
        try:
            return json.loads(self.body.decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as exc:
            raise BadResponse(f"response is not JSON: {self.body[:200]!r}", status=self.status) from exc

    def error(self, *, request_id: str | None = None, commit: bool = False) -> WeaselError:
        """The typed exception for this (error) response (``commit``: it answered a commit)."""
        try:
            doc: Any = json.loads(self.body.decode("utf-8")) if self.body else {}
        except (UnicodeDecodeError, ValueError):
            doc = {}
        return error_from_response(
            self.status,
            doc,
            text=self.body.decode("utf-8", "replace"),
            retry_after=self.header("retry-after"),
            request_id=request_id,
            commit=commit,
        )


def _headers_of(resp: http.client.HTTPResponse) -> dict[str, str]:
    return {k.lower(): v for k, v in resp.getheaders()}


def _dropped(conn: http.client.HTTPConnection) -> bool:
    """Whether an idle keep-alive connection is already unusable.

    Nothing is due on an idle connection, so a socket that is readable has either been
    closed by the server (EOF) or holds garbage: either way it must not carry a request.
    """
    sock = conn.sock
    if sock is None:
        return True
    if isinstance(sock, ssl.SSLSocket) and sock.pending():
        return True  # decrypted bytes nobody asked for
    try:
        if hasattr(select, "poll"):
            # poll, not select: select cannot watch descriptors >= 1024 (FD_SETSIZE), which a
            # busy process reaches; failing on them would turn pooling off altogether
            poller = select.poll()
            poller.register(sock, select.POLLIN)
            return bool(poller.poll(0))  # also reports POLLHUP and POLLERR
        readable, _, _ = select.select([sock], [], [], 0)
    except (OSError, ValueError):
        return True
    return bool(readable)


class Transport:
    """Connection pool and request execution for one server URL."""

    def __init__(
        self,
        url: str = DEFAULT_URL,
        *,
        timeout: float | None = 30.0,
        token: str | None = None,
        ssl_context: ssl.SSLContext | None = None,
        max_idle_connections: int = 8,
    ) -> None:
        parts = urllib.parse.urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"url must be http(s)://host[:port][/prefix], got {url!r}")
        self.url = url
        self.scheme = parts.scheme
        self.host = parts.hostname
        self.port = parts.port or (443 if parts.scheme == "https" else 80)
        self.base_path = parts.path.rstrip("/")
        self.timeout = timeout
        self.token = token
        self.ssl_context = ssl_context
        self.max_idle_connections = max_idle_connections
        self._idle: list[http.client.HTTPConnection] = []
        self._lock = threading.Lock()
        self._closed = False

    # -- connections ---------------------------------------------------------------

    def new_connection(self, timeout: float | None = None) -> http.client.HTTPConnection:
        t = self.timeout if timeout is None else timeout
        if self.scheme == "https":
            return http.client.HTTPSConnection(self.host, self.port, timeout=t, context=self.ssl_context)
        return http.client.HTTPConnection(self.host, self.port, timeout=t)

    def _borrow(self) -> tuple[http.client.HTTPConnection, bool]:
        while True:
            with self._lock:
                conn = self._idle.pop() if self._idle else None
            if conn is None:
                return self.new_connection(), False
            if not _dropped(conn):
                return conn, True
            conn.close()

    def _give_back(self, conn: http.client.HTTPConnection) -> None:
        with self._lock:
            if not self._closed and len(self._idle) < self.max_idle_connections:
                self._idle.append(conn)
                return
        conn.close()

    def close(self) -> None:
        """Close every idle connection; requests still running finish normally."""
        with self._lock:
            self._closed = True
            idle, self._idle = self._idle, []
        for conn in idle:
            conn.close()

    @property
    def idle_connections(self) -> int:
        with self._lock:
            return len(self._idle)

    # -- requests ------------------------------------------------------------------

    def path(self, path: str, query: Mapping[str, Any] | None = None) -> str:
        full = self.base_path + path
        if query:
            pairs = [(k, str(v).lower() if isinstance(v, bool) else str(v)) for k, v in query.items() if v is not None]
            if pairs:
                full += "?" + urllib.parse.urlencode(pairs)
        return full

    def headers(self, extra: Mapping[str, str] | None = None) -> dict[str, str]:
        out = {"User-Agent": USER_AGENT, "Accept": "application/json"}
        if self.token:
            out["Authorization"] = f"Bearer {self.token}"
        if extra:
            out.update(extra)
        return out

    def request(
        self,
        method: str,
        path: str,
        *,
        query: Mapping[str, Any] | None = None,
        body: bytes | None = None,
        headers: Mapping[str, str] | None = None,
        retry_stale: bool = True,
        request_id: str | None = None,
    ) -> Response:
        """Send one request and read the whole response.

        ``retry_stale``: when a reused keep-alive connection breaks before any answer,
        send the request once more on a fresh connection. Only for requests that are
        safe to apply twice: the first attempt may have been received (the answer's
        ``retried`` is then true). Without it such a failure raises
        :class:`TransportError` with ``sent=True``.

        Raises :class:`TransportError` (``sent`` tells whether the server may have seen
        the request) or :class:`Timeout`; HTTP error statuses are returned, not raised.
        """
        target = self.path(path, query)
        hdrs = self.headers(headers)
        if body is not None:
            hdrs.setdefault("Content-Type", "application/json")
        attempt = 0
        while True:
            attempt += 1
            conn, reused = self._borrow()
            try:
                if conn.sock is None:
                    conn.connect()
            except socket.timeout as exc:
                conn.close()
                raise Timeout(f"connect to {self.host}:{self.port} timed out", sent=attempt > 1,
                              request_id=request_id) from exc
            except ssl.SSLCertVerificationError as exc:
                conn.close()
                raise CertificateError(f"{self.host}:{self.port}: TLS certificate not trusted: "
                                       f"{exc.verify_message or exc}") from exc
            except OSError as exc:
                conn.close()
                # After a stale-connection retry the first attempt may have been received.
                raise TransportError(f"cannot connect to {self.host}:{self.port}: {exc}", sent=attempt > 1,
                                     request_id=request_id) from exc
            got_status = False
            try:
                try:
                    conn.request(method, target, body=body, headers=hdrs)
                except (BrokenPipeError, ConnectionResetError):
                    # The server may answer before reading the whole body (413 while a
                    # large commit streams in) and close: its answer may still be
                    # readable. If not, getresponse() raises and we treat it as lost.
                    if not (body and len(body) > 65536):
                        raise
                resp = conn.getresponse()
                got_status = True
                data = resp.read()
            except socket.timeout as exc:
                conn.close()
                raise Timeout(f"{method} {target}: no answer within {self.timeout}s", sent=True,
                              request_id=request_id) from exc
            except _LOST as exc:
                conn.close()
                # A stale keep-alive connection fails before any response byte: retry once.
                if reused and not got_status and retry_stale and attempt == 1:
                    continue
                raise TransportError(f"{method} {target}: connection lost: {exc!r}", sent=True,
                                     request_id=request_id) from exc
            result = Response(resp.status, resp.reason, _headers_of(resp), data, retried=attempt > 1)
            if resp.will_close:
                conn.close()
            else:
                self._give_back(conn)
            return result

    def request_json(
        self,
        method: str,
        path: str,
        *,
        query: Mapping[str, Any] | None = None,
        doc: Any = None,
        ok: tuple[int, ...] = (200,),
        request_id: str | None = None,
        retry_stale: bool = True,
        commit: bool = False,
    ) -> tuple[Response, Any]:
        """Send JSON, expect one of ``ok`` statuses, return the response and its JSON.

        Any other status raises the typed error of :mod:`weaseldb.errors` (``commit``:
        the request was a commit, see :func:`~weaseldb.errors.error_from_response`).
        ``retry_stale`` as for :meth:`request`.
        """
        body = None
        if doc is not None:
            body = json.dumps(doc, separators=(",", ":"), ensure_ascii=True).encode("ascii")
        resp = self.request(method, path, query=query, body=body, request_id=request_id, retry_stale=retry_stale)
        if resp.status not in ok:
            raise resp.error(request_id=request_id, commit=commit)
        if not resp.body:
            return resp, None
        return resp, resp.json()
