"""Filesystem helpers: a journal of written files, pruning, and placing files with uv's link modes."""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import shutil
import signal
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO, Literal

from .errors import InstallError, UsageError

DEFAULT_EPOCH = 315532800
"""1980-01-01T00:00:00Z: every staged file's mtime unless SOURCE_DATE_EPOCH says otherwise (zip's first second)."""
CACHE_EPOCH = DEFAULT_EPOCH
"""The mtime of every file in the unpacked cache, so hardlinked files carry the default epoch."""


def source_date_epoch() -> int:
    """The mtime of everything a sync writes: ``SOURCE_DATE_EPOCH`` (reproducible-builds.org) or the default."""
    value = os.environ.get("SOURCE_DATE_EPOCH", "").strip()
    if not value:
        return DEFAULT_EPOCH
    if not value.isdigit():
        raise UsageError(
            f"SOURCE_DATE_EPOCH={value!r} is not a number of seconds since 1970",
            hint="set it to e.g. $(git log -1 --format=%ct), or unset it for the fixed default (1980-01-01)",
        )
    return int(value)


def stamp_directories(paths: Iterable[str | Path], top: Path, epoch: int) -> None:
    """Give every directory holding one of ``paths`` (up to and including ``top``) the epoch as mtime.

    Creating or deleting a file changes its directory's mtime; stamping them
    afterwards makes the tree's metadata independent of when and in what order
    it was written.
    """
    root = str(top)
    directories = {root}
    for path in paths:
        parent = os.path.dirname(path)
        while parent not in directories and is_within(parent, root):
            directories.add(parent)
            parent = os.path.dirname(parent)
    for directory in directories:
        with contextlib.suppress(FileNotFoundError):  # pruned after its last file went
            os.utime(directory, (epoch, epoch), follow_symlinks=False)


