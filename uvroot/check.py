"""``uvroot check``: can this lock be staged for that target?  Every offender, not only the first.

An offender is a selected package with no locked wheel for the target and
nothing to build (the plan's ``problems``, ``--no-build`` included), or one that
has only an sdist *with native code* when the target is *foreign*: its platform
(OS, architecture, libc family) or Python X.Y is not this machine's, so a build
here would produce a wheel for the build machine, not for the target.  Native
code is seen in the sdist itself, before anything is built: C, C++, Cython,
Rust, Fortran... sources, a ``setup.py`` declaring extensions, or a build
backend that compiles (maturin, scikit-build-core, meson-python...).  A pure
Python sdist builds into a ``py3-none-any`` wheel that runs anywhere: it passes.
``sync`` makes the same decision, package by package, before it builds anything.
Local trees (the project, workspace members, path and git sources) are built on
this machine and counted; a local tree is an offender for a foreign target only
when it declares a compiling build (such a backend, or ``setup.py`` extensions).
"""

from __future__ import annotations

import io
import re
import tarfile
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from .cache import WheelCache
from .fetch import Downloader, fetch, needs_download
from .freshness import check_fresh
from .lock import load_lock
from .plan import BuildPolicy, InstallPlan, PlannedDist, plan_install, plural
from .project import discover_project
from .selection import SelectionFlags, select
from .target import Target


@dataclass(frozen=True, slots=True)
class Offender:
    """A package that stops the lock from being staged for the target."""

    label: str
    why: str
    wheels: tuple[str, ...]
    """The wheels uv.lock has for the package."""

    def __str__(self) -> str:
        return f"{self.label}: {self.why}; wheels in uv.lock: {', '.join(self.wheels) or 'none'}"


@dataclass(frozen=True, slots=True)
class CheckResult:
    """The plan for the target and what stops it, if anything."""

    plan: InstallPlan
    offenders: tuple[Offender, ...]
    foreign: bool

    def summary(self) -> str:
        """The success line: how many packages come from wheels and how many are built here."""
        dists = self.plan.dists
        wheels = sum(1 for planned in dists if planned.wheel is not None)
        parts = [f"{wheels} from wheels"]
        if sdists := sum(1 for planned in dists if planned.build_from == "sdist"):
            parts.append(f"{sdists} built from sdists on this machine")
        if trees := sum(1 for planned in dists if planned.build_from == "tree"):
            parts.append(f"{trees} built from local sources on this machine")
        return f"uv.lock can be staged for {self.plan.target}: {plural(len(dists), 'package')} ({', '.join(parts)})"


def host_target() -> Target:
    """The build machine: its platform and the running interpreter's Python (what a build here produces)."""
    return Target.parse(None, None)  # both default to this machine and this interpreter


def is_foreign(target: Target, host: Target) -> bool:
    """True when a wheel built on ``host`` may not run on ``target``.

    The libc *version* does not count: a build here is tagged ``linux_<arch>``,
    which every Linux target of that architecture accepts (as ``sync`` does).
    """
    same_platform = (target.os, target.arch, target.libc) == (host.os, host.arch, host.libc)
    return not same_platform or target.python[:2] != host.python[:2]


Inspect = Callable[[PlannedDist], "Path | None"]
"""Gives the verified sdist of a package on local disk (downloaded if need be), or None if it cannot."""


def offenders(plan: InstallPlan, *, host: Target, inspect: Inspect) -> list[Offender]:
    """Every package of a non-strict plan that cannot be staged for its target, sorted by name."""
    found = [Offender(problem.package.label, problem.why, problem.wheels) for problem in plan.problems]
    found += [offender for planned in plan.dists if (offender := refusal(planned, plan.target, host, inspect))]
    return sorted(found, key=lambda offender: offender.label)


def refusal(planned: PlannedDist, target: Target, host: Target, inspect: Inspect) -> Offender | None:
    """Whether building this package here would fail the target: the one decision ``sync`` and ``check`` share.

    Only a source built for a foreign target can: when it holds native code, the wheel built here
    would be for this machine.  Decided from the sdist's contents, or a local tree's declared build
    (a compiling backend, ``setup.py`` extensions), before any build starts.
    """
    if planned.build_from is None or not is_foreign(target, host):
        return None
    if planned.build_from == "tree":
        return _tree_refusal(planned, target, host)
    sdist = planned.package.sdist
    name = sdist.filename if sdist is not None else "its sdist"
    wheels = tuple(wheel.filename for wheel in planned.package.wheels)
    archive = inspect(planned)
    if archive is None:
        why = f"only an sdist ({name}), which is not in the cache: --offline cannot tell whether it builds for {target}"
        return Offender(planned.package.label, why, wheels)
    evidence = native_code(archive)
    if evidence is None:
        return None  # pure Python: the wheel built here is py3-none-any
    why = f"only an sdist ({name}) with native code ({evidence}), which would be compiled for this machine ({host}), not for {target}"
    return Offender(planned.package.label, why, wheels)


_NATIVE_SUFFIXES = {
    ".c": "C",
    ".cc": "C++",
    ".cpp": "C++",
    ".cxx": "C++",
    ".c++": "C++",
    ".pyx": "Cython",
    ".rs": "Rust",
    ".f": "Fortran",
    ".f90": "Fortran",
    ".f95": "Fortran",
    ".cu": "CUDA",
    ".go": "Go",
    ".m": "Objective-C",
    ".mm": "Objective-C++",
    ".zig": "Zig",
}
_NATIVE_FILES = {"Cargo.toml": "Rust", "CMakeLists.txt": "CMake", "meson.build": "Meson"}
_COMPILING_BACKENDS = ("maturin", "scikit_build_core", "mesonpy", "setuptools_rust", "py_build_cmake", "enscons")
_SETUP_MARKERS = ("Extension(", "ext_modules", "cythonize", "cffi_modules", "rust_extensions", "Pybind11Extension")
_NOT_SHIPPED = {"tests", "test", "testing", "docs", "doc", "examples", "example", "benchmarks", "bench"}


