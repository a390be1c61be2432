"""Spread one verified wheel into a :class:`Layout` with pypa/installer.

installer does the work (RECORD, entry points, ``.data`` sections, path
traversal checks); uvroot configures its destination for the TARGET system:
runtime paths re-rooted under ``--root``, shebangs for the target interpreter,
``+x`` on every script, a clean RECORD, and a journal so a failed sync can
remove everything it wrote.
"""

from __future__ import annotations

import io
import os
import posixpath
import re
import shlex
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO, cast

from installer.destinations import WheelDestination
from installer.exceptions import InstallerError
from installer.records import Hash, RecordEntry, parse_record_file
from installer.scripts import Script
from installer.utils import (
    SCHEME_NAMES,
    Scheme,
    construct_record_file,
    copyfileobj_with_hashing,
    parse_entrypoints,
    parse_metadata_file,
)

from .bytecode import CompileServer
from .errors import FileConflict, InstallError, UvrootError
from .fetch import LocalFile
from .interpreter import Interpreter
from .layout import Layout, runs_by_path
from .plan import PlannedDist
from .state import dist_info_files
from .tree import DEFAULT_EPOCH, LinkMode, Placer
from .txn import Transaction, reserved, write_error
from .unpack import CachedFile, UnpackedSource

if TYPE_CHECKING:
    from installer.scripts import ScriptSection

_MAX_SHEBANG = 127
_HASH = "sha256"
PARTIAL = ".uvroot-partial"
"""Suffix of a dist-info being written: renamed into place once its RECORD is complete."""
STAGE = ".uvroot-stage"
"""Suffix of the directory a wheel's importable files are staged in before they are published."""
# Script names an interpreter or a venv owns (uv's list, plus pythonw and the X.Y spellings).
_RESERVED = re.compile(
    r"(python|pythonw|pypy|graalpy)(\d+(\.\d+)?t?)?(-config)?|(pydoc|idle)(\d+(\.\d+)?)?|2to3(-\d+\.\d+)?"
    r"|activate(\..*)?|activate_this\.py"
)
_THREADS = 4
# --target launchers put their own target directory first on sys.path, so
# `DIR/bin/tool` runs without PYTHONPATH (pip's and uv's would fail to import).
_TARGET_PREAMBLE = (
    b"import os as _os, sys as _sys\n"
    b"_sys.path.insert(0, _os.path.dirname(_os.path.dirname(_os.path.realpath(__file__))))\n"
)


def _plain_interpreter(interpreter: str) -> str:
    """An interpreter path a launcher can carry, else an error.

    A newline would end the shebang and start code; a backslash would be an escape in the
    /bin/sh polyglot's Python string.
    """
    if any(ord(char) < 0x20 or char in "\x7f\\" for char in interpreter):
        raise InstallError(
            f"the scripts' interpreter {interpreter!r} has a control character or a backslash",
            hint="give the interpreter's real path (--python, --shebang or the target file's executable)",
        )
    return interpreter


def relocatable_shebang(interpreter: str, scripts: str) -> bytes:
    """The launcher line of uv's relocatable scripts: ``interpreter`` relative to the script's own directory."""
    _plain_interpreter(interpreter)
    relative = posixpath.relpath(interpreter, scripts)
    quoted = f"'{relative}'" if "'" not in relative else shlex.quote(relative)
    start = b'#!/bin/sh\n\'\'\'exec\' "$(dirname -- "$(realpath -- "$0")")"/'
    return start + quoted.encode() + b' "$0" "$@"\n' + b"' '''"


def script_shebang(layout: Layout) -> bytes:
    """The first line(s) of every script the layout gets: ``--relocatable``'s, else the interpreter's."""
    if layout.relocatable and runs_by_path(layout.interpreter):
        return relocatable_shebang(layout.interpreter, posixpath.normpath(layout.scripts))
    return shebang(layout.interpreter)


