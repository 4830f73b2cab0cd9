"""POST /v1/commit: outcomes, preconditions at range boundaries, idempotency, leader_id, too_old."""

from __future__ import annotations

import time

import pytest

import weaseldb
from harness import history, wait_until
from weaseldb import (
    BadRequest,
    Conflict,
    Delete,
    LeaderChanged,
    PointRead,
    RangeDelete,
    RangeRead,
    TooOld,
    Write,
)


def conflict_after(client: weaseldb.Client, ns: bytes, changes: list, preconditions: list) -> Conflict | None:
    """Read at a version, let ``changes`` commit, then commit with ``preconditions`` at the read.

    Returns the Conflict if the commit was refused, None if it committed.
    """
    base = client.commit([Write(ns + b"~base", b"")]).version
    if changes:
        client.commit(changes)
    try:
        client.commit([Write(ns + b"~probe", b"x")], preconditions, read_version=base)
    except Conflict as exc:
        return exc
    return None


# -- committed -------------------------------------------------------------------------------


@pytest.mark.both_backends
def test_commit_returns_version_leader_and_request_id(client: weaseldb.Client, ns: bytes) -> None:
    leader = client.version().leader_id
    rid = "commit-test-" + ns.hex()[-20:]
    res = client.commit([Write(ns + b"k", b"v")], request_id=rid)
    assert res.request_id == rid
    assert res.leader_id == leader
    assert res.duplicate is False
    assert res.raw["status"] == "committed"
    assert set(res.raw) >= {"status", "version", "leader_id", "request_id"}
    assert res.raw.get("duplicate", False) is False


def test_versions_strictly_increase(client: weaseldb.Client, ns: bytes) -> None:
    versions = [client.commit([Write(ns + b"k", b"%d" % i)]).version for i in range(10)]
    assert versions == sorted(set(versions)), versions


def test_server_generates_request_id_when_omitted(server, ns: bytes) -> None:
    c = server.client(auto_request_id=False)
    body = c.commit_body([Write(ns + b"k", b"v")])
    assert "request_id" not in body
    res = c.commit([Write(ns + b"k", b"v")])
    assert res.request_id, res.raw
    other = c.commit([Write(ns + b"k", b"w")])
    assert other.request_id and other.request_id != res.request_id
    # The generated id is the one recorded in the log.
    txs = history(c, res.version - 1, other.version)
    assert [t.request_id for t in txs if t.version == res.version] == [res.request_id]


def test_empty_and_absent_fields_commit(client: weaseldb.Client) -> None:
    for body in ({}, {"preconditions": [], "operations": []}, {"operations": []}, {"preconditions": []}):
        resp = client.request("POST", "/v1/commit", body)
        assert resp.status == 200, (body, resp.body)
        assert resp.json()["status"] == "committed"


def test_unknown_fields_are_ignored(client: weaseldb.Client, ns: bytes) -> None:
    v = client.version().version
    key = weaseldb.model.b64encode(ns + b"k")
    body = {
        "future_field": {"nested": [1, 2, 3]},
        "read_version": v,
        "preconditions": [{"type": "point_read", "key": key, "hint": "x"}],
        "operations": [{"type": "write", "key": key, "value": "dg==", "ttl": 5}],
    }
    resp = client.request("POST", "/v1/commit", body)
    assert resp.status == 200, resp.body
    assert resp.json()["status"] == "committed"


def test_operations_recorded_in_order_with_exact_bytes(client: weaseldb.Client, ns: bytes) -> None:
    every_byte = bytes(range(256))
    ops = [
        Write(ns + b"k", b"first"),
        Write(ns + b"k", b"second"),          # a later write to the same key wins
        Write(ns + every_byte, every_byte),
        Write(ns + b"empty-value", b""),
        Delete(ns + b"gone"),
        RangeDelete(ns + b"r\x00", ns + b"r\xff"),
        Write(ns + b"r\x01", b"after the range delete"),
    ]
    res = client.commit(ops)
    [tx] = [t for t in history(client, res.version - 1, res.version) if t.version == res.version]
    assert list(tx.operations) == ops
    assert tx.request_id == res.request_id


