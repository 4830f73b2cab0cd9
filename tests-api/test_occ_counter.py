"""The README's optimistic-concurrency example: concurrent processes increment one counter exactly.

Runs ``clients-python/examples/counter.py`` unchanged (20 processes x 5 increments through
``client.transact`` with a replica), then checks the log independently: the counter's
writes must be exactly 1, 2, ..., 100 in version order, i.e. every increment read the value
the previous one wrote.
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path

from harness import history
from weaseldb import Write

PROCESSES = 20
INCREMENTS = 5


def test_counter_example_is_exact(server, source_root: Path) -> None:
    script = source_root / "clients-python" / "examples" / "counter.py"
    assert script.is_file(), script
    c = server.client()
    start = c.version().version
    key = f"examples/counter/{uuid.uuid4().hex}"
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    proc = subprocess.run(
        [sys.executable, str(script), "--url", server.url, "--processes", str(PROCESSES),
         "--increments", str(INCREMENTS), "--key", key],
        capture_output=True, text=True, timeout=150, env=env, cwd=script.parent.parent)
    out = proc.stdout + proc.stderr
    expected = PROCESSES * INCREMENTS
    assert proc.returncode == 0, out
    assert f"= {expected} (expected {expected})" in out, out

    end = c.commit([Write(b"examples/counter/end-" + key.encode(), b"")]).version
    writes = [op.value for t in history(c, start, end, timeout=60) for op in t.operations
              if isinstance(op, Write) and op.key == key.encode()]
    assert writes == [str(i).encode() for i in range(1, expected + 1)], writes
