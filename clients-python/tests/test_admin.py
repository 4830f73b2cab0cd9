"""Retention CRUD requests and Prometheus text parsing."""

from __future__ import annotations

import math

import pytest

from conftest import Closing, FakeServer, Reply
from weaseldb import Client, LogTruncated, MetricsParseError, NotFound, Unavailable, parse_metrics

POLICY = {"policy_id": "backup-1", "version": 100, "ttl_seconds": 60, "expires_at": "2026-11-22T21:00:00Z",
          "updated_at": "2026-11-22T20:59:00Z"}


def test_put_retention_sends_version_and_ttl(closing: Closing, server: FakeServer) -> None:
    server.on("PUT", "/v1/retention/backup-1", Reply(201, POLICY), Reply(200, {**POLICY, "ttl_seconds": None}))
    client = closing(Client(server.url))
    p = client.put_retention("backup-1", 100, ttl_seconds=60)
    assert (p.policy_id, p.version, p.ttl_seconds, p.expires_at) == ("backup-1", 100, 60, "2026-11-22T21:00:00Z")
    client.put_retention("backup-1", 100)
    first, second = server.calls("/v1/retention/backup-1")
    assert first.json() == {"version": 100, "ttl_seconds": 60} and second.json() == {"version": 100}


def test_put_below_truncation_is_log_truncated(closing: Closing, server: FakeServer) -> None:
    server.on("PUT", "/v1/retention/p", Reply(410, {"error": "log_truncated", "message": "x", "oldest_version": 7}))
    with pytest.raises(LogTruncated):
        closing(Client(server.url)).put_retention("p", 1)


def test_get_list_delete(closing: Closing, server: FakeServer) -> None:
    server.on("GET", "/v1/retention/backup-1", Reply(200, POLICY))
    server.on("GET", "/v1/retention/", Reply(200, {"policies": [POLICY], "oldest_version": 3}))
    server.on("DELETE", "/v1/retention/backup-1", Reply(204), Reply(404, {"error": "not_found", "message": "no"}))
    server.on("GET", "/v1/retention/nope", Reply(404, {"error": "not_found", "message": "no"}))
    client = closing(Client(server.url))
    assert client.get_retention("backup-1").ttl_seconds == 60
    lst = client.list_retention()
    assert lst.oldest_version == 3 and [p.policy_id for p in lst.policies] == ["backup-1"]
    assert client.delete_retention("backup-1") is None
    with pytest.raises(NotFound):
        client.delete_retention("backup-1")
    with pytest.raises(NotFound):
        client.get_retention("nope")


def test_policy_ids_are_path_escaped(closing: Closing, server: FakeServer) -> None:
    server.on("GET", "/v1/retention/a%2Fb", Reply(400, {"error": "bad_request", "message": "bad id"}))
    with pytest.raises(Exception):
        closing(Client(server.url)).get_retention("a/b")
    assert server.requests[0].path == "/v1/retention/a%2Fb"


def test_ok_and_unhealthy(closing: Closing, server: FakeServer) -> None:
    server.on("GET", "/ok", Reply(body={"status": "ok", "version": 5, "leader_id": "L"}),
              Reply(503, {"error": "unavailable", "message": "persist stage stalled"}))
    client = closing(Client(server.url))
    h = client.ok()
    assert (h.status, h.version, h.leader_id) == ("ok", 5, "L")
    with pytest.raises(Unavailable):
        client.ok()


EXPOSITION = r'''# HELP weaseldb_requests_total Requests by endpoint and status.
# TYPE weaseldb_requests_total counter
weaseldb_requests_total{endpoint="/v1/commit",status="200"} 1027
weaseldb_requests_total{status="409",endpoint="/v1/commit",} 3 1395066363000
# HELP weaseldb_odd Help with \\ backslash and \n newline.
# TYPE weaseldb_odd gauge
weaseldb_odd{path="C:\\dir\"quoted\"\nnext"} -1.5e3
weaseldb_latest_committed_version 123456
weaseldb_nan NaN
# TYPE weaseldb_commit_seconds histogram
weaseldb_commit_seconds_bucket{le="0.005"} 10
weaseldb_commit_seconds_bucket{le="0.01"} 30
weaseldb_commit_seconds_bucket{le="0.1"} 40
weaseldb_commit_seconds_bucket{le="+Inf"} 40
weaseldb_commit_seconds_sum 0.9
weaseldb_commit_seconds_count 40
jvm_memory_used_bytes{area="heap",id="G1 Eden Space"} 1.2E7
weaseldb_max +Inf
'''


def test_metrics_parsing() -> None:
    m = parse_metrics(EXPOSITION)
    assert m[("weaseldb_requests_total", (("endpoint", "/v1/commit"), ("status", "200")))] == 1027
    assert m.value("weaseldb_requests_total", {"status": "409", "endpoint": "/v1/commit"}) == 3
    assert m.total("weaseldb_requests_total", endpoint="/v1/commit") == 1030
    assert m.value("weaseldb_odd", {"path": 'C:\\dir"quoted"\nnext'}) == -1500.0
    assert m.value("weaseldb_latest_committed_version") == 123456
    assert math.isnan(m.value("weaseldb_nan") or 0.0)
    assert m.value("weaseldb_max") == math.inf
    assert m.value("jvm_memory_used_bytes", {"area": "heap", "id": "G1 Eden Space"}) == 1.2e7
    assert m.types["weaseldb_commit_seconds"] == "histogram"
    assert m.help["weaseldb_odd"] == "Help with \\ backslash and \n newline."
    h = m.histogram("weaseldb_commit_seconds")
    assert h.buckets == ((0.005, 10), (0.01, 30), (0.1, 40), (math.inf, 40)) and h.count == 40 and h.sum == 0.9
    assert h.quantile(0.5) == pytest.approx(0.0075)
    assert "weaseldb_commit_seconds_bucket" in m.names()


@pytest.mark.parametrize("line", ['x{a="1"', 'x{a=1} 2', "x", "x 1 2 3", 'x{a="1" b="2"} 1', "1x 2", "x abc"])
def test_malformed_metrics_lines_are_reported(line: str) -> None:
    with pytest.raises(MetricsParseError):
        parse_metrics(line)


def test_metrics_endpoint(closing: Closing, server: FakeServer) -> None:
    server.on("GET", "/metrics", Reply(body=EXPOSITION, headers={"Content-Type": "text/plain; version=0.0.4"}))
    m = closing(Client(server.url)).metrics()
    assert m.value("weaseldb_latest_committed_version") == 123456
    assert server.requests[0].headers["accept"].startswith("text/plain")