def test_replica_applies_operations_in_order(server, ns: bytes) -> None:
    c = server.client()
    start = c.version().version
    res = c.commit([Write(ns + b"k", b"first"), Write(ns + b"k", b"second"), Write(ns + b"r1", b"x"),
                    RangeDelete(ns + b"r", ns + b"s"), Write(ns + b"r2", b"y")])
    with weaseldb.Replica(c, after=start) as replica:
        replica.wait_for(res.version, timeout=20)
        assert replica.get(ns + b"k") == b"second"
        assert replica.get(ns + b"r1") is None
        assert replica.get(ns + b"r2") == b"y"


# -- request ids and idempotency --------------------------------------------------------------


def test_request_id_shorter_than_minimum_is_400(client: weaseldb.Client, ns: bytes) -> None:
    with pytest.raises(BadRequest) as info:
        client.commit([Write(ns + b"k", b"v")], request_id="x" * 19)
    assert info.value.code == "bad_request"
    res = client.commit([Write(ns + b"k", b"v")], request_id=(ns.hex() + "y" * 20)[-20:])
    assert res.request_id == (ns.hex() + "y" * 20)[-20:]


def test_request_id_length_counts_characters_not_utf16_units(client: weaseldb.Client, ns: bytes) -> None:
    # min_request_id_length is in characters, as JSON Schema's minLength: an emoji is one
    prefix = ns.decode().split("/")[2]  # this test's 8 random hex digits
    with pytest.raises(BadRequest) as info:
        client.commit([Write(ns + b"k", b"v")], request_id=prefix + "\U0001F600" * 11)  # 19 characters
    assert "got 19" in str(info.value)
    rid = prefix + "\U0001F600" * 12  # 20 characters
    assert client.commit([Write(ns + b"k", b"v")], request_id=rid).request_id == rid


@pytest.mark.both_backends
def test_duplicate_request_id_returns_original_outcome(client: weaseldb.Client, ns: bytes) -> None:
    rid = "dup-" + ns.hex()
    first = client.commit([Write(ns + b"k", b"1")], request_id=rid)
    again = client.commit([Write(ns + b"k", b"1")], request_id=rid)
    assert again.duplicate is True and again.raw.get("duplicate") is True
    assert (again.version, again.leader_id, again.request_id) == (first.version, first.leader_id, rid)
    assert again.raw["status"] == "committed"
    # A different body under the same id is still the original outcome, not a second commit.
    other = client.commit([Write(ns + b"k", b"2"), Write(ns + b"other", b"x")], request_id=rid)
    assert other.duplicate is True and other.version == first.version
    end = client.commit([Write(ns + b"end", b"")]).version
    txs = history(client, first.version - 1, end)
    assert [t.version for t in txs if t.request_id == rid] == [first.version]
    assert not any(op.key == ns + b"other" for t in txs for op in t.operations if isinstance(op, Write))


def test_duplicate_is_detected_even_if_preconditions_now_fail(client: weaseldb.Client, ns: bytes) -> None:
    rid = "dup-pre-" + ns.hex()
    base = client.version().version
    first = client.commit([Write(ns + b"k", b"1")], [PointRead(ns + b"k")], read_version=base, request_id=rid)
    # The retry's precondition is now stale (its own write changed k), yet the answer is the original one.
    again = client.commit([Write(ns + b"k", b"1")], [PointRead(ns + b"k")], read_version=base, request_id=rid)
    assert again.duplicate is True and again.version == first.version


# -- preconditions and conflicts ---------------------------------------------------------------