def shebang(interpreter: str) -> bytes:
    """A shebang that runs ``interpreter`` on the target, however long or spaced its path."""
    interpreter = _plain_interpreter(interpreter.removeprefix("#!").strip())  # `--shebang '#!…'` means the same
    if " " not in interpreter and len(interpreter) + 3 <= _MAX_SHEBANG:
        return f"#!{interpreter}".encode()
    command, _, argument = interpreter.partition(" ")
    if command == "/usr/bin/env" and " " not in argument and len(interpreter) + 3 <= _MAX_SHEBANG:
        return f"#!{interpreter}".encode()
    # The /bin/sh polyglot: sh execs the interpreter; Python reads a string literal.
    return b"#!/bin/sh\n'''exec' " + shlex.quote(interpreter).encode() + b' "$0" "$@"\n' + b"' '''"


class _Destination(WheelDestination):
    """installer's destination for one wheel: decides where each file goes; the transaction writes it.

    Importable files and the dist-info are staged under names no wheel may ship
    and published last, so a distribution appears whole: its packages by one
    rename each (merged file by file into a directory that exists, such as a
    namespace package), its dist-info by one rename once its RECORD is complete.
    """

    def __init__(self, source: UnpackedSource, options: SpreadOptions, txn: Transaction) -> None:
        layout = options.settings.layout
        self.layout = layout
        self.txn = txn
        self.placer = options.placer
        self.compiler = options.compiler
        self.allow_existing = options.settings.allow_existing
        self.interpreter = layout.interpreter
        self.shebang = script_shebang(layout)
        self.launcher_preamble = _TARGET_PREAMBLE if layout.kind == "target" else b""
        self.origins = source.origins
        """Unpacked-cache file -> its (hash, size) in the wheel's RECORD: such files are linked or copied as is."""
        self.dist_info = source.dist_info_dir
        self.root_scheme = source.root_scheme
        """Where the wheel's root (and its dist-info) goes: purelib, or platlib without Root-Is-Purelib."""
        self.scheme_dict = layout.scheme_dict(source.distribution)
        self.files = 0
        self._bases = {scheme: posixpath.normpath(directory) for scheme, directory in self.scheme_dict.items()}
        self._site = layout.disk_path(self._bases[self.root_scheme])
        self._scripts = layout.disk_path(self._bases["scripts"])
        self.owner = os.path.join(self._site, self.dist_info)
        # (One staging directory per wheel: shared ones made undo mistake a published file for a staged one.)
        self._stage = os.path.join(self._site, f".{self.dist_info}{STAGE}")
        self._partial = os.path.join(self._site, f".{self.dist_info}{PARTIAL}")  # becomes the dist-info
        self._stage_prefix, self._partial_prefix = self._stage + "/", self._partial + "/"
        self._dist_info_prefix = self.dist_info + "/"
        txn.stage_dir(self._stage)
        txn.stage_dir(self._partial)

    def _on_disk(self, scheme: Scheme, path: str) -> str:
        # installer's rule (no path may leave its scheme directory), on plain strings:
        # pathlib costs more than the link itself when a sync places 30,000 files.
        base = self._bases[scheme]
        runtime = posixpath.normpath(posixpath.join(base, path))
        if not runtime.startswith(base + "/"):
            raise ValueError(f"Attempting to write {path} outside of the target directory")
        relative = runtime[len(base) + 1 :]
        if reserved(relative):
            raise self._reserved(path)
        if scheme in ("purelib", "platlib") and base == self._bases[self.root_scheme]:
            if relative == self.dist_info or relative.startswith(self.dist_info + "/"):
                return self._partial + relative[len(self.dist_info) :]
            return os.path.join(self._stage, relative)
        return self.layout.disk_path(runtime)

    def _target(self, scheme: Scheme, path: str) -> str:
        target = self._on_disk(scheme, path)
        if os.path.dirname(target) == self._scripts and _RESERVED.fullmatch(os.path.basename(target)):
            # In bin/ next to the image's own interpreter (or a venv's links), a wheel's
            # `python3` would replace it once the tree is copied in: uv refuses these too.
            raise InstallError(
                f"{self.dist_info.removesuffix('.dist-info')} would install {target}, which would replace "
                "the Python interpreter of the final image or environment",
                hint="this wheel cannot be staged into a system or venv layout",
            )
        self.files += 1
        return target

    def _conflict(self, target: str) -> FileConflict:
        owner = _owner_of(target, self._site)
        return FileConflict(
            f"{self.dist_info.removesuffix('.dist-info')} would overwrite {target}, which {owner}",
            hint="stage into an empty directory, or remove the file that is in the way (or pass --allow-existing)",
        )

    def _create(self, target: str, make: Callable[[str], None]) -> None:
        # Every way of placing creates the file exclusively: a file in the way (a
        # foreign one, or another wheel's) is never overwritten; with --allow-existing
        # it is set aside, and comes back if the sync fails.
        try:
            if self._staged(target):
                self.txn.create_staged(target, make)
            else:
                self.txn.create(target, make, replace=self.allow_existing)
        except FileExistsError:
            raise self._conflict(target) from None

    def _staged(self, target: str) -> bool:
        return target.startswith((self._stage_prefix, self._partial_prefix))

    def _place(self, scheme: Scheme, path: str, source: str) -> RecordEntry:
        self._create(self._target(scheme, path), partial(self.placer.place, source))
        digest, size = self.origins[source]
        return RecordEntry(path, Hash.parse(digest) if digest else None, int(size) if size else None)

    def place_files(self, source: UnpackedSource, record_file: str) -> Records:
        """Place every file of the wheel (but RECORD): the archive root by a tight loop, ``.data`` by scheme.

        The root's files all go under this wheel's staging directories, so they
        need one ``mkdir`` per directory, one link or copy per file and no journal, and their
        RECORD rows are the wheel's own (checked when the wheel was unpacked).
        """
        root, data = f"{source.root}/", f"{source.data_dir}/"
        placed: Records = []
        for path, digest, size in source.rows:
            if path == record_file or "__pycache__" in path.split("/")[:-1]:
                continue  # RECORD is written last; a wheel's own bytecode is never installed (installer's rule)
            if path.startswith(data):
                placed.append(self._place_data(source, path[len(data) :], root + path))
                continue
            if path.startswith("/") or "\\" in path or ".." in path.split("/"):
                # unpack checked every zip member, not every RECORD row: a row naming no member must not
                # lead out of the cache entry (reading) or the staging directory (writing)
                raise InstallError(
                    f"{source.distribution}: RECORD lists {path!r}, which is not a file of the wheel",
                    hint="the wheel is malformed or hostile",
                )
            if reserved(path):
                raise self._reserved(path)
            target = self._staged_path(path)
            try:  # (create_staged makes each directory once)
                self.txn.create_staged(target, partial(self.placer.place, root + path))
            except FileExistsError:
                raise self._conflict(target) from None
            self.files += 1
            placed.append(
                (
                    self.root_scheme,
                    RecordEntry(path, Hash.parse(digest) if digest else None, int(size) if size else None),
                )
            )
        return placed

    def _place_data(self, source: UnpackedSource, inside: str, cached: str) -> tuple[Scheme, RecordEntry]:
        scheme, _, path = inside.partition("/")
        if any(part.lower().endswith(".dist-info") for part in path.split("/")):
            raise InstallError(
                f"{source.distribution} ships {source.data_dir}/{inside}: a .data file may not make a dist-info "
                "(it would pose as another distribution)",
                hint="the wheel is hostile or broken; uvroot refuses it",
            )
        if scheme not in SCHEME_NAMES or not path:
            raise InstallError(
                f"{source.data_dir}/{inside} is not in a valid .data subdirectory of {source.distribution}",
                hint="the wheel is malformed",
            )
        with CachedFile(cached) as stream:
            return Scheme(scheme), self.write_file(Scheme(scheme), path, cast(BinaryIO, stream), False)

    def _staged_path(self, path: str) -> str:
        """Where a file of the archive root is staged: the dist-info's own directory, or the package stage."""
        if path.startswith(self._dist_info_prefix):
            return self._partial + path[len(self.dist_info) :]
        return f"{self._stage}/{path}"

    def _reserved(self, path: str) -> InstallError:
        return InstallError(
            f"{self.dist_info.removesuffix('.dist-info')} ships {path}, a name uvroot keeps for its own journal",
            hint="the wheel is hostile or broken; uvroot refuses it",
        )

    def write_to_fs(self, scheme: Scheme, path: str, stream: BinaryIO, is_executable: bool) -> RecordEntry:
        """Write a new file from ``stream`` (scripts, metadata, RECORD)."""
        result: list[tuple[str, int]] = []

        def make(target: str) -> None:
            with open(target, "xb") as sink:
                result.append(copyfileobj_with_hashing(stream, sink, _HASH))
            os.chmod(target, 0o755 if is_executable else 0o644)  # not the umask: the tree must be reproducible
            os.utime(target, (self.placer.epoch, self.placer.epoch))

        self._create(self._target(scheme, path), make)
        digest, size = result[-1]
        return RecordEntry(path, Hash(_HASH, digest), size)

    def write_file(
        self, scheme: Scheme, path: str | os.PathLike[str], stream: BinaryIO, is_executable: bool
    ) -> RecordEntry:
        """Place one file of the wheel: linked or copied from the unpacked cache, or rewritten (scripts)."""
        source = getattr(stream, "name", None)
        if scheme == "scripts":
            # `#!python`/`#!pythonw` get the target's interpreter (with the sh polyglot
            # where a plain shebang would break); every script is executable.
            head = stream.read(8)
            if head.startswith(b"#!python"):
                data = self.shebang + b"\n" + (head + stream.read()).split(b"\n", 1)[-1]
                return self.write_to_fs(scheme, os.fspath(path), io.BytesIO(data), True)
            stream.seek(0)
            is_executable = True
        if isinstance(source, str) and source in self.origins:
            return self._place(scheme, os.fspath(path), source)
        return self.write_to_fs(scheme, os.fspath(path), stream, is_executable)

    def write_script(self, name: str, module: str, attr: str, section: ScriptSection) -> RecordEntry:
        """A console or GUI launcher for the target's interpreter."""
        _, generated = Script(name, module, attr, section).generate("python", "posix")
        body = self.launcher_preamble + generated.split(b"\n", 1)[1]
        return self.write_to_fs(Scheme("scripts"), name, io.BytesIO(self.shebang + b"\n" + body), True)

    def finalize_installation(
        self, scheme: Scheme, record_file_path: str, records: Iterable[tuple[Scheme, RecordEntry]]
    ) -> None:
        """Write RECORD, then publish the staged packages and, last, the dist-info."""
        if self.compiler is not None:
            records = list(records)
            records += self._compile(records)
        base = self.scheme_dict[scheme]
        # Paths relative to site-packages; installer would write "./x" when
        # purelib == platlib, which some tools mis-read.
        relative = {name: posixpath.relpath(directory, base) for name, directory in self.scheme_dict.items()}
        prefixes = {name: None if path == "." else path + "/" for name, path in relative.items()}
        with construct_record_file(records, prefixes.__getitem__) as record:
            self.write_to_fs(scheme, record_file_path, record, is_executable=False)
        if os.path.lexists(self.owner):
            raise FileConflict(f"{self.owner} already exists and uvroot did not install it")
        for name in sorted(os.listdir(self._stage)):
            self._move(os.path.join(self._stage, name), os.path.join(self._site, name))
        os.rmdir(self._stage)
        if not self.txn.publish(self._partial, self.owner):
            raise FileConflict(f"{self.owner} already exists and uvroot did not install it")

    def _compile(self, records: list[tuple[Scheme, RecordEntry]]) -> list[tuple[Scheme, RecordEntry]]:
        """The pyc files for the wheel's importable modules, where they will be imported from; their RECORD rows."""
        assert self.compiler is not None
        tag = self.compiler.cache_tag
        jobs, pycs = [], []
        for scheme, entry in records:
            if scheme not in ("purelib", "platlib") or not entry.path.endswith(".py"):
                continue
            directory, name = posixpath.split(entry.path)
            pyc = posixpath.join(directory, "__pycache__", f"{name[:-3]}.{tag}.pyc")
            target = self._target(scheme, pyc)  # where the source is now: staged, if it is importable
            if self._staged(target):
                os.makedirs(os.path.dirname(target), 0o755, exist_ok=True)
            elif os.path.lexists(target):  # the compiler would overwrite someone's bytecode
                raise self._conflict(target)
            else:
                self.txn.expect(target)  # the compiler creates it
            runtime = posixpath.normpath(posixpath.join(self._bases[scheme], entry.path))
            jobs.append((self._on_disk(scheme, entry.path), target, runtime))
            pycs.append((scheme, pyc, target))
        failed = self.compiler.compile(jobs)  # a module that is not valid Python stays uncompiled, as with pip
        rows = []
        epoch = self.placer.epoch
        for (source, _, _), (scheme, pyc, target) in zip(jobs, pycs, strict=True):
            if source in failed:
                if not self._staged(target):
                    self.txn.cancel(target)
                self.files -= 1
                continue
            os.chmod(target, 0o644)
            os.utime(target, (epoch, epoch))
            with open(target, "rb") as stream:
                digest, size = copyfileobj_with_hashing(stream, io.BytesIO(), _HASH)
            rows.append((scheme, RecordEntry(pyc, Hash(_HASH, digest), size)))
        return rows

    def _move(self, staged: str, final: str) -> None:
        """Publish one staged entry: a new directory whole, by one rename; into an existing one, merged."""
        if self.txn.publish(staged, final):
            return
        if os.path.isdir(staged) and not os.path.islink(staged):
            if _empty_directory(final):  # left by someone: set it aside so the package still appears whole
                self.txn.set_aside(final)
                if self.txn.publish(staged, final):
                    return
            if not os.path.isdir(final):
                raise self._conflict(final)
            self.txn.check_inside(final)  # an existing directory may be a link: never follow it out
            for name in sorted(os.listdir(staged)):
                self._move(os.path.join(staged, name), os.path.join(final, name))
            os.rmdir(staged)
            return
        if not self.allow_existing or os.path.isdir(final):
            raise self._conflict(final)
        self.txn.set_aside(final)  # --allow-existing: the file in the way is ours from now on
        if not self.txn.publish(staged, final):
            raise self._conflict(final)


