"""The README: its API reference matches the real signatures (names, defaults' presence, `*`),
and its self-contained examples run without leaking connections."""

from __future__ import annotations

import inspect
import re
import subprocess
import sys
from pathlib import Path
from typing import Any, Callable

import pytest

from weaseldb import Client, Replica

README = Path(__file__).resolve().parent.parent / "README.md"


def _documented_calls() -> list[str]:
    text = README.read_text(encoding="utf-8")
    table = text[text.index("## API"):text.index("### Errors")]
    calls = []
    for line in table.splitlines():
        if line.startswith("| `"):
            cell = line.split("|")[1]
            calls += re.findall(r"`([A-Za-z_]+\(.*?\))`", cell)
    calls += re.findall(r"`(Replica\(.*?\))`", text.replace("\n", " "))[:1]
    return calls


def _split_args(inner: str) -> list[str]:
    out, depth, cur = [], 0, ""
    for ch in inner:
        if ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
        if ch == "," and depth == 0:
            out.append(cur.strip())
            cur = ""
        else:
            cur += ch
    if cur.strip():
        out.append(cur.strip())
    return out


def _shape_of_text(call: str) -> list[tuple[str, str, bool]]:
    inner = call[call.index("(") + 1:-1]
    shape, kw_only = [], False
    for arg in _split_args(inner):
        if arg == "*":
            kw_only = True
        elif arg.startswith("**"):
            shape.append((arg[2:], "**", False))
        else:
            name = arg.split("=")[0]
            shape.append((name, "kw" if kw_only else "pos", "=" in arg))
    return shape


def _shape_of(fn: Callable[..., Any]) -> list[tuple[str, str, bool]]:
    shape = []
    for p in list(inspect.signature(fn).parameters.values()):
        if p.name == "self":
            continue
        kind = {p.VAR_KEYWORD: "**", p.KEYWORD_ONLY: "kw"}.get(p.kind, "pos")
        shape.append((p.name, kind, p.default is not p.empty and kind != "**"))
    return shape


@pytest.mark.parametrize("call", _documented_calls())
def test_readme_signature_matches_the_code(call: str) -> None:
    name = call[:call.index("(")]
    fn: Callable[..., Any]
    if name == "Client":
        fn = Client.__init__
    elif name == "Replica":
        fn = Replica.__init__
    else:
        fn = getattr(Client, name)
    assert _shape_of_text(call) == _shape_of(fn), f"README documents {call}, the code is {inspect.signature(fn)}"


def test_every_public_client_method_is_documented() -> None:
    documented = {c[:c.index("(")] for c in _documented_calls()}
    public = {n for n, v in vars(Client).items() if callable(v) and not n.startswith("_")} - {"commit_body", "close"}
    assert public <= documented, public - documented


def _runnable_snippets() -> list[str]:
    """The README's Python examples that make their own Client (the others continue them)."""
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), re.S)
    return [b for b in blocks if 'Client("http://127.0.0.1:8080"' in b]


def test_the_readme_has_runnable_snippets() -> None:
    assert len(_runnable_snippets()) >= 2


@pytest.mark.parametrize("snippet", _runnable_snippets(), ids=lambda s: s.splitlines()[0][:40])
def test_readme_snippets_run_and_close_what_they_open(snippet: str) -> None:
    # Against the in-memory fakedb, with ResourceWarning as an error: a snippet that
    # leaves a Client or Replica open would teach leaking sockets.
    from fakedb import FakeDB, serve

    httpd = serve(FakeDB())
    try:
        url = f"http://127.0.0.1:{httpd.server_address[1]}"
        code = snippet.replace("http://127.0.0.1:8080", url) + "\nimport gc; gc.collect()\n"
        done = subprocess.run([sys.executable, "-X", "dev", "-W", "error::ResourceWarning", "-c", code],
                              capture_output=True, text=True, timeout=60)
    finally:
        httpd.shutdown()
        httpd.server_close()
    assert done.returncode == 0, done.stderr
    assert "ResourceWarning" not in done.stderr, done.stderr
