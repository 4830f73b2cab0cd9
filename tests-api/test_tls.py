"""[security]: TLS on the listener and bearer tokens with roles, through the Python client.

One server for the module, configured as docs/operations.md recommends for production: a
certificate and PKCS#8 key made with ``openssl`` at test time (``CN=localhost``, SANs
``DNS:localhost`` and ``IP:127.0.0.1``), and three tokens — a writer (``commit``), a reader
(``subscribe``, given as its SHA-256 like config/s3.toml) and an operator (``admin``). The
client verifies the certificate against it, sends commits and follows the stream over TLS, and
every role boundary is checked: no token or an unknown one is 401, a valid token without the
role is 403, the right role works, and ``/ok`` needs none.
"""

from __future__ import annotations

import hashlib
import shutil
import socket
import ssl
import subprocess
import time
from pathlib import Path
from typing import Any, Iterator

import pytest

import weaseldb
from conftest import note
from harness import (
    JAR,
    JAVA,
    JVM_OPTS,
    LISTENING,
    START_TIMEOUT,
    ServerProcess,
    cds_opts,
    collect,
    toml,
    wait_until,
)
from weaseldb import Forbidden, Transaction, Unauthorized, Write

WRITER = "tls-test-writer-token-0000000001"
READER = "tls-test-reader-token-0000000001"
OPERATOR = "tls-test-operator-token-00000001"


def _tokens_toml() -> str:
    reader_sha = hashlib.sha256(READER.encode()).hexdigest()
    return (
        '[[security.tokens]]\nname = "writer"\n'
        f'token = "{WRITER}"\nroles = ["commit"]\n\n'
        '[[security.tokens]]\nname = "reader"\n'
        f'token_sha256 = "{reader_sha}"\nroles = ["subscribe"]\n\n'
        '[[security.tokens]]\nname = "operator"\n'
        f'token = "{OPERATOR}"\nroles = ["admin"]\n'
    )


class TlsServer(ServerProcess):
    """A server with TLS and tokens: reached as ``https://localhost:PORT`` with a trusting context."""

    def __init__(self, workdir: Path, cert: Path, key: Path, ssl_context: ssl.SSLContext) -> None:
        super().__init__(workdir, None, label="tls")
        self.cert = cert
        self.key = key
        self.ssl_context = ssl_context

    @property
    def url(self) -> str:
        return f"https://localhost:{self.port}"

    def config_text(self) -> str:
        # TLS keys belong to [security] itself, so they come before the [[security.tokens]] tables.
        security = toml({"security": {"tls_cert_file": str(self.cert), "tls_key_file": str(self.key)}})
        return security + "\n" + _tokens_toml()

    def start(self, timeout: float = START_TIMEOUT, *, standby: bool = False) -> TlsServer:
        """Like :meth:`ServerProcess.start`, but the health probe speaks TLS."""
        assert not standby
        if not JAR or not Path(JAR).is_file():
            raise AssertionError(f"server jar not found: WEASELDB_JAR={JAR!r}")
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.config_path.write_text(self.config_text(), encoding="utf-8")
        cmd = [JAVA, *JVM_OPTS, *cds_opts(JAR), "-jar", JAR, "--config", str(self.config_path), "--host", "127.0.0.1",
               "--port", str(self.port), "--data-dir", str(self.data_dir)]
        offset = self._spawn(cmd)
        m = self._wait_for_log(LISTENING, offset, timeout)
        self.port = int(m.group(2))
        self.starts += 1
        probe = weaseldb.Client(self.url, timeout=5, ssl_context=self.ssl_context)
        try:
            self.leader_id = wait_until(lambda: probe.ok().leader_id, timeout, f"{self.name} to answer /ok over TLS")
        except AssertionError as exc:
            raise AssertionError(f"{exc}\n--- {self.log.path} ---\n{self.log.tail(offset, 80)}") from None
        finally:
            probe.close()
        return self

    def client(self, **options: Any) -> weaseldb.Client:
        options.setdefault("ssl_context", self.ssl_context)
        return super().client(**options)


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A self-signed certificate for localhost/127.0.0.1 and its PKCS#8 PEM key, valid one day."""
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("the openssl command is not installed")
    d = tmp_path_factory.mktemp("tls")
    key, cert = d / "key.pem", d / "cert.pem"
    subprocess.run([openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(cert),
                    "-days", "1", "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"],
                   check=True, capture_output=True, timeout=60)
    assert key.read_text().startswith("-----BEGIN PRIVATE KEY-----"), "the server expects a PKCS#8 PEM key"
    return cert, key


