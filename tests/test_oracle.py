"""uvroot --target against the oracle: `uv pip install --no-deps --target --python-platform` from the same lock.

Both install from one genuine uv.lock (uv exports it for the oracle), so the
distributions, the wheel variant chosen (each `native` wheel carries its tag)
and every installed file must agree, up to the differences uvroot makes on
purpose (tests/support/oracle.py).
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from tests.support.cli import tree, uvroot
from tests.support.index import LocalIndex
from tests.support.oracle import compare_with_oracle, dists, normalise, stage_both
from tests.support.uvproject import uv_lock, write_project

DEPENDENCIES = [
    "alpha",
    "native",
    "gadgets",
    "buildy",
    "winonly; sys_platform == 'win32'",
    "linuxonly; sys_platform == 'linux'",
    "oldpy; python_version < '3.11'",
    # platform_machine as each OS spells it (uv's values): Windows x64 says AMD64, macOS arm64.
    "docstool; platform_machine == 'AMD64'",
    "devtool; platform_machine == 'arm64'",
    "linttool; platform_machine == 'aarch64'",
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


@pytest.fixture(scope="module")
def locked(tmp_path_factory: pytest.TempPathFactory, index: LocalIndex, uv_cache: Path) -> Path:
    project = tmp_path_factory.mktemp("oracle-project")
    write_project(project, dependencies=DEPENDENCIES, requires_python=">=3.8")
    uv_lock(project, index.url, cache_dir=uv_cache)
    return project


@pytest.mark.parametrize(("platform", "version"), TARGETS)
def test_same_distributions_wheels_and_files_as_uv(
    locked: Path, index: LocalIndex, uv_cache: Path, uvroot_cache: Path, tmp_path: Path, platform: str, version: str
) -> None:
    ours, theirs = stage_both(
        locked, tmp_path, platform=platform, version=version, index_url=index.url, uv_cache=uv_cache, cache=uvroot_cache
    )
    assert dists(ours) == dists(theirs)
    assert (ours / "native/__init__.py").read_text() == (theirs / "native/__init__.py").read_text()
    compare_with_oracle(ours, theirs, version=version, interpreter=sys.executable)


def test_the_oracle_comparison_sees_a_different_wheel(
    locked: Path, index: LocalIndex, uv_cache: Path, uvroot_cache: Path, tmp_path: Path
) -> None:
    # Guard against a comparison that cannot fail: different targets must differ.
    musl, _ = stage_both(
        locked,
        tmp_path / "musl",
        platform="aarch64-unknown-linux-musl",
        version="3.12",
        index_url=index.url,
        uv_cache=uv_cache,
        cache=uvroot_cache,
    )
    _, glibc = stage_both(
        locked,
        tmp_path / "glibc",
        platform="x86_64-manylinux_2_28",
        version="3.12",
        index_url=index.url,
        uv_cache=uv_cache,
        cache=uvroot_cache,
    )
    shebang = "/usr/bin/env python3.12"
    assert normalise(tree(musl), shebang=shebang) != normalise(tree(glibc), shebang=shebang)


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
    args = ["--root", tmp_path / "root", "--python-platform", platform, "--python-version", version, "--dry-run"]
    result = uvroot("sync", "--project", locked, *args)
    assert result.exit_code == 0, result.output
    assert f"native==1.0  native-1.0-{expected}.whl" in result.output
    assert "buildy==1.0  buildy-1.0-2-py3-none-any.whl" in result.output  # the higher build tag wins
    assert not (tmp_path / "root").exists()
