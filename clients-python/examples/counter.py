#!/usr/bin/env python3
"""Optimistic concurrency, demonstrated: N processes increment one counter, none lost.

Every process keeps a :class:`weaseldb.Replica` (its own view, since the server serves
no reads) and increments the counter through ``client.transact``: read the counter at
the replica's version (which records a ``point_read`` precondition), write the value
plus one, commit. When two processes read the same value, only one commit can pass its
precondition; the other gets ``conflict`` and the helper re-runs it at a newer version.
Lost replies are resolved through ``/v1/status``, so no increment applies twice. The
final value is therefore exactly ``processes * increments``, which the parent checks.

    python examples/counter.py --url http://127.0.0.1:8080 --processes 20 --increments 10

Exit status 0 when the count is exact, 1 when it is not.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import sys
import time
import uuid

from weaseldb import Client, Replica, Txn


def worker(url: str, token: str | None, key: bytes, start_version: int, increments: int) -> tuple[int, int, int]:
    """Increment ``key`` ``increments`` times; returns (last version, attempts, status resolutions)."""
    client = Client(url, token=token)
    # The key is fresh: it was absent at start_version, so an empty view is exact for it.
    with Replica(client, after=start_version) as replica:
        attempts = resolved = 0
        last = start_version

        def increment(txn: Txn) -> int:
            current = txn.get(key)
            value = int(current or b"0") + 1
            txn.set(key, str(value).encode())
            return value

        for _ in range(increments):
            result = client.transact(increment, replica=replica, retries=None)
            attempts += result.attempts
            resolved += result.resolved_by_status
            last = max(last, result.version or last)
    client.close()
    return last, attempts, resolved


def _worker_entry(args: tuple[str, str | None, bytes, int, int]) -> tuple[int, int, int]:
    return worker(*args)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--url", default=os.environ.get("WEASELDB_URL", "http://127.0.0.1:8080"))
    ap.add_argument("--token", default=os.environ.get("WEASELDB_TOKEN"))
    ap.add_argument("--processes", type=int, default=20)
    ap.add_argument("--increments", type=int, default=10, help="per process")
    ap.add_argument("--key", help="counter key (default: a fresh random one)")
    args = ap.parse_args(argv)

    client = Client(args.url, token=args.token)
    start = client.version().version
    key = (args.key or f"examples/counter/{uuid.uuid4().hex}").encode()
    if args.key:
        print("note: with --key the counter must not exist yet", file=sys.stderr)
    expected = args.processes * args.increments
    began = time.monotonic()
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(args.processes) as pool:
        results = pool.map(_worker_entry, [(args.url, args.token, key, start, args.increments)] * args.processes)
    elapsed = time.monotonic() - began
    last = max(r[0] for r in results)
    attempts = sum(r[1] for r in results)
    resolved = sum(r[2] for r in results)

    # Check from a fresh view of the log, not from any worker's state.
    with Replica(client, after=start) as check:
        check.wait_for(last, timeout=60)
        final = int(check.get(key) or b"0")
    client.close()
    print(f"counter {key.decode()} = {final} (expected {expected}) after {attempts} attempts "
          f"({attempts - expected} retried, {resolved} resolved via /v1/status) in {elapsed:.1f}s")
    return 0 if final == expected else 1


if __name__ == "__main__":
    sys.exit(main())
