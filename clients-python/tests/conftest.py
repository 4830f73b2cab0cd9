"""A scriptable in-process HTTP server that speaks the WeaselDB contract's shapes.

Tests queue replies per (method, path); every request is recorded (method, path, query,
headers, body, client port) so tests can assert the exact bytes sent and whether a
keep-alive connection was reused. SSE replies are scripts of chunks that can end by
closing cleanly, by dropping the connection mid-event, or by hanging until released.
Only 127.0.0.1 is used.
"""

from __future__ import annotations

import contextlib
import json
import socket
import threading
import time
import urllib.parse
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable, Iterator, Protocol, TypeVar, Union

import pytest


@dataclass
class Reply:
    status: int = 200
    body: Any = None  # dict/list -> JSON, bytes/str -> as is
    headers: dict[str, str] = field(default_factory=dict)
    close_after: bool = False  # close the socket after replying, without saying so (stale keep-alive)
    drop: bool = False  # read the request, then close without any reply
    delay: float = 0.0  # sleep before replying


@dataclass
class Stream:
    """An SSE reply: chunks (bytes, or a float = pause) then an ending."""

    chunks: list[Union[bytes, str, float]] = field(default_factory=list)
    end: str = "close"  # "close" | "drop" (RST mid-stream) | "hang" (until server.release)
    chunked: bool = True
    status: int = 200
    content_type: str = "text/event-stream"


@dataclass
class Recorded:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes
    port: int

    def json(self) -> Any:
        return json.loads(self.body)


Handler = Callable[[Recorded], Union[Reply, Stream]]


