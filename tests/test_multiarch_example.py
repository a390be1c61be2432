"""examples/docker/multiarch: the one ``uvroot sync`` line buildx runs once per platform, checked against uv.

The step is read out of the Dockerfile (tests/support/dockerfile.py) and run
with ``TARGETPLATFORM`` set as ``docker buildx build --platform
linux/amd64,linux/arm64`` sets it in each platform's build stage.  The wheels it
stages must be the ones the oracle, ``uv pip install --target
--python-platform ARCH-manylinux_2_40 --python-version 3.13``, chooses for the
same lock (uv's newest glibc triple is 2.40, python:3.13-slim's glibc is 2.41;
no wheel of the test index needs more than 2.28).  Offline: a project locked
against the local index (plus ``native``'s CPython 3.13 wheels for both
architectures) stands in for examples/hello, whose PyPI lock is used by the
network tests.

The arm64 tree then runs in a real arm64 ``python:3.13-slim`` root filesystem
(tests/support/rootfs.py: Debian 13 with CPython 3.13 built from source into
``/usr/local`` as the official image builds it) under qemu-user, marker
``images``: every top-level module imports with ``/usr/local/bin/python3``,
every script runs by its shebang, and the image's pip lists every distribution.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from packaging.utils import canonicalize_name

from tests.support.cli import tree, uvroot
from tests.support.dockerfile import UvrootStep, parse
from tests.support.index import LocalIndex
from tests.support.oracle import dists
from tests.support.overlay import ImageSimulator, find_cpython, image_unavailable_reason
from tests.support.rootfs import PYTHON_IMAGES, ImageRun, PythonImage, unavailable_reason
from tests.support.uvproject import uv_lock, uv_oracle_target, write_project
from tests.support.wheels import build_wheel, default_files

DOCKERFILE = Path(__file__).parent.parent / "examples" / "docker" / "multiarch" / "Dockerfile"
HELLO = Path(__file__).parent.parent / "examples" / "hello"
SITE = "usr/local/lib/python3.13/site-packages"
PLATFORMS = {"linux/amd64": "x86_64", "linux/arm64": "aarch64"}
# The standard index's ``native`` has CPython 3.12 wheels only: these are python:3.13-slim's, per architecture.
NATIVE_313 = {arch: f"cp313-cp313-manylinux_2_17_{arch}.manylinux2014_{arch}" for arch in PLATFORMS.values()}
ARM64_IMAGE = "python-3.13-slim-arm64"  # tests/support/rootfs.py; the tests' id, for `make test-images IMAGES=...`
# Imports each module named on the command line and prints {module: __file__}.
IMPORT_ALL = (
    "import importlib, json, sys; print(json.dumps({m: importlib.import_module(m).__file__ for m in sys.argv[1:]}))"
)


def the_step() -> UvrootStep:
    stages, steps = parse(DOCKERFILE)
    assert [(stage.image, stage.platform, stage.name) for stage in stages] == [
        ("python:3.13-slim", "$BUILDPLATFORM", "build"),
        ("python:3.13-slim", None, None),
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


@pytest.fixture(scope="module")
def index(wheelhouse: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalIndex]:
    """The standard wheels plus ``native`` 1.0 for CPython 3.13 on x86_64 and aarch64."""
    house = tmp_path_factory.mktemp("multiarch-wheelhouse")
    for wheel in wheelhouse.iterdir():
        shutil.copy2(wheel, house / wheel.name)
    for tag in NATIVE_313.values():
        build_wheel(house, "native", "1.0", tag=tag, files=dict(default_files("native", "1.0", tag)))
    with LocalIndex(house) as index:
        yield index


@pytest.fixture
def project(index: LocalIndex, tmp_path: Path, uv_cache: Path) -> Path:
    project = tmp_path / "project"
    write_project(project, dependencies=["alpha", "native", "gadgets"], dev_dependencies=["devtool"])
    uv_lock(project, index.url, cache_dir=uv_cache)
    return project


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
                              python_version="3.13", index_url=index.url, cache_dir=uv_cache,
                              extra_args=["--no-dev"])  # fmt: skip
    assert dists(site) == dists(theirs)
    assert "devtool-1.0.dist-info" not in dists(site)  # --no-dev
    ours = importable(site)
    assert ours == importable(theirs)
    assert f'TAG = "{NATIVE_313[arch]}"' in ours["native/__init__.py"].decode()  # that platform's wheel, as uv
    assert (root / "usr/local/bin/alpha").read_bytes().startswith(b"#!/usr/local/bin/python3.13\n")


def test_the_amd64_tree_runs_in_the_simulated_image(project: Path, tmp_path: Path, uvroot_cache: Path) -> None:
    root = tmp_path / "root-dir"
    run_step(the_step(), "linux/amd64", root, project, uvroot_cache)
    if reason := image_unavailable_reason("3.13"):
        pytest.skip(reason)
    with ImageSimulator(find_cpython("3.13"), tmp_path / "image") as image:
        image.apply(root)  # COPY --from=build /root-dir /
        out = image.run(["alpha"], check=True).stdout  # by its #!/usr/local/bin/python3.13
        assert out.startswith("alpha 1.0")
        tag = image.run(["python", "-c", "import native; print(native.TAG)"], check=True).stdout
        assert tag == f"{NATIVE_313['x86_64']}\n"


@pytest.mark.network
def test_hello_for_both_platforms(tmp_path: Path, uvroot_cache: Path) -> None:
    """examples/hello's real PyPI lock: markupsafe's compiled extension for each architecture."""
    for platform, arch in PLATFORMS.items():
        root = tmp_path / arch
        run_step(the_step(), platform, root, HELLO, uvroot_cache)
        assert list((root / SITE).glob(f"markupsafe/_speedups.cpython-313-{arch}-linux-gnu.so")), platform


def _staged(site: Path) -> dict[str, tuple[str, list[str]]]:
    """Each distribution staged in host dir ``site``: canonical name -> (version, its top-level packages)."""
    found = {}
    for dist_info in sorted(site.glob("*.dist-info")):
        name, version = dist_info.name.removesuffix(".dist-info").rsplit("-", 1)
        paths = [line.rsplit(",", 2)[0] for line in (dist_info / "RECORD").read_text().splitlines() if line]
        tops = {path.split("/", 1)[0] for path in paths if "/" in path}
        packages = sorted(top for top in tops if (site / top / "__init__.py").is_file())
        assert packages, f"{dist_info.name}: no package in {sorted(tops)}"
        found[str(canonicalize_name(name))] = (version, packages)
    return found


@pytest.fixture(params=[ARM64_IMAGE])
def arm64_image(request: pytest.FixtureRequest) -> PythonImage:
    image = PYTHON_IMAGES[request.param]
    assert image.tag == "python:3.13-slim" and image.machine == "aarch64"
    if reason := unavailable_reason(image):
        pytest.skip(reason)
    return image


@pytest.mark.images
def test_the_arm64_tree_runs_in_the_arm64_image(
    arm64_image: PythonImage, project: Path, tmp_path: Path, uvroot_cache: Path
) -> None:
    """``COPY --from=build /root-dir /`` of the linux/arm64 stage onto the arm64 image, run there under qemu."""
    root = tmp_path / "root-dir"
    run_step(the_step(), "linux/arm64", root, project, uvroot_cache)
    run = ImageRun(arm64_image, tmp_path / "run", [root])
    facts = "import platform, sys; print(platform.machine(), platform.libc_ver()[1], sys.prefix, sys.version)"
    machine, glibc, prefix, version = run.run(["python3", "-c", facts], check=True).stdout.split(maxsplit=3)
    assert (machine, glibc, prefix) == ("aarch64", arm64_image.glibc, "/usr/local")
    assert version.startswith(f"{arm64_image.python}.")

    site = Path("/") / SITE
    staged = _staged(root / SITE)
    assert set(staged) == {"alpha", "beta", "native", "gadgets"}, staged
    modules = sorted(module for _version, mods in staged.values() for module in mods)
    files = json.loads(run.run(["/usr/local/bin/python3", "-c", IMPORT_ALL, *modules], check=True).stdout)
    assert sorted(files) == modules and all(path.startswith(f"{site}/") for path in files.values()), files
    tag = run.run(["/usr/local/bin/python3", "-c", "import native; print(native.TAG)"], check=True).stdout
    assert tag == f"{NATIVE_313['aarch64']}\n"  # the arm64 wheel, run on arm64

    outputs = {}
    for script in sorted((root / "usr/local/bin").iterdir()):  # by its shebang: the kernel execs /usr/local/bin/...
        assert os.access(script, os.X_OK), script
        outputs[script.name] = run.run([f"/usr/local/bin/{script.name}"], check=True).stdout
    assert outputs == {
        "alpha": "alpha 1.0 py3-none-any\n",
        "gadget": "gadgets 1.0 py3-none-any\n",
        "gadget-tool": "gadget-tool ok\n",
        "gadget.sh": "gadget.sh ok\n",
    }

    # The image has no bytecode (the official build deletes every .pyc): pip compiles ~400 modules under qemu
    # first, 3.5 minutes on a busy 2-core machine.
    pip_list = ["python3", "-m", "pip", "list", "--disable-pip-version-check", "--format", "json"]
    out = run.run(pip_list, check=True, timeout=1200).stdout
    listed = {str(canonicalize_name(d["name"])): d["version"] for d in json.loads(out)}
    assert {name: version for name, (version, _mods) in staged.items()}.items() <= listed.items()
    assert "pip" in listed  # the image's own pip, beside the staged distributions


@pytest.mark.images
@pytest.mark.network
def test_hello_runs_in_the_arm64_image(arm64_image: PythonImage, tmp_path: Path, uvroot_cache: Path) -> None:
    """examples/hello's PyPI lock staged for linux/arm64: markupsafe's aarch64 extension loads in the image."""
    root = tmp_path / "root-dir"
    run_step(the_step(), "linux/arm64", root, HELLO, uvroot_cache)
    (root / "app").mkdir()
    shutil.copy(HELLO / "app.py", root / "app/app.py")  # COPY app.py /app/
    run = ImageRun(arm64_image, tmp_path / "run", [root])
    out = run.run(["python", "/app/app.py", "--name", "<arm>"], check=True).stdout  # CMD
    assert "&lt;hello &lt;arm&gt;&gt;" in out
    speedups = f"/{SITE}/markupsafe/_speedups.cpython-313-aarch64-linux-gnu.so"
    assert f"compiled extension: {speedups}" in out, out
    assert run.run(["/usr/local/bin/pygmentize", "-V"], check=True).stdout.startswith("Pygments version")
