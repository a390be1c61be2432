"""Crash safety: a sync killed (SIGKILL) at any point leaves every distribution complete or absent.

The kill points are chosen by a fixed seed among the files a sync writes
(UVROOT_TEST_KILL_AFTER_FILES makes uvroot SIGKILL itself right after the N-th
file, deterministically, offline).  After each kill no dist-info may be
incomplete; the next sync must then finish the job and give exactly the tree a
clean sync gives.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.support.cli import check_record, tree, uvroot_argv

TARGET = ["--python-version", "3.12", "--python-platform", "x86_64-manylinux_2_28"]
KILLS = 12


def _run(project: Path, root: Path, cache: Path, kill_after: int = 0) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "UVROOT_TEST_KILL_AFTER_FILES": str(kill_after), "CI": "1"}
    argv = uvroot_argv("sync", "--project", project, "--root", root, *TARGET, "--cache-dir", cache)
    return subprocess.run(argv, capture_output=True, text=True, env=env, check=False)


SITE = "usr/local/lib/python3.12/site-packages"


def _entries(root: Path) -> dict[str, set[str]]:
    """Top-level importable entries of site-packages -> their files (dist-infos and hidden ones aside)."""
    site = root / SITE
    found: dict[str, set[str]] = {}
    for path in site.rglob("*") if site.is_dir() else []:
        top = path.relative_to(site).parts[0]
        if path.is_file() and not top.startswith(".") and not top.endswith(".dist-info"):
            found.setdefault(top, set()).add(path.relative_to(site).as_posix())
    return found


def _consistent(root: Path, clean: Path) -> None:
    site = root / SITE
    for info in site.glob("*.dist-info") if site.is_dir() else []:
        assert (info / "RECORD").is_file(), f"{info.name} has no RECORD"
        assert check_record(info) == [], f"{info.name} is incomplete"
    whole = _entries(clean)
    for entry, files in _entries(root).items():  # never half a package, even without its dist-info
        assert files == whole.get(entry, files), f"{entry} is only partly there"


@pytest.mark.parametrize("resync", [False, True], ids=["fresh", "upgrade"])
def test_killed_syncs_leave_whole_distributions_and_the_next_sync_finishes(
    make_locked_project: Callable[..., Path], tmp_path: Path, resync: bool
) -> None:
    before = make_locked_project(dependencies=["alpha", "gadgets", "beta<2"], requires_python=">=3.8")
    after = make_locked_project(dependencies=["alpha", "native", "beta", "docstool"], requires_python=">=3.8")
    cache = tmp_path / "cache"
    clean = tmp_path / "clean"
    assert _run(after, clean, cache).returncode == 0
    total = sum(1 for _ in clean.rglob("*") if _.is_file())
    survived = 0
    points = random.Random(20261123).sample(range(1, total + 1), KILLS)
    for number, point in enumerate(sorted(points)):
        root = tmp_path / f"root-{number}"
        if resync:
            assert _run(before, root, cache).returncode == 0
        killed = _run(after, root, cache, kill_after=point)
        if killed.returncode == -signal.SIGKILL:
            survived += 1
        _consistent(root, clean)
        finished = _run(after, root, cache)
        assert finished.returncode == 0, finished.stderr
        _consistent(root, clean)
        assert tree(root) == tree(clean), f"after a kill at file {point}"
        assert not list(root.glob(".uvroot-pending-*"))
    print(f"{survived} of {KILLS} syncs killed mid-way (kill points {sorted(points)} of {total} files)")
    assert survived >= KILLS // 2  # most kill points really interrupted a sync
