"""uvroot and the uv oracle side by side: stage one lock both ways, then compare what matters.

The oracle is `uv export` + `uv pip install --no-deps --target --python-platform`
(see uvproject.uv_oracle_target).  Deliberate differences are normalised away:
shebang lines (uv writes the build machine's interpreter), entry-point launcher
templates, the headers directory (uvroot follows pip's `include/python/<dist>`),
and each installer's own metadata files.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from pathlib import Path

from tests.support.cli import uvroot
from tests.support.uvproject import uv_oracle_target

INSTALLER_FILES = {"INSTALLER", "RECORD", "REQUESTED", "direct_url.json", "uv_cache.json", "uvroot.json"}


def stage_both(
    project: Path,
    work: Path,
    *,
    platform: str,
    version: str,
    index_url: str,
    uv_cache: Path,
    cache: Path,
    flags: Sequence[str] = (),
) -> tuple[Path, Path]:
    """Stage ``project`` with ``uvroot sync --target`` and with the oracle; return (ours, theirs)."""
    ours, theirs = work / "uvroot", work / "uv"
    args = ["--target", ours, "--python-platform", platform, "--python-version", version, *flags]
    result = uvroot("sync", "--project", project, *args, cache=cache)
    assert result.exit_code == 0, result.output
    uv_oracle_target(
        project,
        theirs,
        python_platform=platform,
        python_version=version,
        index_url=index_url,
        cache_dir=uv_cache,
        extra_args=flags,
    )
    return ours, theirs


def dists(directory: Path) -> list[str]:
    """The dist-info directory names in a --target tree."""
    return sorted(p.name for p in directory.glob("*.dist-info"))


def normalise(files: dict[str, bytes]) -> dict[str, bytes]:
    """A tree (path -> bytes) without the differences uvroot makes on purpose."""
    out = {}
    generated = _entry_points(files)
    for path, data in files.items():
        parts = path.split("/")
        if parts[0].endswith(".dist-info") and parts[-1] in INSTALLER_FILES:
            continue
        if parts[0] == "bin":
            data = b"<entry point>" if parts[1] in generated else data.split(b"\n", 1)[1]
        if parts[0] == "include" and parts[1] == "python":
            path = "/".join(["include", *parts[2:]])
        out[path] = data
    return out


def record_paths(target: Path) -> set[str]:
    """Every path the RECORDs of a --target tree list, normalised as :func:`normalise` does."""
    paths = set()
    for record in target.glob("*.dist-info/RECORD"):
        for row in csv.reader(io.StringIO(record.read_text())):
            parts = row[0].split("/")
            if not (parts[0].endswith(".dist-info") and parts[-1] in INSTALLER_FILES):
                paths.add(row[0].replace("include/python/", "include/"))
    return paths


def _entry_points(files: dict[str, bytes]) -> set[str]:
    names = set()
    for path, data in files.items():
        if path.endswith(".dist-info/entry_points.txt"):
            names |= {line.split("=")[0].strip() for line in data.decode().splitlines() if "=" in line}
    return names
