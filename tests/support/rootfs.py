"""Real Debian root filesystems (debootstrap) to run staged trees in, with no Docker daemon.

``python -m tests.support.rootfs build [NAME ...]`` (what ``make test-images`` runs) builds each
image's root filesystem once with ``debootstrap --variant=minbase --include=python3,python3-pip``
from Debian's archive into a cache OUTSIDE the checkout: ``$UVROOT_IMAGES_CACHE``, else
``$XDG_CACHE_HOME/uvroot-images`` (``~/.cache/uvroot-images``).  ``NAME`` is ``debian-12-amd64``,
``debian-13-amd64`` or ``debian-12-arm64``, or ``python-3.13-slim-arm64``: the official
``python:3.13-slim`` rebuilt (Debian 13 + CPython compiled from source into ``/usr/local``, see
:class:`PythonImage`).  ``--install-tools`` first installs debootstrap (and qemu-user-static +
binfmt-support for arm64, the cross gcc, make and pkgconf for a python image) with apt-get and
registers qemu-aarch64 with binfmt_misc.  A finished rootfs is ``CACHE/NAME/`` plus ``CACHE/NAME.json`` (how it was built,
how long it took, its size); a half-built one is never used.

Tests never change the cached rootfs: :class:`ImageRun` lays the staged trees over it with
overlayfs (``COPY --from=build DIR /`` as layers), keeps every write in its own upper directory
(so a test can see which files the image wrote: a recompiled ``.pyc``, a ``pip uninstall``'s
whiteouts) and runs each command with ``chroot`` in a private mount namespace, as root or
as a non-root user.  The arm64 rootfs runs through ``qemu-aarch64`` registered with binfmt_misc
(flag F: the interpreter is opened when registered, so it needs no copy inside the rootfs).
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import os
import shlex
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.support.overlay import overlayfs_supported

__all__ = [
    "ALL_IMAGES",
    "IMAGES",
    "MIRROR",
    "PYTHON_IMAGES",
    "DebianImage",
    "ImageRun",
    "PythonImage",
    "any_rootfs_built",
    "build_rootfs",
    "images_cache",
    "unavailable_reason",
]

MIRROR = os.environ.get("UVROOT_DEBIAN_MIRROR", "http://deb.debian.org/debian")
BINFMT = Path("/proc/sys/fs/binfmt_misc")


@dataclass(frozen=True)
class DebianImage:
    """One Debian release on one architecture, with the facts a stage for it needs."""

    name: str  # the cache directory's name, e.g. debian-12-amd64
    suite: str  # debootstrap's suite
    arch: str  # Debian's architecture name
    machine: str  # uname -m inside
    python: str  # the python3 of the release (X.Y)
    glibc: str  # its libc6 version (X.Y)
    platform: str  # uvroot --python-platform for it

    @property
    def foreign(self) -> bool:
        """True when this machine cannot run the image's binaries natively."""
        return self.machine != os.uname().machine

    @property
    def path(self) -> Path:
        return images_cache() / self.name

    @property
    def stamp(self) -> Path:
        return images_cache() / f"{self.name}.json"

    @property
    def built(self) -> bool:
        return self.stamp.is_file() and self.path.is_dir()


# glibc: libc6 2.36-9+deb12u* in bookworm, 2.41-12 in trixie (packages.debian.org); python3: 3.11.2 and 3.13.5.
# uvroot's manylinux tags stop at _2_40: a _2_40 wheel runs on trixie's glibc 2.41.
IMAGES: dict[str, DebianImage] = {
    image.name: image
    for image in (
        DebianImage("debian-12-amd64", "bookworm", "amd64", "x86_64", "3.11", "2.36", "x86_64-manylinux_2_36"),
        DebianImage("debian-13-amd64", "trixie", "amd64", "x86_64", "3.13", "2.41", "x86_64-manylinux_2_40"),
        DebianImage("debian-12-arm64", "bookworm", "arm64", "aarch64", "3.11", "2.36", "aarch64-manylinux_2_36"),
    )
}


