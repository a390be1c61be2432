"""Crash safety: syncs SIGKILLed at random moments leave whole distributions, and the next sync finishes the job.

Each scenario first measures one uninterrupted sync (when its transaction opens and
when the process ends), then kills fresh copies of the same starting tree at random
times (a fixed seed) from just before the transaction opens to the end.  After every
kill, before anything else runs: every dist-info has a complete RECORD, and every
top-level entry of site-packages is whole (as before the sync or as after it) or
absent.  Then the next sync must succeed and give a tree equal to a clean sync byte
for byte, modes and directory mtimes included, with no journal left.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.support.bulk import SITE, python312, snapshot, start_argv
from tests.support.cli import check_record

BEFORE = ("bulka==1.0", "bulkb==1.0", "bulkc")
AFTER = ("bulka==2.0", "bulkb==2.0")


@dataclass(frozen=True)
class Scenario:
    before: tuple[str, ...] | None
    after: tuple[str, ...]
    kills: int
    flags: tuple[str, ...] = ()
    env: dict[str, str] = field(default_factory=dict)
    cold: bool = False
    """Every run starts with an empty cache: kills land in downloads and unpacking too."""


SCENARIOS = {
    "fresh": Scenario(None, AFTER, 15),
    "upgrade": Scenario(BEFORE, AFTER, 20),
    "removal": Scenario(BEFORE, (), 15),
    "bytecode": Scenario(BEFORE, AFTER, 15, flags=("--compile-bytecode",)),
    "venv": Scenario(BEFORE, AFTER, 15, flags=("--venv", "/app/.venv", "--venv-python", "/usr/local/bin/python3.12")),
    "cold": Scenario(None, AFTER, 10, cold=True),
    "workers": Scenario(BEFORE, AFTER, 15, env={"UVROOT_WORKER_THRESHOLD": "0"}),
    "cold-workers": Scenario(None, AFTER, 10, env={"UVROOT_WORKER_THRESHOLD": "0"}, cold=True),
}


def _entries(root: Path, site: str) -> dict[str, dict[str, bytes]]:
    """Top-level importable entries (a namespace package's parts apart) -> their files and bytes."""
    top = root / site
    found: dict[str, dict[str, bytes]] = {}
    for path in top.rglob("*") if top.is_dir() else []:
        parts = path.relative_to(top).parts
        if path.is_file() and not parts[0].startswith(".") and not parts[0].endswith(".dist-info"):
            entry = "/".join(parts[:2] if parts[0] == "nsp" and len(parts) > 2 else parts[:1])
            found.setdefault(entry, {})[path.relative_to(top).as_posix()] = path.read_bytes()
    return found


def _whole_or_absent(root: Path, site: str, *wholes: Path) -> None:
    top = root / site
    for info in top.glob("*.dist-info") if top.is_dir() else []:
        assert check_record(info) == [], f"{info.name} is incomplete"
    versions = [_entries(whole, site) for whole in wholes]
    for entry, files in _entries(root, site).items():
        assert any(files == version.get(entry) for version in versions), f"{entry} is only partly there"


def _processes(argv: list[str]) -> list[int]:
    wanted = "\0".join(argv).encode()
    found = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            if cmdline.read_bytes().rstrip(b"\0") == wanted:
                found.append(int(cmdline.parent.name))
        except OSError:
            continue
    return found


def _measure(argv: list[str], root: Path, env: dict[str, str]) -> tuple[float, float, float]:
    """Seconds until the transaction opened, until it closed and until the process ended, for one sync."""
    started = time.monotonic()
    process = subprocess.Popen(argv, env=env, stderr=subprocess.DEVNULL, stdout=subprocess.DEVNULL)
    opened = closed = None
    while process.poll() is None:
        open_now = (root / ".uvroot-txn").is_dir()
        if opened is None and open_now:
            opened = time.monotonic() - started
        if opened is not None and closed is None and not open_now:
            closed = time.monotonic() - started
        time.sleep(0.001)
    assert process.returncode == 0
    ended = time.monotonic() - started
    assert opened is not None, "the transaction was never seen open"
    return opened, closed or ended, ended


@pytest.mark.parametrize("name", list(SCENARIOS))
def test_syncs_killed_at_random_times_leave_whole_distributions_and_the_next_sync_finishes(
    bulk_project: Callable[..., Path], tmp_path: Path, name: str
) -> None:
    scenario = SCENARIOS[name]
    flags = list(scenario.flags)
    if "--compile-bytecode" in flags:
        flags += ["--compile-python", str(python312())]
    site = "app/.venv/lib/python3.12/site-packages" if "--venv" in flags else SITE
    env = {**os.environ, "CI": "1", **scenario.env}
    after = bulk_project(*scenario.after)
    warm = tmp_path / "cache"

    def argv(project: Path, root: Path, cache: Path) -> list[str]:
        return start_argv(project, root, cache, "--root", root, *flags)

    def sync(project: Path, root: Path, cache: Path = warm) -> None:
        result = subprocess.run(argv(project, root, cache), env=env, capture_output=True, text=True, check=False)
        assert result.returncode == 0, result.stderr

    clean = tmp_path / "clean"
    sync(after, clean)
    expected = snapshot(clean)
    base = tmp_path / "base"
    base.mkdir()
    if scenario.before is not None:
        sync(bulk_project(*scenario.before), base)

    def fresh_root(number: int) -> Path:
        root = tmp_path / f"root-{number}"
        subprocess.run(["cp", "-a", base, root], check=True)
        return root

    def cache_for(number: int) -> Path:
        return tmp_path / f"cold-{number}" if scenario.cold else warm

    opened, closed, _ = _measure(argv(after, fresh_root(-1), cache_for(-1)), tmp_path / "root--1", env)
    rng = random.Random(f"20261202-{name}")
    in_transaction = 0
    for number in range(scenario.kills):
        root, cache = fresh_root(number), cache_for(number)
        command = argv(after, root, cache)
        process = subprocess.Popen(command, env=env, stderr=subprocess.DEVNULL, stdout=subprocess.DEVNULL)
        if scenario.cold or rng.random() < 0.2:  # anywhere before the transaction: downloads, unpacking, planning
            time.sleep(rng.uniform(0.0, opened))
        else:  # a random moment of the transaction (or just after it)
            while process.poll() is None and not (root / ".uvroot-txn").is_dir():
                time.sleep(0.0005)
            time.sleep(rng.uniform(0.0, closed - opened))
        in_transaction += process.poll() is None and (root / ".uvroot-txn").is_dir()
        process.send_signal(signal.SIGKILL)
        process.wait()
        deadline = time.monotonic() + 10
        while _processes(command) and time.monotonic() < deadline:  # workers die with their parent
            time.sleep(0.01)
        assert _processes(command) == [], "a worker outlived the sync that forked it"
        _whole_or_absent(root, site, base, clean)
        sync(after, root, cache)
        assert snapshot(root) == expected, f"kill {number} of {name}"
        assert not (root / ".uvroot-txn").exists()
    print(
        f"{name}: {scenario.kills} kills, {in_transaction} inside a transaction (transaction {opened:.2f}-{closed:.2f} s)"
    )
    # The kills really landed while the tree was being written (timing on a loaded machine varies: a few suffice).
    assert scenario.cold or in_transaction >= 3


def test_a_recovery_killed_part_way_is_finished_by_the_next_sync(
    bulk_project: Callable[..., Path], tmp_path: Path
) -> None:
    before, after = bulk_project(*BEFORE), bulk_project(*AFTER)
    env = {**os.environ, "CI": "1"}
    cache, clean, base = tmp_path / "cache", tmp_path / "clean", tmp_path / "base"

    def sync(project: Path, root: Path, **faults: int) -> int:
        extra = {f"UVROOT_TEST_{key.upper()}": str(value) for key, value in faults.items()}
        argv = start_argv(project, root, cache)
        return subprocess.run(argv, env={**env, **extra}, capture_output=True, check=False).returncode

    assert sync(after, clean) == 0 and sync(before, base) == 0
    rng = random.Random(20261202)
    for number in range(10):
        root = tmp_path / f"root-{number}"
        subprocess.run(["cp", "-a", base, root], check=True)
        assert sync(after, root, kill_after_files=rng.randrange(20, 500)) == -signal.SIGKILL  # mid-transaction
        # Recovery takes one step per entry, newest first; B (begin) and F (a directory's file list) are not steps.
        lines = [
            line for journal in (root / ".uvroot-txn").glob("journal-*") for line in journal.read_text().splitlines()
        ]
        steps = sum(1 for line in lines if line.split("\t")[0] not in ("B", "F"))
        assert sync(after, root, kill_in_recovery=rng.randrange(1, steps)) == -signal.SIGKILL  # mid-recovery
        _whole_or_absent(root, SITE, base, clean)
        assert sync(after, root) == 0
        assert snapshot(root) == snapshot(clean), f"recovery {number}"