@dataclass
class Journal:
    """Every file a sync wrote, so a failure can take them all back."""

    top: Path
    written: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    made: set[str] = field(default_factory=set, repr=False)
    """Directories known to exist: a mkdir per file costs more than the file on a slow disk."""
    made_top: str = ""
    log: str | None = None
    """The on-disk copy of ``written`` (``TOP/.uvroot-pending-*``): what a killed sync leaves for the next."""
    _fd: int | None = field(default=None, repr=False)
    _kill_after: int = field(default_factory=lambda: int(os.environ.get("UVROOT_TEST_KILL_AFTER_FILES", "0")))

    def open_log(self) -> None:
        """Start writing every recorded path to disk as well, unbuffered, so even SIGKILL loses none."""
        self._real_top()
        self.log = os.path.join(self.made_top, f"{PENDING}{os.getpid()}-{threading.get_ident()}")
        self._fd = os.open(self.log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        # The filesystem's own clock at the start: every file this sync creates is newer.
        os.write(self._fd, f"#born\t{os.fstat(self._fd).st_ctime_ns}\n".encode())

    def close_log(self, *, delete: bool = True) -> None:
        """Stop logging; ``delete`` once the journal is no longer needed (the sync finished or rolled back)."""
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
        if delete and self.log is not None:
            Path(self.log).unlink(missing_ok=True)

    def record(self, path: str | Path, owner: str = "") -> None:
        """Note a file about to be created (so a kill right after creating it loses nothing).

        ``owner`` is the dist-info that will make it part of a distribution.  If the
        file turns out to exist already, :meth:`cancel` must follow.
        """
        with self.lock:
            self.written.append(str(path))
            if self._fd is not None:
                os.write(self._fd, f"{owner}\t{path}\n".encode())
            if self._kill_after and len(self.written) >= self._kill_after:  # fault injection for the tests
                os.kill(os.getpid(), signal.SIGKILL)

    def cancel(self, path: str) -> None:
        """The file was not created (something was already there): it is not ours to delete."""
        with self.lock:
            self.written.remove(path)
            if self._fd is not None:
                os.write(self._fd, f"-\t{path}\n".encode())

    def make_parent(self, path: str) -> None:
        """Create the directory ``path`` goes in, unless this sync already has; never outside ``top``.

        A directory inside the tree may be a symlink (``usr/local/man -> share/man``
        in python images); one that leads outside the tree (``usr/local/lib -> /etc``)
        is refused before anything is created or written through it.
        """
        parent = os.path.dirname(path)
        if parent in self.made:
            return
        existing = parent
        while existing not in self.made and not os.path.lexists(existing):
            existing = os.path.dirname(existing)
        if existing not in self.made:  # checked once per directory this sync had not seen
            self.check_inside(existing)
        os.makedirs(parent, exist_ok=True)
        self.made.add(parent)

    def check_inside(self, directory: str) -> None:
        """Refuse an existing directory that leads outside the tree through a symbolic link."""
        real = os.path.realpath(directory)
        if not is_within(real, self._real_top()):
            raise EscapeError(
                f"{directory} leads outside {self.top} (to {real}) through a symbolic link",
                hint="uvroot never writes outside the tree it was given; remove the link",
            )

    def _real_top(self) -> str:
        if not self.made_top:
            os.makedirs(self.top, exist_ok=True)
            self.made_top = os.path.realpath(self.top)
        return self.made_top

    def rollback(self) -> None:
        """Delete what was written, then any directory left empty by that."""
        parents: set[Path] = set()
        for written in reversed(self.written):
            path = Path(written)
            path.unlink(missing_ok=True)
            parents.update(p for p in path.parents if p.is_relative_to(self.top) and p != self.top)
        prune_empty(parents)
        self.written.clear()


def is_within(path: str, top: str) -> bool:
    """``path`` is ``top`` or below it (both already made absolute/real by the caller)."""
    return path == top or path.startswith(top if top.endswith(os.sep) else top + os.sep)


PENDING = ".uvroot-pending-"
PARTIAL = ".uvroot-partial"
STAGE = ".uvroot-stage"


def recover_pending(top: Path) -> int:
    """Finish what a killed sync left: delete files of distributions it did not complete.

    A distribution is complete once its dist-info exists (it is renamed into place
    after its RECORD is written); every other file a pending journal lists goes.
    Returns the number of files deleted.
    """
    deleted = 0
    for log in sorted(top.glob(f"{PENDING}*")) if top.is_dir() else []:
        lines = [line.partition("\t") for line in log.read_text(encoding="utf-8", errors="replace").splitlines()]
        cancelled = {path for owner, _, path in lines if owner == "-"}
        # A path is logged before the file is created; one that already existed then
        # (a foreign file) is older than the journal itself and is never ours to delete.
        born = next((int(path) for owner, _, path in lines if owner == "#born"), 0)
        parents: set[Path] = set()
        for owner, _, path in lines:
            if (
                owner in ("-", "#born")
                or not path
                or path in cancelled
                or os.path.isfile(os.path.join(owner, "RECORD"))
            ):
                continue
            file = Path(path)
            with contextlib.suppress(FileNotFoundError):
                if file.lstat().st_ctime_ns >= born:
                    file.unlink()
                    deleted += 1
            parents.update(p for p in file.parents if p.is_relative_to(top) and p != top)
        prune_empty(parents)
        log.unlink()
    return deleted


def prune_empty(directories: Iterable[Path]) -> None:
    """Remove the directories that are empty, deepest first."""
    for directory in sorted(directories, key=lambda p: len(p.parts), reverse=True):
        with contextlib.suppress(OSError):  # not empty, or already gone
            directory.rmdir()


class EscapeError(InstallError):
    """A path inside the layout leads outside it through a symbolic link."""


LinkMode = Literal["clone", "hardlink", "copy", "symlink"]
LINK_MODES: tuple[LinkMode, ...] = ("clone", "hardlink", "copy", "symlink")
_FICLONE = 0x40049409  # ioctl(2) number of FICLONE on Linux: a copy-on-write clone (btrfs, xfs)
_CANNOT_LINK = {errno.EXDEV, errno.EPERM, errno.EMLINK, errno.EOPNOTSUPP, errno.ENOTTY, errno.EINVAL, errno.ENOSYS}


class Placer:
    """Puts a cached file at a destination with uv's link modes, falling back once, with a notice."""

    def __init__(self, mode: LinkMode, notice: Callable[[str], None] | None = None, epoch: int = DEFAULT_EPOCH) -> None:
        self.mode = mode
        self.epoch = epoch
        # A hard link shares the cache file's mtime (CACHE_EPOCH): another epoch needs a file of its own.
        self._can_share = epoch == CACHE_EPOCH
        self._notice = notice
        self._fallback: LinkMode | None = None
        self._lock = threading.Lock()

    def place(self, source: str, destination: str) -> None:
        """Create ``destination`` (which must not exist) with ``source``'s contents, mode and the epoch."""
        mode = self._fallback or self.mode
        if mode == "symlink":
            os.symlink(source, destination)
        elif mode == "clone" and self._try(_clone, source, destination, "hardlink"):
            pass
        elif mode != "copy" and self._can_share and self._try(os.link, source, destination, "copy"):
            return  # the cache file already has the epoch
        else:
            _copy(source, destination)
        os.utime(destination, (self.epoch, self.epoch), follow_symlinks=False)

    def _try(self, link: Callable[[str, str], None], source: str, destination: str, instead: LinkMode) -> bool:
        try:
            link(source, destination)
        except OSError as exc:
            if exc.errno not in _CANNOT_LINK:
                raise
            self._fall_back(instead, exc)
            return False
        return True

    def _fall_back(self, instead: LinkMode, exc: OSError) -> None:
        with self._lock:
            if self._fallback is None or LINK_MODES.index(instead) > LINK_MODES.index(self._fallback):
                self._fallback = instead
                if self._notice and instead == "copy":  # clone -> hardlink is silent, as in uv
                    self._notice(
                        f"notice: --link-mode {self.mode} is not possible here ({exc.strerror}); "
                        f"using {instead} instead"
                    )


def _clone(source: str, destination: str) -> None:
    with open(source, "rb") as src, open(destination, "xb") as dst:
        try:
            fcntl.ioctl(dst.fileno(), _FICLONE, src.fileno())
        except OSError:
            dst.close()
            os.unlink(destination)
            raise
    shutil.copymode(source, destination)


def _copy(source: str, destination: str) -> None:
    # Exclusive create (never overwrite), then a kernel-side copy; a failed copy is removed.
    with open(source, "rb") as src, open(destination, "xb") as dst:
        try:
            _send(src, dst)
        except BaseException:
            os.unlink(destination)
            raise
    shutil.copymode(source, destination)


def _send(src: BinaryIO, dst: BinaryIO) -> None:
    size = os.fstat(src.fileno()).st_size
    offset = 0
    try:
        while offset < size:
            sent = os.sendfile(dst.fileno(), src.fileno(), offset, size - offset)
            if sent == 0:
                break
            offset += sent
    except OSError:  # no sendfile for this pair of files
        src.seek(0)
        dst.seek(0)
        dst.truncate()
        shutil.copyfileobj(src, dst)