@dataclass(frozen=True)
class PythonImage(DebianImage):
    """An official ``python:X.Y-slim`` image rebuilt as docker-library builds it, without Docker Hub or python.org.

    Debian ``suite`` (debootstrap minbase + ca-certificates, netbase, tzdata) with CPython built from
    source into ``/usr/local``: the source is the upstream release tarball as Debian's archive
    carries it (``source``, pinned by ``sha256``), cross-compiled on this machine against the
    rootfs itself (``--sysroot``, with the official build's ``-dev`` packages installed for the
    build and purged after it) with the official configure flags, ``--enable-shared`` and the
    ``$ORIGIN/../lib`` rpath, by a same-version build Python compiled natively first;
    ``python -m ensurepip`` (what ``make install`` runs) then runs inside the image, under qemu,
    and the official cleanups and ``python``/``pip``/... links follow.
    Not reproduced: PGO (``--enable-optimizations`` profiles by running the test suite) and LTO,
    which change speed, not files or layout, and tkinter (tk-dev pulls in X11).
    """

    tag: str = ""  # the image it stands for, e.g. python:3.13-slim
    version: str = ""  # the CPython release built, X.Y.Z
    source: str = ""  # the tarball's path under the Debian mirror
    sha256: str = ""


def images_cache() -> Path:
    """Where root filesystems are cached: ``$UVROOT_IMAGES_CACHE`` or ``$XDG_CACHE_HOME/uvroot-images``."""
    if explicit := os.environ.get("UVROOT_IMAGES_CACHE"):
        return Path(explicit)
    xdg = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(xdg) / "uvroot-images"


# python:3.13-slim is Debian 13 (trixie) + CPython 3.13 in /usr/local.  Debian has no 3.12 for trixie and
# python.org is not needed: trixie's python3.13 source package carries the upstream tarball, 3.13.5
# (Sources.xz of trixie/main: python3.13_3.13.5.orig.tar.xz, this SHA-256).
PYTHON_IMAGES: dict[str, PythonImage] = {
    image.name: image
    for image in (
        PythonImage("python-3.13-slim-arm64", "trixie", "arm64", "aarch64", "3.13", "2.41", "aarch64-manylinux_2_40",
                    tag="python:3.13-slim", version="3.13.5",
                    source="pool/main/p/python3.13/python3.13_3.13.5.orig.tar.xz",
                    sha256="93e583f243454e6e9e4588ca2c2662206ad961659863277afcdb96801647d640"),
    )
}  # fmt: skip
ALL_IMAGES: dict[str, DebianImage] = {**IMAGES, **PYTHON_IMAGES}


def any_rootfs_built() -> bool:
    return any(image.built for image in ALL_IMAGES.values())


def _binfmt_reason(image: DebianImage) -> str | None:
    """None if the kernel runs the image's binaries (natively or through a registered qemu), else why not."""
    if not image.foreign:
        return None
    entry = BINFMT / f"qemu-{image.machine}"
    if not entry.is_file():
        return (
            f"{image.name} needs qemu-{image.machine} registered with binfmt_misc ({entry} is missing): "
            f"apt-get install qemu-user-static binfmt-support, then update-binfmts --enable qemu-{image.machine}"
        )
    text = entry.read_text()
    if not text.startswith("enabled"):
        return f"{entry} is disabled: update-binfmts --enable qemu-{image.machine}"
    flags = next((line.split(":", 1)[1].strip() for line in text.splitlines() if line.startswith("flags:")), "")
    if "F" not in flags:
        return f"{entry} lacks flag F (the interpreter would have to be inside the rootfs): install qemu-user-static"
    return None


