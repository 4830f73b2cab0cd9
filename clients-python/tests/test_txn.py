"""The transaction helper: retries, backoff, and status-based resolution of unknown outcomes."""

from __future__ import annotations

import itertools
import random

import pytest

from conftest import Closing, FakeServer, FakeSleep, Recorded, Reply
from weaseldb import (
    Backoff, BadRequest, Client, Conflict, OutcomeUnknown, PointRead, RangeRead, Replica, TooOld, Transaction,
    TransportError, Txn, Write, Unavailable,
)


def committed(req: Recorded, version: int = 100) -> Reply:
    return Reply(body={"status": "committed", "version": version, "leader_id": "L1",
                       "request_id": req.json()["request_id"]})


def conflict(version: int) -> Reply:
    return Reply(409, {"error": "conflict", "status": "conflict", "version": version, "leader_id": "L1",
                       "request_id": "x" * 20, "conflicts": [0], "message": "precondition failed"})


def ids() -> itertools.count:  # type: ignore[type-arg]
    return itertools.count(1)


def make_ids():  # type: ignore[no-untyped-def]
    c = itertools.count(1)
    return lambda: f"request-{next(c):015d}"


def increment(txn: Txn) -> int:
    txn.add_read(b"counter")
    txn.set(b"counter", b"1")
    return txn.attempt


def run(client: Client, sleep: FakeSleep, fn=increment, **kw):  # type: ignore[no-untyped-def]
    kw.setdefault("request_id_factory", make_ids())
    return client.transact(fn, sleep=sleep, rng=random.Random(3), **kw)


def test_commits_once_with_read_version_from_the_server(closing: Closing,
                                                        server: FakeServer, fake_sleep: FakeSleep) -> None:
    server.on("GET", "/v1/version", Reply(body={"version": 10, "leader_id": "L1"}))
    server.on("POST", "/v1/commit", committed)
    res = run(closing(Client(server.url)), fake_sleep)
    assert (res.value, res.attempts, res.version, res.resolved_by_status) == (1, 1, 100, False)
    body = server.calls("/v1/commit")[0].json()
    assert body["read_version"] == 10 and body["request_id"] == "request-000000000000001"
    assert len(body["request_id"]) >= 20
    assert body["preconditions"] == [{"type": "point_read", "key": "Y291bnRlcg=="}]
    assert fake_sleep.delays == []


def test_default_request_ids_are_long_and_unique(closing: Closing, server: FakeServer, fake_sleep: FakeSleep) -> None:
    server.on("GET", "/v1/version", Reply(body={"version": 10, "leader_id": "L1"}))
    server.on("POST", "/v1/commit", conflict(11), committed)
    closing(Client(server.url)).transact(increment, sleep=fake_sleep)
    a, b = (r.json()["request_id"] for r in server.calls("/v1/commit"))
    assert a != b and len(a) >= 20 and len(b) >= 20


def test_conflicts_retry_from_the_reported_version_with_jittered_exponential_backoff(closing: Closing, 
        server: FakeServer, fake_sleep: FakeSleep) -> None:
    server.on("GET", "/v1/version", Reply(body={"version": 10, "leader_id": "L1"}))
    server.on("POST", "/v1/commit", conflict(20), conflict(30), conflict(40), committed)
    res = run(closing(Client(server.url)), fake_sleep, backoff=Backoff(0.01, 1.0, rng=random.Random(5)))
    assert res.attempts == 4 and res.value == 4
    bodies = [r.json() for r in server.calls("/v1/commit")]
    assert [b["read_version"] for b in bodies] == [10, 20, 30, 40]
    assert len({b["request_id"] for b in bodies}) == 4  # a new id per attempt
    assert len(server.calls("/v1/version")) == 1  # later attempts used the conflict's version
    assert len(fake_sleep.delays) == 3
    for i, d in enumerate(fake_sleep.delays):
        assert 0 <= d <= 0.01 * 2 ** i


