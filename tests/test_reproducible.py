"""Same lock and flags, same tree: bytes, modes and mtimes; and bytecode only from the target's version."""

from __future__ import annotations

import hashlib
import io
import os
import subprocess
import tarfile
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.support.cli import check_record, uvroot
from tests.support.overlay import find_cpython

SITE = "usr/local/lib/python3.12/site-packages"
TARGET = ["--python-version", "3.12", "--python-platform", "x86_64-manylinux_2_28"]


@pytest.fixture
def project(make_locked_project: Callable[..., Path]) -> Path:
    return make_locked_project(dependencies=["alpha[fancy]", "gadgets", "native"], requires_python=">=3.10")


def _python(version: str) -> Path:
    prefix = find_cpython(version)
    if prefix is None:
        pytest.skip(f"no CPython {version} on this machine")
    return prefix / "bin" / f"python{version}"


def _sync(project: Path, *args: str | Path, cache: Path, env: dict[str, str] | None = None) -> None:
    result = uvroot("sync", "--project", project, *TARGET, *args, cache=cache, env=env)
    assert result.exit_code == 0, result.output


def tar_digest(root: Path) -> str:
    """sha256 of a tar of ``root`` as ``docker build`` would layer it: names, modes, mtimes, links, bytes."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as archive:
        for path in [root, *sorted(root.rglob("*"))]:
            info = archive.gettarinfo(str(path), arcname=str(path.relative_to(root)))
            info.uid = info.gid = 0
            info.uname = info.gname = ""
            info.pax_headers = {}
            if info.isreg():
                with path.open("rb") as stream:
                    archive.addfile(info, stream)
            else:
                archive.addfile(info)
    return hashlib.sha256(buffer.getvalue()).hexdigest()


def test_two_independent_syncs_give_byte_identical_trees(project: Path, tmp_path: Path) -> None:
    compile_python = _python("3.12")
    flags = ["--compile-bytecode", "--compile-python", str(compile_python)]
    one, two = tmp_path / "one", tmp_path / "two"
    # One: a cold cache, copies, the usual umask.
    _sync(project, "--root", one, "--link-mode", "copy", *flags, cache=tmp_path / "cache-1")
    # Two: another cache warmed by an earlier, different sync; hard links; a strict umask;
    # the tree built in two steps (gadgets added by a second sync).
    cache = tmp_path / "cache-2"
    _sync(project, "--root", tmp_path / "warm", "--link-mode", "hardlink", cache=cache)
    previous = os.umask(0o077)
    try:
        _sync(project, "--root", two, "--link-mode", "hardlink", "--no-install-package", "gadgets", *flags, cache=cache)
        _sync(project, "--root", two, "--link-mode", "hardlink", *flags, cache=cache)
    finally:
        os.umask(previous)
    assert tar_digest(one) == tar_digest(two)
    mtimes = {path.lstat().st_mtime for path in [one, *one.rglob("*")]}
    assert mtimes == {315532800}  # 1980-01-01: every file and directory, RECORD and scripts included
    modes = {oct(path.stat().st_mode & 0o777) for path in one.rglob("*")}
    assert modes == {"0o644", "0o755"}
    assert list(one.rglob("*.cpython-312.pyc"))


def test_source_date_epoch_sets_every_mtime(project: Path, tmp_path: Path, uvroot_cache: Path) -> None:
    root = tmp_path / "root"
    for link_mode in ("hardlink", "clone", "copy"):  # a hard link would share the cache's mtime: not used then
        _sync(project, "--root", root, "--link-mode", link_mode, "--reinstall", cache=uvroot_cache,
              env={"SOURCE_DATE_EPOCH": "1700000000"})  # fmt: skip
        assert {path.lstat().st_mtime for path in [root, *root.rglob("*")]} == {1700000000}
    cached = {path.lstat().st_mtime for path in uvroot_cache.glob("unpacked-v2/*/*/*/**/*") if path.is_file()}
    assert cached == {315532800}  # the cache itself was not restamped
    result = uvroot("sync", "--project", project, "--root", root, env={"SOURCE_DATE_EPOCH": "yesterday"})
    assert result.exit_code == 2 and "SOURCE_DATE_EPOCH='yesterday'" in result.output


def test_bytecode_is_the_targets_hash_based_and_recorded(project: Path, tmp_path: Path, uvroot_cache: Path) -> None:
    python = _python("3.12")
    root = tmp_path / "root"
    _sync(project, "--root", root, "--compile-bytecode", "--compile-python", python, cache=uvroot_cache)
    site = root / SITE
    pycs = sorted(site.rglob("*.pyc"))
    assert pycs and all(".cpython-312.pyc" in p.name for p in pycs)
    assert (site / "alpha/__pycache__/__init__.cpython-312.pyc") in pycs
    for pyc in pycs:
        assert int.from_bytes(pyc.read_bytes()[4:8], "little") == 0b11  # hash-based, checked (PEP 552)
    for info in site.glob("*.dist-info"):
        assert check_record(info) == []
    assert "alpha/__pycache__/__init__.cpython-312.pyc,sha256=" in (site / "alpha-1.0.dist-info/RECORD").read_text()
    # The target's interpreter loads them (they match their sources) and they name the image's paths.
    code = "import marshal, sys; print(marshal.loads(open(sys.argv[1], 'rb').read()[16:]).co_filename)"
    pyc = site / "alpha/__pycache__/__init__.cpython-312.pyc"
    named = subprocess.run([python, "-c", code, pyc], capture_output=True, text=True, check=True).stdout.strip()
    assert named == f"/{SITE}/alpha/__init__.py"
    verbose = subprocess.run([python, "-v", "-c", "import alpha"], env={"PYTHONPATH": str(site)},
                             capture_output=True, text=True, check=True).stderr  # fmt: skip
    assert f"# code object from '{pyc}'" in verbose
    # Removing a package removes its bytecode too (RECORD lists it).
    _sync(project, "--root", root, "--no-install-package", "alpha", "--compile-bytecode", "--compile-python", python,
          cache=uvroot_cache)  # fmt: skip
    assert not (site / "alpha").exists()


def test_bytecode_of_another_version_is_refused(project: Path, tmp_path: Path, uvroot_cache: Path) -> None:
    root = tmp_path / "root"
    wrong = _python("3.11")
    result = uvroot("sync", "--project", project, "--root", root, *TARGET, "--compile-bytecode",
                    "--compile-python", str(wrong), cache=uvroot_cache)  # fmt: skip
    assert result.exit_code == 2
    assert "is cpython 3.11, and the target is CPython 3.12" in " ".join(result.output.split())
    assert not root.exists()
    # None on PATH: the error names what was tried; nothing is written.
    result = uvroot("sync", "--project", project, "--root", root, "--python-version", "3.10", "--compile-bytecode",
                    cache=uvroot_cache, env={"PATH": str(tmp_path / "empty")})  # fmt: skip
    assert result.exit_code == 2, result.output
    assert "needs a CPython 3.10 interpreter, and none was found" in " ".join(result.output.split())
    assert not root.exists()


def test_switching_bytecode_on_recompiles_kept_packages(project: Path, tmp_path: Path, uvroot_cache: Path) -> None:
    python = _python("3.12")
    root = tmp_path / "root"
    _sync(project, "--root", root, cache=uvroot_cache)
    assert not list(root.rglob("*.pyc"))
    _sync(project, "--root", root, "--compile-bytecode", "--compile-python", python, cache=uvroot_cache)
    assert (root / SITE / "beta/__pycache__/__init__.cpython-312.pyc").is_file()
    _sync(project, "--root", root, cache=uvroot_cache)
    assert not list(root.rglob("*.pyc"))
