"""CLI: argument parsing into operations, output, and one exit code per error class."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys

import pytest

from conftest import FakeServer, Reply, Stream, b64, checkpoint_event, tx_event
from weaseldb import Delete, PointRead, RangeDelete, RangeRead, Write
from weaseldb.cli import build_parser, main, parse_commit_args


def cli(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), stdout=out, stderr=err)
    return code, out.getvalue(), err.getvalue()


def parsed(*argv: str):  # type: ignore[no-untyped-def]
    return parse_commit_args(build_parser().parse_args(["commit", *argv]))


def test_commit_arguments_keep_their_order_and_forms() -> None:
    ops, pres = parsed("--write", "k=v=w", "--delete", "k", "--range-delete", "a:b", "--write", "x", "y",
                       "--range-delete", "user 1", "user 9", "--point-read", "k@12", "--point-read", "j",
                       "--range-read", "a:b@3", "--point-read", "p", "4", "--range-read", "a", "z", "5",
                       "--range-read", "a", "5", "--point-read", "me@example.com")
    assert ops == [Write(b"k", b"v=w"), Delete(b"k"), RangeDelete(b"a", b"b"), Write(b"x", b"y"),
                   RangeDelete(b"user 1", b"user 9")]
    assert pres == [PointRead(b"k", 12), PointRead(b"j"), RangeRead(b"a", b"b", 3), PointRead(b"p", 4),
                    RangeRead(b"a", b"z", 5), RangeRead(b"a", b"5"), PointRead(b"me@example.com")]


def test_a_value_given_apart_may_contain_the_separator() -> None:
    # only the key is checked: "--write a=1 b=2" is two writes written wrongly, a value "x=1" is not
    ops, _ = parsed("--write", "cfg", "x=1", "--range-delete", "a", "c:d")
    assert ops == [Write(b"cfg", b"x=1"), RangeDelete(b"a", b"c:d")]


@pytest.mark.parametrize("argv", [
    ["--write", "a=1", "b=2"],            # two writes meant, not the key "a=1"
    ["--range-delete", "a:b", "c:d"],     # two ranges meant, not ["a:b", "c:d")
    ["--range-delete", "user:1", "user:9"],
    ["--point-read", "k@3", "4"],
    ["--range-read", "a:b", "5"],
    ["--range-read", "a", "z@5"],
    ["--b64", "--write", "YQ===Yg==", "Yw=="],
    ["--write", "a", "b", "c"],
    ["--range-read", "a", "z", "x"],
])
def test_ambiguous_commit_arguments_exit_2_with_a_clear_message(server: FakeServer, argv: list[str]) -> None:
    code, out, err = cli("--url", server.url, "commit", *argv)
    assert code == 2 and out == "" and err.startswith("weaseldb: error: --")
    assert server.requests == [], "nothing may be committed"


def test_commit_help_shows_both_argument_forms(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli("commit", "--help")[0] == 0
    text = capsys.readouterr().out
    for form in ("--write KEY=VALUE | KEY VALUE", "--range-delete BEGIN:END | BEGIN END",
                 "--point-read KEY[@VERSION] | KEY VERSION", "--range-read BEGIN:END[@VERSION] | BEGIN END [VERSION]"):
        assert form in " ".join(text.split()), form
    assert "[KEY=VALUE ...]" not in text


def test_b64_arguments_split_around_padding() -> None:
    ops, pres = parsed("--b64", "--write", "YQ===Yg==", "--range-delete", "AA==:/w==", "--point-read", "YQ==@5",
                       "--write", "YQ==", "Yg==")
    assert ops == [Write(b"a", b"b"), RangeDelete(b"\x00", b"\xff"), Write(b"a", b"b")]
    assert pres == [PointRead(b"a", 5)]


def test_bad_arguments_exit_2(server: FakeServer) -> None:
    assert cli("--url", server.url, "commit", "--range-delete", "a:b:c")[0] == 2
    assert cli("--url", server.url, "commit", "--b64", "--write", "!!=!!")[0] == 2
    assert cli("--url", server.url, "commit", "--write", "novalue")[0] == 2
    assert cli("nonsense")[0] == 2
    assert cli("--url", "ftp://x", "version")[0] == 2
    assert server.requests == []


def test_commit_prints_result_and_sends_the_body(server: FakeServer) -> None:
    server.on("POST", "/v1/commit", Reply(body={"status": "committed", "version": 9, "leader_id": "L",
                                                "request_id": "r" * 20}))
    code, out, err = cli("--url", server.url, "commit", "--write", "k=v", "--read-version", "3",
                         "--request-id", "r" * 20, "--point-read", "k")
    assert code == 0 and "committed version=9" in out and err == ""
    assert server.requests[0].json() == {"request_id": "r" * 20, "read_version": 3,
                                         "preconditions": [{"type": "point_read", "key": "aw=="}],
                                         "operations": [{"type": "write", "key": "aw==", "value": "dg=="}]}
    code, out, _ = cli("--url", server.url, "--json", "commit", "--write", "k=v")
    assert code == 0 and json.loads(out)["version"] == 9


def test_global_options_after_the_command_and_env(server: FakeServer, monkeypatch: pytest.MonkeyPatch) -> None:
    server.on("GET", "/v1/version", Reply(body={"version": 5, "leader_id": "L"}))
    assert cli("version", "--url", server.url, "--token", "t1")[0] == 0
    monkeypatch.setenv("WEASELDB_URL", server.url)
    monkeypatch.setenv("WEASELDB_TOKEN", "t2")
    code, out, _ = cli("version")
    assert code == 0 and out.strip() == "5 leader=L"
    assert [r.headers["authorization"] for r in server.requests] == ["Bearer t1", "Bearer t2"]


@pytest.mark.parametrize("reply,code", [
    (Reply(400, {"error": "bad_request", "message": "x"}), 4),
    (Reply(401, {"error": "unauthorized", "message": "x"}), 5),
    (Reply(403, {"error": "forbidden", "message": "x"}), 6),
    (Reply(404, {"error": "not_found", "message": "x"}), 7),
    (Reply(409, {"error": "conflict", "status": "conflict", "version": 5, "conflicts": [0]}), 8),
    (Reply(409, {"error": "too_old", "status": "too_old", "version": 5}), 9),
    (Reply(409, {"error": "leader_changed", "status": "leader_changed", "version": 5}), 10),
    (Reply(410, {"error": "log_truncated", "message": "x", "oldest_version": 2}), 11),
    (Reply(413, {"error": "content_too_large", "message": "x"}), 12),
    (Reply(429, {"error": "too_many_requests", "message": "x"}), 13),
    (Reply(503, {"error": "unavailable", "message": "x", "outcome": "not_committed"}), 14),
    (Reply(503, {"error": "unavailable", "message": "x", "outcome": "unknown"}), 15),
    (Reply(503, "<html>proxy: no upstream</html>", headers={"Content-Type": "text/html"}), 15),
    (Reply(504, "<html>gateway timeout</html>", headers={"Content-Type": "text/html"}), 15),
    (Reply(drop=True), 15),
    (Reply(500, {"error": "internal", "message": "x"}), 15),
    (Reply(418, {"error": "teapot", "message": "x"}), 1),
])
def test_commit_exit_codes(server: FakeServer, reply: Reply, code: int) -> None:
    server.on("POST", "/v1/commit", reply)
    got, out, err = cli("--url", server.url, "commit", "--write", "k=v", "--request-id", "r" * 20)
    assert got == code, err
    assert out == "" and err.startswith("weaseldb: commit: ")
    if code == 15:
        assert "weaseldb status " + "r" * 20 in err


@pytest.mark.parametrize("extra,min_version", [(["--read-version", "7"], "7"), ([], "41")])
def test_unknown_outcome_hint_gives_the_status_command_with_min_version(server: FakeServer, extra: list[str],
                                                                        min_version: str) -> None:
    server.on("GET", "/v1/version", Reply(body={"version": 41, "leader_id": "L"}))
    server.on("POST", "/v1/commit", Reply(drop=True))
    server.on("GET", "/v1/status", Reply(body={"request_id": "r" * 20, "status": "not_committed", "version": 45}))
    code, _, err = cli("--url", server.url, "commit", "--write", "k=v", "--request-id", "r" * 20, *extra)
    assert code == 15
    hint = f"weaseldb status {'r' * 20} --min-version {min_version}"
    assert f"`{hint}`" in err
    # The hint runs as printed.
    assert cli("--url", server.url, *hint.split()[1:])[0] == 0
    assert server.calls("/v1/status")[-1].query == {"request_id": "r" * 20, "min_version": min_version}


def test_standby_answer_names_the_leader_url(server: FakeServer) -> None:
    server.on("POST", "/v1/commit", Reply(503, {"error": "unavailable", "message": "not the leader",
                                                "outcome": "not_committed", "leader_id": "L2",
                                                "leader_url": "http://127.0.0.1:18125"}))
    code, _, err = cli("--url", server.url, "commit", "--write", "k=v")
    assert code == 14 and "--url http://127.0.0.1:18125" in err


def test_conflict_details_on_stderr_and_body_on_stdout_with_json(server: FakeServer) -> None:
    server.on("POST", "/v1/commit", Reply(409, {"error": "conflict", "status": "conflict", "version": 5,
                                                "conflicts": [0], "message": "failed"}))
    code, out, err = cli("--url", server.url, "--json", "commit", "--write", "k=v")
    assert code == 8 and "failed preconditions [0]; retry from version 5" in err
    assert json.loads(out)["conflicts"] == [0]


def test_transport_error_exit_code_for_reads() -> None:
    import socket

    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    code, _, err = cli("--url", f"http://127.0.0.1:{port}", "--timeout", "2", "version")
    assert code == 3 and "cannot connect" in err


def test_status_command(server: FakeServer) -> None:
    server.on("GET", "/v1/status", Reply(body={"request_id": "s" * 20, "status": "not_committed", "version": 8}))
    code, out, _ = cli("--url", server.url, "status", "s" * 20, "--min-version", "2")
    assert code == 0 and out.startswith("not_committed version=8")
    assert server.requests[0].query == {"request_id": "s" * 20, "min_version": "2"}


def test_subscribe_prints_events_until_the_limit(server: FakeServer) -> None:
    ops = [{"type": "write", "key": b64(b"k"), "value": b64(b"\xff\x00")}]
    server.on("GET", "/v1/subscribe", Stream([tx_event(2, 1, ops), checkpoint_event(2), tx_event(3, 2)], end="hang"))
    code, out, _ = cli("--url", server.url, "subscribe", "--after", "1", "--limit", "2", "--no-durable")
    assert code == 0
    lines = out.splitlines()
    assert lines[0].startswith("transaction 2 prev=1") and lines[1] == "  write k = base64:/wA="
    assert lines[2] == "checkpoint 2 leader=L1" and lines[3].startswith("transaction 3")
    assert server.requests[0].query == {"after": "1", "durable": "false"}
    code, out, _ = cli("--url", server.url, "--json", "subscribe", "--after", "1", "--limit", "1")
    doc = json.loads(out.splitlines()[0])
    assert doc["event"] == "transaction" and doc["version"] == 2 and doc["operations"] == ops


def test_subscribe_410_exit_code(server: FakeServer) -> None:
    server.on("GET", "/v1/subscribe", Reply(410, {"error": "log_truncated", "message": "x", "oldest_version": 9}))
    code, _, err = cli("--url", server.url, "subscribe", "--after", "1")
    assert code == 11 and "oldest retained version 9" in err


def test_retention_commands(server: FakeServer) -> None:
    pol = {"policy_id": "p1", "version": 10, "ttl_seconds": 5, "expires_at": None, "updated_at": "t"}
    server.on("PUT", "/v1/retention/p1", Reply(201, pol))
    server.on("GET", "/v1/retention/p1", Reply(200, pol))
    server.on("GET", "/v1/retention/", Reply(200, {"policies": [pol], "oldest_version": 1}))
    server.on("DELETE", "/v1/retention/p1", Reply(204), Reply(404, {"error": "not_found", "message": "no"}))
    assert cli("--url", server.url, "retention", "put", "p1", "10", "--ttl", "5")[1].startswith("p1 version=10 ttl=5s")
    assert server.requests[0].json() == {"version": 10, "ttl_seconds": 5}
    assert cli("--url", server.url, "retention", "get", "p1")[0] == 0
    code, out, _ = cli("--url", server.url, "--json", "retention", "list")
    assert code == 0 and json.loads(out)["oldest_version"] == 1
    assert cli("--url", server.url, "retention", "delete", "p1")[0] == 0
    assert cli("--url", server.url, "retention", "delete", "p1")[0] == 7


def test_metrics_and_ok(server: FakeServer) -> None:
    server.on("GET", "/metrics", Reply(body='a_total{x="1"} 3\nb 4\nc +Inf\n'))
    server.on("GET", "/ok", Reply(body={"status": "ok", "version": 3, "leader_id": "L"}),
              Reply(503, {"error": "unavailable", "message": "stalled"}))
    code, out, _ = cli("--url", server.url, "metrics", "a_")
    assert code == 0 and out == 'a_total{x="1"} 3\n'
    code, out, _ = cli("--url", server.url, "--json", "metrics")
    assert json.loads(out)[2] == {"name": "c", "labels": {}, "value": "+Inf"}
    assert cli("--url", server.url, "ok") == (0, "ok version=3 leader=L\n", "")
    assert cli("--url", server.url, "ok")[0] == 14


def test_retention_help_lists_its_actions(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli("retention", "--help")[0] == 0
    text = capsys.readouterr().out
    for action in ("list", "get", "put", "delete"):
        assert f"    {action} " in text, text


def test_python_dash_m_entry_point(server: FakeServer) -> None:
    server.on("GET", "/v1/version", Reply(body={"version": 5, "leader_id": "L"}))
    env = {**os.environ, "WEASELDB_URL": server.url, "PYTHONDONTWRITEBYTECODE": "1"}
    proc = subprocess.run([sys.executable, "-m", "weaseldb", "--json", "version"], env=env,
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0 and json.loads(proc.stdout) == {"version": 5, "leader_id": "L"}
    proc = subprocess.run([sys.executable, "-m", "weaseldb", "--help"], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0 and "retention" in proc.stdout


def test_metrics_values_are_exact_and_label_values_escaped(server: FakeServer) -> None:
    server.on("GET", "/metrics", Reply(body='big 268435456\nratio 0.1234567891\nneg -3\nnan NaN\n'
                                            'odd{path="a\\\\b\\"c\\nd"} 1.5\n'))
    code, out, err = cli("--url", server.url, "metrics")
    assert (code, err) == (0, "")
    assert out.splitlines() == ["big 268435456", "nan NaN", "neg -3", 'odd{path="a\\\\b\\"c\\nd"} 1.5',
                                "ratio 0.1234567891"]


@pytest.mark.parametrize("argv", [
    ["retention", "get", ""],
    ["retention", "delete", ""],
    ["retention", "put", "", "5"],
    ["status", ""],
    ["--timeout", "-1", "version"],
    ["--timeout", "nan", "version"],
    ["--timeout", "inf", "version"],
    ["--timeout", "0", "version"],
    ["--timeout", "soon", "version"],
    ["version", "--timeout", "0"],
])
def test_bad_ids_and_timeouts_are_usage_errors(server: FakeServer, argv: list[str],
                                               capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = cli("--url", server.url, *argv)
    usage = capsys.readouterr().err  # argparse writes its own message to sys.stderr
    assert code == 2 and out == ""
    assert "Traceback" not in err + usage and "error:" in err + usage
    assert server.requests == []


@pytest.mark.parametrize("path, body, argv", [
    ("/v1/version", {"version": "12"}, ["version"]),
    ("/metrics", "a_total{x=1} 3\n", ["metrics"]),
])
def test_malformed_answers_are_one_line_on_stderr(server: FakeServer, path: str, body: object,
                                                 argv: list[str]) -> None:
    server.on("GET", path, Reply(body=body))
    code, out, err = cli("--url", server.url, *argv)
    assert code == 1 and out == ""
    assert err.startswith(f"weaseldb: {argv[0]}: HTTP 200 bad_response: ") and err.count("\n") == 1


def test_malformed_commit_answer_is_one_line_on_stderr(server: FakeServer) -> None:
    server.on("GET", "/v1/version", Reply(body={"version": 3, "leader_id": "L"}))
    server.on("POST", "/v1/commit", Reply(body={"status": "committed", "version": None}))
    code, out, err = cli("--url", server.url, "commit", "--write", "k=v")
    assert code == 1 and out == "" and err.count("\n") == 1 and "bad_response" in err