def test_too_old_retries_and_gives_up_after_retries(closing: Closing,
                                                    server: FakeServer, fake_sleep: FakeSleep) -> None:
    server.on("GET", "/v1/version", Reply(body={"version": 10, "leader_id": "L1"}))
    server.on("POST", "/v1/commit", Reply(409, {"error": "too_old", "status": "too_old", "version": 50}))
    with pytest.raises(TooOld):
        run(closing(Client(server.url)), fake_sleep, retries=2)
    assert len(server.calls("/v1/commit")) == 3 and len(fake_sleep.delays) == 2


def test_conflict_is_raised_when_retries_are_exhausted(closing: Closing,
                                                       server: FakeServer, fake_sleep: FakeSleep) -> None:
    server.on("GET", "/v1/version", Reply(body={"version": 10, "leader_id": "L1"}))
    server.on("POST", "/v1/commit", conflict(20))
    with pytest.raises(Conflict):
        run(closing(Client(server.url)), fake_sleep, retries=0)
    assert len(server.calls("/v1/commit")) == 1


def test_bad_request_is_not_retried(closing: Closing, server: FakeServer, fake_sleep: FakeSleep) -> None:
    server.on("GET", "/v1/version", Reply(body={"version": 10, "leader_id": "L1"}))
    server.on("POST", "/v1/commit", Reply(400, {"error": "bad_request", "message": "no"}))
    with pytest.raises(BadRequest):
        run(closing(Client(server.url)), fake_sleep)
    assert len(server.calls("/v1/commit")) == 1


def test_definite_503_and_429_retry_honouring_retry_after(closing: Closing,
                                                          server: FakeServer, fake_sleep: FakeSleep) -> None:
    server.on("GET", "/v1/version", Reply(body={"version": 10, "leader_id": "L1"}))
    server.on("POST", "/v1/commit",
              Reply(503, {"error": "unavailable", "message": "not leader", "outcome": "not_committed"},
                    headers={"Retry-After": "0.5"}),
              Reply(429, {"error": "too_many_requests", "message": "slow"}, headers={"Retry-After": "0.25"}),
              committed)
    res = run(closing(Client(server.url)), fake_sleep)
    assert res.attempts == 3 and fake_sleep.delays[0] >= 0.5 and fake_sleep.delays[1] >= 0.25
    assert server.calls("/v1/status") == []


def test_lost_reply_resolved_as_committed_via_status(closing: Closing,
                                                     server: FakeServer, fake_sleep: FakeSleep) -> None:
    server.on("GET", "/v1/version", Reply(body={"version": 10, "leader_id": "L1"}))
    server.on("POST", "/v1/commit", Reply(drop=True))
    server.on("GET", "/v1/status", lambda req: Reply(body={"request_id": req.query["request_id"],
                                                          "status": "committed", "version": 77, "leader_id": "L1"}))
    res = run(closing(Client(server.url)), fake_sleep)
    assert res.resolved_by_status and res.version == 77 and res.attempts == 1
    assert res.commit is not None and res.commit.request_id == "request-000000000000001"
    st = server.calls("/v1/status")[0]
    assert st.query == {"request_id": "request-000000000000001", "min_version": "10"}
    # Only the transparent stale-connection retry resent it, under the same id.
    assert {r.json()["request_id"] for r in server.calls("/v1/commit")} == {"request-000000000000001"}


@pytest.mark.parametrize("status", [502, 503, 504])
def test_proxy_5xx_on_a_commit_is_resolved_through_status_not_retried(closing: Closing,
                                                                      server: FakeServer, fake_sleep: FakeSleep,
                                                                      status: int) -> None:
    # The gateway gave up waiting, but the server committed: a retry under a new id
    # would apply the transaction twice.
    server.on("GET", "/v1/version", Reply(body={"version": 10, "leader_id": "L1"}))
    server.on("POST", "/v1/commit", Reply(status, b"<html>gateway</html>", headers={"Content-Type": "text/html"}),
              committed)
    server.on("GET", "/v1/status", lambda req: Reply(body={"request_id": req.query["request_id"],
                                                          "status": "committed", "version": 77, "leader_id": "L1"}))
    res = run(closing(Client(server.url)), fake_sleep)
    assert res.resolved_by_status and res.version == 77 and res.attempts == 1
    assert len(server.calls("/v1/commit")) == 1


