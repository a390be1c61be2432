"""Every kind of locked source stages: the project, workspace members, path, directory, git and sdist-only.

Each source is built (non-editable) with a real PEP 517 frontend against the
local index, whose `tinybuild` backend is a real build backend.  What gets
installed is compared with `uv sync --frozen --no-editable` into a venv from the
same lock (uv as the oracle); what gets staged is imported and run.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from email.parser import HeaderParser
from pathlib import Path

import pytest
from packaging.utils import canonicalize_name

from tests.support.cli import check_record, uvroot
from tests.support.index import LocalIndex
from tests.support.sources import git_requirement

HOST = f"{sys.version_info[0]}.{sys.version_info[1]}"


def _installed(directory: Path) -> list[str]:
    found = []
    for meta in directory.glob("*.dist-info/METADATA"):
        headers = HeaderParser().parsestr(meta.read_text(), headersonly=True)
        found.append(f"{canonicalize_name(headers['Name'])}=={headers['Version']}")
    return sorted(found)


def _stage_target(project: Path, target: Path, cache: Path, *flags: str) -> list[str]:
    result = uvroot("sync", "--project", project, "--target", target, "--python-version", HOST, *flags, cache=cache)
    assert result.exit_code == 0, result.output
    return _installed(target)


def _run(target: Path, *argv: str) -> str:
    # A real interpreter runs the staged code with nothing but the target directory on its path.
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV")}
    done = subprocess.run(argv, capture_output=True, text=True, env={**env, "PYTHONPATH": str(target)}, check=False)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_project_itself_is_built_non_editable(
    make_locked_project: Callable[..., Path], tmp_path: Path, uvroot_cache: Path, oracle_sync: Callable[..., list[str]]
) -> None:
    project = make_locked_project(
        name="shop",
        dependencies=["alpha"],
        backend="tinybuild",
        scripts={"shop": "shop:main"},
        requires_python=">=3.10",
    )
    target = tmp_path / "target"
    assert _stage_target(project, target, uvroot_cache) == oracle_sync(project)
    assert (target / "shop/__init__.py").is_file() and not list(target.glob("*.pth"))  # not editable
    assert _run(target, str(target / "bin/shop")).strip() == "shop 0.1.0"
    info = next(target.glob("shop-*.dist-info"))
    assert json.loads((info / "direct_url.json").read_text()) == {"url": project.resolve().as_uri(), "dir_info": {}}
    assert check_record(info) == []


def test_workspace_selection_matches_uv_sync(
    make_workspace: Callable[..., Path], tmp_path: Path, uvroot_cache: Path, oracle_sync: Callable[..., list[str]]
) -> None:
    workspace = make_workspace()
    cases = [
        [],
        ["--package", "app"],
        ["--all-packages"],
        ["--no-install-project"],
        ["--no-install-workspace"],
        ["--no-install-local"],
        ["--no-install-package", "core"],
        ["--package", "core"],
    ]
    seen = set()
    for number, flags in enumerate(cases):
        ours = _stage_target(workspace, tmp_path / f"t{number}", uvroot_cache, *flags)
        assert ours == oracle_sync(workspace, flags), flags
        seen.add(tuple(ours))
    assert len(seen) >= 5  # the flags really select different sets
    assert _run(tmp_path / "t0", str(tmp_path / "t0/bin/app")).strip() == "app 2.0"


def test_path_directory_and_git_sources(
    make_locked_project: Callable[..., Path],
    make_package: Callable[..., Path],
    make_git_package: Callable[..., tuple[str, str]],
    tmp_path: Path,
    uvroot_cache: Path,
    oracle_sync: Callable[..., list[str]],
) -> None:
    make_package(name="pathdep", dependencies=["beta"])
    make_package(name="dirdep")
    url, commit = make_git_package(name="gitpkg", scripts={"gitpkg": "gitpkg:main"})
    sub_url, sub_commit = make_git_package(subdirectory="sub", name="subpkg")
    project = make_locked_project(
        dependencies=[
            "pathdep",
            f"dirdep @ {(tmp_path / 'libs/dirdep').as_uri()}",
            git_requirement("gitpkg", url, commit),
            git_requirement("subpkg", sub_url, sub_commit, subdirectory="sub"),
        ],
        sources={"pathdep": {"path": "../libs/pathdep"}},
        requires_python=">=3.10",
    )
    target = tmp_path / "target"
    assert _stage_target(project, target, uvroot_cache) == oracle_sync(project)
    assert _run(target, sys.executable, "-c", "import pathdep, dirdep, gitpkg, subpkg, beta; print(subpkg.VALUE)") == (
        "subpkg 1.0\n"
    )
    assert _run(target, str(target / "bin/gitpkg")).strip() == "gitpkg 1.0"
    vcs = json.loads(next(target.glob("gitpkg-*.dist-info/direct_url.json")).read_text())
    assert vcs["vcs_info"] == {"vcs": "git", "commit_id": commit} and vcs["url"].startswith("file://")
    sub = json.loads(next(target.glob("subpkg-*.dist-info/direct_url.json")).read_text())
    assert sub["subdirectory"] == "sub" and sub["vcs_info"]["commit_id"] == sub_commit


def test_sdist_only_package_is_verified_built_once_and_cached(
    make_locked_project: Callable[..., Path], index: LocalIndex, tmp_path: Path, oracle_sync: Callable[..., list[str]]
) -> None:
    project = make_locked_project(dependencies=["sdistonly"], requires_python=">=3.10")
    cache = tmp_path / "cache"
    first = tmp_path / "first"
    assert _stage_target(project, first, cache) == oracle_sync(project)
    assert _run(first, str(first / "bin/sdistonly")).strip() == "sdistonly 1.0"
    assert not (next(first.glob("sdistonly-*.dist-info")) / "direct_url.json").exists()  # a registry install
    built = list(cache.glob("built-v1/*/*.whl"))
    assert len(built) == 1
    index.reset()
    result = uvroot(
        "sync", "--project", project, "--target", tmp_path / "second", "--python-version", HOST, "-v", cache=cache
    )
    assert result.exit_code == 0 and "building" not in result.output  # the cached build is reused
    assert index.sdist_downloads() == []
    foreign = ["--python-version", "3.12", "--python-platform", "aarch64-unknown-linux-musl"]
    other = uvroot("sync", "--project", project, "--target", tmp_path / "third", *foreign, "-v", cache=cache)
    assert other.exit_code == 0 and "building" not in other.output, other.output  # pure: one build for every target
    assert (tmp_path / "third/sdistonly/__init__.py").read_bytes() == (first / "sdistonly/__init__.py").read_bytes()


def test_tampered_sdist_is_refused_before_building(
    make_locked_project: Callable[..., Path], index: LocalIndex, tmp_path: Path
) -> None:
    project = make_locked_project(dependencies=["alpha", "sdistonly"], requires_python=">=3.10")
    index.corrupt("sdistonly-1.0.tar.gz")
    try:
        result = uvroot("sync", "--project", project, "--root", tmp_path / "root", cache=tmp_path / "cache")
    finally:
        index.reset()
    assert (
        result.exit_code == 5 and "sdistonly-1.0.tar.gz" in result.output and "does not match uv.lock" in result.output
    )
    assert not (tmp_path / "root").exists()


def test_local_tree_is_rebuilt_only_when_it_changes(
    make_locked_project: Callable[..., Path], tmp_path: Path, uvroot_cache: Path
) -> None:
    project = make_locked_project(name="shop", dependencies=["alpha"], backend="tinybuild", requires_python=">=3.10")
    root = tmp_path / "root"
    args = ["sync", "--project", project, "--root", root, "--python-version", HOST, "-v"]
    assert "building shop" in uvroot(*args, cache=uvroot_cache).output
    again = uvroot(*args, cache=uvroot_cache)
    assert "building" not in again.output and "is up to date (3 packages" in again.output
    (project / "src/shop/__init__.py").write_text('VALUE = "shop changed"\n\ndef main():\n    print(VALUE)\n')
    changed = uvroot(*args, cache=uvroot_cache)
    assert "building shop" in changed.output and " + shop==0.1.0" in changed.output
    assert " + alpha" not in changed.output and "1 to install, 2 unchanged" in changed.output  # only shop
    site = root / f"usr/local/lib/python{HOST}/site-packages"
    assert "shop changed" in (site / "shop/__init__.py").read_text()


def test_failed_build_names_the_package_and_shows_the_backend(
    make_locked_project: Callable[..., Path], make_package: Callable[..., Path], tmp_path: Path
) -> None:
    make_package(name="broken")
    project = make_locked_project(
        dependencies=["alpha", "broken"], sources={"broken": {"path": "../libs/broken"}}, requires_python=">=3.10"
    )
    pyproject = tmp_path / "libs/broken/pyproject.toml"
    pyproject.write_text(pyproject.read_text().replace('version = "1.0"', 'dynamic = ["version"]'))
    result = uvroot("sync", "--project", project, "--root", tmp_path / "root", cache=tmp_path / "cache")
    assert result.exit_code == 7, result.output
    assert "building broken==1.0 with" in result.output and "failed" in result.output
    assert "need a value in [tool.tinybuild.dynamic]" in result.output  # the backend's own last lines
    assert not (tmp_path / "root").exists()


def test_host_only_wheel_for_a_foreign_target_is_refused(
    make_locked_project: Callable[..., Path], make_package: Callable[..., Path], tmp_path: Path
) -> None:
    make_package(name="nat", native=True)
    project = make_locked_project(
        dependencies=["nat", "alpha"], sources={"nat": {"path": "../libs/nat"}}, requires_python=">=3.10"
    )
    result = uvroot(
        "sync",
        "--project",
        project,
        "--root",
        tmp_path / "root",
        "--python-version",
        "3.12",
        "--python-platform",
        "aarch64-unknown-linux-musl",
        cache=tmp_path / "cache",
    )
    assert result.exit_code == 7, result.output
    assert "nat==1.0 was built on this machine as" in result.output
    assert "does not run on cp312-aarch64-musllinux_1_2" in result.output
    assert not (tmp_path / "root").exists()
    native = uvroot(
        "sync", "--project", project, "--root", tmp_path / "root", "--python-version", HOST, cache=tmp_path / "cache"
    )
    assert native.exit_code == 0, native.output  # the same build fits the host's own target


@pytest.mark.parametrize("frontend", ["uv", "pip"])
def test_build_frontends(make_locked_project: Callable[..., Path], tmp_path: Path, frontend: str) -> None:
    project = make_locked_project(name="shop", dependencies=["alpha"], backend="tinybuild", requires_python=">=3.10")
    target = tmp_path / "target"
    result = uvroot(
        "sync", "--project", project, "--target", target, "--build-frontend", frontend, "-v", cache=tmp_path / "cache"
    )
    assert result.exit_code == 0, result.output
    assert f"building shop==0.1.0 with {frontend}" in result.output
    assert (target / "shop/__init__.py").is_file()