def _empty_directory(path: str) -> bool:
    return os.path.isdir(path) and not os.path.islink(path) and not os.listdir(path)


def _owner_of(target: str, site: str) -> str:
    """Who put ``target`` there, for the conflict message (the error path only: it reads RECORDs)."""
    for record in sorted(Path(site).glob("*.dist-info/RECORD")):
        rows = parse_record_file(record.read_text(encoding="utf-8", errors="replace").splitlines())
        if any(os.path.normpath(os.path.join(site, row[0])) == target for row in rows):
            installer = record.parent / "INSTALLER"
            by = installer.read_text(encoding="utf-8").strip() if installer.is_file() else "an unknown installer"
            return f"belongs to {record.parent.name.removesuffix('.dist-info')} (installed by {by})"
    return "no installed distribution owns and uvroot did not install"


@dataclass(frozen=True)
class BatchSettings:
    """What every batch of one sync shares; picklable, for worker processes."""

    layout: Layout
    target: str
    python_version: str
    """The target's X.Y (pip's ``pipX.Y`` launcher is named for it)."""
    link_mode: LinkMode
    allow_existing: bool = False
    epoch: int = DEFAULT_EPOCH
    """The mtime of every file written (``SOURCE_DATE_EPOCH``)."""
    compile_with: Interpreter | None = None
    """The interpreter of the target's version that byte-compiles (``--compile-bytecode``)."""


