"""What a layout holds now: the dist-infos uvroot installed there (the dist-info is the state).

Re-sync keeps a distribution whose name, version and wheel hash match the plan,
and removes one of its own by following its RECORD.  Distributions that another
installer wrote are never touched.
"""

from __future__ import annotations

import csv
import glob
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path

from packaging.utils import canonicalize_name

from .errors import InstallError, UsageError, redact
from .fetch import LocalFile
from .layout import Layout
from .plan import InstallPlan, PlannedDist
from .txn import Transaction, is_within, reserved

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
    plan: InstallPlan,
    installed: list[InstalledDist],
    keys: dict[str, str],
    reinstall: frozenset[str] = frozenset(),
    *,
    exact: bool = True,
) -> Changes:
    """Keep what matches (same version and key), install what is missing, changed or forced; remove the rest of ours.

    Not ``exact``: the rest of ours stays, except an older version of a package being installed.
    """
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
    planned_names = {planned.name for planned in plan.dists}
    remove = tuple(dist for dist in ours.values() if dist.name not in kept and (exact or dist.name in planned_names))
    return Changes(install=tuple(install), keep=tuple(keep), remove=remove)


def remove_dist(dist: InstalledDist, layout: Layout, txn: Transaction) -> int:
    """Set one of our distributions aside by its RECORD (deleted at commit); returns its number of files.

    The dist-info goes first, so pip never sees a distribution without all its
    files; then each top-level directory that holds this distribution's files
    alone goes by one rename (a killed removal never leaves half a package),
    and what shares a directory with others (scripts, namespace packages) file by file.
    """
    paths = _owned_paths(dist.dist_info, dist.dist_info / "RECORD", layout)
    owned = set(paths)
    info = str(dist.dist_info)
    txn.set_aside(info)
    sites = [str(site) for site in layout.lib_dirs]
    by_entry: set[str] = set()
    singles: list[str] = []
    for path in paths:
        if is_within(path, info):
            continue
        site = next((site for site in sites if is_within(path, site) and path != site), None)
        relative = path[len(site) + 1 :] if site is not None else ""
        if "/" in relative:
            by_entry.add(os.path.join(site or "", relative.split("/")[0]))
        else:
            singles.append(path)
    owned_dirs = {os.path.dirname(path) for path in paths}
    for directory in list(owned_dirs):
        while (directory := os.path.dirname(directory)) not in owned_dirs and len(directory) > 1:
            owned_dirs.add(directory)
    for entry in sorted(by_entry):
        _aside_owned(entry, owned, owned_dirs, txn)
    for path in singles:
        if os.path.lexists(path) and not os.path.isdir(path):
            txn.set_aside(path)
        if path.endswith(".py"):  # bytecode Python wrote next to it at run time (not in RECORD)
            folder, name = os.path.split(path)
            pattern = os.path.join(glob.escape(folder), "__pycache__", glob.escape(name[:-3]) + ".*.pyc")
            for compiled in sorted(glob.glob(pattern)):
                if compiled not in owned:
                    txn.set_aside(compiled)
    return len(paths)


def _aside_owned(directory: str, owned: set[str], owned_dirs: set[str], txn: Transaction) -> None:
    """Set aside what the distribution owns under ``directory``: whole where it owns all of it.

    A namespace package's part (``nsp/mine/``) goes by one rename even where
    ``nsp/`` holds other distributions' parts too.
    """
    if _wholly_owned(directory, owned):
        txn.set_aside(directory)
        return
    if not os.path.isdir(directory) or os.path.islink(directory):
        return
    compiled = os.path.basename(directory) == "__pycache__"
    for name in sorted(os.listdir(directory)):
        path = os.path.join(directory, name)
        if (path in owned_dirs or name == "__pycache__") and os.path.isdir(path) and not os.path.islink(path):
            _aside_owned(path, owned, owned_dirs, txn)
        elif path in owned or (compiled and _source_of(directory, name) in owned):
            txn.set_aside(path)


def _wholly_owned(entry: str, owned: set[str]) -> bool:
    """Every file under the directory ``entry`` is the distribution's (or bytecode Python wrote at run time)."""
    if not os.path.isdir(entry) or os.path.islink(entry):
        return False
    try:
        for directory, folders, files in os.walk(entry, onerror=_raise):
            if any(os.path.islink(os.path.join(directory, folder)) for folder in folders):
                return False
            compiled = os.path.basename(directory) == "__pycache__"
            if not folders and not files and not compiled:
                return False  # wheels carry no empty directories: someone else made this one
            for name in files:
                path = os.path.join(directory, name)
                if path not in owned and not (compiled and _source_of(directory, name) in owned):
                    return False
    except OSError:  # an unreadable directory is not known to be the distribution's: file by file
        return False
    return True


