"""The unpacked-wheel cache: each verified wheel is unzipped (and its RECORD checked) once.

Syncs then place files from ``unpacked-v2/<sha[:2]>/<sha256>/`` by copying or
linking them, as uv does, instead of unzipping every wheel again.  Every file has
a fixed mode (0644, or 0755 for executables) and a fixed mtime, so a tree linked
from the cache is the same whatever the umask or the day it was unpacked.  An entry is
built in a temporary directory of the cache and published with one rename, so
two syncs sharing a cache never see half of one.

The entry's marker, written last, is its manifest: every file's path, size,
mode and sha256 (left out where the entry's RECORD gives it; RECORD's own is
kept).  Staged trees hard-link these files, so a ``chmod``, ``chown``,
``touch`` or an edit in a staged tree changes the cache's copy too: before an
entry is used, :func:`unpacked` checks every file's type, size, mode, mtime and
owner against the manifest (no file is read), and a full check
(:func:`verify_cache`, ``--refresh``) also hashes every file.  A damaged entry
is evicted and unpacked again from the verified wheel.
"""

from __future__ import annotations

import base64
import csv
import hashlib
import io
import json
import os
import re
import stat
import zipfile
import zlib
from collections.abc import Collection, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import IO, Any, BinaryIO, cast

from installer.records import parse_record_file
from installer.sources import WheelContentElement, WheelSource
from installer.utils import Scheme
from packaging.utils import canonicalize_name, canonicalize_version

from ._toml import inflate
from .cache import WheelCache, cache_write_error, file_sha256
from .errors import InstallError
from .fetch import LocalFile
from .tree import CACHE_EPOCH

_CHUNK = 1 << 16
_MAX_UNPACKED = 16 << 30  # no real wheel unpacks to more (the largest CUDA wheels are ~6 GiB)
_BOMB_FLOOR = 64 << 20  # small files may compress very well; big ones that do are suspicious
_MAX_RATIO = 200
_DONE = ".uvroot-unpacked"  # written last: the manifest; an entry without it is not one of ours
_CREATE = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC
_READ_ERRORS: tuple[type[BaseException], ...] = (
    OSError,
    zipfile.BadZipFile,
    zlib.error,
    EOFError,
    NotImplementedError,
    RuntimeError,
)
_INFLATER: Any = None
"""What inflates deflated members: python-isal's decompressobj (``uvroot[fast]``), or None for zlib's."""
try:  # inflating is a cold sync's largest CPU cost; isal's takes about 40% less than zlib's
    from isal import isal_zlib
except ImportError:  # pragma: no cover - the tests install it, and unpack with both inflaters
    pass
else:
    _INFLATER = isal_zlib.decompressobj
    _READ_ERRORS = (*_READ_ERRORS, cast("type[BaseException]", isal_zlib.error))  # (its stub says an instance)
Manifest = dict[str, tuple[int, int, str]]
"""Path in the entry -> (size, mode, sha256 hex) of every file unpacked there; the sha256 is "" where it is
the one the entry's RECORD gives (most files: the manifest is then a third of the size)."""


def unpacked(cache: WheelCache, sha256: str | None) -> Path | None:
    """The unpacked entry of the wheel with this hash, if a sync made it before and it is intact.

    Checked cheaply (every file's type, size, mode, mtime and owner; no file is
    read) once per process; a damaged entry is evicted and None returned.
    """
    if not sha256:
        return None
    entry = _entry(cache, sha256)
    if entry in cache.checked:
        return entry
    if not (entry / _DONE).exists():
        return None
    if not _intact(entry, deep=False):
        cache.evict(entry)
        return None
    cache.checked.add(entry)
    return entry


def _entry(cache: WheelCache, sha256: str) -> Path:
    return cache.root / "unpacked-v2" / sha256[:2] / sha256


