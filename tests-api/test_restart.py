"""Restarts: the log, request ids, bans, policies and history continue across terms; nothing acknowledged is lost.

Each test runs its own server and restarts it on the same port and data (SIGTERM, or
SIGKILL for a crash), as an operator or a crash would.
"""

from __future__ import annotations

import threading

import pytest

import weaseldb
from harness import history, wait_until
from weaseldb import (Backoff, BadRequest, Checkpoint, Conflict, LeaderChanged, NotFound, PointRead, Rollback, TooOld, Transaction,
                      TransportError, Unavailable, Write)


@pytest.mark.both_backends
def test_restart_continues_the_log(make_server, ns: bytes) -> None:
    srv = make_server()
    c = srv.client()
    first = [c.commit([Write(ns + b"k", b"%d" % i)], request_id=f"before-{i}-{ns.hex()}") for i in range(5)]
    old_leader = first[-1].leader_id
    banned = "banned-" + ns.hex()
    assert c.status(banned).status == "not_committed"
    kept = c.put_retention("kept", first[1].version, ttl_seconds=86400)
    c.put_retention("dropped", 0)
    c.delete_retention("dropped")

    srv.restart()
    c = srv.client()
    info = c.version()
    assert info.leader_id != old_leader and info.leader_id == srv.leader_id
    assert info.version >= first[-1].version

    # Old request ids are remembered: status and idempotent retries answer the original outcome.
    st = c.status(first[2].request_id)
    assert st.committed and (st.version, st.leader_id) == (first[2].version, old_leader)
    dup = c.commit([Write(ns + b"k", b"2")], request_id=first[2].request_id)
    assert dup.duplicate and (dup.version, dup.leader_id) == (first[2].version, old_leader)
    # The ban made by /v1/status outlives the term.
    with pytest.raises(BadRequest):
        c.commit([Write(ns + b"late", b"")], request_id=banned)
    # A commit addressed to the old leader is refused, naming the new one.
    with pytest.raises(LeaderChanged) as exc:
        c.commit([Write(ns + b"stale", b"")], leader_id=old_leader)
    assert exc.value.leader_id == info.leader_id

    # Retention policies are stored next to the log.
    got = c.get_retention("kept")
    assert (got.version, got.ttl_seconds, got.expires_at, got.updated_at) == \
        (kept.version, kept.ttl_seconds, kept.expires_at, kept.updated_at)
    assert [p.policy_id for p in c.list_retention().policies] == ["kept"]
    with pytest.raises(NotFound):
        c.get_retention("dropped")
    assert c.request("PUT", "/v1/retention/kept", {"version": kept.version}).status == 200, "a replacement"

    after = c.commit([Write(ns + b"k", b"after")], request_id=f"after-{ns.hex()}")
    assert after.version > first[-1].version and after.leader_id == info.leader_id

    # The whole history, read back from storage by the new leader, in order and linked.
    txs = history(c, 0, after.version)
    mine = [t for t in txs if any(getattr(op, "key", b"").startswith(ns) for op in t.operations)]
    assert [t.request_id for t in mine] == [r.request_id for r in first] + [after.request_id]
    assert [t.version for t in mine] == [r.version for r in first] + [after.version]
    assert [t.leader_id for t in mine] == [old_leader] * 5 + [info.leader_id]
    # The first transaction of the new term links over the term start to the last of the old one.
    assert mine[-1].prev_version == mine[-2].version
    for prev, tx in zip(txs, txs[1:]):
        assert tx.prev_version == prev.version
    assert not any(getattr(op, "key", None) in (ns + b"late", ns + b"stale") for t in txs for op in t.operations)
    assert c.metrics().value("weaseldb_subscribe_history_objects_total", default=0) > 0, \
        "history of the previous term should have been read from the log in S3"


def test_a_read_at_the_version_seen_before_a_clean_restart_is_still_checked(make_server, ns: bytes) -> None:
    # A client mid-transaction across a rolling restart: the clean stop's term end and the new
    # term's start take versions, but hold no write, so a read at the last version it saw is
    # judged (committed, or a real conflict), not refused as too_old (audit 36).
    srv = make_server()
    c = srv.client()
    c.commit([Write(ns + b"k", b"1")])
    c.commit([Write(ns + b"other", b"1")])
    seen = c.version().version
    srv.restart()
    c = srv.client()
    assert c.version().version > seen, "the term end and start took versions"
    ok = c.commit([Write(ns + b"k", b"2")], [PointRead(ns + b"k")], read_version=seen)
    assert ok.version > seen
    with pytest.raises(Conflict):
        c.commit([Write(ns + b"k", b"3")], [PointRead(ns + b"k")], read_version=seen)
    with pytest.raises(TooOld):
        c.commit([Write(ns + b"k", b"4")], [PointRead(ns + b"other")], read_version=seen - 1)


