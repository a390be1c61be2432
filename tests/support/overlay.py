"""Simulate the final ``python:X.Y`` image with a real CPython, without Docker.

uvroot stages a lock into a tree ``ROOT`` (``ROOT/usr/local/lib/pythonX.Y/
site-packages``, ``ROOT/usr/local/bin/*`` with ``#!/usr/local/bin/pythonX.Y``)
that a Dockerfile copies into the image with ``COPY --from=build /root-dir /``.
:class:`ImageSimulator` rebuilds that image's ``/usr/local`` from a CPython
install found on this machine, lays ``ROOT`` over it with COPY's semantics
(merge; files overwrite) and runs commands in a private mount namespace where
that directory *is* ``/usr/local``, so staged console scripts run by their
real shebang and ``sys.prefix`` is ``/usr/local``::

    prefix = find_cpython("3.12")  # None -> skip
    if prefix is None or overlay_supported() is not None: pytest.skip(...)
    with ImageSimulator(prefix, tmp_path / "image") as image:
        image.apply(staged_root)  # may be called again: like a second COPY
        out = image.run(["hello-overlay"], check=True).stdout
        image.run(["python3.12", "-c", "import hello_overlay"], check=True)

What the simulated image contains:

* ``/usr/local``: the interpreter's own files only - ``bin/python*``,
  ``pydoc*``, ``idle*``, ``2to3*`` and their ``-config`` scripts,
  ``lib/pythonX.Y`` (the stdlib), ``lib/libpython*``, ``lib/pkgconfig/python*``,
  ``include/pythonX.Y``, ``share/man/man1/python*`` - plus the *seed*
  distributions (default: ``pip``, as in the official image; its scripts
  included).  Nothing else from the source install: a pyenv site-packages full
  of packages does NOT leak into the image.  Absolute references to the source
  prefix are rewritten to ``/usr/local`` in the copied scripts, the
  ``_sysconfigdata`` module, ``config-X.Y*/Makefile``, the ``.pc`` files and the
  interpreter's ELF ``RUNPATH`` (pyenv links ``bin/pythonX.Y`` to
  ``<prefix>/lib/libpythonX.Y.so`` by an absolute RUNPATH; after the rewrite it
  loads ``/usr/local/lib/libpythonX.Y.so`` like the real image does through
  ``ldconfig``).  No ``LD_LIBRARY_PATH`` is needed.
* ``/root`` (``home=True``, the default): a fresh, empty directory plus
  whatever ``ROOT/root`` contains (``--user`` layouts: ``ROOT/root/.local``),
  like the image's home, so the host's ``~/.local``/``~/.config`` cannot leak.
  This also hides a pyenv under ``/root``.
* the source prefix is hidden (an empty read-only tmpfs over it) so any
  leftover reference to it fails loudly instead of silently working (not
  when it is ``/usr``, or when its ``RUNPATH`` was too short to rewrite).
* any other top-level directory of ``ROOT`` (``ROOT/opt/app``, ``ROOT/etc/x``,
  ``ROOT/usr/share/x``; ``ROOT/root`` when ``home=False``) is merged over the
  host's directory of the same name with overlayfs (``ROOT``'s files on top,
  writes go to a scratch upper dir).  This needs overlayfs
  (:func:`overlayfs_supported`) and an existing host directory to mount on:
  ``ROOT/srv`` works only if the host has ``/srv``; a plain file at the top of
  ``ROOT`` and ``ROOT/tmp`` (or whichever directory holds ``work``) are not
  supported.  Everything not listed comes from the host (``/etc``, ``/usr/lib``,
  the C library...), which is the one real difference from the image.

Copy cost: the stdlib, ``include/pythonX.Y`` and the seed distributions are
hard-linked (``cp -al``: ~0.3-0.5 s for a whole image; this disk needs ~0.8 s
just to ``cp -a`` pip's 17 MB, 0.2 s for the headers and 1-3 s for the
stdlib), everything the simulator itself writes is a real
copy or is unlinked first (``cp --remove-destination``), and inside the
namespace the hard-linked trees are mounted read-only, so nothing run in the
"image" can modify the shared inodes of the real install.  site-packages
itself, ``bin`` and the rest of ``/usr/local`` stay writable: ``pip install x``
works; ``pip install -U pip`` (rewriting the seeded pip), editing the stdlib or
the ``include/pythonX.Y`` headers fails with EROFS.  ``link=False`` copies instead (all
writable, ~1-3 s more per image).

Runs: ``unshare -m --propagation private`` (``-r`` as well when not root)
with a clean environment (``PATH=/usr/local/bin:/usr/bin:/bin``, ``HOME=/root``,
``LANG=C.UTF-8`` - the image's - plus what ``env`` adds), working directory
``/``.  State persists between runs of one simulator, like ``docker exec`` in
one container: a ``pip install`` in one run is visible to the next (runs of
one simulator that use overlays should not overlap in time).  The mounts
live only in the child's namespace; the host's ``/usr/local`` never changes.
``work`` must not lie under ``/usr/local`` or the source prefix (both are
mounted over); under ``/root`` it works, but ``cwd`` must not point there.
"""

