"""What a layout holds now: the dist-infos uvroot installed there (the dist-info is the state).

Re-sync keeps a distribution whose name, version and wheel hash match the plan,
and removes one of its own by following its RECORD.  Distributions that another
installer wrote are never touched.
"""

from __future__ import annotations

import csv
import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from packaging.utils import canonicalize_name

from .errors import InstallError, UsageError
from .layout import Layout
from .plan import InstallPlan, PlannedDist
from .tree import PARTIAL, STAGE, is_within, prune_empty, recover_pending

INSTALLER_NAME = b"uvroot\n"
STATE_FILE = "uvroot.json"


@dataclass(frozen=True, slots=True)
class InstalledDist:
    """One ``*.dist-info`` found in the layout's site-packages."""

    name: str
    version: str
    dist_info: Path
    ours: bool
    key: str | None
    """What it was installed from (uvroot.json): the wheel's sha256 or the built source's fingerprint."""


@dataclass(frozen=True, slots=True)
class Changes:
    """The difference between a plan and a layout."""

    install: tuple[PlannedDist, ...]
    keep: tuple[PlannedDist, ...]
    remove: tuple[InstalledDist, ...]


def scan(layout: Layout) -> list[InstalledDist]:
    """Every distribution installed in the layout's purelib and platlib directories."""
    infos = [info for site in layout.lib_dirs if site.is_dir() for info in sorted(site.glob("*.dist-info"))]
    return [_read(info) for info in infos if info.is_dir()]


def check_target_dir(layout: Layout, installed: list[InstalledDist]) -> None:
    """``--target`` must be empty, missing, or a directory uvroot staged before."""
    top = layout.top
    if layout.kind != "target" or not top.exists():
        return
    if not top.is_dir():
        raise UsageError(f"--target {top} exists and is not a directory", hint="choose a directory path")
    if any(top.iterdir()) and not any(dist.ours for dist in installed):
        raise UsageError(
            f"--target {top} is not empty and was not created by uvroot",
            hint="pick an empty or new directory; uvroot never mixes into foreign trees",
        )


def diff(
    plan: InstallPlan, installed: list[InstalledDist], keys: dict[str, str], reinstall: frozenset[str] = frozenset()
) -> Changes:
    """Keep what matches (same version and key), install what is missing, changed or forced; remove the rest of ours."""
    ours = {dist.name: dist for dist in installed if dist.ours}
    keep, install = [], []
    for planned in plan.dists:
        dist = ours.get(planned.name)
        current = dist and dist.version == planned.version and dist.key == keys[planned.name]
        if current and planned.name not in reinstall:
            keep.append(planned)
        else:
            install.append(planned)
    kept = {planned.name for planned in keep}
    remove = tuple(dist for dist in ours.values() if dist.name not in kept)
    return Changes(install=tuple(install), keep=tuple(keep), remove=remove)


def remove_dist(dist: InstalledDist, layout: Layout) -> list[Path]:
    """Delete one of our distributions by its RECORD; returns the paths removed.

    The dist-info goes first, by one rename, so a killed removal leaves no half
    distribution behind, only files that the next sync's :func:`recover` deletes.
    """
    paths = _owned_paths(dist.dist_info, dist.dist_info / "RECORD", layout)
    partial = dist.dist_info.parent / f".{dist.dist_info.name}{PARTIAL}"
    dist.dist_info.rename(partial)
    _delete(paths, layout)
    shutil.rmtree(partial, ignore_errors=True)
    return paths


def recover(layout: Layout) -> int:
    """Finish what a killed sync left in the layout; returns the number of files deleted."""
    deleted = recover_pending(layout.top)
    for site in layout.lib_dirs:
        for stage in sorted(site.glob(f".*{STAGE}")) if site.is_dir() else []:
            shutil.rmtree(stage, ignore_errors=True)  # staged files of a distribution never moved into place
        for partial in sorted(site.glob(f".*{PARTIAL}")) if site.is_dir() else []:
            record = partial / "RECORD"
            if record.is_file():  # an interrupted removal, or an install killed just before its rename
                paths = _owned_paths(site / partial.name[1:].removesuffix(PARTIAL), record, layout)
                deleted += _delete(paths, layout)
            shutil.rmtree(partial, ignore_errors=True)
    return deleted


def _owned_paths(dist_info: Path, record: Path, layout: Layout) -> list[Path]:
    # Lexical paths: with --link-mode symlink the files themselves point into the cache.
    top = os.path.realpath(layout.top)
    site = dist_info.parent
    with record.open(newline="", encoding="utf-8") as stream:
        paths = [Path(os.path.normpath(site / row[0])) for row in csv.reader(stream) if row]
    for path in paths:
        parent = os.path.realpath(path.parent) if path.parent.exists() else os.path.normpath(path.parent)
        if not is_within(parent, top):
            raise InstallError(
                f"RECORD of {dist_info.name} lists {path}, outside {layout.top}",
                hint="uvroot removes only files inside the tree it manages",
            )
    return paths


def _delete(paths: list[Path], layout: Layout) -> int:
    top = layout.top
    for path in paths:
        path.unlink(missing_ok=True)
        if path.suffix == ".py":
            for compiled in path.parent.glob(f"__pycache__/{path.stem}.*.pyc"):
                compiled.unlink()
    parents = {p for path in paths for p in path.parents if p.is_relative_to(top) and p != top}
    prune_empty(parents | {d / "__pycache__" for d in parents})
    return len(paths)


def _read(info: Path) -> InstalledDist:
    stem = info.name.removesuffix(".dist-info")
    name, _, version = stem.partition("-")
    installer = info / "INSTALLER"
    ours = installer.is_file() and installer.read_bytes() == INSTALLER_NAME
    key = None
    if ours and (info / STATE_FILE).is_file():
        key = json.loads((info / STATE_FILE).read_text(encoding="utf-8")).get("source")
    return InstalledDist(str(canonicalize_name(name)), version, info, ours, key)
