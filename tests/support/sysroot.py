"""Run a staged tree on a *distribution's* Python (Debian, Alpine layouts) without Docker.

:class:`ImageSimulator` (overlay.py) rebuilds the official image's
``/usr/local``.  Distroless and Alpine images keep Python under ``/usr``
instead, next to the C library, so it cannot be replaced wholesale; here the
host's own directories are changed, in a private mount namespace only:

* :func:`debian_python` finds Debian's ``/usr/bin/pythonX.Y`` (what
  ``gcr.io/distroless/python3-debian12`` ships), whose ``posix_local`` scheme
  imports from ``/usr/local/lib/pythonX.Y/dist-packages``;
* :func:`lay_out_cpython` puts a CPython install (pyenv's) under a directory
  as a distribution package would at ``/usr``: ``bin/pythonX.Y``,
  ``lib/libpython*`` and the stdlib in ``lib/pythonX.Y`` (with an empty
  ``site-packages``), its ``RUNPATH`` rewritten to ``/usr/lib``;
* :class:`MountNamespace` collects bind mounts, empty read-only tmpfs mounts
  (to hide a host directory the image does not have) and read-only overlayfs
  mounts (layers over a host directory: ``/usr/bin``, ``/usr/lib``) and runs
  a command under them with a clean environment.  The host never sees them.
"""

from __future__ import annotations

import json
import shlex
import shutil
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path

from tests.support.overlay import (
    ImageError,
    _mount_bin,
    _overlay_safe,
    _rewrite,
    _run_tool,
    _unshare_argv,
    overlay_supported,
    overlayfs_supported,
)

_SETUP_RC = 125
_SETUP_FAILED = "uvroot-sysroot-setup-failed:"
_DEBIAN_PROBE = (
    "import json, sys, sysconfig; print(json.dumps([sysconfig.get_default_scheme(), sysconfig.get_paths()]))"
)


def debian_python(version: str) -> tuple[Path | None, str]:
    """``(/usr/bin/pythonX.Y, "")`` if it is Debian's (posix_local, dist-packages), else ``(None, why not)``."""
    exe = Path(f"/usr/bin/python{version}")
    if not exe.is_file():
        return None, f"{exe} is not installed"
    try:
        proc = subprocess.run(
            [str(exe), "-I", "-c", _DEBIAN_PROBE], capture_output=True, text=True, timeout=30, check=False
        )
    except (OSError, subprocess.SubprocessError) as exc:
        return None, f"{exe} does not run: {exc}"
    if proc.returncode != 0:
        return None, f"{exe} does not run: {proc.stderr.strip()}"
    scheme, paths = json.loads(proc.stdout)
    if scheme != "posix_local" or paths["purelib"] != f"/usr/local/lib/python{version}/dist-packages":
        return None, f"{exe} is not Debian's Python (scheme {scheme}, purelib {paths['purelib']})"
    return exe, ""


def lay_out_cpython(source: Path, dest: Path, version: str) -> Path:
    """Lay the CPython install at ``source`` out under ``dest`` as if its prefix were ``/usr``; returns ``dest``.

    The stdlib is hard-linked where possible (it is only read: the overlay
    mounts are read-only); the interpreter and libpython are real copies, so
    rewriting their ``RUNPATH`` never touches the source install.
    """
    py = f"python{version}"
    (dest / "bin").mkdir(parents=True)
    (dest / "lib").mkdir()
    shutil.copy2(source / "bin" / py, dest / "bin" / py)
    (dest / "bin" / "python3").symlink_to(py)
    for lib in sorted((source / "lib").glob("libpython*")):
        _run_tool(["cp", "-a", "--", str(lib), f"{dest / 'lib'}/"])
    stdlib = dest / "lib" / py
    stdlib.mkdir()
    entries = [str(entry) for entry in (source / "lib" / py).iterdir() if entry.name != "site-packages"]
    try:
        _run_tool(["cp", "-al", "--", *entries, f"{stdlib}/"])
    except ImageError:  # another filesystem: copy
        shutil.rmtree(stdlib)
        stdlib.mkdir()
        _run_tool(["cp", "-a", "--", *entries, f"{stdlib}/"])
    (stdlib / "site-packages").mkdir()
    old = sorted({str(source), str(source.resolve())}, key=len, reverse=True)
    _rewrite(dest / "bin" / py, old, "/usr")  # RUNPATH <source>/lib -> /usr/lib
    return dest


class MountNamespace:
    """Mounts to make in a private mount namespace, and commands to run under them."""

    def __init__(self) -> None:
        self._mounts: list[str] = []

    def bind(self, source: Path, target: str) -> MountNamespace:
        """Replace the host's ``target`` by ``source`` (read-write)."""
        self._mounts.append(f"{_mount_bin()} --bind {shlex.quote(str(source))} {shlex.quote(target)}")
        return self

    def hide(self, target: str) -> MountNamespace:
        """An empty read-only directory over the host's ``target``."""
        self._mounts.append(f"{_mount_bin()} -t tmpfs -o ro,size=4k,mode=0755 uvroot-hidden {shlex.quote(target)}")
        return self

    def overlay(self, target: str, layers: Sequence[Path]) -> MountNamespace:
        """``layers`` (first on top) over the host's ``target``, read-only; missing layers are left out."""
        lower = [_overlay_safe(layer) for layer in layers if layer.is_dir()]
        options = "lowerdir=" + ":".join([*lower, _overlay_safe(Path(target))])
        self._mounts.append(f"{_mount_bin()} -t overlay uvroot-sysroot -o {shlex.quote(options)} {shlex.quote(target)}")
        return self

    @staticmethod
    def unavailable_reason() -> str | None:
        """None if bind, tmpfs and overlayfs mounts work in a private namespace here, else a skip reason."""
        return overlay_supported() or overlayfs_supported()

    def run(
        self, argv: Sequence[str], env: Mapping[str, str], *, cwd: str = "/", check: bool = True
    ) -> subprocess.CompletedProcess[str]:
        """Run ``argv`` (PATH from ``env``) under the mounts; nothing of the caller's environment is inherited."""
        lines = [f'fail() {{ echo "{_SETUP_FAILED} $*" >&2; exit {_SETUP_RC}; }}']
        lines += [f"{mount} || fail {shlex.quote(mount)}" for mount in self._mounts]
        lines.append(f"cd {shlex.quote(cwd)} || fail cd")
        lines.append('exec "$@"')
        proc = subprocess.run(
            [*_unshare_argv(), "--", "/bin/sh", "-c", "\n".join(lines), "sh", *argv],
            env=dict(env),
            capture_output=True,
            text=True,
            stdin=subprocess.DEVNULL,
            timeout=300,
            check=False,
        )
        if proc.returncode == _SETUP_RC and _SETUP_FAILED in proc.stderr:
            raise RuntimeError(f"could not set up the mounts for {argv}: {proc.stderr.strip()}")
        if check and proc.returncode != 0:
            raise AssertionError(f"{argv} exited {proc.returncode}:\n{proc.stdout}\n{proc.stderr}")
        return proc
