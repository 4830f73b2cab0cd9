"""Client against the fake server: requests on the wire, responses, errors, keep-alive."""

from __future__ import annotations

import os
import socket
import threading
import time
import urllib.request

import pytest

from conftest import Closing, FakeServer, Reply, Stream, tx_event
from weaseldb import (
    Client, CommitResult, Conflict, Delete, InternalError, LogTruncated, NotFound, PointRead, Timeout, TransportError,
    Unauthorized, Unavailable, WeaselError, Write,
)

COMMITTED = {"status": "committed", "version": 42, "leader_id": "L1", "request_id": "r" * 20}


def test_version(closing: Closing, server: FakeServer) -> None:
    server.on("GET", "/v1/version", Reply(body={"version": 123456, "leader_id": "abc"}))
    v = closing(Client(server.url)).version()
    assert (v.version, v.leader_id) == (123456, "abc")


def test_commit_sends_exact_json_and_returns_typed_result(closing: Closing, server: FakeServer) -> None:
    server.on("POST", "/v1/commit", Reply(body=COMMITTED))
    client = closing(Client(server.url))
    res = client.commit([Write(b"k", b"v"), Delete(b"x")], [PointRead(b"k")], read_version=41,
                        request_id="r" * 20)
    assert res == CommitResult(42, "L1", "r" * 20, duplicate=False)
    req = server.calls("/v1/commit")[0]
    assert req.headers["content-type"] == "application/json"
    assert req.body == (b'{"request_id":"rrrrrrrrrrrrrrrrrrrr","read_version":41,'
                        b'"preconditions":[{"type":"point_read","key":"aw=="}],'
                        b'"operations":[{"type":"write","key":"aw==","value":"dg=="},{"type":"delete","key":"eA=="}]}')


def test_commit_generates_a_long_request_id_unless_disabled(closing: Closing, server: FakeServer) -> None:
    server.on("POST", "/v1/commit", Reply(body=COMMITTED))
    closing(Client(server.url)).commit([Write(b"k", b"v")])
    closing(Client(server.url, auto_request_id=False)).commit([Write(b"k", b"v")])
    first, second = server.calls("/v1/commit")
    assert len(first.json()["request_id"]) >= 20
    assert "request_id" not in second.json()


def test_duplicate_commit_is_reported(closing: Closing, server: FakeServer) -> None:
    server.on("POST", "/v1/commit", Reply(body={**COMMITTED, "duplicate": True}))
    assert closing(Client(server.url)).commit([Write(b"k", b"v")], request_id="r" * 20).duplicate is True


def test_token_is_sent_as_bearer(closing: Closing, server: FakeServer) -> None:
    server.on("GET", "/v1/version", Reply(body={"version": 1, "leader_id": "L"}))
    closing(Client(server.url, token="s3cret")).version()
    closing(Client(server.url)).version()
    with_token, without = server.calls("/v1/version")
    assert with_token.headers["authorization"] == "Bearer s3cret"
    assert "authorization" not in without.headers


def test_conflict_raises_with_indexes_retry_version_and_request_id(closing: Closing, server: FakeServer) -> None:
    server.on("POST", "/v1/commit", Reply(409, {"error": "conflict", "status": "conflict", "version": 50,
                                                "leader_id": "L1", "request_id": "q" * 20, "conflicts": [1],
                                                "message": "precondition 1 failed"}))
    with pytest.raises(Conflict) as info:
        closing(Client(server.url)).commit([Write(b"k", b"v")], [PointRead(b"a"), PointRead(b"b")], read_version=3,
                                  request_id="q" * 20)
    err = info.value
    assert (err.status, err.code, err.conflicts, err.version, err.request_id) == (409, "conflict", [1], 50, "q" * 20)
    assert not err.outcome_unknown


def test_503_outcome_unknown_is_distinguishable(closing: Closing, server: FakeServer) -> None:
    server.on("POST", "/v1/commit",
              Reply(503, {"error": "unavailable", "message": "storage", "outcome": "unknown"},
                    headers={"Retry-After": "2"}),
              Reply(503, {"error": "unavailable", "message": "not leader", "outcome": "not_committed"}))
    client = closing(Client(server.url))
    with pytest.raises(Unavailable) as first:
        client.commit([Write(b"k", b"v")], request_id="u" * 20)
    assert first.value.outcome_unknown and first.value.retry_after == 2.0 and first.value.request_id == "u" * 20
    with pytest.raises(Unavailable) as second:
        client.commit([Write(b"k", b"v")])
    assert not second.value.outcome_unknown


