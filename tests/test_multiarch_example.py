"""examples/docker/multiarch: the one ``uvroot sync`` line buildx runs once per platform, checked against uv.

The step is read out of the Dockerfile (tests/support/dockerfile.py) and run
with ``TARGETPLATFORM`` set as ``docker buildx build --platform
linux/amd64,linux/arm64`` sets it in each platform's build stage.  The wheels it
stages must be the ones the oracle, ``uv pip install --target
--python-platform ARCH-manylinux_2_40 --python-version 3.12``, chooses for the
same lock (uv's newest glibc triple is 2.40, python:3.12-slim's glibc is 2.41;
no wheel of the test index needs more than 2.28).  Offline: a project locked
against the local index stands in for examples/hello, whose PyPI lock is used
by the network test.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from tests.support.cli import tree, uvroot
from tests.support.dockerfile import UvrootStep, parse
from tests.support.index import LocalIndex
from tests.support.oracle import dists
from tests.support.overlay import ImageSimulator, find_cpython, image_unavailable_reason
from tests.support.uvproject import uv_oracle_target

DOCKERFILE = Path(__file__).parent.parent / "examples" / "docker" / "multiarch" / "Dockerfile"
HELLO = Path(__file__).parent.parent / "examples" / "hello"
SITE = "usr/local/lib/python3.12/site-packages"
PLATFORMS = {"linux/amd64": "x86_64", "linux/arm64": "aarch64"}


def the_step() -> UvrootStep:
    stages, steps = parse(DOCKERFILE)
    assert [(stage.image, stage.platform, stage.name) for stage in stages] == [
        ("python:3.12-slim", "$BUILDPLATFORM", "build"),
        ("python:3.12-slim", None, None),
    ]
    assert len(steps) == 1
    assert "TARGETPLATFORM" in DOCKERFILE.read_text().split("AS build", 1)[1].split("RUN", 1)[0]  # ARG in the stage
    return steps[0]


def run_step(step: UvrootStep, platform: str, root: Path, project: Path, cache: Path) -> str:
    """The build stage's RUN for one platform: /root-dir -> ``root``, the project and cache here."""
    args = [str(root) if word == "/root-dir" else word for word in step.args]
    env = {**step.env, "TARGETPLATFORM": platform}
    result = uvroot(*args, "--project", project, cache=cache, env=env)
    assert result.exit_code == 0, result.output
    return result.output


def importable(site: Path) -> dict[str, bytes]:
    """The packages' own files (no dist-info, scripts or data): what both installers must agree on."""
    skip = ("bin/", "include/", "share/")
    return {path: data for path, data in tree(site).items() if ".dist-info/" not in path and not path.startswith(skip)}


@pytest.fixture
def project(make_locked_project: Callable[..., Path]) -> Path:
    return make_locked_project(dependencies=["alpha", "native", "gadgets"], dev_dependencies=["devtool"])


@pytest.mark.parametrize("platform", list(PLATFORMS))
def test_the_dockerfile_step_stages_what_uv_picks_for_each_platform(
    platform: str, project: Path, tmp_path: Path, index: LocalIndex, uv_cache: Path, uvroot_cache: Path
) -> None:
    step = the_step()
    root = tmp_path / "root-dir"
    output = run_step(step, platform, root, project, uvroot_cache)
    assert f"--platform {platform} (from $TARGETPLATFORM)" in output
    assert sorted(p.name for p in root.iterdir()) == ["usr"]
    site = root / SITE
    arch = PLATFORMS[platform]
    theirs = uv_oracle_target(project, tmp_path / "uv", python_platform=f"{arch}-manylinux_2_40",
                              python_version="3.12", index_url=index.url, cache_dir=uv_cache,
                              extra_args=["--no-dev"])  # fmt: skip
    assert dists(site) == dists(theirs)
    assert "devtool-1.0.dist-info" not in dists(site)  # --no-dev
    ours = importable(site)
    assert ours == importable(theirs)
    assert arch in ours["native/__init__.py"].decode()  # that platform's wheel, the same one uv chose
    assert (root / "usr/local/bin/alpha").read_bytes().startswith(b"#!/usr/local/bin/python3.12\n")


def test_the_amd64_tree_runs_in_the_simulated_image(project: Path, tmp_path: Path, uvroot_cache: Path) -> None:
    root = tmp_path / "root-dir"
    run_step(the_step(), "linux/amd64", root, project, uvroot_cache)
    if reason := image_unavailable_reason("3.12"):
        pytest.skip(reason)
    with ImageSimulator(find_cpython("3.12"), tmp_path / "image") as image:
        image.apply(root)  # COPY --from=build /root-dir /
        out = image.run(["alpha"], check=True).stdout  # by its #!/usr/local/bin/python3.12
        assert out.startswith("alpha 1.0")
        tag = image.run(["python", "-c", "import native; print(native.TAG)"], check=True).stdout
        assert "x86_64" in tag


@pytest.mark.network
def test_hello_for_both_platforms(tmp_path: Path, uvroot_cache: Path) -> None:
    """examples/hello's real PyPI lock: markupsafe's compiled extension for each architecture."""
    for platform, arch in PLATFORMS.items():
        root = tmp_path / arch
        run_step(the_step(), platform, root, HELLO, uvroot_cache)
        assert list((root / SITE).glob(f"markupsafe/_speedups.cpython-312-{arch}-linux-gnu.so")), platform
