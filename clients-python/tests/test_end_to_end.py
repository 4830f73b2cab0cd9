"""The client end to end against fakedb (an in-memory server with the contract's semantics)."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path
from typing import Iterator

import pytest

from conftest import Closing
from fakedb import FakeDB, serve
from weaseldb import Client, Conflict, PointRead, RangeDelete, Replica, TransportError, Txn, Write


@pytest.fixture
def db() -> Iterator[tuple[FakeDB, str]]:
    fake = FakeDB(drop_every=4)
    httpd = serve(fake)
    yield fake, f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def test_concurrent_increments_through_the_helper_are_exact(closing: Closing, db: tuple[FakeDB, str]) -> None:
    fake, url = db
    client = closing(Client(url))
    start = client.version().version
    errors: list[BaseException] = []

    def work() -> None:
        try:
            with Replica(client, after=start) as replica:
                def inc(txn: Txn) -> None:
                    txn.set(b"n", str(int(txn.get(b"n") or b"0") + 1).encode())

                for _ in range(10):
                    client.transact(inc, replica=replica, retries=None)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors
    with Replica(client, after=start) as check:
        check.wait_for(fake.version, timeout=10)
        assert check.get(b"n") == b"60"
    # Some replies were dropped after committing; none was applied twice.
    assert fake.commits == 60


def test_replica_and_preconditions_against_a_live_log(closing: Closing, db: tuple[FakeDB, str]) -> None:
    fake, url = db
    fake.drop_every = 0
    client = closing(Client(url))
    with Replica(client, after=0) as replica:
        r1 = client.commit([Write(b"a", b"1"), Write(b"b", b"2"), Write(b"c", b"3")])
        v = replica.wait_for(r1.version, timeout=10)
        client.commit([RangeDelete(b"a", b"c")], [PointRead(b"c")], read_version=v)
        replica.wait_for(r1.version + 1, timeout=10)
        assert dict(replica.snapshot()[0]) == {b"c": b"3"}
        with pytest.raises(Conflict) as info:
            client.commit([Write(b"a", b"x")], [PointRead(b"z"), PointRead(b"a")], read_version=v)
        assert info.value.conflicts == [1]


def test_counter_example_with_processes(db: tuple[FakeDB, str]) -> None:
    fake, url = db
    example = Path(__file__).resolve().parent.parent / "examples" / "counter.py"
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    proc = subprocess.run([sys.executable, str(example), "--url", url, "--processes", "4", "--increments", "5"],
                          env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "= 20 (expected 20)" in proc.stdout
    assert fake.commits == 20


def test_commit_without_request_id_is_not_resent_when_its_reply_is_lost(closing: Closing) -> None:
    # The server commits, then closes the reused keep-alive connection without replying.
    # With no request id, sending it again would apply it a second time.
    fake = FakeDB(drop_every=1)
    httpd = serve(fake)
    try:
        client = closing(Client(f"http://127.0.0.1:{httpd.server_address[1]}", auto_request_id=False))
        client.version()  # leaves a pooled keep-alive connection
        with pytest.raises(TransportError) as info:
            client.commit([Write(b"k", b"v")])
        assert info.value.sent and info.value.outcome_unknown and info.value.request_id is None
        assert len(fake.log) == 1, "the commit was applied more than once"
    finally:
        httpd.shutdown()
        httpd.server_close()
