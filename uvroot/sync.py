"""The orchestrator: lock -> plan -> fetch/build -> spread, in the order uv's ``execute_plan`` uses.

Every wheel is fetched (or built) and verified *before* the layout changes, so
a network, hash or build failure leaves the tree alone; a failure while
spreading takes back every file this sync wrote.  The library never prints: it
tells a :class:`Reporter`.
"""

from __future__ import annotations

import os
import signal
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from packaging.utils import canonicalize_name

from .build import BuildContext, Frontend, build_dist, source_key
from .cache import WheelCache, default_cache_dir
from .check import REFUSAL_HINT, host_target, refusal, sdist_inspector
from .cpus import available
from .errors import InstallError, PlanError, UvrootError
from .fetch import Downloader, LocalFile, fetch, is_remote, needs_download
from .freshness import check_fresh
from .layout import Layout
from .lock import Lock, load_lock
from .plan import BuildPolicy, InstallPlan, PlannedDist, plan_install, with_built_versions
from .project import Project, discover_project
from .selection import SelectionFlags, select
from .settings import named_credentials
from .state import STATE_FILE, Changes, InstalledDist, check_target_dir, diff, remove_dist, scan
from .target import Target
from .tree import DEFAULT_EPOCH, LinkMode
from .txn import TXN_DIR, Transaction, locked, recover, stamp_top, write_error
from .venv import check_venv_dir, venv_current, venv_files, write_venv

if TYPE_CHECKING:
    from concurrent.futures import ProcessPoolExecutor

    from .interpreter import Interpreter

_THREADS = 8  # downloads: mostly waiting on the network
# Unpacking is CPU (inflate, hash) plus per-file Python: more unpacking threads than cores only
# trade the GIL back and forth (millions of futex calls on a cold sync), so they queue for a core.
_CORES = available()  # (a container limited to 2 CPUs of 64 gets 2 workers, not 8)
_UNPACKERS = threading.BoundedSemaphore(_CORES)
# Bytes of wheels: below this a second process costs more than it saves (the tests lower it to test workers).
_PROCESS_THRESHOLD = int(os.environ.get("UVROOT_WORKER_THRESHOLD", str(64 << 20)))
Item = tuple[PlannedDist, LocalFile, Path, str]


class Reporter(Protocol):
    """Progress events; the CLI turns them into bars or lines."""

    def planned(self, plan: InstallPlan, changes: Changes) -> None:
        """The plan is known; nothing has been fetched or written yet."""

    def downloads(self, dists: tuple[PlannedDist, ...]) -> None:
        """These wheels are not in the cache: their downloads (of the sizes uv.lock gives) start now."""

    def downloading(self, planned: PlannedDist, nbytes: int) -> None:
        """``nbytes`` more of ``planned``'s wheel arrived (negative: an attempt failed and starts over).

        Called from the download threads, once per chunk.
        """

    def fetched(self, planned: PlannedDist, local: LocalFile) -> None:
        """One wheel is verified (or built) and on local disk."""

    def installed(self, planned: PlannedDist, files: int) -> None:
        """One wheel is spread into the layout."""

    def removed(self, dist: InstalledDist) -> None:
        """One of uvroot's distributions was removed from the layout."""

    def log(self, line: str) -> None:
        """A detail worth showing with -v (build output, warnings)."""

    def warn(self, line: str) -> None:
        """Something the user should know even without -v."""