@dataclass(frozen=True)
class SpreadOptions:
    """How every wheel of one batch is spread: the sync's settings plus this process's placer and compiler."""

    settings: BatchSettings
    placer: Placer
    compiler: CompileServer | None = None
    notice: Callable[[str], None] | None = None
    """Told what the user should know about a wheel (printed once per sync)."""


Records = list[tuple[Scheme, RecordEntry]]


def _install(source: UnpackedSource, destination: _Destination, metadata: dict[str, bytes]) -> None:
    """Installer's ``install()`` with uvroot's own loop for the files, in its order of steps.

    installer writes the launchers and RECORD; the wheel's own files, already
    verified against its RECORD when they were unpacked, are placed by
    :meth:`_Destination.place_files` without hashing or parsing them again.
    """
    wheel = parse_metadata_file(source.read_dist_info("WHEEL"))
    if not (wheel["Wheel-Version"] or "").startswith("1."):
        raise InstallError(f"{source.distribution}: Wheel-Version {wheel['Wheel-Version']} is not 1.x")
    root_scheme = source.root_scheme
    record_file = f"{source.dist_info_dir}/RECORD"
    records: Records = []
    if "entry_points.txt" in source.dist_info_filenames:
        for name, module, attr, section in parse_entrypoints(source.read_dist_info("entry_points.txt")):
            records.append((Scheme("scripts"), destination.write_script(name, module, attr, section)))
    records += destination.place_files(source, record_file)
    for filename, contents in metadata.items():
        path = posixpath.join(source.dist_info_dir, filename)
        records.append((root_scheme, destination.write_to_fs(root_scheme, path, io.BytesIO(contents), False)))
    records.append((root_scheme, RecordEntry(record_file, None, None)))
    destination.finalize_installation(root_scheme, record_file, records)