def unpack(local: LocalFile, cache: WheelCache) -> Path:
    """The directory holding ``local``'s contents, verified against its RECORD (unpacking once)."""
    digest = local.sha256 or file_sha256(local.path)
    final = _entry(cache, digest)
    if unpacked(cache, digest) is not None:
        return final
    with cache.scratch() as work:
        staging = work / "wheel"
        manifest = _extract(local.path, staging, cache)
        marker = staging / _DONE
        try:
            marker.write_bytes(zlib.compress(json.dumps({"wheel": local.path.name, "files": manifest}).encode(), 1))
            final.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise cache_write_error(cache.root, marker, exc) from None
        try:
            staging.rename(final)
        except OSError:  # another sync published it first, or a stale half entry is in the way
            if unpacked(cache, digest) is None:
                cache.evict(final)
                try:
                    staging.rename(final)
                except OSError as exc:
                    raise cache_write_error(cache.root, final, exc) from None
    cache.checked.add(final)
    return final


def wheel_name(unpacked: Path) -> str:
    """The original filename of the wheel an entry was unpacked from."""
    return str(_marker(unpacked)["wheel"])


def _marker(entry: Path) -> dict[str, Any]:
    """The entry's marker: its wheel and manifest as JSON, compressed (a third of the size); plain from older uvroots."""
    data = (entry / _DONE).read_bytes()
    try:  # a manifest of 100,000 files inflates to about 15 MiB
        return dict(json.loads(data if data.startswith(b"{") else inflate(data, 1 << 25)))
    except RecursionError:  # nested arrays a few bytes long: damaged, not a manifest
        raise ValueError(f"{entry / _DONE} is nested too deeply") from None


def _manifest(data: dict[str, Any]) -> Manifest:
    return {str(path): (int(size), int(mode), str(digest)) for path, (size, mode, digest) in data["files"].items()}


def _intact(entry: Path, *, deep: bool) -> bool:
    """Whether every file of the manifest is there as unpacked; ``deep`` also hashes each one.

    As unpacked: a regular file of its size, mode, mtime (``CACHE_EPOCH``) and owner (the marker's).
    """
    try:
        marker = os.lstat(entry / _DONE)
        manifest = _manifest(_marker(entry))
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return False  # no manifest (an older uvroot's entry) or a damaged one
    uid, gid, mtime = marker.st_uid, marker.st_gid, CACHE_EPOCH * 1_000_000_000
    root = f"{entry}/"  # plain strings: this runs once per cached file of every warm sync
    for relative, (size, mode, _) in manifest.items():
        try:
            found = os.lstat(root + relative)
        except OSError:
            return False
        if (
            found.st_mode != stat.S_IFREG | mode
            or found.st_size != size
            or found.st_mtime_ns != mtime
            or found.st_uid != uid
            or found.st_gid != gid
        ):
            return False
    return not deep or _hashes_intact(root, manifest)


def _hashes_intact(root: str, manifest: Manifest) -> bool:
    """Whether every file hashes to its sha256: the manifest's, or (where that is "") the entry's RECORD's.

    RECORD itself is hashed with the rest, against the manifest's digest of it.
    """
    digests = {relative: digest for relative, (_, _, digest) in manifest.items()}
    records = [relative for relative in digests if _is_record(relative)]  # one: unpack refuses a second dist-info
    if len(records) == 1 and not all(digests.values()):
        try:  # read as unpack read it: bytes, then UTF-8 (no newline translation inside quoted names)
            rows = _rows((Path(root) / records[0]).read_bytes().decode("utf-8"))
        except (OSError, UnicodeDecodeError, csv.Error):
            return False
        digests = {relative: digest or _hex(rows.get(relative, ("", ""))[0]) for relative, digest in digests.items()}
    return all(digest and file_sha256(Path(root + relative)) == digest for relative, digest in digests.items())


def _hex(hashed: str) -> str:
    """RECORD's ``sha256=<urlsafe base64, unpadded>`` as hex; "" (no match) for anything else."""
    algorithm, _, value = hashed.partition("=")
    try:
        return base64.urlsafe_b64decode(value + "=" * (-len(value) % 4)).hex() if algorithm == "sha256" else ""
    except ValueError:  # unpack checked the rows it left out of the manifest: this one is damaged
        return ""


