"""Races a retrying client really runs into: the same request id twice at once, status during a commit.

A dedicated server whose storage holds every log write for 300 ms makes the windows wide:
a commit is sequenced long before it is durable.
"""

from __future__ import annotations

import json
import threading

import pytest

import weaseldb
from harness import RawConnection, ServerProcess, history, http_request
from weaseldb import Write

SLOW_LOG = {"s3": {"fake_faults": ["op=PUT,prefix=log/,kind=latency,ms=300"]}}


@pytest.fixture(scope="module")
def slow(session_procs, tmp_path_factory):
    srv = ServerProcess(tmp_path_factory.mktemp("slow-log"), SLOW_LOG, label="slow-log").start()
    yield srv
    session_procs.retire(srv)


def simultaneously(port: int, requests: list[bytes]) -> list:
    """Send each request on its own connection at the same moment; the parsed answers, in order."""
    conns = [RawConnection(port, timeout=20) for _ in requests]
    barrier = threading.Barrier(len(requests))
    answers: list = [None] * len(requests)

    def go(i: int) -> None:
        barrier.wait()
        conns[i].send(requests[i])
        answers[i] = conns[i].read_response()

    threads = [threading.Thread(target=go, args=(i,)) for i in range(len(requests))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    for c in conns:
        c.close()
    return answers


def commit_bytes(rid: str, key: bytes) -> bytes:
    return http_request("POST", "/v1/commit", json.dumps({"request_id": rid, "operations": [
        {"type": "write", "key": weaseldb.model.b64encode(key), "value": "dg=="}]}).encode())


def test_same_request_id_in_flight_twice_commits_once(slow, ns: bytes) -> None:
    c = slow.client()
    start = c.version().version
    rids = [f"twice-{i}-{ns.hex()}" for i in range(5)]
    for rid in rids:
        a, b = simultaneously(slow.port, [commit_bytes(rid, ns + rid.encode()), commit_bytes(rid, ns + rid.encode())])
        assert a.status == 200 and b.status == 200, (a, b)
        da, db = a.json(), b.json()
        assert da["version"] == db["version"], (da, db)
        assert [da.get("duplicate", False), db.get("duplicate", False)].count(True) == 1, (da, db)
    end = c.commit([Write(ns + b"end", b"")]).version
    logged = [t.request_id for t in history(c, start, end) if t.request_id in rids]
    assert sorted(logged) == sorted(rids), "each request id must be in the log exactly once"


def test_status_during_a_commit_is_consistent_with_it(slow, ns: bytes) -> None:
    c = slow.client()
    start = c.version().version
    outcomes = []
    for i in range(6):
        rid = f"race-{i}-{ns.hex()}"
        commit, status = simultaneously(slow.port, [
            commit_bytes(rid, ns + b"k%d" % i),
            http_request("GET", f"/v1/status?request_id={rid}"),
        ])
        assert status.status == 200, status
        outcomes.append((rid, commit, status.json()))
    end = c.commit([Write(ns + b"end", b"")]).version
    logged = {t.request_id: t.version for t in history(c, start, end)}
    for rid, commit, st in outcomes:
        if st["status"] == "committed":
            assert commit.status == 200 and commit.json()["version"] == st["version"] == logged.get(rid), (commit, st)
        else:
            assert st["status"] == "not_committed"
            assert commit.status != 200, f"{rid}: status said not_committed but the commit was acknowledged: {commit}"
            assert rid not in logged, f"{rid}: status said not_committed but it is in the log"
        # Whatever was said, asking again says the same.
        assert c.status(rid).status == st["status"]