@pytest.mark.parametrize("status,body", [
    (502, "<html>502 Bad Gateway</html>"),
    (503, "<html>503 Service Temporarily Unavailable</html>"),
    (504, "<html>504 Gateway Time-out</html>"),
    (503, {"error": "unavailable", "message": "max_connections reached"}),
    (500, {"error": "internal", "message": "bug"}),
])
def test_commit_5xx_without_the_servers_outcome_is_an_unknown_outcome(closing: Closing, server: FakeServer, status: int,
                                                                      body: object) -> None:
    # A proxy answering for the server cannot know whether the commit got through.
    headers = {"Content-Type": "text/html"} if isinstance(body, str) else {}
    server.on("POST", "/v1/commit", Reply(status, body, headers=headers))
    server.on("GET", "/v1/version", Reply(status, body, headers=headers))
    client = closing(Client(server.url))
    with pytest.raises(WeaselError) as info:
        client.commit([Write(b"k", b"v")], request_id="p" * 20)
    assert info.value.status == status and info.value.outcome_unknown and info.value.request_id == "p" * 20
    if status == 503:
        assert isinstance(info.value, Unavailable)
    else:
        assert isinstance(info.value, InternalError)
    assert info.value.outcome == "unknown"  # type: ignore[attr-defined]
    # Not a commit: nothing to be unknown about.
    with pytest.raises(WeaselError) as other:
        client.version()
    assert not other.value.outcome_unknown
    assert other.value.outcome is None  # type: ignore[attr-defined]


def test_dropped_connection_after_sending_a_commit_is_an_unknown_outcome(closing: Closing, server: FakeServer) -> None:
    server.on("POST", "/v1/commit", Reply(drop=True))
    with pytest.raises(TransportError) as info:
        closing(Client(server.url)).commit([Write(b"k", b"v")], request_id="d" * 20)
    assert info.value.sent and info.value.outcome_unknown and info.value.request_id == "d" * 20
    assert info.value.status is None


def test_connection_refused_is_not_an_unknown_outcome(closing: Closing) -> None:
    import socket

    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    with pytest.raises(TransportError) as info:
        closing(Client(f"http://127.0.0.1:{port}", timeout=2)).commit([Write(b"k", b"v")])
    assert not info.value.sent and not info.value.outcome_unknown


def test_timeout_raises_timeout(closing: Closing, server: FakeServer) -> None:
    server.on("GET", "/v1/version", Reply(body={"version": 1, "leader_id": "L"}, delay=0.5))
    with pytest.raises(Timeout) as info:
        closing(Client(server.url, timeout=0.1)).version()
    assert info.value.outcome_unknown  # it was sent


def test_status_with_min_version_and_410(closing: Closing, server: FakeServer) -> None:
    server.on("GET", "/v1/status",
              Reply(body={"request_id": "s" * 20, "status": "committed", "version": 9, "leader_id": "L"}),
              Reply(body={"request_id": "s" * 20, "status": "not_committed", "version": 12}),
              Reply(410, {"error": "log_truncated", "message": "gone", "oldest_version": 5}))
    client = closing(Client(server.url))
    st = client.status("s" * 20, min_version=3)
    assert st.committed and st.version == 9 and st.leader_id == "L"
    st2 = client.status("s" * 20)
    assert not st2.committed and st2.status == "not_committed" and st2.version == 12
    with pytest.raises(LogTruncated) as info:
        client.status("s" * 20, min_version=1)
    assert info.value.oldest_version == 5
    q = [r.query for r in server.calls("/v1/status")]
    assert q == [{"request_id": "s" * 20, "min_version": "3"}, {"request_id": "s" * 20},
                 {"request_id": "s" * 20, "min_version": "1"}]


def test_keep_alive_reuses_one_connection(closing: Closing, server: FakeServer) -> None:
    server.on("GET", "/v1/version", Reply(body={"version": 1, "leader_id": "L"}))
    client = closing(Client(server.url))
    for _ in range(5):
        client.version()
    assert len({r.port for r in server.requests}) == 1