@dataclass(frozen=True)
class CacheCheck:
    """What :func:`verify_cache` found."""

    wheels: int = 0
    unpacked: int = 0
    built: int = 0
    evicted: tuple[str, ...] = ()
    """The damaged entries taken out, relative to the cache."""
    stale: int = 0
    """Temporary entries of killed syncs that were deleted."""

    def summary(self) -> str:
        """One line for the CLI."""
        checked = self.wheels + self.unpacked + self.built
        return (
            f"verified {checked} cache entries ({self.wheels} downloaded, {self.unpacked} unpacked, "
            f"{self.built} built): {len(self.evicted)} damaged and evicted, {self.stale} stale temporary removed"
        )


def verify_cache(cache: WheelCache, only: Collection[str] | None = None) -> CacheCheck:
    """Hash every entry (or those of the files with a sha256 in ``only``) and evict the damaged ones.

    Downloaded files must hash to the sha256 their directory is named by, unpacked
    files to their manifest's sha256, built wheels to their recorded one.
    """
    if not cache.root.is_dir():
        return CacheCheck()
    cache.prepare()
    stale = cache.clean()
    evicted: list[str] = []
    wheels = unpacked_count = built = 0
    for entry in _entries(cache.root / "wheels-v1", only):
        wheels += 1
        files = list(entry.iterdir()) if entry.is_dir() else []
        if not files or not all(_hashes_to(path, entry.name) for path in files):
            evicted.append(_evict(cache, entry))
    for entry in _entries(cache.root / "unpacked-v2", only):
        unpacked_count += 1
        if not _intact(entry, deep=True):
            evicted.append(_evict(cache, entry))
    for entry in sorted((cache.root / "built-v1").glob("*")):  # few, and not named by the lock's hashes
        built += 1
        if cache.built(entry.name) is None:  # checks by hash, evicts when damaged
            evicted.append(entry.relative_to(cache.root).as_posix())
    for name in evicted:
        cache.checked.discard(cache.root / name)
    return CacheCheck(wheels, unpacked_count, built, tuple(evicted), stale)


def refresh_cache(cache: WheelCache, lock_path: Path) -> CacheCheck:
    """``sync --refresh``: :func:`verify_cache` for the files uv.lock names (every platform's) and built wheels."""
    from .lock import load_lock

    lock = load_lock(lock_path, cache.root)
    files = [file for package in lock.packages for file in (*package.wheels, package.sdist) if file is not None]
    return verify_cache(cache, only={file.sha256 for file in files if file.sha256})


def _entries(bucket: Path, only: Collection[str] | None) -> Iterable[Path]:
    if only is not None:
        return sorted(path for sha in only if (path := bucket / sha[:2] / sha).exists())
    return sorted(bucket.glob("*/*"))


def _hashes_to(path: Path, sha256: str) -> bool:
    try:
        return stat.S_ISREG(path.lstat().st_mode) and file_sha256(path) == sha256
    except OSError:
        return False


def _evict(cache: WheelCache, entry: Path) -> str:
    cache.evict(entry)
    return entry.relative_to(cache.root).as_posix()


def _extract(wheel: Path, into: Path, cache: WheelCache) -> Manifest:
    try:
        archive = zipfile.ZipFile(wheel)
    except _READ_ERRORS as exc:
        raise _damaged(wheel.name, exc) from None
    with archive:
        members = [info for info in archive.infolist() if not info.is_dir()]
        paths = [PurePosixPath(info.filename) for info in members]  # parsed once: checked, then written
        _refuse_hostile(wheel.name, members, paths)
        record = _record(wheel.name, archive, members)
        made: set[str] = set()  # directories created: one mkdir each, not one per file
        return dict(
            _extract_one(wheel.name, archive, info, path, into, record, cache, made)
            for info, path in zip(members, paths, strict=True)
        )


