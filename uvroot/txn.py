"""The write protocol: one transaction owns every change a sync makes to a tree.

Nothing is written to a tree outside a :class:`Transaction`.  Each change is
journalled in ``TOP/.uvroot-txn/`` *before* it is made, with paths relative to
the tree's top (a tree copied or moved elsewhere recovers in place):

========  ==========================================================
``B``     the journal's birth: the filesystem's clock, the top's old mtime
``N p``   a file or link is about to be created at ``p``, exclusively
``X p``   ... it was not: something was in the way (not ours to delete); ``X p s``: ``M s p`` was not
``D p``   a directory is about to be created at ``p``
``S p``   a staging directory is about to be created at ``p``: all in it is this transaction's
``T p t`` the existing directory ``p`` is about to change; its mtime was ``t`` (then: when, to order journals)
``F f``   a file inside the directory the next ``M`` publishes (what undoing that publish deletes)
``M s d`` ``s`` (staged by this transaction) is about to be published at ``d``
``A p n`` ``p`` is about to be set aside as ``aside/n`` (removal, replacement)
========  ==========================================================

:meth:`Transaction.commit` marks the transaction ``COMMITTED``, deletes what
was set aside, prunes the directories that removal emptied and stamps every
directory it touched with the epoch.  On failure, from an exception here or
from a kill found by the next sync's :func:`recover`, every journal is undone
in reverse: a created file is deleted only when the journal proves this
transaction created it (it did not exist when the journal was born), moves are
reversed, what was set aside comes back, created directories go and touched
directories get their old mtimes back: the tree is exactly as it was.

No wheel may ship a path with ``.uvroot`` in it (:func:`reserved`), so nothing
a wheel installs can pose as a journal or a staging directory.  One sync at a
time writes a tree: :func:`locked` holds an ``flock`` on the top directory.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import re
import shutil
import signal
import stat
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from .errors import InstallError

TXN_DIR = ".uvroot-txn"
"""The transaction directory at the top of a tree: journals, ``aside/``, ``COMMITTED``."""
COMMITTED = "COMMITTED"
_MARK = ".uvroot"
_JOURNAL = "journal-"
_KINDS = frozenset("NXDSTFMA")
_NUMBER = re.compile(r"[0-9]{1,20}")
_ASIDE_NAME = re.compile(r"[0-9]{1,10}-[0-9]{1,10}")
_ESCAPES = {"\\": "\\\\", "\t": "\\t", "\n": "\\n"}
_UNESCAPES = {"\\": "\\", "t": "\t", "n": "\n"}
_ESCAPE_TABLE = str.maketrans(_ESCAPES)


def reserved(path: str) -> bool:
    """A path with a component only uvroot's own bookkeeping may use: wheels shipping one are refused."""
    return _MARK in path.lower()


class TreeBusy(InstallError):
    """Another process holds the tree's lock and waiting for it was not wanted."""


class EscapeError(InstallError):
    """A path inside the layout leads outside it through a symbolic link."""


@contextmanager
def locked(top: Path, waiting: Callable[[str], None]) -> Iterator[None]:
    """Hold the tree's lock (an ``flock`` on its top directory) for the block; wait if another sync has it.

    The lock is released by the kernel when the process dies, however it dies.
    A top directory made only for the lock goes again if the block fails: a
    failed sync stages nothing, not even an empty tree.
    """
    made = []
    missing = os.path.abspath(top)
    while not os.path.lexists(missing):
        made.append(missing)
        missing = os.path.dirname(missing)
    held = _lock(top, waiting)
    try:
        yield
    except BaseException:
        for directory in made:  # deepest first
            with contextlib.suppress(OSError):
                os.rmdir(directory)
        raise
    finally:
        for fd in held:
            os.close(fd)


