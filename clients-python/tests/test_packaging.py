"""Packaging: building leaves nothing for git to report, and the sdist can run its tests."""

from __future__ import annotations

import shutil
import subprocess
import sys
import tarfile
import zipfile
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


def test_the_sdist_carries_what_its_tests_need(tmp_path: Path) -> None:
    # pytest in an unpacked sdist needs conftest.py, fakedb.py and the example, not only
    # the test_*.py files setuptools includes by default.
    pytest.importorskip("setuptools")
    src = tmp_path / "src"
    shutil.copytree(PACKAGE, src, ignore=shutil.ignore_patterns("build", "dist", "*.egg-info", "__pycache__"))
    made = subprocess.run([sys.executable, "-c", "from setuptools import setup; setup()", "-q", "sdist",
                           "-d", str(tmp_path / "dist")], cwd=src, capture_output=True, text=True)
    assert made.returncode == 0, made.stderr
    (sdist,) = (tmp_path / "dist").glob("weaseldb-*.tar.gz")
    with tarfile.open(sdist) as tar:
        names = {n.split("/", 1)[1] for n in tar.getnames() if "/" in n}
    wanted = {f"tests/{p.name}" for p in (PACKAGE / "tests").glob("*.py")}
    wanted |= {f"examples/{p.name}" for p in (PACKAGE / "examples").glob("*.py")}
    wanted |= {"README.md", "pyproject.toml"}
    assert {"tests/conftest.py", "tests/fakedb.py", "examples/counter.py"} <= wanted
    assert wanted - names == set()


def test_the_wheel_and_sdist_carry_the_license_as_an_spdx_expression(tmp_path: Path) -> None:
    # The License-Expression field and the license text, built without the deprecated
    # `license = { text = ... }` table (setuptools warns that it will stop building it).
    pytest.importorskip("setuptools")
    src = tmp_path / "src"
    shutil.copytree(PACKAGE, src, ignore=shutil.ignore_patterns("build", "dist", "*.egg-info", "__pycache__"))
    dist = str(tmp_path / "dist")
    made = subprocess.run([sys.executable, "-c", "from setuptools import setup; setup()", "sdist", "-d", dist,
                           "bdist_wheel", "-d", dist], cwd=src, capture_output=True, text=True)
    assert made.returncode == 0, made.stderr
    assert "license" not in made.stderr.lower(), made.stderr
    (wheel,) = (tmp_path / "dist").glob("weaseldb-*.whl")
    with zipfile.ZipFile(wheel) as whl:
        metadata = whl.read(next(n for n in whl.namelist() if n.endswith(".dist-info/METADATA"))).decode()
        licenses = [n for n in whl.namelist() if ".dist-info/licenses/" in n]
    assert "License-Expression: Apache-2.0" in metadata.splitlines()
    assert licenses and "Apache License" in zipfile.ZipFile(wheel).read(licenses[0]).decode()
    (sdist,) = (tmp_path / "dist").glob("weaseldb-*.tar.gz")
    with tarfile.open(sdist) as tar:
        names = {n.split("/", 1)[1] for n in tar.getnames() if "/" in n}
        pkg_info = tar.extractfile(next(m for m in tar.getmembers() if m.name.endswith("/PKG-INFO")
                                        and m.name.count("/") == 1)).read().decode()  # type: ignore[union-attr]
    assert "LICENSE" in names
    assert "License-Expression: Apache-2.0" in pkg_info.splitlines()