def _damaged(name: str, exc: BaseException) -> InstallError:
    return InstallError(f"cannot unpack {name}: {exc}", hint="the wheel file is damaged")


def _refuse_hostile(name: str, members: list[zipfile.ZipInfo], paths: list[PurePosixPath]) -> None:
    """Refuse, before writing a byte, wheels that are bombs, carry links or do not match their name."""
    declared = sum(info.file_size for info in members)
    if declared > _MAX_UNPACKED:
        raise InstallError(
            f"{name} would unpack to {declared >> 20} MiB, more than uvroot allows",
            hint="the wheel is a zip bomb or damaged",
        )
    for info in members:
        if info.file_size > _BOMB_FLOOR and info.file_size > _MAX_RATIO * max(info.compress_size, 1):
            raise InstallError(
                f"{name}: {info.filename} expands {info.file_size // max(info.compress_size, 1)}x",
                hint="the wheel is a zip bomb",
            )
        if stat.S_ISLNK(info.external_attr >> 16):
            raise InstallError(f"{name} has a symbolic link {info.filename!r}", hint="wheels may not carry links")
        if re.match(r"^[A-Za-z]:", info.filename):
            raise InstallError(
                f"{name} has an unsafe entry {info.filename!r}", hint="the wheel is malformed or hostile"
            )
    _check_name(name, paths)


def _check_name(name: str, paths: list[PurePosixPath]) -> None:
    # The dist-info must be the one the filename promises (installer trusts the filename).
    wheel_name, wheel_version = name.split("-")[:2]
    tops = (path.parts[:1] for path in paths)  # normalised: "./x.dist-info/..." is x.dist-info
    infos = {top[0] for top in tops if top and top[0].endswith(".dist-info")}
    expected = f"{canonicalize_name(wheel_name)}-{canonicalize_version(wheel_version)}"
    found = sorted(infos)
    stems = [info.removesuffix(".dist-info").rsplit("-", 1) for info in found]
    if (
        len(stems) != 1
        or len(stems[0]) != 2
        or expected != (f"{canonicalize_name(stems[0][0])}-{canonicalize_version(stems[0][1])}")
    ):
        raise InstallError(
            f"{name} does not contain the dist-info its name promises (found: {', '.join(found) or 'none'})",
            hint="the wheel is mislabelled or hostile",
        )


def _record(name: str, archive: zipfile.ZipFile, members: list[zipfile.ZipInfo]) -> dict[str, tuple[str, str]]:
    records = [info for info in members if _is_record(info.filename)]
    if len(records) != 1:
        raise InstallError(f"{name} has {len(records)} RECORD files instead of one", hint="the wheel is malformed")
    try:
        text = archive.read(records[0]).decode("utf-8")
    except (*_READ_ERRORS, UnicodeDecodeError) as exc:  # type: ignore[misc]  # (mypy: a starred tuple)
        raise _damaged(name, exc) from None
    try:
        return _rows(text)
    except csv.Error as exc:
        raise InstallError(f"{name}: its RECORD is not valid CSV ({exc})", hint="the wheel is malformed") from None


def _rows(text: str) -> dict[str, tuple[str, str]]:
    """RECORD's rows: path -> (hash, size); the last row wins where a path is listed twice."""
    return {row[0]: (row[1], row[2]) for row in csv.reader(io.StringIO(text, newline="")) if len(row) >= 3}


