"""Trees staged on this x86_64 machine run inside real Debian images (debootstrap root filesystems).

Each image is Debian's own minimal system with its ``python3`` and ``python3-pip``
(tests/support/rootfs.py: bookworm amd64 and arm64, trixie amd64).  The staged tree
is laid over the image as ``COPY --from=build DIR /`` would (an overlayfs layer) and
every check runs inside it with ``chroot``, arm64 through qemu-user:

* every top-level module of every staged distribution imports, from where the layout says;
* every script in the layout's ``bin`` runs by its shebang (the kernel execs it);
* Debian's own ``python3 -m pip list`` shows every distribution, and ``pip uninstall``
  removes one completely;
* ``--compile-bytecode``'s pyc files are used (``python3 -v``) and nothing is recompiled
  (the image writes no ``.pyc``; without bytecode it does: the check can fail);
* a ``python:X.Y`` (``official``) tree is NOT seen by Debian's python3: its
  ``/usr/local/lib/pythonX.Y/site-packages`` is not on Debian's ``sys.path``.
* ``--image debian:N --platform P`` stages, byte for byte, what ``--target-file`` stages from
  the target file the image's own interpreter prints (``uvroot target --script``);
* with the network: examples/docker/distroless's own step runs on Debian 12's python3.11.

Skipped unless the root filesystems are built (``make test-images``), see tests/conftest.py.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sysconfig
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from packaging.utils import canonicalize_name

from tests.support.cli import tree, uvroot
from tests.support.index import LocalIndex
from tests.support.overlay import find_cpython
from tests.support.rootfs import IMAGES, DebianImage, ImageRun, unavailable_reason
from tests.support.uvproject import uv_lock, write_project
from tests.support.wheels import build_wheel
from tests.test_examples import HELLO, build_context, run_step, the_step

pytestmark = pytest.mark.images

# What the project stages for every image (canonical names; each one's top-level module is its import name).
STAGED = {"alpha", "beta", "cext", "fancy-dep", "gadgets", "native"}
USER = 1000  # the non-root user of the --user test (its HOME is /home/u1000)

# A real CPython extension for the stable ABI (3.11+), so one x86_64 wheel serves 3.11 and 3.13.
_CEXT_C = r"""
#define Py_LIMITED_API 0x030B0000
#include <Python.h>
static PyObject *add(PyObject *self, PyObject *args) {
    long a, b;
    if (!PyArg_ParseTuple(args, "ll", &a, &b)) return NULL;
    return PyLong_FromLong(a + b);
}
static PyMethodDef methods[] = {{"add", add, METH_VARARGS, "a + b"}, {NULL, NULL, 0, NULL}};
static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_speed", NULL, -1, methods};
PyMODINIT_FUNC PyInit__speed(void) { return PyModule_Create(&module); }
"""
_CEXT_MAIN = 'def main():\n    print("cext", add(2, 3), "native" if NATIVE else "pure")\n'
# Why the compiled cext wheel could not be built here (None: it was), set by the images_project fixture.
_CEXT_NOT_NATIVE: dict[str, str | None] = {"why": None}
CEXT_NATIVE_TAG = "cp311-abi3-manylinux_2_17_x86_64.manylinux2014_x86_64"

# Imports each module named on the command line and prints {module: __file__}.
IMPORT_ALL = (
    "import importlib, json, sys; print(json.dumps({m: importlib.import_module(m).__file__ for m in sys.argv[1:]}))"
)


def _build_cext(out: Path, scratch: Path) -> str | None:
    """Wheels of ``cext 1.0``: a compiled x86_64 abi3 one (if this machine can compile it) and a pure fallback.

    Returns why the native wheel could not be built, or None.
    """
    build_wheel(
        out,
        "cext",
        "1.0",
        files={"cext/__init__.py": f"NATIVE = False\n\n\ndef add(a, b):\n    return a + b\n\n\n{_CEXT_MAIN}"},
        console_scripts={"cext-add": "cext:main"},
    )
    include = Path(sysconfig.get_paths()["include"])
    compiler = shutil.which("gcc") or shutil.which("cc")
    if os.uname().machine != "x86_64":
        return f"the native cext wheel is compiled for x86_64 and this is {os.uname().machine}"
    if compiler is None:
        return "no C compiler (gcc) to build the native cext wheel"
    if not (include / "Python.h").is_file() or sysconfig.get_python_version() < "3.11":
        return f"no Python >= 3.11 headers at {include} for the native cext wheel"
    source = scratch / "speed.c"
    source.write_text(_CEXT_C)
    shared = scratch / "_speed.abi3.so"
    subprocess.run(
        [compiler, "-shared", "-fPIC", "-O2", f"-I{include}", "-o", str(shared), str(source)],
        check=True,
        capture_output=True,
    )
    build_wheel(
        out,
        "cext",
        "1.0",
        tag=CEXT_NATIVE_TAG,
        files={
            "cext/__init__.py": f"from cext._speed import add\n\nNATIVE = True\n\n\n{_CEXT_MAIN}",
            "cext/_speed.abi3.so": shared.read_bytes(),
        },
        console_scripts={"cext-add": "cext:main"},
    )
    return None


@pytest.fixture(scope="module")
def images_project(wheelhouse: Path, tmp_path_factory: pytest.TempPathFactory, uv_cache: Path) -> Iterator[Path]:
    """A project locked by the real uv: alpha[fancy] (console script), gadgets (.data scripts), native, cext."""
    house = tmp_path_factory.mktemp("images-wheelhouse")
    for wheel in wheelhouse.iterdir():
        shutil.copy2(wheel, house / wheel.name)
    _CEXT_NOT_NATIVE["why"] = _build_cext(house, tmp_path_factory.mktemp("cext-build"))
    with LocalIndex(house) as index:
        project = tmp_path_factory.mktemp("images-project")
        write_project(project, dependencies=["alpha[fancy]", "gadgets", "native", "cext"], requires_python=">=3.10")
        uv_lock(project, index.url, cache_dir=uv_cache)
        yield project


@pytest.fixture(params=list(IMAGES), ids=list(IMAGES))
def image(request: pytest.FixtureRequest) -> DebianImage:
    image = IMAGES[request.param]
    if reason := unavailable_reason(image):
        pytest.skip(reason)
    return image


# --------------------------------------------------------------------------- helpers


@dataclass(frozen=True)
class Dist:
    """A staged distribution, read on this machine: what to check inside the image."""

    version: str
    modules: set[str]  # top-level importable names
    paths: list[str]  # RECORD's paths, relative to its site directory


def _stage(
    project: Path, image: DebianImage, cache: Path, *layout: str | Path, env: dict[str, str] | None = None
) -> None:
    result = uvroot(
        "sync",
        "--project",
        project,
        *layout,
        "--python-version",
        image.python,
        "--python-platform",
        image.platform,
        "--no-dev",
        cache=cache,
        env=env,
    )
    assert result.exit_code == 0, result.output


def _dists(site: Path) -> dict[str, Dist]:
    """The staged distributions in host dir ``site``: name -> version, top-level modules, RECORD paths."""
    found: dict[str, Dist] = {}
    for dist_info in sorted(site.glob("*.dist-info")):
        meta = dict(line.split(": ", 1) for line in (dist_info / "METADATA").read_text().splitlines() if ": " in line)
        paths = [line.rsplit(",", 2)[0] for line in (dist_info / "RECORD").read_text().splitlines() if line]
        modules = set()
        for path in paths:
            first, _, rest = path.partition("/")
            if first.endswith((".dist-info", ".data")) or first == "..":
                continue
            if rest and (site / first / "__init__.py").is_file():
                modules.add(first)
            elif not rest and first.endswith(".py"):
                modules.add(first[:-3])
            elif not rest and first.endswith(".so"):
                modules.add(first.split(".")[0])
        found[str(canonicalize_name(meta["Name"]))] = Dist(meta["Version"], modules, paths)
    assert set(found) == STAGED, f"staged in {site}: {sorted(found)}"
    return found


def _modules(dists: dict[str, Dist]) -> list[str]:
    return sorted(m for info in dists.values() for m in info.modules)


def _import_all(run: ImageRun, python: str, dists: dict[str, Dist], **kw: Any) -> dict[str, str]:
    out = run.run([python, "-c", IMPORT_ALL, *_modules(dists)], check=True, **kw)
    files: dict[str, str] = json.loads(out.stdout)
    return files


def _scripts(run: ImageRun, host_bin: Path, image_bin: str, **kw: Any) -> dict[str, str]:
    """Run every script of ``host_bin`` (staged) inside the image as ``image_bin/NAME``: name -> stdout."""
    outputs = {}
    for script in sorted(host_bin.iterdir()):
        if script.is_file() and os.access(script, os.X_OK):
            outputs[script.name] = run.run([f"{image_bin}/{script.name}"], check=True, **kw).stdout
    assert outputs, f"no scripts in {host_bin}"
    return outputs


def _check_script_outputs(outputs: dict[str, str], native: bool) -> None:
    assert outputs["alpha"] == "alpha 1.0 py3-none-any\n"
    assert outputs["gadget"] == "gadgets 1.0 py3-none-any\n"
    assert outputs["gadget-tool"] == "gadget-tool ok\n"
    assert outputs["gadget.sh"] == "gadget.sh ok\n"
    assert outputs["cext-add"] == ("cext 5 native\n" if native else "cext 5 pure\n")


def _is_native(run: ImageRun, python: str, **kw: Any) -> bool:
    """Whether the compiled cext landed (x86_64) and works; aarch64 gets the pure fallback."""
    out = run.run([python, "-c", "import cext; print(cext.NATIVE, cext.add(2, 3))"], check=True, **kw)
    native, total = out.stdout.split()
    assert total == "5"
    return native == "True"


def _pip_list(run: ImageRun, *args: str, **kw: Any) -> dict[str, str]:
    out = run.run(["python3", "-m", "pip", *args, "list", "--format", "json"], check=True, **kw)
    return {str(canonicalize_name(d["name"])): d["version"] for d in json.loads(out.stdout)}


def _versions(dists: dict[str, Dist]) -> dict[str, str]:
    return {name: info.version for name, info in dists.items()}


def _gone(run: ImageRun, site: str, dists: dict[str, Dist], name: str, **kw: Any) -> list[str]:
    """The image paths of ``name``'s RECORD that still exist inside the image (plus its package dirs)."""
    paths = [os.path.normpath(f"{site}/{p}") for p in dists[name].paths]
    paths += [f"{site}/{m}" for m in dists[name].modules]
    check = "import os, sys; print('\\n'.join(p for p in sys.argv[1:] if os.path.lexists(p)))"
    return run.run(["python3", "-c", check, *paths], check=True, **kw).stdout.split()


