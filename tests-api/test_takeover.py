"""Two servers on one S3 bucket: a standby, a failover from a stalled leader, and fencing.

The contract: the server that assigns versions is the leader; a server that is not the
leader answers commits with 503 (nothing committed); every takeover is a new term with a new
leader_id; the deposed leader loses the race on its next log object, stops accepting
commits, fails what it had not acknowledged with 503 and ends its subscribe streams; nothing
acknowledged is ever lost. (Standby details, e.g. naming the leader, are the server's own.)

Two WeaselDB processes need one bucket both can reach, so this runs on S3Proxy only (the
embedded fake S3 belongs to its server's process). One scenario runs once for the module:

1. ``old`` leads and a writer commits to it without pause;
2. ``new`` starts on the same bucket and stands by;
3. ``old`` is frozen (SIGSTOP) until ``new`` takes the log over, then thawed (SIGCONT),
   while the writer keeps committing to ``old``.

The tests then check what each side answered against the log.
"""

from __future__ import annotations

import json
import os
import signal
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
    old_leader: str = ""
    acked: list[tuple[str, int]] = field(default_factory=list)
    failed: list[tuple[str, WeaselError]] = field(default_factory=list)
    standby_answers: dict[str, weaseldb.transport.Response] = field(default_factory=dict)
    standby_versions: list[tuple[int, int, dict]] = field(default_factory=list)  # (acked, status, body)
    old_stream_ended: bool = False
    old_ok_after: weaseldb.transport.Response | None = None
    old_commit_after: weaseldb.transport.Response | None = None
    log: list[Transaction] = field(default_factory=list)


@pytest.fixture(scope="module")
def takeover(session_procs, tmp_path_factory) -> Takeover:
    proxy = session_procs.get_s3proxy()
    root = tmp_path_factory.mktemp("takeover")
    old = ServerProcess(root / "old", proxy.s3_config(), label="old-leader")
    new = ServerProcess(root / "new", old.config, label="new-leader")  # the same bucket
    try:
        yield _scenario(old, new)
    finally:
        for srv in (old, new):
            if srv.proc is not None and srv.proc.poll() is None:
                os.kill(srv.proc.pid, signal.SIGCONT)
            session_procs.retire(srv)


def _scenario(old: ServerProcess, new: ServerProcess) -> Takeover:
    old.start()
    prefix = b"t/takeover/%d/" % time.time_ns()
    t = Takeover(old, new, prefix, old_leader=old.leader_id)
    stop = threading.Event()

    def writer() -> None:
        c = weaseldb.Client(old.url, timeout=30)
        i = 0
        while not stop.is_set():
            rid = f"old-{i:05d}-{prefix.hex()}"
            i += 1
            try:
                t.acked.append((rid, c.commit([Write(prefix + b"k", b"%d" % i)], request_id=rid).version))
            except WeaselError as exc:
                t.failed.append((rid, exc))
                time.sleep(0.05)  # a refusing server answers at once; do not spin
        c.close()

    w = threading.Thread(target=writer, daemon=True)
    w.start()
    stream = RawStream(old.port, "after=0")
    try:
        assert stream.status == 200
        wait_until(lambda: len(t.acked) >= 5, 30, "the old leader to acknowledge commits")

        new.start(standby=True)
        cn = weaseldb.Client(new.url, timeout=10)
        co = weaseldb.Client(old.url, timeout=10)
        for name, (method, path, body) in {
            "ok": ("GET", "/ok", None),
            "commit": ("POST", "/v1/commit", {"operations": [{"type": "write", "key": "YQ==", "value": ""}]}),
            "status": ("GET", "/v1/status?request_id=standby-status-00000000000", None),
            "subscribe": ("GET", "/v1/subscribe?after=0", None),
            "retention": ("GET", "/v1/retention/", None),
        }.items():
            t.standby_answers[name] = cn.request(method, path, body)
        # /v1/version right after an acknowledged commit, asked of the standby.
        for _ in range(5):
            v = co.commit([Write(prefix + b"probe", b"")]).version
            resp = cn.request("GET", "/v1/version")
            t.standby_versions.append((v, resp.status, resp.json() if resp.body else {}))

        # Freeze the leader until the standby takes the log over.
        assert old.proc is not None
        os.kill(old.proc.pid, signal.SIGSTOP)
        try:
            wait_until(lambda: cn.request("GET", "/ok").status == 200, 60, "the standby to take over")
        finally:
            os.kill(old.proc.pid, signal.SIGCONT)
        new.leader_id = cn.ok().leader_id or ""
        # The old leader finds out at its next log write and refuses from then on.
        wait_until(lambda: t.failed, 30, "the deposed leader to refuse commits")
        seen = len(t.acked)
        wait_until(lambda: len(t.failed) >= 3, 30, "the deposed leader to keep refusing")
        assert len(t.acked) - seen <= 1, "the deposed leader acknowledged commits after it refused one"
    finally:
        stop.set()
        w.join(60)
    try:
        stream.read_until(lambda ev, raw: False, 10, "the end of the old leader's stream")
    except AssertionError as exc:
        t.old_stream_ended = "stream ended" in str(exc)
    finally:
        stream.close()
    t.old_ok_after = co.request("GET", "/ok")
    t.old_commit_after = co.request("POST", "/v1/commit", {"operations": []})
    end = cn.commit([Write(prefix + b"end", b"")]).version
    t.log = history(cn, 0, end, timeout=60)
    cn.close()
    co.close()
    return t


