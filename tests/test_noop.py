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
    project: Path, root: Path, cache: Path, *extra: str, env: dict[str, str] | None = None, python: str = ""
) -> tuple[str, set[str]]:
    """Run a sync (by ``python``, default this interpreter); its stderr and the modules it imported."""
    argv = start_argv(project, root, cache, *extra)
    argv[0] = python or argv[0]
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


def _another_name_of_this_interpreter() -> str:
    """The same venv's interpreter by another of its names (python, python3, python3.X): another sys.executable."""
    here = Path(sys.executable)
    names = ["python", "python3", f"python3.{sys.version_info.minor}"]
    others = [here.with_name(name) for name in names if name != here.name and here.with_name(name).exists()]
    if not others:
        pytest.skip(f"no other name of {here} in its directory")
    return str(others[0])


CHANGES = [
    "lock",
    "lock-mtime-put-back",
    "pyproject",
    "dist-info",
    "state",
    "variable",
    "source-date-epoch",
    "journal",
    "scripts",
    "uvroot-code",
    "interpreter",
]


@pytest.mark.parametrize("change", CHANGES)
def test_any_change_a_sync_acts_on_runs_the_full_sync(synced: tuple[Path, Path, Path], change: str) -> None:
    project, root, cache = synced
    _sync(project, root, cache)
    _, imported = _sync(project, root, cache)
    assert "typer" not in imported  # the stamp answers
    env, python = {}, ""
    info = root / SITE / "bulkc-1.0.dist-info"
    if change == "lock":
        (project / "uv.lock").write_text((project / "uv.lock").read_text())  # same bytes, new ctime
    elif change == "lock-mtime-put-back":  # only the ctime tells (it cannot be set back)
        before = (project / "uv.lock").stat()
        (project / "uv.lock").write_text((project / "uv.lock").read_text())
        os.utime(project / "uv.lock", ns=(before.st_atime_ns, before.st_mtime_ns))
    elif change == "source-date-epoch":  # every staged file's mtime
        env = {"SOURCE_DATE_EPOCH": "1700000000"}
    elif change == "uvroot-code":  # another uvroot (here: the same bytes, touched) never trusts this one's stamps
        import uvroot.noop

        code = Path(uvroot.noop.__file__).stat()
        os.utime(uvroot.noop.__file__, ns=(code.st_atime_ns, code.st_mtime_ns))  # the ctime alone changes
    elif change == "interpreter":  # the default target is the running interpreter's
        python = _another_name_of_this_interpreter()
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
    output, imported = _sync(project, root, cache, env=env, python=python)
    assert "typer" in imported, output  # the full sync ran
    if change in ("dist-info", "state"):
        assert "staged 1 package" in output and (info / "RECORD").is_file()
    assert not (root / ".uvroot-txn").exists()


def test_the_same_relative_command_in_another_project_is_not_answered_by_the_first_ones_stamp(
    bulk_project: Callable[..., Path], tmp_path: Path
) -> None:
    """`uvroot sync --project . --root out` in two checkouts: the working directory is in the stamp's key."""
    from tests.support.bulk import TARGET
    from tests.support.cli import uvroot_argv

    argv = uvroot_argv("sync", "--project", ".", "--root", "out", *TARGET, "--cache-dir", tmp_path / "cache")
    for name in ("first", "second"):
        shutil.copytree(bulk_project("bulka==1.0", "bulkc"), tmp_path / name)
        for _ in range(3):  # synced, stamped, answered
            done = subprocess.run(argv, cwd=tmp_path / name, capture_output=True, text=True, check=False)
            assert done.returncode == 0, done.stderr
        assert (tmp_path / name / "out" / SITE / "bulkc-1.0.dist-info" / "RECORD").is_file()


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
