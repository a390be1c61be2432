"""``--venv DIR``: the few files that make a staged tree a virtual environment.

A venv is a directory with ``pyvenv.cfg`` (whose ``home`` tells the interpreter
where its base Python lives) and ``bin/python*`` links to that interpreter.  Here
both name the TARGET image's interpreter (``--venv-python``), which need not
exist on the build machine: after ``COPY --from=build`` the environment runs on
the image's own Python, with no uv and no activation scripts.
"""

from __future__ import annotations

import os
import posixpath
from pathlib import Path

from . import __version__
from .errors import UsageError
from .layout import Layout
from .state import InstalledDist
from .target import Target
from .txn import Transaction

CONFIG = "pyvenv.cfg"


def venv_config(layout: Layout, target: Target) -> bytes:
    """``pyvenv.cfg`` for the target interpreter (keys as ``python -m venv`` writes them)."""
    python = layout.venv_python or ""
    lines = [
        f"home = {posixpath.dirname(python)}",
        "include-system-site-packages = false",
        f"version = {target.python_version}",
        f"executable = {python}",
        *(["relocatable = true"] if layout.relocatable else []),  # as uv venv --relocatable writes it
        f"uvroot = {__version__}",
    ]
    return ("\n".join(lines) + "\n").encode()


def check_venv_dir(layout: Layout, installed: list[InstalledDist]) -> None:
    """A --venv directory must be new, empty, or one uvroot made: never someone else's environment."""
    top = layout.on_disk(layout.data)
    if layout.kind != "venv" or not top.is_dir() or not any(top.iterdir()):
        return
    config = top / CONFIG
    ours = config.is_file() and b"\nuvroot = " in config.read_bytes()
    if not ours and not any(dist.ours for dist in installed):
        raise UsageError(
            f"--venv {top} is not empty and is not an environment uvroot made",
            hint="choose a new directory, or delete the existing environment first",
        )


def venv_current(layout: Layout, target: Target) -> bool:
    """``pyvenv.cfg`` and every ``bin/python`` link are there and name the target interpreter."""
    return all(_current(path, content) for path, content in _wanted(layout, target).items())


def write_venv(layout: Layout, target: Target, txn: Transaction) -> int:
    """Write ``pyvenv.cfg`` and the ``bin/python`` links where they differ; returns how many were (re)written."""
    written = 0
    for path, content in _wanted(layout, target).items():
        if _current(path, content):
            continue
        if os.path.lexists(path):
            txn.set_aside(str(path))  # the old one comes back if the sync fails

        def make(destination: str, content: bytes | str = content) -> None:
            if isinstance(content, bytes):
                with open(destination, "xb") as stream:
                    stream.write(content)
                os.chmod(destination, 0o644)
            else:
                os.symlink(content, destination)
            os.utime(destination, (txn.epoch, txn.epoch), follow_symlinks=False)

        txn.create(str(path), make)
        written += 1
    return written


def venv_files(layout: Layout, target: Target) -> list[Path]:
    """The environment's own files (``pyvenv.cfg``, ``bin/python*``) and its ``bin`` directory."""
    return [*_wanted(layout, target), layout.on_disk(layout.data) / "bin"]


def _wanted(layout: Layout, target: Target) -> dict[Path, bytes | str]:
    # File contents (bytes) or link targets (str) of the environment's own files.
    base = layout.on_disk(layout.data)
    wanted: dict[Path, bytes | str] = {base / CONFIG: venv_config(layout, target)}
    for name in ("python", "python3", f"python{target.python_version}"):
        wanted[base / "bin" / name] = layout.venv_python or ""
    return wanted


def _current(path: Path, content: bytes | str) -> bool:
    if isinstance(content, str):
        return path.is_symlink() and str(path.readlink()) == content
    return path.is_file() and not path.is_symlink() and path.read_bytes() == content
