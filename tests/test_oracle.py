"""uvroot --target against the oracle: `uv pip install --no-deps --target --python-platform` from the same lock.

Both install from one genuine uv.lock (uv exports it for the oracle), so the
distributions, the wheel variant chosen (each `native` wheel carries its tag)
and every installed file must agree.  Known, deliberate differences are
normalised: the script shebang (uv writes the build machine's interpreter),
the headers directory (uvroot follows pip's `include/python/<dist>`), and the
installer's own metadata files.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest

from tests.support.cli import tree, uvroot
from tests.support.index import LocalIndex
from tests.support.uvproject import uv_oracle_target

DEPENDENCIES = [
    "alpha",
    "native",
    "gadgets",
    "buildy",
    "winonly; sys_platform == 'win32'",
    "linuxonly; sys_platform == 'linux'",
    "oldpy; python_version < '3.11'",
]
TARGETS = [
    ("x86_64-manylinux_2_28", "3.12"),
    ("aarch64-unknown-linux-musl", "3.12"),
    ("x86_64-unknown-linux-musl", "3.10"),
    ("x86_64-manylinux_2_17", "3.11"),
    ("x86_64-manylinux_2_17", "3.13"),
    ("aarch64-manylinux_2_28", "3.9"),
    ("windows", "3.12"),
    ("macos", "3.12"),
    ("macos", "3.11"),
]
_INSTALLER_FILES = {"INSTALLER", "RECORD", "REQUESTED", "direct_url.json", "uv_cache.json", "uvroot.json"}


@pytest.fixture(scope="module")
def locked(tmp_path_factory: pytest.TempPathFactory, index: LocalIndex, uv_cache: Path) -> Path:
    from tests.support.uvproject import uv_lock, write_project

    project = tmp_path_factory.mktemp("oracle-project")
    write_project(project, dependencies=DEPENDENCIES, requires_python=">=3.8")
    uv_lock(project, index.url, cache_dir=uv_cache)
    return project


def _entry_points(files: dict[str, bytes]) -> set[str]:
    names = set()
    for path, data in files.items():
        if path.endswith(".dist-info/entry_points.txt"):
            names |= {line.split("=")[0].strip() for line in data.decode().splitlines() if "=" in line}
    return names


def _normalise(files: dict[str, bytes]) -> dict[str, bytes]:
    out = {}
    generated = _entry_points(files)
    for path, data in files.items():
        parts = path.split("/")
        if parts[0].endswith(".dist-info") and parts[-1] in _INSTALLER_FILES:
            continue
        if parts[0] == "bin":
            # The shebang is where uv and uvroot differ on purpose; entry-point
            # launchers are each installer's own template, so only their names count.
            data = b"<entry point>" if parts[1] in generated else data.split(b"\n", 1)[1]
        if parts[0] == "include" and parts[1] == "python":
            path = "/".join(["include", *parts[2:]])
        out[path] = data
    return out


def _record_paths(target: Path) -> set[str]:
    paths = set()
    for record in target.glob("*.dist-info/RECORD"):
        for row in csv.reader(io.StringIO(record.read_text())):
            name = row[0].split("/")[-1]
            if not (row[0].split("/")[0].endswith(".dist-info") and name in _INSTALLER_FILES):
                paths.add(row[0].replace("include/python/", "include/"))
    return paths


@pytest.mark.parametrize(("platform", "version"), TARGETS)
def test_same_distributions_wheels_and_files_as_uv(
    locked: Path, index: LocalIndex, uv_cache: Path, uvroot_cache: Path, tmp_path: Path, platform: str, version: str
) -> None:
    ours, theirs = tmp_path / "uvroot", tmp_path / "uv"
    result = uvroot(
        "sync",
        "--project",
        locked,
        "--target",
        ours,
        "--python-platform",
        platform,
        "--python-version",
        version,
        cache=uvroot_cache,
    )
    assert result.exit_code == 0, result.output
    uv_oracle_target(
        locked, theirs, python_platform=platform, python_version=version, index_url=index.url, cache_dir=uv_cache
    )
    assert sorted(p.name for p in ours.glob("*.dist-info")) == sorted(p.name for p in theirs.glob("*.dist-info"))
    assert (ours / "native/__init__.py").read_text() == (theirs / "native/__init__.py").read_text()
    assert _normalise(tree(ours)) == _normalise(tree(theirs))
    assert _record_paths(ours) == _record_paths(theirs)


def test_the_oracle_comparison_sees_a_different_wheel(
    locked: Path, index: LocalIndex, uv_cache: Path, uvroot_cache: Path, tmp_path: Path
) -> None:
    # Guard against a comparison that cannot fail: different targets must differ.
    ours, theirs = tmp_path / "uvroot", tmp_path / "uv"
    uvroot(
        "sync",
        "--project",
        locked,
        "--target",
        ours,
        "--python-platform",
        "aarch64-unknown-linux-musl",
        "--python-version",
        "3.12",
        cache=uvroot_cache,
    )
    uv_oracle_target(
        locked,
        theirs,
        python_platform="x86_64-manylinux_2_28",
        python_version="3.12",
        index_url=index.url,
        cache_dir=uv_cache,
    )
    assert _normalise(tree(ours)) != _normalise(tree(theirs))


@pytest.mark.parametrize(
    ("platform", "version", "expected"),
    [
        ("x86_64-manylinux_2_28", "3.12", "cp312-cp312-manylinux_2_28_x86_64"),
        ("x86_64-manylinux2014", "3.12", "cp312-cp312-manylinux_2_17_x86_64.manylinux2014_x86_64"),
        ("aarch64-unknown-linux-musl", "3.12", "cp312-cp312-musllinux_1_2_aarch64"),
        ("x86_64-manylinux_2_17", "3.13", "cp38-abi3-manylinux_2_17_x86_64.manylinux2014_x86_64"),
        ("aarch64-manylinux_2_17", "3.11", "py3-none-any"),
    ],
)
def test_dry_run_names_the_chosen_wheel(
    locked: Path, tmp_path: Path, platform: str, version: str, expected: str
) -> None:
    result = uvroot(
        "sync",
        "--project",
        locked,
        "--root",
        tmp_path / "root",
        "--python-platform",
        platform,
        "--python-version",
        version,
        "--dry-run",
    )
    assert result.exit_code == 0, result.output
    assert f"native==1.0  native-1.0-{expected}.whl" in result.output
    assert "buildy==1.0  buildy-1.0-2-py3-none-any.whl" in result.output  # the higher build tag wins
    assert not (tmp_path / "root").exists()
