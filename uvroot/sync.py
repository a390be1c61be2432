"""The orchestrator: lock -> plan -> fetch -> spread, in the order uv's ``execute_plan`` uses.

Every wheel is fetched and verified *before* the layout changes, so a network or
hash failure leaves the tree alone; a failure while spreading takes back every
file this sync wrote.  The library never prints: it tells a :class:`Reporter`.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from .cache import WheelCache, default_cache_dir
from .fetch import CachedWheel, Downloader, fetch_wheel
from .layout import Layout
from .lock import load_lock
from .plan import InstallPlan, PlannedWheel, plan_install
from .project import load_project
from .selection import SelectionFlags, select
from .spread import Journal, spread_wheel
from .state import Changes, InstalledDist, check_target_dir, diff, remove_dist, scan
from .target import Target

_DOWNLOAD_THREADS = 8


class Reporter(Protocol):
    """Progress events; the CLI turns them into bars or lines."""

    def planned(self, plan: InstallPlan, changes: Changes) -> None:
        """The plan is known; nothing has been fetched or written yet."""

    def fetched(self, planned: PlannedWheel, cached: CachedWheel) -> None:
        """One wheel is verified and on local disk."""

    def installed(self, planned: PlannedWheel, files: int) -> None:
        """One wheel is spread into the layout."""

    def removed(self, dist: InstalledDist) -> None:
        """One of uvroot's distributions was removed from the layout."""


class NullReporter:
    """A reporter that ignores every event."""

    def planned(self, plan: InstallPlan, changes: Changes) -> None:  # noqa: D102
        pass

    def fetched(self, planned: PlannedWheel, cached: CachedWheel) -> None:  # noqa: D102
        pass

    def installed(self, planned: PlannedWheel, files: int) -> None:  # noqa: D102
        pass

    def removed(self, dist: InstalledDist) -> None:  # noqa: D102
        pass


@dataclass(frozen=True, kw_only=True)
class SyncOptions:
    """Everything a sync needs, already validated by the caller."""

    project_dir: Path
    target: Target
    layout: Layout
    selection: SelectionFlags = field(default_factory=SelectionFlags)
    cache_dir: Path | None = None
    no_cache: bool = False
    offline: bool = False
    dry_run: bool = False


@dataclass(frozen=True)
class SyncReport:
    """What a sync did."""

    plan: InstallPlan
    changes: Changes
    files: int = 0
    bytes: int = 0
    seconds: float = 0.0
    dry_run: bool = False


def make_plan(options: SyncOptions) -> InstallPlan:
    """Read the project and lock and decide every wheel, without touching disk or network."""
    project = load_project(options.project_dir)
    lock = load_lock(options.project_dir / "uv.lock")
    return plan_install(lock, project, options.target, select(project, options.selection))


def sync(options: SyncOptions, *, downloader: Downloader, reporter: Reporter | None = None) -> SyncReport:
    """Make the layout hold exactly the locked wheels for the target."""
    reporter = reporter or NullReporter()
    started = time.monotonic()
    plan = make_plan(options)
    installed = scan(options.layout)
    check_target_dir(options.layout, installed)
    changes = diff(plan, installed)
    reporter.planned(plan, changes)
    if options.dry_run:
        return SyncReport(plan, changes, dry_run=True)
    with _cache(options) as cache:
        fetched = _fetch_all(changes.install, cache, downloader, options.offline, reporter)
        files = _apply(changes, fetched, options, reporter)
    size = sum(cached.size for cached in fetched)
    return SyncReport(plan, changes, files=files, bytes=size, seconds=time.monotonic() - started)


def _fetch_all(
    wanted: tuple[PlannedWheel, ...], cache: WheelCache, downloader: Downloader, offline: bool, reporter: Reporter
) -> list[CachedWheel]:
    def one(planned: PlannedWheel) -> CachedWheel:
        cached = fetch_wheel(planned.wheel, cache, downloader, offline=offline)
        reporter.fetched(planned, cached)
        return cached

    if len(wanted) <= 1:
        return [one(planned) for planned in wanted]
    with ThreadPoolExecutor(max_workers=_DOWNLOAD_THREADS) as pool:
        return list(pool.map(one, wanted))


def _apply(changes: Changes, fetched: list[CachedWheel], options: SyncOptions, reporter: Reporter) -> int:
    layout = options.layout
    for dist in changes.remove:
        remove_dist(dist, layout)
        reporter.removed(dist)
    journal = Journal(layout.top)
    try:
        for planned, cached in zip(changes.install, fetched, strict=True):
            files = spread_wheel(planned, cached, layout, str(options.target), journal)
            reporter.installed(planned, files)
    except BaseException:  # an error, a bug or Ctrl-C: leave nothing half-written
        journal.rollback()
        raise
    return len(journal.written)


@contextmanager
def _cache(options: SyncOptions) -> Iterator[WheelCache]:
    if not options.no_cache:
        yield WheelCache(options.cache_dir or default_cache_dir())
        return
    with tempfile.TemporaryDirectory(prefix="uvroot-cache-") as scratch:
        yield WheelCache(Path(scratch))
