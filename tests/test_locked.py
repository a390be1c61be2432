"""`--locked` agrees with `uv lock --locked` on whether uv.lock still matches pyproject.toml.

Each case edits a freshly locked project; uv's own verdict (does `uv lock
--locked` pass?) is the oracle for uvroot's (does `uvroot sync --locked` pass?).
Without --locked a stale lock is staged as it is, with a warning.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.support.cli import uvroot
from tests.support.index import LocalIndex
from tests.support.uvproject import UvError, run_uv

EDITS: dict[str, Callable[[str], str]] = {
    "unchanged": lambda text: text,
    "description only": lambda text: text.replace('version = "0.1.0"', 'version = "0.1.0"\ndescription = "x"'),
    "dependency added": lambda text: text.replace('"alpha>=1"', '"alpha>=1", "docstool"'),
    "specifier changed": lambda text: text.replace('"alpha>=1"', '"alpha>=0.5"'),
    "marker quoting": lambda text: text.replace("sys_platform == 'win32'", 'sys_platform==\\"win32\\"'),
    "marker changed": lambda text: text.replace("sys_platform == 'win32'", "sys_platform == 'darwin'"),
    "extra added": lambda text: text.replace(
        "[project.optional-dependencies]", '[project.optional-dependencies]\nnew = ["docstool"]'
    ),
    "extra dependency changed": lambda text: text.replace('fancy = ["fancy-dep"]', 'fancy = ["fancy-dep", "docstool"]'),
    "group changed": lambda text: text.replace('docs = ["docstool",', 'docs = ["docstool", "linttool",'),
    "included group changed": lambda text: text.replace('dev = ["devtool"]', 'dev = ["devtool", "linttool"]'),
}


@pytest.mark.parametrize("edit", sorted(EDITS))
def test_locked_agrees_with_uv(
    make_locked_project: Callable[..., Path], index: LocalIndex, uv_cache: Path, tmp_path: Path, edit: str
) -> None:
    project = make_locked_project(
        dependencies=["alpha>=1", "winonly; sys_platform == 'win32'"],
        optional={"fancy": ["fancy-dep"]},
        groups={"dev": ["devtool"], "docs": ["docstool", {"include-group": "dev"}]},
        requires_python=">=3.10",
    )
    pyproject = project / "pyproject.toml"
    edited = EDITS[edit](pyproject.read_text())
    assert edit == "unchanged" or edited != pyproject.read_text(), "the edit must change the file"
    pyproject.write_text(edited)
    uv_fresh = _uv_lock_locked(project, index, uv_cache)
    ours = uvroot("sync", "--project", project, "--root", tmp_path / "root", "--locked", "--dry-run")
    assert (ours.exit_code == 0) is uv_fresh, ours.output
    if not uv_fresh:
        assert ours.exit_code == 3 and "is out of date with pyproject.toml" in ours.output and "uv lock" in ours.output
        lenient = uvroot("sync", "--project", project, "--root", tmp_path / "root", "--dry-run")
        assert lenient.exit_code == 0 and "warning: " in lenient.output


def test_stale_workspace_member_is_detected(make_workspace: Callable[..., Path], tmp_path: Path) -> None:
    workspace = make_workspace()
    assert uvroot("sync", "--project", workspace, "--root", tmp_path / "r", "--locked", "--dry-run").exit_code == 0
    member = workspace / "libs/app/pyproject.toml"
    member.write_text(member.read_text().replace('"alpha"', '"alpha", "docstool"'))
    stale = uvroot("sync", "--project", workspace, "--root", tmp_path / "r", "--locked", "--dry-run")
    assert stale.exit_code == 3 and "(app changed)" in stale.output


def _uv_lock_locked(project: Path, index: LocalIndex, uv_cache: Path) -> bool:
    args = ["lock", "--locked", "--no-config", "--default-index", index.url, "--python", sys.executable]
    try:
        run_uv(args, cwd=project, cache_dir=uv_cache)
    except UvError:
        return False
    return True


def test_uvs_marker_rewriting_is_not_staleness(
    make_locked_project: Callable[..., Path], index: LocalIndex, uv_cache: Path, tmp_path: Path
) -> None:
    # uv records `python_version < '3.11'` as `python_full_version < '3.11'`: same meaning, still fresh.
    project = make_locked_project(
        dependencies=[
            "alpha",
            "oldpy; python_version < '3.11'",
            "winonly; python_version <= '3.12' and os_name == 'nt'",
        ],
        requires_python=">=3.8",
    )
    assert "python_full_version" in (project / "uv.lock").read_text()
    assert _uv_lock_locked(project, index, uv_cache)
    result = uvroot("sync", "--project", project, "--root", tmp_path / "r", "--locked", "--dry-run")
    assert result.exit_code == 0, result.output
