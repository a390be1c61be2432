"""Fast and exact re-sync: unchanged distributions are left alone, the result equals a fresh sync.

Also: every link mode gives a working tree, a cache on another filesystem falls
back to copying with a notice, and two syncs sharing one cache end consistent.
"""

from __future__ import annotations

import concurrent.futures
import errno
import os
import stat
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.support.cli import check_record, uvroot, uvroot_argv
from uvroot.tree import LinkMode

HOST = f"{sys.version_info[0]}.{sys.version_info[1]}"
TARGET = ["--python-version", "3.12", "--python-platform", "x86_64-manylinux_2_28"]


def _snapshot(top: Path) -> dict[str, tuple[str, int, bytes]]:
    """Every entry under ``top``: its kind, permission bits and contents (or link target)."""
    found = {}
    for path in sorted(top.rglob("*")):
        info = path.lstat()
        relative = path.relative_to(top).as_posix()
        if stat.S_ISLNK(info.st_mode):
            found[relative] = ("link", 0, str(path.readlink()).encode())
        elif stat.S_ISDIR(info.st_mode):
            found[relative] = ("dir", stat.S_IMODE(info.st_mode), b"")
        else:
            found[relative] = ("file", stat.S_IMODE(info.st_mode), path.read_bytes())
    return found


def _mtimes(top: Path) -> dict[str, int]:
    return {p.relative_to(top).as_posix(): p.lstat().st_mtime_ns for p in top.rglob("*")}


def _sync(project: Path, root: Path, cache: Path, *extra: str) -> str:
    result = uvroot("sync", "--project", project, "--root", root, *TARGET, *extra, cache=cache)
    assert result.exit_code == 0, result.output
    return result.output


def test_resync_after_upgrade_removal_and_addition_equals_a_fresh_sync(
    make_locked_project: Callable[..., Path], tmp_path: Path, uvroot_cache: Path
) -> None:
    before = make_locked_project(dependencies=["alpha", "gadgets", "native", "beta<2"], requires_python=">=3.8")
    after = make_locked_project(dependencies=["alpha", "native", "beta", "docstool"], requires_python=">=3.8")
    resynced, fresh = tmp_path / "resynced", tmp_path / "fresh"
    _sync(before, resynced, uvroot_cache)
    output = _sync(after, resynced, uvroot_cache, "-v")
    assert " - beta==1.0" in output and " + beta==2.0" in output  # upgraded
    assert " - gadgets==1.0" in output and " + docstool==1.0" in output  # removed, added
    assert " + alpha" not in output and " + native" not in output  # unchanged: left alone
    _sync(after, fresh, uvroot_cache)
    assert _snapshot(resynced) == _snapshot(fresh)
    site = resynced / "usr/local/lib/python3.12/site-packages"
    assert all(check_record(info) == [] for info in site.glob("*.dist-info"))


def test_noop_resync_touches_nothing(
    make_locked_project: Callable[..., Path], tmp_path: Path, uvroot_cache: Path
) -> None:
    project = make_locked_project(dependencies=["alpha", "gadgets", "native"], requires_python=">=3.10")
    root = tmp_path / "root"
    _sync(project, root, uvroot_cache)
    snapshot, mtimes = _snapshot(root), _mtimes(root)
    assert "is up to date (4 packages" in _sync(project, root, uvroot_cache)
    assert _snapshot(root) == snapshot and _mtimes(root) == mtimes


def test_noop_resync_imports_no_installer_requests_or_rich(
    make_locked_project: Callable[..., Path], tmp_path: Path, uvroot_cache: Path
) -> None:
    project = make_locked_project(dependencies=["alpha"], requires_python=">=3.10")
    root = tmp_path / "root"
    _sync(project, root, uvroot_cache)
    code = (
        "import sys\nfrom uvroot.cli import app\n"
        "try:\n    app(sys.argv[1:])\nexcept SystemExit:\n    pass\n"
        "print(sorted(m for m in ('installer', 'requests', 'rich') if m in sys.modules))"
    )
    argv = ["sync", "--project", str(project), "--root", str(root), *TARGET, "--cache-dir", str(uvroot_cache)]
    done = subprocess.run([sys.executable, "-c", code, *argv], capture_output=True, text=True, check=True)
    assert "is up to date" in done.stderr and done.stdout.strip() == "[]"  # the summary is on stderr, as uv's


