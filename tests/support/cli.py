"""Run the real ``uvroot`` CLI in-process and look at what it staged."""

from __future__ import annotations

import hashlib
import os
import sys
from base64 import urlsafe_b64encode
from pathlib import Path

from typer.testing import CliRunner, Result

from uvroot.cli import app


def uvroot(*args: str | Path, cache: Path | None = None, env: dict[str, str] | None = None) -> Result:
    """``uvroot ARGS``; the cache defaults to a per-call scratch dir unless given."""
    argv = [str(arg) for arg in args]
    if cache is not None:
        argv += ["--cache-dir", str(cache)]
    return CliRunner().invoke(app, argv, env={"CI": "1", **(env or {})}, catch_exceptions=False)


def uvroot_argv(*args: str | Path) -> list[str]:
    """``uvroot ARGS`` as a separate process (for what in-process runs cannot show: TTYs, races, imports)."""
    return [sys.executable, "-m", "uvroot", *map(str, args)]


def tree(top: Path) -> dict[str, bytes]:
    """Every file under ``top`` (relative posix path -> bytes); symlinks are not followed."""
    if not top.exists():
        return {}
    found = {}
    for path in sorted(top.rglob("*")):
        if path.is_file() and not path.is_symlink():
            found[path.relative_to(top).as_posix()] = path.read_bytes()
    return found


def check_record(dist_info: Path) -> list[str]:
    """Validate a RECORD against the files: returns the problems (empty means valid)."""
    site = dist_info.parent
    problems = []
    for line in (dist_info / "RECORD").read_text().splitlines():
        path, digest, size = line.rsplit(",", 2)
        if path.startswith("./"):
            problems.append(f"{path}: leading ./")
        target = Path(os.path.normpath(site / path))
        if not target.is_file():
            problems.append(f"{path}: missing")
            continue
        if digest:
            data = target.read_bytes()
            actual = "sha256=" + urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
            if actual != digest or int(size) != len(data):
                problems.append(f"{path}: hash or size differs")
    return problems
