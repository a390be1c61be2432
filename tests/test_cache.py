"""The cache checks what it reuses (uvroot/cache.py, unpack.py, fetch.py, build.py, _toml.py).

Every test damages a real cache the way a user, a crash or a hostile lock would
and checks that the next sync repairs it (evicts and fetches or unpacks again)
instead of staging the damage or failing for good.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import io
import json
import os
import re
import shutil
import signal
import stat
import subprocess
import sys
import tarfile
import threading
import time
import tracemalloc
import zipfile
import zlib
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from tests.support.cli import tree, uvroot, uvroot_argv
from tests.support.faulty import FaultyServer, endless, require_auth, slow, trickle
from tests.support.index import LocalIndex
from tests.support.wheels import build_wheel, record_hash, rezipped
from uvroot.tree import CACHE_EPOCH

if TYPE_CHECKING:
    from uvroot.cache import WheelCache

ALPHA = "alpha-1.0-py3-none-any.whl"
SITE = f"usr/local/lib/python{sys.version_info[0]}.{sys.version_info[1]}/site-packages"
GENUINE = 'def main():\n    print("alpha")\n'


# -- helpers ---------------------------------------------------------------------------


def sync(project: Path, root: Path, cache: Path, *flags: str, env: dict[str, str] | None = None):  # type: ignore[no-untyped-def]
    return uvroot("sync", "--project", project, "--root", root, *flags, cache=cache, env=env)


def assert_ok(result) -> None:  # type: ignore[no-untyped-def]
    assert result.exit_code == 0, result.output
    assert "Traceback" not in result.output and "error:" not in result.output, result.output


def lock_sha256(project: Path, filename: str) -> str:
    text = (project / "uv.lock").read_text()
    return re.search(re.escape(filename) + r'", hash = "sha256:([0-9a-f]{64})"', text)[1]  # type: ignore[index]


def cached_wheel(cache: Path, project: Path, filename: str = ALPHA) -> Path:
    sha = lock_sha256(project, filename)
    return cache / "wheels-v1" / sha[:2] / sha / filename


def unpacked_entry(cache: Path, project: Path, filename: str = ALPHA) -> Path:
    sha = lock_sha256(project, filename)
    return cache / "unpacked-v2" / sha[:2] / sha


def point_wheel(project: Path, filename: str, url: str, data: bytes, *, size: bool = False) -> None:
    """Make uv.lock's entry for ``filename`` name ``url`` with ``data``'s hash (and size)."""
    lock = project / "uv.lock"
    text = lock.read_text()
    pattern = r'\{ url = "[^"]*/' + re.escape(filename) + r'", hash = "sha256:[0-9a-f]{64}"'
    extra = f", size = {len(data)}" if size else ""
    replacement = f'{{ url = "{url}", hash = "sha256:{hashlib.sha256(data).hexdigest()}"{extra}'
    text, count = re.subn(pattern, lambda _: replacement, text)
    assert count == 1, text
    lock.write_text(text)


def staged_alpha(root: Path) -> str:
    return (root / SITE / "alpha" / "__init__.py").read_text()


def leftovers(cache: Path) -> list[Path]:
    return sorted((cache / "tmp").iterdir()) if (cache / "tmp").exists() else []


@pytest.fixture(autouse=True)
def _in_tmp_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test runs in its own directory: code that deletes what it scans (the cleaner) and goes wrong,
    as a mutant of ``os.scandir(tmp)`` into ``os.scandir(None)`` does, must find nothing of value there."""
    monkeypatch.chdir(tmp_path)


@pytest.fixture
def project(make_locked_project: Callable[..., Path]) -> Path:
    return make_locked_project(dependencies=["alpha"], requires_python=">=3.10")


@pytest.fixture
def warm(project: Path, wheelhouse: Path, tmp_path: Path) -> Path:
    """A cache that one sync filled (``tmp_path/first`` is that sync's root), downloaded wheels included.

    A sync drops a downloaded wheel once it is unpacked; one killed in between, or an older
    uvroot, leaves it: each locked wheel is put back at its cache path, for the tests to damage.
    """
    cache = tmp_path / "cache"
    assert_ok(sync(project, tmp_path / "first", cache))
    assert staged_alpha(tmp_path / "first").startswith("__version__")
    assert list(cache.glob("wheels-v1/*/*/*.whl")) == []  # dropped once unpacked
    locked = (project / "uv.lock").read_text()
    for wheel in wheelhouse.glob("*.whl"):
        if f'/{wheel.name}", hash' in locked:
            path = cached_wheel(cache, project, wheel.name)
            path.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(wheel, path)
    return cache


def _genuine(index: LocalIndex) -> str:
    with zipfile.ZipFile(index.directory / ALPHA) as archive:
        return archive.read("alpha/__init__.py").decode()


# -- 2. a hit is checked before it is used ------------------------------------------------


def test_a_different_valid_wheel_at_a_cached_path_is_fetched_again(
    project: Path, warm: Path, index: LocalIndex, tmp_path: Path
) -> None:
    wheel = cached_wheel(warm, project)
    impostor = build_wheel(tmp_path / "impostor", "alpha", "1.0", files={"alpha/__init__.py": "IMPOSTOR = 1\n"})
    wheel.write_bytes(impostor.read_bytes())
    os.utime(wheel, (CACHE_EPOCH, CACHE_EPOCH))

    shutil.rmtree(unpacked_entry(warm, project))  # the next sync unpacks the .whl again
    index.reset()
    assert_ok(sync(project, tmp_path / "root", warm))
    assert staged_alpha(tmp_path / "root") == _genuine(index)
    assert any(ALPHA in url for url in index.downloads())  # evicted and downloaded again
    assert not wheel.exists()  # downloaded again, verified, unpacked, and dropped


def test_an_intact_cached_wheel_is_used_without_downloading_but_never_through_a_symlink(
    project: Path, warm: Path, index: LocalIndex, tmp_path: Path
) -> None:
    shutil.rmtree(unpacked_entry(warm, project))  # the next sync needs the .whl
    index.reset()
    assert_ok(sync(project, tmp_path / "hit", warm))
    assert ALPHA not in index.downloads()  # intact: used as it is
    assert staged_alpha(tmp_path / "hit") == _genuine(index)

    outside = tmp_path / "outside.whl"  # an intact copy, but outside the cache
    shutil.copyfile(index.directory / ALPHA, outside)
    wheel = cached_wheel(warm, project)
    wheel.parent.mkdir(parents=True, exist_ok=True)
    wheel.symlink_to(outside)
    shutil.rmtree(unpacked_entry(warm, project))
    index.reset()
    assert_ok(sync(project, tmp_path / "link", warm))
    assert ALPHA in index.downloads()  # only a plain file counts as cached
    assert staged_alpha(tmp_path / "link") == _genuine(index)
    assert outside.read_bytes() == (index.directory / ALPHA).read_bytes()


def test_only_hashed_plainly_named_files_have_a_place_in_the_cache(tmp_path: Path) -> None:
    from uvroot.cache import WheelCache
    from uvroot.errors import FetchError, LockError
    from uvroot.lock import LockedWheel

    for odd in ("..", "x.", ".hidden", "a/b.whl", "a" * 256):  # uv.lock refuses most of these before
        with pytest.raises(LockError) as refused:
            WheelCache(tmp_path / "cache").path_for(LockedWheel(odd, None, "0" * 64, None, frozenset(), ()))
        assert refused.value.message == f"uv.lock names the file {odd!r} (from ), which is not a plain file name"

    cache = WheelCache(tmp_path / "cache")
    unhashed = LockedWheel(ALPHA, f"http://127.0.0.1:1/{ALPHA}", None, None, frozenset(), ())
    assert cache.get(unhashed) is None
    with pytest.raises(FetchError) as refused:
        cache.path_for(unhashed)
    assert refused.value.message == f"{ALPHA} has no sha256 in uv.lock"
    assert refused.value.hint == "only hashed files are cached"