def spread_wheel(
    planned: PlannedDist, local: LocalFile, unpacked: Path, key: str, options: SpreadOptions, txn: Transaction
) -> int:
    """Install one verified, unpacked wheel into the layout; returns the number of files written."""
    settings = options.settings
    layout = settings.layout
    try:
        source = UnpackedSource(unpacked, settings.python_version)
        destination = _Destination(source, options, txn)
        _install(source, destination, dist_info_files(planned, local, settings.target, key))
    except UvrootError:
        raise
    except (InstallerError, ValueError) as exc:
        # ValueError: installer refuses a path that escapes its scheme directory.
        raise InstallError(f"cannot install {local.path.name}: {exc}", hint="the wheel is malformed") from exc
    except OSError as exc:
        raise write_error(exc, layout.top) from exc
    if layout.kind == "target" and options.notice is not None:
        for pth in (row[0] for row in source.rows if "/" not in row[0] and row[0].endswith(".pth")):
            # site.py runs .pth files only in site directories, never in a PYTHONPATH entry.
            options.notice(
                f"notice: {planned.name} ships {pth}, which Python ignores when --target {layout.purelib} is on "
                "PYTHONPATH; call site.addsitedir() on the directory if the package needs it"
            )
    return destination.files


Item = tuple[PlannedDist, LocalFile, Path, str]
"""One wheel to spread: the plan entry, its file, its unpacked directory, its state key."""