_PYC = re.compile(r"(?P<module>[^.]+)\.[A-Za-z0-9_-]+(\.opt-[12])?\.pyc")


def _source_of(cache: str, pyc: str) -> str | None:
    """The module ``__pycache__/NAME.TAG.pyc`` was compiled from (None for any other name)."""
    found = _PYC.fullmatch(pyc)
    return os.path.join(os.path.dirname(cache), found["module"] + ".py") if found else None


def _raise(error: OSError) -> None:
    raise error


def _owned_paths(dist_info: Path, record: Path, layout: Layout) -> list[str]:
    # Lexical paths: with --link-mode symlink the files themselves point into the cache.
    top = os.path.realpath(layout.top)
    site = str(dist_info.parent)
    try:
        with record.open(newline="", encoding="utf-8") as stream:
            paths = [os.path.normpath(os.path.join(site, row[0])) for row in csv.reader(stream) if row and row[0]]
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise InstallError(
            f"cannot read the RECORD of {dist_info.name}: {exc}",
            hint="uvroot removes a distribution only by its RECORD; delete its files yourself",
        ) from None
    lexical_top = str(layout.top)  # (computed, not stored: once here, not once per file)
    real_parents: dict[str, str] = {}  # a distribution's files share a few hundred directories at most
    for path in paths:
        parent = os.path.dirname(path)
        if (real := real_parents.get(parent)) is None:
            real = real_parents[parent] = os.path.realpath(parent) if os.path.exists(parent) else parent
        if not is_within(real, top) or not is_within(path, lexical_top) or path == lexical_top:
            raise InstallError(
                f"RECORD of {dist_info.name} lists {path}, outside {layout.top}",
                hint="uvroot removes only files inside the tree it manages",
            )
        if reserved(path[len(lexical_top) :]):
            raise InstallError(
                f"RECORD of {dist_info.name} lists {path}, a name uvroot keeps for its own journal",
                hint="the RECORD was edited by hand or by a hostile tool; remove the distribution yourself",
            )
    return paths


def dist_info_files(planned: PlannedDist, local: LocalFile, target: str, key: str) -> dict[str, bytes]:
    """What uvroot adds to a dist-info: INSTALLER, its state file, REQUESTED and PEP 610's direct_url.json."""
    state = {"sha256": local.sha256, "source": key, "target": target, "wheel": local.path.name}
    metadata = {"INSTALLER": INSTALLER_NAME, STATE_FILE: (json.dumps(state, sort_keys=True) + "\n").encode()}
    if planned.requested:
        metadata["REQUESTED"] = b""
    if (origin := direct_url(planned)) is not None:
        metadata["direct_url.json"] = json.dumps(origin, sort_keys=True).encode()
    return metadata


def direct_url(planned: PlannedDist) -> dict[str, object] | None:
    """PEP 610's record of where a non-registry distribution came from (never with credentials)."""
    source = planned.package.id.source
    if source.kind == "git":
        info: dict[str, object] = {
            "url": redact(source.git_url),
            "vcs_info": {"vcs": "git", "commit_id": source.git_commit},
        }
    elif source.kind in ("directory", "editable"):
        info = {"url": Path(source.value).as_uri(), "dir_info": {}}  # installed non-editable, from this tree
    elif source.kind in ("url", "path"):
        artifact = planned.wheel or planned.package.sdist
        url = redact(source.value) if source.kind == "url" else Path(source.value).as_uri()
        digest = artifact.sha256 if artifact is not None else None
        info = {
            "url": url,
            "archive_info": {"hash": f"sha256={digest}", "hashes": {"sha256": digest}} if digest else {},
        }
    else:
        return None  # registry installs are name+version installs: PEP 610 says no file
    if source.subdirectory:
        info["subdirectory"] = source.subdirectory
    return info


def _read(info: Path) -> InstalledDist:
    stem = info.name.removesuffix(".dist-info")
    name, _, version = stem.partition("-")
    installer = info / "INSTALLER"
    ours = installer.is_file() and installer.read_bytes() == INSTALLER_NAME
    key = None
    if ours and (info / STATE_FILE).is_file():
        try:
            key = json.loads((info / STATE_FILE).read_text(encoding="utf-8")).get("source")
        except (ValueError, AttributeError):
            key = None  # damaged: the distribution is installed again

    return InstalledDist(str(canonicalize_name(name)), version, info, ours, key)
