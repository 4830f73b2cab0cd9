"""The README's API reference matches the real signatures (names, defaults' presence, `*`)."""

from __future__ import annotations

import inspect
import re
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
