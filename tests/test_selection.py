"""Selection flags choose exactly what `uv sync` would, checked against uv itself.

For every flag set, uvroot's staged distributions are compared with the oracle:
`uv export` with the same flags, installed by `uv pip install --target` for the
same target.  Markers (extras, groups, platform, Python forks) are uv's to judge.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from tests.support.cli import uvroot
from tests.support.index import LocalIndex
from tests.support.oracle import dists, stage_both

GROUPS = {
    "dev": ["devtool"],
    "lint": ["linttool", {"include-group": "dev"}],
    "docs": ["docstool"],
}
OPTIONAL = {"fancy": ["alpha[fancy]"], "win": ["winonly; sys_platform == 'win32'"]}
FLAG_SETS = [
    [],
    ["--no-dev"],
    ["--extra", "fancy"],
    ["--all-extras"],
    ["--all-extras", "--no-extra", "fancy"],
    ["--only-group", "docs"],
    ["--only-dev"],
    ["--group", "docs", "--no-group", "lint"],
    ["--no-default-groups"],
    ["--no-default-groups", "--group", "docs"],
    ["--all-groups"],
    ["--all-groups", "--no-group", "dev"],
]


def _compare(
    project: Path,
    flags: list[str],
    tmp_path: Path,
    index: LocalIndex,
    uv_cache: Path,
    cache: Path,
    platform: str = "x86_64-manylinux_2_28",
    version: str = "3.12",
) -> list[str]:
    ours, theirs = stage_both(
        project,
        tmp_path,
        platform=platform,
        version=version,
        index_url=index.url,
        uv_cache=uv_cache,
        cache=cache,
        flags=flags,
    )
    assert dists(ours) == dists(theirs)
    return dists(ours)


@pytest.fixture(scope="module")
def grouped(tmp_path_factory: pytest.TempPathFactory, index: LocalIndex, uv_cache: Path) -> Path:
    from tests.support.uvproject import uv_lock, write_project

    project = tmp_path_factory.mktemp("grouped")
    write_project(
        project,
        dependencies=["gadgets"],
        optional=OPTIONAL,
        groups=GROUPS,
        tool_uv='default-groups = ["dev", "lint"]',
        requires_python=">=3.10",
    )
    uv_lock(project, index.url, cache_dir=uv_cache)
    return project


@pytest.mark.parametrize("flags", FLAG_SETS, ids=lambda flags: " ".join(flags) or "defaults")
def test_selection_matches_uv(
    grouped: Path, flags: list[str], tmp_path: Path, index: LocalIndex, uv_cache: Path, uvroot_cache: Path
) -> None:
    _compare(grouped, flags, tmp_path, index, uv_cache, uvroot_cache)


def test_selection_really_selects(
    grouped: Path, tmp_path: Path, index: LocalIndex, uv_cache: Path, uvroot_cache: Path
) -> None:
    assert _compare(grouped, [], tmp_path / "a", index, uv_cache, uvroot_cache) == [
        "devtool-1.0.dist-info",
        "gadgets-1.0.dist-info",
        "linttool-1.0.dist-info",
    ]
    assert _compare(grouped, ["--only-group", "docs"], tmp_path / "b", index, uv_cache, uvroot_cache) == [
        "docstool-1.0.dist-info"
    ]
    extras = _compare(
        grouped,
        ["--all-extras", "--no-default-groups"],
        tmp_path / "c",
        index,
        uv_cache,
        uvroot_cache,
        platform="windows",
    )
    assert "winonly-1.0.dist-info" in extras and "fancy_dep-1.0.dist-info" in extras


def test_legacy_dev_dependencies(
    make_locked_project: Callable[..., Path], tmp_path: Path, index: LocalIndex, uv_cache: Path, uvroot_cache: Path
) -> None:
    project = make_locked_project(
        dependencies=["alpha"], tool_uv='dev-dependencies = ["devtool"]', requires_python=">=3.10"
    )
    assert "devtool-1.0.dist-info" in _compare(project, [], tmp_path / "a", index, uv_cache, uvroot_cache)
    assert "devtool-1.0.dist-info" not in _compare(project, ["--no-dev"], tmp_path / "b", index, uv_cache, uvroot_cache)


@pytest.mark.parametrize(("version", "beta"), [("3.9", "beta-1.0"), ("3.11", "beta-1.0"), ("3.12", "beta-2.0")])
def test_python_version_forks(
    make_locked_project: Callable[..., Path],
    tmp_path: Path,
    index: LocalIndex,
    uv_cache: Path,
    uvroot_cache: Path,
    version: str,
    beta: str,
) -> None:
    project = make_locked_project(dependencies=["alpha", "oldpy; python_version < '3.11'"], requires_python=">=3.8")
    assert "resolution-markers" in (project / "uv.lock").read_text()
    dists = _compare(project, [], tmp_path, index, uv_cache, uvroot_cache, version=version)
    assert f"{beta}.dist-info" in dists
    assert ("oldpy-1.0.dist-info" in dists) is (version == "3.9")


@pytest.mark.parametrize(
    ("flags", "message", "code"),
    [
        # README, "Exit codes": 3 is bad input in pyproject.toml (a name it does not define), 2 wrong flags.
        (["--extra", "nope"], "extra `nope` is not defined", 3),
        (["--group", "nope"], "group `nope` is not defined", 3),
        (["--only-dev", "--no-dev"], "--only-dev cannot be used with --no-dev", 2),
        (["--extra", "fancy", "--all-extras"], "--extra cannot be used with --all-extras", 2),
    ],
)
def test_bad_selection_is_a_clear_error(
    grouped: Path, tmp_path: Path, flags: list[str], message: str, code: int
) -> None:
    result = uvroot("sync", "--project", grouped, "--root", tmp_path / "root", *flags)
    assert result.exit_code == code, result.output
    assert message in result.output and "Traceback" not in result.output
    assert not (tmp_path / "root").exists()
