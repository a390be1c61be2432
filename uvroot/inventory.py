"""The machine-readable plan and report: ``uvroot plan --format json`` and ``sync --report FILE``.

One JSON document, versioned by ``schema`` (name ``uvroot-plan``, version 1),
describes the target, the layout, every package that is (or would be)
installed with the artifact chosen for the target, what is removed, and why
every other locked package is skipped.  After a real sync each package also
carries ``installed_size`` and ``files``, read from the RECORD files in the
layout, so users can see what makes their image fat.  Output is deterministic
(sorted keys and lists, no timestamps, credentials removed from URLs), so two
reports of the same tree diff cleanly.
"""

from __future__ import annotations

import contextlib
import csv
import json
import os
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import __version__
from .errors import UsageError, redact
from .layout import Layout
from .lock import LockedPackage
from .plan import PlannedDist
from .state import scan
from .sync import SyncReport
from .txn import is_within

SCHEMA = {"name": "uvroot-plan", "version": 1}
Json = dict[str, Any]


@dataclass(frozen=True, slots=True)
class InstalledSize:
    """What one distribution occupies in the layout, by its RECORD."""

    bytes: int
    files: int


def document(report: SyncReport, layout: Layout) -> Json:
    """The plan (dry run) or the report (after a real sync) as a JSON-ready dict."""
    sizes = None if report.dry_run else installed_sizes(layout)
    install = {planned.name for planned in report.changes.install}
    packages = [_package(p, "install" if p.name in install else "keep", sizes) for p in report.plan.dists]
    packages.sort(key=lambda entry: (entry["name"], entry["version"]))
    removed = sorted(({"name": d.name, "version": d.version} for d in report.changes.remove), key=_by_name)
    skipped = [
        {
            "name": item.package.name,
            "version": item.package.id.version,
            "kind": item.kind,
            "detail": item.detail,
            "parent": item.parent or None,
        }
        for item in report.plan.skipped
    ]
    skipped.sort(key=lambda entry: (entry["name"], entry["version"] or ""))
    target = report.plan.target
    return {
        "schema": SCHEMA,
        "generator": f"uvroot {__version__}",
        "dry_run": report.dry_run,
        "target": {
            "python_version": target.python_version,
            "python_full_version": ".".join(map(str, target.python)),
            "platform": target.platform_name,
            "tag": str(target),
        },
        "layout": _layout(layout),
        "packages": packages,
        "removed": removed,
        "skipped": skipped,
        "totals": _totals(packages, removed, skipped, report),
    }


