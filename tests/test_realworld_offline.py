"""The real-world lock (tests/data/realworld, written by uv against pypi.org), offline.

test_network.py stages it from PyPI and compares with uv; this is its offline twin: every wheel
file the lock names is replaced by a replica of the same name on the tests' local index
(tests/support/replica.py) and the lock pointed at them, so uvroot and the uv oracle choose among
the same 851 tagged file names, forks and markers as on PyPI, here in CI.  Each replica says which
file it is, so a wrong choice is a different ``WHEEL`` line in the compared trees.
"""

from __future__ import annotations

import shutil
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.cli import uvroot
from tests.support.index import LocalIndex
from tests.support.oracle import compare_with_oracle, dists, stage_both
from tests.support.replica import point_lock_at, replica_sdists, replica_wheelhouse, wheel_filenames

REALWORLD = Path(__file__).parent / "data" / "realworld"


@pytest.fixture(scope="module")
def replica_index(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LocalIndex, dict[str, Path]]]:
    """The local index serving a replica of every file the lock names: file name -> path."""
    files = tmp_path_factory.mktemp("replica-files")
    replicas = {**replica_wheelhouse(REALWORLD / "uv.lock", files), **replica_sdists(REALWORLD / "uv.lock", files)}
    with LocalIndex(files) as index:
        yield index, replicas


@pytest.fixture
def replica_project(tmp_path: Path, replica_index: tuple[LocalIndex, dict[str, Path]]) -> Path:
    index, replicas = replica_index
    project = tmp_path / "realworld"
    shutil.copytree(REALWORLD, project)
    point_lock_at(project / "uv.lock", replicas, index_url=index.url, files_url=index.files_url)
    return project


def test_the_replica_names_every_file_of_the_lock(replica_index: tuple[LocalIndex, dict[str, Path]]) -> None:
    _, replicas = replica_index
    names = wheel_filenames(REALWORLD / "uv.lock")
    assert len(names) == 851 and sorted(n for n in replicas if n.endswith(".whl")) == sorted(names)
    assert len(replicas) == 851 + 28  # every package but the project has its sdist
    assert all(path.name == name for name, path in replicas.items())


@pytest.mark.parametrize(
    ("platform", "version", "picked"),
    [
        # the network test's three targets
        (
            "x86_64-manylinux_2_28",
            "3.12",
            "pydantic_core-2.50.4-cp312-cp312-manylinux2014_x86_64.manylinux_2_17_x86_64.whl",
        ),
        ("aarch64-unknown-linux-musl", "3.12", "pydantic_core-2.50.4-cp312-cp312-musllinux_1_1_aarch64.whl"),
        ("windows", "3.11", "pydantic_core-2.50.4-cp311-cp311-win_amd64.whl"),
        # and the forks and tag sets they do not reach: numpy 2.2.6 and exceptiongroup below 3.11
        # (uv's default glibc), macOS, the cp314 wheels beside cp314t ones
        ("x86_64-unknown-linux-gnu", "3.10", "numpy-2.2.6-cp310-cp310-manylinux_2_17_x86_64.manylinux2014_x86_64.whl"),
        ("aarch64-apple-darwin", "3.13", "pydantic_core-2.50.4-cp313-cp313-macosx_11_0_arm64.whl"),
        (
            "aarch64-manylinux_2_28",
            "3.14",
            "pydantic_core-2.50.4-cp314-cp314-manylinux2014_aarch64.manylinux_2_17_aarch64.whl",
        ),
    ],
)
def test_the_realworld_lock_gives_uvs_wheels_offline(
    replica_project: Path,
    replica_index: tuple[LocalIndex, dict[str, Path]],
    tmp_path: Path,
    uv_cache: Path,
    platform: str,
    version: str,
    picked: str,
) -> None:
    index, _ = replica_index
    ours, theirs = stage_both(
        replica_project,
        tmp_path,
        platform=platform,
        version=version,
        index_url=index.url,
        uv_cache=uv_cache,
        cache=tmp_path / "cache",
    )
    assert dists(ours) == dists(theirs)
    assert len(dists(ours)) >= 20
    compare_with_oracle(ours, theirs, version=version, interpreter=sys.executable)
    chosen = [path.read_text().splitlines()[0] for path in sorted(ours.glob("*/__init__.py"))]
    assert f'WHEEL = "{picked}"' in chosen, chosen


def test_a_target_older_than_every_wheel_of_a_package_is_refused_naming_it(
    replica_project: Path, tmp_path: Path
) -> None:
    """greenlet's oldest Linux wheels need glibc 2.24: for manylinux_2_17 the lock has only its sdist (C++)."""
    target = ["--python-platform", "x86_64-manylinux_2_17", "--python-version", "3.10"]
    result = uvroot("sync", "--project", replica_project, "--target", tmp_path / "t", *target, cache=tmp_path / "c")
    assert result.exit_code == 4, result.output
    assert "greenlet==3.5.6 has only an sdist (greenlet-3.5.6.tar.gz) with native code" in result.stderr
    assert "not for cp310-x86_64-manylinux_2_17" in result.stderr and "Traceback" not in result.output
    assert not (tmp_path / "t").exists()
