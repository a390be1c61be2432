"""How many CPUs a sync may keep busy: its affinity, and its cgroup's CPU quota (``docker run --cpus``).

``os.cpu_count()`` is the host's; a container limited to one CPU of a 64-core
host would fork 8 workers that the quota then throttles in turn.  uv (Rust's
``available_parallelism``) reads the same two limits.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

_OCTAL = re.compile(r"\\([0-7]{3})")  # mountinfo escapes space, tab, newline and backslash


def available(root: str = "/") -> int:
    """The CPUs this process may use: the fewer of its affinity and its cgroup's quota (at least 1).

    ``root`` is where ``/proc`` and ``/sys`` are read from (the tests give a tree of their own).
    """
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    try:
        quota = _quota(Path(root))
    except (OSError, ValueError, ArithmeticError):  # no cgroups (not Linux), or files we cannot read
        quota = None
    return max(1, min(cores, quota if quota is not None else cores))


def _quota(root: Path) -> int | None:
    """The tightest CPU quota from this process's cgroup up to its hierarchy's root, in whole CPUs.

    Rounded down, as uv does (1.5 CPUs: one worker); :func:`available` counts 0 as 1.
    """
    groups = [
        line.split(":", 2) for line in (root / "proc/self/cgroup").read_text().splitlines() if line.count(":") >= 2
    ]
    limits = []
    for mount_root, mount_point, version in _mounts(root):
        for _, controllers, path in groups:
            if (version == 2) != (controllers == ""):  # v2's line is "0::/path"; v1's names its controllers
                continue
            if version == 1 and "cpu" not in controllers.split(","):
                continue
            relative = os.path.relpath(path, mount_root)
            if relative.startswith(".."):  # this process's cgroup is not under that mount (another namespace)
                continue
            limits.extend(_limits(root / mount_point.lstrip("/"), relative, version))
    return min(limits, default=None)


def _mounts(root: Path) -> list[tuple[str, str, int]]:
    """(root inside the hierarchy, mount point, version) of each cgroup2 mount and each cgroup v1 ``cpu`` one."""
    found = []
    for line in (root / "proc/self/mountinfo").read_text().splitlines():
        before, _, after = line.partition(" - ")
        fields, tail = before.split(), after.split()
        if len(fields) < 5 or len(tail) < 3:
            continue
        mount_root, mount_point = (_OCTAL.sub(lambda m: chr(int(m[1], 8)), field) for field in fields[3:5])
        if tail[0] == "cgroup2":
            found.append((mount_root, mount_point, 2))
        elif tail[0] == "cgroup" and "cpu" in tail[2].split(","):
            found.append((mount_root, mount_point, 1))
    return found


def _limits(mount: Path, relative: str, version: int) -> list[int]:
    """The quota of the cgroup at ``mount/relative`` and of each cgroup above it, in whole CPUs."""
    limits = []
    directory = mount / relative
    while True:
        if version == 2 and (cpu_max := directory / "cpu.max").is_file():
            quota, _, period = cpu_max.read_text().strip().partition(" ")
            if quota != "max" and period:
                limits.append(int(quota) // int(period))
        elif version == 1 and (cfs := directory / "cpu.cfs_quota_us").is_file():
            quota_us = int(cfs.read_text())
            if quota_us > 0:  # -1: no quota
                limits.append(quota_us // int((directory / "cpu.cfs_period_us").read_text()))
        if directory == mount or directory.parent == directory:
            return limits
        directory = directory.parent
