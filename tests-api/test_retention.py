"""/v1/retention/: CRUD, validation, 404, ttl, truncation (410 on PUT and on subscribe), restarts.

Policies on the shared server pin version 0 (everything) and are deleted by the test that
made them, so they never let the truncator remove history other tests read.
"""

from __future__ import annotations

import datetime as dt
import uuid

import pytest

import weaseldb
from harness import RawStream, history, wait_until
from weaseldb import BadRequest, LogTruncated, NotFound, Write


def pid(tag: str) -> str:
    return f"{tag}-{uuid.uuid4().hex[:10]}"


def iso(text: str) -> dt.datetime:
    parsed = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    assert parsed.tzinfo is not None, text
    return parsed


@pytest.fixture
def policies(client: weaseldb.Client):
    """Policy ids made by the test, deleted afterwards."""
    made: list[str] = []
    yield made
    for p in made:
        client.request("DELETE", "/v1/retention/" + p)


@pytest.mark.both_backends
def test_policy_lifecycle(client: weaseldb.Client, policies: list[str]) -> None:
    p = pid("life")
    policies.append(p)
    created = client.request("PUT", f"/v1/retention/{p}", {"version": 0})
    assert created.status == 201, created.body
    doc = created.json()
    assert doc["policy_id"] == p and doc["version"] == 0
    assert doc.get("ttl_seconds") is None and doc.get("expires_at") is None
    updated_at = iso(doc["updated_at"])
    assert abs((dt.datetime.now(dt.timezone.utc) - updated_at).total_seconds()) < 300

    v = client.commit([Write(b"retention/" + p.encode(), b"")]).version
    replaced = client.request("PUT", f"/v1/retention/{p}", {"version": v, "ttl_seconds": 86400})
    assert replaced.status == 200, replaced.body
    doc = replaced.json()
    assert (doc["policy_id"], doc["version"], doc["ttl_seconds"]) == (p, v, 86400)
    assert iso(doc["expires_at"]) - iso(doc["updated_at"]) == dt.timedelta(seconds=86400)

    got = client.get_retention(p)
    assert (got.policy_id, got.version, got.ttl_seconds, got.expires_at, got.updated_at) == \
        (p, v, 86400, doc["expires_at"], doc["updated_at"])

    listing = client.list_retention()
    assert [x.version for x in listing.policies if x.policy_id == p] == [v]
    assert isinstance(listing.oldest_version, int) and listing.oldest_version >= 0
    raw = client.request("GET", "/v1/retention/").json()
    assert set(raw) >= {"policies", "oldest_version"}

    deleted = client.request("DELETE", f"/v1/retention/{p}")
    assert deleted.status == 204 and deleted.body == b""
    with pytest.raises(NotFound):
        client.get_retention(p)
    assert p not in [x.policy_id for x in client.list_retention().policies]
    with pytest.raises(NotFound):
        client.delete_retention(p)
    # Deleted means gone: putting it again creates it anew.
    assert client.request("PUT", f"/v1/retention/{p}", {"version": 0}).status == 201


def test_missing_policy_is_404(client: weaseldb.Client) -> None:
    for method in ("GET", "DELETE"):
        resp = client.request(method, "/v1/retention/" + pid("absent"))
        assert resp.status == 404, resp.body
        assert resp.json()["error"] == "not_found"


@pytest.mark.parametrize("policy_id", ["a", "A-Z.a_z-0.9", "x" * 128])
def test_valid_policy_ids(client: weaseldb.Client, policies: list[str], policy_id: str) -> None:
    if len(policy_id) == 128:
        policy_id = uuid.uuid4().hex + policy_id[32:]
    else:
        policy_id = policy_id + uuid.uuid4().hex[:6]
    policies.append(policy_id)
    assert client.put_retention(policy_id, 0).policy_id == policy_id
    assert client.get_retention(policy_id).policy_id == policy_id


@pytest.mark.parametrize("path_id", ["x" * 129, "has%20space", "semi%3Bcolon", "slash%2Fin", "%C3%BCmlaut",
                                     "star*", "plus+", "a:b", "tab%09"])
@pytest.mark.parametrize("method", ["PUT", "GET", "DELETE"])
def test_invalid_policy_id_is_400(client: weaseldb.Client, path_id: str, method: str) -> None:
    body = {"version": 0} if method == "PUT" else None
    resp = client.request(method, "/v1/retention/" + path_id, body)
    assert resp.status == 400, (path_id, resp.status, resp.body)
    assert resp.json()["error"] == "bad_request"


def test_invalid_policy_id_raises_bad_request(client: weaseldb.Client) -> None:
    with pytest.raises(BadRequest):
        client.put_retention("no spaces allowed", 0)


@pytest.mark.parametrize("body", [
    b"{}",
    b'{"ttl_seconds": 60}',
    b'{"version": "5"}',
    b'{"version": -1}',
    b'{"version": 1.5}',
    b'{"version": null}',
    b'{"version": 0, "ttl_seconds": "60"}',
    b'{"version": 0, "ttl_seconds": -5}',
    b'{"version": 0, "ttl_seconds": 0}',
    b'{"version": 0, "ttl_seconds": 1.5}',
    b'{"version": 0',
    b"[0]",
    b"version=0",
    b"",
], ids=lambda b: b.decode() or "empty")
def test_invalid_policy_body_is_400(client: weaseldb.Client, body: bytes) -> None:
    p = pid("badbody")
    resp = client.request("PUT", f"/v1/retention/{p}", body)
    assert resp.status == 400, (body, resp.status, resp.body)
    assert resp.json()["error"] == "bad_request"
    assert client.request("GET", f"/v1/retention/{p}").status == 404, "a refused PUT must not create the policy"