# --------------------------------------------------------------------------- tests


def test_debian_layout_imports_runs_lists_uninstalls(
    images_project: Path, image: DebianImage, tmp_path: Path, uvroot_cache: Path
) -> None:
    root = tmp_path / "root-dir"
    _stage(images_project, image, uvroot_cache, "--root", root, "--layout", "debian")
    site = f"/usr/local/lib/python{image.python}/dist-packages"
    dists = _dists(root / site.lstrip("/"))
    run = ImageRun(image, tmp_path / "run", [root])
    facts = "import platform, sys; print(platform.machine(), platform.libc_ver()[1], '%d.%d' % sys.version_info[:2])"
    assert run.run(["python3", "-c", facts], check=True).stdout.split() == [image.machine, image.glibc, image.python]

    files = _import_all(run, "python3", dists)
    assert all(path.startswith(f"{site}/") for path in files.values()), files
    assert (root / "usr/local/bin/alpha").read_text().startswith(f"#!/usr/bin/python{image.python}\n")
    native = _is_native(run, "python3")
    # x86_64 gets the compiled wheel (when this machine could compile it), aarch64 the pure fallback.
    assert native == (image.machine == "x86_64" and _CEXT_NOT_NATIVE["why"] is None), _CEXT_NOT_NATIVE
    _check_script_outputs(_scripts(run, root / "usr/local/bin", "/usr/local/bin"), native)
    # No bytecode was staged, so the image compiled it: the check of the bytecode test can fail.
    assert any(p.startswith(f"{site}/alpha/__pycache__/") for p in run.written(".pyc"))

    listed = _pip_list(run)
    assert _versions(dists).items() <= listed.items()

    # Debian's pip refuses to touch a system Python without --break-system-packages (PEP 668), even to uninstall.
    refused = run.run(["python3", "-m", "pip", "uninstall", "-y", "alpha"])
    assert refused.returncode != 0
    assert "externally-managed-environment" in refused.stderr
    run.run(["python3", "-m", "pip", "uninstall", "-y", "--break-system-packages", "alpha"], check=True)
    assert _gone(run, site, dists, "alpha") == []
    assert "alpha" not in _pip_list(run)
    assert run.run(["/usr/local/bin/alpha"]).returncode == 127  # env: no such file
    run.run(["python3", "-c", "import beta, fancy_dep, gadgets"], check=True)
    # Everything the image wrote went to the overlay: the cached rootfs is as debootstrap left it.
    assert list((image.path / site.lstrip("/")).iterdir()) == []