def test_unknown_503_not_committed_retries_with_a_new_request_id(closing: Closing, server: FakeServer,
                                                                 fake_sleep: FakeSleep) -> None:
    server.on("GET", "/v1/version", Reply(body={"version": 10, "leader_id": "L1"}))
    server.on("POST", "/v1/commit",
              Reply(503, {"error": "unavailable", "message": "storage", "outcome": "unknown"}), committed)
    server.on("GET", "/v1/status", Reply(body={"request_id": "request-000000000000001",
                                              "status": "not_committed", "version": 15}))
    res = run(closing(Client(server.url)), fake_sleep)
    assert res.attempts == 2 and not res.resolved_by_status
    first, second = (r.json()["request_id"] for r in server.calls("/v1/commit"))
    assert first == "request-000000000000001" and second == "request-000000000000002"


@pytest.mark.parametrize("reply", [
    Reply(503, {"error": "unavailable", "message": "storage", "outcome": "unknown"}),
    Reply(drop=True),
])
def test_out_of_retries_after_status_said_not_committed_the_error_says_not_committed(closing: Closing, 
        server: FakeServer, fake_sleep: FakeSleep, reply: Reply) -> None:
    server.on("GET", "/v1/version", Reply(body={"version": 10, "leader_id": "L1"}))
    server.on("POST", "/v1/commit", reply)
    server.on("GET", "/v1/status", lambda req: Reply(body={"request_id": req.query["request_id"],
                                                          "status": "not_committed", "version": 15}))
    with pytest.raises((Unavailable, TransportError)) as info:
        run(closing(Client(server.url)), fake_sleep, retries=1)
    err = info.value
    assert not err.outcome_unknown, "status settled it: the caller must not think it may have committed"
    assert err.resolved == "not_committed" and err.outcome == "not_committed"
    assert "not committed" in str(err)
    assert len(server.calls("/v1/status")) == 2


def test_status_is_retried_until_it_answers(closing: Closing, server: FakeServer, fake_sleep: FakeSleep) -> None:
    server.on("GET", "/v1/version", Reply(body={"version": 10, "leader_id": "L1"}))
    server.on("POST", "/v1/commit", Reply(drop=True))
    server.on("GET", "/v1/status", Reply(drop=True), Reply(503, {"error": "unavailable", "message": "electing"}),
              Reply(body={"request_id": "request-000000000000001", "status": "committed", "version": 12}))
    res = run(closing(Client(server.url)), fake_sleep)
    assert res.version == 12 and len(server.calls("/v1/status")) == 3


def test_status_410_means_outcome_unknown(closing: Closing, server: FakeServer, fake_sleep: FakeSleep) -> None:
    server.on("GET", "/v1/version", Reply(body={"version": 10, "leader_id": "L1"}))
    server.on("POST", "/v1/commit", Reply(drop=True))
    server.on("GET", "/v1/status", Reply(410, {"error": "log_truncated", "message": "gone"}))
    with pytest.raises(OutcomeUnknown) as info:
        run(closing(Client(server.url)), fake_sleep)
    assert info.value.request_id == "request-000000000000001" and info.value.outcome_unknown
    assert {r.json()["request_id"] for r in server.calls("/v1/commit")} == {"request-000000000000001"}


def test_status_that_never_answers_means_outcome_unknown(closing: Closing,
                                                         server: FakeServer, fake_sleep: FakeSleep) -> None:
    server.on("GET", "/v1/version", Reply(body={"version": 10, "leader_id": "L1"}))
    server.on("POST", "/v1/commit", Reply(503, {"error": "unavailable", "message": "s3", "outcome": "unknown"}))
    server.on("GET", "/v1/status", Reply(503, {"error": "unavailable", "message": "down"}))
    with pytest.raises(OutcomeUnknown):
        run(closing(Client(server.url)), fake_sleep, status_attempts=3, status_patience=0)
    assert len(server.calls("/v1/status")) == 3


