"""Drive the real ``uv`` binary against a :class:`~tests.support.index.LocalIndex`.

Two jobs:

* make ``uv.lock`` files the way users do (``write_project`` + ``uv_lock``);
* the ORACLE (``uv_oracle_target``): install the same lock for a target
  platform with uv itself, so tests can compare uvroot's result against it.

Every uv call runs in an isolated environment: no user/system config, no
``UV_*``/``PIP_*`` variables from the caller, no Python downloads, a caller
chosen cache, and only the local index, so results do not depend on the
machine and nothing reaches the network.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

__all__ = [
    "UvError",
    "run_uv",
    "uv_bin",
    "uv_env",
    "uv_lock",
    "uv_oracle_target",
    "write_project",
]

GroupEntry = str | Mapping[str, str]  # a requirement or {"include-group": name}


class UvError(RuntimeError):
    """A uv command failed; the message carries the command and uv's stderr."""


def uv_bin() -> str:
    """Path of the uv executable: the PyPI ``uv`` package first, then PATH."""
    try:
        from uv import find_uv_bin  # the wheel that ships the binary
    except ImportError:
        pass
    else:
        try:
            return find_uv_bin()
        except FileNotFoundError:
            pass
    found = shutil.which("uv")
    if found is None:
        raise UvError("uv not found: pip install uv")
    return found


def uv_env(cache_dir: Path) -> dict[str, str]:
    """The caller's environment minus anything that steers uv or pip."""
    env = {
        k: v
        for k, v in os.environ.items()
        # PIP_* too: this machine sets e.g. PIP_FIND_LINKS; whatever uv does
        # or may one day do with such variables must not change results.
        if not k.startswith(("UV_", "PIP_")) and k != "VIRTUAL_ENV"
    }
    env.update(
        UV_CACHE_DIR=str(cache_dir),
        UV_PYTHON_DOWNLOADS="never",
        UV_NO_PROGRESS="1",
        # A proxy from the environment must not intercept the local index.
        NO_PROXY=_no_proxy(env.get("NO_PROXY") or env.get("no_proxy")),
    )
    env["no_proxy"] = env["NO_PROXY"]
    return env


def _no_proxy(current: str | None) -> str:
    hosts = [h for h in (current or "").split(",") if h]
    for host in ("127.0.0.1", "localhost"):
        if host not in hosts:
            hosts.append(host)
    return ",".join(hosts)


def run_uv(args: Sequence[str], *, cwd: Path, cache_dir: Path) -> subprocess.CompletedProcess[str]:
    """Run ``uv <args>`` isolated; raise :class:`UvError` with stderr on failure."""
    cmd = [uv_bin(), *args]
    proc = subprocess.run(
        cmd,
        check=False,  # raise our own error, carrying uv's stderr
        cwd=cwd,
        env=uv_env(cache_dir),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=300,
    )
    if proc.returncode != 0:
        raise UvError(f"{' '.join(cmd)} (in {cwd}) exited {proc.returncode}:\n{proc.stderr}")
    return proc


def _toml_str(value: str) -> str:
    # A JSON string is a valid TOML basic string for the text we write.
    return json.dumps(value)


def _toml_array(items: Sequence[GroupEntry]) -> str:
    rendered = []
    for item in items:
        if isinstance(item, str):
            rendered.append(_toml_str(item))
        else:  # e.g. {"include-group": "dev"} -> { include-group = "dev" }
            pairs = ", ".join(f"{k} = {_toml_str(v)}" for k, v in item.items())
            rendered.append(f"{{ {pairs} }}")
    return "[" + ", ".join(rendered) + "]"


