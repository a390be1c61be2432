"""Every sync is one transaction: attacked as an unlucky user and as a hostile wheel or tree would.

A failed sync (a conflict, a full disk, a dead worker) leaves the tree exactly as it
was, directory mtimes included; two syncs of one tree never interleave; recovery
undoes only what its journal proves it created, inside the tree, wherever the tree
was copied or moved; names a wheel could use to forge a journal are refused.
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import signal
import stat
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.support.bulk import SITE, Snapshot, python312, snapshot, start_argv
from tests.support.cli import check_record, uvroot_argv

Proc = subprocess.CompletedProcess[str]


def run(project: Path, root: Path, cache: Path, *extra: str | Path, env: dict[str, str] | None = None) -> Proc:
    return subprocess.run(start_argv(project, root, cache, *extra), capture_output=True, text=True,
                          env={**os.environ, "CI": "1", **(env or {})}, check=False)  # fmt: skip


def _state(top: Path) -> tuple[Snapshot, int]:
    """Everything under ``top`` and ``top``'s own mtime: what an undone transaction must give back."""
    return snapshot(top), top.stat().st_mtime_ns


def assert_refused(result: Proc, *needles: str, code: int = 6) -> None:
    assert result.returncode == code, result.stdout + result.stderr
    assert "Traceback" not in result.stderr, result.stderr
    for needle in needles:
        assert needle in result.stderr, f"{needle!r} not in:\n{result.stderr}"


def dist_infos(root: Path) -> list[str]:
    site = root / SITE
    return sorted(p.name for p in site.glob("*.dist-info")) if site.is_dir() else []


def test_a_failed_upgrade_leaves_the_tree_exactly_as_it_was(bulk_project: Callable[..., Path], tmp_path: Path) -> None:
    before = bulk_project("bulka==1.0", "bulkb==1.0", "bulkc")
    after = bulk_project("bulka==2.0", "bulkb==2.0")
    root, cache = tmp_path / "root", tmp_path / "cache"
    assert run(before, root, cache).returncode == 0
    foreign = root / "usr/local/share/bulka/v2.txt"  # bulka 2.0 writes here: the upgrade must fail
    foreign.parent.mkdir(parents=True)
    foreign.write_text("mine\n")
    was = snapshot(root)
    assert_refused(run(after, root, cache), "usr/local/share/bulka/v2.txt", "uvroot did not install")
    assert snapshot(root) == was  # bulka, bulkb and bulkc 1.0 are all still there, to the mtime
    assert dist_infos(root) == ["bulka-1.0.dist-info", "bulkb-1.0.dist-info", "bulkc-1.0.dist-info"]
    assert all(check_record(root / SITE / name) == [] for name in dist_infos(root))


def test_a_failed_reinstall_loses_no_distribution(bulk_project: Callable[..., Path], tmp_path: Path) -> None:
    project = bulk_project("bulka==1.0", "bulkb==1.0", "bulkc")
    root, cache = tmp_path / "root", tmp_path / "cache"
    assert run(project, root, cache, "--no-install-package", "bulkc").returncode == 0
    (root / "usr/local/bin/bulkc-tool").write_text("#!/bin/sh\necho mine\n")  # where bulkc's script goes
    was = snapshot(root)
    assert_refused(run(project, root, cache, "--reinstall"), "bulkc-tool")
    assert snapshot(root) == was
    assert dist_infos(root) == ["bulka-1.0.dist-info", "bulkb-1.0.dist-info"]


def test_allow_existing_gives_the_foreign_file_back_when_the_sync_fails(
    bulk_project: Callable[..., Path], tmp_path: Path
) -> None:
    before = bulk_project("bulka==1.0")
    after = bulk_project("bulka==2.0", "bulkb==2.0", "evildata")
    root, cache = tmp_path / "root", tmp_path / "cache"
    assert run(before, root, cache).returncode == 0
    foreign = root / "usr/local/share/bulka/v2.txt"
    foreign.parent.mkdir(parents=True)
    foreign.write_text("mine\n")
    was = snapshot(root)
    # bulka 2.0 takes the file over, then evildata is refused: the file comes back.
    assert_refused(run(after, root, cache, "--allow-existing"), "evildata")
    assert snapshot(root) == was


@pytest.mark.parametrize("layout", ["--target", "--prefix", "--root"])
def test_wheels_shipping_journal_or_staging_names_are_refused(
    bulk_project: Callable[..., Path], tmp_path: Path, layout: str
) -> None:
    outside = tmp_path / "outside"
    outside.write_text("precious\n")
    for evil in ("evildata", "evilpartial"):
        project = bulk_project("bulka==1.0", evil)
        top, cache = tmp_path / f"{evil}{layout}", tmp_path / "cache"
        extra = [] if layout == "--root" else [layout, top]
        assert_refused(run(project, top, cache, *extra), evil, "a name uvroot keeps for its own journal")
        assert not top.exists() or snapshot(top) == {}  # nothing staged, no journal left to trust
        # and a later good sync of the same tree touches nothing outside it
        assert run(bulk_project("bulka==1.0"), top, cache, *extra).returncode == 0
    assert outside.read_text() == "precious\n"


def _kill_after(files: int) -> dict[str, str]:
    return {"UVROOT_TEST_KILL_AFTER_FILES": str(files)}


def test_a_killed_tree_copied_or_moved_recovers_where_it_is(bulk_project: Callable[..., Path], tmp_path: Path) -> None:
    before = bulk_project("bulka==1.0", "bulkb==1.0", "bulkc")
    after = bulk_project("bulka==2.0", "bulkb==2.0")
    cache, clean = tmp_path / "cache", tmp_path / "clean"
    assert run(after, clean, cache).returncode == 0
    a = tmp_path / "a"
    assert run(before, a, cache).returncode == 0
    killed = run(after, a, cache, env=_kill_after(150))
    assert killed.returncode == -signal.SIGKILL
    assert (a / ".uvroot-txn").is_dir()
    b = tmp_path / "b"
    subprocess.run(["cp", "-a", a, b], check=True)
    was = snapshot(a)
    assert run(after, b, cache).returncode == 0  # B recovers and syncs ...
    assert snapshot(a) == was  # ... without touching A
    assert snapshot(b) == snapshot(clean)
    moved = tmp_path / "moved"
    a.rename(moved)
    assert run(after, moved, cache).returncode == 0  # a moved tree is not stuck
    assert snapshot(moved) == snapshot(clean)


def test_recovery_never_deletes_a_file_that_was_there_before_the_journal(tmp_path: Path) -> None:
    from uvroot.txn import Transaction, recover

    top = tmp_path / "top"
    (top / "bin").mkdir(parents=True)
    foreign = top / "bin" / "tool"
    foreign.write_text("foreign\n")
    time.sleep(0.05)  # the filesystem's clock moves on: the journal is born later than the foreign file
    txn = Transaction.begin(top, 315532800)
    txn.expect(str(foreign))  # killed between journalling a file and finding something in its way
    txn.create(str(top / "bin" / "ours"), lambda path: Path(path).write_text("ours\n"))
    txn.close()
    assert recover(top, 315532800) == 1
    assert foreign.read_text() == "foreign\n"
    assert not (top / "bin" / "ours").exists() and not (top / ".uvroot-txn").exists()


def test_a_sync_killed_before_it_saw_a_file_in_the_way_leaves_that_file_to_the_next_sync(
    make_locked_project: Callable[..., Path], tmp_path: Path
) -> None:
    """A real sync journals ``bin/gadget`` (its first file) and is killed before creating it, so before it
    finds someone's ``gadget`` there.  The next sync's recovery sees a journalled path with a file at it:
    that file is older than the journal, so it is not the killed sync's, and it stays."""
    gadgets = make_locked_project(dependencies=["gadgets"], requires_python=">=3.10")
    alpha = make_locked_project(dependencies=["alpha"], requires_python=">=3.10")
    root, cache = tmp_path / "root", tmp_path / "cache"
    foreign = root / "usr/local/bin/gadget"
    foreign.parent.mkdir(parents=True)
    foreign.write_text("#!/bin/sh\necho someone's gadget\n")

    def sync(project: Path, **env: str) -> subprocess.CompletedProcess[str]:
        argv = uvroot_argv(
            "sync", "--project", project, "--root", root, "--python-version", "3.12", "--cache-dir", cache
        )
        return subprocess.run(argv, env={**os.environ, "CI": "1", **env}, capture_output=True, text=True, check=False)

    assert sync(gadgets, UVROOT_TEST_KILL_AFTER_FILES="1").returncode == -signal.SIGKILL
    (journal,) = (root / ".uvroot-txn").glob("journal-*")
    assert journal.read_text().splitlines()[-1] == "N\tusr/local/bin/gadget"  # journalled, never reached
    done = sync(alpha)
    assert done.returncode == 0, done.stderr
    assert foreign.read_text() == "#!/bin/sh\necho someone's gadget\n"
    site = root / "usr/local/lib/python3.12/site-packages"
    assert sorted(p.name for p in site.glob("*.dist-info")) == ["alpha-1.0.dist-info", "beta-2.0.dist-info"]
    assert not (root / ".uvroot-txn").exists()
    refused = sync(gadgets)  # and the file still stops gadgets, as it would have
    assert refused.returncode == 6 and f"gadgets-1.0 would overwrite {foreign}" in refused.stderr
    assert foreign.read_text() == "#!/bin/sh\necho someone's gadget\n"