from __future__ import annotations

import functools
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from typing_extensions import Self  # typing.Self needs 3.11

__all__ = [
    "IMAGE_PREFIX",
    "ImageCommandError",
    "ImageError",
    "ImageSimulator",
    "find_cpython",
    "image_unavailable_reason",
    "overlay_supported",
    "overlayfs_supported",
]

IMAGE_PREFIX = "/usr/local"
IMAGE_HOME = "/root"
IMAGE_ENV = {"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": IMAGE_HOME, "LANG": "C.UTF-8"}

_SETUP_FAILED = "uvroot-overlay-setup-failed:"
_SETUP_RC = 125
_VERSION_RE = re.compile(r"^(\d+)\.(\d+)(?:\.(\d+))?$")
_PYENV_NAME_RE = re.compile(r"^(\d+)\.(\d+)\.(\d+)$")  # final releases only: no -dev, rc, t, pypy
# bin/ entries of a CPython `make install` (the image adds the unversioned symlinks, as pyenv does).
_BIN_RE = re.compile(r"^(?:2to3|idle|pydoc|python)(?:\d+(?:\.\d+)?)?(?:-\d+\.\d+)?(?:-config)?$")
_PROBE_CODE = """\
import json, platform, sys, sysconfig
print(json.dumps({
    "implementation": platform.python_implementation(),
    "version": list(sys.version_info[:2]),
    "prefix": sys.prefix,
    "stdlib": sysconfig.get_path("stdlib"),
    "purelib": sysconfig.get_path("purelib"),
    "free_threaded": bool(sysconfig.get_config_var("Py_GIL_DISABLED")),
}))
"""


class ImageError(RuntimeError):
    """The image could not be simulated (bad input, unsupported layout, mount failure)."""


class ImageCommandError(subprocess.CalledProcessError):
    """``run(..., check=True)`` saw a non-zero exit; the message ends with the command's stderr."""

    def __str__(self) -> str:
        tail = (self.stderr or "").strip()[-3000:]
        return f"{super().__str__()}\n--- stderr (tail):\n{tail}" if tail else super().__str__()


# --------------------------------------------------------------------------- discovery


def _parse_version(version: str) -> tuple[int, int, int | None]:
    match = _VERSION_RE.match(version.strip())
    if not match:
        raise ValueError(f"expected a version like '3.12' or '3.12.1', got {version!r}")
    major, minor, patch = match.groups()
    return int(major), int(minor), None if patch is None else int(patch)


