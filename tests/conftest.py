"""Shared fixtures: an offline wheelhouse, a local index over it, real uv locks.

Real-image tests
----------------
Tests marked ``@pytest.mark.images`` run staged trees inside Debian root
filesystems built by debootstrap (tests/support/rootfs.py).  They are skipped
unless a rootfs is cached (``make test-images`` builds them), ``UVROOT_IMAGES=1``
is set or the ``-m`` expression names ``images``; each test then skips, saying
why, when its image is not built or cannot run here (not root, no binfmt qemu).

Network tests
-------------
Tests marked ``@pytest.mark.network`` talk to the public PyPI.  They are
skipped unless either ``UVROOT_NETWORK=1`` is set or the ``-m`` expression
names ``network`` (e.g. ``pytest -m network``).  Checking the raw ``-m``
string is the simplest rule that needs no custom command-line option and
cannot be forgotten by CI: the default run is always offline.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

# Make ``tests.support`` importable however pytest was started (``pytest``
# or ``python -m pytest``, any import mode, with or without tests/__init__.py).
_REPO_ROOT = str(Path(__file__).resolve().parent.parent)
if _REPO_ROOT not in sys.path:
    sys.path.insert(0, _REPO_ROOT)

from tests.support.bulk import build_bulk_wheelhouse
from tests.support.index import LocalIndex
from tests.support.rootfs import any_rootfs_built, images_cache
from tests.support.sources import GitRepo, make_git_repo, uv_oracle_sync, write_package, write_workspace
from tests.support.uvproject import uv_lock, write_project
from tests.support.wheelhouse import build_standard_wheelhouse


def pytest_configure(config: pytest.Config) -> None:
    """Register ``network`` and ``images`` unless pyproject.toml already does (--strict-markers).

    Also: Ctrl-C is not ignored.  A shell started in the background without job control runs its
    commands with SIGINT ignored, and every sync the tests start would inherit that (an ignored
    signal survives exec; uvroot rightly leaves it ignored): the Ctrl-C tests would test nothing.
    """
    if signal.getsignal(signal.SIGINT) == signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)  # children exec with SIGINT at its default
    if not any(line.startswith("network") for line in config.getini("markers")):
        config.addinivalue_line("markers", "network: needs the public PyPI (UVROOT_NETWORK=1 or -m network)")
    if not any(line.startswith("images") for line in config.getini("markers")):
        config.addinivalue_line("markers", "images: runs inside debootstrapped Debian root filesystems")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Skip ``network`` tests unless explicitly asked for, ``images`` tests unless possible (see module doc)."""
    markexpr = config.getoption("markexpr", "") or ""
    skips = {}
    if not (os.environ.get("UVROOT_NETWORK") == "1" or "network" in markexpr):
        skips["network"] = pytest.mark.skip(reason="network test: set UVROOT_NETWORK=1 or use -m network")
    if not (os.environ.get("UVROOT_IMAGES") == "1" or "images" in markexpr or any_rootfs_built()):
        skips["images"] = pytest.mark.skip(
            reason=f"real-image test: no rootfs in {images_cache()}; run `make test-images` (or set UVROOT_IMAGES=1)"
        )
    for item in items:
        for marker, skip in skips.items():
            if item.get_closest_marker(marker) is not None:
                item.add_marker(skip)


@pytest.fixture(scope="session")
def wheelhouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Directory holding the standard wheel set (built once per session)."""
    return build_standard_wheelhouse(tmp_path_factory.mktemp("wheelhouse"))


@pytest.fixture(scope="session")
def index(wheelhouse: Path) -> Iterator[LocalIndex]:
    """A running PEP 503 index over ``wheelhouse``.

    Session-wide, so a test that calls ``corrupt()`` must ``reset()`` after
    itself (and should use its own uv cache, or uv may reuse a good copy).
    """
    with LocalIndex(wheelhouse) as idx:
        yield idx


@pytest.fixture(scope="session")
def uv_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A uv cache shared by the session: locks after the first are fast."""
    return tmp_path_factory.mktemp("uv-cache")


@pytest.fixture
def make_locked_project(tmp_path: Path, index: LocalIndex, uv_cache: Path) -> Callable[..., Path]:
    """Factory: ``make_locked_project(**write_project_kwargs) -> project dir``.

    Writes pyproject.toml into a fresh directory under ``tmp_path`` and runs
    the real ``uv lock`` against ``index``.  Callable more than once per test.
    """
    counter = iter(range(1, 1000))

    def make(**kwargs: Any) -> Path:
        project = tmp_path / f"project-{next(counter)}"
        write_project(project, **kwargs)
        uv_lock(project, index.url, cache_dir=uv_cache)
        return project

    return make


@pytest.fixture(scope="session")
def uvroot_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """uvroot's wheel cache for the session (content-addressed, so safe to share)."""
    return tmp_path_factory.mktemp("uvroot-cache")


# -- sources uv must BUILD (tests/support/sources.py) ---------------------------


@pytest.fixture
def lock_project(index: LocalIndex, uv_cache: Path) -> Callable[[Path], Path]:
    """Factory: ``lock_project(dir) -> dir/uv.lock``, the real ``uv lock`` against ``index``."""

    def lock(project: Path) -> Path:
        return uv_lock(project, index.url, cache_dir=uv_cache)

    return lock


