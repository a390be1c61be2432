"""Project shapes real repositories use, synced as `uv sync` syncs them (uv is the oracle).

A workspace root with no ``[project]`` (FastAPI full-stack template style), a directory with only
``[dependency-groups]``, discovery from a member or a subdirectory, ``--directory``.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.support.cli import uvroot
from tests.support.sources import write_package

ROOT_GROUPS = '[dependency-groups]\ndev = ["devtool"]\nlint = ["linttool"]\n'
FLAG_SETS = [
    [],
    ["--no-dev"],
    ["--group", "test"],
    ["--all-extras"],
    ["--only-group", "lint"],
    ["--package", "backend"],
    ["--no-default-groups"],
    ["--all-packages"],
    ["--all-groups"],
]


def planned(*args: str | Path) -> list[str]:
    """``name==version`` of every package `uvroot plan` would have in the tree."""
    result = uvroot("plan", "--format", "json", *args)
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    return sorted(f"{p['name']}=={p['version']}" for p in document["packages"])


def _root_without_project(base: Path) -> Path:
    """A workspace whose root holds only ``[tool.uv.workspace]`` and ``[dependency-groups]``."""
    write_package(
        base / "backend",
        name="backend",
        dependencies=["alpha"],
        optional={"x": ["oldpy"]},
        extra_pyproject='[dependency-groups]\ndev = ["docstool"]\ntest = ["fancy-dep"]',
    )
    (base / "pyproject.toml").write_text(f'[tool.uv.workspace]\nmembers = ["backend"]\n\n{ROOT_GROUPS}')
    return base


@pytest.fixture
def rootless(tmp_path: Path, lock_project: Callable[[Path], Path]) -> Path:
    workspace = _root_without_project(tmp_path / "fullstack")
    lock_project(workspace)
    assert "[manifest.dependency-groups]" in (workspace / "uv.lock").read_text()
    return workspace


@pytest.mark.parametrize("flags", FLAG_SETS, ids=lambda flags: " ".join(flags) or "default")
def test_workspace_root_without_project_syncs_like_uv(
    rootless: Path, oracle_sync: Callable[..., list[str]], tmp_path: Path, uvroot_cache: Path, flags: list[str]
) -> None:
    ours = planned("--project", rootless, "--root", tmp_path / "r", "--cache-dir", uvroot_cache, *flags)
    assert ours == oracle_sync(rootless, flags)


def test_groups_only_project_syncs_like_uv(
    tmp_path: Path, lock_project: Callable[[Path], Path], oracle_sync: Callable[..., list[str]], uvroot_cache: Path
) -> None:
    project = tmp_path / "scripts"
    project.mkdir()
    (project / "pyproject.toml").write_text(
        '[dependency-groups]\ndev = ["devtool"]\ndocs = ["docstool", {include-group = "dev"}]\n'
    )
    lock_project(project)
    for flags in ([], ["--group", "docs"], ["--no-dev"], ["--only-group", "docs"]):
        ours = planned("--project", project, "--root", tmp_path / "r", "--cache-dir", uvroot_cache, *flags)
        assert ours == oracle_sync(project, flags), flags
    staged = uvroot("sync", "--project", project, "--root", tmp_path / "r", cache=uvroot_cache)
    assert staged.exit_code == 0, staged.output
    assert list((tmp_path / "r").glob("usr/local/lib/python*/site-packages/devtool-1.0.dist-info"))


def test_discovery_from_member_and_subdirectory(
    rootless: Path, oracle_sync: Callable[..., list[str]], tmp_path: Path, uvroot_cache: Path
) -> None:
    member = rootless / "backend"
    deeper = member / "src" / "backend"
    theirs = oracle_sync(member)  # uv run in the member: the member and its own groups
    assert theirs != oracle_sync(rootless)
    for start in (member, deeper):
        assert planned("--project", start, "--root", tmp_path / "r", "--cache-dir", uvroot_cache) == theirs
        assert planned("--directory", start, "--root", tmp_path / "r", "--cache-dir", uvroot_cache) == theirs
    assert planned("--directory", rootless, "--root", tmp_path / "r", "--cache-dir", uvroot_cache) == oracle_sync(
        rootless
    )


def test_no_pyproject_anywhere_is_a_clean_error(tmp_path: Path) -> None:
    result = uvroot("plan", "--project", "/", "--root", tmp_path / "r")
    assert result.exit_code == 3
    assert "error: no pyproject.toml in /" in result.output and "hint:" in result.output


def test_a_dynamic_version_is_not_reinstalled_by_a_no_op_sync(
    tmp_path: Path, lock_project: Callable[[Path], Path], uvroot_cache: Path
) -> None:
    project = write_package(
        tmp_path / "dyn",
        name="dyn",
        dependencies=["alpha"],
        extra_pyproject='[tool.tinybuild.dynamic]\nversion = "1.2.3"',
    )
    pyproject = project / "pyproject.toml"
    pyproject.write_text(pyproject.read_text().replace('version = "1.0"\n', 'dynamic = ["version"]\n'))
    lock_project(project)
    assert 'name = "dyn"\nsource' in (project / "uv.lock").read_text()  # no version in the lock
    root = tmp_path / "root"
    first = uvroot("sync", "--project", project, "--root", root, "-v", cache=uvroot_cache)
    assert first.exit_code == 0, first.output
    assert " + dyn (" in first.output  # the version is known once built
    again = uvroot("sync", "--project", project, "--root", root, "-v", cache=uvroot_cache)
    assert again.exit_code == 0, again.output
    assert "is up to date (3 packages" in again.output and " + dyn" not in again.output
    listed = uvroot("plan", "--project", project, "--root", root, cache=uvroot_cache)
    assert "keep     dyn==1.2.3" in listed.output and "dyn==  " not in listed.output
    fresh = uvroot("plan", "--project", project, "--root", tmp_path / "other", cache=tmp_path / "cold")
    assert "install  dyn  build from" in fresh.output  # not built yet: its version is not known