def test_stale_keep_alive_connection_is_retried_on_a_fresh_one(closing: Closing, server: FakeServer) -> None:
    # The first reply closes the socket without saying so, like an idle-timeout close.
    server.on("GET", "/v1/version", Reply(body={"version": 1, "leader_id": "L"}, close_after=True),
              Reply(body={"version": 2, "leader_id": "L"}))
    client = closing(Client(server.url))
    assert client.version().version == 1
    assert client.version().version == 2
    assert len({r.port for r in server.requests}) == 2


def test_non_json_error_body_still_maps(closing: Closing, server: FakeServer) -> None:
    server.on("GET", "/v1/version", Reply(401, b"go away", headers={"Content-Type": "text/plain"}))
    with pytest.raises(Unauthorized) as info:
        closing(Client(server.url)).version()
    assert info.value.message == "go away" and info.value.body == {}


def test_client_is_thread_safe(closing: Closing, server: FakeServer) -> None:
    server.on("POST", "/v1/commit", lambda req: Reply(body={**COMMITTED, "request_id": req.json()["request_id"]}))
    client = closing(Client(server.url, max_idle_connections=4))
    errors: list[BaseException] = []
    ids: list[str] = []

    def work() -> None:
        try:
            for _ in range(20):
                ids.append(client.commit([Write(b"k", b"v")]).request_id)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert not errors
    assert len(set(ids)) == 160
    assert client.transport.idle_connections <= 4
    assert len({r.port for r in server.requests}) < 160  # connections were reused


def test_url_with_path_prefix_and_raw_request(closing: Closing, server: FakeServer) -> None:
    server.on("POST", "/prefix/v1/commit", Reply(400, {"error": "bad_request", "message": "bad json"}))
    client = closing(Client(server.url + "/prefix/"))
    resp = client.request("POST", "/v1/commit", b"{not json")
    assert resp.status == 400 and resp.json()["error"] == "bad_request"
    assert server.requests[0].body == b"{not json"


def test_bad_url_is_rejected(closing: Closing) -> None:
    with pytest.raises(ValueError):
        closing(Client("ftp://x"))


def test_idle_connection_closed_by_the_server_is_not_used(closing: Closing, server: FakeServer) -> None:
    # The server closed the keep-alive connection while it sat in the pool: the client
    # sees that before sending, so even a commit without a request id (never resent)
    # goes through on a fresh connection.
    server.on("GET", "/v1/version", Reply(body={"version": 1, "leader_id": "L"}, close_after=True))
    server.on("POST", "/v1/commit", Reply(body=COMMITTED))
    client = closing(Client(server.url, auto_request_id=False))
    client.version()
    time.sleep(0.3)  # the server has closed its end of the pooled connection by now
    assert client.commit([Write(b"k", b"v")]).version == 42
    assert len(server.calls("/v1/commit")) == 1


def test_pooling_survives_descriptors_above_1024(closing: Closing, server: FakeServer) -> None:
    # select() cannot watch descriptors >= 1024: the idle check must not call every pooled
    # connection dropped in a process that has that many open (one connection, reused)
    import resource
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard < 1200:
        pytest.skip("cannot open 1200 descriptors here")
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, 1200) if soft != resource.RLIM_INFINITY else soft, hard))
    held = []
    try:
        while len(held) < 1100:
            held.append(os.open(os.devnull, os.O_RDONLY))
        server.on("GET", "/v1/version", Reply(body={"version": 1, "leader_id": "L"}))
        client = closing(Client(server.url))
        for _ in range(5):
            client.version()
        ports = {r.port for r in server.calls("/v1/version")}
        assert len(ports) == 1, f"one pooled connection expected, got {len(ports)}"
    finally:
        for fd in held:
            os.close(fd)
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def test_commit_with_a_request_id_is_resent_with_the_same_id_after_a_lost_reply(closing: Closing,
                                                                                server: FakeServer) -> None:
    server.on("GET", "/v1/version", Reply(body={"version": 1, "leader_id": "L"}))
    server.on("POST", "/v1/commit", Reply(drop=True), Reply(body={**COMMITTED, "duplicate": True}))
    client = closing(Client(server.url))
    client.version()
    res = client.commit([Write(b"k", b"v")], request_id="r" * 20)
    assert res.duplicate
    assert [r.json()["request_id"] for r in server.calls("/v1/commit")] == ["r" * 20, "r" * 20]


