"""Spread one verified wheel into a :class:`Layout` with pypa/installer.

installer does the work (RECORD, entry points, ``.data`` sections, path
traversal checks); uvroot configures its destination for the TARGET system:
runtime paths re-rooted under ``--root``, shebangs for the target interpreter,
``+x`` on every script, a clean RECORD, and a journal so a failed sync can
remove everything it wrote.
"""

from __future__ import annotations

import errno
import io
import json
import os
import posixpath
import re
import shlex
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO, cast

from installer import install
from installer.exceptions import InstallerError
from installer.records import Hash, RecordEntry, parse_record_file
from installer.scripts import Script
from installer.sources import WheelContentElement, WheelSource
from installer.utils import Scheme, construct_record_file, copyfileobj_with_hashing

if TYPE_CHECKING:
    from installer.scripts import ScriptSection

from installer.destinations import SchemeDictionaryDestination

from .bytecode import CompileServer
from .errors import FileConflict, InstallError, redact
from .fetch import LocalFile
from .interpreter import Interpreter
from .layout import Layout
from .plan import PlannedDist
from .state import INSTALLER_NAME, STATE_FILE
from .tree import DEFAULT_EPOCH, PARTIAL, STAGE, Journal, LinkMode, Placer
from .unpack import wheel_name

_MAX_SHEBANG = 127
_PURELIB = Scheme("purelib")
# Script names an interpreter or a venv owns (uv's list, plus pythonw and the X.Y spellings).
_RESERVED = re.compile(r"(python|pythonw|pypy|graalpy)(\d+(\.\d+)?t?)?|activate(\..*)?|activate_this\.py")
_THREADS = 4
# --target launchers put their own target directory first on sys.path, so
# `DIR/bin/tool` runs without PYTHONPATH (pip's and uv's would fail to import).
_TARGET_PREAMBLE = (
    b"import os as _os, sys as _sys\n"
    b"_sys.path.insert(0, _os.path.dirname(_os.path.dirname(_os.path.realpath(__file__))))\n"
)


def shebang(interpreter: str) -> bytes:
    """A shebang that runs ``interpreter`` on the target, however long or spaced its path."""
    if " " not in interpreter and len(interpreter) + 3 <= _MAX_SHEBANG:
        return f"#!{interpreter}".encode()
    command, _, argument = interpreter.partition(" ")
    if command == "/usr/bin/env" and " " not in argument and len(interpreter) + 3 <= _MAX_SHEBANG:
        return f"#!{interpreter}".encode()
    # The /bin/sh polyglot: sh execs the interpreter; Python reads a string literal.
    return b"#!/bin/sh\n'''exec' " + shlex.quote(interpreter).encode() + b' "$0" "$@"\n' + b"' '''"


