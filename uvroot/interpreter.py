"""What a real interpreter says about itself: version, bytecode tag and install scheme.

``--python PATH`` takes its layout from here, exactly as ``pip install --root``
would with that interpreter, and ``--compile-bytecode`` needs an interpreter of
the target's version.  One short subprocess per interpreter; nothing is imported
into uvroot's own process.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from .errors import UsageError

# Runs on the inspected interpreter (3.8+): sysconfig's default scheme is the
# one pip installs into; distro patches (Debian's posix_local) show up here.
_PROBE = """\
import json, os, sys, sysconfig
get = getattr(sysconfig, "get_default_scheme", None)
scheme = get() if get else ("posix_prefix" if os.name == "posix" else "nt")
paths = sysconfig.get_paths(scheme)
print(json.dumps({
    "executable": sys.executable,
    "version": list(sys.version_info[:3]),
    "implementation": sys.implementation.name,
    "cache_tag": sys.implementation.cache_tag,
    "scheme": scheme,
    "paths": {key: paths[key] for key in ("purelib", "platlib", "scripts", "include", "data")},
    "venv": sys.prefix if sys.prefix != sys.base_prefix else None,
}))
"""
_TIMEOUT = 30


@dataclass(frozen=True, slots=True)
class Interpreter:
    """A Python interpreter on this machine, as it describes itself."""

    executable: str
    version: tuple[int, int, int]
    implementation: str
    cache_tag: str | None
    """``cpython-312``: the tag in ``__pycache__/x.cpython-312.pyc``; None where bytecode is off."""
    scheme: str
    paths: dict[str, str]
    """purelib, platlib, scripts, include and data of the default install scheme."""
    venv: str | None = None
    """``sys.prefix`` when the interpreter runs a virtual environment."""

    @property
    def short_version(self) -> str:
        """``X.Y``."""
        return f"{self.version[0]}.{self.version[1]}"


def inspect_interpreter(path: str, flag: str = "--python") -> Interpreter:
    """Run ``path`` (a file or a name on PATH) and read its version and scheme."""
    found = path if os.sep in path else shutil.which(path)
    if found is None or not Path(found).is_file():
        raise UsageError(f"{flag} {path}: no such interpreter", hint="give the path of a Python executable")
    try:
        done = subprocess.run(
            [found, "-I", "-c", _PROBE], capture_output=True, text=True, timeout=_TIMEOUT, check=False
        )
        info = json.loads(done.stdout) if done.returncode == 0 else None
    except (OSError, subprocess.TimeoutExpired, ValueError):
        info = None
    if not isinstance(info, dict):
        raise UsageError(
            f"{flag} {path} did not run as a Python 3.8+ interpreter",
            hint="give the path of a working python executable (not a pyenv shim of an inactive version)",
        )
    major, minor, micro = info["version"]
    return Interpreter(
        executable=info["executable"] or found,
        version=(major, minor, micro),
        implementation=info["implementation"],
        cache_tag=info["cache_tag"],
        scheme=info["scheme"],
        paths=info["paths"],
        venv=info.get("venv"),
    )
