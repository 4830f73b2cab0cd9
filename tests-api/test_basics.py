"""GET /v1/version, GET /ok, and the error model shared by every endpoint (404, 405)."""

from __future__ import annotations

import pytest

import weaseldb
from harness import http_request, raw_exchange
from weaseldb import MethodNotAllowed, NotFound, Write


def assert_error_body(resp: weaseldb.transport.Response | object, status: int, code: str) -> dict:
    """The contract's error shape: JSON content type, ``error`` code and a ``message``."""
    assert resp.status == status, (resp.status, getattr(resp, "body", b"")[:300])
    ctype = resp.header("content-type") or ""
    assert ctype.split(";")[0].strip() == "application/json", ctype
    doc = resp.json()
    assert doc["error"] == code, doc
    assert isinstance(doc.get("message"), str) and doc["message"], doc
    return doc


def test_version_covers_every_acknowledged_commit(client: weaseldb.Client, ns: bytes) -> None:
    before = client.version()
    assert isinstance(before.version, int) and before.version >= 0
    assert before.leader_id
    committed = [client.commit([Write(ns + b"k%d" % i, b"v")]).version for i in range(3)]
    after = client.version()
    assert after.version >= max(committed) > before.version
    assert after.leader_id == before.leader_id


def test_version_is_monotonic(client: weaseldb.Client) -> None:
    seen = [client.version().version for _ in range(5)]
    assert seen == sorted(seen)


def test_ok_reports_leader_and_version(client: weaseldb.Client, ns: bytes) -> None:
    v = client.commit([Write(ns + b"k", b"v")]).version
    health = client.ok()
    assert health.status == "ok"
    assert health.leader_id == client.version().leader_id
    assert isinstance(health.version, int) and health.version >= v
    resp = client.request("GET", "/ok")
    assert resp.status == 200 and (resp.header("content-type") or "").startswith("application/json")
    assert set(resp.json()) >= {"status", "version", "leader_id"}


@pytest.mark.parametrize("path", ["/", "/v1", "/v1/nothing", "/v2/version", "/v1/version/extra", "/okay"])
def test_unknown_path_is_404(client: weaseldb.Client, path: str) -> None:
    assert_error_body(client.request("GET", path), 404, "not_found")


def test_not_found_raises_typed_error(client: weaseldb.Client) -> None:
    with pytest.raises(NotFound) as info:
        client.transport.request_json("GET", "/v1/no-such-endpoint")
    assert info.value.status == 404 and info.value.code == "not_found"


@pytest.mark.parametrize("method,path,allowed", [
    ("POST", "/v1/version", {"GET"}),
    ("DELETE", "/v1/version", {"GET"}),
    ("GET", "/v1/commit", {"POST"}),
    ("PUT", "/v1/commit", {"POST"}),
    ("POST", "/v1/status", {"GET"}),
    ("POST", "/v1/subscribe", {"GET"}),
    ("POST", "/metrics", {"GET"}),
    ("PUT", "/ok", {"GET"}),
])
def test_wrong_method_is_405_with_allow(client: weaseldb.Client, method: str, path: str, allowed: set[str]) -> None:
    body = b"{}" if method in ("POST", "PUT") else None
    resp = client.request(method, path, body)
    assert_error_body(resp, 405, "method_not_allowed")
    allow = {m.strip() for m in (resp.header("allow") or "").split(",") if m.strip()}
    # HEAD may ride along with GET; the methods that work must be listed, the one refused not.
    assert allowed <= allow and method not in allow, resp.headers


def test_method_not_allowed_raises_typed_error(client: weaseldb.Client) -> None:
    with pytest.raises(MethodNotAllowed):
        client.transport.request_json("DELETE", "/v1/version")


def test_server_survives_garbage_request_line(server, client: weaseldb.Client) -> None:
    resp = raw_exchange(server.port, b"THIS IS NOT HTTP\r\n\r\n")
    assert 400 <= resp.status < 500, resp
    assert client.ok().status == "ok"


def test_oversized_headers_get_431(server, client: weaseldb.Client) -> None:
    # [server].max_header_bytes defaults to 16 KiB.
    resp = raw_exchange(server.port, http_request("GET", "/v1/version", headers={"X-Filler": "a" * 40_000}))
    assert resp.status == 431, resp
    assert client.version().version >= 0


def test_commit_refusals_use_the_error_shape(client: weaseldb.Client, ns: bytes) -> None:
    key = weaseldb.model.b64encode(ns + b"k")
    base = client.commit([Write(ns + b"k", b"1")]).version
    client.commit([Write(ns + b"k", b"2")])
    body = {"read_version": base, "preconditions": [{"type": "point_read", "key": key}],
            "operations": [{"type": "write", "key": key, "value": ""}]}
    doc = assert_error_body(client.request("POST", "/v1/commit", body), 409, "conflict")
    assert doc["status"] == "conflict" and doc["conflicts"] == [0] and isinstance(doc["version"], int)
    doc = assert_error_body(client.request("POST", "/v1/commit", {**body, "preconditions": [], "leader_id": "nope"}),
                            409, "leader_changed")
    assert doc["status"] == "leader_changed" and doc["leader_id"] == client.version().leader_id
    assert_error_body(client.request("POST", "/v1/commit", {"operations": [{"type": "nope"}]}), 400, "bad_request")
    assert_error_body(client.request("GET", "/v1/status"), 400, "bad_request")
