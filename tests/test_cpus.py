"""Worker counts follow the CPUs a sync may use: its affinity and its cgroup's quota (uvroot/cpus.py).

The quota is read from a real cgroup where this machine lets the tests make one (root, a
writable cgroup mount), and from /proc and /sys trees written here in the layouts of cgroup v1,
v2 and a container's namespaced view.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from uvroot.cpus import available

HOST = len(os.sched_getaffinity(0))


def _fake(tmp_path: Path, cgroup: str, mounts: list[str], files: dict[str, str]) -> str:
    """A root holding proc/self/{cgroup,mountinfo} and the cgroup files given (path -> text)."""
    (tmp_path / "proc/self").mkdir(parents=True)
    (tmp_path / "proc/self/cgroup").write_text(cgroup)
    (tmp_path / "proc/self/mountinfo").write_text("".join(f"{i} 1 0:{i} {m}\n" for i, m in enumerate(mounts, 30)))
    for path, text in files.items():
        (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / path).write_text(text)
    return str(tmp_path)


V2_MOUNT = "/ /sys/fs/cgroup rw,nosuid - cgroup2 cgroup2 rw"
V1_CPU = "/ /sys/fs/cgroup/cpu,cpuacct rw,nosuid - cgroup cgroup rw,cpu,cpuacct"
V1_MEMORY = "/ /sys/fs/cgroup/memory rw,nosuid - cgroup cgroup rw,memory"


@pytest.mark.parametrize(
    ("cgroup", "mounts", "files", "expected"),
    [
        pytest.param("0::/\n", [V2_MOUNT], {}, HOST, id="v2-no-limit-file"),
        pytest.param("0::/\n", [V2_MOUNT], {"sys/fs/cgroup/cpu.max": "max 100000\n"}, HOST, id="v2-max"),
        pytest.param("0::/\n", [V2_MOUNT], {"sys/fs/cgroup/cpu.max": "50000 100000\n"}, 1, id="v2-half-a-cpu"),
        pytest.param("0::/\n", [V2_MOUNT], {"sys/fs/cgroup/cpu.max": "150000 100000\n"}, 1, id="v2-rounded-down"),
        pytest.param(
            "0::/\n",
            ["/ /sys/fs/my\\040cgroups rw - cgroup2 cgroup2 rw"],
            {"sys/fs/my cgroups/cpu.max": "100000 100000\n"},
            1,
            id="v2-escaped-mount-point",
        ),
        pytest.param("0::/\n", [V2_MOUNT], {"sys/fs/cgroup/cpu.max": "9" * 400 + " 1\n"}, HOST, id="v2-huge-quota"),
        pytest.param(
            "0::/build/step\n",
            [V2_MOUNT],
            {"sys/fs/cgroup/build/step/cpu.max": "max 100000\n", "sys/fs/cgroup/build/cpu.max": "100000 100000\n"},
            1,
            id="v2-limit-on-a-parent",
        ),
        pytest.param(
            "0::/docker/abc\n",
            ["/docker/abc /sys/fs/cgroup rw - cgroup2 cgroup2 rw"],
            {"sys/fs/cgroup/cpu.max": "100000 100000\n"},
            1,
            id="v2-container-view",
        ),
        pytest.param(
            "4:memory:/m\n3:cpu,cpuacct:/x\n0::/\n",
            [V1_MEMORY, V1_CPU],
            {
                "sys/fs/cgroup/cpu,cpuacct/x/cpu.cfs_quota_us": "100000\n",
                "sys/fs/cgroup/cpu,cpuacct/x/cpu.cfs_period_us": "100000\n",
            },
            1,
            id="v1-quota",
        ),
        pytest.param(
            "3:cpu,cpuacct:/x\n",
            [V1_CPU],
            {
                "sys/fs/cgroup/cpu,cpuacct/x/cpu.cfs_quota_us": "-1\n",
                "sys/fs/cgroup/cpu,cpuacct/x/cpu.cfs_period_us": "100000\n",
            },
            HOST,
            id="v1-no-quota",
        ),
        pytest.param(
            "4:memory:/x\n",
            [V1_MEMORY],
            {
                "sys/fs/cgroup/memory/x/cpu.cfs_quota_us": "100000\n",
                "sys/fs/cgroup/memory/x/cpu.cfs_period_us": "100000\n",
            },
            HOST,
            id="v1-not-the-cpu-controller",
        ),
        pytest.param(
            "3:cpu,cpuacct:/x\n",
            [V1_CPU],
            {
                "sys/fs/cgroup/cpu,cpuacct/x/cpu.cfs_quota_us": "150000\n",
                "sys/fs/cgroup/cpu,cpuacct/x/cpu.cfs_period_us": "100000\n",
            },
            1,
            id="v1-rounded-down",
        ),
        pytest.param(
            "3:cpu,cpuacct:/x\n",
            ["/ /sys/fs/cgroup/cpu rw - cgroup none rw,cpu,cpuacct"],
            {"sys/fs/cgroup/cpu/x/cpu.cfs_quota_us": "100000\n", "sys/fs/cgroup/cpu/x/cpu.cfs_period_us": "100000\n"},
            1,
            id="v1-mount-source-none",
        ),
        pytest.param(
            "0::/y\n",
            ["/ /sys/fs/cgroup/unified rw - cgroup2 none rw"],
            {"sys/fs/cgroup/unified/y/cpu.max": "100000 100000\n"},
            1,
            id="v2-mount-source-none",
        ),
        pytest.param(
            "12:cpu,cpuacct:/x\n0::/y\n",
            ["/ /sys/fs/cgroup/unified rw - cgroup2 cgroup2 rw"],
            {"sys/fs/cgroup/unified/y/cpu.max": "100000 100000\n"},
            1,
            id="hybrid-v1-lines-before-the-v2-one",
        ),
        pytest.param(
            "0::/build:42\n", [V2_MOUNT], {"sys/fs/cgroup/build:42/cpu.max": "100000 100000\n"}, 1, id="colon-in-path"
        ),
        pytest.param(
            "0::/y\n",
            ["/a/b /sys/fs/other rw - cgroup2 cgroup2 rw", V2_MOUNT],
            {"sys/fs/cgroup/y/cpu.max": "100000 100000\n"},
            1,
            id="v2-another-namespace-mount-first",
        ),
        pytest.param(
            "0::/y\n",
            ["/a/b /sys/fs/cgroup rw - cgroup2 cgroup2 rw"],
            # where ../../y leads from the mount point: outside the hierarchy
            {"sys/fs/cgroup/cgroup.controllers": "cpu\n", "sys/y/cpu.max": "100000 100000\n"},
            HOST,
            id="v2-cgroup-outside-the-mount-read-nowhere",
        ),
        pytest.param(
            "0::/\n",
            ["/ /broken rw shared:1", V2_MOUNT],  # no " - " separator
            {"sys/fs/cgroup/cpu.max": "100000 100000\n"},
            1,
            id="damaged-mountinfo-line",
        ),
        pytest.param("0::/\n", [V2_MOUNT], {"sys/fs/cgroup/cpu.max": "100000 0\n"}, HOST, id="damaged-period"),
        pytest.param("0::/\n", [V2_MOUNT], {"sys/fs/cgroup/cpu.max": "lots 100000\n"}, HOST, id="damaged-quota"),
    ],
)
def test_the_quota_is_read_as_containers_show_it(
    tmp_path: Path, cgroup: str, mounts: list[str], files: dict[str, str], expected: int
) -> None:
    assert available(_fake(tmp_path, cgroup, mounts, files)) == min(expected, HOST)


def test_no_proc_means_the_affinity_alone(tmp_path: Path) -> None:
    assert available(str(tmp_path)) == HOST


def test_a_sync_pinned_to_one_cpu_counts_one(tmp_path: Path) -> None:
    """`taskset -c 0 uvroot sync`: the affinity, not the machine's count."""
    before = os.sched_getaffinity(0)
    if len(before) < 2:
        pytest.skip("one CPU here: pinning changes nothing")
    os.sched_setaffinity(0, {min(before)})
    try:
        assert available(str(tmp_path)) == 1
    finally:
        os.sched_setaffinity(0, before)


