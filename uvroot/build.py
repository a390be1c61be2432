"""Build a wheel from a local tree, a git commit or a verified sdist, with an installed PEP 517 frontend.

uvroot does not implement a build frontend: it runs ``uv build``, ``python -m
build`` or ``pip wheel`` (the first one installed, or ``--build-frontend``),
always non-editable, and caches the result keyed by the source's fingerprint
and the target.  A wheel built on this machine must still fit the TARGET.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import os
import shutil
import signal
import stat
import subprocess
import sys
import tarfile
import threading
import zipfile
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from packaging.utils import InvalidWheelFilename, canonicalize_name, parse_wheel_filename
from packaging.version import InvalidVersion, Version

from .cache import WheelCache, file_sha256
from .errors import BuildError, FetchError, redact
from .fetch import Downloader, LocalFile, fetch
from .plan import PlannedDist
from .target import Target

Frontend = Literal["uv", "build", "pip"]
FRONTENDS: tuple[Frontend, ...] = ("uv", "build", "pip")
# Not part of a source tree's identity: VCS data, environments, caches, build output.
_IGNORED_DIRS = {
    ".git",
    ".hg",
    ".svn",
    ".venv",
    "venv",
    "__pycache__",
    ".tox",
    ".nox",
    "build",
    "dist",
    ".mypy_cache",
    ".pytest_cache",
    ".ruff_cache",
    "node_modules",
}
_LOG_TAIL = 15
_HAS_DATA_FILTER = hasattr(tarfile, "data_filter")  # 3.10.12+, 3.11.4+, 3.12+


@dataclass(frozen=True, kw_only=True)
class BuildContext:
    """Everything a build needs besides the package."""

    cache: WheelCache
    downloader: Downloader
    offline: bool = False
    frontend: Frontend | None = None
    """None: the first of uv, build, pip that is installed."""
    index_url: str | None = None
    """Where build requirements come from: the lock's registry."""
    exclude: Path | None = None
    """A directory never fingerprinted (the staging tree, when it lies inside the project)."""
    log: Callable[[str], None] | None = None
    """Receives the frontend's output line by line (-v)."""


def source_key(planned: PlannedDist, target: Target, context: BuildContext) -> str:
    """What identifies this build: the sdist hash, the git commit or the tree's content, plus the target."""
    source = planned.package.id.source
    if planned.build_from == "sdist":
        assert planned.package.sdist is not None
        origin = f"sdist:{planned.package.sdist.sha256 or file_sha256(Path(planned.package.sdist.url or ''))}"
    elif source.kind == "git":
        origin = _git_origin(planned)
    else:
        origin = f"tree:{_tree_digest(Path(source.value), context.exclude)}"
    return hashlib.sha256(f"{origin}|{target}".encode()).hexdigest()[:40]


def _git_origin(planned: PlannedDist) -> str:
    source = planned.package.id.source
    return f"git:{source.git_url}#{source.git_commit}:{source.subdirectory or ''}"


def _portable_key(planned: PlannedDist) -> str | None:
    """Where a pure-Python wheel built from a git commit or a verified sdist is cached for every target.

    Such a wheel runs anywhere, as uv reuses it; local trees keep per-target keys (their
    fingerprint is costly to compute twice).
    """
    source = planned.package.id.source
    if planned.build_from == "sdist" and planned.package.sdist is not None and planned.package.sdist.sha256:
        origin = f"sdist:{planned.package.sdist.sha256}"
    elif source.kind == "git":
        origin = _git_origin(planned)
    else:
        return None
    return hashlib.sha256(f"{origin}|pure".encode()).hexdigest()[:40]


def _pure(wheel: Path) -> bool:
    try:
        tags = parse_wheel_filename(wheel.name)[3]
    except InvalidWheelFilename:
        return False
    return all(tag.abi == "none" and tag.platform == "any" and tag.interpreter.startswith("py") for tag in tags)