@dataclass
class _Destination(SchemeDictionaryDestination):
    """installer's destination, journalled and with target-correct scripts."""

    journal: Journal | None = None
    allow_existing: bool = False
    launcher_preamble: bytes = b""
    placer: Placer | None = None
    origins: dict[str, tuple[str, str]] = field(default_factory=dict)
    """Unpacked-cache file -> its (hash, size) in the wheel's RECORD: such files are linked or copied as is."""
    files: int = 0
    dist_info: str = ""
    """The wheel's dist-info directory name: written under a temporary name, renamed into place last."""
    compiler: CompileServer | None = None
    """Compiles the wheel's modules before its dist-info appears (``--compile-bytecode``)."""
    root_scheme: Scheme = _PURELIB
    """Where the wheel's root (and its dist-info) goes: purelib, or platlib without Root-Is-Purelib."""

    def __post_init__(self) -> None:
        self._bases = {scheme: os.path.abspath(directory) for scheme, directory in self.scheme_dict.items()}
        # A distribution becomes visible (to pip, importlib.metadata and the next sync)
        # only when its dist-info appears, complete, by one rename: a killed sync
        # never leaves a dist-info without its RECORD.
        self._partial = f".{self.dist_info}{PARTIAL}"
        # Importable files are written under a staging directory too and moved into
        # site-packages entry by entry: a killed sync never leaves half a package.
        self._stage = f".{self.dist_info}{STAGE}"
        scripts = self._bases["scripts"]
        self._scripts = scripts if self.destdir is None else self.destdir + scripts
        site = self._bases[self.root_scheme]
        self._site = site if self.destdir is None else self.destdir + site
        self.owner = os.path.join(self._site, self.dist_info) if self.dist_info else ""

    def _path_with_destdir(self, scheme: Scheme, path: str) -> Path:
        # installer's own path hook, kept in step with ours for any installer code path that asks.
        return Path(self._on_disk(scheme, path))

    def _on_disk(self, scheme: Scheme, path: str) -> str:
        # installer's check (no path may leave its scheme directory) on plain strings:
        # pathlib costs more than the link itself when a sync places 30,000 files.
        base = self._bases[scheme]
        file = os.path.normpath(os.path.join(base, path))
        if not file.startswith(base + os.sep):
            raise ValueError(f"Attempting to write {path} outside of the target directory")
        if self.dist_info and scheme in ("purelib", "platlib") and base == self._bases[self.root_scheme]:
            if path.startswith(self.dist_info + "/"):
                file = os.path.join(base, self._partial, path[len(self.dist_info) + 1 :])
            else:
                file = os.path.join(base, self._stage, os.path.relpath(file, base))
        return file if self.destdir is None else self.destdir + file

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
        assert self.journal is not None
        self.journal.make_parent(target)
        self.files += 1
        return target

    def _replace_foreign(self, target: str) -> bool:
        """With --allow-existing, take over a file in the way; else give the path back."""
        assert self.journal is not None
        if not self.allow_existing or os.path.isdir(target):
            self.journal.cancel(target)
            return False
        os.unlink(target)  # from now on the path is ours: RECORD lists it, removal deletes it
        return True

    def _conflict(self, target: str) -> FileConflict:
        owner = _owner_of(target, self._site)
        return FileConflict(
            f"{self.dist_info.removesuffix('.dist-info')} would overwrite {target}, which {owner}",
            hint="stage into an empty directory, or remove the file that is in the way",
        )

    def _place(self, scheme: Scheme, path: str, source: str) -> RecordEntry:
        # Every way of placing creates the file exclusively, so an existing file (a
        # foreign one, or another wheel's) is never overwritten; the path is journalled
        # before the create, and cancelled again if the create finds something there.
        assert self.placer is not None and self.journal is not None
        target = self._target(scheme, path)
        self.journal.record(target, self.owner)
        try:
            self.placer.place(source, target)
        except FileExistsError:
            if not self._replace_foreign(target):
                raise self._conflict(target) from None
            self.placer.place(source, target)
        digest, size = self.origins[source]
        return RecordEntry(path, Hash.parse(digest) if digest else None, int(size) if size else None)

    def write_to_fs(self, scheme: Scheme, path: str, stream: BinaryIO, is_executable: bool) -> RecordEntry:
        assert self.journal is not None
        target = self._target(scheme, path)
        self.journal.record(target, self.owner)
        try:
            sink = open(target, "xb")  # noqa: SIM115 - closed below
        except FileExistsError:
            if not self._replace_foreign(target):
                raise self._conflict(target) from None
            sink = open(target, "xb")  # noqa: SIM115 - closed below
        with sink:
            digest, size = copyfileobj_with_hashing(stream, sink, self.hash_algorithm)
        os.chmod(target, 0o755 if is_executable else 0o644)  # not the umask: the tree must be reproducible
        epoch = self.placer.epoch if self.placer is not None else DEFAULT_EPOCH
        os.utime(target, (epoch, epoch))
        return RecordEntry(path, Hash(self.hash_algorithm, digest), size)

    def write_file(
        self, scheme: Scheme, path: str | os.PathLike[str], stream: BinaryIO, is_executable: bool
    ) -> RecordEntry:
        source = getattr(stream, "name", None)
        if scheme == "scripts":
            # `#!python`/`#!pythonw` get the target's interpreter (with the sh polyglot
            # where a plain shebang would break); every script is executable.
            head = stream.read(8)
            if head.startswith(b"#!python"):
                data = shebang(self.interpreter) + b"\n" + (head + stream.read()).split(b"\n", 1)[-1]
                return self.write_to_fs(scheme, os.fspath(path), io.BytesIO(data), True)
            stream.seek(0)
            is_executable = True
        if isinstance(source, str) and source in self.origins:
            return self._place(scheme, os.fspath(path), source)
        return self.write_to_fs(scheme, os.fspath(path), stream, is_executable)

    def write_script(self, name: str, module: str, attr: str, section: ScriptSection) -> RecordEntry:
        _, generated = Script(name, module, attr, section).generate("python", "posix")
        body = self.launcher_preamble + generated.split(b"\n", 1)[1]
        return self.write_to_fs(Scheme("scripts"), name, io.BytesIO(shebang(self.interpreter) + b"\n" + body), True)

    def finalize_installation(
        self, scheme: Scheme, record_file_path: str, records: Iterable[tuple[Scheme, RecordEntry]]
    ) -> None:
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
        partial = os.path.dirname(self._on_disk(scheme, record_file_path))
        if os.path.lexists(self.owner):
            raise FileConflict(f"{self.owner} already exists and uvroot did not install it")
        stage = os.path.join(self._site, self._stage)
        if os.path.isdir(stage):
            for name in sorted(os.listdir(stage)):
                self._move(os.path.join(stage, name), os.path.join(self._site, name))
            os.rmdir(stage)
        os.rename(partial, self.owner)
        assert self.journal is not None
        for directory, _, names in os.walk(self.owner):  # rolled back by their final names from now on
            for name in names:  # (files only: dist-info/licenses/ is a directory)
                self.journal.record(os.path.join(directory, name), self.owner)

    def _compile(self, records: list[tuple[Scheme, RecordEntry]]) -> list[tuple[Scheme, RecordEntry]]:
        """The pyc files for the wheel's importable modules, where they will be imported from; their RECORD rows."""
        assert self.compiler is not None and self.journal is not None
        tag = self.compiler.cache_tag
        jobs, pycs = [], []
        for scheme, entry in records:
            if scheme not in ("purelib", "platlib") or not entry.path.endswith(".py"):
                continue
            directory, name = posixpath.split(entry.path)
            pyc = posixpath.join(directory, "__pycache__", f"{name[:-3]}.{tag}.pyc")
            target = self._target(scheme, pyc)  # where the source is now: staged, if it is importable
            self.journal.record(target, self.owner)
            runtime = posixpath.normpath(posixpath.join(self._bases[scheme], entry.path))
            jobs.append((self._on_disk(scheme, entry.path), target, runtime))
            pycs.append((scheme, pyc, target))
        failed = self.compiler.compile(jobs)  # a module that is not valid Python stays uncompiled, as with pip
        rows = []
        epoch = self.placer.epoch if self.placer is not None else DEFAULT_EPOCH
        for (source, _, _), (scheme, pyc, target) in zip(jobs, pycs, strict=True):
            if source in failed:
                self.journal.cancel(target)
                self.files -= 1
                continue
            os.chmod(target, 0o644)
            os.utime(target, (epoch, epoch))
            with open(target, "rb") as stream:
                digest, size = copyfileobj_with_hashing(stream, io.BytesIO(), self.hash_algorithm)
            rows.append((scheme, RecordEntry(pyc, Hash(self.hash_algorithm, digest), size)))
        return rows

    def _move(self, staged: str, final: str) -> None:
        """Move one staged entry into site-packages: a new directory whole, by one rename; else merged."""
        assert self.journal is not None
        if os.path.isdir(staged) and not os.path.islink(staged):
            if not os.path.lexists(final) and self._rename_tree(staged, final):
                return
            if not os.path.isdir(final):
                raise self._conflict(final)
            self.journal.check_inside(final)  # an existing directory may be a link: never follow it out
            for name in sorted(os.listdir(staged)):
                self._move(os.path.join(staged, name), os.path.join(final, name))
            os.rmdir(staged)
            return
        self.journal.record(final, self.owner)
        try:
            os.link(staged, final, follow_symlinks=False)  # exclusive: never over a file in the way
        except FileExistsError:
            if not self._replace_foreign(final):
                raise self._conflict(final) from None
            os.link(staged, final, follow_symlinks=False)
        os.unlink(staged)

    def _rename_tree(self, staged: str, final: str) -> bool:
        assert self.journal is not None
        moved = [
            final + os.path.join(root, name)[len(staged) :] for root, _, names in os.walk(staged) for name in names
        ]
        for path in moved:
            self.journal.record(path, self.owner)
        try:
            os.rename(staged, final)
        except OSError as exc:  # another wheel of this sync made it meanwhile (a namespace directory)
            if exc.errno not in (errno.ENOTEMPTY, errno.EEXIST):
                raise
            for path in moved:
                self.journal.cancel(path)
            return False
        return True


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


