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
from typing import Any, Literal

from tests.support.wheels import dist_name

__all__ = [
    "UvError",
    "run_uv",
    "toml_key",
    "toml_value",
    "uv_bin",
    "uv_env",
    "uv_lock",
    "uv_oracle_target",
    "write_module",
    "write_project",
]

# The build-system table of every test source tree: the ``tinybuild`` backend
# from the standard wheelhouse (see tests/support/tinybuild_backend.py).
TINYBUILD_BUILD_SYSTEM = '[build-system]\nrequires = ["tinybuild"]\nbuild-backend = "tinybuild"\n'

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


def run_uv(
    args: Sequence[str], *, cwd: Path, cache_dir: Path, env: Mapping[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run ``uv <args>`` isolated; raise :class:`UvError` with stderr on failure.

    ``env`` adds variables on top of :func:`uv_env` (e.g. ``UV_PROJECT_ENVIRONMENT``).
    """
    cmd = [uv_bin(), *args]
    proc = subprocess.run(
        cmd,
        check=False,  # raise our own error, carrying uv's stderr
        cwd=cwd,
        env={**uv_env(cache_dir), **(env or {})},
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


def toml_value(value: Any) -> str:
    """Render str/bool/int/list/dict as TOML (dicts as inline tables)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return json.dumps(value)  # a JSON string is a valid TOML basic string here
    if isinstance(value, Mapping):
        return "{ " + ", ".join(f"{toml_key(k)} = {toml_value(v)}" for k, v in value.items()) + " }"
    if isinstance(value, Sequence):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    raise TypeError(f"cannot render {value!r} as TOML")


def toml_key(key: str) -> str:
    """A TOML key, quoted unless bare."""
    return key if key.replace("-", "").replace("_", "").isalnum() else json.dumps(key)


def _toml_array(items: Sequence[GroupEntry]) -> str:
    rendered = []
    for item in items:
        if isinstance(item, str):
            rendered.append(_toml_str(item))
        else:  # e.g. {"include-group": "dev"} -> { include-group = "dev" }
            pairs = ", ".join(f"{k} = {_toml_str(v)}" for k, v in item.items())
            rendered.append(f"{{ {pairs} }}")
    return "[" + ", ".join(rendered) + "]"


def module_text(name: str, version: str) -> str:
    """The default ``__init__.py`` of a test source tree: it reports ``"<name> <version>"``."""
    return f'VALUE = "{name} {version}"\n\n\ndef main():\n    print(VALUE)\n'


def write_module(dir: Path, name: str, version: str, text: str | None = None) -> Path:
    """Write ``dir/src/<import>/__init__.py`` (default :func:`module_text`); return its path."""
    path = dir / "src" / dist_name(name) / "__init__.py"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(module_text(name, version) if text is None else text, encoding="utf-8")
    return path


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
    backend: Literal["uv_build", "tinybuild"] = "uv_build",
    scripts: Mapping[str, str] | None = None,
    sources: Mapping[str, Mapping[str, Any]] | None = None,
) -> Path:
    """Write ``dir/pyproject.toml`` and return its path.

    ``package=False`` adds ``[tool.uv] package = false`` so uv treats the
    project as virtual (locked as ``source = { virtual = "." }``) and never
    needs a build backend.  ``package=True`` declares the ``uv_build``
    backend; locking reads static metadata and does not build.  With
    ``backend="tinybuild"`` (implies ``package=True``) the project declares
    the offline ``tinybuild`` backend instead and gets a real module
    (:func:`write_module`), so uv and uvroot can BUILD it against the local
    index with any frontend.  (uv itself builds ``uv_build`` projects with
    its built-in copy of that backend, without the index; ``pip wheel`` or
    ``python -m build`` cannot.)  ``scripts`` fills ``[project.scripts]``;
    ``sources`` fills ``[tool.uv.sources]``, e.g. ``{"x": {"path":
    "../libs/x", "editable": False}}``.  ``tool_uv`` is raw TOML appended
    inside ``[tool.uv]`` (so it must not also set ``sources``).
    """
    package = package or backend == "tinybuild"
    lines = [
        "[project]",
        f"name = {_toml_str(name)}",
        f"version = {_toml_str(version)}",
        f"requires-python = {_toml_str(requires_python)}",
        f"dependencies = {_toml_array(dependencies)}",
    ]
    if scripts:
        lines += ["", "[project.scripts]"]
        lines += [f"{k} = {_toml_str(v)}" for k, v in scripts.items()]
    if optional:
        lines += ["", "[project.optional-dependencies]"]
        lines += [f"{k} = {_toml_array(v)}" for k, v in optional.items()]
    if groups:
        lines += ["", "[dependency-groups]"]
        lines += [f"{k} = {_toml_array(v)}" for k, v in groups.items()]
    if backend == "tinybuild":
        lines += ["", TINYBUILD_BUILD_SYSTEM.rstrip("\n")]
        write_module(dir, name, version)
    elif package:
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
    if sources:
        lines += ["", "[tool.uv.sources]"]
        lines += [f"{toml_key(k)} = {toml_value(v)}" for k, v in sources.items()]
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