def unavailable_reason(image: DebianImage) -> str | None:
    """None if ``image`` can be run here, else a skip reason that says how to get it."""
    if not sys.platform.startswith("linux"):
        return f"real images need Linux (this is {sys.platform})"
    if os.geteuid() != 0:
        return "real images need root (chroot and mounts in a private namespace)"
    for tool in ("chroot", "unshare", "mount"):
        if shutil.which(tool) is None:
            return f"`{tool}` is not installed"
    if not image.built:
        return f"{image.name} rootfs is not built in {images_cache()}: run `make test-images`"
    if reason := _binfmt_reason(image):
        return reason
    return overlayfs_supported()


# --------------------------------------------------------------------------- building


def _tree_size(top: Path) -> int:
    total = 0
    for dirpath, _dirs, files in os.walk(top):
        for name in files:
            with contextlib.suppress(OSError):
                total += os.lstat(os.path.join(dirpath, name)).st_size  # noqa: PTH118 - walk gives strs
    return total


def _mounts_under(top: Path) -> list[str]:
    """Mount points at or below ``top`` (debootstrap mounts /proc, /sys and may bind /dev nodes there)."""
    prefix = os.path.realpath(top)
    found = []
    with open("/proc/self/mounts") as mounts:  # noqa: PTH123
        for line in mounts:
            point = line.split()[1].replace("\\040", " ")
            if point == prefix or point.startswith(prefix + "/"):
                found.append(point)
    return found


def _remove_half_built(tmp: Path) -> None:
    """Delete a failed build, never through a mount left behind in it (a bound /dev node is the host's)."""
    for point in sorted(_mounts_under(tmp), reverse=True):
        subprocess.run(["umount", "-l", point], check=False)
    if left := _mounts_under(tmp):
        print(f"not deleting {tmp}: still mounted there: {', '.join(left)}", file=sys.stderr)
        return
    shutil.rmtree(tmp, ignore_errors=True)


def install_tools(images: Sequence[DebianImage]) -> None:
    """apt-get install what building and running ``images`` needs, and register qemu for foreign ones."""
    packages = ["debootstrap"] if shutil.which("debootstrap") is None else []
    foreign = [image for image in images if image.foreign]
    if foreign and shutil.which(f"qemu-{foreign[0].machine}-static") is None:
        packages += ["qemu-user-static", "binfmt-support"]
    for image in images:  # CPython is cross-compiled for a python:X.Y image (even for this machine's arch)
        if isinstance(image, PythonImage):
            tools = {f"{image.machine}-linux-gnu-gcc": f"gcc-{image.machine}-linux-gnu".replace("_", "-"),
                     "make": "make", "pkg-config": "pkgconf", "xz": "xz-utils"}  # fmt: skip
            packages += [package for tool, package in tools.items() if shutil.which(tool) is None]
    packages = list(dict.fromkeys(packages))
    if packages:
        if shutil.which("apt-get") is None:
            raise SystemExit(f"need {' '.join(packages)} and there is no apt-get: install them")
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        subprocess.run(["apt-get", "update", "-q"], check=True, env=env)
        subprocess.run(["apt-get", "install", "-y", "-q", "--no-install-recommends", *packages], check=True, env=env)
    if foreign and not BINFMT.joinpath("status").exists():
        subprocess.run(["mount", "-t", "binfmt_misc", "binfmt_misc", str(BINFMT)], check=False)
    for image in foreign:
        if _binfmt_reason(image) and shutil.which("update-binfmts"):
            subprocess.run(["update-binfmts", "--enable", f"qemu-{image.machine}"], check=False)


