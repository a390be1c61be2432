"""Run the real ``uvroot`` CLI in-process and look at what it staged."""

from __future__ import annotations

import csv
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
    """Validate a RECORD against the files: returns the problems (empty means valid).

    Every row but RECORD's own must carry ``sha256=<digest>`` and the size of the
    bytes on disk (PEP 376/627), however the file was placed (copied, hard-linked,
    cloned, symlinked into the cache, compiled), and must name a file that exists.
    """
    site = dist_info.parent
    problems = []
    own = f"{dist_info.name}/RECORD"
    rows = list(csv.reader((dist_info / "RECORD").read_text(encoding="utf-8").splitlines()))
    if not rows:
        return ["RECORD is empty"]
    seen = set()
    for row in rows:
        if len(row) != 3:
            problems.append(f"{row}: not three fields")
            continue
        path, digest, size = row
        if path in seen:
            problems.append(f"{path}: listed twice")
        seen.add(path)
        if path.startswith("./"):
            problems.append(f"{path}: leading ./")
        target = Path(os.path.normpath(site / path))
        if not target.is_file():
            problems.append(f"{path}: missing")
            continue
        if path == own:
            if digest or size:
                problems.append(f"{path}: RECORD lists a hash or size for itself")
            continue
        if not digest.startswith("sha256=") or not size:
            problems.append(f"{path}: no sha256 digest or no size ({digest!r}, {size!r})")
            continue
        data = target.read_bytes()
        actual = "sha256=" + urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        if actual != digest:
            problems.append(f"{path}: digest differs from the file's")
        if int(size) != len(data):
            problems.append(f"{path}: size {size} differs from the file's {len(data)}")
    if own not in seen:
        problems.append(f"{own}: RECORD does not list itself")
    return problems