def test_ttl_expiry_stops_the_policy(client: weaseldb.Client, policies: list[str]) -> None:
    p = pid("ttl")
    policies.append(p)
    doc = client.put_retention(p, 0, ttl_seconds=1)
    assert doc.ttl_seconds == 1 and doc.expires_at
    wait_until(lambda: client.request("GET", f"/v1/retention/{p}").status == 404, 15, "the policy to expire")
    assert p not in [x.policy_id for x in client.list_retention().policies]
    # An expired policy is gone: putting it again creates it.
    assert client.request("PUT", f"/v1/retention/{p}", {"version": 0}).status == 201


def test_retention_wrong_methods(client: weaseldb.Client) -> None:
    for method, path in (("POST", "/v1/retention/x"), ("PATCH", "/v1/retention/x"), ("PUT", "/v1/retention/"),
                         ("DELETE", "/v1/retention/"), ("POST", "/v1/retention/")):
        resp = client.request(method, path, b"{}" if method in ("POST", "PUT", "PATCH") else None)
        assert resp.status == 405, (method, path, resp.status, resp.body)
        assert resp.json()["error"] == "method_not_allowed" and resp.header("allow")


# -- truncation -------------------------------------------------------------------------------------

# A request-id window of 2 versions: truncation never cuts into the window (a restart rebuilds
# the ids that make commits idempotent from those log objects), and the default one is 24 h.
TRUNCATING = {"retention": {"truncate_interval_seconds": 1}, "commit": {"request_id_retention_versions": 2}}


@pytest.mark.both_backends
def test_truncation_follows_the_minimum_live_policy(make_server, ns: bytes) -> None:
    srv = make_server(TRUNCATING)
    c = srv.client()
    # One commit at a time: each is its own batch, so its own log object.
    versions = [c.commit([Write(ns + b"k%02d" % i, b"%d" % i)]).version for i in range(12)]
    initial = c.list_retention().oldest_version
    assert initial is not None and initial <= versions[0]
    low, high = versions[3], versions[8]
    c.put_retention("low", low)
    c.put_retention("high", high)

    # Truncation reaches the lower policy, and no further.
    wait_until(lambda: c.list_retention().oldest_version > initial, 30, "the truncator to delete old objects")
    oldest = c.list_retention().oldest_version
    assert oldest <= low + 1, f"deleted past the lowest policy: oldest {oldest}, policy at {low}"
    txs = history(c, low, versions[-1])
    assert [t.version for t in txs if t.version in versions] == versions[4:], "pinned history must stay readable"

    # Below what is retained: 410 on subscribe, with the oldest version in the body, before any event.
    with RawStream(srv.port, "after=0") as gone:
        assert gone.status == 410
        doc = __import__("json").loads(gone.body())
        assert doc["error"] == "log_truncated" and doc["oldest_version"] == oldest
    with pytest.raises(LogTruncated) as info:
        next(iter(c.subscribe(after=0, max_reconnects=0)))
    assert info.value.oldest_version == oldest
    # The boundary: after = oldest - 1 asks for nothing that is gone.
    with RawStream(srv.port, f"after={oldest - 1}") as edge:
        assert edge.status == 200
    with RawStream(srv.port, f"after={oldest - 2}") as edge:
        assert edge.status == 410
    # A policy cannot pin what is gone.
    resp = c.request("PUT", "/v1/retention/late", {"version": 0})
    assert resp.status == 410, resp.body
    assert resp.json()["error"] == "log_truncated"
    assert c.request("GET", "/v1/retention/late").status == 404

    # An expired policy stops pinning: truncation moves on to the next policy.
    c.put_retention("low", low, ttl_seconds=1)
    wait_until(lambda: c.list_retention().oldest_version > low + 1, 30, "truncation past the expired policy")
    oldest = c.list_retention().oldest_version
    assert oldest <= high + 1, f"deleted past the remaining policy: oldest {oldest}, policy at {high}"
    assert [t.version for t in history(c, high, versions[-1]) if t.version in versions] == versions[9:]
    metrics = c.metrics()
    assert metrics.value("weaseldb_version_oldest") == oldest


def test_truncation_keeps_the_request_id_window_so_retries_stay_duplicates(make_server, ns: bytes) -> None:
    # The default window (1,000,000 versions, 24 h): a policy allows deleting everything but the
    # newest object, yet a commit retried after a restart must still find its original outcome.
    srv = make_server({"retention": {"truncate_interval_seconds": 1}})
    c = srv.client()
    first = c.commit([Write(ns + b"once", b"1")], request_id="retried-" + ns.hex())
    versions = [c.commit([Write(ns + b"k%02d" % i, b"%d" % i)]).version for i in range(5)]
    initial = c.list_retention().oldest_version
    c.put_retention("everything", versions[-1])
    # A witness that expires at once: the policies gauge counts it until a truncation pass
    # removes it, and that pass also weighs "everything" (a sleep proved no pass had run).
    c.put_retention("witness", versions[-1], ttl_seconds=1)
    assert c.metrics().value("weaseldb_retention_policies") == 2
    wait_until(lambda: c.metrics().value("weaseldb_retention_policies") == 1, 30,
               "a truncation pass (it removes the expired witness)")
    assert c.list_retention().oldest_version == initial, "nothing in the request-id window is deleted"
    srv.restart()
    c = srv.client()
    again = c.commit([Write(ns + b"once", b"2")], request_id="retried-" + ns.hex())
    assert again.duplicate and again.version == first.version


# Policies surviving a restart: test_restart.py::test_restart_continues_the_log.
