"""Process and wire helpers of the API suite: no pytest in here, only what the tests drive.

- :class:`ServerProcess` runs the built server jar as a child process on a free loopback
  port with its own data dir and config, waits until ``/ok`` answers, stops it with SIGTERM
  (SIGKILL past a deadline), and can be killed and restarted on the same port and data.
- :class:`S3Proxy` runs the third-party S3Proxy jar as the storage backend.
- :class:`RawConnection` speaks HTTP/1.1 over a plain socket, for what the client library
  will not send (garbage, truncated bodies, pipelined requests).
- :func:`wait_until` polls with a deadline; nothing in the suite sleeps for state.
"""

from __future__ import annotations

import ctypes
import http.client
import itertools
import json
import os
import re
import signal
import socket
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping, TypeVar

import weaseldb
from weaseldb import SSEParser, Transaction

T = TypeVar("T")

JAVA = os.environ.get("WEASELDB_JAVA") or "java"
JAR = os.environ.get("WEASELDB_JAR") or ""
S3PROXY_JAR = os.environ.get("WEASELDB_S3PROXY_JAR") or ""
# Small heaps and C1 only: the machine is shared and the suite is not a benchmark.
JVM_OPTS = (os.environ.get("WEASELDB_TEST_JVM_OPTS")
            or "-Xms32m -Xmx256m -XX:+UseSerialGC -XX:TieredStopAtLevel=1 -XX:-UsePerfData").split()
START_TIMEOUT = float(os.environ.get("WEASELDB_TEST_START_TIMEOUT", "90"))
BUILD_DIR = os.environ.get("WEASELDB_BUILD_DIR") or ""


def cds_opts(jar: str) -> list[str]:
    """A dynamic class-data-sharing archive per jar build under the build dir: the suite starts
    the server JVM a couple of dozen times, and the archive halves each start-up."""
    if not BUILD_DIR or os.environ.get("WEASELDB_TEST_CDS", "1") == "0":
        return []
    try:
        st = os.stat(jar)
    except OSError:
        return []
    directory = Path(BUILD_DIR) / "python" / "cds"
    directory.mkdir(parents=True, exist_ok=True)
    name = f"{Path(jar).stem}-{st.st_size}-{int(st.st_mtime)}.jsa"
    return ["-XX:+AutoCreateSharedArchive", f"-XX:SharedArchiveFile={directory / name}", "-Xlog:cds=off",
            "-Xlog:cds+dynamic=off"]
STOP_TIMEOUT = 30.0

# A leader: "... listening on http://H:P (leader L, term N, first version V)"; a standby:
# "... listening on http://H:P as a standby (...)", and later "leading term N as L from version S".
LISTENING = re.compile(r"WeaselDB listening on https?://([^:\s]+):(\d+)")
S3PROXY_LISTENING = re.compile(r"ServerConnector@\S*.*\{(?:[^}]*?)(127\.0\.0\.1|localhost|0\.0\.0\.0):(\d+)\}")

_PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:  # pragma: no cover - runs in the child before exec
    """Children get SIGKILL if the test runner dies, so no server outlives a crashed run."""
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    except OSError:
        pass


def wait_until(probe: Callable[[], T | None], timeout: float, what: str, interval: float = 0.05,
               fatal: tuple[type[BaseException], ...] = ()) -> T:
    """Call ``probe`` until it returns something truthy; fail with ``what`` at the deadline.

    Exceptions of the probe count as "not yet" until the deadline, then the last one is
    reported; those in ``fatal`` end the wait at once.
    """
    deadline = time.monotonic() + timeout
    last_exc: BaseException | None = None
    delay = interval
    while True:
        try:
            value = probe()
            if value:
                return value
            last_exc = None
        except fatal:
            raise
        except Exception as exc:  # noqa: BLE001 - reported at the deadline
            last_exc = exc
        if time.monotonic() >= deadline:
            suffix = f" (last error: {last_exc!r})" if last_exc else ""
            raise AssertionError(f"timed out after {timeout}s waiting for {what}{suffix}")
        time.sleep(delay)
        delay = min(delay * 1.5, 0.5)


def toml(sections: Mapping[str, Mapping[str, Any]]) -> str:
    """A TOML document from ``{section: {key: value}}`` (str, int, bool, list values)."""

    def val(v: Any) -> str:
        if isinstance(v, bool):
            return "true" if v else "false"
        if isinstance(v, (int, float)):
            return repr(v)
        if isinstance(v, str):
            return json.dumps(v)
        if isinstance(v, (list, tuple)):
            return "[" + ", ".join(val(x) for x in v) + "]"
        raise TypeError(f"cannot write {v!r} as TOML")

    out = []
    for name, keys in sections.items():
        if not keys:
            continue
        out.append(f"[{name}]")
        out.extend(f"{k} = {val(v)}" for k, v in keys.items())
        out.append("")
    return "\n".join(out)


