"""The standard wheel set the test-suite locks and installs.

Kept out of conftest.py so scripts and ad-hoc debugging can build the same
wheelhouse: ``python -c "from tests.support.wheelhouse import *;
build_standard_wheelhouse(Path('wh'))"``.

* ``alpha 1.0``: requires ``beta``; extra ``fancy`` -> ``fancy-dep``;
  console script ``alpha``.
* ``beta 1.0`` (Requires-Python >=3.8), ``beta 2.0`` (>=3.12).
* ``native 1.0``: platform wheels only (see ``NATIVE_TAGS``) plus a
  ``py3-none-any`` fallback; ``native.TAG`` names the variant.
* ``gadgets 1.0``: ``.data`` scripts/headers/data, console script ``gadget``, ``licenses/LICENSE``.
* ``linuxbin 1.0``: x86_64 Linux wheels only (no fallback), for "no wheel fits".
* ``buildy 1.0``: two ``py3-none-any`` wheels, build tags 1 and 2 (the higher one wins).
* ``shadowpy 1.0``: a console script named ``python3`` (uvroot must refuse it).
* ``pthy 1.0``: ``pthy.pth``, which sets ``pthy.ON`` when site.py processes it.
* ``fancy-dep``, ``winonly``, ``linuxonly``, ``oldpy``, ``devtool``,
  ``linttool``, ``docstool``: plain pure 1.0 wheels.
* ``tinybuild 1.0``: a real PEP 517/660 build backend (the source is
  ``tests/support/tinybuild_backend.py``, shipped as ``tinybuild/__init__.py``);
  every test source tree builds with it (see ``tests.support.sources``).
* ``sdistonly 1.0``: an sdist and NO wheel (``sdistonly-1.0.tar.gz``, built
  with tinybuild, whose build-system it declares); ``sdistonly.VALUE`` is
  ``"sdistonly 1.0"`` and console script ``sdistonly`` prints it.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from tests.support import tinybuild_backend
from tests.support.sources import write_package
from tests.support.wheels import Content, build_wheel, default_files

__all__ = [
    "GADGET_SH",
    "GADGET_TOOL",
    "NATIVE_EXT",
    "NATIVE_TAGS",
    "PLAIN_PURE",
    "SDIST_ONLY",
    "TINYBUILD_WHEEL",
    "build_standard_wheelhouse",
    "build_tinybuild_wheel",
]

TINYBUILD_WHEEL = "tinybuild-1.0-py3-none-any.whl"
SDIST_ONLY = "sdistonly-1.0.tar.gz"

# Every platform variant of ``native``; each wheel's TAG names its variant.
NATIVE_TAGS = (
    "cp312-cp312-manylinux_2_17_x86_64.manylinux2014_x86_64",
    "cp312-cp312-manylinux_2_28_x86_64",
    "cp312-cp312-musllinux_1_2_x86_64",
    "cp312-cp312-manylinux_2_17_aarch64.manylinux2014_aarch64",
    "cp312-cp312-musllinux_1_2_aarch64",
    "cp38-abi3-manylinux_2_17_x86_64.manylinux2014_x86_64",
    "cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64",
    "cp312-cp312-win_amd64",
    "cp312-cp312-macosx_11_0_arm64",
    "py3-none-any",
)
NATIVE_EXT = "native/_ext.cpython-312-x86_64-linux-gnu.so"

GADGET_TOOL = '#!python\nprint("gadget-tool ok")\n'
GADGET_SH = "#!/bin/sh\necho gadget.sh ok\n"

# Plain pure 1.0 wheels: marker targets (winonly -> sys_platform == 'win32',
# linuxonly -> 'linux', oldpy -> python_version < '3.11'), the ``fancy``
# extra's dependency, and dependency-group members.
PLAIN_PURE = (
    "fancy-dep",
    "winonly",
    "linuxonly",
    "oldpy",
    "devtool",
    "linttool",
    "docstool",
)


def _is_linux_cp312_x86_64(tag: str) -> bool:
    return tag.startswith("cp312-cp312-") and "linux" in tag and "x86_64" in tag


def _build_native(out: Path) -> None:
    """One ``native`` wheel per tag; only platform wheels plus a pure fallback."""
    for tag in NATIVE_TAGS:
        files: dict[str, Content] = dict(default_files("native", "1.0", tag))
        if _is_linux_cp312_x86_64(tag):
            files[NATIVE_EXT] = b"\x7fELF not really a shared object\n"
        build_wheel(out, "native", "1.0", tag=tag, files=files)


def _build_gadgets(out: Path) -> None:
    """A pure wheel exercising every .data scheme, a console script and a PEP 639 licenses/ directory."""
    build_wheel(
        out,
        "gadgets",
        "1.0",
        files={**default_files("gadgets", "1.0", "py3-none-any"), "gadgets-1.0.dist-info/licenses/LICENSE": "MIT\n"},
        data_scripts={"gadget-tool": GADGET_TOOL, "gadget.sh": GADGET_SH},
        headers={"gadgets.h": "#define GADGETS 1\n"},
        data={"share/gadgets/readme.txt": "gadgets readme\n"},
        console_scripts={"gadget": "gadgets:main"},
    )


def build_tinybuild_wheel(out: Path) -> Path:
    """The ``tinybuild`` backend as a wheel: its module file, shipped verbatim."""
    source = Path(tinybuild_backend.__file__).read_bytes()
    return build_wheel(out, "tinybuild", "1.0", files={"tinybuild/__init__.py": source}, requires_python=">=3.8")


def _build_sdistonly(out: Path) -> Path:
    """``sdistonly-1.0.tar.gz``, made by tinybuild itself (deterministic bytes)."""
    with tempfile.TemporaryDirectory(prefix="sdistonly-") as tmp:
        tree = write_package(Path(tmp) / "sdistonly", name="sdistonly", scripts={"sdistonly": "sdistonly:main"})
        return out / tinybuild_backend.sdist_from(str(tree), str(out))


def build_standard_wheelhouse(out: Path) -> Path:
    """Build the standard wheel set (see module doc) into ``out``; return it."""
    build_wheel(
        out,
        "alpha",
        "1.0",
        requires=["beta"],
        extras={"fancy": ["fancy-dep"]},
        console_scripts={"alpha": "alpha:main"},
    )
    # Two betas with disjoint Requires-Python: a project allowing >=3.8 gets
    # a python-version fork in uv.lock.
    build_wheel(out, "beta", "1.0", requires_python=">=3.8")
    build_wheel(out, "beta", "2.0", requires_python=">=3.12")
    _build_native(out)
    for tag in ("py3-none-manylinux_2_17_x86_64.manylinux2014_x86_64", "py3-none-musllinux_1_2_x86_64"):
        build_wheel(out, "linuxbin", "1.0", tag=tag)
    for build in ("1", "2"):
        build_wheel(out, "buildy", "1.0", build=build, files={"buildy.py": f"BUILD = {build}\n"})
    _build_gadgets(out)
    # A console script named like the interpreter: it would replace the image's python3.
    build_wheel(out, "shadowpy", "1.0", console_scripts={"python3": "shadowpy:main"})
    build_wheel(out, "pthy", "1.0", files={"pthy.py": "ON = False\n", "pthy.pth": "import pthy; pthy.ON = True\n"})
    for name in PLAIN_PURE:
        build_wheel(out, name, "1.0")
    build_tinybuild_wheel(out)
    _build_sdistonly(out)
    return out
