"""Fixtures of the API suite: servers (shared, tuned, fresh), storage backends, clients.

The suite builds nothing: it runs the jar named by ``WEASELDB_JAR`` (and S3Proxy from
``WEASELDB_S3PROXY_JAR``) as child processes on loopback, each with a data dir under
pytest's temporary directory. Most tests share one server per backend and use keys of
their own (the ``ns`` prefix); tests that restart, kill or configure a server get one of
their own from ``make_server``. A failing test shows the logs its servers wrote during it.

Tests marked ``both_backends`` run twice: on the embedded fake S3 and on S3Proxy, a real
third-party S3 server (skipped with a reason when its jar is not there). The S3Proxy runs
are ordered last so that JVM only lives for the end of the session.
"""

from __future__ import annotations

import os
import re
import uuid
from pathlib import Path
from typing import Any, Callable, Iterator, Mapping

import pytest

import weaseldb
from harness import JAR, S3PROXY_JAR, STOP_TIMEOUT, Backend, ChildProcess, S3Proxy, ServerProcess, merge_config

BACKENDS = ("embedded", "s3proxy")

# Server for tests that need short time windows and a short request-id history.
# Server with small connection/subscriber limits and a small subscriber buffer.
LIMITS_CONFIG = {
    "server": {"max_connections": 8},
    "subscription": {"max_subscribers": 1, "max_buffer_size_bytes": 65536},
}

TUNED_CONFIG = {
    "commit": {"conflict_window_ms": 300, "request_id_retention_versions": 8},
    "subscription": {"keepalive_interval_seconds": 1},
    "retention": {"truncate_interval_seconds": 1},
}

_USED = pytest.StashKey[list]()


def note(request: pytest.FixtureRequest, proc: ChildProcess) -> None:
    """Remember that the current test used ``proc``, to show its log if the test fails."""
    request.node.stash.setdefault(_USED, []).append((proc, proc.log.size()))


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    outcome = yield
    rep = outcome.get_result()
    if rep.failed:
        seen = set()
        for proc, offset in item.stash.get(_USED, []):
            if id(proc) in seen:
                continue
            seen.add(id(proc))
            rep.sections.append((f"{proc.name} log during this test ({proc.log.path})", proc.log.tail(offset, 150)))


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if metafunc.definition.get_closest_marker("both_backends") and "backend" in metafunc.fixturenames:
        metafunc.parametrize("backend", BACKENDS, indirect=True, ids=BACKENDS)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    # S3Proxy runs last (stable sort keeps the file order otherwise).
    def on_s3proxy(item: pytest.Item) -> bool:
        spec = getattr(item, "callspec", None)
        return bool(spec and spec.params.get("backend") == "s3proxy")

    items.sort(key=on_s3proxy)


@pytest.fixture(scope="session", autouse=True)
def _artifacts() -> None:
    if not JAR or not Path(JAR).is_file():
        pytest.exit(f"WEASELDB_JAR={JAR!r} is not a file: build the server first (./mvnw package)", returncode=2)