def spread_wheel(
    planned: PlannedDist, local: LocalFile, unpacked: Path, key: str, options: SpreadOptions, journal: Journal
) -> int:
    """Install one verified, unpacked wheel into the layout; returns the number of files written."""
    layout = options.settings.layout
    try:
        source = UnpackedSource(unpacked)
        destination = _Destination(
            scheme_dict=layout.scheme_dict(source.distribution),
            interpreter=layout.interpreter,
            script_kind="posix",
            destdir=str(layout.destdir) if layout.destdir is not None else None,
            journal=journal,
            launcher_preamble=_TARGET_PREAMBLE if layout.kind == "target" else b"",
            placer=options.placer,
            origins=source.origins,
            dist_info=source.dist_info_dir,
            root_scheme=source.root_scheme,
            compiler=options.compiler,
            allow_existing=options.settings.allow_existing,
        )
        install(source, destination, _metadata(planned, local, options.settings.target, key))
    except (InstallerError, ValueError, OSError) as exc:
        # ValueError: installer refuses a path that escapes its scheme directory.
        raise InstallError(
            f"cannot install {local.path.name}: {exc}",
            hint="the wheel is malformed or the destination is not writable",
        ) from exc
    if layout.kind == "target" and options.notice is not None:
        for pth in (row[0] for row in source.rows if "/" not in row[0] and row[0].endswith(".pth")):
            # site.py runs .pth files only in site directories, never in a PYTHONPATH entry.
            options.notice(
                f"notice: {planned.name} ships {pth}, which Python ignores when --target {layout.purelib} is on "
                "PYTHONPATH; call site.addsitedir() on the directory if the package needs it"
            )
    return destination.files