def native_code(archive: Path) -> str | None:
    """What in an sdist shows it compiles native code (a file name, backend or setup.py), or None if pure."""
    try:
        names, read = _listing(archive)
    except (OSError, tarfile.TarError, zipfile.BadZipFile) as exc:
        return f"unreadable sdist: {exc}"
    parts = [name.split("/") for name in names]
    depth = 1 if parts and all(len(p) > 1 and p[0] == parts[0][0] for p in parts) else 0
    for split in parts:
        inner = split[depth:]
        if not inner or _NOT_SHIPPED.intersection(part.lower() for part in inner[:-1]):
            continue
        if len(inner) == 1 and inner[0] in _NATIVE_FILES:
            return f"{_NATIVE_FILES[inner[0]]}: {inner[0]}"
        suffix = Path(inner[-1]).suffix.lower()
        if suffix in _NATIVE_SUFFIXES:
            return f"{_NATIVE_SUFFIXES[suffix]} source {'/'.join(inner)}"
    top = "/".join(parts[0][:depth]) + "/" if depth else ""
    return _declared_native(read(f"{top}pyproject.toml"), read(f"{top}setup.py"))


def _declared_native(pyproject: str | None, setup: str | None) -> str | None:
    """A compiling build backend in pyproject.toml, or extensions in setup.py."""
    if pyproject:
        backend = re.search(r"""build-backend\s*=\s*["']([^"']+)""", pyproject)
        if backend and backend.group(1).split(".")[0] in _COMPILING_BACKENDS:
            return f"build backend {backend.group(1)}"
    for marker in _SETUP_MARKERS:
        if setup and marker in setup:
            return f"setup.py declares {marker.rstrip('(')}"
    return None


def _tree_refusal(planned: PlannedDist, target: Target, host: Target) -> Offender | None:
    # Only what the tree declares: its files may hold C that the build never compiles (tests, tools).
    source = planned.package.id.source
    if source.kind not in ("directory", "editable"):
        return None  # git sources are cloned by the build; their wheel is checked against the target after
    tree = Path(source.value) / (source.subdirectory or "")

    def read(name: str) -> str | None:
        try:
            return (tree / name).read_text(encoding="utf-8", errors="replace")
        except OSError:
            return None

    evidence = _declared_native(read("pyproject.toml"), read("setup.py"))
    if evidence is None:
        return None
    why = (
        f"a local source ({tree}) with native code ({evidence}), which would be compiled for this machine "
        f"({host}), not for {target}"
    )
    return Offender(planned.package.label, why, ())


def _listing(archive: Path) -> tuple[list[str], Callable[[str], str | None]]:
    if archive.name.endswith(".zip"):
        zipped = zipfile.ZipFile(archive)
        names = zipped.namelist()

        def read_zip(name: str) -> str | None:
            return zipped.read(name).decode("utf-8", "replace") if name in names else None

        return names, read_zip
    with tarfile.open(archive) as tarred:
        members = {member.name.lstrip("./"): member for member in tarred.getmembers() if member.isfile()}
        texts = {
            name: (tarred.extractfile(member) or io.BytesIO()).read().decode("utf-8", "replace")
            for name, member in members.items()
            if name.endswith(("/pyproject.toml", "/setup.py")) or name in ("pyproject.toml", "setup.py")
        }
    return list(members), texts.get


def check_lock(
    project_dir: Path,
    target: Target,
    flags: SelectionFlags,
    *,
    locked: bool = False,
    frozen: bool = False,
    policy: BuildPolicy | None = None,
    cache_dir: Path | None = None,
    inspect: Inspect = lambda planned: None,
    warn: Callable[[str], None] = lambda line: None,
) -> CheckResult:
    """Plan the lock for ``target`` without raising at the first offender, and list them all.

    ``cache_dir`` keeps uv.lock's parsed form (as ``sync`` does); None parses it afresh.
    ``inspect`` hands over an sdist that would be built for a foreign target (see :func:`refusal`).
    """
    project = discover_project(project_dir)
    lock = load_lock(project.root / "uv.lock", cache_dir)
    if not frozen:
        check_fresh(project, lock, strict=locked, warn=warn)
    plan = plan_install(lock, project, target, select(project, flags, lock), explain=False, strict=False, policy=policy)
    host = host_target()
    return CheckResult(plan, tuple(offenders(plan, host=host, inspect=inspect)), is_foreign(target, host))


def sdist_inspector(cache: WheelCache, downloader: Downloader, *, offline: bool) -> Inspect:
    """An :data:`Inspect` that fetches (and verifies) sdists into ``cache``; None when offline and not cached."""

    def inspect(planned: PlannedDist) -> Path | None:
        sdist = planned.package.sdist
        if sdist is None:
            return None
        if offline and needs_download(sdist, cache):
            return None
        return fetch(sdist, cache, downloader, offline=offline).path

    return inspect


REFUSAL_HINT = (
    "lock a wheel for the target (add it to tool.uv.required-environments and run uv lock), "
    "or stage on a machine like the target (same --python-platform and --python-version)"
)