class FakeServer:
    def __init__(self) -> None:
        self.requests: list[Recorded] = []
        self._routes: dict[tuple[str, str], list[Union[Reply, Stream, Handler]]] = {}
        self._lock = threading.Lock()
        self.release = threading.Event()
        server = self

        class _H(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True

            def log_message(self, format: str, *args: Any) -> None:  # quiet
                pass

            def _handle(self) -> None:
                server._serve(self)

            do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _handle

        class _Server(ThreadingHTTPServer):
            request_queue_size = 128

            def handle_error(self, request: Any, client_address: Any) -> None:
                pass  # dropped connections are the point of many tests

        self.httpd = _Server(("127.0.0.1", 0), _H)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, args=(0.02,), daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def on(self, method: str, path: str, *replies: Union[Reply, Stream, Handler]) -> None:
        """Queue replies; the last one keeps answering once the others are used."""
        with self._lock:
            self._routes.setdefault((method, path), []).extend(replies)

    def set(self, method: str, path: str, *replies: Union[Reply, Stream, Handler]) -> None:
        with self._lock:
            self._routes[(method, path)] = list(replies)

    def calls(self, path: str) -> list[Recorded]:
        return [r for r in self.requests if r.path == path]

    def close(self) -> None:
        self.release.set()
        self.httpd.shutdown()
        self.httpd.server_close()

    # -- serving ----------------------------------------------------------------------

    def _next(self, method: str, path: str) -> Union[Reply, Stream, Handler, None]:
        with self._lock:
            queue = self._routes.get((method, path))
            if not queue:
                return None
            return queue.pop(0) if len(queue) > 1 else queue[0]

    def _serve(self, h: BaseHTTPRequestHandler) -> None:
        parts = urllib.parse.urlsplit(h.path)
        length = int(h.headers.get("Content-Length") or 0)
        body = h.rfile.read(length) if length else b""
        rec = Recorded(h.command, parts.path, dict(urllib.parse.parse_qsl(parts.query, keep_blank_values=True)),
                       {k.lower(): v for k, v in h.headers.items()}, body, h.client_address[1])
        with self._lock:
            self.requests.append(rec)
        action = self._next(h.command, parts.path)
        if callable(action) and not isinstance(action, (Reply, Stream)):
            action = action(rec)
        if action is None:
            action = Reply(404, {"error": "not_found", "message": f"no route {h.command} {parts.path}"})
        if isinstance(action, Stream):
            self._stream(h, action)
        else:
            self._reply(h, action)

    def _reply(self, h: BaseHTTPRequestHandler, r: Reply) -> None:
        if r.delay:
            time.sleep(r.delay)
        if r.drop:
            h.close_connection = True
            _hard_close(h)
            return
        if r.body is None:
            data = b""
        elif isinstance(r.body, bytes):
            data = r.body
        elif isinstance(r.body, str):
            data = r.body.encode()
        else:
            data = json.dumps(r.body).encode()
        h.send_response(r.status)
        headers = dict(r.headers)
        if r.body is not None and not isinstance(r.body, (bytes, str)):
            headers.setdefault("Content-Type", "application/json")
        for k, v in headers.items():
            h.send_header(k, v)
        h.send_header("Content-Length", str(len(data)))
        h.end_headers()
        h.wfile.write(data)
        h.wfile.flush()
        if r.close_after:
            h.close_connection = True

    def _stream(self, h: BaseHTTPRequestHandler, s: Stream) -> None:
        h.send_response(s.status)
        h.send_header("Content-Type", s.content_type)
        h.send_header("Cache-Control", "no-cache")
        if s.chunked:
            h.send_header("Transfer-Encoding", "chunked")
        else:
            h.send_header("Connection", "close")
        h.end_headers()
        h.close_connection = True
        try:
            for chunk in s.chunks:
                if isinstance(chunk, float):
                    time.sleep(chunk)
                    continue
                data = chunk.encode() if isinstance(chunk, str) else chunk
                if s.chunked:
                    h.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
                else:
                    h.wfile.write(data)
                h.wfile.flush()
            if s.end == "hang":
                while not self.release.wait(0.05):
                    # Stop hanging if the client went away.
                    try:
                        h.connection.settimeout(0.0)
                        if h.connection.recv(1, socket.MSG_PEEK) == b"":
                            break
                    except BlockingIOError:
                        pass
                    except OSError:
                        break
                    finally:
                        h.connection.settimeout(None)
            if s.end == "drop":
                _hard_close(h)
                return
            if s.chunked:
                h.wfile.write(b"0\r\n\r\n")
                h.wfile.flush()
        except OSError:
            pass


def _hard_close(h: BaseHTTPRequestHandler) -> None:
    """Close with RST so the client sees a broken connection, not a clean end."""
    try:
        h.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
    except OSError:
        pass
    try:
        h.wfile.flush()
    except OSError:
        pass
    h.connection.close()


def sse_event(event: str, data: Any, id: Any = None) -> str:
    """One SSE event in the server's framing."""
    lines = []
    if id is not None:
        lines.append(f"id: {id}")
    lines.append(f"event: {event}")
    lines.append("data: " + (data if isinstance(data, str) else json.dumps(data, separators=(",", ":"))))
    return "\n".join(lines) + "\n\n"


def tx_event(version: int, prev: int | None, ops: list[dict[str, Any]] | None = None, *,
             request_id: str | None = None, leader: str = "L1") -> str:
    doc = {"request_id": request_id or f"req-{version:020d}", "version": version, "prev_version": prev,
           "timestamp": "2026-11-22T20:27:42.555Z", "leader_id": leader, "operations": ops or []}
    return sse_event("transaction", doc, id=version)


def checkpoint_event(version: int, leader: str = "L1") -> str:
    return sse_event("checkpoint", {"committed_version": version, "leader_id": leader})


def b64(data: bytes) -> str:
    import base64

    return base64.b64encode(data).decode()


@pytest.fixture
def server() -> Iterator[FakeServer]:
    s = FakeServer()
    yield s
    s.close()


class FakeSleep:
    """Records requested delays instead of sleeping (a tiny real sleep keeps threads fair)."""

    def __init__(self) -> None:
        self.delays: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.delays.append(seconds)
        time.sleep(0.001)


@pytest.fixture
def fake_sleep() -> FakeSleep:
    return FakeSleep()


_C = TypeVar("_C")


class Closing(Protocol):
    def __call__(self, thing: _C) -> _C: ...


@pytest.fixture
def closing() -> Iterator[Closing]:
    """``closing(x)`` returns ``x`` and closes it when the test ends (clients, subscriptions,
    replicas), last opened first, whether the test passed or not."""
    with contextlib.ExitStack() as stack:
        def close_at_end(thing: _C) -> _C:
            stack.callback(thing.close)  # type: ignore[attr-defined]
            return thing

        yield close_at_end
