"""Where each part of a wheel goes: ``--root``, ``--prefix``, ``--target`` or ``--user``.

A :class:`Layout` holds the *runtime* scheme (the paths as the final image sees
them, written into RECORD and shebangs) and, for ``--root``, the staging
directory they are re-rooted under.  Only schemes are data here; writing is
``spread``'s job.
"""

from __future__ import annotations

import os
import posixpath
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from .errors import UsageError
from .target import Target

LayoutKind = Literal["root", "prefix", "target", "user"]
DEFAULT_PREFIX = "/usr/local"


@dataclass(frozen=True, slots=True, kw_only=True)
class Layout:
    """A wheel-scheme mapping plus the staging root it is written under."""

    kind: LayoutKind
    destdir: Path | None
    """Files land under this directory; None writes the runtime paths directly."""
    purelib: str
    scripts: str
    headers: str
    """Headers directory; the distribution name is appended per wheel."""
    data: str
    interpreter: str
    """What generated scripts run: the TARGET interpreter, never the build machine's."""

    def scheme_dict(self, distribution: str) -> dict[str, str]:
        """The installer scheme for one distribution (runtime paths)."""
        return {
            "purelib": self.purelib,
            "platlib": self.purelib,
            "scripts": self.scripts,
            "headers": posixpath.join(self.headers, distribution),
            "data": self.data,
        }

    def on_disk(self, runtime_path: str) -> Path:
        """Where a runtime path is written on the build machine."""
        if self.destdir is None:
            return Path(runtime_path)
        return self.destdir / runtime_path.lstrip("/")

    @property
    def site_packages(self) -> Path:
        """The import directory as written on the build machine."""
        return self.on_disk(self.purelib)

    @property
    def top(self) -> Path:
        """The directory the user named; nothing outside it is written."""
        if self.destdir is not None:
            return self.destdir
        return Path(self.data)


def make_layout(
    target: Target,
    *,
    root: Path | None = None,
    prefix: str | None = None,
    target_dir: Path | None = None,
    user: bool = False,
    shebang: str | None = None,
) -> Layout:
    """Build the layout the flags ask for (exactly one of root, prefix, target, user)."""
    if target_dir is not None:
        if root is not None or prefix is not None or user:
            raise UsageError(
                "--target cannot be combined with --root, --prefix or --user",
                hint="--target is a flat import directory of its own",
            )
        return _flat(target_dir.resolve(), target, shebang)
    if target.os == "windows":
        raise UsageError(
            f"--root, --prefix and --user lay out a POSIX system, and {target} is Windows",
            hint="use --target DIR for a Windows target",
        )
    if user:
        if prefix is not None and root is None:
            raise UsageError("--user cannot be combined with --prefix", hint="use --user alone or with --root")
        return _user(root, target, prefix or DEFAULT_PREFIX, shebang)
    if root is None and prefix is None:
        raise UsageError(
            "choose where to install: --root DIR, --prefix DIR, --target DIR or --user",
            hint="for a Docker staging tree use --root /root-dir",
        )
    if root is None:
        absolute = str(Path(prefix or "").resolve())
        return _prefix(None, absolute, target, shebang)
    return _prefix(root.resolve(), _absolute_posix(prefix or DEFAULT_PREFIX), target, shebang)


def _prefix(destdir: Path | None, prefix: str, target: Target, shebang: str | None) -> Layout:
    # The scheme of `pip install --root DIR --prefix P` on a python:X.Y image (posix_prefix).
    kind: LayoutKind = "root" if destdir is not None else "prefix"
    return _posix(kind, destdir, prefix, target, shebang or f"{prefix}/bin/python{target.python_version}")


def _user(destdir: Path | None, target: Target, prefix: str, shebang: str | None) -> Layout:
    # posix_user: the base is PYTHONUSERBASE or ~/.local, as pip and site.py compute it.
    base = os.environ.get("PYTHONUSERBASE") or str(Path("~/.local").expanduser())
    interpreter = shebang or f"{_absolute_posix(prefix)}/bin/python{target.python_version}"
    return _posix("user", destdir, base, target, interpreter)


def _posix(kind: LayoutKind, destdir: Path | None, base: str, target: Target, interpreter: str) -> Layout:
    # posix_prefix and posix_user share one shape: lib/pythonX.Y/site-packages, bin, include/pythonX.Y.
    version = target.python_version
    return Layout(
        kind=kind,
        destdir=destdir,
        purelib=f"{base}/lib/python{version}/site-packages",
        scripts=f"{base}/bin",
        headers=f"{base}/include/python{version}",
        data=base,
        interpreter=interpreter,
    )


def _flat(directory: Path, target: Target, shebang: str | None) -> Layout:
    # pip's --target: importable parts flat in DIR, the rest beside them.  The
    # interpreter's location in the final system is unknown, so scripts look it up.
    return Layout(
        kind="target",
        destdir=None,
        purelib=str(directory),
        scripts=str(directory / "bin"),
        headers=str(directory / "include" / "python"),
        data=str(directory),
        interpreter=shebang or f"/usr/bin/env python{target.python_version}",
    )


def _absolute_posix(prefix: str) -> str:
    if not prefix.startswith("/"):
        raise UsageError(
            f"--prefix {prefix!r} must be an absolute path in the target system",
            hint="with --root, --prefix names a directory of the final image, e.g. /usr/local",
        )
    return posixpath.normpath(prefix)
