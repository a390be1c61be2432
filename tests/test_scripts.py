"""Launchers as the image's Python expects them: pip's versioned names and ``--shebang`` spellings."""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.support.bulk import start_argv
from tests.support.cli import check_record, uvroot

HOST = f"{sys.version_info.major}.{sys.version_info.minor}"


def _sync(project: Path, root: Path, cache: Path, *extra: str) -> None:
    result = subprocess.run(start_argv(project, root, cache, *extra), capture_output=True, text=True,
                            env={**os.environ, "CI": "1"}, check=False)  # fmt: skip
    assert result.returncode == 0, result.stderr


def test_pip_gets_its_launchers_for_the_target_version(bulk_project: Callable[..., Path], tmp_path: Path) -> None:
    # pip's wheel names pip3.X after the Python it was built with; pip and uv write the installing one's.
    root = tmp_path / "root"
    _sync(bulk_project("pip==99.0"), root, tmp_path / "cache")
    scripts = sorted(p.name for p in (root / "usr/local/bin").iterdir())
    assert scripts == ["pip", "pip3", "pip3.12"]
    record = (root / "usr/local/lib/python3.12/site-packages/pip-99.0.dist-info/RECORD").read_text()
    assert "../../../bin/pip3.12," in record and "pip3.10" not in record
    assert (root / "usr/local/bin/pip3.12").read_text().startswith("#!/usr/local/bin/python3.12\n")


def test_a_shebang_given_with_its_hash_bang_is_written_once(bulk_project: Callable[..., Path], tmp_path: Path) -> None:
    root = tmp_path / "root"
    _sync(bulk_project("bulka==1.0"), root, tmp_path / "cache", "--shebang", "#!/usr/bin/python3")
    assert (root / "usr/local/bin/bulka").read_text().startswith("#!/usr/bin/python3\n")


# -- interpreters whose path the kernel cannot take in a shebang --------------------------------


def _interpreter(where: Path, marker: Path) -> Path:
    """An interpreter at ``where``: a shell script that notes it ran, then execs this Python."""
    where.parent.mkdir(parents=True, exist_ok=True)
    where.write_text(f'#!/bin/sh\necho "$0" >> {shlex.quote(str(marker))}\nexec {shlex.quote(sys.executable)} "$@"\n')
    where.chmod(0o755)
    return where


@pytest.mark.parametrize(
    ("shape", "trampoline"),
    [("long", True), ("spaced", True), ("longest-direct", False), ("shortest-trampolined", True)],
)
def test_scripts_run_through_any_interpreter_path(
    make_locked_project: Callable[..., Path], tmp_path: Path, shape: str, trampoline: bool
) -> None:
    base = tmp_path / "py"
    if shape == "long":
        path = base / ("l" * 100) / ("o" * 100) / "python3"
    elif shape == "spaced":
        path = base / "Program Files" / "python 3"
    else:  # the kernel reads 127 bytes of a shebang (#! and the newline take 3 of them)
        room = 124 if shape == "longest-direct" else 125
        path = base / ("d" * (room - len(str(base)) - len("/python3") - 1)) / "python3"
        assert len(str(path)) == room
    marker = tmp_path / "ran"
    _interpreter(path, marker)
    project = make_locked_project(dependencies=["alpha", "gadgets"], requires_python=">=3.10")
    target = tmp_path / "target"
    result = uvroot(
        "sync", "--project", project, "--target", target, "--python-version", HOST, "--shebang", str(path),
        cache=tmp_path / "cache",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    for script, says in (("alpha", "alpha 1.0"), ("gadget", "gadgets 1.0"), ("gadget-tool", "gadget-tool ok")):
        first = (target / "bin" / script).read_bytes().split(b"\n", 1)[0]
        assert first == (b"#!/bin/sh" if trampoline else f"#!{path}".encode()), first
        marker.unlink(missing_ok=True)
        done = subprocess.run([str(target / "bin" / script)], capture_output=True, text=True, env=env, check=False)
        assert done.returncode == 0 and done.stdout.startswith(says), (script, done.stdout, done.stderr)
        assert marker.read_text() == f"{path}\n"  # it ran through that interpreter, not another
    assert all(check_record(info) == [] for info in target.glob("*.dist-info"))