def merge_config(*parts: Mapping[str, Mapping[str, Any]] | None) -> dict[str, dict[str, Any]]:
    merged: dict[str, dict[str, Any]] = {}
    for part in parts:
        for section, keys in (part or {}).items():
            merged.setdefault(section, {}).update(keys)
    return merged


class LogFile:
    """A child's combined stdout/stderr, appended across restarts."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def text(self, start: int = 0) -> str:
        try:
            with open(self.path, "rb") as f:
                f.seek(start)
                return f.read().decode("utf-8", "replace")
        except FileNotFoundError:
            return ""

    def size(self) -> int:
        try:
            return self.path.stat().st_size
        except FileNotFoundError:
            return 0

    def tail(self, start: int = 0, lines: int = 200) -> str:
        text = self.text(start)
        parts = text.splitlines()
        if len(parts) > lines:
            parts = [f"... ({len(parts) - lines} earlier lines omitted)"] + parts[-lines:]
        return "\n".join(parts)


class ChildProcess:
    """A Java child process with a log file, stopped gracefully or killed."""

    name = "child"

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.log = LogFile(workdir / f"{self.name}.log")
        self.proc: subprocess.Popen[bytes] | None = None

    def _spawn(self, cmd: list[str]) -> int:
        """Start ``cmd``; returns the log offset where this run's output begins."""
        self.workdir.mkdir(parents=True, exist_ok=True)
        with open(self.log.path, "ab") as f:
            f.write(f"===== start: {' '.join(cmd)}\n".encode())
            offset = f.tell()
            self.proc = subprocess.Popen(cmd, stdout=f, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                         cwd=self.workdir, preexec_fn=_die_with_parent)
        return offset

    def _wait_for_log(self, pattern: re.Pattern[str], offset: int, timeout: float) -> re.Match[str]:
        def probe() -> re.Match[str] | None:
            m = pattern.search(self.log.text(offset))
            if m:
                return m
            if self.proc is not None and self.proc.poll() is not None:
                raise ChildExited(self.proc.returncode)
            return None

        try:
            return wait_until(probe, timeout, f"{self.name} to start", interval=0.05, fatal=(ChildExited,))
        except (AssertionError, ChildExited) as exc:
            self.kill()
            raise AssertionError(f"{self.name} did not start: {exc}\n--- {self.log.path} ---\n"
                                 f"{self.log.tail(offset, 80)}") from None

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self, timeout: float = STOP_TIMEOUT) -> int | None:
        """SIGTERM, then SIGKILL if it has not exited within ``timeout``; returns the exit code."""
        proc = self.proc
        if proc is None:
            return None
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self._append(f"===== did not stop within {timeout}s of SIGTERM: killed")
                proc.kill()
                proc.wait()
                return None
        return proc.returncode

    def terminate(self) -> None:
        """SIGTERM without waiting (see :meth:`reap`)."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)

    def reap(self, timeout: float = STOP_TIMEOUT) -> int | None:
        """Wait for an exit started by :meth:`terminate`; SIGKILL past ``timeout``."""
        return self.stop(timeout)

    def kill(self) -> None:
        """SIGKILL: no shutdown hooks, no flushing, like a crash."""
        proc = self.proc
        if proc is not None and proc.poll() is None:
            proc.kill()
            proc.wait()

    def _append(self, line: str) -> None:
        with open(self.log.path, "a", encoding="utf-8") as f:
            f.write(line + "\n")


class ChildExited(Exception):
    def __init__(self, code: int | None) -> None:
        super().__init__(f"exited with code {code}")


class ServerProcess(ChildProcess):
    """One WeaselDB server: a data dir, a config file, and the process running them."""

    _ids = itertools.count(1)

    def __init__(self, workdir: Path, config: Mapping[str, Mapping[str, Any]] | None = None,
                 label: str = "server") -> None:
        self.name = f"{label}-{next(self._ids)}"
        super().__init__(workdir)
        self.data_dir = workdir / "data"
        self.config_path = workdir / "weaseldb.toml"
        self.config = merge_config(config)
        self.port = 0
        self.leader_id = ""
        self.starts = 0
        self._clients: list[weaseldb.Client] = []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = START_TIMEOUT, *, standby: bool = False) -> ServerProcess:
        """Start and wait until the server leads (``/ok`` is 200), or with ``standby`` until it
        answers as a standby (``/ok`` is 503)."""
        if not JAR or not Path(JAR).is_file():
            raise AssertionError(f"server jar not found: WEASELDB_JAR={JAR!r} (build it with ./mvnw package)")
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.config_path.write_text(toml(self.config), encoding="utf-8")
        cmd = [JAVA, *JVM_OPTS, *cds_opts(JAR), "-jar", JAR, "--config", str(self.config_path), "--host", "127.0.0.1",
               "--port", str(self.port), "--data-dir", str(self.data_dir)]
        deadline = time.monotonic() + timeout
        for attempt in itertools.count(1):
            offset = self._spawn(cmd)
            try:
                m = self._wait_for_log(LISTENING, offset, max(1.0, deadline - time.monotonic()))
                break
            except AssertionError:
                # A restart on a fixed port can race the old socket's release; retry that only.
                if (self.port and attempt < 5 and time.monotonic() < deadline
                        and "Address already in use" in self.log.text(offset)):
                    time.sleep(0.2)
                    continue
                raise
        self.port = int(m.group(2))
        self.starts += 1
        probe = weaseldb.Client(self.url, timeout=5)

        def healthy() -> str | None:
            if not self.running:
                raise ChildExited(self.proc.returncode if self.proc else None)
            h = probe.ok()
            return h.leader_id if h.status == "ok" else None

        def standing_by() -> bool:
            if not self.running:
                raise ChildExited(self.proc.returncode if self.proc else None)
            resp = probe.request("GET", "/ok")
            return resp.status == 503

        try:
            if standby:
                wait_until(standing_by, max(1.0, deadline - time.monotonic()), f"{self.name} to stand by",
                           fatal=(ChildExited,))
            else:
                # A standby first (restart on shared storage) becomes the leader once the old one is
                # silent for leader_timeout_ms.
                self.leader_id = wait_until(healthy, max(1.0, deadline - time.monotonic()), f"{self.name} to lead",
                                            fatal=(ChildExited,))
        except (AssertionError, ChildExited) as exc:
            raise AssertionError(f"{exc}\n--- {self.log.path} ---\n{self.log.tail(offset, 80)}") from None
        finally:
            probe.close()
        return self

    def restart(self, *, kill: bool = False) -> ServerProcess:
        """Stop (SIGTERM, or SIGKILL when ``kill``) and start again on the same port and data."""
        if kill:
            self.kill()
        else:
            code = self.stop()
            assert code is not None, f"{self.name} did not stop gracefully on SIGTERM"
        self.close_clients()
        old_leader = self.leader_id
        self.start()
        assert self.leader_id != old_leader, "a restart must start a new term with a new leader_id"
        return self

    def client(self, **options: Any) -> weaseldb.Client:
        options.setdefault("timeout", 20)
        c = weaseldb.Client(self.url, **options)
        self._clients.append(c)
        return c

    def close_clients(self) -> None:
        for c in self._clients:
            c.close()
        self._clients.clear()

    def shutdown(self) -> int | None:
        self.close_clients()
        return self.stop()

    def retire(self) -> None:
        """Close clients and send SIGTERM; the exit is awaited later with :meth:`reap`."""
        self.close_clients()
        self.terminate()


class S3Proxy(ChildProcess):
    """S3Proxy (gaul/s3proxy), a third-party S3 server, on the local filesystem."""

    name = "s3proxy"
    identity = "weaseldb-test"
    credential = "weaseldb-test-secret"

    def __init__(self, workdir: Path) -> None:
        super().__init__(workdir)
        self.port = 0
        self._buckets = itertools.count(1)

    def start(self, timeout: float = START_TIMEOUT) -> S3Proxy:
        basedir = self.workdir / "blobs"
        basedir.mkdir(parents=True, exist_ok=True)
        props = self.workdir / "s3proxy.properties"
        props.write_text("\n".join([
            "s3proxy.authorization=aws-v2-or-v4",
            "s3proxy.endpoint=http://127.0.0.1:0",
            f"s3proxy.identity={self.identity}",
            f"s3proxy.credential={self.credential}",
            "jclouds.provider=filesystem-nio2",
            f"jclouds.filesystem.basedir={basedir}",
            "",
        ]), encoding="utf-8")
        offset = self._spawn([JAVA, *JVM_OPTS, *cds_opts(S3PROXY_JAR), "-jar", S3PROXY_JAR, "--properties", str(props)])
        m = self._wait_for_log(S3PROXY_LISTENING, offset, timeout)
        self.port = int(m.group(2))
        return self

    def s3_config(self) -> dict[str, dict[str, Any]]:
        """The ``[s3]`` section of a WeaselDB server using a bucket of its own here (and quick failover)."""
        return {"s3": {
            "endpoint": f"http://127.0.0.1:{self.port}",
            "access_key_id": self.identity,
            "secret_access_key": self.credential,
            "bucket": f"weaseldb-test-{next(self._buckets)}",
            "create_bucket": True,
        }, "persistence": {
            # A restarted server stands by until the previous leader is silent this long: keep it short.
            "leader_heartbeat_ms": 300,
            "leader_timeout_ms": 1200,
        }}


class Backend:
    """Where servers store their log: the embedded fake S3, or S3Proxy."""

    def __init__(self, name: str, s3proxy: S3Proxy | None = None) -> None:
        self.name = name
        self.s3proxy = s3proxy

    def config(self) -> dict[str, dict[str, Any]]:
        return self.s3proxy.s3_config() if self.s3proxy else {}

    def __repr__(self) -> str:
        return f"Backend({self.name})"


# -- raw HTTP -------------------------------------------------------------------------------


@dataclass
class RawResponse:
    status: int
    reason: str
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""

    def header(self, name: str) -> str | None:
        for k, v in self.headers:
            if k.lower() == name.lower():
                return v
        return None

    def json(self) -> Any:
        return json.loads(self.body.decode("utf-8"))


class ConnectionClosed(Exception):
    """The server closed the connection before a complete response."""


class RawConnection:
    """HTTP/1.1 over one plain socket, byte for byte as the test writes it."""

    def __init__(self, port: int, timeout: float = 15.0) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.buf = bytearray()
        self.eof = False

    def __enter__(self) -> RawConnection:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.sock.close()

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def shutdown_write(self) -> None:
        self.sock.shutdown(socket.SHUT_WR)

    def _fill(self) -> bool:
        if self.eof:
            return False
        try:
            chunk = self.sock.recv(65536)
        except ConnectionResetError:
            chunk = b""
        if not chunk:
            self.eof = True
            return False
        self.buf += chunk
        return True

    def _read_until(self, sep: bytes) -> bytes:
        while True:
            i = self.buf.find(sep)
            if i >= 0:
                out = bytes(self.buf[:i])
                del self.buf[:i + len(sep)]
                return out
            if not self._fill():
                raise ConnectionClosed(f"closed while waiting for {sep!r}; have {bytes(self.buf[:200])!r}")

    def _read_exactly(self, n: int) -> bytes:
        while len(self.buf) < n:
            if not self._fill():
                raise ConnectionClosed(f"closed with {len(self.buf)} of {n} body bytes")
        out = bytes(self.buf[:n])
        del self.buf[:n]
        return out

    def read_response(self, head: bool = False) -> RawResponse:
        """The next complete response (Content-Length or chunked framing)."""
        status_line = self._read_until(b"\r\n").decode("latin-1")
        parts = status_line.split(" ", 2)
        if len(parts) < 2 or not parts[0].startswith("HTTP/1."):
            raise AssertionError(f"not an HTTP status line: {status_line!r}")
        status = int(parts[1])
        reason = parts[2] if len(parts) > 2 else ""
        headers = []
        for line in self._read_until(b"\r\n\r\n").decode("latin-1").split("\r\n"):
            if line:
                k, _, v = line.partition(":")
                headers.append((k.strip(), v.strip()))
        resp = RawResponse(status, reason, headers)
        if head or status in (204, 304) or 100 <= status < 200:
            return resp
        te = (resp.header("transfer-encoding") or "").lower()
        if "chunked" in te:
            body = bytearray()
            while True:
                size = int(self._read_until(b"\r\n").split(b";")[0], 16)
                if size == 0:
                    self._read_until(b"\r\n")  # no trailers expected
                    break
                body += self._read_exactly(size)
                self._read_until(b"\r\n")
            resp.body = bytes(body)
        elif resp.header("content-length") is not None:
            resp.body = self._read_exactly(int(resp.header("content-length") or "0"))
        else:
            while self._fill():
                pass
            resp.body = bytes(self.buf)
            self.buf.clear()
        return resp

    def closed_by_server(self, timeout: float = 5.0) -> bool:
        """True if the server closes the connection (EOF or reset) within ``timeout``."""
        if self.eof:
            return True
        old = self.sock.gettimeout()
        self.sock.settimeout(timeout)
        try:
            while self._fill():
                pass
            return True
        except socket.timeout:
            return False
        finally:
            self.sock.settimeout(old)


def http_request(method: str, path: str, body: bytes | None = None, headers: Mapping[str, str] | None = None,
                 *, content_length: int | None = None) -> bytes:
    """The bytes of one request; ``content_length`` may lie about the body for truncation tests."""
    hdrs = {"Host": "127.0.0.1", "User-Agent": "weaseldb-api-tests"}
    if body is not None:
        hdrs["Content-Type"] = "application/json"
        hdrs["Content-Length"] = str(len(body) if content_length is None else content_length)
    hdrs.update(headers or {})
    head = f"{method} {path} HTTP/1.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in hdrs.items()) + "\r\n"
    return head.encode("latin-1") + (body or b"")


def raw_exchange(port: int, data: bytes, timeout: float = 15.0) -> RawResponse:
    """One request on a fresh connection; the connection is closed afterwards."""
    with RawConnection(port, timeout) as conn:
        conn.send(data)
        return conn.read_response()


# -- subscribe helpers --------------------------------------------------------------------------


class RawStream:
    """``GET /v1/subscribe`` read byte by byte: the SSE text exactly as the server writes it."""

    def __init__(self, port: int, query: str = "", headers: Mapping[str, str] | None = None,
                 timeout: float = 20.0) -> None:
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
        target = "/v1/subscribe" + (f"?{query}" if query else "")
        self.conn.request("GET", target, headers={"Accept": "text/event-stream", **(headers or {})})
        self.resp = self.conn.getresponse()
        self.parser = SSEParser()
        self.raw = bytearray()
        self.events: list[weaseldb.SSEEvent] = []

    @property
    def status(self) -> int:
        return self.resp.status

    def body(self) -> bytes:
        return self.resp.read()

    def read_until(self, pred: Callable[[list[weaseldb.SSEEvent], bytearray], bool], timeout: float,
                   what: str) -> list[weaseldb.SSEEvent]:
        deadline = time.monotonic() + timeout
        while not pred(self.events, self.raw):  # (no copy: streams here may be tens of MB)
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"timed out after {timeout}s waiting for {what}; stream so far:\n"
                                     f"{bytes(self.raw)[-3000:].decode('utf-8', 'replace')}")
            assert self.conn.sock is not None
            self.conn.sock.settimeout(min(left, 5.0))
            try:
                chunk = self.resp.read1(65536)
            except socket.timeout:
                continue
            if not chunk:
                raise AssertionError(f"stream ended while waiting for {what}; stream so far:\n"
                                     f"{bytes(self.raw)[-3000:].decode('utf-8', 'replace')}")
            self.raw += chunk
            self.events.extend(self.parser.feed(chunk))
        return self.events

    def transactions(self) -> list[dict[str, Any]]:
        return [json.loads(e.data) for e in self.events if e.event == "transaction"]

    def close(self) -> None:
        self.conn.close()

    def __enter__(self) -> RawStream:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def collect(sub: weaseldb.Subscription, until: Callable[[list[Any]], bool], timeout: float,
            what: str) -> list[Any]:
    """Iterate ``sub`` until ``until(events)`` holds, bounded by ``timeout`` (then it fails)."""
    events: list[Any] = []
    timer = threading.Timer(timeout, sub.close)
    timer.daemon = True
    timer.start()
    try:
        for event in sub:
            events.append(event)
            if until(events):
                return events
    finally:
        timer.cancel()
    raise AssertionError(f"subscription ended (timeout {timeout}s) before {what}; got {len(events)} events: "
                         f"{[_describe(e) for e in events][-20:]}")


def _describe(e: Any) -> str:
    if isinstance(e, Transaction):
        return f"tx {e.version} (prev {e.prev_version})"
    return repr(e)


def history(client: weaseldb.Client, after: int, upto: int, timeout: float = 30.0,
            durable: bool = True) -> list[Transaction]:
    """Every transaction in ``(after, upto]`` read through the subscribe stream.

    ``upto`` must be the version of a committed transaction (so its event ends the read).
    """
    with client.subscribe(after=after, durable=durable, max_reconnects=5) as sub:
        events = collect(sub, lambda ev: any(isinstance(e, Transaction) and e.version >= upto for e in ev),
                         timeout, f"transaction {upto}")
    return [e for e in events if isinstance(e, Transaction)]


def ops_of(txs: Iterable[Transaction], prefix: bytes) -> list[Any]:
    """The operations of ``txs`` touching keys under ``prefix`` (for tests sharing a server)."""
    out = []
    for tx in txs:
        for op in tx.operations:
            key = getattr(op, "key", None) or getattr(op, "begin", b"")
            if key.startswith(prefix):
                out.append(op)
    return out