def test_compile_bytecode_is_used_without_recompiling(
    images_project: Path, image: DebianImage, tmp_path: Path, uvroot_cache: Path
) -> None:
    # uvroot compiles with a CPython of the target's X.Y on this machine (the image's may not run here).
    prefix = find_cpython(image.python)
    if prefix is None:
        pytest.skip(f"no CPython {image.python} on this machine to compile the image's bytecode with")
    compile_python = prefix / "bin" / f"python{image.python}"
    root = tmp_path / "root-dir"
    _stage(
        images_project,
        image,
        uvroot_cache,
        *("--root", root, "--layout", "debian", "--compile-bytecode", "--compile-python", compile_python),
    )
    site = f"/usr/local/lib/python{image.python}/dist-packages"
    dists = _dists(root / site.lstrip("/"))
    tag = f"cpython-{image.python.replace('.', '')}"
    assert (root / site.lstrip("/") / "alpha/__pycache__" / f"__init__.{tag}.pyc").is_file()
    run = ImageRun(image, tmp_path / "run", [root])

    verbose = run.run(["python3", "-v", "-c", IMPORT_ALL, *_modules(dists)], check=True)
    for module in _modules(dists):
        pyc = f"{site}/{module}/__pycache__/__init__.{tag}.pyc"
        assert f"# code object from '{pyc}'" in verbose.stderr, f"{module}: its staged pyc was not used"
    _scripts(run, root / "usr/local/bin", "/usr/local/bin")
    run.run(["/usr/local/bin/alpha"], check=True, env={"PYTHONDONTWRITEBYTECODE": ""})
    assert run.written(".pyc") == []  # nothing recompiled, nothing written next to the staged files

    run.run(["python3", "-m", "pip", "uninstall", "-y", "--break-system-packages", "alpha"], check=True)
    assert _gone(run, site, dists, "alpha") == []  # the pyc files are in RECORD: removed with the package