def _extract_one(
    name: str,
    archive: zipfile.ZipFile,
    info: zipfile.ZipInfo,
    path: PurePosixPath,
    into: Path,
    record: dict[str, tuple[str, str]],
    cache: WheelCache,
    made: set[str],
) -> tuple[str, tuple[int, int, str]]:
    if not path.parts or path.is_absolute() or ".." in path.parts or "\\" in info.filename or path.parts == (_DONE,):
        raise InstallError(f"{name} has an unsafe entry {info.filename!r}", hint="the wheel is malformed or hostile")
    relative = "/".join(path.parts)
    target = f"{into}/{relative}"
    digest, size = hashlib.sha256(), 0
    checked = not _is_record(info.filename, ("RECORD", "RECORD.jws", "RECORD.p7s"))  # RECORD cannot list itself
    hashed = checked and _sha256_in(record, info.filename)  # a sha256 of this member is checked below
    executable = (info.external_attr >> 16) & 0o111 or (path.parts[0].endswith(".data") and "scripts" in path.parts)
    mode = 0o755 if executable else 0o644
    try:
        parent = target.rpartition("/")[0]
        if parent not in made:
            os.makedirs(parent, exist_ok=True)
            made.add(parent)
        with _open_member(name, archive, info) as source:
            if hashed:
                # The sha256 checked below proves every byte; zipfile's CRC-32 would only read them again.
                # (Private: ZipExtFile reads it in 3.10-3.14; were it renamed, the CRC would be checked again.)
                source._expected_crc = None  # type: ignore[attr-defined]
            if _INFLATER is not None and info.compress_type == zipfile.ZIP_DEFLATED:
                # zlib's API, faster; nothing is read at open (3.10-3.14); were it renamed, zlib would inflate.
                source._decompressor = _INFLATER(-15)  # type: ignore[attr-defined]
            fd = os.open(target, _CREATE, mode)  # raw: no buffer, no isatty probe, no flush per file
            try:
                while chunk := _read(name, source):
                    digest.update(chunk)
                    size += len(chunk)
                    _write_all(fd, chunk)
                os.fchmod(fd, mode)  # by descriptor: the umask may have narrowed the mode given to open
                os.utime(fd, (CACHE_EPOCH, CACHE_EPOCH))  # hard links into the cache carry it into the tree
            finally:
                os.close(fd)
    except (FileExistsError, NotADirectoryError, IsADirectoryError):
        raise InstallError(
            f"{name} has the entry {info.filename!r} twice (or as a file and a directory)",
            hint="the wheel is malformed or hostile",
        ) from None
    except OSError as exc:  # reading errors are InstallErrors by now: this is the cache's disk
        raise cache_write_error(cache.root, target, exc) from None
    if not checked:
        return relative, (size, mode, digest.hexdigest())
    _check(name, info, record, digest)
    # A digest RECORD gives (checked just now) is not kept twice: RECORD is in the entry, under its own digest.
    proven = hashed and relative == info.filename  # (RECORD rows name the zip's members, not normalised paths)
    return relative, (size, mode, "" if proven else digest.hexdigest())


def _sha256_in(record: dict[str, tuple[str, str]], filename: str) -> bool:
    return record.get(filename, ("", ""))[0].startswith("sha256=")


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def _open_member(name: str, archive: zipfile.ZipFile, info: zipfile.ZipInfo) -> IO[bytes]:
    try:
        return archive.open(info)
    except _READ_ERRORS as exc:
        raise _damaged(name, exc) from None


def _read(name: str, source: IO[bytes]) -> bytes:
    try:
        return source.read(_CHUNK)
    except _READ_ERRORS as exc:
        raise _damaged(name, exc) from None


def _check(name: str, info: zipfile.ZipInfo, record: dict[str, tuple[str, str]], digest: hashlib._Hash) -> None:
    expected = record.get(info.filename)
    if expected is None:
        raise InstallError(f"{name}: {info.filename} is not listed in RECORD", hint="the wheel is malformed")
    algorithm, _, value = expected[0].partition("=")
    if algorithm != "sha256":
        return  # installer accepts other strong hashes; the whole wheel's sha256 is already verified
    actual = base64.urlsafe_b64encode(digest.digest()).rstrip(b"=").decode()
    if actual != value or (expected[1] and int(expected[1]) != info.file_size):
        raise InstallError(f"{name}: {info.filename} does not match its RECORD entry", hint="the wheel is corrupt")


def _is_record(filename: str, names: tuple[str, ...] = ("RECORD",)) -> bool:
    parts = filename.split("/")
    return len(parts) == 2 and parts[0].endswith(".dist-info") and parts[1] in names


