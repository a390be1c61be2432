"""Where the staged tree will run: a Python version plus a platform, as data.

A :class:`Target` yields the ordered list of wheel tags it accepts (best first)
and a *complete* marker environment.  Nothing here looks at the build machine
except :func:`host_platform`, which only supplies the default triple.
"""

from __future__ import annotations

import platform
import re
import sys
from dataclasses import dataclass
from functools import cached_property
from typing import Literal

from packaging.tags import Tag, compatible_tags, cpython_tags, mac_platforms

from .errors import TargetError

OS = Literal["linux", "macos", "windows"]

# uv's aliases (`uv pip install --python-platform`), mapped to full triples.
_ALIASES = {
    "linux": "x86_64-unknown-linux-gnu",
    "windows": "x86_64-pc-windows-msvc",
    "macos": "aarch64-apple-darwin",
    "riscv64-unknown-linux": "riscv64-manylinux_2_39",  # uv: riscv64 wheels start at glibc 2.39
}
# Values uv accepts for platforms whose Python has no system layout to stage into.
_UNSTAGEABLE = {
    "aarch64-linux-android": "Android",
    "x86_64-linux-android": "Android",
    "wasm32-pyodide2024": "Pyodide (WebAssembly)",
    "wasm32-pyodide2025": "Pyodide (WebAssembly)",
    "arm64-apple-ios": "iOS",
    "arm64-apple-ios-simulator": "the iOS simulator",
    "x86_64-apple-ios-simulator": "the iOS simulator",
}
# uv 0.8+ maps `*-unknown-linux-gnu` to manylinux_2_28, and musl to musllinux_1_2.
_GNU_DEFAULT = (2, 28)
_MUSL_DEFAULT = (1, 2)
_MACOS_DEFAULT = (13, 0)
_LEGACY_MANYLINUX = {17: "manylinux2014", 12: "manylinux2010", 5: "manylinux1"}
# The oldest glibc a manylinux wheel can target, per architecture (PEP 600/599).
_OLDEST_GLIBC_MINOR = {"x86_64": 5, "i686": 5}
_ARCHES = ("x86_64", "aarch64", "i686", "armv7l", "ppc64le", "s390x", "riscv64")
_TRIPLE = re.compile(
    r"^(?P<arch>[a-z0-9_]+)-(?:"
    r"(?P<gnu>unknown-linux-gnu)|(?P<musl>unknown-linux-musl)"
    r"|manylinux_(?P<glibc_major>\d+)_(?P<glibc_minor>\d+)|manylinux(?P<legacy>2014|2010|1)"
    r"|musllinux_(?P<musl_major>\d+)_(?P<musl_minor>\d+)"
    r"|(?P<darwin>apple-darwin)|(?P<windows>pc-windows-msvc))$"
)
_LEGACY_GLIBC = {"2014": 17, "2010": 12, "1": 5}