def test_recovery_spares_a_file_found_in_the_way_even_one_newer_than_the_journal(tmp_path: Path) -> None:
    from uvroot.txn import Transaction, recover

    top = tmp_path / "top"
    top.mkdir()
    txn = Transaction.begin(top, EPOCH)
    (top / "tool").write_text("someone else's, made while the sync ran\n")
    with pytest.raises(FileExistsError):
        txn.create(str(top / "tool"), lambda path: Path(path).open("x").close())
    txn.close()
    recover(top, EPOCH)
    assert (top / "tool").read_text() == "someone else's, made while the sync ran\n"


def test_recovery_undoes_removals_and_keeps_the_old_mtimes(tmp_path: Path) -> None:
    from uvroot.txn import Transaction, recover

    top = tmp_path / "top"
    (top / "pkg" / "sub").mkdir(parents=True)
    (top / "pkg" / "sub" / "a.py").write_text("a\n")
    (top / "one.py").write_text("one\n")
    for path in (top / "pkg" / "sub", top / "pkg", top):
        os.utime(path, (1000, 1000))
    was = _state(top)
    txn = Transaction.begin(top, 315532800)
    txn.set_aside(str(top / "pkg"))
    txn.set_aside(str(top / "one.py"))
    txn.create(str(top / "new" / "deep" / "file"), lambda path: Path(path).write_text("new\n"))
    txn.close()  # killed before commit
    recover(top, 315532800)
    assert _state(top) == was


def test_two_syncs_of_one_tree_take_turns(bulk_project: Callable[..., Path], tmp_path: Path) -> None:
    before = bulk_project("bulka==1.0", "bulkb==1.0", "bulkc")
    after = bulk_project("bulka==2.0", "bulkb==2.0")
    cache, clean = tmp_path / "cache", tmp_path / "clean"
    assert run(after, clean, cache).returncode == 0
    assert run(before, tmp_path / "warm", cache).returncode == 0
    for attempt, delay in enumerate((0.0, 0.05, 0.2, 0.4)):
        root = tmp_path / f"root-{attempt}"
        assert run(before, root, cache).returncode == 0
        env = {**os.environ, "CI": "1"}
        first = subprocess.Popen(start_argv(after, root, cache), env=env, stderr=subprocess.PIPE, text=True)
        time.sleep(delay)
        second = subprocess.Popen(start_argv(before, root, cache), env=env, stderr=subprocess.PIPE, text=True)
        errors = [first.communicate()[1], second.communicate()[1]]
        assert (first.returncode, second.returncode) == (0, 0), errors
        assert "Traceback" not in "".join(errors)
        # One ran after the other: the tree is a clean sync of one of the two locks, whole.
        assert all(check_record(root / SITE / name) == [] for name in dist_infos(root))
        assert snapshot(root) in (snapshot(tmp_path / "warm"), snapshot(clean))
        assert not (root / ".uvroot-txn").exists()


def test_a_sync_waits_while_another_holds_the_tree(bulk_project: Callable[..., Path], tmp_path: Path) -> None:
    import fcntl

    root, cache = tmp_path / "root", tmp_path / "cache"
    root.mkdir()
    held = os.open(root, os.O_RDONLY)
    fcntl.flock(held, fcntl.LOCK_EX)  # what a running sync holds
    try:
        env = {**os.environ, "CI": "1"}
        sync = subprocess.Popen(start_argv(bulk_project("bulka==1.0"), root, cache), env=env,
                                stderr=subprocess.PIPE, text=True)  # fmt: skip
        assert sync.stderr is not None
        line = sync.stderr.readline()
        assert "waiting for another uvroot sync" in line, line
        assert sync.poll() is None and dist_infos(root) == []  # it waits and writes nothing meanwhile
    finally:
        fcntl.flock(held, fcntl.LOCK_UN)
        os.close(held)
    assert sync.wait() == 0, sync.stderr.read()
    assert dist_infos(root) == ["bulka-1.0.dist-info"]