@pytest.fixture(scope="session")
def workroot(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("weaseldb")


class _Session:
    """Processes that live for the whole session, stopped at its end."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.s3proxy: S3Proxy | None = None
        self.servers: dict[str, ServerProcess] = {}
        self.retired: list[ServerProcess] = []

    def get_s3proxy(self) -> S3Proxy:
        if not S3PROXY_JAR or not Path(S3PROXY_JAR).is_file():
            pytest.skip(f"S3Proxy not available: WEASELDB_S3PROXY_JAR={S3PROXY_JAR!r} is not a file "
                        f"(./mvnw generate-test-resources fetches it)")
        if self.s3proxy is None or not self.s3proxy.running:
            self.s3proxy = S3Proxy(self.root / f"s3proxy-{uuid.uuid4().hex[:6]}").start()
        return self.s3proxy

    def shared(self, key: str, backend: Backend, config: Mapping[str, Mapping[str, Any]] | None) -> ServerProcess:
        srv = self.servers.get(key)
        if srv is None or not srv.running:
            srv = ServerProcess(self.root / f"shared-{key}", merge_config(backend.config(), config), label=key)
            self.servers[key] = srv
            srv.start()
        return srv

    def retire(self, srv: ServerProcess) -> None:
        """SIGTERM now, wait at the end: a graceful stop takes seconds of idle waiting."""
        srv.retire()
        self.retired.append(srv)

    def close(self) -> None:
        for srv in self.servers.values():
            srv.retire()
        stuck = [srv.name for srv in [*self.retired, *self.servers.values()] if srv.reap() is None]
        if self.s3proxy is not None:
            self.s3proxy.stop()
        assert not stuck, f"servers that did not exit within {STOP_TIMEOUT}s of SIGTERM (killed): {stuck}"


@pytest.fixture(scope="session")
def session_procs(workroot: Path) -> Iterator[_Session]:
    s = _Session(workroot)
    yield s
    s.close()


@pytest.fixture
def backend(request: pytest.FixtureRequest, session_procs: _Session) -> Backend:
    name = getattr(request, "param", "embedded")
    if name == "s3proxy":
        proxy = session_procs.get_s3proxy()
        note(request, proxy)
        return Backend(name, proxy)
    return Backend(name)


@pytest.fixture
def server(request: pytest.FixtureRequest, backend: Backend, session_procs: _Session) -> ServerProcess:
    """The server shared by the tests of this backend (tests use their own keys)."""
    srv = session_procs.shared(f"shared-{backend.name}", backend, None)
    note(request, srv)
    return srv


@pytest.fixture
def tuned_server(request: pytest.FixtureRequest, session_procs: _Session) -> ServerProcess:
    """A shared server with short conflict window, request-id history and keepalive interval."""
    srv = session_procs.shared("tuned", Backend("embedded"), TUNED_CONFIG)
    note(request, srv)
    return srv


@pytest.fixture(scope="session")
def limits_process(session_procs: _Session) -> ServerProcess:
    """The limits server for session- or module-scoped fixtures (tests use ``limited``)."""
    return session_procs.shared("limits", Backend("embedded"), LIMITS_CONFIG)


@pytest.fixture
def limited(request: pytest.FixtureRequest, limits_process: ServerProcess) -> ServerProcess:
    """A shared server with small connection and subscriber limits (see LIMITS_CONFIG)."""
    if not limits_process.running:
        limits_process.start()
    note(request, limits_process)
    return limits_process


@pytest.fixture
def make_server(request: pytest.FixtureRequest, backend: Backend, tmp_path: Path, session_procs: _Session
                ) -> Iterator[Callable[..., ServerProcess]]:
    """Start servers of this test's own (stopped at teardown); ``config`` adds TOML sections."""
    started: list[ServerProcess] = []

    def start(config: Mapping[str, Mapping[str, Any]] | None = None, label: str = "server") -> ServerProcess:
        srv = ServerProcess(tmp_path / f"{label}-{len(started)}", merge_config(backend.config(), config), label)
        started.append(srv)
        note(request, srv)
        return srv.start()

    yield start
    for srv in started:
        session_procs.retire(srv)


@pytest.fixture
def client(server: ServerProcess) -> Iterator[weaseldb.Client]:
    c = weaseldb.Client(server.url, timeout=20)
    yield c
    c.close()


@pytest.fixture
def ns(request: pytest.FixtureRequest) -> bytes:
    """A key prefix no other test uses."""
    name = re.sub(r"[^A-Za-z0-9]+", "_", request.node.name)[:40]
    return f"t/{name}/{uuid.uuid4().hex[:8]}/".encode()


@pytest.fixture(scope="session")
def source_root() -> Path:
    return Path(__file__).resolve().parent.parent


def pytest_report_header(config: pytest.Config) -> list[str]:
    return [f"weaseldb jar: {JAR}", f"s3proxy jar: {S3PROXY_JAR or '(none)'}",
            f"java: {os.environ.get('WEASELDB_JAVA', 'java')}"]