def test_a_truncated_cached_wheel_is_fetched_again(
    project: Path, warm: Path, index: LocalIndex, tmp_path: Path
) -> None:

    wheel = cached_wheel(warm, project)
    wheel.write_bytes(wheel.read_bytes()[: wheel.stat().st_size // 2])
    shutil.rmtree(unpacked_entry(warm, project))
    for attempt in ("root-1", "root-2"):  # repaired for good, not once
        assert_ok(sync(project, tmp_path / attempt, warm))
        assert staged_alpha(tmp_path / attempt) == _genuine(index)
    assert not wheel.exists()  # downloaded again, verified, unpacked, and dropped


def test_an_edited_unpacked_file_is_unpacked_again(
    project: Path, warm: Path, index: LocalIndex, tmp_path: Path
) -> None:
    cached = unpacked_entry(warm, project) / "alpha" / "__init__.py"
    data = bytearray(cached.read_bytes())
    data[0] ^= 0x01  # one flipped byte, as an edit in a hard-linked staged tree would do
    cached.write_bytes(bytes(data))  # the mtime changes: the cheap check sees it
    result = sync(project, tmp_path / "root", warm)
    assert_ok(result)
    assert staged_alpha(tmp_path / "root") == _genuine(index)
    assert f"warning: the cached copy of {ALPHA} had changed (unpacked-v2;" in result.output


@pytest.mark.parametrize("workers", [False, True], ids=["here", "in-workers"])
def test_entries_without_their_manifest_are_unpacked_again_with_a_warning(
    workers: bool, make_locked_project: Callable[..., Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Entries that lost their manifest are taken out and unpacked again, in this process or in the worker
    processes of a large cold sync (which must tell this one what they took out, for the warning)."""
    import uvroot.sync

    project = make_locked_project(dependencies=["alpha", "gadgets"], requires_python=">=3.10")
    cache = tmp_path / "cache"
    assert_ok(sync(project, tmp_path / "first", cache))
    entries = sorted(cache.glob("unpacked-v2/*/*"))
    assert len(entries) == 3  # alpha, gadgets and its dependency
    for entry in entries:
        (entry / ".uvroot-unpacked").unlink()  # a half entry in the way of the new one
    if workers:
        monkeypatch.setattr(uvroot.sync, "_PROCESS_THRESHOLD", 0)
    result = sync(project, tmp_path / "second", cache)
    assert_ok(result)
    assert f"warning: the cached copy of {ALPHA} had changed (unpacked-v2;" in result.output
    assert tree(tmp_path / "second") == tree(tmp_path / "first")
    assert all((entry / ".uvroot-unpacked").is_file() for entry in entries)


def test_an_equal_size_flip_with_the_mtime_put_back_is_found_by_refresh_and_verify(
    project: Path, warm: Path, index: LocalIndex, tmp_path: Path
) -> None:
    def flip() -> Path:
        cached = unpacked_entry(warm, project) / "alpha" / "__init__.py"
        data = bytearray(cached.read_bytes())
        data[0] ^= 0x01
        cached.write_bytes(bytes(data))
        os.utime(cached, (CACHE_EPOCH, CACHE_EPOCH))  # deliberately hidden from the cheap check
        return cached

    flip()
    # The documented limit: the cheap check reads no file, so this one is staged...
    assert_ok(sync(project, tmp_path / "plain", warm))
    assert staged_alpha(tmp_path / "plain") != _genuine(index)
    # ...and --refresh re-hashes every entry the lock can use first.
    result = sync(project, tmp_path / "refreshed", warm, "--refresh")
    assert_ok(result)
    assert "1 damaged and evicted" in result.output
    assert staged_alpha(tmp_path / "refreshed") == _genuine(index)

    flip()
    result = uvroot("cache", "verify", "--cache-dir", warm, "-v")
    assert result.exit_code == 0, result.output
    assert "1 damaged and evicted" in result.output and "evicted unpacked-v2/" in result.output
    again = uvroot("cache", "verify", "--cache-dir", warm)
    assert again.exit_code == 0 and "0 damaged and evicted" in again.output, again.output
    assert_ok(sync(project, tmp_path / "after-verify", warm))
    assert staged_alpha(tmp_path / "after-verify") == _genuine(index)


def _sha512_row(wheel: Path, member: str) -> None:
    """Rewrite ``wheel`` so that RECORD lists ``member`` by sha512 (allowed; uvroot then hashes it itself)."""
    with rezipped(wheel) as members:
        (record,) = [name for name in members if name.endswith(".dist-info/RECORD")]
        rows = [row for row in members[record].decode().splitlines() if not row.startswith(f"{member},")]
        digest = base64.urlsafe_b64encode(hashlib.sha512(members[member]).digest()).rstrip(b"=").decode()
        members[record] = "\n".join([*rows, f"{member},sha512={digest},{len(members[member])}", ""]).encode()


def _same_size_edit(path: Path, old: bytes, new: bytes) -> None:
    """Change ``path`` without changing its size or mtime: only a full check can tell."""
    data = path.read_bytes()
    assert len(old) == len(new) and data.count(old) == 1
    path.write_bytes(data.replace(old, new))
    os.utime(path, (CACHE_EPOCH, CACHE_EPOCH))


def test_a_manifest_keeps_only_the_digests_record_does_not_give_and_a_full_check_uses_both(tmp_path: Path) -> None:
    """Files RECORD hashes with sha256 (checked at unpacking) keep no digest of their own in the manifest:
    RECORD gives it, and RECORD keeps its own. Both kinds are checked by a full check."""
    from uvroot.cache import WheelCache
    from uvroot.fetch import LocalFile
    from uvroot.unpack import _marker, unpack, verify_cache

    wheel = build_wheel(tmp_path, "alpha", "1.0", files={"alpha/__init__.py": GENUINE, "alpha/odd.py": "odd = 1\n"})
    _sha512_row(wheel, "alpha/odd.py")
    cache = WheelCache(tmp_path / "cache")
    entry = unpack(LocalFile(wheel, None, wheel.stat().st_size), cache)
    digests = {path: digest for path, (_, _, digest) in _marker(entry)["files"].items()}
    record = "alpha-1.0.dist-info/RECORD"
    kept = {path for path, digest in digests.items() if digest}
    assert kept == {record, "alpha/odd.py"}, digests
    assert digests[record] == hashlib.sha256((entry / record).read_bytes()).hexdigest()
    assert verify_cache(cache).evicted == ()

    _same_size_edit(entry / "alpha" / "odd.py", b"odd = 1", b"odd = 2")  # checked by the manifest's digest
    assert len(verify_cache(cache).evicted) == 1 and not entry.exists()

    entry = unpack(LocalFile(wheel, None, wheel.stat().st_size), cache)
    _same_size_edit(entry / "alpha" / "__init__.py", b'"alpha"', b'"omega"')  # checked by RECORD's
    assert len(verify_cache(cache).evicted) == 1 and not entry.exists()

    entry = unpack(LocalFile(wheel, None, wheel.stat().st_size), cache)
    marker = _marker(entry)
    marker["files"]["alpha/odd.py"][2] = ""  # a forged manifest: RECORD has no sha256 of this file to give
    (entry / ".uvroot-unpacked").write_bytes(zlib.compress(json.dumps(marker).encode()))
    os.utime(entry / ".uvroot-unpacked", (CACHE_EPOCH, CACHE_EPOCH))
    assert len(verify_cache(cache).evicted) == 1 and not entry.exists()

    entry = unpack(LocalFile(wheel, None, wheel.stat().st_size), cache)
    genuine = base64.urlsafe_b64encode(hashlib.sha256(GENUINE.encode()).digest()).rstrip(b"=")
    _same_size_edit(entry / record, genuine, b"!" + genuine[1:])  # a row no longer base64: damaged, not a crash
    assert len(verify_cache(cache).evicted) == 1 and not entry.exists()


def test_the_fast_inflater_is_used_and_unpacks_what_zlib_does(
    wheelhouse: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """python-isal (uvroot[fast]) inflates every deflated member, and the entries equal zlib's, byte for byte."""
    import uvroot.unpack
    from uvroot.cache import WheelCache
    from uvroot.fetch import LocalFile

    fast = uvroot.unpack._INFLATER
    assert fast is not None, "the tests install uvroot[fast]: isal must be importable"
    used: list[int] = []

    def counted(wbits: int) -> object:
        used.append(wbits)
        return fast(wbits)

    def entries(cache: Path) -> list[dict[str, bytes]]:
        wheels = sorted(wheelhouse.glob("*.whl"))
        return [tree(uvroot.unpack.unpack(LocalFile(w, None, w.stat().st_size), WheelCache(cache))) for w in wheels]

    monkeypatch.setattr(uvroot.unpack, "_INFLATER", counted)
    with_isal = entries(tmp_path / "isal")
    deflated = 0
    for wheel in wheelhouse.glob("*.whl"):
        with zipfile.ZipFile(wheel) as archive:
            deflated += sum(i.compress_type == zipfile.ZIP_DEFLATED and not i.is_dir() for i in archive.infolist())
    assert deflated > 50 and len(used) == deflated and set(used) == {-15}
    monkeypatch.setattr(uvroot.unpack, "_INFLATER", None)
    assert entries(tmp_path / "zlib") == with_isal


def test_a_healthy_entry_survives_full_checks_whatever_its_record_holds(tmp_path: Path) -> None:
    """Odd but valid RECORDs: a quoted name with a carriage return (read as unpack read it, no newline
    translation), a directory row and a row with a hash that is not base64 (neither a file of the wheel)."""
    from uvroot.cache import WheelCache
    from uvroot.fetch import LocalFile
    from uvroot.unpack import unpack, verify_cache

    wheel = build_wheel(tmp_path, "alpha", "1.0", files={"alpha/__init__.py": GENUINE, "alpha/a\rb.py": "x = 1\n"})
    record = "alpha-1.0.dist-info/RECORD"
    with rezipped(wheel) as members:
        members[record] = members[record].replace(b"\nalpha/a\rb.py,", b'\n"alpha/a\rb.py",')  # quoted, as csv does
        assert b'"alpha/a\rb.py"' in members[record]
        members[record] += "alpha/,sha256=abcde,\nalpha/zz.py,sha256=\u00e9,1\n".encode()
    cache = WheelCache(tmp_path / "cache")
    entry = unpack(LocalFile(wheel, None, wheel.stat().st_size), cache)
    assert verify_cache(cache).evicted == () and verify_cache(cache).evicted == ()
    assert (entry / "alpha" / "a\rb.py").read_bytes() == b"x = 1\n"


def test_a_file_and_its_record_row_changed_together_are_found_by_a_full_check(
    project: Path, warm: Path, index: LocalIndex, tmp_path: Path
) -> None:
    """RECORD vouches for most files' digests only while it hashes to the manifest's digest of it."""
    entry = unpacked_entry(warm, project)
    cached = entry / "alpha" / "__init__.py"
    before = cached.read_bytes()
    _same_size_edit(cached, before[:8], bytes([before[0] ^ 1]) + before[1:8])
    record = entry / "alpha-1.0.dist-info" / "RECORD"

    def b64(data: bytes) -> bytes:
        return base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=")

    _same_size_edit(record, b64(before), b64(cached.read_bytes()))  # RECORD now lists the edited file
    result = sync(project, tmp_path / "refreshed", warm, "--refresh")
    assert_ok(result)
    assert "1 damaged and evicted" in result.output
    assert staged_alpha(tmp_path / "refreshed") == _genuine(index)


def _unpacked_alpha(tmp_path: Path) -> tuple[WheelCache, Path, str]:
    """A cache holding alpha 1.0 unpacked: (the cache, the entry, the wheel's sha256)."""
    from uvroot.cache import WheelCache
    from uvroot.fetch import LocalFile
    from uvroot.unpack import unpack

    wheel = build_wheel(tmp_path, "alpha", "1.0", files={"alpha/__init__.py": GENUINE, "alpha/odd.py": "odd = 1\n"})
    cache = WheelCache(tmp_path / "cache")
    sha256 = hashlib.sha256(wheel.read_bytes()).hexdigest()
    return cache, unpack(LocalFile(wheel, sha256, wheel.stat().st_size), cache), sha256


def _put_back(path: Path) -> None:
    os.utime(path, (CACHE_EPOCH, CACHE_EPOCH), follow_symlinks=False)


_CHEAP_DAMAGE: dict[str, Callable[[Path], object]] = {
    "deleted": lambda f: f.unlink(),
    "truncated": lambda f: (f.write_bytes(f.read_bytes()[:-1]), _put_back(f)),
    "mode": lambda f: f.chmod(0o755),
    "edited": lambda f: f.write_bytes(f.read_bytes().replace(b"1", b"2")),  # same size, new mtime
    "symlink": lambda f: (f.unlink(), f.symlink_to("__init__.py"), _put_back(f)),
    "directory": lambda f: (f.unlink(), f.mkdir(), _put_back(f)),
    "other-uid": lambda f: os.chown(f, f.stat().st_uid + 1, f.stat().st_gid),
    "other-gid": lambda f: os.chown(f, f.stat().st_uid, f.stat().st_gid + 1),
}


@pytest.mark.parametrize("damage", list(_CHEAP_DAMAGE))
def test_the_cheap_check_of_a_warm_sync_sees_each_kind_of_damage(damage: str, tmp_path: Path) -> None:
    """Each way a cached file can differ from what was unpacked (no file read): the entry is evicted."""
    from uvroot.unpack import unpacked

    if damage.startswith("other-") and os.geteuid() != 0:
        pytest.skip("changing a file's owner needs root")
    cache, entry, sha256 = _unpacked_alpha(tmp_path)
    assert unpacked(cache, sha256) == entry
    cache.checked.clear()  # (a new sync: every entry is checked again)
    _CHEAP_DAMAGE[damage](entry / "alpha" / "odd.py")
    assert unpacked(cache, sha256) is None
    assert not entry.exists()


def test_an_entry_whose_manifest_an_older_uvroot_stored_uncompressed_is_kept(tmp_path: Path) -> None:
    from uvroot.unpack import _marker, unpacked, verify_cache

    cache, entry, sha256 = _unpacked_alpha(tmp_path)
    (entry / ".uvroot-unpacked").write_text(json.dumps(_marker(entry)))  # plain JSON, as before compression
    _put_back(entry / ".uvroot-unpacked")
    cache.checked.clear()
    assert unpacked(cache, sha256) == entry
    assert verify_cache(cache).evicted == () and entry.is_dir()


def test_members_with_unnormalised_names_survive_full_checks(tmp_path: Path) -> None:
    """`./alpha/x.py` and `alpha//y.py` are unpacked as alpha/x.py and alpha/y.py; RECORD names them as the zip
    does, so the manifest keeps their own digests (a full check looking RECORD up by the normalised name
    would find nothing and evict a healthy entry every time)."""
    from uvroot.cache import WheelCache
    from uvroot.fetch import LocalFile
    from uvroot.unpack import unpack, verify_cache

    wheel = build_wheel(tmp_path, "alpha", "1.0", files={"alpha/__init__.py": GENUINE, "./alpha/x.py": "x = 1\n"})
    record = "alpha-1.0.dist-info/RECORD"
    with rezipped(wheel) as members:
        members["alpha//y.py"] = y = b"y = 2\n"
        members[record] += f"alpha//y.py,{record_hash(y)},{len(y)}\n".encode()
        assert b"./alpha/x.py,sha256=" in members[record]
    cache = WheelCache(tmp_path / "cache")
    entry = unpack(LocalFile(wheel, None, wheel.stat().st_size), cache)
    assert (entry / "alpha" / "x.py").read_bytes() == b"x = 1\n" and (entry / "alpha" / "y.py").is_file()
    assert verify_cache(cache).evicted == () and verify_cache(cache).evicted == ()


def test_the_cache_gets_its_modes_whatever_the_umask(tmp_path: Path) -> None:
    """Hard links carry the cache's modes into every tree: 0644 and 0755 under umask 077 too."""
    from uvroot.cache import WheelCache
    from uvroot.fetch import LocalFile
    from uvroot.unpack import unpack

    wheel = build_wheel(
        tmp_path, "alpha", "1.0", files={"alpha/__init__.py": GENUINE}, data_scripts={"run": "#!python\n"}
    )
    before = os.umask(0o077)
    try:
        entry = unpack(LocalFile(wheel, None, wheel.stat().st_size), WheelCache(tmp_path / "cache"))
    finally:
        os.umask(before)
    modes = {p.relative_to(entry).as_posix(): stat.S_IMODE(p.stat().st_mode) for p in entry.rglob("*") if p.is_file()}
    assert modes["alpha/__init__.py"] == 0o644 and modes["alpha-1.0.data/scripts/run"] == 0o755, modes


def test_a_full_check_evicts_what_a_damaged_record_or_manifest_cannot_vouch_for(tmp_path: Path) -> None:
    """RECORD no longer UTF-8, a row renamed (a file RECORD does not list), a manifest without RECORD:
    each is damage (evicted), never a pass, never a crash."""
    from uvroot.unpack import _marker, verify_cache

    cache, entry, _ = _unpacked_alpha(tmp_path / "utf8")
    record = entry / "alpha-1.0.dist-info" / "RECORD"
    _same_size_edit(record, b"alpha/odd.py,", b"alpha/odd.p\xff,")
    assert len(verify_cache(cache).evicted) == 1 and not entry.exists()

    cache, entry, _ = _unpacked_alpha(tmp_path / "renamed")
    _same_size_edit(entry / "alpha-1.0.dist-info" / "RECORD", b"alpha/odd.py,", b"alpha/odd.pz,")
    assert len(verify_cache(cache).evicted) == 1 and not entry.exists()

    cache, entry, _ = _unpacked_alpha(tmp_path / "manifest")
    marker = _marker(entry)
    del marker["files"]["alpha-1.0.dist-info/RECORD"]  # a forged manifest: no RECORD to take digests from
    (entry / ".uvroot-unpacked").write_bytes(zlib.compress(json.dumps(marker).encode()))
    _put_back(entry / ".uvroot-unpacked")
    assert len(verify_cache(cache).evicted) == 1 and not entry.exists()


def test_cache_verify_evicts_a_damaged_wheel_and_counts(project: Path, warm: Path, tmp_path: Path) -> None:
    wheel = cached_wheel(warm, project)
    data = bytearray(wheel.read_bytes())
    data[len(data) // 2] ^= 0xFF
    wheel.write_bytes(bytes(data))
    result = uvroot("cache", "verify", "--cache-dir", warm)
    assert result.exit_code == 0, result.output
    # the lock's three wheels put back (see warm), alpha and beta unpacked; one damaged
    assert "verified 5 cache entries (3 downloaded, 2 unpacked, 0 built): 1 damaged" in result.output
    assert not wheel.exists()
    assert_ok(sync(project, tmp_path / "root", warm, "--reinstall"))


@pytest.mark.parametrize("damage", ["chmod", "touch", "chown", "append"])
def test_what_is_done_to_a_hard_linked_tree_does_not_reach_the_next_tree(
    damage: str, project: Path, tmp_path: Path
) -> None:
    cache = tmp_path / "cache"
    first, second = tmp_path / "first", tmp_path / "second"
    assert_ok(sync(project, first, cache, "--link-mode", "hardlink"))
    staged = first / SITE / "alpha" / "__init__.py"
    genuine = staged.read_bytes()
    if damage == "chmod":
        staged.chmod(0o777)
    elif damage == "touch":
        os.utime(staged)
    elif damage == "chown":
        os.chown(staged, 4321, 4321)
    else:
        with staged.open("ab") as stream:
            stream.write(b"# appended in the staged tree\n")
    assert_ok(sync(project, second, cache, "--link-mode", "hardlink"))
    placed = second / SITE / "alpha" / "__init__.py"
    found = placed.stat()
    assert placed.read_bytes() == genuine
    assert (stat.S_IMODE(found.st_mode), found.st_mtime, found.st_uid) == (0o644, CACHE_EPOCH, os.getuid())


def test_an_unpacked_entry_of_an_older_uvroot_is_unpacked_again(
    project: Path, warm: Path, index: LocalIndex, tmp_path: Path
) -> None:
    marker = unpacked_entry(warm, project) / ".uvroot-unpacked"
    marker.write_text(ALPHA + "\n")  # the old marker: a name, no manifest
    assert_ok(sync(project, tmp_path / "root", warm))
    assert staged_alpha(tmp_path / "root") == _genuine(index)
    assert '"files"' in zlib.decompress(marker.read_bytes()).decode()


def test_a_marker_that_inflates_to_a_gigabyte_is_refused_without_filling_the_memory(
    project: Path, warm: Path, index: LocalIndex, tmp_path: Path
) -> None:
    marker = unpacked_entry(warm, project) / ".uvroot-unpacked"
    deflater, zeros = zlib.compressobj(1), bytes(1 << 24)
    marker.write_bytes(b"".join(deflater.compress(zeros) for _ in range(64)) + deflater.flush())  # 1 GiB inflated
    tracemalloc.start()
    try:
        result = sync(project, tmp_path / "root", warm)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert_ok(result)
    assert staged_alpha(tmp_path / "root") == _genuine(index)  # unpacked again, with a marker of its own
    assert '"files"' in zlib.decompress(marker.read_bytes()).decode()
    assert peak < 400 * 2**20, f"{peak / 2**20:.0f} MiB at the peak"


@pytest.mark.parametrize(
    "payload", [b"[" * 100_000, b'{"wheel": "a", "files": ' + b"[" * 100_000], ids=["list", "dict"]
)
def test_a_marker_nested_too_deeply_is_thrown_away(
    project: Path, warm: Path, index: LocalIndex, tmp_path: Path, payload: bytes
) -> None:
    marker = unpacked_entry(warm, project) / ".uvroot-unpacked"
    marker.write_bytes(zlib.compress(payload))
    result = sync(project, tmp_path / "root", warm)
    assert_ok(result)
    assert staged_alpha(tmp_path / "root") == _genuine(index)


def test_a_parsed_lock_nested_too_deeply_is_parsed_again(project: Path, warm: Path, tmp_path: Path) -> None:
    (stored,) = warm.glob("toml-v*/*.json")
    payload = zlib.compress(b"[" * 100_000)
    stored.write_bytes(hashlib.sha256(payload).hexdigest().encode() + b"\n" + payload)  # a valid checksum
    assert_ok(sync(project, tmp_path / "root", warm))
    assert (tmp_path / "root" / SITE / "alpha-1.0.dist-info").is_dir()


def _flip_middle_byte(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))


def _record_naming(name: str) -> Callable[[Path], None]:
    def damage(built: Path) -> None:
        record = built.parent / ".uvroot-built"
        record.write_text(record.read_text().replace(f'"{built.name}"', json.dumps(name)))

    return damage


# How a built-v1 entry gets damaged: each is noticed, the entry evicted and the wheel built again.
BUILT_DAMAGE: dict[str, Callable[[Path], None]] = {
    "truncated": lambda built: built.write_bytes(built.read_bytes()[:100]),
    "same size, other bytes": _flip_middle_byte,
    "wheel gone": lambda built: built.unlink(),
    "wheel a symlink": lambda built: (built.rename(built.with_suffix(".real")), built.symlink_to(built.name + ".real")),
    "no record": lambda built: (built.parent / ".uvroot-built").unlink(),
    "record not JSON": lambda built: (built.parent / ".uvroot-built").write_text("{"),
    "record without the size": lambda built: (built.parent / ".uvroot-built").write_text(
        re.sub(r', "size": \d+', "", (built.parent / ".uvroot-built").read_text())
    ),
    "record naming another path": _record_naming("../escaped.whl"),
}


def test_a_built_wheel_is_reused_while_intact_and_built_again_when_damaged(
    make_package: Callable[..., Path], make_locked_project: Callable[..., Path], tmp_path: Path
) -> None:
    make_package(name="localpkg")
    project = make_locked_project(
        dependencies=["localpkg", "alpha"], requires_python=">=3.10", sources={"localpkg": {"path": "../libs/localpkg"}}
    )
    cache = tmp_path / "cache"
    first = sync(project, tmp_path / "first", cache, "-v")
    assert_ok(first)
    assert "building localpkg" in first.output
    (built,) = cache.glob("built-v1/*/*.whl")
    unpacked = sorted(cache.glob("unpacked-v2/*/*"))
    sha = hashlib.sha256(built.read_bytes()).hexdigest()
    assert cache / "unpacked-v2" / sha[:2] / sha in unpacked  # unpacked under the built wheel's own hash

    again = sync(project, tmp_path / "again", cache, "-v")
    assert_ok(again)
    assert "building" not in again.output  # intact: reused, and found unpacked under its hash
    assert sorted(cache.glob("unpacked-v2/*/*")) == unpacked
    assert tree(tmp_path / "again") == tree(tmp_path / "first")

    for name, damage in BUILT_DAMAGE.items():
        damage(built)
        result = sync(project, tmp_path / name, cache, "-v")
        assert_ok(result)
        assert "building localpkg" in result.output, name
        assert tree(tmp_path / name) == tree(tmp_path / "first"), name
        (built,) = cache.glob("built-v1/*/*.whl")  # whole again
        assert not list(cache.glob("built-v1/*/*.real")) and not list(tmp_path.rglob("escaped.whl")), name


def test_two_syncs_publishing_the_same_build_keep_the_first_whole_one(tmp_path: Path) -> None:
    """Two syncs built the same source at once: the second to publish takes the first's wheel, unless damaged."""
    from uvroot.cache import WheelCache, file_sha256

    cache = WheelCache(tmp_path / "cache")

    def built_here(name: str, content: str) -> Path:
        return build_wheel(tmp_path / name, "localpkg", "1.0", files={"localpkg/__init__.py": content})

    ours = built_here("first", "FIRST = 1\n")
    first = cache.publish_built("key", ours)
    assert first == (cache.root / "built-v1" / "key" / ours.name, file_sha256(first[0]))
    assert cache.built("key") == first

    assert cache.publish_built("key", built_here("second", "SECOND = 2\n")) == first  # theirs was whole: kept
    assert "FIRST" in zipfile.ZipFile(first[0]).read("localpkg/__init__.py").decode()

    first[0].write_bytes(first[0].read_bytes()[:100])  # theirs is damaged: replaced by ours
    third = built_here("third", "THIRD = 3\n")
    digest = file_sha256(third)
    assert cache.publish_built("key", third) == (cache.root / "built-v1" / "key" / third.name, digest)
    assert cache.built("key") == (cache.root / "built-v1" / "key" / third.name, digest)
    assert leftovers(cache.root) == []


# -- 4. cache paths come from hashes ------------------------------------------------------


@pytest.fixture
def anything_server(index: LocalIndex) -> Iterator[str]:
    """Serves alpha's wheel at every path (as a hostile index would): its base URL."""
    data = (index.directory / ALPHA).read_bytes()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_a_lock_url_with_encoded_dot_dot_cannot_write_outside_the_cache(
    project: Path, index: LocalIndex, anything_server: str, tmp_path: Path
) -> None:
    cache = tmp_path / "deep" / "er" / "cache"
    filename = "../../../../../escaped-1.0-py3-none-any.whl"
    url = f"{anything_server}/files/{'..%2F' * 5}escaped-1.0-py3-none-any.whl"
    point_wheel(project, ALPHA, url, (index.directory / ALPHA).read_bytes())
    result = sync(project, tmp_path / "root", cache)
    assert result.exit_code == 3, result.output
    assert result.output == (
        f"error: uv.lock names the file {filename!r} (from {url}), which is not a plain file name\n"
        'hint: the lock is damaged or hostile: re-lock with "uv lock"\n'
    )
    assert not list(tmp_path.rglob("escaped-*")), list(tmp_path.rglob("escaped-*"))


# -- 5. stale temporary entries -----------------------------------------------------------

_HOLD = """
import sys
from pathlib import Path
from uvroot.cache import WheelCache
with WheelCache(Path(sys.argv[1])).scratch() as work:
    (work / "busy").write_bytes(b"x" * 1000)
    print(work, flush=True)
    sys.stdin.read()
"""


def test_stale_temporary_entries_are_cleaned_but_never_a_live_one(project: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    holder = subprocess.Popen(
        [sys.executable, "-c", _HOLD, str(cache)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        live = Path(holder.stdout.readline().strip())  # type: ignore[union-attr]
        # Left by killed syncs (after the holder's own start: the sync below is the one that cleans them).
        (cache / "tmp" / "work-killed" / "src").mkdir(parents=True)
        (cache / "tmp" / "work-killed" / "src" / "big").write_bytes(bytes(1 << 20))
        (cache / "tmp" / "abc.part").write_bytes(bytes(1 << 20))
        (cache / "tmp" / "built-killed").mkdir()
        precious = tmp_path / "precious"  # what a symlink left in tmp/ points to: never followed
        (precious / "sub").mkdir(parents=True)
        (precious / "sub" / "file").write_text("keep")
        (cache / "tmp" / "link-to-dir").symlink_to(precious)
        (cache / "tmp" / "link-to-file").symlink_to(precious / "sub" / "file")
        assert_ok(sync(project, tmp_path / "root", cache))
        assert leftovers(cache) == [live]
        assert (live / "busy").is_file()
    finally:
        holder.communicate("")
    assert leftovers(cache) == []  # the live sync removed its own entry
    assert (precious / "sub" / "file").read_text() == "keep"


def test_a_new_cache_is_tagged_and_one_that_cannot_be_made_is_named_with_a_hint(project: Path, tmp_path: Path) -> None:
    from uvroot.cache import WheelCache

    cache = tmp_path / "cache"
    assert_ok(sync(project, tmp_path / "root", cache))
    tag = (cache / "CACHEDIR.TAG").read_bytes()  # backup tools skip a directory tagged so (bford.info/cachedir)
    assert tag.startswith(b"Signature: 8a477f597d28d172789f06886806bc55\n")
    (cache / "CACHEDIR.TAG").write_bytes(tag + b"# kept\n")  # a tag already there is left as it is
    WheelCache(cache).prepare()
    assert (cache / "CACHEDIR.TAG").read_bytes() == tag + b"# kept\n"

    blocker = tmp_path / "a-file"
    blocker.write_text("")
    result = sync(project, tmp_path / "root-2", blocker)
    assert result.exit_code == 5, result.output
    assert result.output == (
        f"error: cannot write to the cache at {blocker}: Not a directory\n"
        "hint: pass a writable --cache-dir, or --no-cache\n"
    )


_CLEAN = """
import sys
from pathlib import Path
from uvroot.cache import WheelCache
print(WheelCache(Path(sys.argv[1])).clean())
"""


def test_odd_files_in_tmp_never_hang_the_cleaner(tmp_path: Path) -> None:
    """A FIFO in tmp/ (no sync makes one) is removed like any stale entry: opening it must not wait for a writer.
    A socket cannot even be opened: nobody can be told to hold it, so it is left alone."""
    import socket

    cache = tmp_path / "cache"
    (cache / "tmp").mkdir(parents=True)
    os.mkfifo(cache / "tmp" / "stray-fifo")
    (cache / "tmp" / "stale.part").write_bytes(b"x")
    with socket.socket(socket.AF_UNIX) as listener:
        listener.bind(str(cache / "tmp" / "stray-socket"))
    # In a child process: were the cleaner to block in open(), the timeout (a hang guard, far above
    # the fraction of a second this takes) ends the child and the test fails instead of hanging.
    done = subprocess.run(
        [sys.executable, "-c", _CLEAN, str(cache)],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert (done.returncode, done.stdout, done.stderr) == (0, "2\n", "")
    assert leftovers(cache) == [cache / "tmp" / "stray-socket"]

    from uvroot.cache import WheelCache  # in this process too (a plain file: nothing here can hang)

    (cache / "tmp" / "another.part").write_bytes(b"x")
    assert WheelCache(cache).clean() == 1
    assert WheelCache(tmp_path / "no-cache-yet").clean() == 0  # nothing to clean, and nothing made
    assert not (tmp_path / "no-cache-yet").exists()
    assert leftovers(cache) == [cache / "tmp" / "stray-socket"]


def test_a_killed_download_leaves_nothing_a_later_sync_keeps(
    project: Path, index: LocalIndex, wheelhouse: Path, tmp_path: Path
) -> None:
    cache = tmp_path / "cache"
    with FaultyServer(wheelhouse) as server:
        point_wheel(project, ALPHA, server.url_for(ALPHA), (wheelhouse / ALPHA).read_bytes())
        server.plan(ALPHA, slow(5.0, after_bytes=100))
        argv = uvroot_argv("sync", "--project", project, "--root", tmp_path / "killed", "--cache-dir", cache)
        env = {**os.environ, "NO_PROXY": "127.0.0.1", "no_proxy": "127.0.0.1"}
        process = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
        try:
            for _ in range(600):  # until the download has begun (bounded: 60 s)
                if any(p.suffix == ".part" for p in leftovers(cache)):
                    break
                time.sleep(0.1)
            else:
                pytest.fail("the download never started")
        finally:
            process.send_signal(signal.SIGKILL)
            process.wait()
        assert any(p.suffix == ".part" for p in leftovers(cache))
        assert_ok(sync(project, tmp_path / "root", cache))
    assert leftovers(cache) == []


# -- 6. no credentials in the parsed-lock cache --------------------------------------------


@pytest.mark.parametrize("spelling", ["plain", "escaped-at"])
def test_a_password_with_a_quote_never_reaches_the_cache(
    spelling: str, project: Path, index: LocalIndex, wheelhouse: Path, tmp_path: Path
) -> None:
    secret = "pa'ss\"word"
    with FaultyServer(wheelhouse) as server:
        server.default("*", require_auth("alice", secret))
        lock = project / "uv.lock"
        at = "\\u0040" if spelling == "escaped-at" else "@"
        userinfo = "alice:pa'ss\\\"word"  # TOML basic string: \" is a quote
        url = server.url_for("").replace("http://", f"http://{userinfo}{at}")
        lock.write_text(lock.read_text().replace(f"{index.files_url}/", url))
        cache = tmp_path / "cache"
        assert_ok(sync(project, tmp_path / "root", cache, env={"NO_PROXY": "127.0.0.1"}))
    for name, data in tree(cache).items():
        assert b"pa'ss" not in data, name
    assert not list(cache.glob("toml-v*/*.json"))


# -- 7. downloads are bounded by the lock's size and a minimum throughput ---------------------


def test_an_endless_body_is_cut_at_the_locked_size(
    project: Path, index: LocalIndex, wheelhouse: Path, tmp_path: Path
) -> None:
    from tests.support.faulty import MAX_ENDLESS

    data = (wheelhouse / ALPHA).read_bytes()
    cache = tmp_path / "cache"
    with FaultyServer(wheelhouse) as server:
        point_wheel(project, ALPHA, server.url_for(ALPHA), data, size=True)
        server.default(ALPHA, endless())
        result = sync(project, tmp_path / "root", cache, "--retries", "0")
        assert result.exit_code == 5, result.output
        assert f"is longer than the {len(data)} bytes uv.lock gives" in result.output
        assert "Traceback" not in result.output
        assert server.sent.get(ALPHA, 0) < MAX_ENDLESS  # the client hung up; the server did not stop
    assert leftovers(cache) == []
    assert not (tmp_path / "root").exists()


def test_a_trickle_that_never_trips_the_read_timeout_fails_as_too_slow(
    project: Path, wheelhouse: Path, tmp_path: Path
) -> None:
    with FaultyServer(wheelhouse) as server:
        point_wheel(project, ALPHA, server.url_for(ALPHA), (wheelhouse / ALPHA).read_bytes())
        server.default(ALPHA, trickle(0.05, 80))  # one byte per 0.05 s: each read is well within 1.5 s
        env = {"UVROOT_HTTP_TIMEOUT": "1.5", "UVROOT_RETRY_BACKOFF": "0.01"}
        result = sync(project, tmp_path / "root", tmp_path / "cache", "--retries", "1", env=env)
    assert result.exit_code == 5, result.output
    assert "too slow" in result.output and "Traceback" not in result.output
    assert len(server.hits(ALPHA)) == 2  # a slow transfer is transient: retried


# -- 8. disk full and odd source trees: errors, not tracebacks ---------------------------------


def test_a_flush_failing_on_a_full_disk_never_hides_the_error_that_ended_the_download(
    small_disk: Callable[[int], Path],
) -> None:
    """What a download left in the write buffer fails to flush when the file is closed: the first error stands."""
    from uvroot.cache import WheelCache
    from uvroot.lock import LockedWheel

    root = small_disk(256 << 10)
    wheel = LockedWheel(ALPHA, f"http://127.0.0.1:1/{ALPHA}", "0" * 64, None, frozenset(), ())
    with pytest.raises(RuntimeError, match="the download's own error"), WheelCache(root).new_entry(wheel) as sink:
        with contextlib.suppress(OSError):  # the disk fills up meanwhile
            (root.parent / "rest").write_bytes(bytes(1 << 20))
        sink.write(b"x" * 100)  # buffered: it reaches the disk only when the file is closed
        raise RuntimeError("the download's own error")
    assert not any(root.rglob("*.whl"))


def test_publishing_a_build_on_a_full_disk_names_the_path_and_leaves_nothing(
    small_disk: Callable[[int], Path],
) -> None:
    """The built wheel moves in by a rename (no room needed); its record needs room: the error says where."""
    from uvroot.cache import WheelCache
    from uvroot.errors import FetchError

    root = small_disk(256 << 10)
    cache = WheelCache(root)
    cache.prepare()
    wheel = build_wheel(root.parent / "out", "localpkg", "1.0")  # built on the cache's filesystem, as in scratch
    with contextlib.suppress(OSError):  # the disk fills up meanwhile
        (root.parent / "rest").write_bytes(bytes(1 << 20))
    with pytest.raises(FetchError) as full:
        cache.publish_built("key", wheel)
    assert re.fullmatch(
        rf"cannot write {re.escape(str(root))}/tmp/built-\w+ in the cache at {re.escape(str(root))}: No space left on device",
        full.value.message,
    ), full.value.message
    assert full.value.hint == "free space on that filesystem, or pass another --cache-dir (or --no-cache)"
    assert not (root / "built-v1" / "key").exists()
    assert leftovers(root) == []


def _big_alpha(directory: Path, payload: bytes) -> Path:
    directory.mkdir(exist_ok=True)
    return build_wheel(directory, "alpha", "1.0", files={"alpha/__init__.py": GENUINE, "alpha/blob.bin": payload})


@pytest.mark.parametrize("where", ["download", "unpack"])
def test_a_full_disk_names_the_path_and_leaves_no_half_entry(
    where: str, project: Path, tmp_path: Path, small_disk: Callable[[int], Path]
) -> None:
    # download: 1 MiB of random bytes does not fit; unpack: 1 MiB of zeros compresses to ~1 KiB.
    payload = os.urandom(1 << 20) if where == "download" else bytes(1 << 20)
    wheel = _big_alpha(tmp_path / "big", payload)
    with FaultyServer(tmp_path / "big") as big:  # records a client's hang-up instead of printing it
        point_wheel(project, ALPHA, big.url_for(ALPHA), wheel.read_bytes())
        cache = small_disk(512 << 10)
        result = sync(project, tmp_path / "root", cache)
    assert result.exit_code == 5, result.output
    # The path that failed, the cache it is in, the system's reason (not Python's repr), and what to do.
    assert re.search(
        rf"error: cannot write {re.escape(str(cache))}/\S+ in the cache at {re.escape(str(cache))}: "
        r"No space left on device\n",
        result.output,
    ), result.output
    assert result.output.endswith(
        "hint: free space on that filesystem, or pass another --cache-dir (or --no-cache)\n"
    ), result.output
    assert "damaged" not in result.output and "Traceback" not in result.output
    assert leftovers(cache) == []
    sha = hashlib.sha256(wheel.read_bytes()).hexdigest()
    assert not (cache / "unpacked-v2" / sha[:2] / sha).exists()  # no half unpacked entry
    for kept in (cache / "wheels-v1" / sha[:2] / sha).glob("*"):  # only a whole, verified wheel (unpack case)
        assert hashlib.sha256(kept.read_bytes()).hexdigest() == sha
    assert not (tmp_path / "root").exists()


def test_a_dangling_symlink_in_a_local_source_tree_plans_and_syncs(
    make_package: Callable[..., Path], make_locked_project: Callable[..., Path], tmp_path: Path
) -> None:
    source = make_package(name="localpkg")
    (source / "dangling").symlink_to(source / "nowhere")
    project = make_locked_project(
        dependencies=["localpkg", "alpha"], requires_python=">=3.10", sources={"localpkg": {"path": "../libs/localpkg"}}
    )
    cache = tmp_path / "cache"
    planned = uvroot("plan", "--project", project, "--root", tmp_path / "root", cache=cache)
    assert planned.exit_code == 0 and "localpkg" in planned.output, planned.output
    assert_ok(sync(project, tmp_path / "root", cache))
    # The link's text is part of the fingerprint: pointing it elsewhere is a change.
    before = uvroot("plan", "--project", project, "--root", tmp_path / "root", cache=cache).output
    (source / "dangling").unlink()
    (source / "dangling").symlink_to(source / "elsewhere")
    after = uvroot("plan", "--project", project, "--root", tmp_path / "root", cache=cache).output
    assert before != after


# -- 9. sdists extract safely without tarfile's filter= ----------------------------------------


def _tar(members: list[tuple[tarfile.TarInfo, bytes]]) -> tarfile.TarFile:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        for info, data in members:
            info.size = len(data) if info.isfile() else 0
            archive.addfile(info, io.BytesIO(data) if info.isfile() else None)
    buffer.seek(0)
    return tarfile.open(fileobj=buffer)


def _info(name: str, kind: bytes = tarfile.REGTYPE, mode: int = 0o644, link: str = "") -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type, info.mode, info.linkname = kind, mode, link
    return info


HOSTILE_TARS = {
    "dot-dot": [(_info("pkg/../../evil"), b"x")],
    "symlink-out": [(_info("pkg/link", tarfile.SYMTYPE, link="../../etc"), b"")],
    "symlink-absolute": [(_info("pkg/link", tarfile.SYMTYPE, link="/etc/passwd"), b"")],
    "hardlink-out": [(_info("pkg/hard", tarfile.LNKTYPE, link="../outside"), b"")],
    "device": [(_info("pkg/dev", tarfile.CHRTYPE), b"")],
    "fifo": [(_info("pkg/fifo", tarfile.FIFOTYPE), b"")],
}


@pytest.mark.parametrize("case", sorted(HOSTILE_TARS))
@pytest.mark.parametrize("has_filter", [True, False], ids=["filter", "no-filter"])
def test_a_hostile_sdist_is_refused_with_or_without_tar_filters(case: str, has_filter: bool, tmp_path: Path) -> None:
    from uvroot.build import _extract_tar

    if has_filter and not hasattr(tarfile, "data_filter"):
        pytest.skip("this Python has no tarfile filters")
    into = tmp_path / "deep" / "into"
    into.mkdir(parents=True)
    with pytest.raises(tarfile.TarError), _tar(HOSTILE_TARS[case]) as archive:
        _extract_tar(archive, into, has_filter=has_filter)
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["deep", "into"]


def test_the_fallback_extracts_what_the_data_filter_does(tmp_path: Path) -> None:
    from uvroot.build import _extract_tar

    members = [
        (_info("pkg", tarfile.DIRTYPE, 0o775), b""),
        (_info("pkg/setup.py", mode=0o4777), b"print('hi')\n"),
        (_info("pkg/data.txt", mode=0o664), b"data\n"),
        (_info("pkg/inner-link", tarfile.SYMTYPE, link="data.txt"), b""),
        (_info("/pkg/absolute.txt"), b"stays inside\n"),
    ]
    found = {}
    for has_filter in (False, True) if hasattr(tarfile, "data_filter") else (False,):
        into = tmp_path / str(has_filter)
        into.mkdir()
        with _tar(members) as archive:
            _extract_tar(archive, into, has_filter=has_filter)
        found[has_filter] = {
            p.relative_to(into).as_posix(): (stat.S_IMODE(p.lstat().st_mode), p.is_symlink()) for p in into.rglob("*")
        }
    assert found[False]["pkg/setup.py"] == (0o755, False)  # no setuid, no group/other write
    assert found[False]["pkg/data.txt"] == (0o644, False)
    assert found[False]["pkg/inner-link"][1]
    assert found[False]["pkg/absolute.txt"] == (0o644, False)
    if True in found:
        assert {k: v for k, v in found[False].items() if not v[1]} == {k: v for k, v in found[True].items() if not v[1]}


_OLD_PYTHON = """
import io, sys, tarfile
from pathlib import Path
# What 3.10.0-3.10.11 and 3.11.0-3.11.3 have: no filter= argument, no data_filter.
extractall = tarfile.TarFile.extractall
tarfile.TarFile.extractall = lambda self, path=".", members=None, *, numeric_owner=False: extractall(
    self, path, members, numeric_owner=numeric_owner
)
del tarfile.data_filter
from uvroot import build

class Planned:
    class package:
        label = "pkg==1.0"

top = Path(sys.argv[1])
print(build._unpack_sdist(Planned, top / "pkg-1.0.tar.gz", top / "out"))
"""


@pytest.mark.skipif(not hasattr(tarfile, "data_filter"), reason="simulates an older tarfile from a newer one")
def test_an_sdist_unpacks_on_a_python_without_tar_filters(tmp_path: Path) -> None:
    with _tar([(_info("pkg-1.0", tarfile.DIRTYPE, 0o755), b""), (_info("pkg-1.0/setup.py"), b"x = 1\n")]) as archive:
        archive.fileobj.seek(0)  # type: ignore[union-attr]
        (tmp_path / "pkg-1.0.tar.gz").write_bytes(archive.fileobj.read())  # type: ignore[union-attr]
    done = subprocess.run(
        [sys.executable, "-c", _OLD_PYTHON, str(tmp_path)], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "out" / "pkg-1.0" / "setup.py").read_text() == "x = 1\n"


@pytest.mark.parametrize("flags", [(), ("--link-mode", "hardlink"), ("--compile-bytecode",), ("--target",)])
def test_syncs_from_a_healthy_cache_evict_nothing(
    flags: tuple[str, ...], make_locked_project: Callable[..., Path], tmp_path: Path
) -> None:
    # The cheap check must not take what syncs do to linked files for damage (it would unpack every time).
    project = make_locked_project(dependencies=["alpha", "gadgets", "pthy"], requires_python=">=3.10")
    cache = tmp_path / "cache"
    layout = ["--target", str(tmp_path / "{}")] if flags == ("--target",) else ["--root", str(tmp_path / "{}")]
    extra = [] if flags == ("--target",) else list(flags)

    def run(name: str) -> None:
        argv = ["sync", "--project", project, *(arg.format(name) for arg in layout), *extra]
        assert_ok(uvroot(*argv, cache=cache))

    run("first")
    inodes = {p: p.stat().st_ino for p in cache.glob("unpacked-v2/**/*") if p.is_file()}
    run("second")
    run("third")
    assert {p: p.stat().st_ino for p in cache.glob("unpacked-v2/**/*") if p.is_file()} == inodes


def test_a_damaged_parsed_lock_is_parsed_again(project: Path, warm: Path, tmp_path: Path) -> None:
    (stored,) = warm.glob("toml-v*/*.json")
    digest, _, payload = stored.read_bytes().partition(b"\n")  # the checksum line, then the compressed JSON
    text = zlib.decompress(payload).decode()
    assert ALPHA in text
    damaged = zlib.compress(text.replace(ALPHA, "alpha-1.0-py3-none-any.whX").encode())  # still valid JSON
    stored.write_bytes(digest + b"\n" + damaged)
    assert_ok(sync(project, tmp_path / "root", warm))
    assert (tmp_path / "root" / SITE / "alpha-1.0.dist-info").is_dir()
    assert ALPHA in zlib.decompress(stored.read_bytes().partition(b"\n")[2]).decode()  # stored again


def test_a_wheel_shipping_the_entry_marker_is_refused(tmp_path: Path) -> None:
    from uvroot.cache import WheelCache
    from uvroot.errors import InstallError
    from uvroot.fetch import LocalFile
    from uvroot.unpack import unpack

    forged = '{"wheel": "other-1.0-py3-none-any.whl", "files": {}}'
    wheel = build_wheel(tmp_path, "alpha", "1.0", files={"alpha/__init__.py": GENUINE, ".uvroot-unpacked": forged})
    with pytest.raises(InstallError, match=re.escape("unsafe entry '.uvroot-unpacked'")):
        unpack(LocalFile(wheel, None, wheel.stat().st_size), WheelCache(tmp_path / "cache"))
    assert not (tmp_path / "cache" / "unpacked-v2").exists()


def test_the_default_cache_dir_follows_the_environment_as_the_no_op_check_does(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """$UVROOT_CACHE_DIR, else $XDG_CACHE_HOME/uvroot, else ~/.cache/uvroot (an empty variable is unset),
    and the no-op check (uvroot/noop.py) looks for its stamp in the same place."""
    from uvroot.cache import default_cache_dir
    from uvroot.noop import _cache_dir

    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    cases = [
        ({}, tmp_path / "home" / ".cache" / "uvroot"),
        ({"XDG_CACHE_HOME": "", "UVROOT_CACHE_DIR": ""}, tmp_path / "home" / ".cache" / "uvroot"),
        ({"XDG_CACHE_HOME": str(tmp_path / "xdg")}, tmp_path / "xdg" / "uvroot"),
        ({"XDG_CACHE_HOME": str(tmp_path / "xdg"), "UVROOT_CACHE_DIR": str(tmp_path / "mine")}, tmp_path / "mine"),
    ]
    for env, expected in cases:
        for name in ("XDG_CACHE_HOME", "UVROOT_CACHE_DIR"):
            monkeypatch.delenv(name, raising=False)
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        assert default_cache_dir() == expected, env
        assert _cache_dir([]) == str(expected), env


def test_hashing_a_big_file_reads_it_in_chunks(tmp_path: Path) -> None:
    """Wheels and sdists can be hundreds of MiB: hashing one must not read it whole into memory."""
    from uvroot.cache import file_sha256

    size = 32 << 20
    big = tmp_path / "big.whl"
    with big.open("wb") as stream:
        stream.truncate(size)  # sparse: no disk used, and quick to read
    expected = hashlib.sha256()
    for _ in range(size >> 20):
        expected.update(bytes(1 << 20))
    tracemalloc.start()
    try:
        digest = file_sha256(big)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert digest == expected.hexdigest()
    assert peak < 4 << 20, peak


def test_an_evicted_entry_is_never_handed_out_again(wheelhouse: Path, tmp_path: Path) -> None:
    from uvroot.cache import WheelCache, file_sha256
    from uvroot.fetch import LocalFile
    from uvroot.unpack import unpack, unpacked

    cache = WheelCache(tmp_path / "cache")
    wheel = wheelhouse / ALPHA
    sha = file_sha256(wheel)
    entry = unpack(LocalFile(wheel, sha, wheel.stat().st_size), cache)
    assert unpacked(cache, sha) == entry  # checked once, then trusted for the rest of the process...
    cache.evict(entry)  # ...until it is found damaged and taken out
    assert not entry.exists()
    assert unpacked(cache, sha) is None
    assert cache.damaged(sha) == ["unpacked-v2"]
    cache.evict(entry)  # another sync took it out at the same time: nothing left to do, and no error
    assert leftovers(cache.root) == []


def test_dropping_a_downloaded_wheel_keeps_its_neighbours_and_may_happen_twice(tmp_path: Path) -> None:
    from uvroot.cache import WheelCache
    from uvroot.lock import LockedWheel

    cache = WheelCache(tmp_path / "cache")
    first, second = (
        LockedWheel(ALPHA, f"http://127.0.0.1:1/{ALPHA}", "ab" + c * 62, None, frozenset(), ()) for c in "01"
    )
    for wheel in (first, second):
        with cache.new_entry(wheel) as sink:
            sink.write(b"unpacked already")
    cache.drop_wheel(first)
    assert cache.get(first) is None
    assert cache.get(second) is not None  # in the same two-character bucket: kept
    cache.drop_wheel(first)  # another sync that unpacked the same wheel dropped it first: fine
    cache.drop_wheel(second)
    assert not (cache.root / "wheels-v1" / "ab").exists()  # the bucket goes with its last entry
    assert leftovers(cache.root) == []
