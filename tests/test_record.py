"""Every RECORD row of every layout and link mode names a file whose bytes match its hash and size.

A linked file (hard link, clone, symlink into the cache) is the wheel's own file, so its row
is the wheel's own row; a file uvroot writes (launchers, scripts with a new shebang,
INSTALLER, REQUESTED, uvroot.json, bytecode) gets a row computed from what it wrote.  Only
RECORD itself goes without a hash (PEP 376).  `check_record` is strict about it: a row with an
empty digest or size is a problem, not a row to skip.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.support.cli import check_record, uvroot

HOST = f"{sys.version_info.major}.{sys.version_info.minor}"

LAYOUTS: dict[str, Callable[[Path], list[str | Path]]] = {
    "root": lambda top: ["--root", top],
    "root-debian": lambda top: ["--root", top, "--layout", "debian"],
    "root-alpine": lambda top: ["--root", top, "--layout", "alpine"],
    "prefix": lambda top: ["--prefix", top / "opt/app"],
    "target": lambda top: ["--target", top],
    "user": lambda top: ["--root", top, "--user"],
    "venv": lambda top: ["--venv", top / "venv"],
}
MODES = ["clone", "hardlink", "copy", "symlink"]


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory, index: object, uv_cache: Path) -> Path:
    from tests.support.index import LocalIndex
    from tests.support.uvproject import uv_lock, write_project

    assert isinstance(index, LocalIndex)
    project = tmp_path_factory.mktemp("record-project")
    # alpha: a console script; gadgets: .data scripts (one with #!python), headers, data, a licence;
    # native: a platform wheel with an extension module.
    write_project(project, dependencies=["alpha", "gadgets", "native"], requires_python=">=3.10")
    uv_lock(project, index.url, cache_dir=uv_cache)
    return project


def _dist_infos(top: Path) -> list[Path]:
    return sorted(path for path in top.rglob("*.dist-info") if path.is_dir())


def _stage(project: Path, top: Path, cache: Path, layout: str, *flags: str) -> list[Path]:
    result = uvroot(
        "sync",
        "--project",
        project,
        *LAYOUTS[layout](top),
        "--python-version",
        HOST,
        "--python-platform",
        "x86_64-manylinux_2_28",
        *flags,
        cache=cache,
        env={"PYTHONUSERBASE": "/home/app/.local"},
    )
    assert result.exit_code == 0, result.output
    infos = _dist_infos(top)
    assert [info.name for info in infos] == [
        "alpha-1.0.dist-info",
        "beta-2.0.dist-info" if HOST >= "3.12" else "beta-1.0.dist-info",
        "gadgets-1.0.dist-info",
        "native-1.0.dist-info",
    ]
    return infos


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("layout", list(LAYOUTS))
def test_every_record_row_has_the_hash_and_size_of_the_file(
    project: Path, tmp_path: Path, uvroot_cache: Path, layout: str, mode: str
) -> None:
    infos = _stage(project, tmp_path / "top", uvroot_cache, layout, "--link-mode", mode)
    for info in infos:
        assert check_record(info) == [], info
    rows = (infos[0] / "RECORD").read_text().splitlines()
    assert any(row.startswith("alpha/__init__.py,sha256=") for row in rows), rows


@pytest.mark.parametrize("layout", ["root", "target", "venv"])
def test_bytecode_rows_are_hashed_too(project: Path, tmp_path: Path, uvroot_cache: Path, layout: str) -> None:
    infos = _stage(project, tmp_path / "top", uvroot_cache, layout, "--link-mode", "hardlink", "--compile-bytecode")
    for info in infos:
        assert check_record(info) == [], info
    record = (infos[0] / "RECORD").read_text()
    assert f"alpha/__pycache__/__init__.cpython-{HOST.replace('.', '')}.pyc,sha256=" in record


def test_the_check_itself_refuses_a_row_without_hash(project: Path, tmp_path: Path, uvroot_cache: Path) -> None:
    """The strict check is what catches a placer that forgets the hash of linked files."""
    infos = _stage(project, tmp_path / "top", uvroot_cache, "target", "--link-mode", "hardlink")
    record = infos[0] / "RECORD"
    rows = record.read_text().splitlines()
    stripped = [f"{row.split(',')[0]},," if row.startswith("alpha/__init__.py,") else row for row in rows]
    record.write_text("\n".join(stripped) + "\n")
    assert check_record(infos[0]) == ["alpha/__init__.py: no sha256 digest or no size ('', '')"]