@dataclass(frozen=True)
class Target:  # not slotted: the tag list is cached per instance
    """A target interpreter: CPython ``python`` on ``platform`` (a uv-style triple)."""

    python: tuple[int, int, int]
    os: OS
    arch: str
    libc: Literal["manylinux", "musllinux", ""] = "manylinux"
    os_version: tuple[int, int] = _GNU_DEFAULT
    """glibc or musl version on Linux, the deployment target on macOS."""
    abiflags: str = ""
    """``sys.abiflags`` of the target interpreter: ``t`` for a free-threaded build (ABI ``cp313t``)."""
    markers: tuple[tuple[str, str], ...] = ()
    """The interpreter's own marker environment (from a target file); empty: computed from the fields."""

    @classmethod
    def parse(cls, python_version: str | None, python_platform: str | None) -> Target:
        """Build a target from ``--python-version`` and ``--python-platform`` values."""
        python = _parse_python(python_version)
        if python_platform in _UNSTAGEABLE:
            raise TargetError(
                f"--python-platform {python_platform} is a uv platform, but {_UNSTAGEABLE[python_platform]} apps "
                "bundle their Python and packages themselves: there is no system or venv layout to stage into",
                hint="use the platform's own packaging tool (e.g. pyodide build, briefcase) with the uv.lock",
            )
        # pragma below: no alias is named "" (or any other placeholder), so every mutant of the first default is equivalent
        triple = _ALIASES.get(python_platform or "", python_platform or host_platform())  # pragma: no mutate
        match = _TRIPLE.match(triple)
        if match is None or match["arch"] not in (*_ARCHES, "arm64"):
            msg = f"--python-platform {python_platform!r} is not a platform uvroot knows"
            raise TargetError(msg, hint=_PLATFORM_HINT)
        return _from_match(python, match)

    @property
    def python_version(self) -> str:
        """``X.Y``, as in ``lib/pythonX.Y``."""
        return f"{self.python[0]}.{self.python[1]}"

    @property
    def platform_name(self) -> str:
        """A canonical triple, e.g. ``aarch64-musllinux_1_2`` or ``x86_64-manylinux_2_28``."""
        if self.os == "linux":
            return f"{self.arch}-{self.libc}_{self.os_version[0]}_{self.os_version[1]}"
        if self.os == "macos":
            return f"{self.arch}-macosx_{self.os_version[0]}_{self.os_version[1]}"
        return f"{self.arch}-pc-windows-msvc"

    def __str__(self) -> str:
        return f"cp{self.python[0]}{self.python[1]}{self.abiflags}-{self.platform_name}"

    def platforms(self) -> list[str]:
        """Platform tags the target accepts, best first (computed, never probed)."""
        if self.os == "windows":
            return [_WINDOWS_TAGS[self.arch]]
        if self.os == "macos":
            arch = "arm64" if self.arch == "aarch64" else self.arch
            return list(mac_platforms(self.os_version, arch))
        major, newest = self.os_version
        if self.libc == "musllinux":
            found = [f"musllinux_{major}_{minor}_{self.arch}" for minor in range(newest, -1, -1)]
        else:
            found = []
            for minor in range(newest, _OLDEST_GLIBC_MINOR.get(self.arch, 17) - 1, -1):
                found.append(f"manylinux_{major}_{minor}_{self.arch}")
                if major == 2 and minor in _LEGACY_MANYLINUX:
                    found.append(f"{_LEGACY_MANYLINUX[minor]}_{self.arch}")
        return [*found, f"linux_{self.arch}"]

    @cached_property
    def tags(self) -> tuple[Tag, ...]:
        """Every wheel tag the target accepts, best first, as packaging orders them."""
        short = self.python[:2]
        interpreter = f"cp{short[0]}{short[1]}"
        plats = self.platforms()
        ordered = [
            *cpython_tags(short, abis=[interpreter + self.abiflags], platforms=plats),
            *compatible_tags(short, interpreter=interpreter, platforms=plats),
        ]
        return tuple(dict.fromkeys(ordered))

    @cached_property
    def rank(self) -> dict[Tag, int]:
        """Tag -> priority (0 is best)."""
        return {tag: position for position, tag in enumerate(self.tags)}

    def environment(self) -> dict[str, str]:
        """The complete PEP 508 marker environment of the target.

        Every key is set on purpose: ``Marker.evaluate()`` fills any missing key
        from the *host*, which would be wrong for a foreign target.  A target
        described by its own interpreter (``--target-file``) keeps that one's.
        """
        if self.markers:
            return dict(self.markers)
        full = ".".join(map(str, self.python))
        os_name, system, sys_platform = {
            "linux": ("posix", "Linux", "linux"),
            "macos": ("posix", "Darwin", "darwin"),
            "windows": ("nt", "Windows", "win32"),
        }[self.os]
        return {
            "implementation_name": "cpython",
            "implementation_version": full,
            "os_name": os_name,
            "platform_machine": self._platform_machine(),
            "platform_python_implementation": "CPython",
            "platform_release": "",
            "platform_system": system,
            "platform_version": "",
            "python_full_version": full,
            "python_version": self.python_version,
            "sys_platform": sys_platform,
        }

    def _platform_machine(self) -> str:
        # uv's values (what platform.machine() says there): macOS arm64; Windows AMD64, x86, ARM64; others the arch.
        if self.os == "macos" and self.arch == "aarch64":
            return "arm64"
        if self.os == "windows":
            # pragma below: a Windows target has one of these three arches (platforms() knows no other); the
            # mapping itself is checked against uv (tests/test_target.py)
            return {"x86_64": "AMD64", "i686": "x86", "aarch64": "ARM64"}.get(self.arch, self.arch)  # pragma: no mutate
        return self.arch