_PIP_VERSIONED = re.compile(r"pip\d+(\.\d+)?")


class UnpackedSource(WheelSource):
    """installer's view of a wheel in the unpacked cache: files are read (or linked) in place."""

    def __init__(self, root: Path, python_version: str = "") -> None:
        marker = _marker(root)
        filename = str(marker["wheel"])
        name, version = filename.split("-")[:2]
        super().__init__(distribution=name, version=version)
        self.root = root
        self.python_version = python_version
        self._dist_info = next(p.name for p in root.glob("*.dist-info") if p.is_dir())
        text = (root / self._dist_info / "RECORD").read_text(encoding="utf-8")
        rows = parse_record_file(io.StringIO(text, newline=""))  # (a quoted name may hold a line break)
        self.rows = [row for row in rows if not row[0].endswith("/")]
        unpacked = _manifest(marker)
        if stray := [row[0] for row in self.rows if row[0] not in unpacked]:
            # unpack checked that every file of the wheel is in RECORD; this is the other way round
            raise InstallError(
                f"{filename}: RECORD lists {stray[0]!r}, which is not a file of the wheel",
                hint="the wheel is malformed or hostile",
            )
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
        """One dist-info file's text (pip's launchers renamed for the target, as pip and uv do)."""
        text = (self.root / self._dist_info / filename).read_text(encoding="utf-8")
        if filename == "entry_points.txt" and self.distribution.lower() == "pip" and self.python_version:
            text = _pip_launchers(text, self.python_version)
        return text

    def validate_record(self, *, validate_contents: bool = True) -> None:
        """Checked when the wheel was unpacked."""

    def get_contents(self) -> Iterator[WheelContentElement]:
        """Every file RECORD lists, as a file named by its place in the cache (opened only if read)."""
        root = str(self.root)
        for path, digest, size in self.rows:
            stream = CachedFile(os.path.join(root, path))
            try:
                yield (path, digest, size), cast(BinaryIO, stream), False  # placing keeps the cached mode
            finally:
                stream.close()


def _pip_launchers(text: str, python_version: str) -> str:
    """Pip's ``pip``, ``pip3`` and ``pip3.Y`` for the TARGET version, whatever the wheel was built with."""
    lines = text.splitlines()
    section, target = "", None
    kept = []
    for line in lines:
        stripped = line.strip()
        if stripped.startswith("["):
            section = stripped
        name, _, value = stripped.partition("=")
        if section == "[console_scripts]" and _PIP_VERSIONED.fullmatch(name.strip()):
            continue  # pip3, pip3.12: written below for the target
        if section == "[console_scripts]" and name.strip() == "pip":
            target = value.strip()
        kept.append(line)
    if target is None:
        return text
    major = python_version.split(".")[0]
    extra = [f"pip{major} = {target}", f"pip{python_version} = {target}"]
    at = next(i for i, line in enumerate(kept) if line.strip() == "[console_scripts]") + 1
    return "\n".join([*kept[:at], *extra, *kept[at:]]) + "\n"


class CachedFile(io.RawIOBase):
    """A file of the unpacked cache that is opened only when read: linking never reads it."""

    def __init__(self, name: str) -> None:
        super().__init__()
        self.name = name
        self._file: BinaryIO | None = None

    def _open(self) -> BinaryIO:
        if self._file is None:
            self._file = open(self.name, "rb")  # noqa: SIM115 - closed by close()
        return self._file

    def readable(self) -> bool:  # noqa: D102 - io.RawIOBase's
        return True

    def read(self, size: int = -1) -> bytes:  # noqa: D102 - io.RawIOBase's
        return self._open().read(size)

    def seek(self, offset: int, whence: int = 0) -> int:  # noqa: D102 - io.RawIOBase's
        return self._open().seek(offset, whence)

    def close(self) -> None:  # noqa: D102 - io.RawIOBase's
        if self._file is not None:
            self._file.close()
        super().close()