# Debian's python3 for the Debian images; for a python:X.Y-slim image the official build's runtime packages
# and the -dev packages its Dockerfile installs for the build (purged after it, as there).
DEBIAN_INCLUDE = ("python3", "python3-pip")
PYTHON_RUNTIME = ("ca-certificates", "netbase", "tzdata")
PYTHON_BUILD_DEPS = (
    "libbluetooth-dev", "libbz2-dev", "libc6-dev", "libdb-dev", "libffi-dev", "libgdbm-dev", "liblzma-dev",
    "libncurses-dev", "libreadline-dev", "libsqlite3-dev", "libssl-dev", "uuid-dev", "zlib1g-dev",
)  # fmt: skip
# dpkg-buildflags' hardening for the target (trixie), as the official build passes them, plus its frame pointers.
_TARGET_CFLAGS = {
    "aarch64": "-mbranch-protection=standard -fno-omit-frame-pointer -mno-omit-leaf-frame-pointer",
    "x86_64": "-fcf-protection -fno-omit-frame-pointer -mno-omit-leaf-frame-pointer",
}
_CFLAGS = "-O2 -fstack-protector-strong -fstack-clash-protection -Wformat -Werror=format-security"
_LDFLAGS = "-Wl,-z,relro -Wl,--strip-all"

# What the official Dockerfile does after `make install` (whose ensurepip step cannot run on this machine
# for a foreign target: it runs here, in the image, by the image's own python).
_FINISH_PYTHON = r"""
set -eux
python3 -m ensurepip --upgrade
find /usr/local -depth \
    \( \( -type d -a \( -name test -o -name tests -o -name idle_test \) \) \
       -o \( -type f -a \( -name '*.pyc' -o -name '*.pyo' -o -name 'libpython*.a' \) \) \) -exec rm -rf '{}' +
ldconfig
apt-mark auto '.*' > /dev/null
apt-mark manual $(dpkg-query -W -f '${Package} ${Priority}\n' | awk '$2 == "required" { print $1 }') apt $RUNTIME
find /usr/local -type f -executable -not \( -name '*tkinter*' \) -exec ldd '{}' ';' \
    | awk '/=>/ { so = $(NF-1); if (index(so, "/usr/local/") == 1) { next }; gsub("^/(usr/)?", "", so); printf "*%s\n", so }' \
    | sort -u | xargs -r dpkg-query --search | awk 'sub(":$", "", $1) { print $1 }' | sort -u | xargs -r apt-mark manual
apt-get purge -y --auto-remove -o APT::AutoRemove::RecommendsImportant=false
apt-get dist-clean
export PYTHONDONTWRITEBYTECODE=1
python3 --version
pip3 --version
for src in idle3 pip3 pydoc3 python3 python3-config; do
    dst="$(echo "$src" | tr -d 3)"
    [ -s "/usr/local/bin/$src" ]
    [ ! -e "/usr/local/bin/$dst" ]
    ln -svT "$src" "/usr/local/bin/$dst"
done
"""


def _in_rootfs(root: Path, script: str, env: Mapping[str, str]) -> None:
    """Run ``script`` with /bin/sh inside ``root`` (its /proc and /dev mounted in a private namespace only)."""
    setup = 'set -e; mount -t proc proc "$1/proc"; mount --bind /dev "$1/dev"; exec chroot "$@"'
    variables = [f"{k}={v}" for k, v in {"PATH": _PATH, "HOME": "/root", "LANG": "C.UTF-8", **env}.items()]
    command = ["unshare", "--mount", "--propagation", "private", "--", "/bin/sh", "-c", setup, "sh", str(root),
               "/usr/bin/env", "-i", *variables, "/bin/sh", "-c", script]  # fmt: skip
    subprocess.run(command, check=True)


def _step(steps: dict[str, float], name: str, argv: Sequence[str | Path], **kw: Any) -> None:
    """Run one build step, echoed, and record its duration in ``steps``."""
    print(f"+ {shlex.join(str(a) for a in argv)}", flush=True)
    started = time.monotonic()
    subprocess.run([str(a) for a in argv], check=True, **kw)
    steps[name] = round(steps.get(name, 0) + time.monotonic() - started, 1)