def test_sigkill_loses_no_acknowledged_commit(make_server, ns: bytes) -> None:
    srv = make_server()
    acked: list[tuple[str, int]] = []
    unknown: list[str] = []
    lock = threading.Lock()
    stop = threading.Event()

    def writer(w: int) -> None:
        c = weaseldb.Client(srv.url, timeout=10)
        i = 0
        while not stop.is_set():
            rid = f"w{w}-{i:04d}-{ns.hex()}"
            i += 1
            try:
                res = c.commit([Write(ns + b"w%d" % w, b"%d" % i)], request_id=rid)
            except (TransportError, Unavailable):
                # Reply lost in the crash (or refused while going down): resolved below.
                with lock:
                    unknown.append(rid)
                return
            with lock:
                acked.append((rid, res.version))
        c.close()

    threads = [threading.Thread(target=writer, args=(w,), daemon=True) for w in range(4)]
    for t in threads:
        t.start()
    wait_until(lambda: len(acked) >= 60, 60, "60 acknowledged commits")
    srv.kill()
    stop.set()
    for t in threads:
        t.join(30)
    srv.start()
    c = srv.client()
    # Commits in flight at the crash: their outcome is now final, one way or the other.
    outcomes = {rid: c.status(rid) for rid in unknown}
    end = c.commit([Write(ns + b"end", b"")]).version
    txs = history(c, 0, end)
    logged = [t.request_id for t in txs if t.request_id.endswith(ns.hex())]
    assert len(logged) == len(set(logged)), "a transaction appears twice"
    versions = {t.request_id: t.version for t in txs}
    for rid, v in acked:
        assert versions.get(rid) == v, f"acknowledged commit {rid} at {v} is missing after the crash"
    for rid, st in outcomes.items():
        assert (rid in versions) == st.committed, (rid, st)
    assert set(logged) <= {rid for rid, _ in acked} | set(unknown)


@pytest.mark.parametrize("durable,crash", [(True, False), (False, True)], ids=["durable-sigterm", "not-durable-sigkill"])
def test_subscriber_survives_restart(make_server, ns: bytes, durable: bool, crash: bool) -> None:
    srv = make_server()
    c = srv.client()
    start = c.version().version
    applied: list[tuple[int, str]] = []
    rollbacks: list[Rollback] = []
    lock = threading.Lock()
    failure: list[BaseException] = []
    sub = weaseldb.Client(srv.url, timeout=10).subscribe(
        after=start, durable=durable, backoff=Backoff(base=0.05, cap=0.5), idle_timeout=20)

    def follow() -> None:
        try:
            for e in sub:
                with lock:
                    if isinstance(e, Rollback):
                        rollbacks.append(e)
                        applied[:] = [x for x in applied if x[0] <= e.version]
                    elif isinstance(e, Transaction) and e.request_id.endswith(ns.hex()):
                        applied.append((e.version, e.request_id))
        except BaseException as exc:  # noqa: BLE001 - reported below
            failure.append(exc)

    reader = threading.Thread(target=follow, daemon=True)
    reader.start()

    def seen(n: int):
        def probe() -> bool:
            assert not failure, failure
            with lock:
                return len(applied) >= n
        return probe

    committed: list[str] = []
    try:
        for i in range(10):
            committed.append(c.commit([Write(ns + b"k", b"%d" % i)], request_id=f"s{i:02d}-{ns.hex()}").request_id)
        wait_until(seen(10), 20, "the subscriber to see the first 10 commits")
        srv.restart(kill=crash)
        c = srv.client()
        for i in range(10, 20):
            committed.append(c.commit([Write(ns + b"k", b"%d" % i)], request_id=f"s{i:02d}-{ns.hex()}").request_id)
        wait_until(seen(20), 60, "the subscriber to see all 20 commits")
        # A commit after the last one we count ends the stream's view cleanly.
        end = c.commit([Write(ns + b"end", b"")], request_id=f"zz-end-{ns.hex()}").version
        wait_until(lambda: any(v == end for v, _ in applied), 30, "the final commit")
    finally:
        sub.close()
        reader.join(10)
    assert not failure, failure
    got = [rid for _, rid in applied if not rid.startswith("zz-end")]
    assert got == committed, f"every transaction exactly once and in order (rollbacks: {rollbacks})"
    assert sub.connections >= 2, "the subscription should have reconnected to the restarted server"