def build_dist(planned: PlannedDist, target: Target, key: str, context: BuildContext) -> LocalFile:
    """A wheel for ``planned`` that fits ``target``: from the cache, or built now."""
    portable = _portable_key(planned)
    hit = context.cache.built(key)  # checked by its recorded hash; a damaged one is evicted
    if hit is None and portable is not None:
        hit = context.cache.built(portable)
    if hit is None:
        with context.cache.scratch() as work:
            tree = _source_tree(planned, work, context)
            built = _run_frontend(planned, tree, work / "out", context)
            _check_identity(planned, built)
            _check_fits(planned, built, target)
            hit = context.cache.publish_built(portable if portable and _pure(built) else key, built)
    cached, digest = hit
    _check_fits(planned, cached, target)
    return LocalFile(cached, digest, cached.stat().st_size)


def available_frontend(preferred: Frontend | None) -> tuple[Frontend, list[str]]:
    """The frontend to use and the command that starts it."""
    for frontend in (preferred,) if preferred else FRONTENDS:
        command = _command(frontend)
        if command is not None:
            return frontend, command
    wanted = preferred or "uv, build or pip"
    raise BuildError(
        f"no build frontend available ({wanted})", hint="install uv, or `pip install build`, on the build machine"
    )


def _command(frontend: Frontend) -> list[str] | None:
    if frontend == "uv":
        uv = shutil.which("uv") or _uv_from_package()
        return [uv, "build", "--wheel"] if uv else None
    if frontend == "build":
        return [sys.executable, "-m", "build", "--wheel"] if importlib.util.find_spec("build") else None
    return [sys.executable, "-m", "pip", "wheel", "--no-deps"] if importlib.util.find_spec("pip") else None


def _uv_from_package() -> str | None:
    # The `uv` package from PyPI ships the binary; it may be installed without being on PATH.
    try:
        from uv import find_uv_bin  # type: ignore[import-not-found,unused-ignore]
    except ImportError:
        return None
    try:
        return str(find_uv_bin())
    except FileNotFoundError:
        return None


def _run_frontend(planned: PlannedDist, tree: Path, out: Path, context: BuildContext) -> Path:
    frontend, command = available_frontend(context.frontend)
    out.mkdir(parents=True)
    argv = [*command, *_frontend_args(frontend, out, context), str(tree)]
    env = dict(os.environ)
    if frontend == "build" and context.index_url:
        env["PIP_INDEX_URL"] = context.index_url  # build's isolated env installs with pip
    if context.log:
        context.log(f"building {planned.package.label} with {frontend}: {redact(' '.join(argv))}")
    done = _run_in_own_group(argv, env)
    output = (done.stdout + done.stderr).splitlines()
    for line in output if context.log else ():
        context.log(f"  {redact(line)}")  # type: ignore[misc]
    wheels = sorted(out.glob("*.whl"))
    if done.returncode != 0 or len(wheels) != 1:
        tail = "\n".join(f"    {redact(line)}" for line in output[-_LOG_TAIL:])
        raise BuildError(
            f"building {planned.package.label} with {frontend} failed "
            f"(exit {done.returncode}); its last lines:\n{tail}",
            hint="run with -v for the whole build log",
        )
    return wheels[0]