@pytest.mark.both_backends
def test_conflict_reports_failed_indexes_and_a_retry_version(client: weaseldb.Client, ns: bytes) -> None:
    base = client.commit([Write(ns + b"seed", b"")]).version
    changed = client.commit([Write(ns + b"hot", b"1"), Write(ns + b"range/m", b"1")]).version
    pres = [
        PointRead(ns + b"cold"),
        PointRead(ns + b"hot"),
        RangeRead(ns + b"other/", ns + b"other0"),
        RangeRead(ns + b"range/", ns + b"range0"),
    ]
    rid = "conflict-" + ns.hex()
    with pytest.raises(Conflict) as info:
        client.commit([Write(ns + b"out", b"x")], pres, read_version=base, request_id=rid)
    err = info.value
    assert err.status == 409 and err.code == "conflict"
    assert err.body["status"] == "conflict"
    assert err.conflicts == [1, 3]
    assert err.version >= changed
    assert err.body["request_id"] == rid
    assert err.leader_id == client.version().leader_id
    # The refused commit wrote nothing; retrying from the version it named succeeds.
    retry = client.commit([Write(ns + b"out", b"x")], pres, read_version=err.version)
    txs = history(client, base, retry.version)
    assert [t.version for t in txs if any(getattr(op, "key", None) == ns + b"out" for op in t.operations)] \
        == [retry.version]


def test_point_read_at_the_writing_version_holds(client: weaseldb.Client, ns: bytes) -> None:
    v = client.commit([Write(ns + b"k", b"1")]).version
    client.commit([Write(ns + b"out", b"")], [PointRead(ns + b"k", v)])
    with pytest.raises(Conflict):
        client.commit([Write(ns + b"out", b"")], [PointRead(ns + b"k", v - 1)])


def test_precondition_version_overrides_read_version(client: weaseldb.Client, ns: bytes) -> None:
    base = client.version().version
    v = client.commit([Write(ns + b"k", b"1")]).version
    # read_version is stale, but the precondition carries its own, newer version.
    client.commit([Write(ns + b"out", b"")], [PointRead(ns + b"k", v)], read_version=base)
    client.commit([Write(ns + b"out", b"")], [RangeRead(ns + b"k", ns + b"l", v)], read_version=base)
    with pytest.raises(Conflict) as info:
        client.commit([Write(ns + b"out", b"")], [PointRead(ns + b"k", v), PointRead(ns + b"k")], read_version=base)
    assert info.value.conflicts == [1]


def test_read_version_required_when_a_precondition_has_no_version(client: weaseldb.Client, ns: bytes) -> None:
    with pytest.raises(BadRequest):
        client.commit([Write(ns + b"k", b"")], [PointRead(ns + b"k")])
    with pytest.raises(BadRequest):
        client.commit([Write(ns + b"k", b"")], [RangeRead(ns + b"a", ns + b"b")])
    v = client.version().version
    # Not required when every precondition carries its own version.
    client.commit([Write(ns + b"k", b"")], [PointRead(ns + b"k", v), RangeRead(ns + b"a", ns + b"b", v)])


def test_precondition_version_newer_than_latest_is_400(client: weaseldb.Client, ns: bytes) -> None:
    future = client.version().version + 1000
    with pytest.raises(BadRequest):
        client.commit([Write(ns + b"k", b"")], [PointRead(ns + b"k")], read_version=future)
    with pytest.raises(BadRequest):
        client.commit([Write(ns + b"k", b"")], [RangeRead(ns + b"a", ns + b"b", future)])
    with pytest.raises(BadRequest):
        client.commit([Write(ns + b"k", b"")], [PointRead(ns + b"k", future)], read_version=0)


# (changes after the read, conflict expected) for a point read of K
POINT_CASES = {
    "write": ([Write(b"K", b"v")], True),
    "delete": ([Delete(b"K")], True),
    "delete of an absent key": ([Delete(b"K")], True),
    "range delete covering exactly K": ([RangeDelete(b"K", b"K\x00")], True),
    "range delete around K": ([RangeDelete(b"A", b"Z")], True),
    "range delete ending at K": ([RangeDelete(b"A", b"K")], False),
    "range delete starting after K": ([RangeDelete(b"K\x00", b"Z")], False),
    "write of K + 0x00": ([Write(b"K\x00", b"v")], False),
    "write of a prefix of K": ([Write(b"", b"v")], False),  # ns itself
    "write of another key": ([Write(b"L", b"v")], False),
    "nothing": ([], False),
}