def _lock(top: Path, waiting: Callable[[str], None]) -> list[int]:
    """Shared locks on every directory above the tree, then an exclusive one on its top.

    So a sync of ``R`` and one of ``R/usr/local`` (``--prefix`` inside a root, a
    ``--target`` or ``--venv`` inside another tree) take turns, while trees side by
    side (``R/a`` and ``R/b``) do not wait for each other.
    """
    while True:
        try:
            os.makedirs(top, exist_ok=True)
            fd = os.open(top, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        except OSError as exc:
            raise write_error(exc, top) from None
        held = [*_shared_above(os.path.realpath(top), waiting, top), fd]
        _flock(fd, fcntl.LOCK_EX, waiting, top)
        # The sync we waited for may have failed and removed the tree it had made: lock the new one.
        with contextlib.suppress(FileNotFoundError):
            if os.path.samestat(os.fstat(fd), os.stat(top)):
                return held
        for descriptor in held:
            os.close(descriptor)


def _shared_above(real: str, waiting: Callable[[str], None], top: Path) -> list[int]:
    held = []
    parent = os.path.dirname(real)
    ancestors = []
    while parent != os.path.dirname(parent):
        ancestors.append(parent)
        parent = os.path.dirname(parent)
    for directory in reversed(ancestors):  # from / down: every sync takes them in the same order
        try:
            fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        except OSError:
            continue  # not ours to open: no tree can be staged there by this user either
        held.append(fd)
        _flock(fd, fcntl.LOCK_SH, waiting, top)
    return held


def _flock(fd: int, kind: int, waiting: Callable[[str], None], top: Path) -> None:
    try:
        fcntl.flock(fd, kind | fcntl.LOCK_NB)
    except BlockingIOError:
        waiting(f"waiting for another uvroot sync of {top} (or of a tree around it) to finish")
        fcntl.flock(fd, kind)


def write_error(exc: OSError, path: str | Path | None = None) -> InstallError:
    """An OS error while writing the tree, as a user-facing error naming the path and the cause."""
    where = exc.filename or path
    if exc.errno == errno.ENOSPC:
        hint = "the disk is full: free some space and sync again (nothing of this sync was kept)"
    elif exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        hint = "choose a tree you can write to, or run with the permissions it needs"
    else:
        hint = "nothing of this sync was kept"
    return InstallError(f"cannot write {where}: {exc.strerror or exc}", hint=hint)


def _escape(text: str) -> str:
    # (three C-level scans: this runs once per published file)
    return text if "\\" not in text and "\t" not in text and "\n" not in text else text.translate(_ESCAPE_TABLE)


def _unescape(text: str) -> str:
    if "\\" not in text:
        return text
    out, chars = [], iter(text)
    for char in chars:
        out.append(_UNESCAPES.get(next(chars, ""), "") if char == "\\" else char)
    return "".join(out)


def is_within(path: str, top: str) -> bool:
    """``path`` is ``top`` or below it (both already made absolute/real by the caller)."""
    return path == top or path.startswith(top if top.endswith(os.sep) else top + os.sep)


@dataclass
class Transaction:
    """Every change one sync makes to the tree under ``top``, journalled so it can be undone."""

    top: str
    epoch: int
    real_top: str = ""
    directory: str = ""
    _pid: int = 0
    _fd: int | None = field(default=None, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _known: set[str] = field(default_factory=set, repr=False)
    """Directories already checked and journalled (created, or their old mtime kept)."""
    _aside: int = 0
    _kill_after: int = field(default_factory=lambda: int(os.environ.get("UVROOT_TEST_KILL_AFTER_FILES", "0")))
    _created: int = 0

    @classmethod
    def begin(cls, top: Path, epoch: int) -> Transaction:
        """Start a transaction on a tree whose lock is held and that :func:`recover` has cleaned."""
        txn = cls(os.path.abspath(top), epoch)
        txn.real_top = os.path.realpath(txn.top)
        txn.directory = os.path.join(txn.top, TXN_DIR)
        try:
            before = os.lstat(txn.top).st_mtime_ns
            os.mkdir(txn.directory, 0o700)
            os.mkdir(os.path.join(txn.directory, "aside"), 0o700)
            txn._open(before)
        except OSError as exc:
            raise write_error(exc, txn.top) from None
        # pragma below: _known only saves checks: a top not known is checked and journalled (T .) again, same result
        txn._known.add(txn.top)  # pragma: no mutate
        return txn

    def __getstate__(self) -> dict[str, object]:
        # Sent to a worker process, which opens a journal of its own (attach).
        return {**self.__dict__, "_fd": None, "_pid": 0, "_lock": None}

    def __setstate__(self, state: dict[str, object]) -> None:
        self.__dict__.update(state)
        self._lock = threading.Lock()

    def attach(self) -> bool:
        """Give this process its own journal (a forked worker calls this before its first write).

        Returns whether it did: a worker closes its journal when its batch is done.
        """
        if self._pid == os.getpid():
            return False
        self._lock = threading.Lock()
        self._open(None)
        return True

    def _open(self, top_mtime: int | None) -> None:
        self._pid = os.getpid()
        number = len(os.listdir(self.directory))
        path = os.path.join(self.directory, f"{_JOURNAL}{number:04d}-{self._pid}")
        self._fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_APPEND | os.O_CLOEXEC, 0o600)
        # The filesystem's own clock at the start: every file this transaction creates is at least this new.
        born = os.fstat(self._fd).st_ctime_ns
        os.write(self._fd, f"B\t{born}\t{'' if top_mtime is None else top_mtime}\n".encode())

    def _log(self, *fields: str) -> None:
        self._write(("\t".join(map(_escape, fields)) + "\n").encode("utf-8", "surrogateescape"))

    def _write(self, data: bytes) -> None:
        # Whole lines only: a short write (a disk filling up) is continued, or fails before the change it announces.
        with self._lock:
            assert self._fd is not None
            view = memoryview(data)
            while view:
                view = view[os.write(self._fd, view) :]

    def _rel(self, path: str) -> str:
        prefix = self.top if self.top.endswith("/") else self.top + "/"
        if not path.startswith(prefix) or path == self.top:
            raise EscapeError(f"{path} is outside {self.top}", hint="uvroot never writes outside the tree it was given")
        return path[len(prefix) :]

    # -- writing -----------------------------------------------------------------------------------------------

    def create(self, path: str, make: Callable[[str], None], *, replace: bool = False) -> None:
        """Create a new file or link at ``path`` with ``make``, which must create exclusively.

        Something already at ``path`` raises :class:`FileExistsError`, unless
        ``replace``: then a file in the way is set aside (restored on rollback).
        """
        rel = self.expect(path)
        try:
            make(path)
        except FileExistsError:
            self._log("X", rel)
            if not replace or (os.path.isdir(path) and not os.path.islink(path)):
                raise
            self.set_aside(path)
            self._log("N", rel)
            make(path)

    def expect(self, path: str) -> str:
        """Journal that a new file is about to be created at ``path`` (here, or by a compiler process)."""
        self.parent_ready(path)
        rel = self._rel(path)
        self._log("N", rel)
        self._count()
        return rel

    def cancel(self, path: str) -> None:
        """The file :meth:`expect` announced was not created: nothing at ``path`` is ours to delete."""
        self._log("X", self._rel(path))

    def _count(self) -> None:
        if self._kill_after:  # fault injection for the tests: die right after the N-th journalled file
            with self._lock:
                self._created += 1
                if self._created >= self._kill_after:
                    os.kill(os.getpid(), signal.SIGKILL)

    def stage_dir(self, path: str) -> None:
        """Create a new, empty staging directory (its name is reserved: nothing else can be there).

        What is created inside it needs no journal of its own (:meth:`create_staged`):
        undoing the transaction deletes the staging directory whole.
        """
        self.parent_ready(path)
        self._log("S", self._rel(path))
        os.mkdir(path, 0o755)
        # pragma below: _known only saves checks: create_staged's mkdir of a directory not known finds it there
        self._known.add(path)  # pragma: no mutate

    def create_staged(self, path: str, make: Callable[[str], None]) -> None:
        """Create a file inside a staging directory of this transaction with ``make``."""
        parent = path.rpartition("/")[0]
        if parent not in self._known:
            try:  # one mkdir where the directory above exists (RECORD lists a directory's files together)
                os.mkdir(parent, 0o755)
            except FileNotFoundError:
                os.makedirs(parent, 0o755, exist_ok=True)
            except FileExistsError:
                pass
            # pragma below: _known only saves checks: the next file's mkdir finds the directory there
            self._known.add(parent)  # pragma: no mutate
        self._count()
        make(path)

    def publish(self, staged: str, final: str) -> bool:
        """Move a staged file or directory to ``final`` (new); False if something is already there."""
        self.parent_ready(final)
        directory = os.path.isdir(staged) and not os.path.islink(staged)
        if directory and os.path.lexists(final):
            return False
        rel = self._rel(final)
        record: list[str] = []
        folders: list[str] = []
        if directory:  # what undoing it may delete: exactly these files, never what appears beside them later
            start = len(staged) + 1  # os.walk yields staged/...: the relative path is a slice
            for folder, _, names in os.walk(staged):
                folders.append(folder)
                record.extend(f"F\t{_escape(os.path.join(folder, name)[start:])}\n" for name in names)
        record.append(f"M\t{_escape(self._rel(staged))}\t{_escape(rel)}\n")  # after the files it brings
        self._write("".join(record).encode("utf-8", "surrogateescape"))
        # Its directories are complete: stamped here, in the worker that staged them, so commit need
        # not walk the published tree (a rename changes no mtime below the directory it moves).
        for folder in folders[1:]:
            os.utime(folder, (self.epoch, self.epoch))
        try:
            if directory:
                os.rename(staged, final)  # checked free above (the tree is locked): only a thread of ours races
            else:
                os.link(staged, final, follow_symlinks=False)  # exclusive: never over a file in the way
        except OSError as exc:  # something is there: a foreign file, or a namespace directory another wheel made
            if exc.errno not in (errno.ENOTEMPTY, errno.EEXIST):
                raise
            self._log("X", rel, self._rel(staged))  # cancels this M, not another thread's M of the same final
            return False
        if not directory:
            os.unlink(staged)
        return True

    def set_aside(self, path: str) -> None:
        """Move ``path`` (a file, a link or a whole directory) out of the tree until commit."""
        rel = self._rel(path)
        self.parent_ready(path)  # its directory changes: keep its mtime for a rollback
        with self._lock:
            self._aside += 1
            name = f"{self._pid}-{self._aside}"
        self._log("A", rel, name)
        os.rename(path, os.path.join(self.directory, "aside", name))

    def parent_ready(self, path: str) -> None:
        """Make ``path``'s directory exist inside the tree, journalling what is created or changed.

        A directory inside the tree may be a symlink (``usr/local/man -> share/man``
        in python images); one that leads outside the tree (``usr/local/lib -> /etc``)
        is refused before anything is created or written through it.
        """
        parent = os.path.dirname(path)
        if parent in self._known:
            return
        missing = []
        existing = parent
        while existing not in self._known and not os.path.lexists(existing):
            missing.append(existing)
            existing = os.path.dirname(existing)
        if existing not in self._known:
            self.check_inside(existing)
            mtime = os.stat(existing).st_mtime_ns  # a link's target: the directory that changes
            self._log("T", self._rel(existing) if existing != self.top else ".", str(mtime), str(time.monotonic_ns()))
            # pragma below: _known only saves checks: a directory not known is journalled again; the earliest T wins
            self._known.add(existing)  # pragma: no mutate
        for directory in reversed(missing):
            self._log("D", self._rel(directory))
            with contextlib.suppress(FileExistsError):  # another thread of this sync made it first
                os.mkdir(directory, 0o755)
            # pragma below: _known only saves checks: a directory not known is journalled again (T); the D undoes it
            self._known.add(directory)  # pragma: no mutate

    def check_inside(self, directory: str) -> None:
        """Refuse an existing directory that leads outside the tree through a symbolic link."""
        real = os.path.realpath(directory)
        if not is_within(real, self.real_top):
            raise EscapeError(
                f"{directory} leads outside {self.top} (to {real}) through a symbolic link",
                hint="uvroot never writes outside the tree it was given; remove the link",
            )

    # -- ending ------------------------------------------------------------------------------------------------

    def commit(self) -> None:
        """Make the transaction's changes final: delete what was set aside, prune, stamp, clean up."""
        self.close()
        fd = os.open(os.path.join(self.directory, COMMITTED), os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        os.close(fd)
        _finish(self.top, self.epoch)

    def rollback(self) -> int:
        """Undo every change of every journal of this transaction (all processes'); returns files deleted.

        Raises :class:`InstallError` if some change could not be undone: the journal
        then stays, and the next sync tries again.
        """
        self.close()
        return _undo(self.top)

    def close(self) -> None:
        """Stop journalling in this process."""
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


def recover(top: Path, epoch: int) -> int:
    """Finish or undo what a killed sync left in the tree (its lock held); returns the files deleted."""
    top_path = os.path.abspath(top)
    directory = os.path.join(top_path, TXN_DIR)
    if not os.path.isdir(directory) or os.path.islink(directory):
        return 0
    if os.path.isfile(os.path.join(directory, COMMITTED)):
        _finish(top_path, epoch)
        return 0
    return _undo(top_path)


@dataclass
class _Entry:
    kind: str
    path: str
    other: str
    third: str
    born: int
    files: list[str] = field(default_factory=list)
    """For ``M`` of a directory: its files (the ``F`` lines before it)."""


def _journal(top: str) -> tuple[list[_Entry], int | None]:
    """Every complete entry of every journal, in the order each was written; and the top's mtime before."""
    directory = os.path.join(top, TXN_DIR)
    entries: list[_Entry] = []
    top_mtime = None
    for name in sorted(os.listdir(directory)):
        if not name.startswith(_JOURNAL):
            continue
        with open(os.path.join(directory, name), "rb") as stream:
            lines = stream.read().decode("utf-8", "surrogateescape").split("\n")[:-1]  # a cut last line: not done
        born, files = 0, []
        for line in lines:
            if line.startswith("F\t") and "\t" not in line[2:]:  # most lines, by far: one per published file
                files.append(_unescape(line[2:]))
                continue
            fields = [_unescape(f) for f in line.split("\t")] + ["", ""]
            kind = fields[0]
            if kind == "B" and _NUMBER.fullmatch(fields[1]):
                born = int(fields[1])
                if _NUMBER.fullmatch(fields[2]) and top_mtime is None:
                    top_mtime = int(fields[2])
            elif kind == "F":
                files.append(fields[1])
            elif kind in _KINDS and fields[1] and born and "\0" not in line:
                entries.append(_Entry(kind, fields[1], fields[2], fields[3], born, files if kind == "M" else []))
                files = []
    return entries, top_mtime


class _Guard:
    """Resolves journal paths (relative, from disk: untrusted) to paths inside the tree, never outside."""

    def __init__(self, top: str) -> None:
        self.top = top
        self.real_top = os.path.realpath(top)
        self._checked: dict[str, bool] = {}

    def path(self, rel: str) -> str | None:
        """The absolute path, or None if it is not a plain path whose directory is inside the tree."""
        if not rel or "\0" in rel:
            return None
        path = os.path.normpath(os.path.join(self.top, rel))  # "." is the top itself
        parent = os.path.dirname(path)
        if (inside := self._checked.get(parent)) is None:
            real = os.path.realpath(parent)
            inside = self._checked[parent] = is_within(real, self.real_top) and is_within(path, self.top)
        return path if inside else None

    def forget(self) -> None:
        """Check every directory again: the tree changed (a restore brought something back)."""
        self._checked.clear()

    def directory(self, rel: str) -> str | None:
        """A directory of the tree to restamp, followed through links only while they stay inside."""
        path = self.path(rel)
        # realpath every time: an undo may have restored a link on the way since path() checked it
        return path if path is not None and is_within(os.path.realpath(path), self.real_top) else None


def _real_directory(path: str) -> bool:
    try:
        return stat.S_ISDIR(os.lstat(path).st_mode)
    except OSError:
        return False


def _aside(top: str) -> str | None:
    """``TXN_DIR/aside`` if it is a real directory (a link there could bring in files from anywhere)."""
    aside = os.path.join(top, TXN_DIR, "aside")
    return aside if _real_directory(aside) else None


def _undo(top: str) -> int:
    entries, top_mtime = _journal(top)
    guard = _Guard(top)
    aside = _aside(top)
    deleted = 0
    cancelled: dict[tuple[str, str], int] = {}  # (path, staged): what X cancels (staged: a publish's, else "")
    created_dirs: list[str] = []
    failures: list[str] = []
    kill_at = int(os.environ.get("UVROOT_TEST_KILL_IN_RECOVERY", "0"))  # fault injection for the tests
    for step, entry in enumerate(reversed(entries), 1):
        if step == kill_at:
            os.kill(os.getpid(), signal.SIGKILL)
        path = guard.path(entry.path)
        if path is None:
            continue
        try:
            if entry.kind == "X":
                cancelled[path, entry.other] = cancelled.get((path, entry.other), 0) + 1
            elif entry.kind == "N":
                if cancelled.get((path, "")):
                    cancelled[path, ""] -= 1
                elif _ours(path, entry.born):
                    os.unlink(path)
                    deleted += 1
            elif entry.kind == "M" and (final := guard.path(entry.other)) is not None:
                if cancelled.get((final, entry.path)):
                    cancelled[final, entry.path] -= 1
                else:
                    deleted += _unpublish(path, final, entry.files)
            elif entry.kind == "A" and aside is not None and _ASIDE_NAME.fullmatch(entry.other):
                _restore(os.path.join(aside, entry.other), path)
                guard.forget()  # what came back may be a link: the directories checked before may now lead out
            elif entry.kind == "D":
                created_dirs.append(path)
            elif entry.kind == "S" and not os.path.islink(path):
                shutil.rmtree(path, ignore_errors=True)  # everything staged in it was this transaction's
        except OSError as exc:
            failures.append(f"{path}: {exc.strerror or exc}")
    for directory in sorted(created_dirs, reverse=True):  # those inside first (a path sorts before what is below it)
        with contextlib.suppress(OSError):  # not empty: something not ours is in it
            os.rmdir(directory)
    _restamp(guard, entries)  # while the journal is there: a kill meanwhile is undone again
    if failures:
        raise InstallError(
            f"cannot undo the unfinished sync of {top}: {'; '.join(failures[:3])}"
            + (f" (and {len(failures) - 3} more)" if len(failures) > 3 else ""),
            hint=f"fix the cause and sync again; until then its journal and what it set aside stay in {top}/{TXN_DIR}",
        )
    _drop_journal(top)
    if top_mtime is not None:
        with contextlib.suppress(OSError):
            os.utime(top, ns=(top_mtime, top_mtime))
    return deleted


def _restamp(guard: _Guard, entries: list[_Entry]) -> None:
    """Touched directories get their old mtimes back: for each, the earliest record (of any process) is the original."""
    first: dict[str, tuple[int, int]] = {}
    for entry in entries:
        if entry.kind == "T" and (path := guard.directory(entry.path)) is not None and _NUMBER.fullmatch(entry.other):
            when = int(entry.third) if _NUMBER.fullmatch(entry.third) else 0
            if path not in first or when < first[path][0]:
                first[path] = (when, int(entry.other))
    for directory, (_, mtime) in first.items():
        with contextlib.suppress(OSError, OverflowError, ValueError):
            os.utime(directory, ns=(mtime, mtime))


def _ours(path: str, born: int) -> bool:
    # Logged before it was created; a file older than the journal was there before (someone else's).
    try:
        status = os.lstat(path)
    except OSError:
        return False
    return not stat.S_ISDIR(status.st_mode) and status.st_ctime_ns >= born


def _unpublish(staged: str, final: str, files: list[str]) -> int:
    """Undo one publish: delete what it put at ``final`` (a file, or the listed files of a directory)."""
    if not os.path.lexists(final):
        return 0
    if not files and not (os.path.isdir(final) and not os.path.islink(final)):  # a file
        if not os.path.lexists(staged) or (
            not os.path.isdir(staged) and os.path.samestat(os.lstat(staged), os.lstat(final))
        ):
            os.unlink(final)  # linked there (the staged name may be gone already)
            return 1
        return 0
    if os.path.lexists(staged):
        return 0  # never renamed: what is at final is someone else's
    deleted, folders = 0, {final}
    for relative in files:
        path = os.path.normpath(os.path.join(final, relative))
        if not is_within(path, final):
            continue
        folders.update(p for p in _parents(path, final))
        if os.path.lexists(path) and not (os.path.isdir(path) and not os.path.islink(path)):
            os.unlink(path)
            deleted += 1
    for folder in sorted(folders, reverse=True):  # inside first; what stays (someone's file) keeps its directory
        with contextlib.suppress(OSError):
            os.rmdir(folder)
    return deleted


def _parents(path: str, top: str) -> Iterator[str]:
    parent = os.path.dirname(path)
    while parent != top and is_within(parent, top):
        yield parent
        parent = os.path.dirname(parent)


def _restore(aside: str, path: str) -> None:
    if not os.path.lexists(aside) or os.path.lexists(path):
        return
    os.makedirs(os.path.dirname(path), exist_ok=True)
    os.rename(aside, path)


def _finish(top: str, epoch: int) -> None:
    """Commit's second half (also run by recover after a kill): delete, prune and stamp."""
    entries, _ = _journal(top)
    guard = _Guard(top)
    if (aside := _aside(top)) is not None:
        shutil.rmtree(aside, ignore_errors=True)
    emptied: set[str] = set()
    for entry in entries:
        if entry.kind == "A" and (path := guard.path(entry.path)) is not None:
            emptied.update(_parents(path, top))
    for directory in sorted(emptied, reverse=True):  # what removal left empty goes (those inside first)
        with contextlib.suppress(OSError):
            os.rmdir(directory)
    touched = emptied | {path for e in entries if e.kind in "TDS" and (path := guard.directory(e.path)) is not None}
    for entry in entries:  # a published directory (publish stamped the ones it brings along)
        if entry.kind == "M" and (final := guard.directory(entry.other)) is not None and _real_directory(final):
            touched.add(final)
    # Stamped while the journal is still there: a kill meanwhile is finished by the next sync.
    for directory in touched - {top}:
        with contextlib.suppress(OSError):  # pruned
            os.utime(directory, (epoch, epoch))
    if aside is not None and os.path.lexists(aside):
        raise InstallError(
            f"the sync is complete, but what it replaced cannot be deleted from {aside}",
            hint="make it deletable (permissions, chattr -i) and sync again, which finishes the job",
        )
    _drop_journal(top)
    stamp_top(top, epoch)


def _drop_journal(top: str) -> None:
    """Remove the transaction directory: the journals first, COMMITTED last (a kill meanwhile never un-commits)."""
    directory = os.path.join(top, TXN_DIR)
    names = sorted(os.listdir(directory), key=lambda name: name == COMMITTED)
    for name in names:
        path = os.path.join(directory, name)
        if os.path.isdir(path) and not os.path.islink(path):
            shutil.rmtree(path, ignore_errors=True)
        else:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(path)
    os.rmdir(directory)


def stamp_top(top: str | Path, epoch: int) -> None:
    """The top's mtime, which removing the transaction directory changed (also repaired by a no-op sync)."""
    with contextlib.suppress(OSError):
        if os.lstat(top).st_mtime_ns != epoch * 10**9:
            os.utime(top, (epoch, epoch), follow_symlinks=False)