def dumps(doc: Json) -> str:
    """Stable JSON text: sorted keys, two-space indents, a final newline."""
    return json.dumps(doc, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def check_report_path(path: Path, layout: Layout) -> Path:
    """The absolute report path; refused inside the staged tree, which holds only what the wheels hold."""
    absolute = path.resolve()  # symbolic links too: a link into the tree is inside it
    if is_within(str(absolute), str(layout.top.resolve())):
        raise UsageError(
            f"--report {path} is inside the staged tree {layout.top}",
            hint="write the report next to the tree, e.g. --report build/uvroot-report.json",
        )
    if absolute.is_dir():
        raise UsageError(f"--report {path} is a directory", hint="name a file, e.g. --report uvroot-report.json")
    # Checked now, before anything is staged: a report that cannot be written must not fail a finished sync.
    existing = next((p for p in absolute.parents if p.exists()), Path("/"))
    if not existing.is_dir():
        raise UsageError(f"--report {path}: {existing} is a file, not a directory", hint="write the report elsewhere")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise UsageError(f"--report {path}: {existing} is not writable by this user", hint="write the report elsewhere")
    return absolute


def write_report(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` atomically: a temporary file beside it, then one rename."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as exc:
        raise UsageError(f"cannot write --report {path}: {exc.strerror}", hint="write the report elsewhere") from None
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            stream.write(text)
        Path(temporary).replace(path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def installed_sizes(layout: Layout) -> dict[str, InstalledSize]:
    """Bytes and files of every distribution in the layout, from its RECORD.

    A RECORD row without a size (RECORD itself, files written at install time)
    is measured with ``stat``; a listed file that is missing counts as a file of 0 bytes.
    """
    return {dist.name: _record_size(dist.dist_info) for dist in scan(layout)}


def _record_size(dist_info: Path) -> InstalledSize:
    site = dist_info.parent
    record = dist_info / "RECORD"
    if not record.is_file():
        return InstalledSize(0, 0)
    total = files = 0
    with record.open(newline="", encoding="utf-8") as stream:
        for row in csv.reader(stream):
            if not row or not row[0]:
                continue
            files += 1
            if len(row) >= 3 and row[2].isdigit():
                total += int(row[2])
                continue
            with contextlib.suppress(OSError):  # listed but gone: a file of 0 bytes
                total += Path(os.path.normpath(site / row[0])).stat().st_size
    return InstalledSize(total, files)


def _package(planned: PlannedDist, action: str, sizes: dict[str, InstalledSize] | None) -> Json:
    package = planned.package
    wheel = planned.wheel
    entry: Json = {
        "name": planned.name,
        "version": planned.version,
        "action": action,
        "requested": planned.requested,
        "source": {"kind": package.id.source.kind, "url": redact(package.id.source.value)},
        "wheel": None,
        "build": None,
    }
    if wheel is not None:
        entry["wheel"] = {
            "filename": wheel.filename,
            "url": redact(wheel.url) if wheel.url else None,
            "size": wheel.size,
            "sha256": wheel.sha256,
        }
    else:
        entry["build"] = _build(planned, package)
    if sizes is not None:
        found = sizes.get(planned.name)
        entry["installed_size"] = found.bytes if found else None
        entry["files"] = found.files if found else None
    return entry


def _build(planned: PlannedDist, package: LockedPackage) -> Json:
    # What is built on this machine: an sdist (verified against the lock) or a source tree.
    source = package.id.source
    if planned.build_from == "sdist" and package.sdist is not None:
        sdist = package.sdist
        return {
            "from": "sdist",
            "filename": sdist.filename,
            "url": redact(sdist.url) if sdist.url else None,
            "size": sdist.size,
            "sha256": sdist.sha256,
        }
    built: Json = {"from": "tree", "kind": source.kind, "url": redact(source.value)}
    if source.kind == "git":
        built["url"] = redact(source.git_url)
        built["commit"] = source.git_commit
        built["subdirectory"] = source.subdirectory
    return built


def _layout(layout: Layout) -> Json:
    return {
        "kind": layout.kind,
        "top": str(layout.top),
        "destdir": str(layout.destdir) if layout.destdir is not None else None,
        "interpreter": layout.interpreter,
        "directories": layout.describe(),
    }


def _totals(packages: list[Json], removed: list[Json], skipped: list[Json], report: SyncReport) -> Json:
    totals: Json = {
        "packages": len(packages),
        "install": sum(1 for p in packages if p["action"] == "install"),
        "keep": sum(1 for p in packages if p["action"] == "keep"),
        "remove": len(removed),
        "skipped": len(skipped),
        "from_wheels": sum(1 for p in packages if p["wheel"] is not None),
        "built": sum(1 for p in packages if p["build"] is not None),
        "wheel_size": _sum(p["wheel"]["size"] for p in packages if p["wheel"] is not None),
    }
    if not report.dry_run:
        totals["installed_size"] = _sum(p["installed_size"] for p in packages)
        totals["files"] = _sum(p["files"] for p in packages)
    return totals


def _sum(values: Iterable[int | None]) -> int:
    return sum(value or 0 for value in values)


def _by_name(entry: Json) -> tuple[str, str]:
    return (entry["name"], entry["version"])