class UnpackedSource(WheelSource):
    """installer's view of a wheel in the unpacked cache: files are read (or linked) in place."""

    def __init__(self, root: Path) -> None:
        filename = wheel_name(root)
        name, version = filename.split("-")[:2]
        super().__init__(distribution=name, version=version)
        self.root = root
        self._dist_info = next(p.name for p in root.glob("*.dist-info") if p.is_dir())
        rows = parse_record_file((root / self._dist_info / "RECORD").read_text(encoding="utf-8").splitlines())
        self.rows = [row for row in rows if not row[0].endswith("/")]
        self.origins = {os.path.join(root, row[0]): (row[1], row[2]) for row in self.rows}

    @property
    def dist_info_dir(self) -> str:
        """The dist-info directory as the wheel spells it (it may differ from the normalized name)."""
        return self._dist_info

    @property
    def root_scheme(self) -> Scheme:
        """Where the wheel's root goes (purelib or platlib), as its ``Root-Is-Purelib`` says (installer's rule)."""
        wheel = (self.root / self._dist_info / "WHEEL").read_text(encoding="utf-8")
        pure = any(
            line.split(":", 1)[-1].strip().lower() == "true"
            for line in wheel.splitlines()
            if line.lower().startswith("root-is-purelib:")
        )
        return Scheme("purelib" if pure else "platlib")

    @property
    def data_dir(self) -> str:
        """The ``.data`` directory as the wheel spells it."""
        return self._dist_info.removesuffix(".dist-info") + ".data"

    @property
    def dist_info_filenames(self) -> list[str]:
        """Files directly in the dist-info directory."""
        return sorted(p.name for p in (self.root / self._dist_info).iterdir() if p.is_file())

    def read_dist_info(self, filename: str) -> str:
        """One dist-info file's text."""
        return (self.root / self._dist_info / filename).read_text(encoding="utf-8")

    def validate_record(self, *, validate_contents: bool = True) -> None:
        """Checked when the wheel was unpacked."""

    def get_contents(self) -> Iterator[WheelContentElement]:
        """Every file RECORD lists, as a file named by its place in the cache (opened only if read)."""
        root = str(self.root)
        for path, digest, size in self.rows:
            stream = _CachedFile(os.path.join(root, path))
            try:
                yield (path, digest, size), cast(BinaryIO, stream), False  # placing keeps the cached mode
            finally:
                stream.close()