@pytest.fixture(scope="module")
def tls_server(certificate: tuple[Path, Path], session_procs: Any,
               tmp_path_factory: pytest.TempPathFactory) -> Iterator[TlsServer]:
    cert, key = certificate
    ctx = ssl.create_default_context(cafile=str(cert))
    srv = TlsServer(tmp_path_factory.mktemp("tls-server"), cert, key, ctx).start()
    yield srv
    session_procs.retire(srv)


@pytest.fixture
def server_tls(request: pytest.FixtureRequest, tls_server: TlsServer) -> TlsServer:
    note(request, tls_server)
    return tls_server


def as_role(srv: TlsServer, token: str | None, **options: Any) -> weaseldb.Client:
    return srv.client(token=token, **options)


# -- TLS -------------------------------------------------------------------------------------


def test_tls_handshake_presents_the_configured_certificate(server_tls: TlsServer,
                                                           certificate: tuple[Path, Path]) -> None:
    with socket.create_connection(("127.0.0.1", server_tls.port), timeout=10) as raw:
        with server_tls.ssl_context.wrap_socket(raw, server_hostname="localhost") as tls:
            assert tls.version() in ("TLSv1.2", "TLSv1.3"), tls.version()
            peer = tls.getpeercert()
            assert dict(x[0] for x in peer["subject"])["commonName"] == "localhost"
            assert ("IP Address", "127.0.0.1") in peer["subjectAltName"]
            served = tls.getpeercert(binary_form=True)
    pem = certificate[0].read_text()
    assert ssl.DER_cert_to_PEM_cert(served).strip() == pem.strip()


def test_commit_and_subscribe_over_tls(server_tls: TlsServer, ns: bytes) -> None:
    writer = as_role(server_tls, WRITER)
    reader = as_role(server_tls, READER)
    start = writer.version().version
    committed = [writer.commit([Write(ns + b"k%d" % i, b"over tls %d" % i)]).version for i in range(3)]
    assert committed == sorted(committed) and committed[0] > start
    with reader.subscribe(after=start, max_reconnects=2) as sub:
        events = collect(sub, lambda ev: any(isinstance(e, Transaction) and e.version >= committed[-1] for e in ev),
                         30, f"transaction {committed[-1]} over TLS")
    mine = [e for e in events if isinstance(e, Transaction) and e.operations and e.operations[0].key.startswith(ns)]
    assert [t.version for t in mine] == committed
    assert [t.operations[0].value for t in mine] == [b"over tls %d" % i for i in range(3)]


def test_a_client_that_does_not_trust_the_certificate_is_refused(server_tls: TlsServer) -> None:
    untrusting = weaseldb.Client(server_tls.url, timeout=10, token=WRITER)  # system CAs only
    try:
        with pytest.raises(weaseldb.CertificateError) as err:
            untrusting.version()
        assert "certificate" in str(err.value), str(err.value)
        # a configuration error, not a transient one: a subscription gives up at once
        started = time.monotonic()
        with pytest.raises(weaseldb.CertificateError):
            for _ in untrusting.subscribe(after=0):
                break
        assert time.monotonic() - started < 5
    finally:
        untrusting.close()


def test_plain_http_on_the_tls_port_gets_no_http_answer(server_tls: TlsServer) -> None:
    with socket.create_connection(("127.0.0.1", server_tls.port), timeout=10) as raw:
        raw.sendall(b"GET /ok HTTP/1.1\r\nHost: localhost\r\n\r\n")
        data = b""
        try:
            while True:
                chunk = raw.recv(4096)
                if not chunk:
                    break
                data += chunk
        except (ConnectionResetError, socket.timeout):
            pass
    assert not data.startswith(b"HTTP/"), data[:200]


def _s_client_tls12(port: int, lines: list[bytes]) -> str:
    """Runs ``openssl s_client -tls1_2``, typing ``lines`` a second apart, and returns what it printed."""
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("the openssl command is not installed")
    proc = subprocess.Popen([openssl, "s_client", "-tls1_2", "-connect", f"127.0.0.1:{port}", "-servername", "localhost"],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    assert proc.stdin is not None
    try:
        for line in lines:
            time.sleep(1)
            if proc.poll() is not None:
                break  # the server ended the connection: s_client is gone
            try:
                proc.stdin.write(line)
                proc.stdin.flush()
            except BrokenPipeError:
                break
        time.sleep(1)
        out, _ = proc.communicate(timeout=20)  # closes its input: s_client ends there
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)
    return out.decode("utf-8", "replace")


