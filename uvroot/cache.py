"""The cache: every path in it is built from a hash, and every entry is published whole.

Layout (each bucket's name carries its format's version)::

    wheels-v1/<sha[:2]>/<sha256>/<filename>   downloaded wheels and sdists (a plain file name, checked)
    unpacked-v2/<sha[:2]>/<sha256>/           unzipped wheels with their manifest (unpack.py)
    built-v1/<key>/<wheel>, .uvroot-built     wheels built here, with their sha256 and size
    toml-v2/<sha256>.json                     parsed uv.lock files without credentials (_toml.py)
    tmp/                                      temporary entries, each locked by the sync that uses it

Entries are written in ``tmp/`` and published by one rename, only after they
were verified, so a reader never sees half an entry.  A hit is checked again
before it is used (here, in fetch.py and unpack.py); a damaged entry is
*evicted* (renamed into ``tmp/`` and deleted) and made again, never an error.

Temporary entries are ``flock``-ed for as long as a sync uses them; a later
sync deletes those nobody holds (left by a killed sync).  A creator holds a
shared lock on ``tmp/`` itself from creating its entry until it has locked it,
and the cleaner an exclusive one while it tries entries: the cleaner never sees
an entry between its creation and its lock.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import re
import shutil
import stat
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

from .errors import FetchError, LockError, redact

if TYPE_CHECKING:
    from .lock import LockedSdist, LockedWheel

_TAG = b"Signature: 8a477f597d28d172789f06886806bc55\n# This is a cache directory created by uvroot.\n"
_CHUNK = 1 << 16
_SHA256 = re.compile(r"[0-9a-f]{64}")
# What a wheel or sdist file name may look like in the cache: one plain path component.
_PLAIN_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.+!~-]{0,254}")
_BUILT = ".uvroot-built"  # in a built-v1 entry: {"wheel": name, "sha256": ..., "size": ...}


def default_cache_dir() -> Path:
    """``$UVROOT_CACHE_DIR``, else ``$XDG_CACHE_HOME/uvroot``, else ``~/.cache/uvroot``."""
    if explicit := os.environ.get("UVROOT_CACHE_DIR"):
        return Path(explicit)
    base = os.environ.get("XDG_CACHE_HOME") or Path("~/.cache").expanduser()
    return Path(base) / "uvroot"


def cache_write_error(root: Path, path: Path | str, exc: OSError) -> FetchError:
    """The error for a failed write into the cache (disk full, read-only, permissions): exit 5."""
    why = exc.strerror or str(exc)
    return FetchError(
        f"cannot write {path} in the cache at {root}: {why}",
        hint="free space on that filesystem, or pass another --cache-dir (or --no-cache)",
    )


def file_sha256(path: Path) -> str:
    """The sha256 of a file, read in chunks (memory stays bounded for any size)."""
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        while chunk := stream.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


class WheelCache:
    """Verified wheels, sdists, unpacked and built wheels, keyed by hashes."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.checked: set[Path] = set()
        """Entries already checked by this process (a sync checks each one once)."""
        self.evicted: list[Path] = []
        """Entries this process found damaged and took out."""
        self._ready = False

    # -- downloaded files ----------------------------------------------------------------

    def path_for(self, wheel: LockedWheel | LockedSdist) -> Path:
        """Where a file with this hash lives (whether or not it is there)."""
        digest = wheel.sha256 or ""
        if not _SHA256.fullmatch(digest):
            raise FetchError(f"{wheel.filename} has no sha256 in uv.lock", hint="only hashed files are cached")
        if not _PLAIN_NAME.fullmatch(wheel.filename) or wheel.filename.endswith("."):
            raise LockError(
                f"uv.lock names the file {wheel.filename!r} (from {redact(wheel.url or '')}), "
                "which is not a plain file name",
                hint='the lock is damaged or hostile: re-lock with "uv lock"',
            )
        return self.root / "wheels-v1" / digest[:2] / digest / wheel.filename

    def get(self, wheel: LockedWheel | LockedSdist) -> Path | None:
        """The cached file (not checked: see :func:`uvroot.fetch.fetch`), or None on a miss."""
        if not wheel.sha256:
            return None
        path = self.path_for(wheel)
        try:
            return path if stat.S_ISREG(path.lstat().st_mode) else None
        except OSError:
            return None

    @contextmanager
    def new_entry(self, wheel: LockedWheel | LockedSdist) -> Iterator[BinaryIO]:
        """A file to write the wheel into; published only if the block exits cleanly.

        The block must verify what it wrote before it ends; writing errors should
        become :func:`cache_write_error` (the block knows which write failed).
        """
        final = self.path_for(wheel)
        with self.temporary(suffix=".part") as (temporary, _):
            try:
                sink = temporary.open("wb")  # its name is the path, for errors
            except OSError as exc:
                raise cache_write_error(self.root, temporary, exc) from None
            try:
                yield sink
            except BaseException:
                # The block's own error stands: closing flushes what is buffered, and on a full
                # disk that fails too; its error must not replace the one that says what happened.
                with contextlib.suppress(OSError):
                    sink.close()
                raise
            try:
                sink.close()
            except OSError as exc:
                raise cache_write_error(self.root, temporary, exc) from None  # flushing the last bytes
            for attempt in range(3):  # another sync's drop_wheel may remove the directory between the two calls
                try:
                    final.parent.mkdir(parents=True, exist_ok=True)
                    temporary.replace(final)
                    break
                except FileNotFoundError as exc:
                    if attempt == 2 or not temporary.exists():
                        raise cache_write_error(self.root, final, exc) from None
                except OSError as exc:
                    raise cache_write_error(self.root, final, exc) from None

    # -- built wheels ----------------------------------------------------------------------

    def built(self, key: str) -> tuple[Path, str] | None:
        """The wheel built earlier for ``key`` and its sha256, checked by hash; None on a miss.

        A damaged entry (no record, another size or hash) is evicted: the caller builds again.
        """
        entry = self.root / "built-v1" / key
        try:
            record = json.loads((entry / _BUILT).read_text(encoding="utf-8"))
            wheel = entry / str(record["wheel"])
            intact = (
                _PLAIN_NAME.fullmatch(wheel.name) is not None
                and stat.S_ISREG(wheel.lstat().st_mode)
                and wheel.lstat().st_size == record["size"]
                and file_sha256(wheel) == record["sha256"]
            )
        except FileNotFoundError:
            intact = False
            if not entry.exists():
                return None
        except (OSError, ValueError, KeyError, TypeError):
            intact = False
        if not intact:
            self.evict(entry)
            return None
        return wheel, str(record["sha256"])

    def publish_built(self, key: str, wheel: Path) -> tuple[Path, str]:
        """Move a freshly built wheel into ``built-v1/<key>/`` with its hash, atomically; its new path and hash."""
        final = self.root / "built-v1" / key
        digest = file_sha256(wheel)
        record = {"wheel": wheel.name, "sha256": digest, "size": wheel.stat().st_size}
        with self.temporary(
            prefix="built-",  # pragma: no mutate: a name for people looking into tmp/; nothing reads it back
            directory=True,
        ) as (staging, _):
            try:
                wheel.replace(staging / wheel.name)
                (staging / _BUILT).write_text(json.dumps(record), encoding="utf-8")
                final.parent.mkdir(
                    parents=True,  # pragma: no mutate: its parent is the cache's top, made by prepare()
                    exist_ok=True,
                )
            except OSError as exc:
                raise cache_write_error(self.root, staging, exc) from None
            try:
                staging.rename(final)
            except OSError:  # another sync published the same build first: keep theirs if it is whole
                if (theirs := self.built(key)) is not None:
                    return theirs
                try:
                    staging.rename(final)
                except OSError as exc:
                    raise cache_write_error(self.root, final, exc) from None
        return final / wheel.name, digest

    # -- temporary entries, eviction, cleaning -------------------------------------------------

    @contextmanager
    def scratch(self) -> Iterator[Path]:
        """A locked temporary directory inside the cache (same filesystem, so publishing is a rename)."""
        with self.temporary(prefix="work-", directory=True) as (path, _):
            yield path

    @contextmanager
    def temporary(
        self, *, prefix: str = "tmp", suffix: str = "", directory: bool = False
    ) -> Iterator[tuple[Path, int]]:
        """A new file or directory in ``tmp/``, locked (``flock``) until the block ends, then removed.

        Yields its path and the descriptor holding the lock (for a file: opened for writing).
        """
        self.prepare()
        tmp = self.root / "tmp"
        try:
            gate = os.open(tmp, os.O_RDONLY | os.O_DIRECTORY)
            try:
                fcntl.flock(gate, fcntl.LOCK_SH)  # the cleaner waits until this entry is locked
                if directory:
                    name = tempfile.mkdtemp(dir=tmp, prefix=prefix, suffix=suffix)
                    fd = os.open(name, os.O_RDONLY | os.O_DIRECTORY)
                else:
                    fd, name = tempfile.mkstemp(dir=tmp, prefix=prefix, suffix=suffix)
                fcntl.flock(fd, fcntl.LOCK_EX)
            finally:
                os.close(gate)
        except OSError as exc:
            raise cache_write_error(self.root, tmp, exc) from None
        path = Path(name)
        try:
            yield path, fd
        finally:
            _remove(path)  # gone already if it was published by a rename
            os.close(fd)

    def evict(self, entry: Path) -> None:
        """Take a damaged entry (file or directory) out of the cache; another sync may do the same at once."""
        self.checked.discard(entry)
        self.evicted.append(entry)
        with (
            self.temporary(
                prefix="evicted-",  # pragma: no mutate: a name for people looking into tmp/; nothing reads it back
                directory=True,
            ) as (trash, _),
            contextlib.suppress(FileNotFoundError),
        ):
            entry.rename(trash / "entry")  # one rename: no reader sees it half deleted

    def drop_wheel(self, wheel: LockedWheel | LockedSdist) -> None:
        """Delete a downloaded wheel once it is unpacked: the unpacked entry is all a sync reads (as uv keeps)."""
        entry = self.path_for(wheel).parent
        with contextlib.suppress(FileNotFoundError):
            shutil.rmtree(entry)
        with contextlib.suppress(OSError):
            entry.parent.rmdir()  # the two-character bucket, if this was its last entry

    def damaged(self, sha256: str | None) -> list[str]:
        """The buckets (``wheels-v1``, ``unpacked-v2``) whose entry for this hash was evicted by this process."""
        return sorted({path.relative_to(self.root).parts[0] for path in self.evicted if path.name == sha256})

    def prepare(self) -> None:
        """Create the cache's top (with ``CACHEDIR.TAG``) and, once per process, delete stale temporary entries."""
        if self._ready:
            return
        tmp = self.root / "tmp"
        try:
            tmp.mkdir(parents=True, exist_ok=True)
            tag = self.root / "CACHEDIR.TAG"
            if not tag.exists():
                tag.write_bytes(_TAG)
        except OSError as exc:
            raise FetchError(
                f"cannot write to the cache at {self.root}: {exc.strerror or exc}",
                hint="pass a writable --cache-dir, or --no-cache",
            ) from None
        self._ready = True  # pragma: no mutate: None or False only make prepare() clean tmp/ again
        self.clean()

    def clean(self) -> int:
        """Delete the temporary entries no live sync holds (a killed sync's); returns how many."""
        tmp = self.root / "tmp"
        victims: list[tuple[str, int | None]] = []
        try:
            gate = os.open(tmp, os.O_RDONLY | os.O_DIRECTORY)
        except OSError:
            return 0
        try:
            fcntl.flock(gate, fcntl.LOCK_EX)
            for item in os.scandir(tmp):
                if (held := _try_lock(item)) is not False:
                    victims.append((item.path, held))
        finally:
            os.close(gate)
        for path, fd in victims:  # each still locked by us: no other sync can take it meanwhile
            _remove(Path(path))
            if fd is not None:
                os.close(fd)
        return len(victims)


def _try_lock(item: os.DirEntry[str]) -> int | bool | None:
    """A descriptor holding ``item``'s lock, None for a symlink (nobody locks those), False if it is held."""
    if item.is_symlink():
        return None
    try:  # O_NONBLOCK: opening a FIFO (nothing of ours, but it can be there) would wait for a writer forever
        fd = os.open(item.path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        os.close(fd)
        return False
    return fd


def _remove(path: Path) -> None:
    try:
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink()
    except OSError:
        pass