def _in_ns(ns: bytes, ops: list) -> list:
    out = []
    for op in ops:
        if isinstance(op, Write):
            out.append(Write(ns + op.key, op.value))
        elif isinstance(op, Delete):
            out.append(Delete(ns + op.key))
        else:
            out.append(RangeDelete(ns + op.begin, ns + op.end))
    return out


@pytest.mark.parametrize("case", POINT_CASES)
def test_point_read_conflicts(client: weaseldb.Client, ns: bytes, case: str) -> None:
    changes, expect = POINT_CASES[case]
    if case == "write":
        pass
    elif case == "delete":
        client.commit([Write(ns + b"K", b"old")])
    err = conflict_after(client, ns, _in_ns(ns, changes), [PointRead(ns + b"K")])
    assert (err is not None) == expect, f"{case}: expected {'a conflict' if expect else 'a commit'}"
    if err is not None:
        assert err.conflicts == [0]


# (changes after the read, conflict expected) for a range read of [B, M)
RANGE_CASES = {
    "write at begin": ([Write(b"B", b"v")], True),
    "write at end (excluded)": ([Write(b"M", b"v")], False),
    "write just before begin": ([Write(b"A\xff\xff", b"v")], False),
    "write of the last key before end": ([Write(b"L\xff\xff\xff", b"v")], True),
    "write inside": ([Write(b"F", b"v")], True),
    "write of begin + 0x00": ([Write(b"B\x00", b"v")], True),
    "write of end + 0x00": ([Write(b"M\x00", b"v")], False),
    "delete inside": ([Delete(b"C")], True),
    "range delete ending at begin": ([RangeDelete(b"A", b"B")], False),
    "range delete starting at end": ([RangeDelete(b"M", b"Z")], False),
    "range delete overlapping begin": ([RangeDelete(b"A", b"B\x00")], True),
    "range delete overlapping end": ([RangeDelete(b"L", b"Z")], True),
    "range delete inside": ([RangeDelete(b"C", b"D")], True),
    "range delete enclosing": ([RangeDelete(b"A", b"Z")], True),
    "range delete equal": ([RangeDelete(b"B", b"M")], True),
}


@pytest.mark.parametrize("case", RANGE_CASES)
def test_range_read_conflicts(client: weaseldb.Client, ns: bytes, case: str) -> None:
    changes, expect = RANGE_CASES[case]
    err = conflict_after(client, ns, _in_ns(ns, changes), [RangeRead(ns + b"B", ns + b"M")])
    assert (err is not None) == expect, f"{case}: expected {'a conflict' if expect else 'a commit'}"
    if err is not None:
        assert err.conflicts == [0]


def test_keys_compare_as_unsigned_bytes(client: weaseldb.Client, ns: bytes) -> None:
    # 0x80 sorts after 0x10 and before 0x90 unsigned; a signed comparison puts it first.
    assert conflict_after(client, ns, [Write(ns + b"\x80", b"")], [RangeRead(ns + b"\x10", ns + b"\x90")])
    assert conflict_after(client, ns, [Write(ns + b"\xff\xff", b"")], [RangeRead(ns + b"\xff", ns + b"\xff\xff\x00")])
    assert not conflict_after(client, ns, [Write(ns + b"\x7f", b"")], [RangeRead(ns + b"\x80", ns + b"\xff")])
    assert not conflict_after(client, ns, [Write(ns + b"\xa0", b"")], [RangeRead(ns + b"\x10", ns + b"\x90")])
    # A range delete with high bytes covers what an unsigned order puts inside it.
    assert conflict_after(client, ns, [RangeDelete(ns + b"\x10", ns + b"\xf0")], [PointRead(ns + b"\x80")])
    assert not conflict_after(client, ns, [RangeDelete(ns + b"\x10", ns + b"\x80")], [PointRead(ns + b"\x80")])