_PLATFORM_HINT = (
    "use a uv --python-platform value such as linux, macos, windows, x86_64-unknown-linux-gnu, "
    "aarch64-unknown-linux-musl, x86_64-manylinux_2_28 or aarch64-apple-darwin"
)


def _parse_python(value: str | None) -> tuple[int, int, int]:
    if value is None:
        return (sys.version_info.major, sys.version_info.minor, 0)
    match = re.fullmatch(r"(?:cp|python)?(\d+)\.(\d+)(?:\.(\d+))?", value.strip())
    if match is None or int(match[1]) != 3 or int(match[2]) < 8:
        msg = f"--python-version {value!r} is not a CPython version uvroot can stage for"
        raise TargetError(msg, hint="give X.Y or X.Y.Z, CPython 3.8 or newer, e.g. 3.12")
    return (int(match[1]), int(match[2]), int(match[3] or 0))


_WINDOWS_TAGS = {"x86_64": "win_amd64", "i686": "win32", "aarch64": "win_arm64"}
_WINDOWS_ARCHES = tuple(_WINDOWS_TAGS)
_MACOS_ARCHES = ("x86_64", "aarch64")
# What platform.machine() says, as the architecture names of uv's triples (Windows AMD64, macOS arm64, ...).
_MACHINE_ALIASES = {
    "amd64": "x86_64",
    "arm64": "aarch64",
    "armv8l": "armv7l",
    "x86": "i686",
    "i386": "i686",
    "i586": "i686",
}


def arch_of(machine: str) -> str:
    """The architecture uvroot's targets name for a ``platform.machine()`` value."""
    machine = machine.lower()
    return _MACHINE_ALIASES.get(machine, machine)


def _from_match(python: tuple[int, int, int], match: re.Match[str]) -> Target:
    arch = "aarch64" if match["arch"] == "arm64" else match["arch"]
    supported = _WINDOWS_ARCHES if match["windows"] else _MACOS_ARCHES if match["darwin"] else None
    if supported is not None and arch not in supported:
        system, suffix = ("Windows", "pc-windows-msvc") if match["windows"] else ("macOS", "apple-darwin")
        raise TargetError(
            f"--python-platform {match.group(0)}: {system} wheels exist for {', '.join(supported)}, not {arch}",
            hint=f"use one of {', '.join(f'{known}-{suffix}' for known in supported)}",
        )
    if match["darwin"]:
        # pragma below: libc is read on Linux only; the macOS version and arch are checked by the tag tests
        return Target(python, "macos", arch, "", _MACOS_DEFAULT)  # pragma: no mutate
    if match["windows"]:
        # pragma below: no code reads libc or os_version of a Windows target (one platform tag, no version)
        return Target(python, "windows", arch, "", (0, 0))  # pragma: no mutate
    if match["musl"]:
        return Target(python, "linux", arch, "musllinux", _MUSL_DEFAULT)
    if match["musl_major"]:
        return Target(python, "linux", arch, "musllinux", (int(match["musl_major"]), int(match["musl_minor"])))
    if match["glibc_major"]:
        return Target(python, "linux", arch, "manylinux", (int(match["glibc_major"]), int(match["glibc_minor"])))
    if match["legacy"]:
        return Target(python, "linux", arch, "manylinux", (2, _LEGACY_GLIBC[match["legacy"]]))
    # pragma below: _GNU_DEFAULT is also the field's default (a mutant dropping it is equivalent); the other
    # arguments are what every Linux tag test checks
    return Target(python, "linux", arch, "manylinux", _GNU_DEFAULT)  # pragma: no mutate


def host_platform() -> str:
    """The build machine as a triple: the default when --python-platform is absent."""
    arch = arch_of(platform.machine())
    if sys.platform == "darwin":
        return f"{arch}-apple-darwin"
    if sys.platform == "win32":
        return f"{arch}-pc-windows-msvc"
    libc, version = platform.libc_ver()
    if libc == "glibc" and (found := re.match(r"(\d+)\.(\d+)", version)):
        return f"{arch}-manylinux_{found[1]}_{found[2]}"
    return f"{arch}-unknown-linux-musl"
