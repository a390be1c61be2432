"""Spread one verified wheel into a :class:`Layout` with pypa/installer.

installer does the work (RECORD, entry points, ``.data`` sections, path
traversal checks); uvroot configures its destination for the TARGET system:
runtime paths re-rooted under ``--root``, shebangs for the target interpreter,
``+x`` on every script, a clean RECORD, and a journal so a failed sync can
remove everything it wrote.
"""

from __future__ import annotations

import io
import json
import os
import posixpath
import shlex
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

from installer import install
from installer.exceptions import InstallerError
from installer.records import RecordEntry
from installer.scripts import Script
from installer.sources import WheelFile
from installer.utils import Scheme, construct_record_file

if TYPE_CHECKING:
    from installer.scripts import ScriptSection

from installer.destinations import SchemeDictionaryDestination

from .errors import FileConflict, InstallError, redact
from .fetch import LocalFile
from .layout import Layout
from .plan import PlannedDist
from .state import INSTALLER_NAME, STATE_FILE
from .tree import Journal

_MAX_SHEBANG = 127
# --target launchers put their own target directory first on sys.path, so
# `DIR/bin/tool` runs without PYTHONPATH (pip's and uv's would fail to import).
_TARGET_PREAMBLE = (
    b"import os as _os, sys as _sys\n"
    b"_sys.path.insert(0, _os.path.dirname(_os.path.dirname(_os.path.realpath(__file__))))\n"
)


def shebang(interpreter: str) -> bytes:
    """A shebang that runs ``interpreter`` on the target, however long or spaced its path."""
    if " " not in interpreter and len(interpreter) + 3 <= _MAX_SHEBANG:
        return f"#!{interpreter}".encode()
    command, _, argument = interpreter.partition(" ")
    if command == "/usr/bin/env" and " " not in argument and len(interpreter) + 3 <= _MAX_SHEBANG:
        return f"#!{interpreter}".encode()
    # The /bin/sh polyglot: sh execs the interpreter; Python reads a string literal.
    return b"#!/bin/sh\n'''exec' " + shlex.quote(interpreter).encode() + b' "$0" "$@"\n' + b"' '''"


@dataclass
class _Destination(SchemeDictionaryDestination):
    """installer's destination, journalled and with target-correct scripts."""

    journal: Journal | None = None
    launcher_preamble: bytes = b""

    def write_to_fs(self, scheme: Scheme, path: str, stream: BinaryIO, is_executable: bool) -> RecordEntry:
        target_path = self._path_with_destdir(scheme, path)
        if os.path.lexists(target_path):
            raise FileConflict(
                f"{target_path} already exists and uvroot did not install it",
                hint="stage into an empty directory, or remove the file that is in the way",
            )
        assert self.journal is not None
        self.journal.record(target_path)
        return super().write_to_fs(scheme, path, stream, is_executable)

    def write_file(
        self, scheme: Scheme, path: str | os.PathLike[str], stream: BinaryIO, is_executable: bool
    ) -> RecordEntry:
        if scheme != "scripts":
            return self.write_to_fs(scheme, os.fspath(path), stream, is_executable)
        # Scripts get +x whatever mode the zip stored, and `#!python`/`#!pythonw`
        # the target's interpreter (with the sh polyglot where a plain one would break).
        data = stream.read()
        if data.startswith(b"#!python"):
            data = shebang(self.interpreter) + b"\n" + data.split(b"\n", 1)[-1]
        return self.write_to_fs(scheme, os.fspath(path), io.BytesIO(data), True)

    def write_script(self, name: str, module: str, attr: str, section: ScriptSection) -> RecordEntry:
        _, generated = Script(name, module, attr, section).generate("python", "posix")
        body = self.launcher_preamble + generated.split(b"\n", 1)[1]
        return self.write_to_fs(Scheme("scripts"), name, io.BytesIO(shebang(self.interpreter) + b"\n" + body), True)

    def finalize_installation(
        self, scheme: Scheme, record_file_path: str, records: Iterable[tuple[Scheme, RecordEntry]]
    ) -> None:
        base = self.scheme_dict[scheme]

        def prefix(file_scheme: Scheme) -> str | None:
            # Paths relative to site-packages; installer would write "./x" when
            # purelib == platlib, which some tools mis-read.
            relative = posixpath.relpath(self.scheme_dict[file_scheme], base)
            return None if relative == "." else relative + "/"

        with construct_record_file(records, prefix) as record:
            self.write_to_fs(scheme, record_file_path, record, is_executable=False)


def spread_wheel(
    planned: PlannedDist, cached: LocalFile, layout: Layout, target: str, key: str, journal: Journal
) -> int:
    """Install one verified wheel into ``layout``; returns the number of files written."""
    before = len(journal.written)
    try:
        with WheelFile.open(cached.path) as source:
            destination = _Destination(
                scheme_dict=layout.scheme_dict(source.distribution),
                interpreter=layout.interpreter,
                script_kind="posix",
                destdir=str(layout.destdir) if layout.destdir is not None else None,
                journal=journal,
                launcher_preamble=_TARGET_PREAMBLE if layout.kind == "target" else b"",
            )
            install(source, destination, _metadata(planned, cached, target, key))
    except (InstallerError, ValueError, OSError) as exc:
        # ValueError: installer refuses a path that escapes its scheme directory.
        raise InstallError(
            f"cannot install {cached.path.name}: {exc}",
            hint="the wheel is malformed or the destination is not writable",
        ) from exc
    return len(journal.written) - before


def _metadata(planned: PlannedDist, cached: LocalFile, target: str, key: str) -> dict[str, bytes]:
    state = {"sha256": cached.sha256, "source": key, "target": target, "wheel": cached.path.name}
    metadata = {"INSTALLER": INSTALLER_NAME, STATE_FILE: (json.dumps(state, sort_keys=True) + "\n").encode()}
    if planned.requested:
        metadata["REQUESTED"] = b""
    if (origin := direct_url(planned)) is not None:
        metadata["direct_url.json"] = json.dumps(origin, sort_keys=True).encode()
    return metadata


def direct_url(planned: PlannedDist) -> dict[str, object] | None:
    """PEP 610's record of where a non-registry distribution came from (never with credentials)."""
    source = planned.package.id.source
    if source.kind == "git":
        info: dict[str, object] = {
            "url": redact(source.git_url),
            "vcs_info": {"vcs": "git", "commit_id": source.git_commit},
        }
    elif source.kind in ("directory", "editable"):
        info = {"url": Path(source.value).as_uri(), "dir_info": {}}  # installed non-editable, from this tree
    elif source.kind in ("url", "path"):
        artifact = planned.wheel or planned.package.sdist
        url = redact(source.value) if source.kind == "url" else Path(source.value).as_uri()
        digest = artifact.sha256 if artifact is not None else None
        info = {
            "url": url,
            "archive_info": {"hash": f"sha256={digest}", "hashes": {"sha256": digest}} if digest else {},
        }
    else:
        return None  # registry installs are name+version installs: PEP 610 says no file
    if source.subdirectory:
        info["subdirectory"] = source.subdirectory
    return info
