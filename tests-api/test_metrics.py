"""GET /metrics: Prometheus text format with the series the contract lists."""

from __future__ import annotations

import math
import time
from pathlib import Path

import pytest

import weaseldb
from harness import http_request, raw_exchange
from weaseldb import Conflict, LeaderChanged, PointRead, Write
from weaseldb.admin import Metrics


def counts(m: Metrics, name: str, **labels: str) -> float:
    return m.total(name, **labels)


def check_histogram(m: Metrics, name: str, **labels: str) -> weaseldb.Histogram:
    """A histogram with cumulative buckets whose +Inf bucket equals its count."""
    assert m.types.get(name) == "histogram", f"{name} should be a histogram, is {m.types.get(name)}"
    h = m.histogram(name, **labels)
    assert h.buckets, f"{name}{labels} has no buckets"
    les = [le for le, _ in h.buckets]
    cum = [c for _, c in h.buckets]
    assert math.isinf(les[-1]), f"{name} lacks a +Inf bucket"
    assert cum == sorted(cum), f"{name} buckets are not cumulative"
    assert h.count == cum[-1], f"{name}: +Inf bucket {cum[-1]} != count {h.count}"
    assert h.sum is not None and h.sum >= 0
    return h


def test_exposition_format(client: weaseldb.Client) -> None:
    resp = client.request("GET", "/metrics")
    assert resp.status == 200
    ctype = (resp.header("content-type") or "").replace(" ", "")
    assert ctype.startswith("text/plain") and "version=0.0.4" in ctype, ctype
    m = weaseldb.parse_metrics(resp.body.decode())  # strict: raises on a malformed line
    ours = {n for n in m.names() if n.startswith("weaseldb_")}
    assert ours
    families = set(m.types)
    for name in ours:
        assert any(name == f or name.startswith(f + "_") for f in families), f"{name} has no # TYPE"


def test_requests_by_endpoint_and_status(client: weaseldb.Client, ns: bytes) -> None:
    before = client.metrics()
    for i in range(3):
        client.commit([Write(ns + b"k", b"%d" % i)])
    client.request("POST", "/v1/commit", b"{not json")
    client.request("GET", "/v1/nothing-here")
    client.version()
    after = client.metrics()
    name = "weaseldb_http_requests_seconds"
    c = lambda m, **kw: counts(m, name + "_count", **kw)  # noqa: E731
    assert c(after, endpoint="/v1/commit", status="200") - c(before, endpoint="/v1/commit", status="200") >= 3
    assert c(after, endpoint="/v1/commit", status="400") - c(before, endpoint="/v1/commit", status="400") >= 1
    assert c(after, endpoint="/v1/version", status="200") - c(before, endpoint="/v1/version", status="200") >= 1
    assert c(after, status="404") - c(before, status="404") >= 1
    h = check_histogram(after, name, endpoint="/v1/commit", status="200")
    assert h.count >= 3 and h.sum > 0
    # Labels are a bounded set: unknown paths must not each make a series of their own.
    assert not after.samples(name + "_count", endpoint="/v1/nothing-here")


def test_malformed_requests_are_counted_by_reason(server, client: weaseldb.Client) -> None:
    """weaseldb_http_rejected_total counts requests refused as malformed, by reason (api.md)."""
    before = client.metrics()
    assert raw_exchange(server.port, b"THIS IS NOT HTTP\r\n\r\n").status == 400
    assert raw_exchange(server.port, http_request("GET", "/v1/status?request_id=%zz")).status == 400
    head = (b"POST /v1/commit HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n")
    assert raw_exchange(server.port, head).status == 501
    after = client.metrics()
    name = "weaseldb_http_rejected_total"
    for reason in ("malformed_request", "malformed_target", "transfer_coding"):
        grew = counts(after, name, reason=reason) - counts(before, name, reason=reason)
        assert grew >= 1, f"{reason}: {grew}"


def test_commit_outcomes(client: weaseldb.Client, ns: bytes) -> None:
    before = client.metrics()
    base = client.commit([Write(ns + b"k", b"1")]).version
    client.commit([Write(ns + b"k", b"2")])
    with pytest.raises(Conflict):
        client.commit([Write(ns + b"k", b"3")], [PointRead(ns + b"k")], read_version=base)
    with pytest.raises(LeaderChanged):
        client.commit([Write(ns + b"k", b"4")], leader_id="someone-else")
    after = client.metrics()
    name = "weaseldb_commits_total"
    assert after.types.get(name.removesuffix("_total")) == "counter" or after.types.get(name) == "counter"
    delta = lambda outcome: counts(after, name, outcome=outcome) - counts(before, name, outcome=outcome)  # noqa: E731
    assert delta("committed") >= 2
    assert delta("conflict") >= 1
    assert delta("leader_changed") >= 1