def test_venv_runs_with_debian_python(
    images_project: Path, image: DebianImage, tmp_path: Path, uvroot_cache: Path
) -> None:
    root = tmp_path / "root-dir"
    venv = "/app/.venv"
    _stage(images_project, image, uvroot_cache, "--root", root, "--layout", "debian", "--venv", venv)
    site = f"{venv}/lib/python{image.python}/site-packages"
    dists = _dists(root / site.lstrip("/"))
    assert str((root / venv.lstrip("/") / "bin/python").readlink()) == f"/usr/bin/python{image.python}"
    run = ImageRun(image, tmp_path / "run", [root])

    python = f"{venv}/bin/python"
    files = _import_all(run, python, dists)
    assert all(path.startswith(f"{site}/") for path in files.values()), files
    prefixes = run.run([python, "-c", "import sys; print(sys.prefix, sys.base_prefix)"], check=True).stdout.split()
    assert prefixes == [venv, "/usr"]
    native = _is_native(run, python)
    _check_script_outputs(_scripts(run, root / venv.lstrip("/") / "bin", f"{venv}/bin"), native)
    # The system python3 does not see the venv's packages.
    assert run.run(["python3", "-c", "import alpha"]).returncode != 0

    assert _versions(dists).items() <= _pip_list(run, "--python", python).items()
    run.run(["python3", "-m", "pip", "--python", python, "uninstall", "-y", "alpha"], check=True)
    assert _gone(run, site, dists, "alpha") == []
    assert "alpha" not in _pip_list(run, "--python", python)


def test_target_with_pythonpath(images_project: Path, image: DebianImage, tmp_path: Path, uvroot_cache: Path) -> None:
    layer = tmp_path / "layer"
    target = "/opt/target"
    _stage(images_project, image, uvroot_cache, "--target", layer / target.lstrip("/"))
    dists = _dists(layer / target.lstrip("/"))
    run = ImageRun(image, tmp_path / "run", [layer])

    files = _import_all(run, "python3", dists, env={"PYTHONPATH": target})
    assert all(path.startswith(f"{target}/") for path in files.values()), files
    assert run.run(["python3", "-c", "import alpha"]).returncode != 0  # not without PYTHONPATH
    native = _is_native(run, "python3", env={"PYTHONPATH": target})
    # The launchers put the target first on sys.path themselves: no PYTHONPATH needed.
    _check_script_outputs(_scripts(run, layer / target.lstrip("/") / "bin", f"{target}/bin"), native)
    listed = run.run(["python3", "-m", "pip", "list", "--path", target, "--format", "json"], check=True).stdout
    assert (
        _versions(dists).items()
        <= {str(canonicalize_name(d["name"])): d["version"] for d in json.loads(listed)}.items()
    )


