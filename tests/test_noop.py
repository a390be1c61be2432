"""The instant no-op: a repeated sync is answered from a stamp before typer, packaging or the lock is imported.

Every change a sync would act on must make the next sync run in full: the lock,
pyproject.toml, a dist-info, the variables, a killed sync's journal.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.support.bulk import SITE, start_argv
from uvroot.targetfile import SCRIPT

HEAVY = ("typer", "packaging", "uvroot.cli", "uvroot.sync", "uvroot.lock", "requests")


def _sync(
    project: Path, root: Path, cache: Path, *extra: str, env: dict[str, str] | None = None
) -> tuple[str, set[str]]:
    """Run a sync; its stderr and the modules it imported."""
    argv = start_argv(project, root, cache, *extra)
    argv.insert(1, "-Ximporttime")
    result = subprocess.run(argv, capture_output=True, text=True, env={**os.environ, "CI": "1", **(env or {})},
                            check=False)  # fmt: skip
    assert result.returncode == 0, result.stderr
    lines = result.stderr.splitlines()
    imported = {line.split("|")[-1].strip() for line in lines if line.startswith("import time:")}
    return "\n".join(line for line in lines if not line.startswith("import time:")), imported


@pytest.fixture
def synced(bulk_project: Callable[..., Path], tmp_path: Path) -> tuple[Path, Path, Path]:
    project = tmp_path / "project"
    shutil.copytree(bulk_project("bulka==1.0", "bulkc"), project)
    root, cache = tmp_path / "root", tmp_path / "cache"
    _sync(project, root, cache)
    return project, root, cache


def test_a_repeated_no_op_imports_nothing_heavy_and_says_the_same(synced: tuple[Path, Path, Path]) -> None:
    project, root, cache = synced
    slow, imported = _sync(project, root, cache)  # decides "up to date" the long way, and stamps it
    assert "is up to date (2 packages" in slow and "typer" in imported
    fast, imported = _sync(project, root, cache)
    assert fast == slow
    assert not imported & set(HEAVY), sorted(imported & set(HEAVY))
    quiet, _ = _sync(project, root, cache, "-q")  # another command line: its own stamp
    quiet, imported = _sync(project, root, cache, "-q")
    assert quiet == "" and "typer" not in imported


@pytest.mark.parametrize("change", ["lock", "pyproject", "dist-info", "state", "variable", "journal", "scripts"])
def test_any_change_a_sync_acts_on_runs_the_full_sync(synced: tuple[Path, Path, Path], change: str) -> None:
    project, root, cache = synced
    _sync(project, root, cache)
    _, imported = _sync(project, root, cache)
    assert "typer" not in imported  # the stamp answers
    env = {}
    info = root / SITE / "bulkc-1.0.dist-info"
    if change == "lock":
        (project / "uv.lock").write_text((project / "uv.lock").read_text())  # same bytes, new ctime
    elif change == "pyproject":
        (project / "pyproject.toml").write_text((project / "pyproject.toml").read_text() + "\n")
    elif change == "dist-info":  # the distribution removed by hand, file by file, as pip would
        for line in (info / "RECORD").read_text().splitlines():
            (info.parent / line.rsplit(",", 2)[0]).unlink()
        shutil.rmtree(info)
    elif change == "state":
        (info / "uvroot.json").write_text("{}\n")
    elif change == "variable":
        env = {"UV_NO_DEV": "1"}
    elif change == "journal":
        (root / ".uvroot-txn").mkdir()  # what a killed sync leaves
    elif change == "scripts":
        (root / SITE / "bulkc.py").unlink()  # site-packages changed: checked again (uv's no-op does not look)
    output, imported = _sync(project, root, cache, env=env)
    assert "typer" in imported, output  # the full sync ran
    if change in ("dist-info", "state"):
        assert "staged 1 package" in output and (info / "RECORD").is_file()
    assert not (root / ".uvroot-txn").exists()


def test_targetplatform_and_the_target_files_contents_are_in_the_stamps_key(
    make_locked_project: Callable[..., Path], tmp_path: Path
) -> None:
    """--image's default platform comes from $TARGETPLATFORM, and --target-file's target from the file's bytes."""
    from tests.support.cli import uvroot_argv

    project = make_locked_project(dependencies=["native"], requires_python=">=3.10")
    cache = tmp_path / "cache"

    def run(*args: str | Path, env: dict[str, str]) -> tuple[str, bool]:
        argv = uvroot_argv("sync", "--project", project, "--cache-dir", cache, *args)
        argv.insert(1, "-Ximporttime")
        done = subprocess.run(argv, capture_output=True, text=True, env={**os.environ, "CI": "1", **env}, check=False)
        assert done.returncode == 0, done.stderr
        lines = done.stderr.splitlines()
        full = any(line.startswith("import time:") and line.split("|")[-1].strip() == "typer" for line in lines)
        return "\n".join(line for line in lines if not line.startswith("import time:")), full

    image = ("--root", tmp_path / "image", "--image", "python:3.12-slim")
    arm, amd = {"TARGETPLATFORM": "linux/arm64"}, {"TARGETPLATFORM": "linux/amd64"}
    for _ in range(2):
        run(*image, env=arm)
    assert run(*image, env=arm)[1] is False  # answered by the stamp
    output, full = run(*image, env=amd)
    assert full and "staged 1 package" in output, output  # the other platform's wheel
    site = tmp_path / "image/usr/local/lib/python3.12/site-packages"
    assert "x86_64" in (site / "native/__init__.py").read_text()

    described = tmp_path / "image.json"
    script = subprocess.run([sys.executable, "-I", "-c", SCRIPT], capture_output=True, text=True, check=True).stdout
    described.write_text(script)
    by_file = ("--root", tmp_path / "by-file", "--target-file", described)
    for _ in range(2):
        run(*by_file, env={})
    assert run(*by_file, env={})[1] is False
    document = json.loads(script)
    document["machine"] = "aarch64"
    described.write_text(json.dumps(document))  # same name, another target
    output, full = run(*by_file, env={})
    assert full and "staged 1 package" in output, output