def test_empty_key(client: weaseldb.Client, ns: bytes) -> None:
    # The empty key is the smallest key: [b"", b"\x00") holds it and nothing else.
    only_empty = RangeRead(b"", b"\x00")
    assert conflict_after(client, ns, [Write(b"", b"v")], [PointRead(b"")])
    assert conflict_after(client, ns, [Write(b"", b"v")], [only_empty])
    assert conflict_after(client, ns, [Delete(b"")], [PointRead(b"")])
    assert conflict_after(client, ns, [RangeDelete(b"", b"\x00")], [PointRead(b"")])
    assert not conflict_after(client, ns, [Write(b"\x00", b"v")], [only_empty])
    assert not conflict_after(client, ns, [Write(b"\x00", b"v")], [PointRead(b"")])
    assert not conflict_after(client, ns, [Write(ns, b"v")], [only_empty])
    # The empty key round-trips through the log.
    res = client.commit([Write(b"", b""), RangeDelete(b"", b"\x00")])
    [tx] = [t for t in history(client, res.version - 1, res.version) if t.version == res.version]
    assert list(tx.operations) == [Write(b"", b""), RangeDelete(b"", b"\x00")]


def test_a_range_can_cover_the_largest_key(client: weaseldb.Client, ns: bytes) -> None:
    # The largest key (max_key_bytes of 0xff) sorts after every other key; a range's end may be one
    # byte longer than a key, so a range reaching past it exists (audit 36: none did).
    largest = b"\xff" * 10240
    everything = RangeRead(b"", largest + b"\x00")
    assert conflict_after(client, ns, [Write(largest, b"v")], [everything])
    assert conflict_after(client, ns, [RangeDelete(b"", largest + b"\x00")], [PointRead(largest)])
    assert not conflict_after(client, ns, [Write(largest, b"v")], [RangeRead(b"", largest)])
    with pytest.raises(weaseldb.BadRequest):
        client.commit([RangeDelete(b"", largest + b"\x00\x00")])
    with pytest.raises(weaseldb.BadRequest):
        client.commit([Write(largest + b"\x00", b"")])


# -- leader_id and too_old ----------------------------------------------------------------


def test_leader_id_current_commits_and_other_is_refused(client: weaseldb.Client, ns: bytes) -> None:
    info = client.version()
    client.commit([Write(ns + b"k", b"")], leader_id=info.leader_id)
    with pytest.raises(LeaderChanged) as exc:
        client.commit([Write(ns + b"stale", b"")], leader_id="not-the-leader-" + ns.hex())
    err = exc.value
    assert err.status == 409 and err.code == "leader_changed" and err.body["status"] == "leader_changed"
    assert err.leader_id == info.leader_id
    assert isinstance(err.version, int) and err.version >= info.version
    end = client.commit([Write(ns + b"end", b"")]).version
    assert not any(getattr(op, "key", None) == ns + b"stale"
                   for t in history(client, info.version, end) for op in t.operations)


def test_too_old_outside_the_conflict_window(tuned_server, ns: bytes) -> None:
    client = tuned_server.client()
    base = client.commit([Write(ns + b"k", b"")]).version

    def probe() -> TooOld | None:
        # Commits advance versions; once base is older than conflict_window_ms (300) it is too old.
        try:
            client.commit([Write(ns + b"probe", b"")], [PointRead(ns + b"quiet")], read_version=base)
        except TooOld as exc:
            return exc
        time.sleep(0.05)
        return None

    err = wait_until(probe, 20, "a too_old answer")
    assert err.status == 409 and err.code == "too_old" and err.body["status"] == "too_old"
    assert err.version > base
    assert err.body.get("request_id")
    # Retrying from the version the answer named is accepted.
    client.commit([Write(ns + b"probe", b"")], [PointRead(ns + b"quiet")], read_version=err.version)