def test_user_site_for_a_non_root_user(
    images_project: Path, image: DebianImage, tmp_path: Path, uvroot_cache: Path
) -> None:
    root = tmp_path / "root-dir"
    home = f"/home/u{USER}"
    _stage(images_project, image, uvroot_cache, "--root", root, "--user", "--layout", "debian", env={"HOME": home})
    site = f"{home}/.local/lib/python{image.python}/site-packages"
    dists = _dists(root / site.lstrip("/"))
    for dirpath, dirnames, filenames in os.walk(root / home.lstrip("/")):  # COPY --chown=1000:1000
        for name in [*dirnames, *filenames, "."]:
            os.lchown(os.path.join(dirpath, name), USER, USER)  # noqa: PTH118
    run = ImageRun(image, tmp_path / "run", [root])
    assert run.run(["id", "-u"], check=True, user=USER).stdout == f"{USER}\n"

    files = _import_all(run, "python3", dists, user=USER)
    assert all(path.startswith(f"{site}/") for path in files.values()), files
    assert run.run(["python3", "-c", "import alpha"]).returncode != 0  # root's HOME has no such site
    native = _is_native(run, "python3", user=USER)
    _check_script_outputs(
        _scripts(run, root / home.lstrip("/") / ".local/bin", f"{home}/.local/bin", user=USER), native
    )

    listed = run.run(["python3", "-m", "pip", "list", "--user", "--format", "json"], check=True, user=USER).stdout
    assert (
        _versions(dists).items()
        <= {str(canonicalize_name(d["name"])): d["version"] for d in json.loads(listed)}.items()
    )
    run.run(["python3", "-m", "pip", "uninstall", "-y", "--break-system-packages", "alpha"], check=True, user=USER)
    assert _gone(run, site, dists, "alpha", user=USER) == []


def test_python_image_layout_is_not_seen_by_debian_python(
    images_project: Path, image: DebianImage, tmp_path: Path, uvroot_cache: Path
) -> None:
    """The python:X.Y layout (``/usr/local/lib/pythonX.Y/site-packages``, ``#!/usr/local/bin/pythonX.Y``) fails here."""
    root = tmp_path / "root-dir"
    _stage(images_project, image, uvroot_cache, "--root", root)
    site = f"/usr/local/lib/python{image.python}/site-packages"
    assert (root / site.lstrip("/") / "alpha/__init__.py").is_file()
    run = ImageRun(image, tmp_path / "run", [root])

    path = json.loads(run.run(["python3", "-c", "import json, sys; print(json.dumps(sys.path))"], check=True).stdout)
    assert site not in path
    assert f"/usr/local/lib/python{image.python}/dist-packages" in path
    failed = run.run(["python3", "-c", "import alpha"])
    assert failed.returncode == 1
    assert "ModuleNotFoundError: No module named 'alpha'" in failed.stderr
    script = run.run(["/usr/local/bin/alpha"])  # its shebang names /usr/local/bin/pythonX.Y: not in this image
    assert script.returncode == 127, script
    assert "alpha" not in _pip_list(run)


# --------------------------------------------------------------------------- the distroless example