class NullReporter:
    """A reporter that ignores every event."""

    def planned(self, plan: InstallPlan, changes: Changes) -> None:  # noqa: D102
        pass

    def downloads(self, dists: tuple[PlannedDist, ...]) -> None:  # noqa: D102
        pass

    def downloading(self, planned: PlannedDist, nbytes: int) -> None:  # noqa: D102
        pass

    def fetched(self, planned: PlannedDist, local: LocalFile) -> None:  # noqa: D102
        pass

    def installed(self, planned: PlannedDist, files: int) -> None:  # noqa: D102
        pass

    def removed(self, dist: InstalledDist) -> None:  # noqa: D102
        pass

    def log(self, line: str) -> None:  # noqa: D102
        pass

    def warn(self, line: str) -> None:  # noqa: D102
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
    locked: bool = False
    frozen: bool = False
    """``--frozen``: uv.lock is not compared with pyproject.toml at all (not even a warning)."""
    build_frontend: Frontend | None = None
    link_mode: LinkMode = "clone"
    reinstall: bool = False
    reinstall_packages: frozenset[str] = frozenset()
    inexact: bool = False
    """``--inexact``: keep our distributions the lock no longer selects (uv's meaning)."""
    allow_existing: bool = False
    compile_with: Interpreter | None = None
    """Byte-compile with this interpreter (of the target's X.Y): ``--compile-bytecode``."""
    epoch: int = DEFAULT_EPOCH
    """The mtime of every file and directory the sync writes (``SOURCE_DATE_EPOCH``)."""
    explain: bool = False
    """Say why every locked package that is not installed is left out (``InstallPlan.skipped``)."""
    policy: BuildPolicy = field(default_factory=BuildPolicy)
    """``--no-build`` / ``--no-binary`` and their ``-package`` forms."""


@dataclass(frozen=True)
class SyncReport:
    """What a sync did."""

    plan: InstallPlan
    changes: Changes
    files: int = 0
    bytes: int = 0
    seconds: float = 0.0
    dry_run: bool = False


def make_plan(options: SyncOptions, reporter: Reporter | None = None) -> tuple[InstallPlan, Lock, Project]:
    """Read the project and lock and decide every distribution, without touching the layout or network."""
    project = discover_project(options.project_dir)
    lock = load_lock(project.root / "uv.lock", _cache_dir(options))
    if not options.frozen:
        check_fresh(project, lock, strict=options.locked, warn=(reporter or NullReporter()).warn)
    selection = select(project, options.selection, lock)
    plan = plan_install(lock, project, options.target, selection, explain=options.explain, policy=options.policy)
    return plan, lock, project


def sync(options: SyncOptions, *, downloader: Downloader, reporter: Reporter | None = None) -> SyncReport:
    """Make the layout hold exactly the locked distributions for the target."""
    previous = os.umask(0o022)  # directory modes must not depend on the caller's umask (reproducible trees)
    try:
        return _sync(options, downloader, reporter or NullReporter())
    finally:
        os.umask(previous)


def _sync(options: SyncOptions, downloader: Downloader, reporter: Reporter) -> SyncReport:
    started = time.monotonic()
    plan, lock, project = make_plan(options, reporter)
    downloader.credentials.update(named_credentials(project.indexes))
    if options.dry_run:
        with _cache(options) as cache:
            plan, changes, _ = _changes(plan, options, _context(options, cache, downloader, lock, reporter))
        reporter.planned(plan, changes)
        return SyncReport(plan, changes, dry_run=True)
    # One sync at a time writes a tree: the second waits, then sees what the first did.
    with locked(options.layout.top, reporter.warn), _cache(options) as cache:
        try:
            recovered = recover(options.layout.top, options.epoch)
        except OSError as exc:
            raise write_error(exc, options.layout.top) from None
        if recovered:
            reporter.warn(f"recovered from an interrupted sync: removed {recovered} files it had not finished")
        context = _context(options, cache, downloader, lock, reporter)
        keys = {p.name: _key(p, options.target, context) for p in plan.dists}
        plan, changes, installed = _changes(plan, options, context, keys)
        reporter.planned(plan, changes)
        venv_done = options.layout.kind != "venv" or venv_current(options.layout, options.target)
        if not changes.install and not changes.remove and venv_done:
            # a no-op sync stops here, before any heavy import (a sync killed as it ended may
            # have left the top's mtime, the one thing its journal no longer covers)
            stamp_top(options.layout.top, options.epoch)
            report = SyncReport(plan, changes, seconds=time.monotonic() - started)
            _remember_noop(report, options, project.root, lock, installed)
            return report
        _refuse_foreign_builds(changes.install, options.target, context)  # before any download or build
        prepared = _prepare_all(changes.install, options.target, keys, context, reporter)
        states = {name: key + _variant(options) for name, key in keys.items()}
        files = _apply(changes, prepared, states, options, reporter)
    size = sum(local.size for local, _ in prepared)
    return SyncReport(plan, changes, files=files, bytes=size, seconds=time.monotonic() - started)