def _build_cpython(image: PythonImage, root: Path, src: Path, mirror: str, steps: dict[str, float]) -> str:
    """Cross-compile CPython into ``root``/usr/local as the official image builds it; return the configure line.

    Cross-compiling needs a CPython of the same version on this machine (``--with-build-python``;
    another 3.13.x runs the new stdlib wrongly): it is built first from the same source, natively,
    out of tree (``src/host``; a tool only: nothing of it goes into the image).  The target is
    built out of tree too (``src/target``).
    """
    triplet = f"{image.machine}-linux-gnu"
    if shutil.which(f"{triplet}-gcc") is None:
        raise SystemExit(f"{triplet}-gcc is not installed: apt-get install gcc-{triplet} (or --install-tools)")
    started = time.monotonic()
    url = f"{mirror.rstrip('/')}/{image.source}"
    print(f"downloading {url}", flush=True)
    tarball = src.with_name(src.name + ".tar.xz")
    with urllib.request.urlopen(url, timeout=120) as response, tarball.open("wb") as out:
        shutil.copyfileobj(response, out)
    if (digest := hashlib.sha256(tarball.read_bytes()).hexdigest()) != image.sha256:
        raise RuntimeError(f"{url}: sha256 {digest}, expected {image.sha256}")
    src.mkdir()
    subprocess.run(["tar", "-xJf", str(tarball), "-C", str(src), "--strip-components=1"], check=True)
    tarball.unlink()
    steps["download"] = round(time.monotonic() - started, 1)
    jobs = f"-j{os.cpu_count() or 1}"

    host = src / "host"
    host.mkdir()
    _step(steps, "build python", ["../configure", "--disable-test-modules", "--with-ensurepip=no"], cwd=host)
    _step(steps, "build python", ["make", jobs], cwd=host)

    # The rootfs is the sysroot: its headers and libraries (and .pc files) are the ones the image runs with.
    env = {
        **os.environ,
        "CC": f"{triplet}-gcc --sysroot={root}",
        "PKG_CONFIG_LIBDIR": f"{root}/usr/lib/{triplet}/pkgconfig:{root}/usr/share/pkgconfig",
        "PKG_CONFIG_SYSROOT_DIR": str(root),
        "PKG_CONFIG_PATH": "",
    }
    configure = [
        "../configure",
        f"--build={os.uname().machine}-linux-gnu",
        f"--host={triplet}",
        "--prefix=/usr/local",
        "--enable-loadable-sqlite-extensions",
        "--enable-option-checking=fatal",
        "--enable-shared",
        "--with-ensurepip=no",
        f"--with-build-python={host / 'python'}",
        # What configure cannot run a test program to find out when cross-compiling (as a native trixie build finds).
        "ac_cv_file__dev_ptmx=yes",
        "ac_cv_file__dev_ptc=no",
        "ac_cv_buggy_getaddrinfo=no",
    ]
    target = src / "target"
    target.mkdir()
    _step(steps, "configure", configure, cwd=target, env=env)
    cflags = f"EXTRA_CFLAGS={_CFLAGS} {_TARGET_CFLAGS.get(image.machine, '')}".rstrip()
    _step(steps, "make", ["make", jobs, cflags, f"LDFLAGS={_LDFLAGS}"], cwd=target, env=env)
    # As the official build: relink python with an rpath to its own libpython (never a system one).
    (target / "python").unlink()
    _step(steps, "make", ["make", jobs, cflags, f"LDFLAGS={_LDFLAGS} -Wl,-rpath='$$ORIGIN/../lib'", "python"],
          cwd=target, env=env)  # fmt: skip
    _step(steps, "install", ["make", "install", f"DESTDIR={root}"], cwd=target, env=env)
    print("+ in the image: ensurepip, the official cleanups, purge of the -dev packages, links", flush=True)
    started = time.monotonic()
    _in_rootfs(root, _FINISH_PYTHON, {"RUNTIME": " ".join(PYTHON_RUNTIME), "DEBIAN_FRONTEND": "noninteractive"})
    steps["finish in the image"] = round(time.monotonic() - started, 1)
    return shlex.join(configure)