def test_delete_retention_retried_after_a_lost_reply_accepts_404(closing: Closing, server: FakeServer) -> None:
    # The first DELETE deleted the policy, then the connection broke before the 204;
    # the transparent retry is answered 404, which means the policy is gone: success.
    server.on("GET", "/v1/version", Reply(body={"version": 1, "leader_id": "L"}))
    server.on("DELETE", "/v1/retention/p", Reply(drop=True), Reply(404, {"error": "not_found", "message": "no"}))
    client = closing(Client(server.url))
    client.version()
    assert client.delete_retention("p") is None
    assert len(server.calls("/v1/retention/p")) == 2
    # A 404 on the first attempt still means it did not exist.
    with pytest.raises(NotFound):
        client.delete_retention("p")


def test_failed_retry_of_a_stale_connection_keeps_the_outcome_unknown(closing: Closing, server: FakeServer) -> None:
    server.on("GET", "/v1/version", Reply(body={"version": 1, "leader_id": "L"}))
    server.on("POST", "/v1/commit", lambda req: (server.close(), Reply(drop=True))[1])
    client = closing(Client(server.url, timeout=2))
    client.version()  # leaves a pooled connection
    with pytest.raises(TransportError) as info:
        client.commit([Write(b"k", b"v")], request_id="z" * 20)
    # The first send may have been received even though the retry could not connect.
    assert info.value.outcome_unknown


@pytest.mark.parametrize("path, body, call", [
    ("/v1/version", {"version": "12", "leader_id": "L"}, lambda c: c.version()),
    ("/v1/version", [12], lambda c: c.version()),
    ("/v1/version", "not json", lambda c: c.version()),
    ("/v1/status", {"status": "committed", "version": None}, lambda c: c.status("r" * 20)),
    ("/ok", ["ok"], lambda c: c.ok()),
    ("/v1/retention/", {"policies": "none", "oldest_version": 1}, lambda c: c.list_retention()),
    ("/v1/retention/p", {"policy_id": "p", "version": "x"}, lambda c: c.get_retention("p")),
    ("/metrics", "a_total{x=1} 3\n", lambda c: c.metrics()),
])
def test_malformed_success_answers_raise_bad_response(closing: Closing,
                                                      server: FakeServer, path: str, body: object, call) -> None:  # type: ignore[no-untyped-def]
    from weaseldb import BadResponse

    server.on("GET", path, Reply(body=body))
    with pytest.raises(BadResponse) as info:
        call(closing(Client(server.url)))
    assert isinstance(info.value, WeaselError)
    assert info.value.status == 200 and info.value.code == "bad_response"


def test_malformed_commit_answer_raises_bad_response_naming_the_request(closing: Closing, server: FakeServer) -> None:
    from weaseldb import BadResponse

    server.on("POST", "/v1/commit", Reply(body={"status": "committed", "version": None}))
    with pytest.raises(BadResponse) as info:
        closing(Client(server.url)).commit([Write(b"k", b"v")], request_id="q" * 20)
    assert info.value.status == 200 and info.value.request_id == "q" * 20
    assert not info.value.outcome_unknown


def test_proxies_in_the_environment_are_not_used(closing: Closing, server: FakeServer,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    # As the README says: the client goes to its url, whatever the environment names
    # (urllib would send this through the dead proxy: it exempts no loopback address).
    dead = socket.socket()
    dead.bind(("127.0.0.1", 0))
    proxy = f"http://127.0.0.1:{dead.getsockname()[1]}"
    dead.close()
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"):
        monkeypatch.setenv(name, proxy)
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    assert urllib.request.getproxies()["http"] == proxy and not urllib.request.proxy_bypass("127.0.0.1")
    server.on("GET", "/v1/version", Reply(body={"version": 7, "leader_id": "L1"}))
    server.on("GET", "/v1/subscribe", Stream([tx_event(8, 7)], end="hang"))
    client = closing(Client(server.url, timeout=5))
    assert client.version().version == 7
    with client.subscribe(after=7) as s:
        assert next(s).version == 8
    assert server.calls("/v1/version")[0].headers["host"] == server.url.removeprefix("http://")
