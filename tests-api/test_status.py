"""GET /v1/status: committed, not_committed (then refused for ever), 410, 400."""

from __future__ import annotations

import pytest

import weaseldb
from harness import history, http_request, raw_exchange
from weaseldb import BadRequest, Conflict, LogTruncated, PointRead, Write


def rid_for(ns: bytes, tag: str) -> str:
    return f"{tag}-{ns.hex()}"


@pytest.mark.both_backends
def test_status_of_a_committed_request(client: weaseldb.Client, ns: bytes) -> None:
    rid = rid_for(ns, "st-committed")
    res = client.commit([Write(ns + b"k", b"v")], request_id=rid)
    st = client.status(rid)
    assert st.committed and st.raw["status"] == "committed"
    assert (st.request_id, st.version, st.leader_id) == (rid, res.version, res.leader_id)
    # Still committed when asked again, and with min_version at or below the commit.
    assert client.status(rid, min_version=res.version).version == res.version
    assert client.status(rid, min_version=res.version - 1).committed


@pytest.mark.both_backends
def test_unknown_request_becomes_not_committed_and_is_then_refused(client: weaseldb.Client, ns: bytes) -> None:
    rid = rid_for(ns, "st-never")
    before = client.version().version
    st = client.status(rid)
    assert st.status == "not_committed" and not st.committed
    assert st.request_id == rid
    assert st.version >= before
    assert set(st.raw) >= {"request_id", "status", "version"}
    # The answer is final: the id can no longer commit (decided: 400) ...
    with pytest.raises(BadRequest) as info:
        client.commit([Write(ns + b"late", b"v")], request_id=rid)
    assert info.value.code == "bad_request"
    # ... and asking again gives the same outcome.
    assert client.status(rid).status == "not_committed"
    end = client.commit([Write(ns + b"end", b"")]).version
    assert not any(t.request_id == rid for t in history(client, before, end))


def test_refused_commit_is_not_committed(client: weaseldb.Client, ns: bytes) -> None:
    base = client.version().version
    client.commit([Write(ns + b"k", b"1")])
    rid = rid_for(ns, "st-conflict")
    with pytest.raises(Conflict):
        client.commit([Write(ns + b"k", b"2")], [PointRead(ns + b"k")], read_version=base, request_id=rid)
    st = client.status(rid, min_version=base)
    assert st.status == "not_committed"


def test_status_requires_request_id(client: weaseldb.Client) -> None:
    for query in (None, {"min_version": 1}):
        resp = client.request("GET", "/v1/status", query=query)
        assert resp.status == 400, resp.body
        assert resp.json()["error"] == "bad_request"


@pytest.mark.parametrize("length", [5, 19, 257])
def test_status_request_id_of_a_length_no_commit_could_carry_is_400(client: weaseldb.Client, length: int) -> None:
    # commits take request ids of 20 to 256 characters; asking about any other would only ban it
    resp = client.request("GET", "/v1/status", query={"request_id": "r" * length})
    assert resp.status == 400, resp.body
    body = resp.json()
    assert body["error"] == "bad_request"
    assert "request_id must be 20 to 256 characters" in body["message"]


def test_status_request_id_length_counts_characters(client: weaseldb.Client, ns: bytes) -> None:
    # "characters" as JSON Schema's minLength counts them: an emoji is one (two UTF-16 units)
    prefix = ns.decode().split("/")[2]  # this test's 8 random hex digits
    short = prefix + "\U0001F600" * 11  # 19 characters, 30 UTF-16 units
    resp = client.request("GET", "/v1/status", query={"request_id": short})
    assert resp.status == 400, resp.body
    assert "got 19" in resp.json()["message"]
    enough = prefix + "\U0001F600" * 12  # 20 characters
    resp = client.request("GET", "/v1/status", query={"request_id": enough})
    assert resp.status == 200, resp.body
    assert resp.json()["request_id"] == enough


def test_status_query_is_form_decoded(server, client: weaseldb.Client, ns: bytes) -> None:
    # query values are decoded as HTML forms encode them: "+" is a space, "%2B" a plus sign
    rid = "plus+" + ns.hex()
    res = client.commit([Write(ns + b"k", b"v")], request_id=rid)
    resp = client.request("GET", "/v1/status", query={"request_id": rid})  # urlencode sends %2B
    assert resp.status == 200 and resp.json()["status"] == "committed", resp.body
    assert resp.json()["version"] == res.version
    # sent as is, "+" means a space: that is another id, which never committed
    raw = raw_exchange(server.port, http_request("GET", f"/v1/status?request_id={rid}"))
    assert raw.status == 200, raw.body
    assert raw.json()["request_id"] == "plus " + ns.hex()
    assert raw.json()["status"] == "not_committed"


@pytest.mark.parametrize("min_version", ["abc", "-5", "1.5"])
def test_status_bad_min_version_is_400(client: weaseldb.Client, ns: bytes, min_version: str) -> None:
    resp = client.request("GET", "/v1/status", query={"request_id": rid_for(ns, "st-bad"), "min_version": min_version})
    assert resp.status == 400, resp.body
    assert resp.json()["error"] == "bad_request"


def test_status_beyond_request_id_retention_is_410(tuned_server, ns: bytes) -> None:
    # The tuned server remembers request ids for 8 versions.
    client = tuned_server.client()
    rid = rid_for(ns, "st-old")
    old = client.commit([Write(ns + b"k", b"v")], request_id=rid).version
    for i in range(20):
        client.commit([Write(ns + b"fill", b"%d" % i)])
    with pytest.raises(LogTruncated) as info:
        client.status(rid, min_version=old)
    assert info.value.status == 410 and info.value.code == "log_truncated"
    # Without min_version the commit could be anywhere in the past, so the answer is unknown too.
    with pytest.raises(LogTruncated):
        client.status(rid)
    never = rid_for(ns, "st-old-never")
    with pytest.raises(LogTruncated):
        client.status(never, min_version=old)
    # History that is still kept answers normally.
    recent = client.commit([Write(ns + b"k", b"w")], request_id=rid_for(ns, "st-recent"))
    assert client.status(recent.request_id, min_version=recent.version).committed
