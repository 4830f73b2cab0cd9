"""Storage refusing writes for a while: 503 with outcome unknown, /ok failing, then recovery.

The embedded fake S3 fails the first commit's log object (log/...01) 40 times in a row;
with retries backing off at most 100 ms that is seconds of refused writes, far beyond the
300 ms retry budget.
"""

from __future__ import annotations

import pytest

from harness import history, wait_until
from weaseldb import Unavailable, Write

FAULTY = {
    "s3": {"fake_faults": ["op=PUT,prefix=log/00000000000000000001,kind=error,status=503,code=SlowDown,count=40"]},
    "persistence": {"retry_budget_ms": 300, "retry_initial_backoff_ms": 20, "retry_max_backoff_ms": 100},
}


def test_commit_past_the_retry_budget_is_503_unknown_then_resolves(make_server, ns: bytes) -> None:
    srv = make_server(FAULTY)
    c = srv.client()
    assert c.version().version == 0
    rid = "stuck-" + ns.hex()
    with pytest.raises(Unavailable) as info:
        c.commit([Write(ns + b"k", b"1")], request_id=rid)
    err = info.value
    assert err.status == 503 and err.code == "unavailable"
    assert err.outcome == "unknown" and err.outcome_unknown, err.body
    assert err.request_id == rid
    # While storage refuses writes the server is not healthy and takes no new commits.
    with pytest.raises(Unavailable):
        c.ok()
    refused_rid = "refused-" + ns.hex()
    with pytest.raises(Unavailable) as again:
        c.commit([Write(ns + b"k", b"2")], request_id=refused_rid)
    assert again.value.retry_after is not None, "a 503 should say when to retry"

    # Storage recovers; the stuck batch was kept and retried, so the first commit is durable.
    wait_until(lambda: c.ok().status == "ok", 60, "/ok once storage accepts writes again")
    st = c.status(rid)
    assert st.committed and st.version == 1, st
    later = c.commit([Write(ns + b"k", b"3")])
    txs = history(c, 0, later.version)
    logged = [t.request_id for t in txs]
    assert logged.count(rid) == 1
    # refused before it was sequenced (storage known to be down): not_committed, and it did not commit
    assert not again.value.outcome_unknown, again.value.body
    assert refused_rid not in logged, "a commit refused with a plain 503 must not commit"