def _context(
    options: SyncOptions, cache: WheelCache, downloader: Downloader, lock: Lock, reporter: Reporter
) -> BuildContext:
    return BuildContext(
        cache=cache,
        downloader=downloader,
        offline=options.offline,
        frontend=options.build_frontend,
        index_url=lock.default_index,
        exclude=options.layout.top,
        log=reporter.log,
    )


def _changes(
    plan: InstallPlan, options: SyncOptions, context: BuildContext, keys: dict[str, str] | None = None
) -> tuple[InstallPlan, Changes, list[InstalledDist]]:
    """What the layout holds now against the plan (it must be one uvroot may write)."""
    installed = scan(options.layout)
    check_target_dir(options.layout, installed)
    check_venv_dir(options.layout, installed)
    keys = keys or {p.name: _key(p, options.target, context) for p in plan.dists}
    plan = with_built_versions(plan, _built_versions(plan, keys, context.cache))  # dynamic versions
    states = {name: key + _variant(options) for name, key in keys.items()}
    changes = diff(plan, installed, states, reinstall=_reinstall(options, plan), exact=not options.inexact)
    return plan, changes, installed


def _remember_noop(
    report: SyncReport, options: SyncOptions, project: Path, lock: Lock, installed: list[InstalledDist]
) -> None:
    """Stamp a no-op for the next identical command (noop.py), unless it rests on files a stamp does not watch."""
    from . import noop
    from .report import summary

    if noop.ARGV is None or any(planned.wheel is None for planned in report.plan.dists):
        return  # a library call, or local sources whose every file decides whether they are rebuilt
    layout = options.layout
    watched = [str(project / "pyproject.toml"), str(project / "uv.lock"), str(project / "uv.toml")]
    watched += [
        str(project / p.id.source.value / "pyproject.toml") for p in lock.packages if p.id.source.kind in _LOCAL
    ]
    watched += [str(layout.top), str(layout.top / TXN_DIR), *map(str, layout.lib_dirs)]
    for dist in installed:
        watched += [str(dist.dist_info), str(dist.dist_info / "INSTALLER"), str(dist.dist_info / STATE_FILE)]
    if layout.kind == "venv":
        watched += [str(path) for path in venv_files(layout, options.target)]
    noop.remember(watched, summary(report, str(layout.top)))


_LOCAL = ("directory", "editable", "virtual", "path")


def _refuse_foreign_builds(wanted: tuple[PlannedDist, ...], target: Target, context: BuildContext) -> None:
    """``check``'s decision, package by package: an sdist with native code is never built for a foreign target."""
    inspect = sdist_inspector(context.cache, context.downloader, offline=context.offline)
    host = host_target()
    found = [offender for planned in wanted if (offender := refusal(planned, target, host, inspect))]
    if found:
        more = f" (and {len(found) - 1} more: {', '.join(o.label for o in found[1:])})" if len(found) > 1 else ""
        raise PlanError(f"{found[0].label} has {found[0].why}{more}", hint=REFUSAL_HINT)


def _built_versions(plan: InstallPlan, keys: dict[str, str], cache: WheelCache) -> dict[str, str]:
    # A source with a dynamic version has none in uv.lock: the wheel built for the same key says it.
    found = {}
    for planned in plan.dists:
        if not planned.package.id.version and (hit := cache.built(keys[planned.name])) is not None:
            found[planned.name] = hit[0].name.split("-")[1]
    return found


