"""Real projects from the public PyPI (opt-in: `make test-network`, or UVROOT_NETWORK=1).

The lock in tests/data/realworld was written by uv against pypi.org; uvroot's
`--target` must give the same distributions, wheels and files as uv's own
`uv pip install --target --python-platform` for each target.  Its offline twin,
tests/test_realworld_offline.py, runs the same comparison in CI on replicas of the
lock's 851 wheel files (same names, so the same choice) served by the local index;
what only this test proves is that the real files' contents land as uv lands them.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest

from tests.support.cli import uvroot
from tests.support.oracle import compare_with_oracle, dists, stage_both

pytestmark = pytest.mark.network

REALWORLD = Path(__file__).parent / "data" / "realworld"
PYPI = "https://pypi.org/simple"


@pytest.fixture(scope="module")
def network_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("network-cache")


@pytest.mark.parametrize(
    ("platform", "version"),
    [("x86_64-manylinux_2_28", "3.12"), ("aarch64-unknown-linux-musl", "3.12"), ("windows", "3.11")],
)
def test_realworld_lock_matches_uv(
    tmp_path: Path, network_cache: Path, uv_cache: Path, platform: str, version: str
) -> None:
    project = tmp_path / "realworld"
    shutil.copytree(REALWORLD, project)
    ours, theirs = stage_both(
        project, tmp_path, platform=platform, version=version, index_url=PYPI, uv_cache=uv_cache, cache=network_cache
    )
    assert dists(ours) == dists(theirs)
    assert len(dists(ours)) >= 20
    compare_with_oracle(ours, theirs, version=version, interpreter=sys.executable)
    if platform.startswith("aarch64"):
        assert list(ours.glob("pydantic_core/_pydantic_core.cpython-312-aarch64-linux-musl.so"))


def test_example_app_runs_on_the_images_own_python(tmp_path: Path, network_cache: Path) -> None:
    from tests.support.overlay import ImageSimulator, find_cpython, image_unavailable_reason

    if reason := image_unavailable_reason("3.12"):
        pytest.skip(reason)
    example = Path(__file__).parent.parent / "examples" / "hello"
    root = tmp_path / "root-dir"
    result = uvroot(
        "sync",
        "--project",
        example,
        "--root",
        root,
        "--no-dev",
        "--python-version",
        "3.12",
        "--python-platform",
        "x86_64-manylinux_2_28",
        cache=network_cache,
    )
    assert result.exit_code == 0, result.output
    with ImageSimulator(find_cpython("3.12"), tmp_path / "image") as image:
        image.apply(root)
        out = image.run(["python3.12", str(example / "app.py"), "--name", "<img>"], check=True).stdout
        assert "&lt;hello &lt;img&gt;&gt;" in out and "cpython-312-x86_64-linux-gnu.so" in out
        assert image.run(["pygmentize", "-V"], check=True).stdout.startswith("Pygments version")


def test_workspace_example_in_two_docker_layers(tmp_path: Path, network_cache: Path) -> None:
    """examples/workspace/Dockerfile's two uvroot steps, for real: dependencies first, then the workspace."""
    from tests.support.overlay import ImageSimulator, find_cpython, image_unavailable_reason

    example = Path(__file__).parent.parent / "examples" / "workspace"
    target = ["--python-version", "3.12", "--python-platform", "x86_64-manylinux_2_28"]
    layer_one = tmp_path / "layer-one"  # like the bind mounts: only the lock and the root pyproject
    layer_one.mkdir()
    for name in ("pyproject.toml", "uv.lock"):
        shutil.copy(example / name, layer_one / name)
    root = tmp_path / "root-dir"
    first = uvroot(
        "sync",
        "--project",
        layer_one,
        "--root",
        root,
        "--frozen",
        "--no-dev",
        "--no-install-workspace",
        *target,
        cache=network_cache,
    )
    assert first.exit_code == 0, first.output
    site = root / "usr/local/lib/python3.12/site-packages"
    assert list(site.glob("pydantic-*.dist-info")) and not list(site.glob("shop*"))
    project = tmp_path / "src"
    shutil.copytree(example, project)
    second = uvroot("sync", "--project", project, "--root", root, "--locked", "--no-dev", *target, cache=network_cache)
    assert second.exit_code == 0, second.output
    assert "staged 2 packages" in second.output and "kept 11" in second.output
    if reason := image_unavailable_reason("3.12"):
        pytest.skip(reason)
    with ImageSimulator(find_cpython("3.12"), tmp_path / "image") as image:
        image.apply(root)
        out = image.run(["shop"], check=True).stdout
        assert out.startswith("shop 7.50 EUR (httpx ")