def test_reinstall_places_again(make_locked_project: Callable[..., Path], tmp_path: Path, uvroot_cache: Path) -> None:
    project = make_locked_project(dependencies=["alpha", "gadgets"], requires_python=">=3.10")
    root = tmp_path / "root"
    _sync(project, root, uvroot_cache)
    one = _sync(project, root, uvroot_cache, "--reinstall-package", "gadgets", "-v")
    assert " + gadgets==1.0" in one and " + alpha" not in one
    every = _sync(project, root, uvroot_cache, "--reinstall", "-v")
    assert " + gadgets==1.0" in every and " + alpha==1.0" in every and " + beta==2.0" in every


def _can_reflink(directory: Path) -> bool:
    """Whether the filesystem under ``directory`` clones files (FICLONE), asked of the kernel with cp."""
    source, clone = directory / "reflink-probe", directory / "reflink-probe-clone"
    source.write_bytes(b"probe")
    done = subprocess.run(["cp", "--reflink=always", source, clone], capture_output=True, check=False)
    source.unlink()
    clone.unlink(missing_ok=True)
    return done.returncode == 0


@pytest.mark.parametrize("mode", ["clone", "hardlink", "copy", "symlink"])
def test_every_link_mode_gives_a_working_tree(
    make_locked_project: Callable[..., Path], tmp_path: Path, mode: str
) -> None:
    project = make_locked_project(dependencies=["alpha", "gadgets"], requires_python=">=3.10")
    target, cache = tmp_path / "target", tmp_path / "cache"
    result = uvroot(
        "sync", "--project", project, "--target", target, "--python-version", HOST, "--link-mode", mode, cache=cache
    )
    assert result.exit_code == 0, result.output
    module = target / "alpha/__init__.py"
    cached = next(cache.glob("unpacked-v2/*/*/alpha/__init__.py"))
    assert module.read_bytes() == cached.read_bytes()
    if mode == "symlink":
        assert module.is_symlink() and module.resolve() == cached.resolve()
    elif mode == "hardlink" or (mode == "clone" and not _can_reflink(tmp_path)):
        # clone falls back to a hard link, silently (as uv), where the filesystem cannot clone
        assert not module.is_symlink() and module.stat().st_ino == cached.stat().st_ino
        assert "notice:" not in result.output
    else:  # copy, or a real copy-on-write clone: a file of its own
        assert not module.is_symlink() and module.stat().st_ino != cached.stat().st_ino
        assert module.stat().st_nlink == 1
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    done = subprocess.run(
        [sys.executable, str(target / "bin/alpha")], capture_output=True, text=True, env=env, check=False
    )
    assert done.returncode == 0 and done.stdout.startswith("alpha 1.0"), done.stderr
    assert all(check_record(info) == [] for info in target.glob("*.dist-info"))


def test_cache_on_another_filesystem_falls_back_to_copy_with_a_notice(
    make_locked_project: Callable[..., Path], tmp_path: Path
) -> None:
    shm = Path("/dev/shm")
    if not shm.is_dir() or shm.stat().st_dev == tmp_path.stat().st_dev:
        pytest.skip("no second filesystem (/dev/shm) to put the cache on")
    project = make_locked_project(dependencies=["alpha"], requires_python=">=3.10")
    cache = shm / f"uvroot-test-cache-{os.getpid()}"
    try:
        result = uvroot(
            "sync", "--project", project, "--target", tmp_path / "t", "--link-mode", "hardlink", cache=cache
        )
    finally:
        subprocess.run(["rm", "-rf", str(cache)], check=False)
    assert result.exit_code == 0, result.output
    assert result.output.count("notice: --link-mode hardlink is not possible here") == 1
    assert "using copy instead" in result.output
    assert (tmp_path / "t/alpha/__init__.py").stat().st_nlink == 1