class _CachedFile(io.RawIOBase):
    """A file of the unpacked cache that is opened only when read: linking never reads it."""

    def __init__(self, name: str) -> None:
        super().__init__()
        self.name = name
        self._file: BinaryIO | None = None

    def _open(self) -> BinaryIO:
        if self._file is None:
            self._file = open(self.name, "rb")  # noqa: SIM115 - closed by close()
        return self._file

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        return self._open().read(size)

    def seek(self, offset: int, whence: int = 0) -> int:
        return self._open().seek(offset, whence)

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
        super().close()


def _metadata(planned: PlannedDist, local: LocalFile, target: str, key: str) -> dict[str, bytes]:
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


Item = tuple[PlannedDist, LocalFile, Path, str]
"""One wheel to spread: the plan entry, its file, its unpacked directory, its state key."""


@dataclass
class BatchResult:
    """What one batch of wheels did, returned from a worker process."""

    written: list[str]
    files: dict[str, int]
    notices: list[str]
    error: BaseException | None = None
    log: str | None = None
    """The on-disk journal of a failed batch: removed by the caller once it has rolled back."""


def spread_batch(
    items: list[Item], settings: BatchSettings, done: Callable[[PlannedDist, int], None] | None = None
) -> BatchResult:
    """Spread several wheels (threads overlap their syscalls); never raises, the caller rolls back.

    ``done`` hears of each wheel as it is placed (in-process batches only: progress bars).
    """
    journal = Journal(settings.layout.top)
    journal.open_log()
    notices: list[str] = []
    compiler = CompileServer(settings.compile_with) if settings.compile_with is not None else None
    placer = Placer(settings.link_mode, notices.append, settings.epoch)
    options = SpreadOptions(settings, placer, compiler, notices.append)
    files: dict[str, int] = {}

    def one(item: Item) -> None:
        planned, local, unpacked, key = item
        files[planned.name] = spread_wheel(planned, local, unpacked, key, options, journal)
        if done is not None:
            done(planned, files[planned.name])

    try:
        with ThreadPoolExecutor(max_workers=_THREADS) as pool:
            list(pool.map(one, items))
    except BaseException as exc:  # noqa: BLE001 - returned: the parent rolls back every batch
        if compiler is not None:
            compiler.close()
        journal.close_log(delete=False)  # the parent deletes it once it has rolled back
        return BatchResult(journal.written, files, notices, exc, journal.log)
    if compiler is not None:
        compiler.close()
    journal.close_log()
    return BatchResult(journal.written, files, notices)
