"""Builds from source stay under control: the wheel is what the lock names, and an interrupted build
leaves no process and no work directory behind.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.support.cli import uvroot, uvroot_argv

SITE = "usr/local/lib/python3.12/site-packages"
TARGET = ["--python-version", "3.12", "--python-platform", "x86_64-manylinux_2_28"]

# A build backend (tinybuild's, through backend-path) that hangs once HANG exists, as a compiler
# might: it starts a child of its own and records both process ids.
HANGING_BACKEND = """\
import os, subprocess, sys, time
from pathlib import Path

from tinybuild import *  # noqa: F403
from tinybuild import build_wheel as _build_wheel


def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    here = Path(__file__).parent
    if (here / "HANG").exists():
        child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
        (here / "pids.tmp").write_text(f"{os.getpid()} {child.pid}\\n")
        os.replace(here / "pids.tmp", here / "pids")
        time.sleep(600)
    return _build_wheel(wheel_directory, config_settings, metadata_directory)
"""


@pytest.mark.parametrize(
    ("locked", "built", "hint"),
    [
        ("1.0", "1.1", "the source changed since uv.lock was written: run `uv lock`"),
        ("1.0+g57394b0", "1.0+g57394b05", "the version is computed from the checkout (setuptools-scm abbreviates"),
    ],
)
def test_a_built_wheel_whose_version_is_not_the_locked_one_is_refused(
    locked: str,
    built: str,
    hint: str,
    make_package: Callable[..., Path],
    make_locked_project: Callable[..., Path],
    tmp_path: Path,
) -> None:
    make_package(name="drift", version=locked)
    project = make_locked_project(
        dependencies=["drift", "alpha"], sources={"drift": {"path": "../libs/drift"}}, requires_python=">=3.10"
    )
    pyproject = tmp_path / "libs/drift/pyproject.toml"
    pyproject.write_text(pyproject.read_text().replace(f'version = "{locked}"', f'version = "{built}"'))  # no re-lock
    root = tmp_path / "root"
    result = uvroot("sync", "--project", project, "--root", root, *TARGET, "--frozen", cache=tmp_path / "c")
    assert result.exit_code == 7, result.output
    assert f"error: building drift=={locked} produced drift {built}, but uv.lock says drift {locked}" in result.output
    assert f"hint: {hint}" in result.output
    assert not list(root.glob(f"{SITE}/drift*"))


def _alive(pid: int) -> bool:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return False
    return "State:\tZ" not in status  # a zombie is dead, only not yet reaped by whoever adopted it


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP, signal.SIGINT], ids=["TERM", "HUP", "INT"])
def test_a_signal_during_a_build_kills_every_process_of_the_build_and_its_work_directory(
    signum: signal.Signals,
    make_package: Callable[..., Path],
    make_locked_project: Callable[..., Path],
    tmp_path: Path,
) -> None:
    tree = make_package(name="slowbuild")
    pyproject = tree / "pyproject.toml"
    pyproject.write_text(
        pyproject.read_text().replace('build-backend = "tinybuild"', 'build-backend = "hang"\nbackend-path = ["."]')
    )
    (tree / "hang.py").write_text(HANGING_BACKEND)
    project = make_locked_project(
        dependencies=["slowbuild", "alpha"],
        sources={"slowbuild": {"path": "../libs/slowbuild"}},
        requires_python=">=3.10",
    )
    (tree / "HANG").touch()
    cache = tmp_path / "cache"
    argv = uvroot_argv("sync", "--project", project, "--root", tmp_path / "root", *TARGET, "--cache-dir", cache)
    sync = subprocess.Popen(argv, env={**os.environ, "CI": "1"}, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 120
        while not (tree / "pids").exists():
            assert sync.poll() is None, sync.communicate()[1]
            assert time.monotonic() < deadline, "the build never started"
            time.sleep(0.1)
        backend, child = map(int, (tree / "pids").read_text().split())
        assert _alive(backend) and _alive(child)
        sync.send_signal(signum)  # `docker stop` or a CI timeout, a closed terminal, Ctrl-C
        _, stderr = sync.communicate(timeout=60)
    finally:
        if sync.poll() is None:
            sync.kill()
    assert sync.returncode != 0
    assert "Traceback" not in stderr, stderr
    settle = time.monotonic() + 10
    while (_alive(backend) or _alive(child)) and time.monotonic() < settle:
        time.sleep(0.1)
    assert not _alive(backend), "the build backend outlived the sync"
    assert not _alive(child), "the backend's own child outlived the sync"
    assert [p.name for p in (cache / "tmp").iterdir() if p.name.startswith("work-")] == []
    assert not list((tmp_path / "root").glob(f"{SITE}/slowbuild*"))