@pytest.mark.parametrize(("count", "expected"), [(3, 3), (None, 1)])
def test_without_affinity_the_cpu_count_is_used(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, count: int | None, expected: int
) -> None:
    """Platforms without sched_getaffinity (macOS): os.cpu_count(), or 1 when it cannot tell."""
    monkeypatch.delattr(os, "sched_getaffinity")
    monkeypatch.setattr(os, "cpu_count", lambda: count)
    assert available(str(tmp_path)) == expected


@contextlib.contextmanager
def _one_cpu_cgroup() -> Iterator[Path]:
    """A real cgroup limited to one CPU (v2 where the cpu controller is there, else v1), or a skip."""
    name = f"uvroot-test-{uuid.uuid4().hex[:8]}"
    candidates = [
        (Path("/sys/fs/cgroup") / name, "cpu.max", "100000 100000"),
        (Path("/sys/fs/cgroup/unified") / name, "cpu.max", "100000 100000"),
        (Path("/sys/fs/cgroup/cpu") / name, "cpu.cfs_quota_us", "100000"),
        (Path("/sys/fs/cgroup/cpu,cpuacct") / name, "cpu.cfs_quota_us", "100000"),
    ]
    for group, limit, value in candidates:
        try:
            group.mkdir()
        except OSError:
            continue
        if not (group / "cgroup.procs").is_file():  # a plain directory (a tmpfs holds the v1 mounts)
            group.rmdir()
            continue
        try:
            (group / limit).write_text(value)
        except OSError:  # the controller is not enabled there
            group.rmdir()
            continue
        try:
            yield group
        finally:
            group.rmdir()
        return
    pytest.skip("no cgroup with a CPU quota can be made here (not root, or no writable cgroup mount)")


def test_a_sync_in_a_cgroup_of_one_cpu_counts_one(tmp_path: Path) -> None:
    """What `docker run --cpus 1` does to a sync on a bigger host: one worker's worth of CPUs, not the host's."""
    with _one_cpu_cgroup() as group:
        inside = subprocess.run(
            [sys.executable, "-c", "from uvroot.sync import _CORES; print(_CORES)"],
            preexec_fn=lambda: (group / "cgroup.procs").write_text(str(os.getpid())),
            capture_output=True,
            text=True,
            check=True,
        )
    assert inside.stdout.strip() == "1", inside.stderr
