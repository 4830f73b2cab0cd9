"""Leader takeover on shared storage: a second server on the same S3 bucket takes over the log.

The contract: every process start is a new term with a new leader_id; a new leader lists
the log and continues it; the old leader, at its next write, loses the race on the object
name (If-None-Match), stops accepting commits, fails its unacknowledged commits with 503,
and ends its subscribe streams. Nothing acknowledged is ever lost.

Two WeaselDB processes need one bucket both can reach, so this runs on S3Proxy only (the
embedded fake S3 belongs to its server's process). One scenario runs once for the module:
the old leader keeps committing while the new one starts; the tests then check its facts.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

import pytest

import weaseldb
from harness import RawStream, ServerProcess, history, wait_until
from weaseldb import LeaderChanged, Transaction, Unavailable, WeaselError, Write


@dataclass
class Takeover:
    old: ServerProcess
    new: ServerProcess
    prefix: bytes
    acked_before: list[tuple[str, int]] = field(default_factory=list)  # before the new leader's process started
    acked_after: list[tuple[str, int]] = field(default_factory=list)  # by the old leader, from then on
    failed: list[tuple[str, WeaselError]] = field(default_factory=list)
    old_ok_after: list[bool] = field(default_factory=list)               # /ok on the old leader, sampled afterwards
    old_stream_ended: bool = False
    log: list[Transaction] = field(default_factory=list)


@pytest.fixture(scope="module")
def takeover(request: pytest.FixtureRequest, session_procs, tmp_path_factory) -> Takeover:
    proxy = session_procs.get_s3proxy()
    root = tmp_path_factory.mktemp("takeover")
    old = ServerProcess(root / "old", proxy.s3_config(), label="old-leader")
    new = ServerProcess(root / "new", old.config, label="new-leader")  # the same bucket
    request.addfinalizer(lambda: (session_procs.retire(old), session_procs.retire(new)))
    old.start()
    prefix = b"t/takeover/%d/" % time.time_ns()
    t = Takeover(old, new, prefix)
    stream = RawStream(old.port, "after=0")
    assert stream.status == 200
    spawned = threading.Event()  # set just before the new leader's process is started
    stop = threading.Event()

    def writer() -> None:
        c = weaseldb.Client(old.url, timeout=15)
        i = 0
        while not stop.is_set() and len(t.failed) < 5:
            rid = f"old-{i:05d}-{prefix.hex()}"
            i += 1
            try:
                v = c.commit([Write(prefix + b"k", b"%d" % i)], request_id=rid).version
            except WeaselError as exc:
                t.failed.append((rid, exc))
                continue
            # Acknowledged before the new leader's process existed, or possibly after it listed the log.
            (t.acked_after if spawned.is_set() else t.acked_before).append((rid, v))
        c.close()

    w = threading.Thread(target=writer, daemon=True)
    w.start()
    try:
        wait_until(lambda: len(t.acked_before) >= 5, 30, "the old leader to acknowledge commits")
        spawned.set()
        new.start()
        # Give the old leader the chance to notice: until it refuses commits, or has
        # acknowledged 20 more (several of the new leader's heartbeats, 1 s apart, later).
        wait_until(lambda: t.failed or len(t.acked_after) >= 20 and _ok_sample(t), 60,
                   "the old leader to refuse commits or acknowledge 20 more")
    finally:
        stop.set()
        w.join(30)
    try:
        stream.read_until(lambda ev, raw: False, 5, "the end of the old leader's stream")
    except AssertionError as exc:
        t.old_stream_ended = "stream ended" in str(exc)
    finally:
        stream.close()
    cn = weaseldb.Client(new.url, timeout=20)
    end = cn.commit([Write(prefix + b"end", b"")]).version
    t.log = history(cn, 0, end, timeout=60)
    cn.close()
    return t


def _ok_sample(t: Takeover) -> bool:
    c = weaseldb.Client(t.old.url, timeout=5)
    try:
        c.ok()
        t.old_ok_after.append(True)
    except WeaselError:
        t.old_ok_after.append(False)
    finally:
        c.close()
    return True


def test_new_leader_continues_the_log(takeover: Takeover) -> None:
    logged = {tx.request_id: tx.version for tx in takeover.log}
    for rid, v in takeover.acked_before:
        assert logged.get(rid) == v, f"{rid} acknowledged at {v} before the takeover is missing"
    terms = [tx.leader_id for tx in takeover.log]
    assert takeover.new.leader_id in terms and takeover.old.leader_id in terms
    c = takeover.new.client()
    with pytest.raises(LeaderChanged) as info:
        c.commit([Write(takeover.prefix + b"x", b"")], leader_id=takeover.old.leader_id)
    assert info.value.leader_id == takeover.new.leader_id


@pytest.mark.xfail(strict=True, reason="server bug: after a takeover the new leader deletes log objects the old "
                   "leader wrote and acknowledged ('deleting an orphan of older term ... that sits where this term "
                   "writes'), so acknowledged commits disappear from the log")
def test_no_acknowledged_commit_is_lost_in_a_takeover(takeover: Takeover) -> None:
    logged = {tx.request_id: tx.version for tx in takeover.log}
    lost = [(rid, v) for rid, v in takeover.acked_after if logged.get(rid) != v]
    assert not lost, (f"{len(lost)} of {len(takeover.acked_after)} commits the old leader acknowledged after the "
                      f"new leader started are not in the log: {lost[:5]}")


@pytest.mark.xfail(strict=True, reason="server bug: the old leader is never fenced: it keeps acknowledging "
                   "commits, /ok stays 200 and its subscribe streams stay open after another leader took over")
def test_old_leader_is_fenced(takeover: Takeover) -> None:
    assert takeover.failed, (f"the old leader acknowledged {len(takeover.acked_after)} commits after the new "
                             f"leader started and refused none")
    for rid, exc in takeover.failed:
        assert isinstance(exc, Unavailable), (rid, exc)
    assert takeover.old_stream_ended, "the old leader's subscribe stream did not end"
    c = weaseldb.Client(takeover.old.url, timeout=5)
    with pytest.raises(Unavailable):
        c.ok()
    with pytest.raises(Unavailable):
        c.commit([Write(takeover.prefix + b"late", b"")])
