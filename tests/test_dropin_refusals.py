"""Fast, honest refusals for foreign targets: `sync` and `check` make one decision per package.

An sdist with native code is refused for a foreign target before anything is built (or any wheel
downloaded), naming the package, the target and the way out; a pure-Python sdist still builds,
and `check` passes it.
"""

from __future__ import annotations

import shutil
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.support import tinybuild_backend
from tests.support.cli import uvroot
from tests.support.index import LocalIndex
from tests.support.sources import write_package
from tests.support.uvproject import uv_lock, write_project

FOREIGN = ["--python-platform", "aarch64-unknown-linux-musl", "--python-version", "3.12"]
SITE312 = "usr/local/lib/python3.12/site-packages"


@pytest.fixture(scope="module")
def sdist_index(wheelhouse: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalIndex]:
    """The standard wheelhouse plus ``nativesdist-1.0.tar.gz``: a C source in its package, no wheel."""
    house = tmp_path_factory.mktemp("sdist-house")
    for wheel in wheelhouse.iterdir():
        shutil.copy2(wheel, house / wheel.name)
    tree = write_package(tmp_path_factory.mktemp("nativesdist") / "nativesdist", name="nativesdist", native=True)
    (tree / "src" / "nativesdist" / "_speedups.c").write_text("int answer(void) { return 42; }\n")
    tinybuild_backend.sdist_from(str(tree), str(house))
    with LocalIndex(house) as index:
        yield index


@pytest.fixture
def locked(sdist_index: LocalIndex, uv_cache: Path, tmp_path: Path) -> Callable[..., Path]:
    def make(*dependencies: str) -> Path:
        project = tmp_path / "project"
        write_project(project, dependencies=list(dependencies), requires_python=">=3.10")
        uv_lock(project, sdist_index.url, cache_dir=uv_cache)
        return project

    return make


def test_check_names_the_native_sdist_and_passes_the_pure_one(locked: Callable[..., Path], tmp_path: Path) -> None:
    project = locked("nativesdist", "sdistonly", "alpha")
    result = uvroot("check", "--project", project, *FOREIGN, "--cache-dir", tmp_path / "cache")
    assert result.exit_code == 4, result.output
    assert "1 package has no wheel that fits it" in result.output
    assert "nativesdist==1.0: only an sdist (nativesdist-1.0.tar.gz) with native code (C source" in result.output
    assert "sdistonly" not in result.output
    pure = locked("sdistonly", "alpha")
    passed = uvroot("check", "--project", pure, *FOREIGN, "--cache-dir", tmp_path / "cache")
    assert passed.exit_code == 0, passed.output
    assert "1 built from sdists on this machine" in passed.output


def test_sync_refuses_the_native_sdist_before_building_or_downloading_wheels(
    locked: Callable[..., Path], sdist_index: LocalIndex, tmp_path: Path
) -> None:
    project = locked("nativesdist", "sdistonly", "alpha")
    sdist_index.reset()
    cache = tmp_path / "cache"
    result = uvroot("sync", "--project", project, "--root", tmp_path / "root", *FOREIGN, cache=cache)
    assert result.exit_code == 4, result.output
    assert "error: nativesdist==1.0 has only an sdist (nativesdist-1.0.tar.gz) with native code" in result.output
    assert "not for cp312-aarch64-musllinux_1_2" in result.output
    assert "hint: lock a wheel for the target" in result.output
    assert sdist_index.downloads() == []  # no wheel fetched, no build requirement (tinybuild) either
    assert not (cache / "built-v1").exists()
    assert not (tmp_path / "root").exists()


def test_sync_still_builds_a_pure_sdist_for_a_foreign_target(locked: Callable[..., Path], tmp_path: Path) -> None:
    project = locked("sdistonly", "alpha")
    result = uvroot("sync", "--project", project, "--root", tmp_path / "root", *FOREIGN, cache=tmp_path / "cache")
    assert result.exit_code == 0, result.output
    assert list((tmp_path / "root" / SITE312).glob("sdistonly-1.0.dist-info"))


def test_check_and_sync_agree_on_the_host(locked: Callable[..., Path], tmp_path: Path) -> None:
    project = locked("nativesdist")
    host = ["--python-version", f"{sys.version_info[0]}.{sys.version_info[1]}"]
    assert uvroot("check", "--project", project, *host, "--cache-dir", tmp_path / "c").exit_code == 0
    staged = uvroot("sync", "--project", project, "--root", tmp_path / "root", *host, cache=tmp_path / "c")
    assert staged.exit_code == 0, staged.output


def test_a_local_source_declaring_a_compiling_backend_is_refused_before_building(
    make_package: Callable[..., Path], make_locked_project: Callable[..., Path], tmp_path: Path
) -> None:
    make_package(name="cext")
    project = make_locked_project(
        dependencies=["alpha", "cext"], sources={"cext": {"path": "../libs/cext"}}, requires_python=">=3.10"
    )
    pyproject = tmp_path / "libs/cext/pyproject.toml"  # locked; now its build compiles (no such backend is installed)
    pyproject.write_text(pyproject.read_text().replace('build-backend = "tinybuild"', 'build-backend = "mesonpy"'))
    checked = uvroot("check", "--project", project, *FOREIGN, "--frozen")
    assert checked.exit_code == 4, checked.output
    assert "cext==1.0: a local source" in checked.output and "(build backend mesonpy)" in checked.output
    staged = uvroot(
        "sync", "--project", project, "--root", tmp_path / "root", *FOREIGN, "--frozen", cache=tmp_path / "c"
    )
    assert staged.exit_code == 4 and "error: cext==1.0 has a local source" in staged.output, staged.output
    assert not (tmp_path / "c" / "built-v1").exists() and not (tmp_path / "root").exists()