def test_status_is_asked_for_its_patience_not_only_its_attempts(closing: Closing,
                                                                server: FakeServer, fake_sleep: FakeSleep) -> None:
    # A restarting server refuses at once: eight quick tries would be over before it is back.
    server.on("GET", "/v1/version", Reply(body={"version": 10, "leader_id": "L1"}))
    server.on("POST", "/v1/commit", Reply(drop=True))
    server.on("GET", "/v1/status", Reply(drop=True))
    with pytest.raises(OutcomeUnknown) as info:
        run(closing(Client(server.url)), fake_sleep, status_attempts=2, status_patience=20.0)
    tries = len(server.calls("/v1/status"))
    assert tries > 2, "the attempts alone must not end the wait"
    assert sum(fake_sleep.delays[-(tries - 1):]) >= 20.0, fake_sleep.delays
    assert "did not answer" in str(info.value)


def test_status_answering_late_within_the_patience_resolves(closing: Closing,
                                                            server: FakeServer, fake_sleep: FakeSleep) -> None:
    server.on("GET", "/v1/version", Reply(body={"version": 10, "leader_id": "L1"}))
    server.on("POST", "/v1/commit", Reply(drop=True))
    server.on("GET", "/v1/status", *([Reply(drop=True)] * 12),
              Reply(body={"request_id": "request-000000000000001", "status": "committed", "version": 11,
                          "leader_id": "L2"}))
    res = run(closing(Client(server.url)), fake_sleep)
    assert res.resolved_by_status and res.version == 11
    assert len(server.calls("/v1/status")) == 13


def test_version_endpoint_failures_are_retried(closing: Closing, server: FakeServer, fake_sleep: FakeSleep) -> None:
    server.on("GET", "/v1/version", Reply(drop=True), Reply(body={"version": 10, "leader_id": "L1"}))
    server.on("POST", "/v1/commit", committed)
    assert run(closing(Client(server.url)), fake_sleep).attempts == 2


def test_nothing_buffered_sends_nothing(closing: Closing, server: FakeServer, fake_sleep: FakeSleep) -> None:
    server.on("GET", "/v1/version", Reply(body={"version": 10, "leader_id": "L1"}))
    res = run(closing(Client(server.url)), fake_sleep, fn=lambda txn: "nothing")
    assert res.commit is None and res.value == "nothing" and server.calls("/v1/commit") == []


def test_user_exceptions_propagate_without_commit(closing: Closing, server: FakeServer, fake_sleep: FakeSleep) -> None:
    server.on("GET", "/v1/version", Reply(body={"version": 10, "leader_id": "L1"}))

    def boom(txn: Txn) -> None:
        txn.set(b"k", b"v")
        raise KeyError("abort")

    with pytest.raises(KeyError):
        run(closing(Client(server.url)), fake_sleep, fn=boom)
    assert server.calls("/v1/commit") == []


@pytest.mark.parametrize("raised", [
    Conflict("from a commit fn made itself", body={"version": 20}),
    Unavailable("from a call fn made", status=503),
    TransportError("from a call fn made", sent=False),
])
def test_weasel_errors_raised_by_fn_abort_instead_of_retrying(closing: Closing,
                                                              server: FakeServer, fake_sleep: FakeSleep,
                                                              raised: Exception) -> None:
    server.on("GET", "/v1/version", Reply(body={"version": 10, "leader_id": "L1"}))
    calls = []

    def fn(txn: Txn) -> None:
        calls.append(txn.attempt)
        txn.set(b"k", b"v")
        raise raised

    with pytest.raises(type(raised)) as info:
        run(closing(Client(server.url)), fake_sleep, fn=fn)
    assert info.value is raised
    assert calls == [1] and fake_sleep.delays == [] and server.calls("/v1/commit") == []


