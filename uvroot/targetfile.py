"""A target described by its own interpreter: ``uvroot target --script`` and ``--target-file FILE``.

:data:`SCRIPT` is a standard-library-only program (Python 3.8+).  Run by the
final image's interpreter (``docker run --rm IMAGE python3 -c "$(uvroot target
--script)" > image.json``; nothing of uvroot is needed there) it prints one JSON
document: the version and implementation, the complete marker environment, what
wheel tags are computed from (machine, pointer size, libc kind and version,
SOABI, extension suffixes, abiflags, free-threading), the default install
scheme's paths and the interpreter's path.  ``--target-file`` stages for exactly
that interpreter and its layout, as ``--python PATH`` does for one that runs here
(pex's ``--complete-platform`` is the same idea).
"""

from __future__ import annotations

import json
import re
import subprocess
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from .errors import TargetError, UsageError
from .interpreter import Interpreter
from .target import Target, arch_of

SCHEMA = {"name": "uvroot-target", "version": 1}

SCRIPT = """\
# uvroot target description: run by the final image's python (standard library only, 3.8+).
import importlib.machinery, json, os, platform, struct, subprocess, sys, sysconfig


def elf_interpreter(path):
    # PT_INTERP of the interpreter's executable: /lib/ld-musl-<arch>.so.1 on musl.
    try:
        with open(os.path.realpath(path), "rb") as elf:
            ident = elf.read(16)
            if ident[:4] != b"\\x7fELF":
                return None
            wide, order = ident[4] == 2, "<" if ident[5] == 1 else ">"
            elf.seek(32 if wide else 28)
            (table,) = struct.unpack(order + ("Q" if wide else "I"), elf.read(8 if wide else 4))
            elf.seek(54 if wide else 42)
            size, count = struct.unpack(order + "HH", elf.read(4))
            for number in range(count):
                elf.seek(table + number * size)
                entry = elf.read(size)
                if struct.unpack(order + "I", entry[:4])[0] != 3:
                    continue
                if wide:
                    offset, length = struct.unpack(order + "Q", entry[8:16])[0], struct.unpack(order + "Q", entry[32:40])[0]
                else:
                    offset, length = struct.unpack(order + "I", entry[4:8])[0], struct.unpack(order + "I", entry[16:20])[0]
                elf.seek(offset)
                return elf.read(length).rstrip(b"\\0").decode()
    except (OSError, struct.error, UnicodeDecodeError):
        return None
    return None


def libc():
    try:
        glibc = os.confstr("CS_GNU_LIBC_VERSION")
    except (AttributeError, OSError, ValueError):
        glibc = None
    if glibc and glibc.startswith("glibc "):
        return {"kind": "glibc", "version": glibc.split()[1]}
    loader = elf_interpreter(sys.executable)
    if loader and "musl" in loader:
        try:
            said = subprocess.run([loader], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE).stderr
        except OSError:
            said = b""
        for line in said.decode("utf-8", "replace").splitlines():
            if line.strip().startswith("Version "):
                return {"kind": "musl", "version": line.split()[1]}
        return {"kind": "musl", "version": None}
    return {"kind": None, "version": None}


def version(info):
    text = "%d.%d.%d" % (info.major, info.minor, info.micro)
    return text if info.releaselevel == "final" else text + info.releaselevel[0] + str(info.serial)


get_scheme = getattr(sysconfig, "get_default_scheme", None)
scheme = get_scheme() if get_scheme else ("posix_prefix" if os.name == "posix" else "nt")
print(json.dumps({
    "schema": {"name": "uvroot-target", "version": 1},
    "executable": sys.executable,
    "version": list(sys.version_info[:3]),
    "implementation": sys.implementation.name,
    "cache_tag": sys.implementation.cache_tag,
    "markers": {
        "implementation_name": sys.implementation.name,
        "implementation_version": version(sys.implementation.version),
        "os_name": os.name,
        "platform_machine": platform.machine(),
        "platform_python_implementation": platform.python_implementation(),
        "platform_release": platform.release(),
        "platform_system": platform.system(),
        "platform_version": platform.version(),
        "python_full_version": platform.python_version(),
        "python_version": ".".join(platform.python_version_tuple()[:2]),
        "sys_platform": sys.platform,
    },
    "machine": platform.machine(),
    "pointer_bits": struct.calcsize("P") * 8,
    "libc": libc(),
    "mac_version": platform.mac_ver()[0] or None,
    "soabi": sysconfig.get_config_var("SOABI"),
    "extension_suffixes": importlib.machinery.EXTENSION_SUFFIXES,
    "abiflags": getattr(sys, "abiflags", ""),
    "free_threading": bool(sysconfig.get_config_var("Py_GIL_DISABLED")),
    "scheme": scheme,
    "paths": sysconfig.get_paths(scheme),
    "venv": sys.prefix if sys.prefix != sys.base_prefix else None,
}, indent=2, sort_keys=True))
"""
_TIMEOUT = 30
_HOW = (
    'make one with: docker run --rm IMAGE python3 -c "$(uvroot target --script)" > image.json '
    "(or uvroot target --python PATH > image.json for an interpreter on this machine)"
)


