"""`--locked` gives `uv lock --check`'s verdict on locks real projects have, and plain syncs of fresh locks stay quiet.

Each case is locked by the real uv, then (fresh, and after an edit) judged by `uv lock --check` and
by `uvroot plan --locked`.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.support.cli import uvroot
from tests.support.index import LocalIndex
from tests.support.sources import write_package
from tests.support.uvproject import TINYBUILD_BUILD_SYSTEM, UvError, run_uv, write_module

TARGET = ["--python-version", "3.12", "--python-platform", "x86_64-manylinux_2_28"]


def uv_says_fresh(project: Path, index: LocalIndex, uv_cache: Path) -> bool:
    args = ["lock", "--check", "--no-config", "--default-index", index.url, "--python", sys.executable]
    try:
        run_uv(args, cwd=project, cache_dir=uv_cache)
    except UvError:
        return False
    return True


def uvroot_says_fresh(project: Path, tmp_path: Path) -> bool:
    strict = uvroot("plan", "--project", project, "--root", tmp_path / "r", "--locked", *TARGET)
    assert strict.exit_code in (0, 3), strict.output
    if strict.exit_code == 0:
        plain = uvroot("plan", "--project", project, "--root", tmp_path / "r", *TARGET)
        assert "warning" not in plain.output, plain.output  # a fresh lock: no warning on a plain sync either
    else:
        assert "is out of date with pyproject.toml" in strict.output
    return strict.exit_code == 0


def _self_extra(project: Path, index: LocalIndex) -> None:
    project.mkdir(parents=True)
    (project / "pyproject.toml").write_text(
        '[project]\nname = "My_App"\nversion = "0.1.0"\nrequires-python = ">=3.10"\ndependencies = []\n'
        '[project.optional-dependencies]\nsave = ["alpha"]\n'
        'all = ["My_App[Save]>=0.1 ; python_version >= \\"3.8\\"", "docstool; python_version >= \\"3.9\\""]\n'
        + TINYBUILD_BUILD_SYSTEM
    )
    write_module(project, "my_app", "0.1.0")


def _split_sources(project: Path, index: LocalIndex) -> None:
    project.mkdir(parents=True)
    linux = f"{index.files_url}/native-1.0-cp38-abi3-manylinux_2_17_x86_64.manylinux2014_x86_64.whl"
    darwin = f"{index.files_url}/native-1.0-py3-none-any.whl"
    (project / "pyproject.toml").write_text(
        '[project]\nname = "app"\nversion = "0.1.0"\nrequires-python = ">=3.10"\ndependencies = ["native", "alpha"]\n'
        "[dependency-groups]\ndev = [\"native; python_version >= '3.11'\"]\n"
        "[tool.uv]\npackage = false\n[tool.uv.sources]\nnative = [\n"
        f'  {{ url = "{linux}", marker = "sys_platform == \'linux\'" }},\n'
        f'  {{ url = "{darwin}", marker = "sys_platform == \'darwin\'" }},\n]\n'
    )


def _dynamic(project: Path, index: LocalIndex) -> None:
    write_package(
        project,
        name="dyn",
        extra_pyproject='[tool.tinybuild.dynamic]\nversion = "1.2.3"\ndependencies = ["alpha"]',
    )
    text = (project / "pyproject.toml").read_text()
    text = text.replace('version = "1.0"\n', 'dynamic = ["version", "dependencies"]\n')
    (project / "pyproject.toml").write_text(text.replace("dependencies = []\n", "", 1))


def _groups_spelling(project: Path, index: LocalIndex) -> None:
    project.mkdir(parents=True)
    (project / "pyproject.toml").write_text(
        '[project]\nname = "app"\nversion = "0.1.0"\nrequires-python = ">=3.10"\ndependencies = ["alpha"]\n'
        '[dependency-groups]\ndev = ["devtool"]\nlint = ["linttool", {include-group = "dev"}]\n'
        "[tool.uv]\npackage = false\n"
    )


def _rootless(project: Path, index: LocalIndex) -> None:
    write_package(project / "backend", name="backend", dependencies=["alpha"])
    (project / "pyproject.toml").write_text(
        '[tool.uv.workspace]\nmembers = ["backend"]\n\n[dependency-groups]\ndev = ["devtool"]\nlint = ["linttool"]\n'
    )


CASES: dict[str, tuple[Callable[[Path, LocalIndex], None], Callable[[str], str] | None]] = {
    "extra naming the project": (_self_extra, lambda text: text.replace('save = ["alpha"]', 'save = ["beta"]')),
    "sources split by markers": (_split_sources, lambda text: text.replace("'darwin'", "'win32'")),
    "dynamic dependencies": (_dynamic, None),
    "dependency-groups spelling": (_groups_spelling, lambda text: text.replace('"devtool"', '"docstool"')),
    "root without project": (_rootless, lambda text: text.replace('lint = ["linttool"]', 'lint = ["docstool"]')),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_locked_agrees_with_uv_lock_check(
    case: str, tmp_path: Path, index: LocalIndex, uv_cache: Path, lock_project: Callable[[Path], Path]
) -> None:
    write, edit = CASES[case]
    project = tmp_path / "project"
    write(project, index)
    lock_project(project)
    if case == "dependency-groups spelling":  # what older uv wrote, and uv still reads
        lock = project / "uv.lock"
        lock.write_text(
            lock.read_text().replace("[package.metadata.requires-dev]", "[package.metadata.dependency-groups]")
        )
        assert "[package.metadata.dependency-groups]" in lock.read_text()
    assert uv_says_fresh(project, index, uv_cache)
    assert uvroot_says_fresh(project, tmp_path)
    if edit is not None:
        pyproject = project / "pyproject.toml"
        edited = edit(pyproject.read_text())
        assert edited != pyproject.read_text()
        pyproject.write_text(edited)
        assert not uv_says_fresh(project, index, uv_cache)
        assert not uvroot_says_fresh(project, tmp_path)


@pytest.mark.parametrize(
    ("where", "old", "new"),
    [
        ("pyproject.toml", 'requires-python = ">=3.10"', 'requires-python = ">=3.11"'),
        ("pyproject.toml", 'requires-python = ">=3.10"', 'requires-python = ">=3.10,<4"'),
        ("backend/pyproject.toml", 'requires-python = ">=3.8"', 'requires-python = ">=3.11"'),
        ("backend/pyproject.toml", 'requires-python = ">=3.8"', 'requires-python = ">=3.9"'),
    ],
)
def test_requires_python_edits_agree_with_uv(
    tmp_path: Path,
    index: LocalIndex,
    uv_cache: Path,
    lock_project: Callable[[Path], Path],
    where: str,
    old: str,
    new: str,
) -> None:
    project = tmp_path / "project"
    if where.startswith("backend"):
        write_package(project / "backend", name="backend", dependencies=["alpha"])
        (project / "pyproject.toml").write_text('[tool.uv.workspace]\nmembers = ["backend"]\n')
    else:
        _groups_spelling(project, index)
    lock_project(project)
    assert uvroot_says_fresh(project, tmp_path)
    edited = project / where
    assert old in edited.read_text()
    edited.write_text(edited.read_text().replace(old, new))
    assert uvroot_says_fresh(project, tmp_path) is uv_says_fresh(project, index, uv_cache)


@pytest.mark.parametrize("revision", [None, 1, 2, 3, 4])
def test_locked_agrees_with_uv_on_older_lock_revisions(
    revision: int | None, tmp_path: Path, index: LocalIndex, uv_cache: Path, lock_project: Callable[[Path], Path]
) -> None:
    """Locks older uv wrote: no ``revision`` (uv < 0.5) or an older one, without ``upload-time`` (revision < 3)."""
    project = tmp_path / "project"
    _self_extra(project, index)
    lock = lock_project(project)
    text = lock.read_text()
    assert re.search(r"(?m)^revision = \d+$", text)
    if revision is None:
        older = re.sub(r"(?m)^revision = \d+\n", "", text)
    else:
        older = re.sub(r"(?m)^revision = \d+$", f"revision = {revision}", text)
    if revision is None or revision < 3:
        older = re.sub(r', upload-time = "[^"]*"', "", older)
    lock.write_text(older)
    assert uv_says_fresh(project, index, uv_cache)
    assert uvroot_says_fresh(project, tmp_path)
    pyproject = project / "pyproject.toml"
    pyproject.write_text(pyproject.read_text().replace('save = ["alpha"]', 'save = ["beta"]'))
    assert not uv_says_fresh(project, index, uv_cache)
    assert not uvroot_says_fresh(project, tmp_path)
