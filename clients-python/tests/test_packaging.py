"""Building the package leaves nothing for git to report in the source tree."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent


@pytest.mark.skipif(shutil.which("git") is None, reason="needs git")
@pytest.mark.parametrize("made_by_pip_install", ["build/lib/weaseldb/client.py", "src/weaseldb.egg-info/PKG-INFO"])
def test_build_output_is_ignored_by_git(made_by_pip_install: str) -> None:
    inside = subprocess.run(["git", "rev-parse", "--is-inside-work-tree"], cwd=PACKAGE, capture_output=True, text=True)
    if inside.returncode != 0 or inside.stdout.strip() != "true":
        pytest.skip("not a git checkout")
    # `pip install ./clients-python` writes these; `git status` must stay clean.
    ignored = subprocess.run(["git", "check-ignore", "-q", made_by_pip_install], cwd=PACKAGE)
    assert ignored.returncode == 0, f"clients-python/{made_by_pip_install} is not ignored by git"