def test_two_syncs_sharing_a_cache_end_consistent(make_locked_project: Callable[..., Path], tmp_path: Path) -> None:
    project = make_locked_project(dependencies=["alpha", "gadgets", "native", "docstool"], requires_python=">=3.10")
    cache = tmp_path / "cache"
    results = {}

    def run(name: str) -> None:
        argv = uvroot_argv("sync", "--project", project, "--root", tmp_path / name, *TARGET, "--cache-dir", cache)
        results[name] = subprocess.run(argv, capture_output=True, text=True, check=False)

    threads = [threading.Thread(target=run, args=(name,)) for name in ("a", "b")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert all(done.returncode == 0 for done in results.values()), [d.stderr for d in results.values()]
    assert _snapshot(tmp_path / "a") == _snapshot(tmp_path / "b")
    assert not list((cache / "tmp").iterdir())  # no half entries left behind
    entries = list(cache.glob("unpacked-v2/*/*"))
    assert len(entries) == 5 and all((entry / ".uvroot-unpacked").is_file() for entry in entries)


def test_worker_processes_give_the_same_tree_and_roll_back_together(
    make_locked_project: Callable[..., Path], tmp_path: Path, uvroot_cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from uvroot import sync as sync_module

    project = make_locked_project(dependencies=["alpha", "gadgets", "native", "docstool"], requires_python=">=3.10")
    _sync(project, tmp_path / "threads", uvroot_cache)
    monkeypatch.setattr(sync_module, "_PROCESS_THRESHOLD", 0)  # every sync splits across processes
    monkeypatch.setattr(sync_module.os, "cpu_count", lambda: 2)
    pools: list[int] = []
    real_pool = concurrent.futures.ProcessPoolExecutor  # (imported by the sync when it forks, not before)

    def counting_pool(workers: int, **kwargs: object) -> object:
        pools.append(workers)
        return real_pool(workers, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(concurrent.futures, "ProcessPoolExecutor", counting_pool)
    _sync(project, tmp_path / "processes", uvroot_cache)
    assert pools == [2]
    assert _snapshot(tmp_path / "processes") == _snapshot(tmp_path / "threads")
    root = tmp_path / "conflict"
    (root / "usr/local/bin").mkdir(parents=True)
    (root / "usr/local/bin/gadget").write_text("not yours\n")
    result = uvroot("sync", "--project", project, "--root", root, *TARGET, cache=uvroot_cache)
    assert result.exit_code == 6 and "would overwrite" in result.output and "usr/local/bin/gadget" in result.output
    assert _snapshot(root) == {
        "usr": ("dir", 0o755, b""),
        "usr/local": ("dir", 0o755, b""),
        "usr/local/bin": ("dir", 0o755, b""),
        "usr/local/bin/gadget": ("file", 0o644, b"not yours\n"),
    }


def test_inexact_keeps_what_the_lock_no_longer_selects_and_still_upgrades(
    make_locked_project: Callable[..., Path], tmp_path: Path, uvroot_cache: Path
) -> None:
    """uv's --inexact: extraneous distributions stay; an upgraded one still loses its old version."""
    before = make_locked_project(dependencies=["alpha", "gadgets", "beta<2"], requires_python=">=3.8")
    after = make_locked_project(dependencies=["alpha", "beta"], requires_python=">=3.8")
    root = tmp_path / "root"
    site = root / "usr/local/lib/python3.12/site-packages"
    _sync(before, root, uvroot_cache)
    output = _sync(after, root, uvroot_cache, "--inexact", "-v")
    assert " - gadgets" not in output and " - beta==1.0" in output and " + beta==2.0" in output
    infos = sorted(p.name for p in site.glob("*.dist-info"))
    assert infos == ["alpha-1.0.dist-info", "beta-2.0.dist-info", "gadgets-1.0.dist-info"]
    again = _sync(after, root, uvroot_cache, "--exact", "-v")  # uv's default, spelled out
    assert " - gadgets==1.0" in again
    assert sorted(p.name for p in site.glob("*.dist-info")) == ["alpha-1.0.dist-info", "beta-2.0.dist-info"]


# -- the placer alone (uvroot/tree.py) ---------------------------------------------------------------------------


def test_source_date_epoch_is_read_stripped_and_refused_when_not_a_number(monkeypatch: pytest.MonkeyPatch) -> None:
    from uvroot.errors import UsageError
    from uvroot.tree import DEFAULT_EPOCH, source_date_epoch

    monkeypatch.delenv("SOURCE_DATE_EPOCH", raising=False)
    assert source_date_epoch() == DEFAULT_EPOCH == 315532800
    for blank in ("", " \n"):
        monkeypatch.setenv("SOURCE_DATE_EPOCH", blank)
        assert source_date_epoch() == DEFAULT_EPOCH
    monkeypatch.setenv("SOURCE_DATE_EPOCH", " 1700000000\n")  # as $(git log -1 --format=%ct) may leave it
    assert source_date_epoch() == 1700000000
    for bad in ("yesterday", "-1", "1.5"):
        monkeypatch.setenv("SOURCE_DATE_EPOCH", bad)
        with pytest.raises(UsageError) as refused:
            source_date_epoch()
        assert f"SOURCE_DATE_EPOCH={bad!r} is not a number" in refused.value.message
        assert refused.value.hint == (
            "set it to e.g. $(git log -1 --format=%ct), or unset it for the fixed default (1980-01-01)"
        )


def _cached(directory: Path, name: str = "cached.py", mode: int = 0o755) -> Path:
    """A file as the unpacked cache holds it: the cache's epoch as its mtime."""
    from uvroot.tree import CACHE_EPOCH

    directory.mkdir(parents=True, exist_ok=True)
    source = directory / name
    source.write_bytes(b"#!/bin/sh\necho cached\n" * 100)
    source.chmod(mode)
    os.utime(source, (CACHE_EPOCH, CACHE_EPOCH))
    return source


@pytest.mark.parametrize("epoch", [315532800, 1700000000], ids=["default-epoch", "other-epoch"])
@pytest.mark.parametrize("mode", ["clone", "hardlink", "copy", "symlink"])
def test_a_placed_file_has_the_contents_mode_and_epoch_and_the_cache_file_is_untouched(
    tmp_path: Path, mode: LinkMode, epoch: int
) -> None:
    from uvroot.tree import CACHE_EPOCH, Placer

    source = _cached(tmp_path / "cache")
    cached = source.stat()
    notices: list[str] = []
    placer = Placer(mode, notices.append, epoch)
    for name in ("a.py", "b.py"):
        placer.place(str(source), str(tmp_path / name))
        placed = tmp_path / name
        assert placed.read_bytes() == source.read_bytes() and stat.S_IMODE(placed.stat().st_mode) == 0o755
        assert placed.lstat().st_mtime_ns == epoch * 10**9
        if mode == "symlink":
            assert placed.readlink() == source
        elif epoch == CACHE_EPOCH and (mode == "hardlink" or (mode == "clone" and not _can_reflink(tmp_path))):
            assert placed.stat().st_ino == cached.st_ino  # the cache file already has the epoch
        else:  # a file of its own: a hard link would carry the cache's mtime
            assert placed.stat().st_ino != cached.st_ino and placed.stat().st_nlink == 1
    assert source.stat().st_mtime_ns == CACHE_EPOCH * 10**9 and stat.S_IMODE(source.stat().st_mode) == 0o755
    assert notices == []  # clone -> hardlink is silent, as in uv
    with pytest.raises(FileExistsError):  # never over a file in the way
        placer.place(str(source), str(tmp_path / "a.py"))


@pytest.mark.parametrize("mode", ["clone", "hardlink"])
def test_a_cache_on_another_filesystem_falls_back_to_copy_with_one_notice(tmp_path: Path, mode: LinkMode) -> None:
    from uvroot.tree import Placer

    shm = Path("/dev/shm")
    if not shm.is_dir() or shm.stat().st_dev == tmp_path.stat().st_dev:
        pytest.skip("no second filesystem (/dev/shm) to put the cache on")
    cache = shm / f"uvroot-test-placer-{os.getpid()}"
    try:
        source = _cached(cache, mode=0o644)
        notices: list[str] = []
        placer = Placer(mode, notices.append)
        for name in ("a.py", "b.py", "c.py"):
            placer.place(str(source), str(tmp_path / name))
            placed = (tmp_path / name).stat()
            assert (tmp_path / name).read_bytes() == source.read_bytes() and placed.st_nlink == 1
            assert stat.S_IMODE(placed.st_mode) == 0o644 and placed.st_mtime_ns == 315532800 * 10**9
    finally:
        subprocess.run(["rm", "-rf", str(cache)], check=False)
    assert len(notices) == 1, notices
    assert notices[0].startswith(f"notice: --link-mode {mode} is not possible here (")
    assert notices[0].endswith("); using copy instead")


def test_a_copy_stops_where_the_file_ends_whatever_its_size_says(tmp_path: Path) -> None:
    """A sysfs file claims 4096 bytes and holds a few: the copy ends at its end, exactly."""
    from uvroot.tree import Placer

    source = Path("/sys/devices/system/cpu/online")
    if not source.is_file() or source.stat().st_size <= len(source.read_bytes()):
        pytest.skip("no file here whose size says more than it holds")
    Placer("copy").place(str(source), str(tmp_path / "online"))
    assert (tmp_path / "online").read_bytes() == source.read_bytes()


def test_a_copy_that_fills_the_disk_fails_and_leaves_no_part_of_the_file(
    tmp_path: Path, small_disk: Callable[[int], Path]
) -> None:
    from uvroot.tree import Placer

    full = small_disk(64 << 10)  # room for a quarter of the file
    full.mkdir()
    source = tmp_path / "big.bin"
    source.write_bytes(os.urandom(256 * 1024))
    with pytest.raises(OSError) as failed:
        Placer("copy").place(str(source), str(full / "big.bin"))
    assert failed.value.errno == errno.ENOSPC
    assert list(full.iterdir()) == []


def test_a_clone_is_a_file_of_its_own_with_the_mode_and_epoch_on_a_filesystem_that_clones(tmp_path: Path) -> None:
    """On xfs (reflink), clone mode clones: a file of its own even at the cache's epoch, where a link would share."""
    from uvroot.tree import CACHE_EPOCH, Placer

    image, mounted = tmp_path / "xfs.img", tmp_path / "xfs"
    mounted.mkdir()
    with image.open("wb") as stream:
        stream.truncate(300 * 1024 * 1024)  # sparse: xfs's smallest filesystem
    made = subprocess.run(["mkfs.xfs", "-q", image], capture_output=True, check=False)
    if made.returncode != 0 or subprocess.run(["mount", "-o", "loop", image, mounted], check=False).returncode != 0:
        pytest.skip("no xfs to clone on here (mkfs.xfs, a loop device and root are needed)")
    try:
        source = _cached(mounted / "cache")
        notices: list[str] = []
        placer = Placer("clone", notices.append, CACHE_EPOCH)
        for name in ("a.py", "b.py"):
            placer.place(str(source), str(mounted / name))
            placed = (mounted / name).stat()
            assert (mounted / name).read_bytes() == source.read_bytes()
            assert placed.st_ino != source.stat().st_ino and placed.st_nlink == 1 and source.stat().st_nlink == 1
            assert stat.S_IMODE(placed.st_mode) == 0o755 and placed.st_mtime_ns == CACHE_EPOCH * 10**9
        assert notices == []
    finally:
        subprocess.run(["umount", mounted], check=False)