def _variant(options: SyncOptions) -> str:
    # What else shapes the installed files: a tree staged with other scripts, bytecode
    # or mtimes is not current, even from the same wheel.
    tag = options.compile_with.cache_tag if options.compile_with is not None else None
    relocatable = ";relocatable" if options.layout.relocatable else ""
    return f";shebang={options.layout.interpreter}{relocatable};pyc={tag or 'none'};epoch={options.epoch}"


def _key(planned: PlannedDist, target: Target, context: BuildContext) -> str:
    # What makes an installed distribution current: its wheel's hash, or its source's fingerprint.
    if planned.wheel is not None:
        return planned.wheel.sha256 or planned.wheel.filename
    return source_key(planned, target, context)


def _reinstall(options: SyncOptions, plan: InstallPlan) -> frozenset[str]:
    if options.reinstall:
        return frozenset(planned.name for planned in plan.dists)
    return frozenset(str(canonicalize_name(name)) for name in options.reinstall_packages)


def _prepare_all(
    wanted: tuple[PlannedDist, ...], target: Target, keys: dict[str, str], context: BuildContext, reporter: Reporter
) -> list[tuple[LocalFile, Path]]:
    """Every wheel verified (or built) and unpacked into the cache, in the order of ``wanted``."""
    from .unpack import unpack, unpacked  # installer is imported only when there is something to place

    downloads = [p for p in wanted if p.wheel is not None]
    cold = [p for p in downloads if unpacked(context.cache, p.wheel.sha256 if p.wheel else None) is None]
    with _unpacker(cold, context.cache) as unpack_here_or_there:  # (first: it may fork; bars start threads)
        # What download() below fetches: neither unpacked nor cached (a warm sync announces nothing).
        missing = (
            () if context.offline else tuple(p for p in cold if p.wheel and needs_download(p.wheel, context.cache))
        )
        if missing:
            reporter.downloads(missing)

        def download(planned: PlannedDist) -> tuple[LocalFile, Path]:
            wheel = planned.wheel
            assert wheel is not None
            if (ready := unpacked(context.cache, wheel.sha256)) is not None:  # warm: not even the .whl is read
                local = LocalFile(context.cache.path_for(wheel), wheel.sha256, wheel.size or 0)
            else:
                progress = partial(reporter.downloading, planned)
                local = fetch(wheel, context.cache, context.downloader, offline=context.offline, progress=progress)
                try:
                    ready = unpack_here_or_there(local)
                except UvrootError:  # another sync unpacked it and dropped the wheel under us: take its entry
                    if (ready := unpacked(context.cache, wheel.sha256)) is None:
                        raise
                if is_remote(wheel):
                    context.cache.drop_wheel(wheel)  # a downloaded copy: the unpacked entry is what the cache keeps
                if damaged := context.cache.damaged(wheel.sha256):  # evicted here, in a worker or above
                    reporter.warn(
                        f"warning: the cached copy of {wheel.filename} had changed ({', '.join(damaged)}; "
                        "was a hard-linked staged tree edited?): replaced it"
                    )
            reporter.fetched(planned, local)
            return local, ready

        with ThreadPoolExecutor(max_workers=_THREADS) as pool:
            ready = dict(zip((p.name for p in downloads), pool.map(download, downloads), strict=True))
    for planned in wanted:  # builds one at a time: each frontend is itself parallel
        if planned.wheel is None:
            local = build_dist(planned, target, keys[planned.name], context)
            ready[planned.name] = (local, unpack(local, context.cache))
            reporter.fetched(planned, local)
    return [ready[planned.name] for planned in wanted]