def test_a_tls12_client_cannot_renegotiate(server_tls: TlsServer) -> None:
    # Each renegotiation is a full handshake the server pays for; the JDK provider allowed a client as
    # many as it asked ("R" lines: 21 handshakes on one connection) until the server refused them.
    get = b"GET /ok HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
    served = _s_client_tls12(server_tls.port, [get])
    assert "HTTP/1.1 200 OK" in served, served  # TLS 1.2 itself is served
    refused = _s_client_tls12(server_tls.port, [b"R\n", b"R\n", b"R\n", get])
    assert refused.count("RENEGOTIATING") == 1, refused
    assert "alert handshake failure" in refused, refused
    assert "HTTP/1.1" not in refused, refused


# -- tokens and roles ------------------------------------------------------------------------


def test_no_token_is_401_except_ok(server_tls: TlsServer, ns: bytes) -> None:
    anonymous = as_role(server_tls, None)
    with pytest.raises(Unauthorized) as err:
        anonymous.commit([Write(ns + b"k", b"v")])
    assert err.value.status == 401 and err.value.code == "unauthorized"
    for call in (anonymous.version, anonymous.list_retention, anonymous.metrics_text,
                 lambda: anonymous.status("tls-anonymous-status-00001", min_version=0)):
        with pytest.raises(Unauthorized):
            call()
    with pytest.raises(Unauthorized):
        with anonymous.subscribe(after=0, max_reconnects=0) as sub:
            next(iter(sub))
    resp = anonymous.request("GET", "/v1/version")
    assert resp.status == 401
    assert (resp.header("www-authenticate") or "").startswith("Bearer"), resp.headers
    assert anonymous.ok().status == "ok", "/ok stays open for load balancers"


def test_an_unknown_token_is_401(server_tls: TlsServer, ns: bytes) -> None:
    stranger = as_role(server_tls, "not-a-configured-token-000000000")
    with pytest.raises(Unauthorized):
        stranger.version()
    with pytest.raises(Unauthorized):
        stranger.commit([Write(ns + b"k", b"v")])


def test_a_valid_token_without_the_role_is_403(server_tls: TlsServer, ns: bytes) -> None:
    reader = as_role(server_tls, READER)
    writer = as_role(server_tls, WRITER)
    operator = as_role(server_tls, OPERATOR)
    with pytest.raises(Forbidden) as err:
        reader.commit([Write(ns + b"k", b"v")])
    assert err.value.status == 403 and err.value.code == "forbidden"
    with pytest.raises(Forbidden):
        reader.status("tls-reader-status-000000001", min_version=0)
    with pytest.raises(Forbidden):
        writer.metrics_text()
    with pytest.raises(Forbidden):
        writer.put_retention("tls-writer-policy", 0)
    with pytest.raises(Forbidden):
        operator.commit([Write(ns + b"k", b"v")])
    with pytest.raises(Forbidden):
        with writer.subscribe(after=0, max_reconnects=0) as sub:
            next(iter(sub))


def test_the_right_role_works(server_tls: TlsServer, ns: bytes) -> None:
    writer = as_role(server_tls, WRITER)
    reader = as_role(server_tls, READER)
    operator = as_role(server_tls, OPERATOR)
    # Any valid token may read the version.
    for c in (writer, reader, operator):
        assert c.version().leader_id == server_tls.leader_id
    v = writer.commit([Write(ns + b"k", b"v")], request_id="tls-role-commit-0000000001").version
    assert writer.status("tls-role-commit-0000000001").version == v
    with reader.subscribe(after=v - 1, max_reconnects=2) as sub:
        events = collect(sub, lambda ev: any(isinstance(e, Transaction) and e.version >= v for e in ev), 30,
                         f"transaction {v}")
    assert any(isinstance(e, Transaction) and e.version == v for e in events)
    policy = operator.put_retention("tls-operator-policy", v)
    assert policy.version == v
    assert operator.get_retention("tls-operator-policy").version == v
    operator.delete_retention("tls-operator-policy")
    # Refusals are counted by reason.
    with pytest.raises(Unauthorized):
        as_role(server_tls, None).version()
    with pytest.raises(Forbidden):
        reader.commit([Write(ns + b"k", b"v")])
    text = operator.metrics_text()
    # every reason is exposed from the start, at 0: these must have counted
    for reason in ("unauthorized", "forbidden"):
        [line] = [l for l in text.splitlines() if l.startswith(f'weaseldb_http_rejected_total{{reason="{reason}"}}')]
        assert float(line.rsplit(" ", 1)[1]) >= 1, line
