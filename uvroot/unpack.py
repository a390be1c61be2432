"""The unpacked-wheel cache: each verified wheel is unzipped (and its RECORD checked) once.

Syncs then place files from ``unpacked-v2/<sha[:2]>/<sha256>/`` by copying or
linking them, as uv does, instead of unzipping every wheel again.  Every file has
a fixed mode (0644, or 0755 for executables) and a fixed mtime, so a tree linked
from the cache is the same whatever the umask or the day it was unpacked.  An entry is
built in a temporary directory of the cache and published with one rename, so
two syncs sharing a cache never see half of one.
"""

from __future__ import annotations

import base64
import csv
import hashlib
import io
import os
import re
import shutil
import stat
import zipfile
from pathlib import Path, PurePosixPath

from packaging.utils import canonicalize_name, canonicalize_version

from .cache import WheelCache
from .errors import InstallError
from .fetch import LocalFile, file_sha256
from .tree import CACHE_EPOCH

_CHUNK = 1 << 16
_MAX_UNPACKED = 16 << 30  # no real wheel unpacks to more (the largest CUDA wheels are ~6 GiB)
_BOMB_FLOOR = 64 << 20  # small files may compress very well; big ones that do are suspicious
_MAX_RATIO = 200
_DONE = ".uvroot-unpacked"  # written last: an entry without it is not one of ours


def unpacked(cache: WheelCache, sha256: str | None) -> Path | None:
    """The unpacked entry of the wheel with this hash, if a sync made it before."""
    if not sha256:
        return None
    entry = _entry(cache, sha256)
    return entry if (entry / _DONE).is_file() else None


def _entry(cache: WheelCache, sha256: str) -> Path:
    return cache.root / "unpacked-v2" / sha256[:2] / sha256


def unpack(local: LocalFile, cache: WheelCache) -> Path:
    """The directory holding ``local``'s contents, verified against its RECORD (unpacking once)."""
    digest = local.sha256 or file_sha256(local.path)
    final = _entry(cache, digest)
    if (final / _DONE).is_file():
        return final
    with cache.scratch() as work:
        staging = work / "wheel"
        _extract(local.path, staging)
        (staging / _DONE).write_text(local.path.name + "\n", encoding="utf-8")
        final.parent.mkdir(parents=True, exist_ok=True)
        try:
            staging.rename(final)
        except OSError:  # another sync published it first, or a stale half entry is in the way
            if not (final / _DONE).is_file():
                shutil.rmtree(final, ignore_errors=True)
                staging.rename(final)
    return final


def wheel_name(unpacked: Path) -> str:
    """The original filename of the wheel an entry was unpacked from."""
    return (unpacked / _DONE).read_text(encoding="utf-8").strip()


def _extract(wheel: Path, into: Path) -> None:
    try:
        with zipfile.ZipFile(wheel) as archive:
            members = [info for info in archive.infolist() if not info.is_dir()]
            _refuse_hostile(wheel.name, members)
            record = _record(wheel.name, archive, members)
            for info in members:
                _extract_one(wheel.name, archive, info, into, record)
    except (zipfile.BadZipFile, OSError) as exc:
        raise InstallError(f"cannot unpack {wheel.name}: {exc}", hint="the wheel file is damaged") from None


def _refuse_hostile(name: str, members: list[zipfile.ZipInfo]) -> None:
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
    _check_name(name, members)


def _check_name(name: str, members: list[zipfile.ZipInfo]) -> None:
    # The dist-info must be the one the filename promises (installer trusts the filename).
    wheel_name, wheel_version = name.split("-")[:2]
    infos = {info.filename.split("/")[0] for info in members if info.filename.split("/")[0].endswith(".dist-info")}
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
    rows = csv.reader(io.StringIO(archive.read(records[0]).decode("utf-8")))
    return {row[0]: (row[1], row[2]) for row in rows if row}


def _extract_one(
    name: str, archive: zipfile.ZipFile, info: zipfile.ZipInfo, into: Path, record: dict[str, tuple[str, str]]
) -> None:
    path = PurePosixPath(info.filename)
    if not path.parts or path.is_absolute() or ".." in path.parts or "\\" in info.filename:
        raise InstallError(f"{name} has an unsafe entry {info.filename!r}", hint="the wheel is malformed or hostile")
    target = into.joinpath(*path.parts)
    target.parent.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256()
    with archive.open(info) as source, target.open("xb") as sink:
        while chunk := source.read(_CHUNK):
            digest.update(chunk)
            sink.write(chunk)
    if not _is_record(info.filename, ("RECORD", "RECORD.jws", "RECORD.p7s")):  # RECORD cannot list itself
        _check(name, info, record, digest)
    executable = (info.external_attr >> 16) & 0o111 or (path.parts[0].endswith(".data") and "scripts" in path.parts)
    target.chmod(0o755 if executable else 0o644)
    os.utime(target, (CACHE_EPOCH, CACHE_EPOCH))  # hard links into the cache carry it into the tree


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