@contextmanager
def _unpacker(cold: list[PlannedDist], cache: WheelCache) -> Iterator[Callable[[LocalFile], Path]]:
    """How the download threads unpack: in one worker process per core when there is much to unpack.

    Unpacking is CPU (inflate, hash) and per-file Python; threads of one process
    serialize on the GIL (a cold sync of 159 wheels took twice as long).  The
    workers are forked here, before any download thread exists.
    """
    from .unpack import unpack

    if _CORES < 2 or len(cold) < 2 or sum(p.wheel.size or 0 for p in cold if p.wheel) < _PROCESS_THRESHOLD:

        def here(local: LocalFile) -> Path:
            with _UNPACKERS:
                return unpack(local, cache)

        yield here
        return
    with _workers(min(_CORES, len(cold), 8), "unpacking wheels") as pool:  # (a fork costs a few ms)

        def there(local: LocalFile) -> Path:
            entry, evicted = pool.submit(_unpack_in_worker, local, cache.root).result()
            cache.evicted.extend(evicted)  # so the warning about a damaged entry is still given
            cache.checked.add(entry)
            return entry

        yield there


@contextmanager
def _workers(count: int, doing: str) -> Iterator[ProcessPoolExecutor]:
    """``count`` forked worker processes, all started here; one that dies fails the sync (an InstallError).

    Ctrl-C signals the whole process group: the workers are forked with it held back and then
    ignore it (see :func:`_init_worker`), so the sync alone handles it and they finish what they
    hold, instead of printing tracebacks (one caught between its fork and its setup did).
    """
    import ctypes  # noqa: F401 - for _init_worker: a child importing what another thread was importing deadlocks
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor
    from concurrent.futures.process import BrokenProcessPool

    fork = multiprocessing.get_context("fork")
    try:
        with ProcessPoolExecutor(count, mp_context=fork, initializer=_init_worker, initargs=(os.getpid(),)) as pool:
            held = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
            try:
                pool.submit(int).result()  # a fork context starts every worker at the first submit: now
            finally:
                signal.pthread_sigmask(signal.SIG_SETMASK, held)
            yield pool
    except BrokenProcessPool:
        raise _worker_died(doing) from None


_WORKER_CACHES: dict[Path, WheelCache] = {}
"""A worker's caches: prepared (and their tmp/ cleaned) once per worker, not once per wheel."""


def _unpack_in_worker(local: LocalFile, root: Path) -> tuple[Path, list[Path]]:
    """:func:`uvroot.unpack.unpack` in a worker process: the entry, and what it evicted on the way."""
    from .unpack import unpack

    cache = _WORKER_CACHES.setdefault(root, WheelCache(root))
    before = len(cache.evicted)
    return unpack(local, cache), cache.evicted[before:]


def _apply(
    changes: Changes,
    prepared: list[tuple[LocalFile, Path]],
    keys: dict[str, str],
    options: SyncOptions,
    reporter: Reporter,
) -> int:
    """Remove, spread and write the venv's files in one transaction; returns the number of files placed.

    Any failure (an error, a conflict, a full disk, Ctrl-C, a dead worker) undoes
    the whole transaction: the tree is left exactly as it was.
    """
    txn = Transaction.begin(options.layout.top, options.epoch)
    try:
        files = _write(txn, changes, prepared, keys, options, reporter)
    except BaseException as failure:
        try:
            txn.rollback()
        except InstallError as undo:  # the tree could not be restored: say so, after what went wrong
            raise undo from failure
        raise
    txn.commit()  # outside the try: a transaction that committed is finished, never undone
    return files