@dataclass
class BatchResult:
    """What one batch of wheels did, returned from a worker process."""

    files: dict[str, int]
    notices: list[str]


def spread_batch(
    items: list[Item],
    settings: BatchSettings,
    txn: Transaction,
    done: Callable[[PlannedDist, int], None] | None = None,
) -> BatchResult:
    """Spread several wheels (threads overlap their syscalls); on failure the caller rolls the transaction back.

    ``done`` hears of each wheel as it is placed (in-process batches only: progress bars).
    """
    worker = txn.attach()  # a worker process journals in a file of its own
    notices: list[str] = []
    compiler = CompileServer(settings.compile_with) if settings.compile_with is not None else None
    placer = Placer(settings.link_mode, notices.append, settings.epoch)
    options = SpreadOptions(settings, placer, compiler, notices.append)
    files: dict[str, int] = {}

    def one(item: Item) -> None:
        planned, local, unpacked, key = item
        files[planned.name] = spread_wheel(planned, local, unpacked, key, options, txn)
        if done is not None:
            done(planned, files[planned.name])

    try:
        with ThreadPoolExecutor(max_workers=_THREADS) as pool:
            list(pool.map(one, items))
    finally:
        if compiler is not None:
            compiler.close()
        if worker:
            txn.close()
    return BatchResult(files, notices)