def write_project(
    dir: Path,
    *,
    name: str = "app",
    version: str = "0.1.0",
    requires_python: str = ">=3.8",
    dependencies: Sequence[str] = (),
    optional: Mapping[str, Sequence[str]] = {},
    groups: Mapping[str, Sequence[GroupEntry]] = {},
    dev_dependencies: Sequence[str] = (),
    tool_uv: str = "",
    package: bool = False,
) -> Path:
    """Write ``dir/pyproject.toml`` and return its path.

    ``package=False`` adds ``[tool.uv] package = false`` so uv treats the
    project as virtual (locked as ``source = { virtual = "." }``) and never
    needs a build backend.  ``package=True`` declares the ``uv_build``
    backend; locking reads static metadata and does not build.  ``tool_uv``
    is raw TOML appended inside ``[tool.uv]``.
    """
    lines = [
        "[project]",
        f"name = {_toml_str(name)}",
        f"version = {_toml_str(version)}",
        f"requires-python = {_toml_str(requires_python)}",
        f"dependencies = {_toml_array(dependencies)}",
    ]
    if optional:
        lines += ["", "[project.optional-dependencies]"]
        lines += [f"{k} = {_toml_array(v)}" for k, v in optional.items()]
    if groups:
        lines += ["", "[dependency-groups]"]
        lines += [f"{k} = {_toml_array(v)}" for k, v in groups.items()]
    if package:
        lines += [
            "",
            "[build-system]",
            'requires = ["uv_build>=0.8,<1"]',
            'build-backend = "uv_build"',
        ]
    tool = [] if package else ["package = false"]
    if dev_dependencies:
        tool.append(f"dev-dependencies = {_toml_array(dev_dependencies)}")
    if tool_uv.strip():
        tool.append(tool_uv.strip())
    if tool:
        lines += ["", "[tool.uv]", *tool]
    dir.mkdir(parents=True, exist_ok=True)
    path = dir / "pyproject.toml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def uv_lock(project_dir: Path, index_url: str, *, cache_dir: Path) -> Path:
    """Run the real ``uv lock`` against only ``index_url``; return ``uv.lock``."""
    run_uv(
        [
            "lock",
            "--no-config",
            "--default-index",
            index_url,
            # The running interpreter: uv must not look for (or fetch) another.
            "--python",
            sys.executable,
        ],
        cwd=project_dir,
        cache_dir=cache_dir,
    )
    return project_dir / "uv.lock"


def uv_oracle_target(
    lock_dir: Path,
    out: Path,
    *,
    python_platform: str,
    python_version: str,
    index_url: str,
    cache_dir: Path,
    extra_args: Sequence[str] = (),
) -> Path:
    """Install ``lock_dir/uv.lock`` into ``--target out`` with uv itself.

    ``uv export`` turns the lock into a hashed requirements file (markers kept,
    ``extra_args`` such as ``--no-dev``/``--extra x`` select what is in it);
    ``uv pip install --no-deps`` then evaluates the markers and picks wheels
    for the target platform and Python.  The exported requirements are kept
    beside ``out`` (``<out>.requirements.txt``) for debugging.  Returns ``out``.
    """
    out.parent.mkdir(parents=True, exist_ok=True)
    # Not inside lock_dir: a test may compare or re-lock that directory.
    req = out.with_name(out.name + ".requirements.txt")
    run_uv(
        [
            "export",
            "--no-config",
            "--frozen",  # use uv.lock as is; never re-resolve
            "--no-emit-project",
            "--format",
            "requirements.txt",
            "--output-file",
            str(req),
            *extra_args,
        ],
        cwd=lock_dir,
        cache_dir=cache_dir,
    )
    run_uv(
        [
            "pip",
            "install",
            "--no-config",
            "--no-deps",  # the export already lists the full closure
            "--target",
            str(out),
            "--python",
            sys.executable,
            "--python-platform",
            python_platform,
            "--python-version",
            python_version,
            "--index-url",
            index_url,
            "-r",
            str(req),
        ],
        cwd=lock_dir,
        cache_dir=cache_dir,
    )
    # uv leaves its own lock file (``.lock``) in a --target directory; it is
    # not part of the installation, so drop it to keep tree comparisons fair.
    (out / ".lock").unlink(missing_ok=True)
    return out
