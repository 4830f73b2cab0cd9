"""A tiny in-memory WeaselDB that follows the contract's semantics (not just its shapes).

Used to run the client end to end without the Java server: real optimistic concurrency
(preconditions checked against every later write), request-id idempotency and the
status "ban", and a live SSE subscribe stream. Faults can be injected: dropping the
reply of every n-th commit *after* it committed exercises unknown-outcome resolution.

Run standalone (for trying the CLI or examples/counter.py by hand):
``python tests/fakedb.py --port 8080``.
"""

from __future__ import annotations

import argparse
import base64
import json
import socket
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


def _b(text: str) -> bytes:
    return base64.b64decode(text, validate=True)


class FakeDB:
    def __init__(self, drop_every: int = 0) -> None:
        self.lock = threading.Condition()
        self.log: list[dict[str, Any]] = []  # wire-format transactions
        self.touched: list[tuple[int, list[tuple[bytes, bytes | None]]]] = []  # version, [(key) or (begin, end)]
        self.version = 0
        self.request_ids: dict[str, int] = {}
        self.banned: set[str] = set()
        self.drop_every = drop_every
        self.commits = 0
        self.leader = "fake-leader"

    def _changed_since(self, begin: bytes, end: bytes | None, since: int) -> bool:
        for version, spans in reversed(self.touched):
            if version <= since:
                return False
            for b, e in spans:
                if end is None:  # point read of `begin`
                    if (e is None and b == begin) or (e is not None and b <= begin < e):
                        return True
                else:
                    if (e is None and begin <= b < end) or (e is not None and b < end and begin < e):
                        return True
        return False

    def commit(self, doc: dict[str, Any]) -> tuple[int, dict[str, Any], bool]:
        """Returns (status, body, drop_reply)."""
        with self.lock:
            rid = doc.get("request_id") or f"generated-{time.time_ns()}"
            if len(rid) < 20:
                return 400, {"error": "bad_request", "message": "request_id too short"}, False
            if rid in self.request_ids:
                return 200, {"status": "committed", "version": self.request_ids[rid], "leader_id": self.leader,
                             "request_id": rid, "duplicate": True}, False
            if rid in self.banned:
                return 409, {"error": "conflict", "status": "conflict", "version": self.version,
                             "leader_id": self.leader, "request_id": rid, "conflicts": [],
                             "message": "request id was resolved as not committed"}, False
            rv = doc.get("read_version")
            failed = []
            for i, pre in enumerate(doc.get("preconditions") or []):
                v = pre.get("version", rv)
                if v is None:
                    return 400, {"error": "bad_request", "message": "read_version required"}, False
                if v > self.version:
                    return 400, {"error": "bad_request", "message": "precondition version in the future"}, False
                if pre["type"] == "point_read":
                    bad = self._changed_since(_b(pre["key"]), None, v)
                else:
                    bad = self._changed_since(_b(pre["begin"]), _b(pre["end"]), v)
                if bad:
                    failed.append(i)
            if failed:
                return 409, {"error": "conflict", "status": "conflict", "version": self.version,
                             "leader_id": self.leader, "request_id": rid, "conflicts": failed,
                             "message": "precondition failed"}, False
            spans: list[tuple[bytes, bytes | None]] = []
            for op in doc.get("operations") or []:
                if op["type"] == "range_delete":
                    spans.append((_b(op["begin"]), _b(op["end"])))
                else:
                    spans.append((_b(op["key"]), None))
            prev = self.version
            self.version += 1
            self.touched.append((self.version, spans))
            self.request_ids[rid] = self.version
            self.log.append({"request_id": rid, "version": self.version, "prev_version": prev,
                             "timestamp": "2026-11-22T20:27:42.555Z", "leader_id": self.leader,
                             "operations": doc.get("operations") or []})
            self.commits += 1
            drop = self.drop_every > 0 and self.commits % self.drop_every == 0
            self.lock.notify_all()
            return 200, {"status": "committed", "version": self.version, "leader_id": self.leader,
                         "request_id": rid}, drop

    def status(self, rid: str) -> dict[str, Any]:
        with self.lock:
            if rid in self.request_ids:
                return {"request_id": rid, "status": "committed", "version": self.request_ids[rid],
                        "leader_id": self.leader}
            self.banned.add(rid)
            return {"request_id": rid, "status": "not_committed", "version": self.version}


def serve(db: FakeDB, port: int = 0) -> ThreadingHTTPServer:
    class H(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True

        def log_message(self, format: str, *args: Any) -> None:
            pass

        def _send(self, status: int, doc: Any) -> None:
            data = json.dumps(doc).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:
            u = urllib.parse.urlsplit(self.path)
            q = dict(urllib.parse.parse_qsl(u.query))
            if u.path == "/v1/version":
                with db.lock:
                    self._send(200, {"version": db.version, "leader_id": db.leader})
            elif u.path == "/v1/status":
                self._send(200, db.status(q["request_id"]))
            elif u.path == "/ok":
                self._send(200, {"status": "ok", "version": db.version, "leader_id": db.leader})
            elif u.path == "/v1/subscribe":
                self._subscribe(q)
            else:
                self._send(404, {"error": "not_found", "message": u.path})

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            if urllib.parse.urlsplit(self.path).path != "/v1/commit":
                self._send(404, {"error": "not_found", "message": self.path})
                return
            status, doc, drop = db.commit(json.loads(body))
            if drop:
                self.close_connection = True
                self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
                self.connection.close()
                return
            self._send(status, doc)

        def _subscribe(self, q: dict[str, str]) -> None:
            after = q.get("after") or self.headers.get("Last-Event-ID")
            with db.lock:
                pos = int(after) if after is not None else db.version
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.send_header("Connection", "close")
            self.end_headers()
            self.close_connection = True
            try:
                while True:
                    with db.lock:
                        if db.version <= pos:
                            db.lock.wait(1.0)
                        batch = [t for t in db.log[pos:]]  # log[i] has version i + 1
                    if not batch:
                        self.wfile.write(b": keepalive\n\n")
                        continue
                    out = b"".join(
                        b"id: %d\nevent: transaction\ndata: %s\n\n" % (t["version"], json.dumps(t).encode())
                        for t in batch)
                    self.wfile.write(out)
                    pos = batch[-1]["version"]
            except OSError:
                return

    class Server(ThreadingHTTPServer):
        request_queue_size = 256  # the default 5 drops connections when 20 processes start at once

    httpd = Server(("127.0.0.1", port), H)
    httpd.daemon_threads = True
    threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True).start()
    return httpd


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--port", type=int, default=8080)
    ap.add_argument("--drop-every", type=int, default=0, help="drop the reply of every n-th commit")
    a = ap.parse_args()
    srv = serve(FakeDB(a.drop_every), a.port)
    print(f"fake WeaselDB on http://127.0.0.1:{srv.server_address[1]}", flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
