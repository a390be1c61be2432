"""uv's Docker layer pattern: dependencies from pyproject.toml + uv.lock alone, then the local packages.

The first layer sees only the two files (uv's guide bind-mounts them); the second, after
`COPY . .`, stages only the local packages; the two layers together equal one full sync, byte
for byte (names, modes, mtimes, contents).
"""

from __future__ import annotations

import shutil
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.support.cli import uvroot
from tests.support.index import LocalIndex
from tests.support.sources import installed_distributions, write_package
from tests.support.uvproject import run_uv
from tests.test_reproducible import tar_digest

SITE = f"usr/local/lib/python{sys.version_info[0]}.{sys.version_info[1]}/site-packages"


def _hide_sources(project: Path, keep: tuple[str, ...] = ("pyproject.toml", "uv.lock")) -> Path:
    """Move everything but ``keep`` aside (what a bind mount of the two files shows); return where it went."""
    aside = project.parent / f"{project.name}-aside"
    aside.mkdir()
    for entry in list(project.iterdir()):
        if entry.name not in keep:
            entry.rename(aside / entry.name)
    return aside


def _restore(project: Path, aside: Path) -> None:
    for entry in list(aside.iterdir()):
        entry.rename(project / entry.name)
    aside.rmdir()


def _layers(project: Path, tmp_path: Path, cache: Path, flag: str) -> tuple[str, str, list[str]]:
    layered, full = tmp_path / "layered", tmp_path / "full"
    aside = _hide_sources(project)
    first = uvroot("sync", "--project", project, "--root", layered, flag, "--locked", cache=cache)
    assert first.exit_code == 0, first.output
    _restore(project, aside)
    second = uvroot("sync", "--project", project, "--root", layered, "-v", "--locked", cache=cache)
    assert second.exit_code == 0, second.output
    placed = sorted(line.split(" (")[0].strip() for line in second.output.splitlines() if line.startswith(" + "))
    one = uvroot("sync", "--project", project, "--root", full, cache=cache)
    assert one.exit_code == 0, one.output
    return tar_digest(layered), tar_digest(full), placed


@pytest.mark.parametrize("flag", ["--no-install-project", "--no-install-workspace"])
def test_single_project_layers(
    tmp_path: Path, lock_project: Callable[[Path], Path], uvroot_cache: Path, flag: str
) -> None:
    project = write_package(
        tmp_path / "app", name="app", dependencies=["alpha", "gadgets"], scripts={"app": "app:main"}
    )
    lock_project(project)
    layered, full, placed = _layers(project, tmp_path, uvroot_cache, flag)
    assert placed == ["+ app==1.0"]  # the second layer stages only the local package
    assert layered == full


def test_workspace_layers(
    make_workspace: Callable[..., Path],
    tmp_path: Path,
    uvroot_cache: Path,
    index: LocalIndex,
    uv_cache: Path,
) -> None:
    workspace = make_workspace()
    aside = _hide_sources(workspace)
    # uv itself stages the same first layer from the two files
    venv = tmp_path / "venv"
    run_uv(["venv", "--no-config", "--quiet", "--python", sys.executable, str(venv)], cwd=workspace, cache_dir=uv_cache)
    run_uv(
        ["sync", "--no-config", "--frozen", "--no-install-workspace", "--default-index", index.url],
        cwd=workspace,
        cache_dir=uv_cache,
        env={"UV_PROJECT_ENVIRONMENT": str(venv)},
    )
    ours = uvroot(
        "plan", "--format", "json", "--project", workspace, "--root", tmp_path / "x", "--no-install-workspace"
    )
    assert ours.exit_code == 0, ours.output
    import json

    staged = sorted(f"{p['name']}=={p['version']}" for p in json.loads(ours.stdout)["packages"])
    assert staged == installed_distributions(venv)
    _restore(workspace, aside)
    layered, full, placed = _layers(workspace, tmp_path, uvroot_cache, "--no-install-workspace")
    assert placed == ["+ app==2.0", "+ core==1.0", "+ wsroot==0.1.0"]
    assert layered == full


def test_no_install_project_of_a_workspace_needs_the_members(
    make_workspace: Callable[..., Path], tmp_path: Path
) -> None:
    # As in uv: --no-install-project still installs the members, so their sources must be there.
    workspace = make_workspace()
    shutil.rmtree(workspace / "libs")
    result = uvroot("plan", "--project", workspace, "--root", tmp_path / "r", "--no-install-project")
    assert result.exit_code == 0, result.output
    assert "install  app==2.0  build from" in result.output
