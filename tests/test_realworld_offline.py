"""Real uv locks written against pypi.org, staged offline and compared with the uv oracle.

* tests/data/realworld: the network tests' lock (compiled wheels of every kind, forks by Python
  version); test_network.py stages it from PyPI, this is its offline twin.
* tests/data/flask: pallets/flask's own ``uv.lock`` and ``pyproject.toml`` as committed at
  2ac89889 (2026-04-08): 83 packages, extras, seven dependency groups, default-groups, an
  editable project (left out here: building Flask needs flit_core, which the replicas lack).

Every wheel and sdist such a lock names is replaced by a replica of the same file name on the
tests' local index (tests/support/replica.py) and the lock pointed at them, so uvroot and the uv
oracle choose among the same tagged file names, forks and markers as on PyPI, here in CI.  Each
replica says which file it is, so a wrong choice is a different ``WHEEL`` line in the trees.
"""

from __future__ import annotations

import shutil
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest

from tests.support.cli import uvroot
from tests.support.index import LocalIndex
from tests.support.oracle import compare_with_oracle, dists, stage_both
from tests.support.replica import point_lock_at, replica_sdists, replica_wheelhouse, wheel_filenames

DATA = Path(__file__).parent / "data"
REALWORLD, FLASK = DATA / "realworld", DATA / "flask"


@pytest.fixture(scope="module")
def replica_index(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LocalIndex, dict[str, Path]]]:
    """The local index serving a replica of every file the locks name: file name -> path.

    A file both locks name gets the same replica (its bytes depend on its name only)."""
    files = tmp_path_factory.mktemp("replica-files")
    replicas = {}
    for lock in (REALWORLD / "uv.lock", FLASK / "uv.lock"):
        replicas |= replica_wheelhouse(lock, files) | replica_sdists(lock, files)
    with LocalIndex(files) as index:
        yield index, replicas


def _replica_of(data: Path, work: Path, replica_index: tuple[LocalIndex, dict[str, Path]]) -> Path:
    index, replicas = replica_index
    project = work / data.name
    shutil.copytree(data, project)
    point_lock_at(project / "uv.lock", replicas, index_url=index.url, files_url=index.files_url)
    return project


def _staged_as_uv_stages(
    project: Path,
    replica_index: tuple[LocalIndex, dict[str, Path]],
    tmp_path: Path,
    uv_cache: Path,
    platform: str,
    version: str,
    selection: Sequence[str] = (),
) -> Path:
    """``uvroot sync --target`` and the oracle, compared (same distributions, same files); uvroot's tree."""
    ours, theirs = stage_both(
        project,
        tmp_path,
        platform=platform,
        version=version,
        index_url=replica_index[0].url,
        uv_cache=uv_cache,
        cache=tmp_path / "cache",
        flags=selection,
        uvroot_flags=["--no-install-project"],  # the oracle's export leaves the project out
    )
    assert dists(ours) == dists(theirs)
    compare_with_oracle(ours, theirs, version=version, interpreter=sys.executable)
    return ours


@pytest.fixture
def replica_project(tmp_path: Path, replica_index: tuple[LocalIndex, dict[str, Path]]) -> Path:
    return _replica_of(REALWORLD, tmp_path, replica_index)


def test_the_replica_names_every_file_of_the_lock(
    replica_index: tuple[LocalIndex, dict[str, Path]], tmp_path: Path
) -> None:
    _, replicas = replica_index
    names = wheel_filenames(REALWORLD / "uv.lock")
    assert len(names) == 851 and set(names) <= set(replicas)
    assert len(replica_sdists(REALWORLD / "uv.lock", tmp_path)) == 28  # all but the project
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
    ours = _staged_as_uv_stages(replica_project, replica_index, tmp_path, uv_cache, platform, version)
    assert len(dists(ours)) >= 20
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


FLASK_SELECTIONS = [
    [],  # default-groups: dev, pre-commit, tests, typing
    ["--no-dev"],
    ["--all-groups", "--all-extras"],
    ["--only-group", "docs"],
    ["--no-default-groups", "--group", "gha-update", "--extra", "async"],
]


@pytest.mark.parametrize("selection", FLASK_SELECTIONS, ids=lambda flags: " ".join(flags) or "default")
@pytest.mark.parametrize(("platform", "version"), [("x86_64-manylinux_2_28", "3.12"), ("macos", "3.10")])
def test_flasks_own_lock_gives_uvs_distributions_for_each_selection(
    replica_index: tuple[LocalIndex, dict[str, Path]],
    tmp_path: Path,
    uv_cache: Path,
    selection: list[str],
    platform: str,
    version: str,
) -> None:
    project = _replica_of(FLASK, tmp_path, replica_index)
    _staged_as_uv_stages(project, replica_index, tmp_path, uv_cache, platform, version, selection)