def test_standby_refuses_with_503_and_names_the_leader(takeover: Takeover) -> None:
    for name, resp in takeover.standby_answers.items():
        assert resp.status == 503, (name, resp.status, resp.body[:300])
        doc = resp.json()
        assert doc["error"] == "unavailable" and doc.get("message"), (name, doc)
    commit = takeover.standby_answers["commit"].json()
    assert commit.get("outcome") != "unknown", "a standby never started the commit: its outcome is known"
    assert commit.get("leader_id") == takeover.old_leader, commit


def test_standby_version_is_never_stale(takeover: Takeover) -> None:
    for acked, status, body in takeover.standby_versions:
        # Either it cannot promise (503) or it promises the contract: >= every acknowledged commit.
        assert status == 503 or body["version"] >= acked, (
            f"/v1/version on the standby said {body} right after the leader acknowledged version {acked}")


def test_new_leader_takes_over_with_a_new_term(takeover: Takeover) -> None:
    assert takeover.new.leader_id and takeover.new.leader_id != takeover.old_leader
    leaders = [tx.leader_id for tx in takeover.log]
    assert leaders[0] == takeover.old_leader and leaders[-1] == takeover.new.leader_id
    c = takeover.new.client()
    with pytest.raises(LeaderChanged) as info:
        c.commit([Write(takeover.prefix + b"x", b"")], leader_id=takeover.old_leader)
    assert info.value.leader_id == takeover.new.leader_id


def test_no_acknowledged_commit_is_lost(takeover: Takeover) -> None:
    logged: dict[str, int] = {}
    for tx in takeover.log:
        assert tx.request_id not in logged, f"{tx.request_id} is in the log twice"
        logged[tx.request_id] = tx.version
    lost = [(rid, v) for rid, v in takeover.acked if logged.get(rid) != v]
    assert not lost, f"{len(lost)} of {len(takeover.acked)} acknowledged commits are not in the log: {lost[:5]}"
    c = takeover.new.client()
    for rid, exc in takeover.failed:
        if exc.outcome_unknown:
            # Resolved by the new leader; its answer agrees with the log.
            assert c.status(rid).committed == (rid in logged), (rid, exc)
        else:
            assert rid not in logged, f"{rid} was refused with a 503 without outcome unknown ({exc}) yet it committed"


def test_deposed_leader_steps_down(takeover: Takeover) -> None:
    for rid, exc in takeover.failed:
        assert isinstance(exc, Unavailable), (rid, exc)
    assert takeover.old_stream_ended, "the deposed leader's subscribe stream did not end"
    assert takeover.old_ok_after is not None and takeover.old_ok_after.status == 503
    assert takeover.old_commit_after is not None and takeover.old_commit_after.status == 503
    assert json.loads(takeover.old_commit_after.body)["error"] == "unavailable"