def test_pipeline_storage_and_version_series(client: weaseldb.Client, ns: bytes) -> None:
    before = client.metrics()
    v = client.commit([Write(ns + b"k", b"v")]).version
    m = client.metrics()
    # batches: sizes (transactions and bytes) and ages
    for name in ("weaseldb_batch_transactions", "weaseldb_batch_size_bytes", "weaseldb_batch_age_seconds"):
        h = check_histogram(m, name)
        assert h.count > (before.histogram(name).count or 0), f"{name} did not count the new batch"
    # S3 latency by operation (and outcome, where errors show)
    puts = check_histogram(m, "weaseldb_s3_request_seconds", operation="put")
    assert puts.count > (before.histogram("weaseldb_s3_request_seconds", operation="put").count or 0)
    ops = {labels["operation"] for labels, _ in m.samples("weaseldb_s3_request_seconds_count")}
    # "get" appears once something is read back (a recovery of a non-empty log, policies, history):
    # a fresh server lists, writes its claim and rebuilds its request-id index from nothing
    assert {"put", "list"} <= ops, ops
    # pipeline queue depths, per stage
    stages = {labels.get("stage") for labels, _ in m.samples("weaseldb_pipeline_queue_depth")}
    assert len(stages) >= 2 and None not in stages, stages
    assert all(value >= 0 for _, value in m.samples("weaseldb_pipeline_queue_depth"))
    # subscribers and bytes buffered for them
    assert m.value("weaseldb_subscribers") is not None
    assert m.value("weaseldb_subscribe_buffered_bytes") is not None
    # versions: latest committed and oldest retained
    assert m.value("weaseldb_version_committed") >= v
    assert m.value("weaseldb_version_oldest") == client.list_retention().oldest_version


def test_request_id_and_conflict_set_sizes(client: weaseldb.Client, ns: bytes) -> None:
    # the sequencer publishes them at its upkeep: within a second of the commit even when idle
    client.commit([Write(ns + b"sized", b"v")], request_id=f"sized-{ns.hex()}")
    deadline = time.monotonic() + 5
    while True:
        m = client.metrics()
        ids = m.value("weaseldb_request_ids", {"kind": "committed"}) or 0
        entries = m.value("weaseldb_conflict_set_entries") or 0
        if (ids >= 1 and entries >= 1) or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert ids >= 1, "the commit's request id is remembered"
    assert entries >= 1, "its write is in the conflict set"
    assert m.value("weaseldb_request_ids", {"kind": "banned"}) is not None


def test_jvm_metrics(client: weaseldb.Client) -> None:
    m = client.metrics()
    assert m.total("jvm_memory_used_bytes", area="heap") > 0
    assert m.value("jvm_threads_live_threads") > 0
    assert any(n.startswith("jvm_gc_") for n in m.names())


def test_s3_errors_are_counted_and_retried(make_server, ns: bytes) -> None:
    # The embedded fake S3 fails the first three writes of the first commit's log object
    # (log/...01; the term start at version 0 is not touched): the commit is retried and
    # succeeds, and the failures show in the metrics.
    srv = make_server({"s3": {"fake_faults": [
        "op=PUT,prefix=log/00000000000000000001,kind=error,status=503,code=SlowDown,count=3"]}})
    c = srv.client()
    versions = [c.commit([Write(ns + b"k", b"%d" % i)]).version for i in range(12)]
    assert versions == sorted(set(versions))
    m = c.metrics()
    outcomes = {labels.get("outcome") for labels, _ in m.samples("weaseldb_s3_request_seconds_count", operation="put")}
    assert len(outcomes) >= 2, f"put errors should be counted apart from successes: {outcomes}"
    assert m.value("weaseldb_batch_retries_total") >= 1


def test_the_client_readmes_metric_calls_find_their_series(client: weaseldb.Client, ns: bytes,
                                                           source_root: Path) -> None:
    # clients-python/README.md, "Admin": each call must find a series, not fall back to
    # None / 0 / NaN on a name the server does not export.
    client.commit([Write(ns + b"k", b"v")])
    m = client.metrics()
    assert (m.value("weaseldb_http_requests_seconds_count", {"endpoint": "/v1/commit", "status": "200"}) or 0) >= 1
    assert m.total("weaseldb_commits_total", outcome="committed") >= 1
    p99 = m.histogram("weaseldb_http_requests_seconds", endpoint="/v1/commit").quantile(0.99)
    assert math.isfinite(p99) and p99 > 0, p99
    readme = (source_root / "clients-python" / "README.md").read_text()
    for name in ("weaseldb_http_requests_seconds_count", "weaseldb_commits_total", "weaseldb_http_requests_seconds"):
        assert f'"{name}"' in readme, f"the README's Admin example no longer shows {name}"
