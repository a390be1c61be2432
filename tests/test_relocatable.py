"""--relocatable (uv's meaning): scripts find their interpreter relative to themselves, so a moved tree runs."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.support.cli import uvroot

PYENV = Path.home() / ".pyenv" / "versions"
UV_LINE = b"#!/bin/sh\n'''exec' \"$(dirname -- \"$(realpath -- \"$0\")\")\"/'python' \"$0\" \"$@\"\n' '''\n"


@pytest.fixture
def project(make_locked_project: Callable[..., Path]) -> Path:
    return make_locked_project(dependencies=["alpha", "gadgets"], requires_python=">=3.10")


def python312() -> Path:
    found = sorted(PYENV.glob("3.12.*/bin/python3.12"))
    if not found:
        pytest.skip(f"no CPython 3.12 under {PYENV}")
    return found[-1]


def run(script: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([script], capture_output=True, text=True, check=False, env={"PATH": "/usr/bin:/bin"})


def test_a_relocatable_venv_runs_after_it_is_moved(project: Path, tmp_path: Path, uvroot_cache: Path) -> None:
    python = python312()
    staged, moved = tmp_path / "staged" / "venv", tmp_path / "elsewhere" / "app-env"
    result = uvroot("sync", "--project", project, "--venv", staged, "--venv-python", python, "--python-version",
                    "3.12", "--relocatable", cache=uvroot_cache)  # fmt: skip
    assert result.exit_code == 0, result.output
    assert (staged / "bin/alpha").read_bytes().startswith(UV_LINE)  # the same launcher line as uv's
    assert (staged / "bin/gadget-tool").read_bytes().startswith(UV_LINE)  # a `#!python` script too
    assert "relocatable = true\n" in (staged / "pyvenv.cfg").read_text()
    moved.parent.mkdir()
    staged.rename(moved)
    alpha = run(moved / "bin/alpha")
    assert alpha.returncode == 0 and alpha.stdout.startswith("alpha 1.0"), alpha.stderr
    assert run(moved / "bin/gadget-tool").stdout == "gadget-tool ok\n"
    where = subprocess.run([moved / "bin/python", "-c", "import alpha, sys; print(alpha.__file__, sys.prefix)"],
                           capture_output=True, text=True, check=True).stdout  # fmt: skip
    assert where.startswith(str(moved / "lib/python3.12/site-packages/alpha/")) and where.split()[1] == str(moved)


def test_switching_to_relocatable_places_every_package_again(project: Path, tmp_path: Path, uvroot_cache: Path) -> None:
    python = python312()
    venv = tmp_path / "venv"
    args = ("sync", "--project", project, "--venv", venv, "--venv-python", python, "--python-version", "3.12")
    assert uvroot(*args, cache=uvroot_cache).exit_code == 0
    assert (venv / "bin/alpha").read_bytes().startswith(f"#!{venv}/bin/python\n".encode())
    again = uvroot(*args, "--relocatable", cache=uvroot_cache)  # the scripts change: every package is placed again
    assert again.exit_code == 0, again.output
    assert "staged 3 packages" in again.output and "kept 0" in again.output
    assert (venv / "bin/alpha").read_bytes().startswith(UV_LINE)
    assert "relocatable = true" in (venv / "pyvenv.cfg").read_text()


def test_a_prefix_finds_its_own_python_and_outside_interpreters_are_refused(
    project: Path, tmp_path: Path, uvroot_cache: Path
) -> None:
    prefix = tmp_path / "opt" / "py"
    result = uvroot("sync", "--project", project, "--prefix", prefix, "--python-version", "3.12", "--relocatable",
                    cache=uvroot_cache)  # fmt: skip
    assert result.exit_code == 0, result.output
    assert b"/'python3.12' \"$0\"" in (prefix / "bin/alpha").read_bytes()
    for flags in (["--prefix", tmp_path / "p2", "--shebang", "/usr/bin/python3"], ["--user"]):
        refused = uvroot("sync", "--project", project, "--python-version", "3.12", "--relocatable", *flags,
                         cache=uvroot_cache, env={"PYTHONUSERBASE": str(tmp_path / "base")})  # fmt: skip
        assert refused.exit_code == 2, refused.output
        assert "--relocatable: the scripts' interpreter" in refused.output and "lies outside" in refused.output


def test_target_launchers_are_relocatable_already(project: Path, tmp_path: Path, uvroot_cache: Path) -> None:
    flat = tmp_path / "flat"
    result = uvroot("sync", "--project", project, "--target", flat, "--python-version", "3.12", "--relocatable",
                    cache=uvroot_cache)  # fmt: skip
    assert result.exit_code == 0, result.output
    assert (flat / "bin/alpha").read_bytes().startswith(b"#!/usr/bin/env python3.12\n")


def test_a_relocatable_venv_whose_path_has_a_space_is_still_relocatable(
    project: Path, tmp_path: Path, uvroot_cache: Path
) -> None:
    python = python312()
    staged, moved = tmp_path / "my app" / "venv", tmp_path / "other place" / "venv"
    result = uvroot("sync", "--project", project, "--venv", staged, "--venv-python", python, "--python-version",
                    "3.12", "--relocatable", cache=uvroot_cache)  # fmt: skip
    assert result.exit_code == 0, result.output
    assert (staged / "bin/alpha").read_bytes().startswith(UV_LINE)  # not an absolute '/…/my app/…' launcher
    moved.parent.mkdir()
    staged.rename(moved)
    alpha = run(moved / "bin/alpha")
    assert alpha.returncode == 0 and alpha.stdout.startswith("alpha 1.0"), alpha.stderr


def test_an_interpreter_path_with_a_newline_never_reaches_a_script(project: Path, tmp_path: Path) -> None:
    """A newline would end the shebang and make the rest of the path code that every script runs."""
    root = tmp_path / "root"
    hostile = "/usr/bin/python3\n__import__('os').system('echo PWNED')#"
    result = uvroot("sync", "--project", project, "--root", root, "--python-version", "3.12", "--shebang", hostile)
    assert result.exit_code != 0
    assert "has a control character or a backslash" in result.output, result.output
    assert not [p for p in root.rglob("*") if p.is_file() and b"PWNED" in p.read_bytes()]