def _children(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            found += [int(child) for child in (task / "children").read_text().split()]
        except OSError:  # the thread ended meanwhile
            continue
    return found


def test_namespace_wheels_sharing_directories_sync_whole_and_fail_whole(tmp_path: Path, uv_cache: Path) -> None:
    """Six wheels fill one namespace (files directly in it, and packages under it); a conflict undoes all six."""
    from tests.support.index import LocalIndex
    from tests.support.uvproject import uv_lock, write_project
    from tests.support.wheels import build_wheel

    names = [f"nsw{i}" for i in range(6)]
    wheels = tmp_path / "wheels"
    wheels.mkdir()
    for name in names:
        extra = {"aconflict.py": ""} if name == names[-1] else {}
        build_wheel(wheels, name, "1.0", files={f"nsp/{name}.py": "", f"nsp/{name}/__init__.py": "", **extra})
    project, cache = tmp_path / "project", tmp_path / "cache"
    project.mkdir()
    with LocalIndex(wheels) as index:
        write_project(project, dependencies=names)
        uv_lock(project, index.url, cache_dir=uv_cache)
        done = run(project, tmp_path / "clean", cache)
        assert done.returncode == 0, done.stderr
        site = tmp_path / "clean" / SITE
        assert all((site / "nsp" / f"{name}.py").is_file() and (site / "nsp" / name).is_dir() for name in names)
        for attempt in range(3):  # thread interleaving differs from run to run
            root = tmp_path / f"conflict{attempt}"
            (root / SITE).mkdir(parents=True)
            (root / SITE / "aconflict.py").write_text("foreign\n")
            was = snapshot(root)
            failed = run(project, root, cache)
            assert failed.returncode == 6 and "aconflict.py" in failed.stderr, failed.stderr
            assert snapshot(root) == was


def _start_and_catch(
    argv: list[str], root: Path, *, placing: bool, session: bool = False
) -> tuple[subprocess.Popen[str], list[int]]:
    """Start a sync with worker processes; return it and its workers, caught while they place files (the
    transaction open) or unpack wheels (before it opens); none if the sync got past that first."""
    env = {**os.environ, "CI": "1", "UVROOT_WORKER_THRESHOLD": "0"}
    sync = subprocess.Popen(argv, env=env, stderr=subprocess.PIPE, text=True, start_new_session=session)
    workers: list[int] = []
    while sync.poll() is None and not workers:
        if (root / ".uvroot-txn").is_dir() == placing:
            workers = [child for child in _children(sync.pid) if _cmdline(child) == _cmdline(sync.pid)]
        elif not placing:
            break  # the transaction is open: the unpacking workers are gone
    return sync, workers


def _synced_and_warm(bulk_project: Callable[..., Path], tmp_path: Path) -> tuple[Path, Path, Path]:
    """A tree synced to the old lock, the new lock, and a cache that holds the new lock's wheels too."""
    before = bulk_project("bulka==1.0", "bulkb==1.0", "bulkc")
    after = bulk_project("bulka==2.0", "bulkb==2.0")
    root, warm = tmp_path / "root", tmp_path / "warm"
    assert run(before, root, warm).returncode == 0
    assert run(after, tmp_path / "elsewhere", warm).returncode == 0
    return after, root, warm


def test_a_killed_worker_rolls_the_whole_sync_back(bulk_project: Callable[..., Path], tmp_path: Path) -> None:
    after, root, cache = _synced_and_warm(bulk_project, tmp_path)
    was = snapshot(root)
    for _ in range(5):  # a worker must be caught while the transaction is open
        sync, workers = _start_and_catch(start_argv(after, root, cache), root, placing=True)
        for worker in workers[:1]:
            os.kill(worker, signal.SIGKILL)  # what the OOM killer does
        error = sync.communicate()[1]
        if workers:
            break
    else:
        pytest.fail("no worker process was ever seen")
    assert sync.returncode == 6, error
    assert "worker process" in error and "Traceback" not in error
    assert snapshot(root) == was


def test_a_killed_unpacking_worker_fails_the_sync_before_the_tree_is_touched(
    bulk_project: Callable[..., Path], tmp_path: Path
) -> None:
    """A cold sync unpacks in worker processes; one killed mid-way fails the sync cleanly, and the next one heals."""
    before = bulk_project("bulka==1.0", "bulkb==1.0", "bulkc")
    after = bulk_project("bulka==2.0", "bulkb==2.0")
    root = tmp_path / "root"
    assert run(before, root, tmp_path / "cache-before").returncode == 0
    was = snapshot(root)
    for attempt in range(10):  # the workers live only while wheels are unpacked
        cache = tmp_path / f"cache-{attempt}"  # empty: both wheels of `after` are unpacked
        sync, workers = _start_and_catch(start_argv(after, root, cache), root, placing=False)
        for worker in workers[:1]:
            os.kill(worker, signal.SIGKILL)
        error = sync.communicate()[1]
        if workers and sync.returncode != 0:
            break
    else:
        pytest.fail("no unpacking worker was ever caught")
    assert sync.returncode == 6, error
    assert "a worker process unpacking wheels died" in error and "Traceback" not in error, error
    assert snapshot(root) == was
    healed = run(after, root, cache, env={"UVROOT_WORKER_THRESHOLD": "0"})  # the same cache, its tmp/ left by the dead
    assert healed.returncode == 0, healed.stderr
    assert not list((cache / "tmp").iterdir())
    dist_infos = sorted(path.name for path in (root / SITE).glob("*.dist-info"))
    assert dist_infos == ["bulka-2.0.dist-info", "bulkb-2.0.dist-info"]
    assert all(check_record(root / SITE / name) == [] for name in dist_infos)


@pytest.mark.parametrize("phase", ["unpacking", "placing"])
def test_ctrl_c_reaches_the_workers_too_and_no_one_prints_a_traceback(
    phase: str, bulk_project: Callable[..., Path], tmp_path: Path
) -> None:
    """Ctrl-C in a terminal signals the whole process group: the sync and its worker processes."""
    after, root, warm = _synced_and_warm(bulk_project, tmp_path)
    was = snapshot(root)
    caught: list[tuple[int, str]] = []  # three interrupts: whether a worker is caught mid-fork is luck
    workers: list[int] = []
    for attempt in range(20):
        cache = tmp_path / f"cold-{attempt}" if phase == "unpacking" else warm
        argv = start_argv(after, root, cache)
        sync, seen = _start_and_catch(argv, root, placing=phase == "placing", session=True)
        if seen:
            os.killpg(sync.pid, signal.SIGINT)
        try:
            error = sync.communicate(timeout=60)[1]
        except subprocess.TimeoutExpired:  # (workers killed mid-fork by Ctrl-C once hung their sync)
            os.killpg(sync.pid, signal.SIGKILL)
            pytest.fail(f"the sync hung after Ctrl-C: {sync.communicate()[1]}")
        if seen and sync.returncode != 0:
            caught.append((sync.returncode, error))
            workers += seen
            assert snapshot(root) == was
        if len(caught) == 3:
            break
    else:
        pytest.fail(f"{phase} workers were caught only {len(caught)} times")
    for code, error in caught:
        assert code == 130, error  # 128 + SIGINT, as a shell reports Ctrl-C
        assert "Traceback" not in error and "KeyboardInterrupt" not in error, error
    deadline = time.monotonic() + 10
    while any(Path(f"/proc/{pid}").exists() for pid in workers) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not [pid for pid in workers if Path(f"/proc/{pid}").exists()], "a worker outlived the sync"


_NO_DEATH_SIGNAL = """
import ctypes, sys, time
def no_prctl(*args, **kwargs):
    raise OSError("not Linux")
ctypes.CDLL = no_prctl  # as on macOS: no PR_SET_PDEATHSIG
from uvroot.sync import _workers
with _workers(2, "waiting"):
    print("forked", flush=True)
    time.sleep(120)
"""


@pytest.mark.parametrize("death_signal", [True, False], ids=["linux", "no-death-signal"])
def test_workers_die_with_a_killed_sync_even_without_a_death_signal(death_signal: bool) -> None:
    """A worker left running would hold the tree's locks: every later sync of the tree would wait."""
    script = _NO_DEATH_SIGNAL if not death_signal else _NO_DEATH_SIGNAL.replace("ctypes.CDLL = no_prctl", "")
    sync = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    try:
        assert sync.stdout is not None and sync.stdout.readline() == "forked\n"
        workers = _children(sync.pid)
        assert len(workers) == 2
    finally:
        sync.kill()
        sync.wait()
    deadline = time.monotonic() + 10
    while [pid for pid in workers if _running(pid)] and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not [pid for pid in workers if _running(pid)], "a worker outlived the sync that forked it"


def _running(pid: int) -> bool:
    try:
        return "State:\tZ" not in Path(f"/proc/{pid}/status").read_text()  # a zombie has ended
    except OSError:
        return False


def _cmdline(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return b""


def test_venv_bin_leading_outside_is_never_written_through(bulk_project: Callable[..., Path], tmp_path: Path) -> None:
    project = bulk_project("bulka==1.0")
    venv, cache, outside = tmp_path / "venv", tmp_path / "cache", tmp_path / "outside"
    flags = ["--venv", venv, "--venv-python", "/usr/local/bin/python3.12"]
    assert run(project, venv, cache, *flags).returncode == 0
    shutil.rmtree(venv / "bin")
    outside.mkdir()
    (venv / "bin").symlink_to(outside)  # the venv's bin/ now leads out of the tree
    assert_refused(run(project, venv, cache, *flags), "leads outside")
    assert list(outside.iterdir()) == []


def test_a_site_packages_link_to_outside_is_not_followed_by_recovery(
    bulk_project: Callable[..., Path], tmp_path: Path
) -> None:
    project = bulk_project("bulka==1.0", "bulkb==1.0")
    root, cache = tmp_path / "root", tmp_path / "cache"
    assert run(project, root, cache, env=_kill_after(60)).returncode == -signal.SIGKILL
    site = root / SITE
    outside = tmp_path / "outside"
    shutil.copytree(site, outside, symlinks=True)  # an attacker swaps site-packages for a link to a look-alike
    shutil.rmtree(site)
    site.symlink_to(outside)
    was = snapshot(outside)
    result = run(project, root, cache)
    assert "Traceback" not in result.stderr
    assert snapshot(outside) == was  # recovery skipped every journalled path behind the link
    assert_refused(result, "leads outside")


def test_removing_a_module_named_with_glob_characters_keeps_other_bytecode(
    bulk_project: Callable[..., Path], tmp_path: Path
) -> None:
    python = python312()
    root, cache = tmp_path / "root", tmp_path / "cache"
    flags = ["--compile-bytecode", "--compile-python", python]
    assert run(bulk_project("bulkc", "globby"), root, cache, *flags).returncode == 0
    assert (root / SITE / "__pycache__/*.cpython-312.pyc").exists()
    assert run(bulk_project("bulkc"), root, cache, *flags).returncode == 0
    assert (root / SITE / "__pycache__/bulkc.cpython-312.pyc").exists()
    assert check_record(root / SITE / "bulkc-1.0.dist-info") == []
    assert not (root / SITE / "*.py").exists()


def test_an_unusable_root_is_a_clear_error(bulk_project: Callable[..., Path], tmp_path: Path) -> None:
    project = bulk_project("bulka==1.0")
    (tmp_path / "file").write_text("not a directory\n")
    under_a_file = run(project, tmp_path / "file" / "root", tmp_path / "cache")
    assert_refused(under_a_file, "which is a file", code=2)  # (refused before anything is tried)
    assert_refused(run(project, Path("/sys/uvroot-test/root"), tmp_path / "cache"), "cannot write", "/sys/uvroot-test")


def test_a_full_disk_leaves_the_tree_as_it_was(
    bulk_project: Callable[..., Path], tmp_path: Path, small_disk: Callable[[int], Path]
) -> None:
    root = small_disk(400 << 10)
    root.mkdir()
    cache = tmp_path / "cache"
    assert run(bulk_project("bulkc"), root, cache).returncode == 0
    was = snapshot(root)
    result = run(bulk_project("bulka==2.0", "bulkb==2.0", "bulkc"), root, cache, "--link-mode", "copy")
    assert_refused(result, "disk is full")
    assert snapshot(root) == was


# -- the transaction module alone --------------------------------------------------

EPOCH = 315532800


def _forge(top: Path, *lines: str) -> None:
    journal = top / ".uvroot-txn" / "journal-0000-1"  # (a journal as a killed sync leaves it)
    journal.parent.mkdir(parents=True)
    (journal.parent / "aside").mkdir()
    journal.write_text("B\t1\t\n" + "".join(line + "\n" for line in lines))  # born at the dawn of time


def test_a_forged_journal_cannot_reach_outside_the_tree(tmp_path: Path) -> None:
    from uvroot.txn import recover

    top, outside = tmp_path / "top", tmp_path / "outside"
    (top / "usr").mkdir(parents=True)
    outside.mkdir()
    (outside / "x").write_text("precious\n")
    (top / "usr" / "lib").symlink_to(outside)  # a link inside the tree that leads out
    _forge(top, "N\t../outside/x", f"N\t{outside}/x", "N\tusr/lib/x", "D\t../outside", "A\t../outside/x\t../../x",
           "M\tusr/lib/x\tusr/moved", "T\t../outside\t0")  # fmt: skip
    was = _state(outside)
    recover(top, EPOCH)
    assert _state(outside) == was
    assert not (top / ".uvroot-txn").exists()


@pytest.mark.parametrize("committed", [False, True], ids=["undone", "finished"])
def test_a_journal_naming_a_link_out_of_the_tree_never_restamps_its_target(tmp_path: Path, committed: bool) -> None:
    """Entries naming the link itself (its directory is inside): restamping must not follow it out."""
    from uvroot.txn import COMMITTED, recover

    top, outside = tmp_path / "top", tmp_path / "outside"
    (top / "usr").mkdir(parents=True)
    (outside / "sub").mkdir(parents=True)
    (top / "usr" / "lib").symlink_to(outside)
    (top / "usr" / "sub").symlink_to(outside / "sub")
    _forge(top, "D\tusr/lib", "T\tusr/lib\t5", "S\tusr/lib", "M\tusr/staged\tusr/sub", "A\tusr/sub/x\t1-1")
    if committed:
        (top / ".uvroot-txn" / COMMITTED).touch()
    os.utime(outside, (1000, 1000))
    os.utime(outside / "sub", (1000, 1000))
    recover(top, EPOCH)
    assert (outside.stat().st_mtime_ns, (outside / "sub").stat().st_mtime_ns) == (1000 * 10**9, 1000 * 10**9)
    assert not (top / ".uvroot-txn").exists()


def test_commit_deletes_what_was_set_aside_and_stamps_what_it_touched(tmp_path: Path) -> None:
    from uvroot.txn import Transaction

    top = tmp_path / "top"
    (top / "old" / "pkg").mkdir(parents=True)
    (top / "old" / "pkg" / "a.py").write_text("a\n")
    (top / "keep").mkdir()
    os.utime(top / "keep", (1000, 1000))
    txn = Transaction.begin(top, EPOCH)
    txn.set_aside(str(top / "old" / "pkg" / "a.py"))
    txn.stage_dir(str(top / ".stage.uvroot-stage"))
    txn.create(str(top / ".stage.uvroot-stage" / "new" / "b.py"), lambda path: Path(path).write_text("b\n"))
    assert txn.publish(str(top / ".stage.uvroot-stage" / "new"), str(top / "new"))
    (top / ".stage.uvroot-stage").rmdir()
    txn.commit()
    found = snapshot(top)
    assert sorted(found) == ["keep", "new", "new/b.py"]  # old/pkg emptied by removal is pruned, with old/
    assert {mtime for kind, _, mtime, _ in found.values() if kind == "dir"} == {1000 * 10**9, EPOCH * 10**9}
    assert found["new"][2] == EPOCH * 10**9 and top.stat().st_mtime_ns == EPOCH * 10**9


def test_rollback_unpublishes_and_deletes_what_was_staged(tmp_path: Path) -> None:
    from uvroot.txn import Transaction

    top = tmp_path / "top"
    top.mkdir()
    (top / "ns").mkdir()
    (top / "ns" / "theirs.py").write_text("theirs\n")
    was = _state(top)
    txn = Transaction.begin(top, EPOCH)
    stage = top / ".x.uvroot-stage"
    txn.stage_dir(str(stage))
    for name in ("pkg/a.py", "ns/mine.py", "ns/theirs.py"):
        txn.create(str(stage / name), lambda path: Path(path).write_text("mine\n"))
    assert txn.publish(str(stage / "pkg"), str(top / "pkg"))
    assert not txn.publish(str(stage / "ns"), str(top / "ns"))  # exists: merged file by file
    assert txn.publish(str(stage / "ns" / "mine.py"), str(top / "ns" / "mine.py"))
    assert not txn.publish(str(stage / "ns" / "theirs.py"), str(top / "ns" / "theirs.py"))  # a foreign file
    txn.rollback()
    assert _state(top) == was


def test_a_publish_that_lost_a_race_cancels_only_its_own_move(tmp_path: Path) -> None:
    """Two threads publish a namespace directory: B journals its move first, A renames first, B merges file by file.

    Undoing B's failed move must not cancel A's, which left ``nsp/a.py`` behind after a failed sync.
    """
    from uvroot.txn import recover

    top = tmp_path / "top"
    (top / "nsp").mkdir(parents=True)
    (top / "nsp" / "a.py").write_text("a\n")  # A's directory, renamed whole
    (top / "nsp" / "b.py").write_text("b\n")  # B's file, merged into it
    for stage in (".a.uvroot-stage", ".b.uvroot-stage"):
        (top / stage).mkdir()
    _forge(top, "S\t.a.uvroot-stage", "S\t.b.uvroot-stage", "F\tb.py", "M\t.b.uvroot-stage/nsp\tnsp", "F\ta.py",
           "M\t.a.uvroot-stage/nsp\tnsp", "X\tnsp\t.b.uvroot-stage/nsp", "T\tnsp\t1000\t0",
           "M\t.b.uvroot-stage/nsp/b.py\tnsp/b.py")  # fmt: skip
    recover(top, EPOCH)
    assert snapshot(top) == {}


@pytest.mark.parametrize(
    "lines",
    [
        ("S\tsite/a/victim", "A\tsite/a\t1-1", "N\tsite/a/zzz"),  # rmtree of a staging directory
        ("D\tsite/a/empty", "A\tsite/a\t1-1", "N\tsite/a/zzz"),  # rmdir of a created directory
        ("A\tsite/a\t1-1", "T\tsite/a/victim\t4242000000000\t0"),  # restamp of a touched directory
    ],
    ids=["staged", "created", "touched"],
)
def test_a_link_an_undo_restores_is_never_followed_out_of_the_tree(tmp_path: Path, lines: tuple[str, ...]) -> None:
    """A forged journal whose set-aside entry is a link out: what comes back must not be gone through."""
    from uvroot.txn import recover

    top, outside = tmp_path / "top", tmp_path / "outside"
    (outside / "victim").mkdir(parents=True)
    (outside / "empty").mkdir()
    (outside / "victim" / "precious").write_text("precious\n")
    (top / "site").mkdir(parents=True)
    _forge(top, *lines)
    (top / ".uvroot-txn" / "aside" / "1-1").symlink_to(outside)  # what 'was set aside': a link leading out
    for directory in (outside, outside / "victim", outside / "empty"):
        os.utime(directory, (1000, 1000))
    was = _state(outside)
    with contextlib.suppress(Exception):  # refusing is fine; reaching outside is not
        recover(top, EPOCH)
    assert _state(outside) == was


@pytest.mark.parametrize("name", ["tab\there.py", "line\nbreak.py", "back\\slash.py", "F\tx.py"])
def test_names_with_the_journals_separators_are_undone_exactly(tmp_path: Path, name: str) -> None:
    """A file name holding a tab, a line break or a backslash (RECORD can quote them) round-trips the journal."""
    from uvroot.txn import Transaction

    top = tmp_path / "top"
    (top / "pkg").mkdir(parents=True)
    (top / "pkg" / "tab").write_text("theirs\n")  # what a mis-split name would point at
    (top / "pkg" / "line").write_text("theirs\n")
    was = _state(top)
    txn = Transaction.begin(top, EPOCH)
    stage = top / ".x.uvroot-stage"
    txn.stage_dir(str(stage))
    txn.create(str(stage / "new" / name), lambda path: Path(path).write_text("mine\n"))
    assert txn.publish(str(stage / "new"), str(top / "new"))
    txn.create(str(top / "pkg" / name), lambda path: Path(path).write_text("mine\n"))
    txn.rollback()
    assert _state(top) == was


# -- found by an attacker's pass over the transaction ---------------------------------


def test_record_rows_naming_no_file_of_the_wheel_are_refused(bulk_project: Callable[..., Path], tmp_path: Path) -> None:
    root = tmp_path / "deep" / "er" / "still" / "root"
    was = Path("/etc/hostname").stat().st_nlink
    assert_refused(run(bulk_project("escaper"), root, tmp_path / "cache"), "escaper", "not a file of the wheel")
    assert not (tmp_path / "deep" / "etc").exists() and not (root / "etc").exists()
    assert Path("/etc/hostname").stat().st_nlink == was  # never hard-linked into (or out of) the tree


def test_a_wheel_cannot_pose_as_a_distribution_uvroot_installed(
    bulk_project: Callable[..., Path], tmp_path: Path
) -> None:
    root = tmp_path / "root"
    assert_refused(run(bulk_project("forger"), root, tmp_path / "cache"), "forger", "dist-info")
    assert dist_infos(root) == []


def test_a_file_written_into_a_half_published_package_survives_recovery(
    bulk_project: Callable[..., Path], tmp_path: Path
) -> None:
    project = bulk_project("bulka==1.0", "bulkb==1.0", "bulkc")
    root, cache = tmp_path / "root", tmp_path / "cache"
    assert run(project, root, cache).returncode == 0  # warm the cache
    # Killed once a package's own directory is published (not its dist-info: a foreign file there makes the
    # dist-info someone's, refused). Threads stage the wheels side by side, so when the first publish comes
    # varies from run to run: later and later kills until one lands after it.
    published: list[Path] = []
    for kill_at in range(300, 2000, 20):
        shutil.rmtree(root)
        if run(project, root, cache, env=_kill_after(kill_at)).returncode != -signal.SIGKILL:
            break  # the sync finished before the kill: no later kill can land
        published = sorted(
            p for p in (root / SITE).iterdir() if p.is_dir() and not p.name.startswith(".") and "." not in p.name
        )
        if published:
            break
    assert published, "no kill came after a package was published"
    mine = published[0] / "mine.txt"
    mine.write_text("someone's\n")  # written between the kill and the next sync
    assert run(project, root, cache).returncode == 0
    assert mine.read_text() == "someone's\n"


def test_a_file_where_a_directory_should_be_fails_cleanly_and_keeps_the_tree(
    bulk_project: Callable[..., Path], tmp_path: Path
) -> None:
    root, cache = tmp_path / "root", tmp_path / "cache"
    assert run(bulk_project("bulka==1.0", "bulkb==1.0", "bulkc"), root, cache).returncode == 0
    (root / "usr/local/share").mkdir(exist_ok=True)
    (root / "usr/local/share/bulka").write_text("a file, where bulka 2.0 wants a directory\n")
    was = snapshot(root)
    assert_refused(run(bulk_project("bulka==2.0", "bulkb==2.0"), root, cache), "share/bulka")
    assert snapshot(root) == was


def test_a_journal_cut_short_by_a_full_disk_undoes_nothing_it_did_not_finish(tmp_path: Path) -> None:
    from uvroot.txn import recover

    top = tmp_path / "top"
    (top / "usr").mkdir(parents=True)
    (top / "usr" / "README").write_text("the user's\n")
    _forge(top)
    with (top / ".uvroot-txn" / "journal-0000-1").open("a") as journal:
        journal.write("S\tusr")  # the write that filled the disk: no newline, never acted on
    recover(top, EPOCH)
    assert (top / "usr" / "README").read_text() == "the user's\n"


def test_an_aside_directory_replaced_by_a_link_brings_nothing_in(tmp_path: Path) -> None:
    from uvroot.txn import recover

    top, outside = tmp_path / "top", tmp_path / "outside"
    top.mkdir()
    outside.mkdir()
    (outside / "1-1").write_text("not the tree's\n")
    _forge(top, "A\tstolen\t1-1")
    (top / ".uvroot-txn" / "aside").rmdir()
    (top / ".uvroot-txn" / "aside").symlink_to(outside)
    recover(top, EPOCH)
    assert not (top / "stolen").exists() and (outside / "1-1").exists()


def test_a_kill_while_the_journal_is_dropped_never_undoes_a_commit(tmp_path: Path) -> None:
    from uvroot.txn import recover

    top = tmp_path / "top"
    top.mkdir()
    (top / "new.py").write_text("committed\n")
    _forge(top)
    (top / ".uvroot-txn" / "journal-0000-1").unlink()  # journals go first, COMMITTED last
    (top / ".uvroot-txn" / "COMMITTED").write_text("")
    recover(top, EPOCH)
    assert (top / "new.py").read_text() == "committed\n" and not (top / ".uvroot-txn").exists()


def test_a_prefix_inside_a_locked_root_waits_for_it(bulk_project: Callable[..., Path], tmp_path: Path) -> None:
    import fcntl

    root = tmp_path / "root"
    root.mkdir()
    held = os.open(root, os.O_RDONLY)
    fcntl.flock(held, fcntl.LOCK_EX)  # a sync of the whole root is running
    try:
        inner = start_argv(bulk_project("bulka==1.0"), root, tmp_path / "cache", "--prefix", root / "usr/local")
        sync = subprocess.Popen(inner, env={**os.environ, "CI": "1"}, stderr=subprocess.PIPE, text=True)
        assert sync.stderr is not None
        assert "waiting for another uvroot sync" in sync.stderr.readline()
        assert sync.poll() is None
    finally:
        fcntl.flock(held, fcntl.LOCK_UN)
        os.close(held)
    assert sync.wait() == 0


# -- found by mutation testing (tools/mutate.py) ----------------------------------------------------------------


def _write(text: str) -> Callable[[str], None]:
    def make(path: str) -> None:
        with Path(path).open("x") as stream:
            stream.write(text)

    return make


def test_a_file_created_then_replaced_by_the_same_sync_is_undone_whole(tmp_path: Path) -> None:
    """The replacement's X cancels only the N of the attempt that found the first file in the way."""
    from uvroot.txn import Transaction

    top = tmp_path / "top"
    top.mkdir()
    was = _state(top)
    txn = Transaction.begin(top, EPOCH)
    txn.create(str(top / "twice.py"), _write("one\n"))
    txn.create(str(top / "twice.py"), _write("two\n"), replace=True)
    assert (top / "twice.py").read_text() == "two\n"
    assert txn.rollback() == 2
    assert _state(top) == was


def test_allow_existing_rolled_back_gives_the_file_in_the_way_back(tmp_path: Path) -> None:
    """A publish refused by a file in the way, that file set aside, the publish again: undone, the file is back."""
    from uvroot.txn import Transaction

    top = tmp_path / "top"
    (top / "pkg").mkdir(parents=True)
    (top / "pkg" / "theirs.py").write_text("theirs\n")
    was = _state(top)
    txn = Transaction.begin(top, EPOCH)
    stage = top / ".x.uvroot-stage"
    txn.stage_dir(str(stage))
    txn.create_staged(str(stage / "theirs.py"), _write("mine\n"))
    assert not txn.publish(str(stage / "theirs.py"), str(top / "pkg" / "theirs.py"))
    txn.set_aside(str(top / "pkg" / "theirs.py"))
    assert txn.publish(str(stage / "theirs.py"), str(top / "pkg" / "theirs.py"))
    assert (top / "pkg" / "theirs.py").read_text() == "mine\n"
    assert txn.rollback() == 1
    assert _state(top) == was


def test_a_recovery_killed_midway_is_finished_by_the_next(tmp_path: Path) -> None:
    import uvroot
    from uvroot.txn import recover

    top = tmp_path / "top"
    top.mkdir()
    for name in ("a", "b", "c"):
        (top / name).write_text("created by the killed sync\n")
    _forge(top, "N\ta", "N\tb", "N\tc")
    code = "import sys; from uvroot.txn import recover; recover(sys.argv[1], 0)"
    env = {**os.environ, "UVROOT_TEST_KILL_IN_RECOVERY": "2", "PYTHONPATH": str(Path(uvroot.__file__).parent.parent)}
    killed = subprocess.run([sys.executable, "-c", code, top], env=env, capture_output=True, text=True, check=False)
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    assert sorted(p.name for p in top.iterdir()) == [".uvroot-txn", "a", "b"]  # undone up to the kill, in reverse
    assert recover(top, EPOCH) == 2
    assert list(top.iterdir()) == []


@pytest.mark.parametrize(("names", "more"), [("abc", ""), ("abcd", " (and 1 more)"), ("abcde", " (and 2 more)")])
def test_an_undo_that_cannot_finish_says_what_failed_and_keeps_its_journal(
    tmp_path: Path, names: str, more: str
) -> None:
    from uvroot.errors import InstallError
    from uvroot.txn import recover

    top = tmp_path / "top"
    top.mkdir()
    _forge(top, *(f"A\tx/{name}\t1-{i}" for i, name in enumerate(names, 1)))
    for i, name in enumerate(names, 1):
        (top / ".uvroot-txn" / "aside" / f"1-{i}").write_text(f"{name}\n")
    (top / "x").write_text("a file where the directory was\n")
    with pytest.raises(InstallError) as failed:
        recover(top, EPOCH)
    last = names[::-1][:3]  # undone in reverse
    assert failed.value.message == (
        f"cannot undo the unfinished sync of {top}: " + "; ".join(f"{top}/x/{n}: File exists" for n in last) + more
    )
    assert failed.value.hint == (
        f"fix the cause and sync again; until then its journal and what it set aside stay in {top}/.uvroot-txn"
    )
    (top / "x").unlink()  # the cause fixed
    assert recover(top, EPOCH) == 0
    assert {p.name: p.read_text() for p in (top / "x").iterdir()} == {name: f"{name}\n" for name in names}
    assert sorted(p.name for p in top.iterdir()) == ["x"]


def test_undoing_a_publish_deletes_only_what_it_put_there(tmp_path: Path) -> None:
    from uvroot.txn import recover

    top = tmp_path / "top"
    (top / ".s" / "e").mkdir(parents=True)
    (top / ".s" / "e" / "x").write_text("staged, never renamed\n")
    (top / ".s" / "a").write_text("linked, killed before the staged name went\n")
    os.link(top / ".s" / "a", top / "fa")
    (top / ".s" / "b").write_text("staged\n")
    (top / "fb").write_text("theirs: the link failed, killed before its X\n")
    (top / "fc").write_text("linked, the staged name gone\n")
    (top / "de").mkdir()
    (top / "de" / "x").write_text("theirs\n")
    (top / "dg").mkdir()  # an empty directory, renamed
    (top / "dh" / "deep").mkdir(parents=True)
    (top / "dh" / "deep" / "x.py").write_text("mine\n")
    (top / "dh" / "in.py").write_text("mine\n")
    (top / "dh" / "sub").mkdir()  # a directory where a file of mine was
    (top / "dh" / "sub" / "theirs").write_text("theirs\n")
    (top / "escape.py").write_text("theirs\n")
    (top / "dn" / "x" / "y").mkdir(parents=True)
    (top / "dn" / "x" / "y" / "z.py").write_text("mine\n")  # all of it mine: all of it goes
    _forge(top, "S\t.s", "F\tx/y/z.py", "M\t.s/n\tdn", "M\t.s/a\tfa", "M\t.s/b\tfb", "M\t.s/c\tfc", "M\t.s/d\tfd", "F\tx", "M\t.s/e\tde",
           "M\t.s/g\tdg", "F\t../escape.py", "F\tgone.py", "F\tsub", "F\tin.py", "F\tdeep/x.py", "M\t.s/h\tdh")  # fmt: skip
    assert recover(top, EPOCH) == 5
    assert sorted(snapshot(top)) == ["de", "de/x", "dh", "dh/sub", "dh/sub/theirs", "escape.py", "fb"]
    assert (top / "fb").read_text().startswith("theirs")


def test_the_oldest_record_of_a_touched_directory_gives_its_mtime_back(tmp_path: Path) -> None:
    """Each process journals the mtime it saw, and when: the earliest record wins, whichever journal holds it."""
    from uvroot.txn import recover

    top = tmp_path / "top"
    for name in ("d", "e", "f", "big"):
        (top / name).mkdir(parents=True)
    _forge(top, "T\td\t5\t50", "T\te\t3000000000000\t7", "T\tf\t6000000000000", "T\tgone\t1000\t0",
           "T\tbig\t99999999999999999999\t0")  # fmt: skip
    (top / ".uvroot-txn" / "journal-0001-2").write_text(
        "B\t1\t\nT\td\t2000000000000\t10\nT\te\t4000000000000\t7\nT\tf\t7000000000000\t0\n"
    )
    assert recover(top, EPOCH) == 0
    mtimes = {name: (top / name).stat().st_mtime_ns for name in ("d", "e", "f")}
    assert mtimes == {"d": 2000000000000, "e": 3000000000000, "f": 6000000000000}
    assert sorted(p.name for p in top.iterdir()) == ["big", "d", "e", "f"]


def test_a_file_made_in_the_tick_the_journal_was_born_is_the_syncs(tmp_path: Path) -> None:
    from uvroot.txn import recover

    top = tmp_path / "top"
    top.mkdir()
    (top / "mine.py").write_text("mine\n")
    _forge(top, "N\tmine.py", "S\t.gone.uvroot-stage")  # its staging directory never made
    born = (top / "mine.py").stat().st_ctime_ns
    journal = top / ".uvroot-txn" / "journal-0000-1"
    journal.write_text(journal.read_text().replace("B\t1\t", f"B\t{born}\t", 1))
    assert recover(top, EPOCH) == 1
    assert list(top.iterdir()) == []


def test_a_worker_process_journals_apart_and_rolls_back_with_the_sync(tmp_path: Path) -> None:
    """A worker changes a directory first, the sync after it: the directory gets the mtime from before both."""
    import pickle

    from uvroot.txn import TXN_DIR, Transaction

    top = tmp_path / "top"
    (top / "lib").mkdir(parents=True)
    os.utime(top / "lib", (1000, 1000))
    was = _state(top)
    txn = Transaction.begin(top, EPOCH)
    assert not txn.attach()  # the process that began it has its journal
    txn.create(str(top / "main.py"), _write("main\n"))
    sent = pickle.dumps(txn)
    pid = os.fork()
    if pid == 0:  # a worker, as the process pool starts it
        code = 1
        try:
            worker = pickle.loads(sent)
            if worker.attach() and not worker.attach():
                worker.create(str(top / "lib" / "worker.py"), _write("worker\n"))
                worker.create(str(top / "pkg" / "worker.py"), _write("worker\n"))
                worker.close()
                code = 0
        finally:
            os._exit(code)
    assert os.waitpid(pid, 0)[1] == 0
    txn.create(str(top / "lib" / "main.py"), _write("main\n"))  # journals the mtime the worker left
    assert len([p for p in (top / TXN_DIR).iterdir() if p.name.startswith("journal-")]) == 2
    assert (top / "pkg" / "worker.py").read_text() == "worker\n"
    assert txn.rollback() == 4
    assert _state(top) == was


def test_a_directory_leading_out_of_the_tree_is_refused_naming_the_link(tmp_path: Path) -> None:
    from uvroot.txn import EscapeError, Transaction

    top, outside = tmp_path / "top", tmp_path / "top-sibling"  # its name starts with the top's: still outside
    (top / "usr").mkdir(parents=True)
    outside.mkdir()
    (top / "usr" / "lib").symlink_to(outside)
    txn = Transaction.begin(top, EPOCH)
    with pytest.raises(EscapeError) as refused:
        txn.create(str(top / "usr" / "lib" / "x.py"), _write("x\n"))
    assert refused.value.message == f"{top}/usr/lib leads outside {top} (to {outside}) through a symbolic link"
    assert refused.value.hint == "uvroot never writes outside the tree it was given; remove the link"
    txn.rollback()
    assert list(outside.iterdir()) == []


def test_a_sync_killed_after_so_many_files_leaves_what_recovery_undoes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """UVROOT_TEST_KILL_AFTER_FILES=3 (what tests/test_crash.py uses) dies once the third file is journalled."""
    from uvroot.txn import Transaction, recover

    top = tmp_path / "top"
    top.mkdir()
    monkeypatch.setenv("UVROOT_TEST_KILL_AFTER_FILES", "3")
    txn = Transaction.begin(top, EPOCH)
    txn.create(str(top / "one.py"), _write("1\n"))
    pid = os.fork()
    if pid == 0:  # the rest of the sync, in a process the kill may end
        try:
            for name in ("two.py", "three.py", "four.py"):
                txn.create(str(top / name), _write("later\n"))
        finally:
            os._exit(0)
    status = os.waitpid(pid, 0)[1]
    assert os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL
    assert sorted(p.name for p in top.iterdir()) == [".uvroot-txn", "one.py", "two.py"]  # three.py: journalled only
    txn.close()
    assert recover(top, EPOCH) == 2
    assert list(top.iterdir()) == []


def test_the_transaction_keeps_its_journal_private_and_makes_directories_0755(tmp_path: Path) -> None:
    from uvroot.txn import TXN_DIR, Transaction

    top = tmp_path / "top"
    top.mkdir()
    umask = os.umask(0o022)  # as sync sets it
    try:
        txn = Transaction.begin(top, EPOCH)
        txn.create(str(top / "new" / "deeper" / "a.py"), _write("a\n"))
        stage = top / ".x.uvroot-stage"
        txn.stage_dir(str(stage))
        txn.create_staged(str(stage / "pkg" / "sub" / "deep" / "b.py"), _write("b\n"))  # directories made at once
        txn.create_staged(str(stage / "pkg" / "c.py"), _write("c\n"))
        txn.create_staged(str(stage / "pkg" / "sub" / "d" / "e.py"), _write("e\n"))  # one more under one made
        modes = {p.relative_to(top).as_posix(): stat.S_IMODE(p.lstat().st_mode) for p in top.rglob("*") if p.is_dir()}
        journals = [p for p in (top / TXN_DIR).iterdir() if p.is_file()]
        assert [stat.S_IMODE(p.stat().st_mode) for p in journals] == [0o600]
        txn.rollback()
    finally:
        os.umask(umask)
    assert modes.pop(TXN_DIR) == 0o700 and modes.pop(f"{TXN_DIR}/aside") == 0o700
    assert set(modes.values()) == {0o755}
    assert sorted(modes) == [".x.uvroot-stage", ".x.uvroot-stage/pkg", ".x.uvroot-stage/pkg/sub",
                             ".x.uvroot-stage/pkg/sub/d", ".x.uvroot-stage/pkg/sub/deep", "new", "new/deeper"]  # fmt: skip
    assert list(top.iterdir()) == []


def test_setting_aside_outside_the_tree_or_the_tree_itself_is_refused(tmp_path: Path) -> None:
    from uvroot.txn import EscapeError, Transaction

    top = tmp_path / "top"
    top.mkdir()
    (tmp_path / "outside.py").write_text("not the tree's\n")
    txn = Transaction.begin(top, EPOCH)
    for path in (tmp_path / "outside.py", top):
        with pytest.raises(EscapeError) as refused:
            txn.set_aside(str(path))
        assert refused.value.message == f"{path} is outside {top}"
        assert refused.value.hint == "uvroot never writes outside the tree it was given"
    txn.rollback()
    assert (tmp_path / "outside.py").read_text() == "not the tree's\n" and list(top.iterdir()) == []


def test_a_journalled_publish_without_a_destination_deletes_nothing(tmp_path: Path) -> None:
    from uvroot.txn import recover

    top = tmp_path / "top"
    top.mkdir()
    (top / "keep.py").write_text("someone's\n")
    _forge(top, "F\tkeep.py", "M\t.s/x")  # (a line cut by hand, or by a disk error the journal's end did not see)
    assert recover(top, EPOCH) == 0
    assert (top / "keep.py").read_text() == "someone's\n"


def test_commit_stamps_the_directories_it_made_or_changed_and_those_a_publish_brought(tmp_path: Path) -> None:
    from uvroot.txn import Transaction

    top = tmp_path / "top"
    (top / "lib").mkdir(parents=True)
    (top / "keep").mkdir()
    for directory in (top / "lib", top / "keep"):
        os.utime(directory, (1000, 1000))
    txn = Transaction.begin(top, EPOCH)
    txn.create(str(top / "lib" / "a.py"), _write("a\n"))  # changes lib
    txn.create(str(top / "lib" / "new" / "b.py"), _write("b\n"))  # makes lib/new
    stage = top / ".x.uvroot-stage"
    txn.stage_dir(str(stage))
    for name in ("pkg/x.py", "pkg/sub/y.py", "pkg/sub2/z.py", "pkg/sub2/inner/w.py"):
        txn.create_staged(str(stage / name), _write(f"{name}\n"))
    assert txn.publish(str(stage / "pkg"), str(top / "pkg"))
    stage.rmdir()
    txn.commit()
    mtimes = {p.relative_to(top).as_posix(): p.stat().st_mtime_ns for p in top.rglob("*") if p.is_dir()}
    assert mtimes.pop("keep") == 1000 * 10**9
    assert set(mtimes.values()) == {EPOCH * 10**9}, mtimes
    assert sorted(mtimes) == ["lib", "lib/new", "pkg", "pkg/sub", "pkg/sub2", "pkg/sub2/inner"]


def test_a_staged_link_is_published_as_the_link(tmp_path: Path) -> None:
    from uvroot.txn import Transaction

    top = tmp_path / "top"
    top.mkdir()
    (tmp_path / "cached.py").write_text("cached\n")
    txn = Transaction.begin(top, EPOCH)
    stage = top / ".x.uvroot-stage"
    txn.stage_dir(str(stage))
    txn.create_staged(str(stage / "a.py"), lambda path: Path(path).symlink_to(tmp_path / "cached.py"))
    assert txn.publish(str(stage / "a.py"), str(top / "a.py"))
    stage.rmdir()
    txn.commit()
    assert (top / "a.py").readlink() == tmp_path / "cached.py" and (tmp_path / "cached.py").stat().st_nlink == 1


def test_a_file_name_that_is_not_utf8_is_journalled_and_undone(tmp_path: Path) -> None:
    from uvroot.txn import Transaction

    top = tmp_path / "top"
    top.mkdir()
    name = os.fsdecode(b"caf\xe9.py")  # latin-1 bytes, as an old wheel's RECORD may name them
    was = _state(top)
    txn = Transaction.begin(top, EPOCH)
    txn.create(str(top / name), _write("mine\n"))
    stage = top / ".x.uvroot-stage"
    txn.stage_dir(str(stage))
    txn.create_staged(str(stage / name / name), _write("mine\n"))
    assert txn.publish(str(stage / name), str(top / "pkg"))
    assert txn.rollback() == 2
    assert _state(top) == was


def test_what_commit_cannot_delete_is_reported_and_the_next_sync_finishes_the_job(tmp_path: Path) -> None:
    from uvroot.errors import InstallError
    from uvroot.txn import COMMITTED, TXN_DIR, Transaction, recover

    top = tmp_path / "top"
    top.mkdir()
    (top / "old.py").write_text("old\n")
    txn = Transaction.begin(top, EPOCH)
    txn.set_aside(str(top / "old.py"))
    aside = next((top / TXN_DIR / "aside").iterdir())
    if subprocess.run(["chattr", "+i", aside], capture_output=True, check=False).returncode != 0:
        txn.rollback()
        pytest.skip("cannot make a file immutable here (chattr +i needs root and ext4 or the like)")
    try:
        with pytest.raises(InstallError) as failed:
            txn.commit()
        assert failed.value.message == (
            f"the sync is complete, but what it replaced cannot be deleted from {top}/{TXN_DIR}/aside"
        )
        assert failed.value.hint == "make it deletable (permissions, chattr -i) and sync again, which finishes the job"
        assert stat.S_IMODE((top / TXN_DIR / COMMITTED).stat().st_mode) == 0o600
    finally:
        subprocess.run(["chattr", "-i", aside], check=True)
    assert recover(top, EPOCH) == 0
    assert list(top.iterdir()) == []


@pytest.mark.parametrize(
    ("error", "hint"),
    [
        (errno.ENOSPC, "the disk is full: free some space and sync again (nothing of this sync was kept)"),
        (errno.EACCES, "choose a tree you can write to, or run with the permissions it needs"),
        (errno.EPERM, "choose a tree you can write to, or run with the permissions it needs"),
        (errno.EROFS, "choose a tree you can write to, or run with the permissions it needs"),
        (errno.EIO, "nothing of this sync was kept"),
    ],
)
def test_a_write_error_names_the_path_the_cause_and_what_to_do(error: int, hint: str) -> None:
    from uvroot.txn import write_error

    named = write_error(OSError(error, os.strerror(error), "/tree/usr/x.py"), "/tree")
    assert (named.message, named.hint) == (f"cannot write /tree/usr/x.py: {os.strerror(error)}", hint)
    unnamed = write_error(OSError(error, os.strerror(error)), "/tree")
    assert unnamed.message == f"cannot write /tree: {os.strerror(error)}"
    bare = write_error(OSError("no errno"))
    assert bare.message == "cannot write None: no errno" and bare.hint == "nothing of this sync was kept"


def test_a_tree_that_cannot_be_locked_or_begun_is_a_clear_error(tmp_path: Path) -> None:
    from uvroot.errors import InstallError
    from uvroot.txn import TXN_DIR, Transaction, locked

    (tmp_path / "file").write_text("a file, not a directory\n")
    with pytest.raises(InstallError) as refused, locked(tmp_path / "file" / "top", print):
        pass
    assert refused.value.message == f"cannot write {tmp_path}/file/top: Not a directory"
    top = tmp_path / "top"
    (top / TXN_DIR).mkdir(parents=True)
    with pytest.raises(InstallError) as refused:
        Transaction.begin(top, EPOCH)
    assert refused.value.message == f"cannot write {top}/{TXN_DIR}: File exists"
    assert refused.value.hint == "nothing of this sync was kept"


def _sync_behind(
    held: Path, top: Path, inside: Callable[[], bool], while_waiting: Callable[[], object] = lambda: None
) -> tuple[list[bool], list[bool], list[str]]:
    """Another sync holds ``held``'s lock; a sync of ``top`` starts in a thread.  Once it says it waits,
    ``while_waiting`` runs and the lock is released.  What ``inside`` (run under the lock) gave by the
    time it said so and at the end, and what it said."""
    import fcntl
    import threading

    from uvroot.txn import locked

    fd = os.open(held, os.O_RDONLY)
    fcntl.flock(fd, fcntl.LOCK_EX)
    messages: list[str] = []
    waited = threading.Event()
    results: list[bool] = []

    def sync() -> None:
        with locked(top, lambda message: (messages.append(message), waited.set())):
            results.append(inside())

    thread = threading.Thread(target=sync)
    thread.start()
    try:
        assert waited.wait(60)
        before = list(results)
        while_waiting()
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)
    thread.join()
    return before, results, messages


def test_a_sync_waits_for_one_holding_a_tree_around_its_own(tmp_path: Path) -> None:
    top = tmp_path / "root" / "usr" / "local"
    top.mkdir(parents=True)
    before, after, messages = _sync_behind(tmp_path / "root", top, lambda: True)  # a sync of the whole root
    assert before == [] and after == [True]
    assert messages == [f"waiting for another uvroot sync of {top} (or of a tree around it) to finish"]


def test_recovery_restores_what_was_set_aside_only_where_nothing_came_since(tmp_path: Path) -> None:
    from uvroot.txn import recover

    top = tmp_path / "top"
    top.mkdir()
    (top / "back.py").write_text("written after the kill\n")
    _forge(top, "A\tmissing.py\t1-1", "A\tback.py\t1-2", "A\tpkg/old.py\t1-3")
    (top / ".uvroot-txn" / "aside" / "1-2").write_text("set aside\n")
    (top / ".uvroot-txn" / "aside" / "1-3").write_text("old\n")
    assert recover(top, EPOCH) == 0
    assert {p.relative_to(top).as_posix(): p.read_text() for p in top.rglob("*") if p.is_file()} == {
        "back.py": "written after the kill\n",
        "pkg/old.py": "old\n",
    }


def test_a_transaction_leaves_no_descriptor_open(tmp_path: Path) -> None:
    from uvroot.txn import Transaction

    top = tmp_path / "top"
    top.mkdir()
    before = len(list(Path("/proc/self/fd").iterdir()))
    for end in ("commit", "rollback"):
        txn = Transaction.begin(top, EPOCH)
        txn.create(str(top / f"{end}.py"), _write("x\n"))
        getattr(txn, end)()
        txn.close()  # closing again is harmless
    assert len(list(Path("/proc/self/fd").iterdir())) == before
    assert [p.name for p in top.iterdir()] == ["commit.py"]


def test_journal_lines_are_read_as_written_and_lines_before_a_birth_are_ignored(tmp_path: Path) -> None:
    """Names with spaces, digits only or escapes the journal never writes; a journal with no B line proves nothing."""
    from uvroot.txn import recover

    top = tmp_path / "top"
    top.mkdir()
    for name in ("my file.py", "42", "bad", "end", "unborn.py", "pkg/in.py"):
        (top / name).parent.mkdir(exist_ok=True)
        (top / name).write_text("created after the journal was born\n")
    _forge(top, "N\tmy file.py", "N\t42", "N\tbad\\q", "N\tend\\",  # unknown escape, cut escape: dropped
           "F\tin.py\tjunk", "M\t.s/pkg\tpkg",  # a field too many: the first one counts
           "N\t../outside.py")  # skipped, not the end of the undo  # fmt: skip
    (top / ".uvroot-txn" / "journal-0001-2").write_text("N\tunborn.py\nD\tunborn.py\n")
    assert recover(top, EPOCH) == 5
    assert sorted(p.name for p in top.iterdir()) == ["unborn.py"]


def test_a_commit_stopped_while_its_journal_is_dropped_stays_committed(tmp_path: Path) -> None:
    """The journals go first, COMMITTED last: whatever stops the cleanup, the next sync finishes, never undoes."""
    from uvroot.txn import TXN_DIR, Transaction, recover

    top = tmp_path / "top"
    top.mkdir()
    txn = Transaction.begin(top, EPOCH)
    txn.create(str(top / "new.py"), _write("committed\n"))
    journal = next(p for p in (top / TXN_DIR).iterdir() if p.name.startswith("journal-"))
    if subprocess.run(["chattr", "+i", journal], capture_output=True, check=False).returncode != 0:
        txn.rollback()
        pytest.skip("cannot make a file immutable here (chattr +i needs root and ext4 or the like)")
    try:
        with pytest.raises(PermissionError):
            txn.commit()
    finally:
        subprocess.run(["chattr", "-i", journal], check=True)
    assert recover(top, EPOCH) == 0
    assert [p.name for p in top.iterdir()] == ["new.py"] and (top / "new.py").read_text() == "committed\n"


def test_a_sync_waiting_for_the_tree_locks_it_again_when_the_one_before_removed_it(tmp_path: Path) -> None:
    """The sync it waited for failed and removed the tree it had made: the waiting one makes and locks its own."""
    top = tmp_path / "root"
    top.mkdir()
    # the sync before holds the top, fails and removes the tree it made
    before, found, messages = _sync_behind(top, top, top.is_dir, top.rmdir)
    assert before == [] and found == [True]
    assert messages == [f"waiting for another uvroot sync of {top} (or of a tree around it) to finish"]


def test_replacing_never_sets_a_directory_aside(tmp_path: Path) -> None:
    from uvroot.txn import Transaction

    top = tmp_path / "top"
    (top / "pkg").mkdir(parents=True)
    (top / "pkg" / "theirs.py").write_text("theirs\n")
    was = _state(top)
    txn = Transaction.begin(top, EPOCH)
    with pytest.raises(FileExistsError):
        txn.create(str(top / "pkg"), _write("a file where a directory is\n"), replace=True)
    txn.rollback()
    assert _state(top) == was


@pytest.mark.parametrize("end", ["rollback", "commit"])
def test_a_file_announced_then_cancelled_is_not_the_syncs_to_delete_or_stamp(tmp_path: Path, end: str) -> None:
    """The compiler did not write the bytecode it was given: whatever appears there later is someone else's."""
    from uvroot.txn import Transaction

    top = tmp_path / "top"
    (top / "pkg").mkdir(parents=True)
    txn = Transaction.begin(top, EPOCH)
    txn.expect(str(top / "pkg" / "mod.pyc"))
    txn.cancel(str(top / "pkg" / "mod.pyc"))
    (top / "pkg" / "mod.pyc").write_text("someone's, newer than the journal\n")
    os.utime(top / "pkg" / "mod.pyc", (1000, 1000))
    getattr(txn, end)()
    assert (top / "pkg" / "mod.pyc").read_text() == "someone's, newer than the journal\n"
    assert (top / "pkg" / "mod.pyc").stat().st_mtime_ns == 1000 * 10**9


def test_a_transaction_sent_to_a_worker_opens_a_journal_of_its_own(tmp_path: Path) -> None:
    import pickle

    from uvroot.txn import TXN_DIR, Transaction

    top = tmp_path / "top"
    top.mkdir()
    txn = Transaction.begin(top, EPOCH)
    copy = pickle.loads(pickle.dumps(txn))  # what a worker receives: no descriptor, no lock, no process
    assert copy.attach()
    copy.create(str(top / "worker.py"), _write("worker\n"))
    copy.close()
    assert len([p for p in (top / TXN_DIR).iterdir() if p.name.startswith("journal-")]) == 2
    assert txn.rollback() == 1
    assert list(top.iterdir()) == []


def test_stamping_the_top_never_follows_a_link_and_a_missing_top_is_no_error(tmp_path: Path) -> None:
    from uvroot.txn import stamp_top

    real, top = tmp_path / "real", tmp_path / "top"
    real.mkdir()
    os.utime(real, (1000, 1000))
    top.symlink_to(real)
    stamp_top(top, EPOCH)
    assert real.stat().st_mtime_ns == 1000 * 10**9 and top.lstat().st_mtime_ns == EPOCH * 10**9
    stamp_top(tmp_path / "missing", EPOCH)
    assert not (tmp_path / "missing").exists()