def _write(
    txn: Transaction,
    changes: Changes,
    prepared: list[tuple[LocalFile, Path]],
    keys: dict[str, str],
    options: SyncOptions,
    reporter: Reporter,
) -> int:
    from .spread import BatchSettings, spread_batch  # installer is imported only when there is something to spread

    layout = options.layout
    try:
        for dist in changes.remove:
            remove_dist(dist, layout, txn)
            reporter.removed(dist)
    except OSError as exc:
        raise write_error(exc, layout.top) from exc
    items = [(p, local, unpacked, keys[p.name]) for p, (local, unpacked) in zip(changes.install, prepared, strict=True)]
    settings = BatchSettings(
        layout,
        str(options.target),
        options.target.python_version,
        options.link_mode,
        options.allow_existing,
        options.epoch,
        options.compile_with,
    )
    batches = _batches(items, prepared)
    if len(batches) <= 1:
        results = [spread_batch(batch, settings, txn, reporter.installed) for batch in batches]
    else:
        # Placing is Python-bound per file: on a large sync, one process per core beats threads.
        with _workers(len(batches), "placing files") as pool:
            results = list(pool.map(spread_batch, batches, [settings] * len(batches), [txn] * len(batches)))
        for planned, *_ in items:  # worker processes cannot tell the reporter themselves
            reporter.installed(planned, next(r.files[planned.name] for r in results if planned.name in r.files))
    for notice in dict.fromkeys(notice for result in results for notice in result.notices):
        reporter.warn(notice)
    if layout.kind == "venv":
        try:
            write_venv(layout, options.target, txn)
        except OSError as exc:
            raise write_error(exc, layout.top) from exc
    return sum(count for result in results for count in result.files.values())


_PR_SET_PDEATHSIG = 1


def _worker_died(doing: str) -> InstallError:
    return InstallError(
        f"a worker process {doing} died (killed, perhaps by the out-of-memory killer)",
        hint="nothing of this sync was kept; sync again, with more memory if the machine is short of it",
    )


def _init_worker(parent: int) -> None:
    """A worker ignores Ctrl-C, writes nothing to the terminal, and dies with the sync that forked it.

    The sync handles Ctrl-C; SIGKILL of the sync must not leave its workers running (they would hold
    its locks).  The standard streams may have been mid-write in another thread at the fork (rich's
    refresh): flushing their copies at exit could wait on a lock no one will release.
    """
    import ctypes

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})  # held back by _workers() while it forked
    sys.stdout = sys.stderr = Path(os.devnull).open("w")  # noqa: SIM115 - for the life of the process
    try:
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    except (OSError, AttributeError):  # not Linux: no death signal; watch the parent instead
        threading.Thread(target=_watch, args=(parent,), daemon=True).start()
    if os.getppid() != parent:  # the parent died before prctl took effect (adopted by init or a subreaper)
        os._exit(1)


def _watch(parent: int) -> None:
    while os.getppid() == parent:
        time.sleep(0.5)
    os._exit(1)


def _batches(items: list[Item], prepared: list[tuple[LocalFile, Path]]) -> list[list[Item]]:
    """Split the wheels into one batch per core, balanced by size; one batch for a small sync."""
    total = sum(local.size for local, _ in prepared)
    workers = min(_CORES, 4) if total >= _PROCESS_THRESHOLD and len(items) > 1 else 1
    batches: list[list[Item]] = [[] for _ in range(workers)]
    loads = [(0, 0)] * workers  # (bytes, wheels): sizes may be unknown (0) for local wheels
    for item in sorted(items, key=lambda item: item[1].size, reverse=True):
        lightest = loads.index(min(loads))
        batches[lightest].append(item)
        loads[lightest] = (loads[lightest][0] + item[1].size, loads[lightest][1] + 1)
    return [batch for batch in batches if batch]


def _cache_dir(options: SyncOptions) -> Path | None:
    """The persistent cache, or None under --no-cache."""
    return None if options.no_cache else options.cache_dir or default_cache_dir()


@contextmanager
def _cache(options: SyncOptions) -> Iterator[WheelCache]:
    if (persistent := _cache_dir(options)) is not None:
        yield WheelCache(persistent)
        return
    with tempfile.TemporaryDirectory(prefix="uvroot-cache-") as scratch:
        yield WheelCache(Path(scratch))