@pytest.fixture
def make_package(tmp_path: Path) -> Callable[..., Path]:
    """Factory: ``make_package(rel=None, **write_package_kwargs) -> source dir``.

    The tree goes to ``tmp_path/rel`` (default ``libs/<name>``), so a project
    from ``make_locked_project`` (``tmp_path/project-N``) reaches it as
    ``{ path = "../libs/<name>" }``.
    """

    def make(rel: str | None = None, **kwargs: Any) -> Path:
        return write_package(tmp_path / (rel or f"libs/{kwargs['name']}"), **kwargs)

    return make


@pytest.fixture
def make_workspace(tmp_path: Path, lock_project: Callable[[Path], Path]) -> Callable[..., Path]:
    """Factory: ``make_workspace(members=None, root=None, lock=True) -> workspace dir``.

    Defaults to ``STANDARD_WORKSPACE`` (root ``wsroot`` -> member ``app`` ->
    member ``core``); see :func:`~tests.support.sources.write_workspace`.
    """
    counter = iter(range(1, 1000))

    def make(members: Any = None, root: Any = None, lock: bool = True) -> Path:
        ws = write_workspace(tmp_path / f"workspace-{next(counter)}", members, root)
        if lock:
            lock_project(ws)
        return ws

    return make


@pytest.fixture
def make_git_package(tmp_path: Path) -> Callable[..., GitRepo]:
    """Factory: ``make_git_package(subdirectory=None, **write_package_kwargs) -> GitRepo(url, commit)``.

    One commit in a fresh repository under ``tmp_path/git``; skips the test
    when no ``git`` is installed.
    """
    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    counter = iter(range(1, 1000))

    def make(subdirectory: str | None = None, **kwargs: Any) -> GitRepo:
        repo = tmp_path / "git" / f"{kwargs['name']}-{next(counter)}"
        return make_git_repo(repo, kwargs, subdirectory=subdirectory)

    return make


@pytest.fixture
def oracle_sync(tmp_path: Path, index: LocalIndex, uv_cache: Path) -> Callable[..., list[str]]:
    """Factory: ``oracle_sync(project, extra_args=()) -> ["name==version", ...]``.

    :func:`~tests.support.sources.uv_oracle_sync` into a fresh venv under ``tmp_path``.
    """
    counter = iter(range(1, 1000))

    def sync(project: Path, extra_args: tuple[str, ...] | list[str] = ()) -> list[str]:
        venv = tmp_path / f"oracle-venv-{next(counter)}"
        return uv_oracle_sync(project, venv, index_url=index.url, cache_dir=uv_cache, extra_args=extra_args)

    return sync


@pytest.fixture(scope="session", autouse=True)
def _isolated_frontends(uv_cache: Path) -> Iterator[None]:
    """Builds that uvroot starts (uv build, pip wheel) see only the test index and a test cache.

    The machine's own settings (a user uv cache holding other `tinybuild` builds,
    pip's find-links and extra indexes) would otherwise leak into the tests.
    """
    saved = dict(os.environ)
    for key in [k for k in os.environ if k.startswith(("UV_", "PIP_"))]:
        del os.environ[key]
    os.environ.update(
        {
            "UV_CACHE_DIR": str(uv_cache),
            "UV_PYTHON_DOWNLOADS": "never",
            "PIP_CONFIG_FILE": os.devnull,
            "UV_NO_CONFIG": "1",
        }
    )
    yield
    os.environ.clear()
    os.environ.update(saved)


# -- the write side's attack wheelhouse (tests/support/bulk.py) -------------------


@pytest.fixture(scope="session")
def bulk_index(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalIndex]:
    with LocalIndex(build_bulk_wheelhouse(tmp_path_factory.mktemp("bulk-wheels"))) as index:
        yield index


@pytest.fixture(scope="session")
def bulk_project(
    bulk_index: LocalIndex, tmp_path_factory: pytest.TempPathFactory, uv_cache: Path
) -> Callable[..., Path]:
    """``bulk_project(*requirements) -> a project locked by the real uv against the bulk index``."""
    made: dict[tuple[str, ...], Path] = {}

    def make(*requirements: str) -> Path:
        if requirements not in made:
            project = tmp_path_factory.mktemp("bulk-project")
            write_project(project, dependencies=requirements)
            uv_lock(project, bulk_index.url, cache_dir=uv_cache)
            made[requirements] = project
        return made[requirements]

    return make


# -- a small disk (tests/test_cache.py, tests/test_faults.py) ------------------------------


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Callable[[int], Path]]:
    """``small_disk(free_bytes) -> dir``: a tmpfs with about that much room left (skips if mount is refused)."""
    mounted: list[Path] = []

    def make(free: int) -> Path:
        where = tmp_path / f"disk-{len(mounted)}"
        where.mkdir()
        done = subprocess.run(
            ["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(where)], capture_output=True, check=False
        )
        if done.returncode != 0:
            pytest.skip(f"cannot mount a tmpfs here: {done.stderr.decode().strip()}")
        mounted.append(where)
        (where / "filler").write_bytes(bytes((4 << 20) - free))
        return where / "cache"

    yield make
    for where in mounted:
        subprocess.run(["umount", "-l", str(where)], check=False)
