"""A staged tree, laid over a real CPython as the final image's filesystem, imports and runs.

This is the end-to-end promise: `COPY --from=build /root-dir /` onto a
`python:X.Y` image gives a Python that imports every locked package and runs
every console script by its shebang, with no virtual environment.  The image is
simulated with a copy of a real CPython at /usr/local in a private mount
namespace (tests/support/overlay.py); hosts that cannot do this skip.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.support.cli import uvroot
from tests.support.overlay import ImageSimulator, find_cpython, image_unavailable_reason
from tests.support.sources import git_requirement

VERSIONS = ["3.12", "3.11"]


@pytest.fixture(params=VERSIONS)
def image(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[ImageSimulator]:
    version = request.param
    if reason := image_unavailable_reason(version):
        pytest.skip(reason)
    prefix = find_cpython(version)
    assert prefix is not None
    with ImageSimulator(prefix, tmp_path / "image") as simulator:
        yield simulator


@pytest.fixture
def project(make_locked_project: Callable[..., Path]) -> Path:
    return make_locked_project(dependencies=["alpha[fancy]", "gadgets", "native"], requires_python=">=3.10")


def _stage(
    project: Path, image: ImageSimulator, cache: Path, *layout: str | Path, env: dict[str, str] | None = None
) -> None:
    # The build machine is x86_64 glibc like this host; the image's Python is image.version.
    result = uvroot(
        "sync",
        "--project",
        project,
        *layout,
        "--python-version",
        image.version,
        "--python-platform",
        "x86_64-manylinux_2_28",
        cache=cache,
        env=env,
    )
    assert result.exit_code == 0, result.output


def test_root_tree_imports_and_runs_scripts_by_shebang(
    project: Path, image: ImageSimulator, tmp_path: Path, uvroot_cache: Path
) -> None:
    root = tmp_path / "root-dir"
    _stage(project, image, uvroot_cache, "--root", root)
    image.apply(root)
    python = image.python
    imported = image.run(
        [
            python,
            "-c",
            "import alpha, beta, fancy_dep, gadgets, native, sys; print(alpha.__file__, native.TAG, sys.prefix)",
        ],
        check=True,
    ).stdout.split()
    assert imported[0] == f"/usr/local/lib/python{image.version}/site-packages/alpha/__init__.py"
    assert imported[2] == "/usr/local"
    assert image.run(["alpha"], check=True).stdout.startswith("alpha 1.0")  # console script, found on PATH
    assert image.run(["gadget-tool"], check=True).stdout == "gadget-tool ok\n"  # `#!python` data script
    assert image.run(["/usr/local/bin/gadget.sh"], check=True).stdout == "gadget.sh ok\n"
    listed = image.run([python, "-m", "pip", "list", "--format", "freeze"], check=True).stdout.split()
    assert {"alpha==1.0", "beta==2.0" if image.version == "3.12" else "beta==1.0", "gadgets==1.0"} <= set(listed)
    # -v: pip shows the Installer field (read from INSTALLER) only when verbose; -f lists the files.
    shown = image.run([python, "-m", "pip", "show", "-v", "-f", "gadgets"], check=True).stdout
    assert "Installer: uvroot" in shown.splitlines()
    assert "../../../bin/gadget-tool" in shown
    metadata = image.run(
        [
            python,
            "-c",
            (
                "import importlib.metadata as m; print(m.version('native'), "
                "m.distribution('alpha').read_text('INSTALLER').strip())"
            ),
        ],
        check=True,
    ).stdout.split()
    assert metadata == ["1.0", "uvroot"]


def test_pip_can_uninstall_what_uvroot_staged(project: Path, tmp_path: Path, uvroot_cache: Path) -> None:
    # RECORD must be right for the final image: pip removes every file it lists.
    if reason := image_unavailable_reason("3.12"):
        pytest.skip(reason)
    # A full copy (not hard links): pip must be able to delete the staged header too.
    with ImageSimulator(find_cpython("3.12"), tmp_path / "image", link=False) as image:
        root = tmp_path / "root-dir"
        _stage(project, image, uvroot_cache, "--root", root)
        image.apply(root)
        _uninstall_gadgets(image)


def _uninstall_gadgets(image: ImageSimulator) -> None:
    site = f"/usr/local/lib/python{image.version}/site-packages"
    staged = [
        "/usr/local/bin/gadget",
        "/usr/local/bin/gadget-tool",
        "/usr/local/bin/gadget.sh",
        "/usr/local/share/gadgets/readme.txt",
        f"/usr/local/include/python{image.version}/gadgets/gadgets.h",
        f"{site}/gadgets/__init__.py",
        f"{site}/gadgets-1.0.dist-info/RECORD",
    ]
    kept = [f"{site}/alpha/__init__.py", "/usr/local/bin/alpha", f"/usr/local/bin/{image.python}"]
    script = "; ".join(f"test -e {path} && echo {path}" for path in [*staged, *kept]) + "; true"
    assert image.run(["sh", "-c", script], check=True).stdout.split() == staged + kept  # all there first
    image.run([image.python, "-m", "pip", "uninstall", "-y", "gadgets"], check=True)
    still = image.run(["sh", "-c", script], check=True).stdout.split()
    assert still == kept  # each of gadgets' files is gone; every other package's and the image's stay
    listed = image.run(["sh", "-c", f"ls {site}"], check=True).stdout.split()
    assert [name for name in listed if "gadgets" in name] == []


def test_user_tree_runs_for_a_non_venv_user_base(
    project: Path, image: ImageSimulator, tmp_path: Path, uvroot_cache: Path
) -> None:
    root = tmp_path / "root-dir"
    _stage(project, image, uvroot_cache, "--user", "--root", root, env={"PYTHONUSERBASE": "/root/.local"})
    image.apply(root)
    out = image.run(["/root/.local/bin/alpha"], check=True).stdout
    assert out.startswith("alpha 1.0")
    where = image.run([image.python, "-c", "import gadgets; print(gadgets.__file__)"], check=True).stdout
    assert where.startswith(f"/root/.local/lib/python{image.version}/site-packages/")


def test_built_sources_run_in_the_image(
    make_locked_project: Callable[..., Path],
    make_package: Callable[..., Path],
    make_git_package: Callable[..., tuple[str, str]],
    image: ImageSimulator,
    tmp_path: Path,
    uvroot_cache: Path,
) -> None:
    # The project itself, a path dependency, a git dependency and an sdist-only package: built here, run there.
    make_package(name="pathdep", scripts={"pathdep": "pathdep:main"})
    url, commit = make_git_package(name="gitpkg", scripts={"gitpkg": "gitpkg:main"})
    project = make_locked_project(
        name="shop",
        backend="tinybuild",
        scripts={"shop": "shop:main"},
        dependencies=["alpha", "sdistonly", "pathdep", git_requirement("gitpkg", url, commit)],
        sources={"pathdep": {"path": "../libs/pathdep"}},
        requires_python=">=3.10",
    )
    root = tmp_path / "root-dir"
    _stage(project, image, uvroot_cache, "--root", root)
    image.apply(root)
    assert image.run(["shop"], check=True).stdout == "shop 0.1.0\n"
    assert image.run(["sdistonly"], check=True).stdout == "sdistonly 1.0\n"
    assert image.run(["pathdep"], check=True).stdout == "pathdep 1.0\n"
    assert image.run(["gitpkg"], check=True).stdout == "gitpkg 1.0\n"
    frozen = image.run([image.python, "-m", "pip", "list", "--format", "freeze"], check=True).stdout.split()
    assert {"shop==0.1.0", "sdistonly==1.0", "pathdep==1.0", "alpha==1.0"} <= set(frozen)
