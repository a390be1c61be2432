"""Each layout puts every part of a wheel where the target system expects it."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.support.cli import check_record, uvroot
from tests.support.index import LocalIndex

DEPS = ["alpha", "gadgets"]


@pytest.fixture
def project(make_locked_project: Callable[..., Path]) -> Path:
    return make_locked_project(dependencies=DEPS, requires_python=">=3.10")


def _sync(project: Path, cache: Path, *layout: str | Path, version: str = "3.12") -> None:
    result = uvroot(
        "sync",
        "--project",
        project,
        *layout,
        "--python-version",
        version,
        "--python-platform",
        "x86_64-manylinux_2_28",
        cache=cache,
    )
    assert result.exit_code == 0, result.output


def _executable(path: Path) -> bool:
    return bool(path.stat().st_mode & stat.S_IXUSR)


def test_root_mirrors_a_python_image(project: Path, tmp_path: Path, uvroot_cache: Path) -> None:
    root = tmp_path / "root"
    _sync(project, uvroot_cache, "--root", root)
    local = root / "usr/local"
    site = local / "lib/python3.12/site-packages"
    assert sorted(p.name for p in root.iterdir()) == ["usr"]  # nothing else at the top: no .lock, no venv files
    assert (site / "alpha/__init__.py").is_file() and (site / "beta/__init__.py").is_file()
    assert (local / "bin/alpha").read_text().startswith("#!/usr/local/bin/python3.12\n")
    assert (local / "bin/gadget-tool").read_text() == '#!/usr/local/bin/python3.12\nprint("gadget-tool ok")\n'
    assert (local / "bin/gadget.sh").read_text().startswith("#!/bin/sh\n")  # not a python script: untouched
    assert all(_executable(local / "bin" / name) for name in ("alpha", "gadget", "gadget-tool", "gadget.sh"))
    assert (local / "include/python3.12/gadgets/gadgets.h").is_file()
    assert (local / "share/gadgets/readme.txt").read_text() == "gadgets readme\n"


def test_dist_info_is_complete_and_records_are_valid(project: Path, tmp_path: Path, uvroot_cache: Path) -> None:
    root = tmp_path / "root"
    _sync(project, uvroot_cache, "--root", root)
    site = root / "usr/local/lib/python3.12/site-packages"
    infos = {p.name: p for p in site.glob("*.dist-info")}
    assert sorted(infos) == ["alpha-1.0.dist-info", "beta-2.0.dist-info", "gadgets-1.0.dist-info"]
    for info in infos.values():
        assert (info / "INSTALLER").read_text() == "uvroot\n"
        assert check_record(info) == []
        assert not (info / "direct_url.json").exists()  # registry installs must not have one (PEP 610)
    assert (infos["alpha-1.0.dist-info"] / "REQUESTED").exists()
    assert not (infos["beta-2.0.dist-info"] / "REQUESTED").exists()  # only a transitive dependency
    record = (infos["gadgets-1.0.dist-info"] / "RECORD").read_text()
    assert "../../../bin/gadget-tool," in record and "../../../include/python3.12/gadgets/gadgets.h," in record
    state = json.loads((infos["alpha-1.0.dist-info"] / "uvroot.json").read_text())
    assert state["wheel"] == "alpha-1.0-py3-none-any.whl" and len(state["sha256"]) == 64


def test_prefix_writes_the_same_scheme_at_the_prefix(project: Path, tmp_path: Path, uvroot_cache: Path) -> None:
    prefix = tmp_path / "opt/app"
    _sync(project, uvroot_cache, "--prefix", prefix)
    assert (prefix / "lib/python3.12/site-packages/alpha/__init__.py").is_file()
    assert (prefix / "bin/alpha").read_text().startswith(f"#!{prefix}/bin/python3.12\n")
    assert (prefix / "include/python3.12/gadgets/gadgets.h").is_file()


def test_root_with_prefix_and_shebang(project: Path, tmp_path: Path, uvroot_cache: Path) -> None:
    root = tmp_path / "root"
    _sync(project, uvroot_cache, "--root", root, "--prefix", "/usr", "--shebang", "/usr/bin/python3")
    assert (root / "usr/lib/python3.12/site-packages/alpha/__init__.py").is_file()
    assert (root / "usr/bin/alpha").read_text().startswith("#!/usr/bin/python3\n")


def test_target_is_flat(project: Path, tmp_path: Path, uvroot_cache: Path) -> None:
    target = tmp_path / "lambda"
    _sync(project, uvroot_cache, "--target", target, version="3.11")
    assert (target / "alpha/__init__.py").is_file() and (target / "beta-1.0.dist-info").is_dir()
    assert (target / "bin/alpha").read_text().startswith("#!/usr/bin/env python3.11\n")
    assert (target / "include/python/gadgets/gadgets.h").is_file()
    assert (target / "share/gadgets/readme.txt").is_file()
    record = (target / "alpha-1.0.dist-info/RECORD").read_text()
    assert "bin/alpha," in record and "../" not in record  # pip writes ../../bin here (pypa/pip#7658)


def test_target_refuses_a_foreign_non_empty_directory(project: Path, tmp_path: Path, uvroot_cache: Path) -> None:
    target = tmp_path / "vendor"
    target.mkdir()
    (target / "mine.py").write_text("precious = True\n")
    result = uvroot("sync", "--project", project, "--target", target, cache=uvroot_cache)
    assert result.exit_code == 2
    assert "not empty and was not created by uvroot" in result.output
    assert sorted(p.name for p in target.iterdir()) == ["mine.py"]


def test_user_layout_under_root(project: Path, tmp_path: Path, uvroot_cache: Path) -> None:
    root = tmp_path / "root"
    result = uvroot(
        "sync",
        "--project",
        project,
        "--user",
        "--root",
        root,
        "--python-version",
        "3.12",
        "--python-platform",
        "linux",
        cache=uvroot_cache,
        env={"PYTHONUSERBASE": "/home/app/.local"},
    )
    assert result.exit_code == 0, result.output
    base = root / "home/app/.local"
    assert (base / "lib/python3.12/site-packages/alpha/__init__.py").is_file()
    assert (base / "bin/alpha").read_text().startswith("#!/usr/local/bin/python3.12\n")


def test_resync_keeps_replaces_and_removes_only_its_own(
    make_locked_project: Callable[..., Path], tmp_path: Path, uvroot_cache: Path
) -> None:
    root = tmp_path / "root"
    site = root / "usr/local/lib/python3.12/site-packages"
    first = make_locked_project(dependencies=["alpha", "gadgets"], requires_python=">=3.10")
    _sync(first, uvroot_cache, "--root", root)
    (site / "foreign.py").write_text("# installed by someone else\n")
    mtime = (site / "alpha/__init__.py").stat().st_mtime_ns
    second = make_locked_project(dependencies=["alpha", "docstool"], requires_python=">=3.10")
    _sync(second, uvroot_cache, "--root", root)
    assert (site / "alpha/__init__.py").stat().st_mtime_ns == mtime  # kept, not rewritten
    assert not (site / "gadgets").exists() and not (root / "usr/local/bin/gadget").exists()
    assert not (root / "usr/local/share").exists()  # emptied directories are pruned
    assert (site / "docstool-1.0.dist-info").is_dir() and (site / "foreign.py").is_file()
    again = uvroot(
        "sync",
        "--project",
        second,
        "--root",
        root,
        "--python-version",
        "3.12",
        "--python-platform",
        "x86_64-manylinux_2_28",
        cache=uvroot_cache,
    )
    assert "is up to date (3 packages" in again.output


def test_direct_url_wheel_gets_direct_url_json(
    make_locked_project: Callable[..., Path], index: LocalIndex, tmp_path: Path, uvroot_cache: Path
) -> None:
    url = f"{index.files_url}/fancy_dep-1.0-py3-none-any.whl"
    project = make_locked_project(dependencies=["alpha", f"fancy-dep @ {url}"], requires_python=">=3.10")
    assert f'source = {{ url = "{url}" }}' in (project / "uv.lock").read_text()
    root = tmp_path / "root"
    _sync(project, uvroot_cache, "--root", root)
    info = root / "usr/local/lib/python3.12/site-packages/fancy_dep-1.0.dist-info"
    direct = json.loads((info / "direct_url.json").read_text())
    assert direct["url"] == url
    assert direct["archive_info"]["hash"].startswith("sha256=")
    assert check_record(info) == [] and "direct_url.json," in (info / "RECORD").read_text()


def test_target_launchers_find_their_own_directory(project: Path, tmp_path: Path, uvroot_cache: Path) -> None:
    # pip's and uv's --target launchers need PYTHONPATH=DIR; uvroot's run as they are.
    target = tmp_path / "bundle"
    _sync(project, uvroot_cache, "--target", target, version=f"{sys.version_info[0]}.{sys.version_info[1]}")
    env = {key: value for key, value in os.environ.items() if key not in ("PYTHONPATH", "PYTHONHOME")}
    done = subprocess.run(
        [sys.executable, str(target / "bin/alpha")], capture_output=True, text=True, env=env, cwd=tmp_path, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("alpha 1.0")


def test_summary_counts_each_file_once(project: Path, tmp_path: Path, uvroot_cache: Path) -> None:
    root = tmp_path / "root"
    result = uvroot("sync", "--project", project, "--root", root, "--python-version", "3.12", cache=uvroot_cache)
    files = sum(1 for path in root.rglob("*") if path.is_file())
    assert f"staged 3 packages ({files} files from" in result.output


def test_target_warns_about_pth_files_python_would_ignore(
    make_locked_project: Callable[..., Path], tmp_path: Path, uvroot_cache: Path
) -> None:
    project = make_locked_project(dependencies=["pthy"], requires_python=">=3.10")
    target = tmp_path / "bundle"
    result = uvroot("sync", "--project", project, "--target", target, cache=uvroot_cache)
    assert result.exit_code == 0, result.output
    assert f"pthy ships pthy.pth, which Python ignores when --target {target} is on PYTHONPATH" in result.output
    # What the notice says, with a real interpreter: ignored on PYTHONPATH, run by site.addsitedir.
    env = {"PYTHONPATH": str(target)}
    check = "import pthy; print(pthy.ON)"
    plain = subprocess.run([sys.executable, "-c", check], env=env, capture_output=True, text=True, check=True)
    added = f"import site; site.addsitedir({str(target)!r}); {check}"
    sited = subprocess.run([sys.executable, "-c", added], capture_output=True, text=True, check=True)
    assert (plain.stdout.strip(), sited.stdout.strip()) == ("False", "True")
    root = tmp_path / "root"
    quiet = uvroot("sync", "--project", project, "--root", root, cache=uvroot_cache)
    assert "pthy.pth" not in quiet.output  # site-packages runs it: nothing to say