@pytest.mark.network
@pytest.mark.parametrize("name", ["debian-12-amd64", "debian-12-arm64"])
def test_distroless_example_runs_in_debian_12(name: str, tmp_path: Path, uvroot_cache: Path) -> None:
    """examples/docker/distroless's own uvroot step (arm64: its commented platform), run by Debian 12's python3.11.

    gcr.io/distroless/python3-debian12 is Debian 12's python3.11 without a shell or pip: the
    bookworm rootfs has the same interpreter, so the real markupsafe wheel (a C extension, aarch64
    under qemu) is imported by that interpreter here.
    """
    image = IMAGES[name]
    if reason := unavailable_reason(image):
        pytest.skip(reason)
    step = the_step("distroless")
    assert step.option("--python-platform") == "x86_64-manylinux_2_36"
    root = tmp_path / "root-dir"
    run_step(step, root, build_context(tmp_path), uvroot_cache, platform=image.platform)
    (root / "app").mkdir()
    shutil.copy(HELLO / "app.py", root / "app/app.py")  # COPY app.py /app/
    run = ImageRun(image, tmp_path / "run", [root])
    out = run.run(["/usr/bin/python3.11", "/app/app.py", "--name", "<img>"], check=True).stdout  # ENTRYPOINT + CMD
    assert "&lt;hello &lt;img&gt;&gt;" in out and "python 3.11.2 at /usr/bin/python3.11" in out
    speedups = f"/usr/local/lib/python3.11/dist-packages/markupsafe/_speedups.cpython-311-{image.machine}-linux-gnu.so"
    assert f"compiled extension: {speedups}" in out, out
    assert run.run(["/usr/local/bin/pygmentize", "-V"], check=True).stdout.startswith("Pygments version")


# --------------------------------------------------------------------------- --image and --target-file

PRESETS = {"debian-12-amd64": "debian:12", "debian-13-amd64": "debian:13", "debian-12-arm64": "debian:12"}
DOCKER_PLATFORMS = {"x86_64": "linux/amd64", "aarch64": "linux/arm64"}


def test_image_preset_equals_the_real_images_target_file_and_runs(
    images_project: Path, image: DebianImage, tmp_path: Path, uvroot_cache: Path
) -> None:
    """``--image debian:N --platform P`` gives, byte for byte, the tree of the target file the image's python writes.

    The target file is made as README says, ``docker run IMAGE python3 -c "$(uvroot target --script)"``,
    here by the real image's interpreter (arm64 under qemu), so the preset's facts (version, tags,
    scheme, interpreter) are checked against the image's own.  Run as ``python3``, the interpreter
    is ``/usr/bin/python3`` (the link), which becomes the scripts' shebang: the only difference from
    the preset's ``/usr/bin/pythonX.Y``.  Then the preset's tree runs inside the image.
    """
    platform = DOCKER_PLATFORMS[image.machine]
    by_image = tmp_path / "by-image"
    selection = ("--project", images_project, "--no-dev")
    result = uvroot("sync", *selection, "--root", by_image, "--image", PRESETS[image.name], "--platform", platform,
                    cache=uvroot_cache)  # fmt: skip
    assert result.exit_code == 0, result.output
    script = uvroot("target", "--script")
    assert script.exit_code == 0, script.output
    probe = ImageRun(image, tmp_path / "probe")
    trees = {}
    for python in (f"/usr/bin/python{image.python}", "python3"):
        target_file = tmp_path / f"{Path(python).name}.json"
        target_file.write_text(probe.run([python, "-c", script.output], check=True).stdout)
        by_file = tmp_path / f"by-{Path(python).name}"
        result = uvroot("sync", *selection, "--root", by_file, "--target-file", target_file, cache=uvroot_cache)
        assert result.exit_code == 0, result.output
        trees[python] = tree(by_file)
    ours = tree(by_image)
    assert trees[f"/usr/bin/python{image.python}"] == ours
    by_python3 = trees["python3"]
    assert sorted(by_python3) == sorted(ours)
    differ = sorted(name for name in ours if ours[name] != by_python3[name])
    scripts = [name for name in differ if name.startswith("usr/local/bin/")]
    assert scripts and all(name.endswith(("/RECORD", "/uvroot.json")) for name in set(differ) - set(scripts)), differ
    for name in scripts:
        assert by_python3[name].split(b"\n", 1) == [b"#!/usr/bin/python3", ours[name].split(b"\n", 1)[1]], name

    site = f"/usr/local/lib/python{image.python}/dist-packages"
    dists = _dists(by_image / site.lstrip("/"))
    run = ImageRun(image, tmp_path / "run", [by_image])
    files = _import_all(run, "python3", dists)
    assert all(path.startswith(f"{site}/") for path in files.values()), files
    native = _is_native(run, "python3")
    assert native == (image.machine == "x86_64" and _CEXT_NOT_NATIVE["why"] is None), _CEXT_NOT_NATIVE
    _check_script_outputs(_scripts(run, by_image / "usr/local/bin", "/usr/local/bin"), native)
    assert _versions(dists).items() <= _pip_list(run).items()