def build_rootfs(image: DebianImage, mirror: str = MIRROR) -> dict[str, object]:
    """debootstrap ``image`` into the cache (atomically: a temporary directory, then a rename); return its stamp.

    A :class:`PythonImage` also gets its CPython, built from source (:func:`_build_cpython`).
    """
    if image.built:
        return dict(json.loads(image.stamp.read_text()))
    if reason := _binfmt_reason(image):
        raise SystemExit(reason)
    if shutil.which("debootstrap") is None:
        raise SystemExit("debootstrap is not installed: apt-get install debootstrap (or --install-tools)")
    cache = images_cache()
    cache.mkdir(parents=True, exist_ok=True)
    tmp = cache / f"{image.name}.tmp-{os.getpid()}"
    src = cache / f"{image.name}.src-{os.getpid()}"
    python_image = image if isinstance(image, PythonImage) else None
    include = [*PYTHON_RUNTIME, *PYTHON_BUILD_DEPS] if python_image else DEBIAN_INCLUDE
    argv = [
        "debootstrap",
        "--variant=minbase",
        f"--include={','.join(include)}",
        f"--arch={image.arch}",
        image.suite,
        str(tmp),
        mirror,
    ]
    print(f"building {image.name}: {shlex.join(argv)}", flush=True)
    started = time.monotonic()
    steps: dict[str, float] = {}
    configure = None
    try:
        _step(steps, "debootstrap", argv)
        if left := _mounts_under(tmp):
            raise RuntimeError(f"debootstrap left mounts in {tmp}: {', '.join(left)}")
        # The downloaded .debs are not part of the image (Docker's debian images do not keep them either).
        for deb in (tmp / "var/cache/apt/archives").glob("*.deb"):
            deb.unlink()
        if python_image:
            configure = _build_cpython(python_image, tmp, src, mirror, steps)
        if image.path.exists():  # a rootfs without its stamp: its build or check did not finish
            _remove_half_built(image.path)
        tmp.rename(image.path)
    except BaseException:
        _remove_half_built(tmp)
        raise
    finally:
        shutil.rmtree(src, ignore_errors=True)
        src.with_name(src.name + ".tar.xz").unlink(missing_ok=True)
    seconds = round(time.monotonic() - started, 1)
    python = subprocess.run(
        [
            "chroot",
            str(image.path),
            "/usr/local/bin/python3" if python_image else "/usr/bin/python3",
            "-c",
            "import platform,sys; print(sys.version.split()[0], platform.libc_ver()[1])",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    stamp: dict[str, object] = {
        "image": image.name,
        "debootstrap": shlex.join([*argv[:-2], image.path.name, mirror]),
        "seconds": seconds,
        "bytes": _tree_size(image.path),
        "python": python[0],
        "glibc": python[1],
        "built": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    if python_image:
        stamp.update(tag=python_image.tag, source=f"{mirror.rstrip('/')}/{python_image.source}",
                     configure=configure, steps=steps)  # fmt: skip
    image.stamp.write_text(json.dumps(stamp, indent=2, sort_keys=True) + "\n")
    return stamp


# --------------------------------------------------------------------------- running


_SETUP = """
set -e
mount -t overlay uvroot-image -o "lowerdir=$1,upperdir=$2,workdir=$3" "$4"
mount -t proc proc "$4/proc"
mount --bind /dev "$4/dev"
shift 4
exec chroot "$@"
"""

_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


class ImageRun:
    """A container-like view of ``image``: the cached rootfs with ``layers`` copied over it (first on top).

    Nothing is mounted between commands; each :meth:`run` mounts the overlay in a private mount
    namespace, so there is nothing to clean up but ``work``.  Writes persist in :attr:`upper`.
    """

    def __init__(self, image: DebianImage, work: Path, layers: Sequence[Path] = ()) -> None:
        self.image = image
        self.layers = [Path(layer) for layer in layers]
        self.upper = work / "upper"
        self._work = work / "work"
        self._merged = work / "merged"
        for path in (self.upper, self._work, self._merged):
            path.mkdir(parents=True, exist_ok=True)
        for path in [*self.layers, image.path, self.upper, self._work]:
            if ":" in str(path) or "," in str(path):
                raise ValueError(f"overlayfs cannot take {path} (':' or ',' in the path)")

    def run(
        self,
        argv: Sequence[str],
        *,
        user: int | None = None,
        env: Mapping[str, str] | None = None,
        check: bool = False,
        timeout: float = 300,
    ) -> subprocess.CompletedProcess[str]:
        """Run ``argv`` inside the image (PATH, HOME and LANG as Docker sets them; ``user`` as ``--user UID``)."""
        lower = ":".join(str(p) for p in [*self.layers, self.image.path])
        chroot_opts = [f"--userspec={user}:{user}", f"--groups={user}"] if user is not None else []
        variables = {"PATH": _PATH, "HOME": "/root" if user is None else f"/home/u{user}", "LANG": "C.UTF-8"}
        variables.update(env or {})
        inner = ["/usr/bin/env", "-i", *(f"{k}={v}" for k, v in variables.items()), *argv]
        command = [
            shutil.which("unshare") or "unshare",
            "--mount",
            "--propagation",
            "private",
            "--",
            "/bin/sh",
            "-c",
            _SETUP,
            "sh",
            lower,
            str(self.upper),
            str(self._work),
            str(self._merged),
            *chroot_opts,
            str(self._merged),
            *inner,
        ]
        proc = subprocess.run(command, capture_output=True, text=True, timeout=timeout, check=False)
        if check and proc.returncode != 0:
            raise AssertionError(
                f"in {self.image.name}: {shlex.join(argv)} exited {proc.returncode}\n"
                f"stdout:\n{proc.stdout}\nstderr:\n{proc.stderr}"
            )
        return proc

    def written(self, suffix: str = "") -> list[str]:
        """Image paths of the regular files the image's commands wrote (in the overlay's upper directory)."""
        found = []
        for path in sorted(self.upper.rglob(f"*{suffix}")):
            if path.is_file() and not path.is_symlink():
                found.append("/" + path.relative_to(self.upper).as_posix())
        return found


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.support.rootfs", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    build = sub.add_parser("build", help="debootstrap the images that are not cached yet")
    build.add_argument("names", nargs="*", help=f"default: all of {', '.join(ALL_IMAGES)}")
    build.add_argument("--install-tools", action="store_true", help="apt-get install debootstrap (qemu for arm64)")
    build.add_argument("--mirror", default=MIRROR)
    status = sub.add_parser("status", help="list the images, built or not, with their stamps")
    status.add_argument("names", nargs="*", help="only these; exit 1 if one of them is not built")
    args = parser.parse_args(argv)
    if args.command == "status":
        missing = 0
        for image in [ALL_IMAGES[name] for name in args.names if name in ALL_IMAGES] or ALL_IMAGES.values():
            stamp = json.loads(image.stamp.read_text()) if image.built else None
            print(f"{image.name}: {json.dumps(stamp, sort_keys=True) if stamp else 'not built'}")
            missing += stamp is None
        return 1 if args.names and (missing or set(args.names) - set(ALL_IMAGES)) else 0
    unknown = [name for name in args.names if name not in ALL_IMAGES]
    if unknown:
        parser.error(f"unknown image {', '.join(unknown)} (known: {', '.join(ALL_IMAGES)})")
    images = [ALL_IMAGES[name] for name in args.names or ALL_IMAGES]
    if os.geteuid() != 0:
        raise SystemExit("building a rootfs needs root (debootstrap, chroot)")
    # `timeout` (CI) sends SIGTERM: unwind, so a half-built rootfs is removed (and its mounts undone).
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
    if args.install_tools:
        install_tools([image for image in images if not image.built])
    for image in images:
        stamp = build_rootfs(image, args.mirror)
        print(f"{image.name}: {json.dumps(stamp, sort_keys=True)}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