@functools.cache
def _inspect(executable: str) -> dict | None:
    """What ``executable`` says about itself (isolated, no site), or None if it cannot run."""
    try:
        proc = subprocess.run(
            [executable, "-I", "-S", "-c", _PROBE_CODE],
            capture_output=True,
            text=True,
            timeout=30,
            env={"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"},
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    if proc.returncode != 0:
        return None
    try:
        return json.loads(proc.stdout)
    except ValueError:
        return None


def _is_cpython_prefix(prefix: Path, major: int, minor: int) -> bool:
    """``prefix`` holds a plain (upstream-layout, GIL) CPython major.minor install."""
    exe = prefix / "bin" / f"python{major}.{minor}"
    if not (exe.is_file() and os.access(exe, os.X_OK)):
        return False
    info = _inspect(str(exe))
    if info is None or info["implementation"] != "CPython" or info["free_threaded"]:
        return False
    if info["version"] != [major, minor]:
        return False
    real = prefix.resolve()
    lib = real / "lib" / f"python{major}.{minor}"
    # Debian's /usr/bin/pythonX.Y fails here (dist-packages scheme), which is what we want:
    # copied to /usr/local it would not read /usr/local/lib/pythonX.Y/site-packages.
    return (
        Path(info["prefix"]).resolve() == real
        and Path(info["stdlib"]).resolve() == lib
        and Path(info["purelib"]).resolve() == lib / "site-packages"
    )


@functools.cache
def _pyenv_root() -> Path | None:
    pyenv = shutil.which("pyenv")
    if pyenv:
        try:
            out = subprocess.run([pyenv, "root"], capture_output=True, text=True, timeout=20, check=False)
        except (OSError, subprocess.SubprocessError):
            out = None
        if out is not None and out.returncode == 0 and out.stdout.strip():
            return Path(out.stdout.strip())
    if os.environ.get("PYENV_ROOT"):
        return Path(os.environ["PYENV_ROOT"])
    default = Path("~/.pyenv").expanduser()
    return default if default.is_dir() else None


@functools.cache
def find_cpython(version: str) -> Path | None:
    """Prefix of a real CPython ``version`` ("3.12" or "3.12.1") on this machine, or None.

    Looks at the pyenv versions (``pyenv root``, ``$PYENV_ROOT``, ``~/.pyenv``;
    newest patch release first; no ``-dev``/rc/free-threaded/PyPy builds), then
    ``/usr/local`` and ``/usr``.  A candidate counts only if its
    ``bin/pythonX.Y`` runs and reports CPython X.Y with the upstream layout
    (``sys.prefix`` = the prefix, stdlib in ``lib/pythonX.Y``, site-packages
    in ``lib/pythonX.Y/site-packages``).
    """
    major, minor, patch = _parse_version(version)
    candidates: list[Path] = []
    root = _pyenv_root()
    versions = root / "versions" if root else None
    if versions is not None and versions.is_dir():
        found = []
        for entry in versions.iterdir():
            match = _PYENV_NAME_RE.match(entry.name)
            if not match or not entry.is_dir():
                continue
            numbers = tuple(int(part) for part in match.groups())
            if numbers[:2] == (major, minor) and (patch is None or numbers[2] == patch):
                found.append((numbers, entry))
        candidates.extend(path for _, path in sorted(found, reverse=True))
    if patch is None:
        candidates += [Path("/usr/local"), Path("/usr")]
    for prefix in candidates:
        if _is_cpython_prefix(prefix, major, minor):
            return prefix
    return None


# --------------------------------------------------------------------------- capability


def _unshare_argv() -> list[str]:
    unshare = shutil.which("unshare") or "unshare"
    argv = [unshare, "--mount", "--propagation", "private"]
    if os.geteuid() != 0:
        argv.append("--map-root-user")  # a user namespace makes the mounts possible without root
    return argv


def _mount_bin() -> str:
    return shutil.which("mount") or "/bin/mount"


@functools.cache
def overlay_supported() -> str | None:
    """None if this host can bind-mount over ``/usr/local`` privately, else why not (a skip reason).

    Probes once (cached) by really doing it: ``unshare -m`` + a bind mount of
    a scratch directory on ``/usr/local``, then checks the host did not see it.
    """
    if not sys.platform.startswith("linux"):
        return f"mount namespaces need Linux (this is {sys.platform})"
    for tool in ("unshare", "mount"):
        if shutil.which(tool) is None:
            return f"`{tool}` is not installed"
    if not Path(IMAGE_PREFIX).is_dir() or Path(IMAGE_PREFIX).is_symlink():
        return f"{IMAGE_PREFIX} is not a directory on this host (nothing to mount on)"
    with tempfile.TemporaryDirectory(prefix="uvroot-overlay-probe-") as scratch:
        marker = f"uvroot-overlay-probe-{os.getpid()}"
        (Path(scratch) / marker).write_text("probe\n")
        script = f"{_mount_bin()} --bind {shlex.quote(scratch)} {IMAGE_PREFIX} && test -e {IMAGE_PREFIX}/{marker}"
        who = "root" if os.geteuid() == 0 else "a user namespace (not root)"
        failed = _probe(script, f"cannot bind-mount over {IMAGE_PREFIX} in a private mount namespace as {who}")
        if failed is not None:
            return failed
        if (Path(IMAGE_PREFIX) / marker).exists():  # pragma: no cover - would be a kernel/unshare bug
            return f"a bind mount in a private namespace leaked to the host's {IMAGE_PREFIX}"
    return None


@functools.cache
def overlayfs_supported() -> str | None:
    """None if overlayfs mounts work in a private namespace here, else why not.

    Needed only when ``ROOT`` has top-level directories besides ``usr/local``
    (and ``root`` with ``home=True``).
    """
    reason = overlay_supported()
    if reason is not None:
        return reason
    with tempfile.TemporaryDirectory(prefix="uvroot-overlayfs-probe-") as scratch:
        base = Path(scratch)
        for name in ("low1", "low2", "upper", "work", "mnt"):
            (base / name).mkdir()
        (base / "low1" / "a").write_text("a\n")
        (base / "low2" / "b").write_text("b\n")
        options = f"lowerdir={base}/low1:{base}/low2,upperdir={base}/upper,workdir={base}/work"
        script = (
            f"{_mount_bin()} -t overlay uvroot-probe -o {shlex.quote(options)} {shlex.quote(str(base / 'mnt'))} "
            f"&& test -e {shlex.quote(str(base / 'mnt' / 'a'))} && test -e {shlex.quote(str(base / 'mnt' / 'b'))}"
        )
        return _probe(script, "overlayfs mounts do not work here")


def _probe(script: str, failure: str) -> str | None:
    """Run a shell ``script`` in a private mount namespace: None if it succeeds, else ``failure: why``."""
    try:
        proc = subprocess.run(
            [*_unshare_argv(), "--", "/bin/sh", "-c", script], capture_output=True, text=True, timeout=30, check=False
        )
    except (OSError, subprocess.SubprocessError) as exc:
        return f"unshare failed: {exc}"
    if proc.returncode != 0:
        detail = (proc.stderr or proc.stdout).strip() or f"exit {proc.returncode}"
        return f"{failure}: {detail}"
    return None


def image_unavailable_reason(version: str) -> str | None:
    """None if an image for CPython ``version`` can be simulated here, else a skip reason."""
    reason = overlay_supported()
    if reason is not None:
        return reason
    if find_cpython(version) is None:
        return f"no CPython {version} install found (pyenv, /usr/local, /usr)"
    return None


# --------------------------------------------------------------------------- helpers


def _run_tool(argv: Sequence[str]) -> None:
    proc = subprocess.run(list(argv), capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise ImageError(f"{shlex.join(argv)} failed ({proc.returncode}): {proc.stderr.strip()}")


def _copy_tree_into(src: Path, dest: Path) -> None:
    """Merge ``src``'s contents into ``dest`` like Docker's COPY (files and symlinks overwrite).

    ``--remove-destination`` unlinks an existing file before writing, so a
    hard-linked destination never writes through to the linked original.
    """
    dest.mkdir(parents=True, exist_ok=True)
    _run_tool(["cp", "-a", "--remove-destination", "--", f"{src}/.", f"{dest}/"])


def _relocate_bytes(data: bytes, old: Iterable[str], new: str) -> bytes:
    for prefix in old:
        data = data.replace(prefix.encode(), new.encode())
    return data


def _relocate_elf(data: bytes, old: Iterable[str], new: str) -> bytes:
    """Rewrite NUL-terminated strings in an ELF image that contain an old prefix.

    The new string is shorter, so it is written in place and padded with NULs;
    offsets stay valid.  Used for the interpreter's ``RUNPATH``.
    """
    buf = bytearray(data)
    newb = new.encode()
    for prefix in old:
        oldb = prefix.encode()
        if len(newb) > len(oldb):
            continue
        start = buf.find(oldb)
        while start != -1:
            end = buf.find(b"\0", start)
            if end == -1:
                break
            tail = bytes(buf[start + len(oldb) : end])
            replacement = newb + tail
            buf[start:end] = replacement + b"\0" * (end - start - len(replacement))
            start = buf.find(oldb, start + len(replacement))
    return bytes(buf)


def _rewrite(path: Path, old: Sequence[str], new: str) -> bool:
    """Replace the old prefixes in ``path``; unlink first so hard-linked originals stay intact."""
    if path.is_symlink() or not path.is_file():
        return False
    data = path.read_bytes()
    if not any(prefix.encode() in data for prefix in old):
        return False
    fixed = _relocate_elf(data, old, new) if data[:4] == b"\x7fELF" else _relocate_bytes(data, old, new)
    mode = path.stat().st_mode & 0o7777
    path.unlink()
    path.write_bytes(fixed)
    path.chmod(mode)
    return True


def _overlay_safe(path: Path) -> str:
    text = str(path)
    if any(char in text for char in ",:\\"):
        raise ImageError(f"overlayfs cannot take a path with ',', ':' or '\\': {text}")
    return text


# --------------------------------------------------------------------------- the simulator


class ImageSimulator:
    """The final image: a CPython as ``/usr/local``, ``ROOT``s copied over it, commands run inside.

    ``python_prefix``: a CPython install (see :func:`find_cpython`).
    ``work``: a scratch directory owned by this simulator (created; on the same
    filesystem as ``python_prefix`` for hard links, else it copies).
    ``seed``: distributions of the source site-packages the image starts with
    (the official image has ``pip``); ``()`` for an empty site-packages.
    ``home``: give the image a fresh ``/root`` (plus ``ROOT/root``).
    ``link``: hard-link the stdlib and seeds (fast; mounted read-only when run) or copy them.
    """

    def __init__(
        self,
        python_prefix: Path | str,
        work: Path | str,
        *,
        seed: Sequence[str] = ("pip",),
        home: bool = True,
        link: bool = True,
        version: str | None = None,
    ) -> None:
        self.source = Path(python_prefix).absolute()
        self.work = Path(work).absolute()
        self.home = home
        self.link = link
        self._version = version or self._detect_version()
        major, minor, _ = _parse_version(self._version)
        self.version = f"{major}.{minor}"
        if not _is_cpython_prefix(self.source, major, minor):
            raise ImageError(f"{self.source} is not a CPython {self.version} install with the upstream layout")
        for mounted in (Path(IMAGE_PREFIX), self.source.resolve()):
            if self.work.resolve().is_relative_to(mounted):
                raise ImageError(f"work ({self.work}) must not be under {mounted}: it gets mounted over")
        self.work.mkdir(parents=True, exist_ok=True)
        self.image_dir = self.work / "usr-local"
        self.home_dir = self.work / "home"
        if self.image_dir.exists() or self.home_dir.exists():
            raise ImageError(f"{self.work} already holds an image; use a fresh directory")
        self._overlays: dict[str, list[Path]] = {}  # mount point -> layers, last applied first
        self._layer_count = 0
        self._shared: list[Path] = []  # hard-linked to the source install: read-only when run
        self._hide_source = True
        self._build_base(seed)
        self.home_dir.mkdir(mode=0o700)

    # ---------------------------------------------------------------- properties

    @property
    def python(self) -> str:
        """The versioned interpreter's name inside the image, e.g. ``python3.12``."""
        return f"python{self.version}"

    @property
    def stdlib(self) -> Path:
        """Host path of the image's ``/usr/local/lib/pythonX.Y``."""
        return self.image_dir / "lib" / self.python

    @property
    def site_packages(self) -> Path:
        """Host path of the image's ``/usr/local/lib/pythonX.Y/site-packages``."""
        return self.stdlib / "site-packages"

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Delete the simulated image (the source install is never touched)."""
        for name in ("usr-local", "home", "layers", "overlay"):
            shutil.rmtree(self.work / name, ignore_errors=True)

    # ---------------------------------------------------------------- building

    def _detect_version(self) -> str:
        names = sorted(
            entry.name[len("python") :]
            for entry in (self.source / "bin").glob("python*")
            if re.fullmatch(r"python\d+\.\d+", entry.name)
        )
        if len(names) != 1:
            raise ImageError(f"cannot tell the Python version of {self.source} (bin has {names}); pass version=")
        return names[0]

    def _old_prefixes(self) -> list[str]:
        prefixes = {str(self.source), str(self.source.resolve())}
        return sorted((p for p in prefixes if p != IMAGE_PREFIX), key=len, reverse=True)

    def _build_base(self, seed: Sequence[str]) -> None:
        src, img, py = self.source, self.image_dir, self.python
        old = self._old_prefixes()
        (img / "bin").mkdir(parents=True)
        (img / "lib").mkdir()

        # stdlib: every entry but site-packages, hard-linked if possible
        stdlib_src = src / "lib" / py
        self.stdlib.mkdir()
        entries = [entry for entry in stdlib_src.iterdir() if entry.name != "site-packages"]
        if self._link_or_copy(entries, self.stdlib):
            self._shared.append(self.stdlib)
        self.site_packages.mkdir()  # a real directory: writable inside the image
        readme = stdlib_src / "site-packages" / "README.txt"
        if readme.is_file():
            shutil.copy2(readme, self.site_packages / "README.txt")

        # the rest is small: real copies (they get relocated below)
        scripts = sorted(str(entry) for entry in (src / "bin").iterdir() if _BIN_RE.match(entry.name))
        _run_tool(["cp", "-a", "--", *scripts, f"{img / 'bin'}/"])
        libs = sorted(str(entry) for entry in (src / "lib").glob("libpython*"))
        if libs:
            _run_tool(["cp", "-a", "--", *libs, f"{img / 'lib'}/"])
        pcs = sorted((src / "lib" / "pkgconfig").glob("python*.pc"))
        if pcs:
            (img / "lib" / "pkgconfig").mkdir()
            _run_tool(["cp", "-a", "--", *map(str, pcs), f"{img / 'lib' / 'pkgconfig'}/"])
        includes = sorted((src / "include").glob(f"{py}*"))
        if includes:
            (img / "include").mkdir()
            if self._link_or_copy(includes, img / "include"):  # ~250 headers: 0.2 s to copy here
                self._shared += [img / "include" / entry.name for entry in includes]
        mans = sorted((src / "share" / "man" / "man1").glob("python*"))
        if mans:
            (img / "share" / "man" / "man1").mkdir(parents=True)
            _run_tool(["cp", "-a", "--", *map(str, mans), f"{img / 'share' / 'man' / 'man1'}/"])

        for name in seed:
            self._seed(name)
        # the official Dockerfile's unversioned symlinks (pyenv ships most of them, not `pip`)
        for versioned in ("idle3", "pip3", "pydoc3", "python3", "python3-config"):
            plain = img / "bin" / versioned.replace("3", "", 1)
            if (img / "bin" / versioned).exists() and not plain.exists() and not plain.is_symlink():
                plain.symlink_to(versioned)

        # relocate: the interpreter (RUNPATH), scripts, sysconfig data, Makefile, .pc files
        if old:
            targets = [entry for entry in (img / "bin").iterdir() if not entry.is_symlink()]
            targets += sorted((img / "lib" / "pkgconfig").glob("*.pc"))
            targets += sorted(self.stdlib.glob("_sysconfigdata_*.py"))
            targets += sorted(self.stdlib.glob(f"config-{self.version}*/Makefile"))
            targets += sorted(self.stdlib.glob(f"config-{self.version}*/python-config.py"))
            for target in targets:
                if _rewrite(target, old, IMAGE_PREFIX) and target.suffix == ".py":
                    for pyc in (target.parent / "__pycache__").glob(f"{target.stem}.*.pyc"):
                        pyc.unlink()  # stale: compiled from the old text
            interpreter = (img / "bin" / py).read_bytes()
            if any(prefix.encode() in interpreter for prefix in old):
                # a RUNPATH shorter than /usr/local/lib cannot be rewritten in place: the image's
                # interpreter still loads libpython from the source, which must then stay visible
                self._hide_source = False

    def _link_or_copy(self, sources: Sequence[Path], dest: Path) -> bool:
        """``cp -al`` (True) when ``link`` and the filesystem allow it, else ``cp -a`` (False)."""
        if not sources:
            return False
        names = [str(source) for source in sources]
        if self.link:
            try:
                _run_tool(["cp", "-al", "--", *names, f"{dest}/"])
            except ImageError:  # another filesystem: copy instead
                for source in sources:
                    target = dest / source.name
                    if target.is_dir() and not target.is_symlink():
                        shutil.rmtree(target)
                    elif target.exists() or target.is_symlink():
                        target.unlink()
            else:
                return True
        _run_tool(["cp", "-a", "--", *names, f"{dest}/"])
        return False

    def _seed(self, name: str) -> None:
        """Add one installed distribution (top-level entries from its RECORD, and its scripts) to the image."""
        src_site = self.source / "lib" / self.python / "site-packages"
        wanted = re.sub(r"[-_.]+", "_", name).lower()
        infos = [
            entry
            for entry in src_site.glob("*.dist-info")
            if re.sub(r"[-_.]+", "_", entry.name.split("-")[0]).lower() == wanted
        ]
        if not infos:
            raise ImageError(f"seed {name!r} is not installed in {src_site}")
        record = (infos[0] / "RECORD").read_text(encoding="utf-8").splitlines()
        tops: set[str] = {infos[0].name}
        scripts: set[str] = set()
        for line in record:
            path = line.rsplit(",", 2)[0]
            parts = Path(path).parts
            if not parts:
                continue
            if parts[:4] == ("..", "..", "..", "bin") and len(parts) == 5:
                scripts.add(parts[4])
            elif parts[0] != ".." and parts[0] != "__pycache__":
                tops.add(parts[0])
        sources = [src_site / top for top in sorted(tops) if (src_site / top).exists()]
        if self._link_or_copy(sources, self.site_packages):
            self._shared += [self.site_packages / source.name for source in sources]
        for script in sorted(scripts):
            if (self.source / "bin" / script).is_file():
                shutil.copy2(self.source / "bin" / script, self.image_dir / "bin" / script)

    # ---------------------------------------------------------------- COPY --from=build ROOT /

    def apply(self, root: Path | str) -> None:
        """Lay ``root`` over the image like ``COPY --from=build <root> /`` (merge; files overwrite).

        ``root/usr/local`` is merged into the image's ``/usr/local`` now;
        ``root/root`` into the fresh home (``home=True``); other top-level
        directories are snapshotted now and overlaid on the host's directory
        of the same name at run time (needs overlayfs).  Can be called again.
        """
        root = Path(root)
        if not root.is_dir():
            raise ImageError(f"{root} is not a directory")
        for entry in sorted(root.iterdir()):
            if entry.name == "usr" and entry.is_dir() and not entry.is_symlink():
                for child in sorted(entry.iterdir()):
                    if child.name == "local":
                        if child.is_symlink() or not child.is_dir():
                            raise ImageError(f"{child} must be a directory")
                        _copy_tree_into(child, self.image_dir)
                    else:
                        self._add_overlay(f"usr/{child.name}", child)
            elif entry.name == IMAGE_HOME.strip("/") and self.home:
                if entry.is_symlink() or not entry.is_dir():
                    raise ImageError(f"{entry} must be a directory")
                _copy_tree_into(entry, self.home_dir)
            else:
                self._add_overlay(entry.name, entry)

    def _add_overlay(self, rel: str, src: Path) -> None:
        if src.is_symlink() or not src.is_dir():
            raise ImageError(f"cannot overlay {src}: only directories are supported at the top of ROOT")
        host = Path("/") / rel
        if host.is_symlink() or not host.is_dir():
            raise ImageError(
                f"cannot place {src}: the host has no directory {host} to mount on (creating it would change the host)"
            )
        reason = overlayfs_supported()
        if reason is not None:
            raise ImageError(f"ROOT/{rel} needs overlayfs: {reason}")
        self._layer_count += 1
        layer = self.work / "layers" / str(self._layer_count)
        _copy_tree_into(src, layer)  # snapshot, like COPY
        _overlay_safe(layer)
        self._overlays.setdefault(str(host), []).insert(0, layer)

    # ---------------------------------------------------------------- running

    def _setup_script(self) -> str:
        mount = _mount_bin()
        q = shlex.quote
        lines = [f'fail() {{ echo "{_SETUP_FAILED} $*" >&2; exit {_SETUP_RC}; }}']

        def do(command: str, what: str) -> None:
            lines.append(f"{command} || fail {q(what)}")

        source = self.source.resolve()
        if self._hide_source and str(source) not in ("/", "/usr", IMAGE_PREFIX) and source.is_dir():
            do(f"{mount} -t tmpfs -o ro,size=4k,mode=0755 uvroot-hidden {q(str(source))}", f"hide {source}")
        do(f"{mount} --bind {q(str(self.image_dir))} {IMAGE_PREFIX}", f"bind {IMAGE_PREFIX}")
        for shared in self._shared:  # shares inodes with the real install: read-only inside
            inside = shlex.quote(f"{IMAGE_PREFIX}/{shared.relative_to(self.image_dir)}")
            do(
                f"{mount} --bind {q(str(shared))} {inside} && {mount} -o remount,bind,ro {inside}",
                f"read-only {inside}",
            )
            if shared == self.stdlib:  # site-packages (a real directory) stays writable
                do(f"{mount} --bind {q(str(self.site_packages))} {inside}/site-packages", "bind site-packages")
        for index, (target, layers) in enumerate(sorted(self._overlays.items())):
            base = self.work / "overlay" / str(index)
            upper, workdir = base / "upper", base / "work"
            upper.mkdir(parents=True, exist_ok=True)
            workdir.mkdir(parents=True, exist_ok=True)
            lower = ":".join([*(_overlay_safe(layer) for layer in layers), _overlay_safe(Path(target))])
            options = f"lowerdir={lower},upperdir={_overlay_safe(upper)},workdir={_overlay_safe(workdir)}"
            do(f"{mount} -t overlay uvroot-overlay -o {q(options)} {q(target)}", f"overlay {target}")
        if self.home:
            do(f"{mount} --bind {q(str(self.home_dir))} {IMAGE_HOME}", f"bind {IMAGE_HOME}")
        return "\n".join(lines)

    def run(
        self,
        argv: Sequence[str],
        env: Mapping[str, str] | None = None,
        check: bool = False,
        *,
        cwd: str = "/",
        input: str | None = None,
        timeout: float | None = 300,
    ) -> subprocess.CompletedProcess[str]:
        """Run ``argv`` in the image (PATH lookup inside it; scripts run by their shebang).

        The environment is the image's (``PATH=/usr/local/bin:/usr/bin:/bin``,
        ``HOME=/root``, ``LANG=C.UTF-8``) updated with ``env``; nothing is
        inherited from the caller.  ``cwd`` is a path inside the image.
        ``check=True`` raises :class:`ImageCommandError` (a
        :class:`subprocess.CalledProcessError` showing stderr) on a
        non-zero exit; a failure to set up the mounts always raises
        :class:`ImageError`.  The result's ``args`` is ``argv``.
        """
        argv = list(argv)
        if not argv:
            raise ValueError("argv is empty")
        reason = overlay_supported()
        if reason is not None:
            raise ImageError(reason)
        script = self._setup_script() + f'\ncd {shlex.quote(cwd)} || fail {shlex.quote("cd " + cwd)}\nexec "$@"\n'
        full_env = dict(IMAGE_ENV)
        if env:
            full_env.update(env)
        proc = subprocess.run(
            [*_unshare_argv(), "--", "/bin/sh", "-c", script, "sh", *argv],
            env=full_env,
            capture_output=True,
            text=True,
            encoding="utf-8",
            errors="replace",
            input=input,
            stdin=subprocess.DEVNULL if input is None else None,
            timeout=timeout,
            check=False,
        )
        if proc.returncode == _SETUP_RC and _SETUP_FAILED in proc.stderr:
            raise ImageError(f"could not set up the image for {argv}: {proc.stderr.strip()}")
        result = subprocess.CompletedProcess(argv, proc.returncode, proc.stdout, proc.stderr)
        if check and result.returncode != 0:
            raise ImageCommandError(result.returncode, argv, result.stdout, result.stderr)
        return result
