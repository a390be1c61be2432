"""Real Debian root filesystems (debootstrap) to run staged trees in, with no Docker daemon.

``python -m tests.support.rootfs build [NAME ...]`` (what ``make test-images`` runs) builds each
image's root filesystem once with ``debootstrap --variant=minbase --include=python3,python3-pip``
from Debian's archive into a cache OUTSIDE the checkout: ``$UVROOT_IMAGES_CACHE``, else
``$XDG_CACHE_HOME/uvroot-images`` (``~/.cache/uvroot-images``).  ``NAME`` is ``debian-12-amd64``,
``debian-13-amd64`` or ``debian-12-arm64``; ``--install-tools`` first installs debootstrap (and
qemu-user-static + binfmt-support for arm64) with apt-get and registers qemu-aarch64 with
binfmt_misc.  A finished rootfs is ``CACHE/NAME/`` plus ``CACHE/NAME.json`` (how it was built,
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
import json
import os
import shlex
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from tests.support.overlay import overlayfs_supported

__all__ = [
    "IMAGES",
    "MIRROR",
    "DebianImage",
    "ImageRun",
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


def images_cache() -> Path:
    """Where root filesystems are cached: ``$UVROOT_IMAGES_CACHE`` or ``$XDG_CACHE_HOME/uvroot-images``."""
    if explicit := os.environ.get("UVROOT_IMAGES_CACHE"):
        return Path(explicit)
    xdg = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(xdg) / "uvroot-images"


def any_rootfs_built() -> bool:
    return any(image.built for image in IMAGES.values())


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


def build_rootfs(image: DebianImage, mirror: str = MIRROR) -> dict[str, object]:
    """debootstrap ``image`` into the cache (atomically: a temporary directory, then a rename); return its stamp."""
    if image.built:
        return dict(json.loads(image.stamp.read_text()))
    if reason := _binfmt_reason(image):
        raise SystemExit(reason)
    if shutil.which("debootstrap") is None:
        raise SystemExit("debootstrap is not installed: apt-get install debootstrap (or --install-tools)")
    cache = images_cache()
    cache.mkdir(parents=True, exist_ok=True)
    tmp = cache / f"{image.name}.tmp-{os.getpid()}"
    argv = [
        "debootstrap",
        "--variant=minbase",
        "--include=python3,python3-pip",
        f"--arch={image.arch}",
        image.suite,
        str(tmp),
        mirror,
    ]
    print(f"building {image.name}: {shlex.join(argv)}", flush=True)
    started = time.monotonic()
    try:
        subprocess.run(argv, check=True)
        if left := _mounts_under(tmp):
            raise RuntimeError(f"debootstrap left mounts in {tmp}: {', '.join(left)}")
        # The downloaded .debs are not part of the image (Docker's debian images do not keep them either).
        for deb in (tmp / "var/cache/apt/archives").glob("*.deb"):
            deb.unlink()
        if image.path.exists():  # a rootfs without its stamp: its build or check did not finish
            _remove_half_built(image.path)
        tmp.rename(image.path)
    except BaseException:
        _remove_half_built(tmp)
        raise
    seconds = round(time.monotonic() - started, 1)
    python = subprocess.run(
        [
            "chroot",
            str(image.path),
            "python3",
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
    build.add_argument("names", nargs="*", help=f"default: all of {', '.join(IMAGES)}")
    build.add_argument("--install-tools", action="store_true", help="apt-get install debootstrap (qemu for arm64)")
    build.add_argument("--mirror", default=MIRROR)
    sub.add_parser("status", help="list the images, built or not, with their stamps")
    args = parser.parse_args(argv)
    if args.command == "status":
        for image in IMAGES.values():
            stamp = json.loads(image.stamp.read_text()) if image.built else None
            print(f"{image.name}: {json.dumps(stamp, sort_keys=True) if stamp else 'not built'}")
        return 0
    unknown = [name for name in args.names if name not in IMAGES]
    if unknown:
        parser.error(f"unknown image {', '.join(unknown)} (known: {', '.join(IMAGES)})")
    images = [IMAGES[name] for name in args.names or IMAGES]
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