def test_not_durable_subscriber_rolls_back_what_a_crash_lost(make_server, ns: bytes) -> None:
    # The second commit of a fresh log (version 2) is held by storage for 8 s: long enough to
    # see it on a durable=false stream and crash the server before it is durable.
    srv = make_server({"s3": {"fake_faults": ["op=PUT,prefix=log/00000000000000000002,kind=latency,ms=8000,count=1"]}})
    c = srv.client()
    assert c.version().version == 0
    events: list = []
    applied: list[Transaction] = []
    lock = threading.Lock()
    failure: list[BaseException] = []
    sub = weaseldb.Client(srv.url, timeout=10).subscribe(
        after=0, durable=False, backoff=Backoff(base=0.05, cap=0.5), idle_timeout=20)

    def follow() -> None:
        try:
            for e in sub:
                with lock:
                    events.append(e)
                    if isinstance(e, Rollback):
                        applied[:] = [t for t in applied if t.version <= e.version]
                    elif isinstance(e, Transaction):
                        applied.append(e)
        except BaseException as exc:  # noqa: BLE001 - reported below
            failure.append(exc)

    reader = threading.Thread(target=follow, daemon=True)
    reader.start()

    def saw(rid: str):
        return lambda: any(t.request_id == rid for t in list(applied))

    try:
        a = c.commit([Write(ns + b"a", b"")], request_id=f"a-{ns.hex()}")
        assert a.version == 1
        wait_until(lambda: any(isinstance(e, Checkpoint) and e.committed_version >= 1 for e in list(events)), 20,
                   "a checkpoint covering the first commit")
        lost: list[BaseException] = []

        def commit_b() -> None:
            try:
                c.commit([Write(ns + b"b", b"")], request_id=f"b-{ns.hex()}")
            except weaseldb.WeaselError as exc:
                lost.append(exc)

        tb = threading.Thread(target=commit_b, daemon=True)
        tb.start()
        wait_until(saw(f"b-{ns.hex()}"), 5, "the held commit on the durable=false stream")
        srv.kill()
        tb.join(20)
        assert lost and lost[0].outcome_unknown, "the held commit cannot have been acknowledged"
        srv.start()
        c = srv.client()
        cc = c.commit([Write(ns + b"c", b"")], request_id=f"c-{ns.hex()}")
        wait_until(saw(cc.request_id), 30, "the commit after the crash on the resumed stream")
    finally:
        sub.close()
        reader.join(10)
    assert not failure, failure
    rollbacks = [e for e in events if isinstance(e, Rollback)]
    assert rollbacks and rollbacks[0].version == 1 and rollbacks[0].discarded == 1, events
    assert [t.request_id for t in applied] == [a.request_id, cc.request_id]
    assert c.status(f"b-{ns.hex()}").status == "not_committed"
    assert [t.request_id for t in history(c, 0, cc.version) if t.request_id.endswith(ns.hex())] == \
        [a.request_id, cc.request_id]


def test_a_second_server_on_the_same_data_dir_exits_1_with_one_clear_line(server, tmp_path) -> None:
    """A failure of the environment (here: the embedded store's lock) is one ERROR line naming
    it and exit code 1; its stack trace was 60-70 lines an operator had to read past."""
    from harness import ServerProcess

    second = ServerProcess(tmp_path / "second")
    second.data_dir = server.data_dir
    with pytest.raises(AssertionError, match="did not start"):
        second.start(timeout=60)
    assert second.proc is not None and second.proc.returncode == 1
    text = second.log.text()
    assert "startup failed: cannot open data directory " in text, text[-2000:]
    assert "\tat io.weaseldb" not in text, text[-2000:]
    assert server.client().version().leader_id == server.leader_id, "the running server is untouched"