def test_reads_through_a_replica_record_preconditions_at_its_version(closing: Closing, server: FakeServer,
                                                                     fake_sleep: FakeSleep) -> None:
    replica = Replica(None, after=0)
    replica.apply(Transaction(5, 0, "r", "", "L", (Write(b"a", b"1"), Write(b"b", b"2"), Write(b"c", b"3"))))
    server.on("POST", "/v1/commit", committed)

    def fn(txn: Txn) -> tuple[bytes | None, list[tuple[bytes, bytes]]]:
        a = txn.get(b"a")
        txn.set(b"b", b"22")
        txn.delete(b"c")
        items = txn.range(b"a", b"z")
        txn.add_range_read(b"x", b"y")
        return a, items

    res = run(closing(Client(server.url)), fake_sleep, fn=fn, replica=replica, read_version=5)
    assert res.value == (b"1", [(b"a", b"1"), (b"b", b"22")])  # read-your-writes
    body = server.calls("/v1/commit")[0].json()
    assert body["preconditions"] == [
        {"type": "point_read", "key": "YQ==", "version": 5},
        {"type": "range_read", "begin": "YQ==", "end": "eg==", "version": 5},
        {"type": "range_read", "begin": "eA==", "end": "eQ=="},
    ]


def test_range_with_limit_records_only_the_part_read() -> None:
    replica = Replica(None, after=0)
    replica.apply(Transaction(3, 0, "r", "", "L", tuple(Write(bytes([k]), b"v") for k in b"abcde")))
    txn = Txn(3, request_id="r" * 20, replica=replica)
    assert [k for k, _ in txn.range(b"a", b"z", limit=2)] == [b"a", b"b"]
    assert txn.preconditions == [RangeRead(b"a", b"b\x00", 3)]
    assert Txn(3, request_id="r" * 20).preconditions == []


def test_txn_get_without_replica_explains() -> None:
    with pytest.raises(RuntimeError, match="replica"):
        Txn(1, request_id="r" * 20).get(b"k")
    t = Txn(1, request_id="r" * 20)
    t.add_read(b"k", 3)
    assert t.preconditions == [PointRead(b"k", 3)]


def test_unavailable_is_exported() -> None:
    assert issubclass(Unavailable, Exception)


def test_a_stopped_replica_is_raised_at_once_not_retried(closing: Closing,
                                                         server: FakeServer, fake_sleep: FakeSleep) -> None:
    # The replica's follower gave up (max_reconnects): wait_for raises that stored error
    # on every attempt, so retrying could only loop (forever with retries=None).
    server.on("GET", "/v1/version", Reply(body={"version": 5, "leader_id": "L"}))
    server.on("GET", "/v1/subscribe", Reply(503, {"error": "unavailable", "message": "down"}))
    c = closing(Client(server.url))
    r = closing(Replica(c, after=0, max_reconnects=1, backoff=Backoff(0.001, 0.001)))
    with pytest.raises(Unavailable):
        r.wait_for(5, timeout=10)
    with pytest.raises(Unavailable) as info:
        run(c, fake_sleep, fn=lambda t: t.set(b"k", b"v"), replica=r, retries=200)
    assert info.value is r.error
    assert fake_sleep.delays == [] and server.calls("/v1/commit") == []
    r.close()


def test_retry_after_beyond_the_backoff_cap_is_honoured(closing: Closing,
                                                        server: FakeServer, fake_sleep: FakeSleep) -> None:
    server.on("GET", "/v1/version", Reply(body={"version": 10, "leader_id": "L1"}))
    server.on("POST", "/v1/commit",
              Reply(429, {"error": "too_many_requests", "message": "slow"}, headers={"Retry-After": "5"}),
              Reply(503, {"error": "unavailable", "message": "not leader", "outcome": "not_committed"},
                    headers={"Retry-After": "30"}),
              committed)
    res = run(closing(Client(server.url)), fake_sleep)  # default backoff: capped at 1 s
    assert res.attempts == 3 and fake_sleep.delays == [5.0, 30.0]


def test_backoff_bounds_retry_after_by_max_retry_after_not_cap() -> None:
    b = Backoff(0.01, 1.0, rng=random.Random(1))
    assert b.next(5.0) == 5.0
    assert b.next(86400.0) == 300.0
    assert Backoff(0.01, 1.0, max_retry_after=60.0).next(86400.0) == 60.0
    assert b.next(None) <= 1.0