def _run_in_own_group(argv: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """Run a build in a process group of its own, and kill that whole group if uvroot is interrupted.

    A frontend starts build backends, compilers and their children: Ctrl-C, SIGTERM (``docker
    stop``, a CI timeout), SIGHUP (a closed terminal or SSH session) or an error here must not
    leave any of them running.
    """
    with subprocess.Popen(
        argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, start_new_session=True
    ) as process:
        previous = _unwind_on_signals()
        try:
            stdout, stderr = process.communicate()
        except BaseException:
            _kill_group(process.pid)
            raise
        finally:
            for signum, handler in previous.items():
                signal.signal(signum, handler)
        _kill_group(process.pid)  # whatever the frontend left behind (a daemonized compiler server)
        return subprocess.CompletedProcess(argv, process.returncode, stdout, stderr)


_UNWINDING = (signal.SIGTERM, signal.SIGHUP)


def _unwind_on_signals() -> dict[int, Any]:
    """While a build runs, SIGTERM and SIGHUP unwind like Ctrl-C (so the group is killed); the old handlers."""
    if threading.current_thread() is not threading.main_thread():
        return {}

    def interrupted(signum: int, _frame: object) -> None:
        raise KeyboardInterrupt(f"signal {signum}")

    previous: dict[int, Any] = {}
    for signum in _UNWINDING:
        before = signal.signal(signum, interrupted)
        previous[signum] = before if before is not None else signal.SIG_DFL
    return previous


def _kill_group(pgid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signal.SIGKILL)


def _check_identity(planned: PlannedDist, wheel: Path) -> None:
    """The wheel built from a source must be the distribution the lock names (as uv checks)."""
    try:
        name, version, _, _ = parse_wheel_filename(wheel.name)
    except InvalidWheelFilename:
        return  # _check_fits names the bad file name
    locked = planned.package.id
    wrong_name = name != canonicalize_name(locked.name)
    try:
        expected = Version(locked.version) if locked.version is not None else None
    except InvalidVersion:
        expected = None
    wrong_version = locked.version is not None and version != expected
    if wrong_name or wrong_version:
        local_only = not wrong_name and expected is not None and version.public == expected.public
        raise BuildError(
            f"building {planned.package.label} produced {name} {version}, but uv.lock says "
            f"{locked.name} {locked.version or '(any version)'}",
            hint="the version is computed from the checkout (setuptools-scm abbreviates the commit to a length "
            "that depends on the clone): give the package a fixed version, or re-lock where it is built"
            if local_only
            else "the source changed since uv.lock was written: run `uv lock`",
        )


def _frontend_args(frontend: Frontend, out: Path, context: BuildContext) -> list[str]:
    if frontend == "uv":
        args = ["--out-dir", str(out), "--python", _build_python()]
        args += ["--default-index", context.index_url] if context.index_url else []
        return args + (["--offline"] if context.offline else [])
    if frontend == "build":
        return ["--outdir", str(out)]
    args = ["--wheel-dir", str(out)]
    return args + (["--index-url", context.index_url] if context.index_url else [])


def _build_python() -> str:
    return sys.executable


def _check_fits(planned: PlannedDist, wheel: Path, target: Target) -> None:
    try:
        tags = parse_wheel_filename(wheel.name)[3]
    except InvalidWheelFilename:
        raise BuildError(f"building {planned.package.label} produced {wheel.name}, not a valid wheel name") from None
    if tags.isdisjoint(target.rank):
        shown = ", ".join(sorted(str(tag) for tag in tags))
        raise BuildError(
            f"{planned.package.label} was built on this machine as {wheel.name} ({shown}), "
            f"which does not run on {target}",
            hint="build on a machine like the target (same --python-version and --python-platform as this host), "
            "or lock a prebuilt wheel for the target",
        )


def _source_tree(planned: PlannedDist, work: Path, context: BuildContext) -> Path:
    source = planned.package.id.source
    if planned.build_from == "sdist":
        assert planned.package.sdist is not None
        archive = fetch(planned.package.sdist, context.cache, context.downloader, offline=context.offline)
        return _unpack_sdist(planned, archive.path, work / "src")
    tree = _checkout(planned, work / "git", context) if source.kind == "git" else Path(source.value)
    return tree / source.subdirectory if source.subdirectory else tree


def _checkout(planned: PlannedDist, into: Path, context: BuildContext) -> Path:
    source = planned.package.id.source
    if context.offline:
        raise FetchError(
            f"{planned.package.label} is a git source and --offline forbids cloning it",
            hint="run once without --offline to build and cache it",
        )
    for argv in (
        ["git", "clone", "--quiet", "--no-checkout", source.git_url, str(into)],
        ["git", "-C", str(into), "checkout", "--quiet", source.git_commit],
    ):
        done = subprocess.run(argv, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise FetchError(
                f"cannot check out {planned.package.label} at {source.git_commit} from "
                f"{redact(source.git_url)}: {redact(done.stderr.strip())}",
                hint="is the commit still reachable, and is git installed?",
            )
    return into


def _unpack_sdist(planned: PlannedDist, archive: Path, into: Path) -> Path:
    into.mkdir(parents=True)
    try:
        if archive.name.endswith(".zip"):
            with zipfile.ZipFile(archive) as zipped:
                _refuse_escapes(planned, zipped.namelist(), into)
                zipped.extractall(into)
        else:
            with tarfile.open(archive) as tarred:
                _extract_tar(tarred, into)
    except (OSError, tarfile.TarError, zipfile.BadZipFile, EOFError, zlib.error) as exc:
        raise BuildError(f"cannot unpack {archive.name} of {planned.package.label}: {exc}") from None
    tops = list(into.iterdir())
    return tops[0] if len(tops) == 1 and tops[0].is_dir() else into


def _extract_tar(tarred: tarfile.TarFile, into: Path, *, has_filter: bool = _HAS_DATA_FILTER) -> None:
    """Extract as ``filter="data"`` does, also on Pythons without extraction filters.

    3.10.0-3.10.11 and 3.11.0-3.11.3 have no ``filter`` argument: there each member
    is checked here the same way (tarfile.TarError, as the filter raises).
    """
    if has_filter:
        tarred.extractall(into, filter="data")  # refuses links and paths that leave `into`
        return
    tarred.extractall(into, members=[_data_member(member, into) for member in tarred.getmembers()])


def _data_member(member: tarfile.TarInfo, into: Path) -> tarfile.TarInfo:
    """``tarfile.data_filter`` for one member: the member, made safe, or tarfile.TarError."""
    top = into.resolve()
    member.name = member.name.lstrip("/" + os.sep)  # as the filter: /x is extracted as into/x
    target = (top / member.name).resolve()
    if not target.is_relative_to(top):
        raise tarfile.TarError(f"{member.name!r} would be extracted outside the destination")
    if member.ischr() or member.isblk() or member.isfifo() or member.isdev():
        raise tarfile.TarError(f"{member.name!r} is a special file")
    if member.issym() or member.islnk():
        if Path(member.linkname).is_absolute():
            raise tarfile.TarError(f"{member.name!r} is a link to an absolute path")
        base = target.parent if member.issym() else top
        if not (base / member.linkname).resolve().is_relative_to(top):
            raise tarfile.TarError(f"{member.name!r} is a link to a path outside the destination")
    if member.isfile() or member.isdir() or member.issym() or member.islnk():
        member.mode &= 0o755  # no setuid, setgid, sticky or group/other write bits
    member.uid, member.gid, member.uname, member.gname = os.getuid(), os.getgid(), "", ""  # never chown
    return member


def _refuse_escapes(planned: PlannedDist, names: list[str], into: Path) -> None:
    for name in names:
        if not (into / name).resolve().is_relative_to(into.resolve()):
            raise BuildError(f"the sdist of {planned.package.label} has an entry outside its tree: {name}")


def _tree_digest(tree: Path, exclude: Path | None) -> str:
    """A content fingerprint: a change to any source file means a rebuild, nothing else does."""
    digest = hashlib.sha256()
    for path in sorted(_tree_files(tree, exclude.resolve() if exclude else None)):
        digest.update(path.relative_to(tree).as_posix().encode() + b"\0")
        digest.update(_fingerprint(path))
    return digest.hexdigest()


def _fingerprint(path: Path) -> bytes:
    """A file's sha256; for a dangling link its text, for a socket or fifo its kind (never opened)."""
    try:
        found = path.stat()
    except FileNotFoundError:
        return b"link:" + os.fsencode(path.readlink()) if path.is_symlink() else b"gone"
    except OSError as exc:  # a link loop, a directory we may not enter
        return f"unreadable:{exc.errno}".encode()
    if not stat.S_ISREG(found.st_mode):
        return f"special:{stat.S_IFMT(found.st_mode)}".encode()
    try:
        return file_sha256(path).encode()
    except OSError as exc:
        raise BuildError(
            f"cannot read {path} to fingerprint its source tree: {exc.strerror or exc}",
            hint="make every file of the source tree readable by this user",
        ) from None


def _tree_files(tree: Path, exclude: Path | None) -> Iterator[Path]:
    for directory, subdirs, files in os.walk(tree):
        here = Path(directory)
        subdirs[:] = [
            d
            for d in subdirs
            if d not in _IGNORED_DIRS
            and not d.endswith(".egg-info")
            and (exclude is None or (here / d).resolve() != exclude)
        ]
        yield from (here / name for name in files if not name.endswith(".pyc"))
