"""`[tool.uv] conflicts`: uv's conflict markers pick the version each extra or group needs.

The locks are made by the real uv against a small index of their own: the project
depends on `usespick` and `usestwin`, which need `pick` and `twin` unversioned;
the conflicting extras `old`/`new` pin `pick<2`/`pick>=2` and the conflicting
groups `g1`/`g2` pin `twin<2`/`twin>=2`.  uv then locks both versions of each and
writes markers like `extra == 'extra-3-app-old'` and `extra != 'group-3-app-g1'`
on the edges out of `usespick`/`usestwin`.  For every choice, uvroot must stage
exactly what the oracle (`uv export` + `uv pip install --target`) stages.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.cli import uvroot
from tests.support.index import LocalIndex
from tests.support.oracle import dists, stage_both
from tests.support.uvproject import UvError, run_uv, uv_lock, write_project
from tests.support.wheels import build_wheel

CONFLICTS = 'conflicts = [[{ extra = "old" }, { extra = "new" }], [{ group = "g1" }, { group = "g2" }]]'


@pytest.fixture(scope="module")
def conflict_index(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalIndex]:
    wheels = tmp_path_factory.mktemp("conflict-wheels")
    for version in ("1.0", "2.0"):
        build_wheel(wheels, "pick", version)
        build_wheel(wheels, "twin", version)
    for name in ("oldside", "newside", "docsside"):
        build_wheel(wheels, name, "1.0")
    build_wheel(wheels, "usespick", "1.0", requires=["pick"])
    build_wheel(wheels, "usestwin", "1.0", requires=["twin"])
    with LocalIndex(wheels) as index:
        yield index


@pytest.fixture(scope="module")
def conflicted(tmp_path_factory: pytest.TempPathFactory, conflict_index: LocalIndex, uv_cache: Path) -> Path:
    project = tmp_path_factory.mktemp("conflicted")
    write_project(
        project,
        dependencies=["usespick", "usestwin"],
        optional={"old": ["pick<2", "oldside"], "new": ["pick>=2", "newside"]},
        groups={"g1": ["twin<2"], "g2": ["twin>=2"], "docs": ["docsside"]},
        tool_uv=CONFLICTS + "\ndefault-groups = []",
        requires_python=">=3.10",
    )
    uv_lock(project, conflict_index.url, cache_dir=uv_cache)
    text = (project / "uv.lock").read_text()
    # The point of the fixture: uv really wrote conflict markers, both spellings, both kinds.
    assert "extra == 'extra-3-app-old'" in text and "extra != 'group-3-app-g1'" in text, text
    return project


EXPECTED = {
    (): ["pick-2.0", "twin-2.0"],
    ("--extra", "old"): ["oldside-1.0", "pick-1.0", "twin-2.0"],
    ("--extra", "new"): ["newside-1.0", "pick-2.0", "twin-2.0"],
    ("--group", "g1"): ["pick-2.0", "twin-1.0"],
    ("--group", "g2"): ["pick-2.0", "twin-2.0"],
    ("--extra", "old", "--group", "g1"): ["oldside-1.0", "pick-1.0", "twin-1.0"],
    ("--extra", "new", "--group", "g2", "--group", "docs"): ["docsside-1.0", "newside-1.0", "pick-2.0", "twin-2.0"],
    ("--only-group", "g1"): ["twin-1.0"],
}


@pytest.mark.parametrize("flags", list(EXPECTED), ids=lambda flags: " ".join(flags) or "defaults")
def test_conflict_markers_choose_what_uv_chooses(
    conflicted: Path,
    conflict_index: LocalIndex,
    flags: tuple[str, ...],
    tmp_path: Path,
    uv_cache: Path,
    uvroot_cache: Path,
) -> None:
    ours, theirs = stage_both(
        conflicted,
        tmp_path,
        platform="x86_64-manylinux_2_28",
        version="3.12",
        index_url=conflict_index.url,
        uv_cache=uv_cache,
        cache=uvroot_cache,
        flags=flags,
    )
    assert dists(ours) == dists(theirs)
    common = [] if "--only-group" in flags else ["usespick-1.0", "usestwin-1.0"]
    assert dists(ours) == sorted(f"{dist}.dist-info" for dist in [*EXPECTED[flags], *common])
    # The staged code is the chosen version's, not just its dist-info.
    version = "1.0" if "pick-1.0" in EXPECTED[flags] else "2.0"
    if "--only-group" not in flags:
        assert f'__version__ = "{version}"'.encode() in (ours / "pick" / "__init__.py").read_bytes()


def _uv_refusal(project: Path, flags: list[str], index: LocalIndex, uv_cache: Path, venv: Path) -> str:
    """The `error:` line of the real `uv sync` refusing ``flags``."""
    with pytest.raises(UvError) as refused:
        run_uv(
            ["sync", "--no-config", "--frozen", *flags, "--default-index", index.url],
            cwd=project,
            cache_dir=uv_cache,
            env={"UV_PROJECT_ENVIRONMENT": str(venv)},
        )
    return next(line for line in str(refused.value).splitlines() if line.startswith("error: "))


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--all-extras"], "Extras `new` and `old` are incompatible with the declared conflicts"),
        (["--extra", "old", "--extra", "new"], "Extras `new` and `old` are incompatible with the declared conflicts"),
        (["--all-groups"], "Groups `g1` and `g2` are incompatible with the conflicts"),
        (["--group", "g1", "--group", "g2"], "Groups `g1` and `g2` are incompatible with the conflicts"),
    ],
)
def test_conflicting_selection_is_refused_as_uv_refuses_it(
    conflicted: Path, conflict_index: LocalIndex, uv_cache: Path, tmp_path: Path, flags: list[str], message: str
) -> None:
    conflict_index.reset()
    result = uvroot("sync", "--project", conflicted, "--root", tmp_path / "r", *flags, cache=tmp_path / "c")
    assert result.exit_code == 2, result.output
    theirs = _uv_refusal(conflicted, flags, conflict_index, uv_cache, tmp_path / "venv")
    assert message in theirs
    assert theirs in result.output.splitlines()
    assert "hint: select only one of them (drop --all-extras/--all-groups or one --extra/--group)" in result.output
    assert conflict_index.downloads() == [] and not (tmp_path / "r").exists()


@pytest.mark.parametrize(
    "flags",
    [
        ["--all-extras"],
        ["--all-groups"],
        ["--extra", "x", "--extra", "y", "--group", "g"],
        ["--extra", "z", "--group", "h", "--group", "k"],
        ["--extra", "x", "--group", "g"],
    ],
)
def test_conflict_messages_are_uvs_word_for_word(
    conflict_index: LocalIndex, uv_cache: Path, tmp_path: Path, flags: list[str]
) -> None:
    """Three-way sets, and sets mixing extras and groups: uv words each differently."""
    project = tmp_path / "mixed"
    write_project(
        project,
        optional={"x": [], "y": [], "z": []},
        groups={"g": [], "h": [], "k": []},
        tool_uv='conflicts = [[{ extra = "x" }, { group = "g" }, { extra = "y" }], '
        '[{ extra = "z" }, { group = "h" }, { group = "k" }]]\ndefault-groups = []',
        requires_python=">=3.10",
    )
    uv_lock(project, conflict_index.url, cache_dir=uv_cache)
    theirs = _uv_refusal(project, flags, conflict_index, uv_cache, tmp_path / "venv")
    for command in ("sync", "plan"):
        result = uvroot(command, "--project", project, "--root", tmp_path / "r", *flags)
        assert result.exit_code == 2, result.output
        assert theirs in result.output.splitlines(), (theirs, result.output)