@dataclass(frozen=True, slots=True)
class TargetFile:
    """An interpreter's own description: the target it makes and its install scheme."""

    target: Target
    interpreter: Interpreter
    """Its executable, version and default install scheme (what ``--python PATH`` reads)."""


def describe(path: str) -> str:
    """Run :data:`SCRIPT` on the interpreter at ``path`` (``uvroot target --python``); its JSON text."""
    try:
        done = subprocess.run([path, "-I", "-c", SCRIPT], capture_output=True, text=True, timeout=_TIMEOUT, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise UsageError(
            f"--python {path} did not run: {exc}", hint="give the path of a Python 3.8+ executable"
        ) from None
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["no output"])[-1]
        raise UsageError(
            f"--python {path} could not describe itself ({last})",
            hint="give the path of a working Python 3.8+ executable",
        )
    return done.stdout


def _no_constant(name: str) -> None:
    raise ValueError(f"{name} is not a value the script prints")


def read_target_file(path: Path) -> TargetFile:
    """Parse ``--target-file FILE`` (as the script printed it)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"), parse_constant=_no_constant)
    except OSError as exc:
        raise TargetError(f"--target-file {path}: {exc.strerror}", hint=_HOW) from None
    except ValueError as exc:
        raise TargetError(f"--target-file {path} is not JSON ({exc})", hint=_HOW) from None
    if not isinstance(data, dict) or data.get("schema") != SCHEMA:
        raise TargetError(f"--target-file {path} is not a uvroot target description (schema {SCHEMA})", hint=_HOW)
    try:
        return _parse(data, path)
    except (KeyError, TypeError, ValueError, OverflowError) as exc:
        raise TargetError(f"--target-file {path} lacks or garbles {exc}", hint=_HOW) from None


_MARKERS = (
    "implementation_name",
    "implementation_version",
    "os_name",
    "platform_machine",
    "platform_python_implementation",
    "platform_release",
    "platform_system",
    "platform_version",
    "python_full_version",
    "python_version",
    "sys_platform",
)
_CONTROL = re.compile(r"[\x00-\x1f\x7f\\]")


def _a_path(value: object, field: str) -> str:
    """An absolute path, as the script prints them: a shebang or a scheme directory can carry nothing else."""
    if not isinstance(value, str) or not value.startswith("/") or _CONTROL.search(value):
        raise ValueError(f"{field} (an absolute path without control characters or backslashes)")
    return value


def _of(value: object, kind: type, field: str) -> Any:
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise ValueError(f"{field} (a {kind.__name__})")
    return value


def _parse(data: dict[str, Any], path: Path) -> TargetFile:
    implementation = str(data["implementation"])
    version = _of(data["version"], list, "version")
    if len(version) != 3:
        raise ValueError("version (three numbers)")
    major, minor, micro = (_of(part, int, "version") for part in version)
    markers = _of(data["markers"], dict, "markers")
    if missing := [key for key in _MARKERS if not isinstance(markers.get(key), str)]:
        # packaging would fill a missing marker from THIS machine: a silently wrong selection
        raise ValueError(f"markers {', '.join(missing)}")
    if not re.fullmatch(r"[a-z0-9_]+", str(data["machine"]).lower()):
        raise ValueError("machine")
    _of(data["free_threading"], bool, "free_threading")
    _of(data["pointer_bits"], int, "pointer_bits")
    if implementation != "cpython":
        raise TargetError(
            f"--target-file {path} describes {implementation} {major}.{minor}: uvroot stages for CPython only",
            hint="describe a CPython interpreter of the image",
        )
    paths = _of(data["paths"], dict, "paths")
    interpreter = Interpreter(
        executable=_a_path(data["executable"], "executable"),
        version=(major, minor, micro),
        implementation=implementation,
        cache_tag=None if data["cache_tag"] is None else _of(data["cache_tag"], str, "cache_tag"),
        scheme=_of(data["scheme"], str, "scheme"),
        paths={
            key: _a_path(paths[key], f"paths.{key}") for key in ("purelib", "platlib", "scripts", "include", "data")
        },
        venv=None if data["venv"] is None else _a_path(data["venv"], "venv"),
    )
    target = replace(
        _platform(data, path, (major, minor, micro)),
        abiflags="t" if data["free_threading"] else "",
        markers=tuple(sorted((str(key), str(value)) for key, value in markers.items())),
    )
    return TargetFile(target, interpreter)


def _platform(data: dict[str, Any], path: Path, python: tuple[int, int, int]) -> Target:
    """The target's OS, architecture and libc (or macOS version) from what the interpreter said."""
    sys_platform = data["markers"]["sys_platform"]
    arch = arch_of(str(data["machine"]))
    if data["pointer_bits"] == 32:  # a 32-bit userland on a 64-bit kernel (packaging's rule)
        arch = {"x86_64": "i686", "aarch64": "armv7l"}.get(arch, arch)
    if sys_platform == "darwin":
        found = re.match(r"(\d+)\.(\d+)", str(data["mac_version"] or ""))
        if found is None:
            raise ValueError("mac_version")
        major = int(found[1])
        return Target(python, "macos", arch, "", (major, 0) if major >= 11 else (major, int(found[2])))
    if sys_platform != "linux":
        raise TargetError(
            f"--target-file {path} describes a {sys_platform} interpreter: uvroot stages files for Linux and macOS",
            hint="use --target DIR with --python-platform for other systems",
        )
    libc = data["libc"]
    kind, version = libc["kind"], libc["version"]
    found = re.match(r"(\d+)\.(\d+)", str(version or ""))
    if kind not in ("glibc", "musl") or found is None:
        raise TargetError(
            f"--target-file {path}: its interpreter's C library is not glibc or musl with a known version "
            f"(found {kind or 'none'} {version or 'without a version'})",
            hint="wheel tags need glibc or musl and its version; stage with --python-platform instead",
        )
    return Target(
        python, "linux", arch, "manylinux" if kind == "glibc" else "musllinux", (int(found[1]), int(found[2]))
    )


def check_flags(
    described: TargetFile,
    *,
    python_version: str | None,
    platform: str | None,
    others: list[str],
    platform_source: str = "--platform",
) -> None:
    """``--target-file`` decides the target: other target flags may only agree with it."""
    if others:
        raise UsageError(
            f"--target-file cannot be combined with {', '.join(others)}: the file describes the interpreter",
            hint="drop those flags, or describe another interpreter",
        )
    target = described.target
    full = ".".join(map(str, target.python))
    if python_version is not None and not f"{full}.".startswith(f"{python_version.strip()}."):
        raise UsageError(
            f"--python-version {python_version} contradicts --target-file, which describes Python {full}",
            hint="drop --python-version",
        )
    if platform is not None:
        from .images import DOCKER_PLATFORMS, docker_platform

        if DOCKER_PLATFORMS[docker_platform(platform)] != target.arch:
            raise UsageError(
                f"{platform_source} {platform} contradicts --target-file, which describes a {target.arch} interpreter",
                hint=f"drop {platform_source}, or describe the image of that platform (one target file per platform)",
            )
