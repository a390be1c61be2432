"""uvroot and the uv oracle side by side: stage one lock both ways, then compare what matters.

The oracle is `uv export` + `uv pip install --no-deps --target --python-platform`
(see uvproject.uv_oracle_target).  Deliberate differences are normalised away:
the interpreter in shebang lines (uv writes the build machine's, uvroot the
target's: each is checked), entry-point launcher templates (both must import the
same function), the headers directory (uvroot follows pip's `include/python/<dist>`),
and each installer's own metadata files; RECORD rows are compared row by row.
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
    uvroot_flags: Sequence[str] = (),
) -> tuple[Path, Path]:
    """Stage ``project`` with ``uvroot sync --target`` and with the oracle; return (ours, theirs).

    ``flags`` go to both (``uv export`` for the oracle), ``uvroot_flags`` to uvroot only."""
    ours, theirs = work / "uvroot", work / "uv"
    args = ["--target", ours, "--python-platform", platform, "--python-version", version, *flags, *uvroot_flags]
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


def normalise(files: dict[str, bytes], *, shebang: str) -> dict[str, bytes]:
    """A tree (path -> bytes) without the differences README documents, and nothing else.

    ``shebang`` is the interpreter line this installer must write (`#!/usr/bin/env pythonX.Y` for
    uvroot's --target, the build machine's interpreter for uv): it must be there, and becomes
    ``#!<python>``.  Documented differences: the headers directory (uvroot follows pip's
    ``include/python/<dist>``), each installer's own metadata files (INSTALLER is checked by
    :func:`compare_with_oracle`, RECORD row by row; REQUESTED differs on purpose: the oracle installs
    an exported requirements file, where every distribution is requested), and the launcher template: a console script
    is reduced to its shebang and its ``from module import function`` line.  Scripts that are
    not Python (``#!/bin/sh``) and every other file must be identical byte for byte.
    """
    out = {}
    generated = _entry_points(files)
    expected = f"#!{shebang}".encode()
    for path, data in files.items():
        parts = path.split("/")
        if parts[0].endswith(".dist-info") and parts[-1] in INSTALLER_FILES:
            continue
        if parts[0] == "bin":
            first, _, rest = data.partition(b"\n")
            if first == expected:
                first = b"#!<python>"
            if parts[1] in generated:
                imports = [line for line in rest.splitlines() if line.startswith(b"from ")]
                rest = b"<launcher> " + b"; ".join(imports)
            data = first + b"\n" + rest
        out[_header_path(path)] = data
    return out


def compare_with_oracle(ours: Path, theirs: Path, *, version: str, interpreter: str) -> None:
    """Assert that uvroot's --target tree equals the oracle's, up to what README documents.

    Files through :func:`normalise`; RECORD rows: every row of ours is checked against the bytes
    on disk (:func:`check_record`), both RECORDs list the same paths, and a file that is the same
    in both trees has the same ``sha256=`` digest and size in both RECORDs.
    """
    from tests.support.cli import check_record, tree

    mine, uvs = tree(ours), tree(theirs)
    assert normalise(mine, shebang=f"/usr/bin/env python{version}") == normalise(uvs, shebang=interpreter)
    for info in ours.glob("*.dist-info"):
        assert check_record(info) == [], info.name
        assert (info / "INSTALLER").read_bytes() == b"uvroot\n"
    rows_ours, rows_uv = record_rows(ours), record_rows(theirs)
    assert set(rows_ours) == set(rows_uv)
    for path, row in rows_ours.items():
        original = path.replace("include/", "include/python/", 1) if path.startswith("include/") else path
        if mine.get(original) == uvs.get(path):
            assert row == rows_uv[path], path


def record_rows(target: Path) -> dict[str, tuple[str, str]]:
    """Every (path -> (digest, size)) the RECORDs of a --target tree list, but installer files."""
    rows = {}
    for record in target.glob("*.dist-info/RECORD"):
        for path, digest, size in csv.reader(io.StringIO(record.read_text())):
            parts = path.split("/")
            if not (parts[0].endswith(".dist-info") and parts[-1] in INSTALLER_FILES):
                rows[_header_path(path)] = (digest, size)
    return rows


def record_paths(target: Path) -> set[str]:
    """Every path the RECORDs of a --target tree list, normalised as :func:`normalise` does."""
    return set(record_rows(target))


def _header_path(path: str) -> str:
    return "/".join(["include", *path.split("/")[2:]]) if path.startswith("include/python/") else path


def _entry_points(files: dict[str, bytes]) -> set[str]:
    names = set()
    for path, data in files.items():
        if path.endswith(".dist-info/entry_points.txt"):
            names |= {line.split("=")[0].strip() for line in data.decode().splitlines() if "=" in line}
    return names
