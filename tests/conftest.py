"""Shared fixtures: an offline wheelhouse, a local index over it, real uv locks.

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

from tests.support.index import LocalIndex
from tests.support.uvproject import uv_lock, write_project
from tests.support.wheelhouse import build_standard_wheelhouse


def pytest_configure(config: pytest.Config) -> None:
    """Register ``network`` unless pyproject.toml already does (--strict-markers)."""
    if not any(line.startswith("network") for line in config.getini("markers")):
        config.addinivalue_line("markers", "network: needs the public PyPI (UVROOT_NETWORK=1 or -m network)")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Skip ``network`` tests unless explicitly asked for (see module doc)."""
    if os.environ.get("UVROOT_NETWORK") == "1" or "network" in (config.getoption("markexpr", "") or ""):
        return
    skip = pytest.mark.skip(reason="network test: set UVROOT_NETWORK=1 or use -m network")
    for item in items:
        if item.get_closest_marker("network") is not None:
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
