"""Source trees uv (and uvroot) must BUILD: packages, workspaces, git repos, path deps.

Every tree declares the offline ``tinybuild`` backend (shipped in the
standard wheelhouse, source in ``tinybuild_backend.py``)::

    [build-system]
    requires = ["tinybuild"]
    build-backend = "tinybuild"

so ``uv sync``/``uv build``/``pip wheel`` fetch it from the local index and
nothing reaches the network.  (``uv lock`` does not even need it: uv reads
static metadata from pyproject.toml, or from an sdist's PKG-INFO 2.2.)  Each package's ``src/<import>/__init__.py``
holds ``VALUE = "<name> <version>"`` and ``main()`` printing it, so a test
can read back exactly which build landed.

The ORACLE for builds is :func:`uv_oracle_sync`: ``uv sync --frozen
--no-editable`` into a throwaway venv, reporting every installed
distribution as ``name==version``.

How uv 0.13 records each kind in ``uv.lock`` (see the module tests)::

    project / workspace root   source = { editable = "." }
    workspace member           source = { editable = "libs/core" }
    path dep (directory)       source = { directory = "../libs/x" }
    path dep, editable = true  source = { editable = "../libs/x" }
    git dep                    source = { git = "file:///...?rev=<rev>#<sha>" }
    git dep in a subdirectory  source = { git = "file:///...?subdirectory=sub&rev=<rev>#<sha>" }
    sdist-only registry dep    source = { registry = "http://127.0.0.1:<port>/simple" }
                               sdist = { url = ".../files/sdistonly-1.0.tar.gz", hash = "sha256:..." }
                               (no ``wheels``; no ``size`` either: the HTML index gives none)
    ``d @ file:///abs/libs/d``  source = { directory = "/abs/libs/d" }  (absolute, as written)

Local and git packages carry no ``sdist``/``wheels`` lines; directory and
workspace packages with dependencies also get a ``[package.metadata] requires-dist``
table (git packages do not).
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping, Sequence
from email.parser import HeaderParser
from pathlib import Path
from typing import Any, NamedTuple

from packaging.utils import canonicalize_name

from tests.support.uvproject import TINYBUILD_BUILD_SYSTEM, run_uv, toml_key, toml_value, write_module

__all__ = [
    "GIT_DATE",
    "STANDARD_WORKSPACE",
    "GitRepo",
    "file_url",
    "git_requirement",
    "installed_distributions",
    "make_git_repo",
    "uv_oracle_sync",
    "write_package",
    "write_workspace",
]

# Fixed author/committer date: the same tree always gives the same commit sha.
GIT_DATE = "2000-01-01T00:00:00+00:00"


def write_package(
    dir: Path,
    *,
    name: str,
    version: str = "1.0",
    dependencies: Sequence[str] = (),
    scripts: Mapping[str, str] | None = None,
    module_text: str | None = None,
    native: bool = False,
    extra_pyproject: str = "",
    requires_python: str = ">=3.8",
    optional: Mapping[str, Sequence[str]] | None = None,
    uv_sources: Mapping[str, Mapping[str, Any]] | None = None,
) -> Path:
    """Write a tinybuild source tree into ``dir``; return ``dir``.

    ``dir/pyproject.toml`` gets ``[project]`` (``scripts`` -> ``[project.scripts]``,
    ``optional`` -> ``[project.optional-dependencies]``), the tinybuild
    ``[build-system]``, ``[tool.tinybuild] native = true`` when ``native``,
    ``[tool.uv.sources]`` from ``uv_sources`` (``{"core": {"workspace": True}}``)
    and then ``extra_pyproject`` verbatim (raw TOML; it must not repeat a
    table written above).  ``dir/src/<import>/__init__.py`` holds
    ``module_text`` or the default (``VALUE = "<name> <version>"``, ``main()``).
    """
    lines = [
        "[project]",
        f"name = {toml_value(name)}",
        f"version = {toml_value(version)}",
        f"requires-python = {toml_value(requires_python)}",
        f"dependencies = {toml_value(list(dependencies))}",
    ]
    if optional:
        lines += ["", "[project.optional-dependencies]"]
        lines += [f"{toml_key(k)} = {toml_value(list(v))}" for k, v in optional.items()]
    if scripts:
        lines += ["", "[project.scripts]"]
        lines += [f"{toml_key(k)} = {toml_value(v)}" for k, v in scripts.items()]
    lines += ["", TINYBUILD_BUILD_SYSTEM.rstrip("\n")]
    if native:
        lines += ["", "[tool.tinybuild]", "native = true"]
    if uv_sources:
        lines += ["", "[tool.uv.sources]"]
        lines += [f"{toml_key(k)} = {toml_value(v)}" for k, v in uv_sources.items()]
    if extra_pyproject.strip():
        lines += ["", extra_pyproject.strip()]
    dir.mkdir(parents=True, exist_ok=True)
    (dir / "pyproject.toml").write_text("\n".join(lines) + "\n", encoding="utf-8")
    write_module(dir, name, version, module_text)
    return dir


# A root package depending on ``app``, which depends on ``core``; ``app``
# also pulls ``alpha`` (-> ``beta``) from the index and has a console script.
STANDARD_WORKSPACE: dict[str, Any] = {
    "root": {"name": "wsroot", "version": "0.1.0", "dependencies": ["app"]},
    "members": {
        "libs/core": {"name": "core", "version": "1.0"},
        "libs/app": {
            "name": "app",
            "version": "2.0",
            "dependencies": ["core", "alpha"],
            "scripts": {"app": "app:main"},
        },
    },
}


def write_workspace(
    dir: Path,
    members: Mapping[str, Mapping[str, Any]] | None = None,
    root: Mapping[str, Any] | None = None,
) -> Path:
    """Write a uv workspace into ``dir``; return ``dir``.  Defaults: :data:`STANDARD_WORKSPACE`.

    ``members`` maps a relative directory to :func:`write_package` keyword
    arguments; ``root`` holds the root package's.  The root lists every
    member in ``[tool.uv.workspace] members`` and maps every member name to
    ``{ workspace = true }`` in its ``[tool.uv.sources]``; uv applies the
    root's sources to members too, so a member may simply depend on
    ``"core"``.  The root is a package itself (locked as ``editable = "."``).
    """
    if members is None:
        members = STANDARD_WORKSPACE["members"]
        root = STANDARD_WORKSPACE["root"] if root is None else root
    root = dict(root or {"name": "wsroot"})
    for rel, kwargs in members.items():
        write_package(dir / rel, **kwargs)
    sources = {kw["name"]: {"workspace": True} for kw in members.values()}
    sources.update(root.pop("uv_sources", None) or {})
    workspace = f"[tool.uv.workspace]\nmembers = {toml_value(list(members))}"
    extra = root.pop("extra_pyproject", "")
    return write_package(dir, **root, uv_sources=sources, extra_pyproject=f"{workspace}\n\n{extra}")


def file_url(path: Path) -> str:
    """``file:///abs/path`` for ``path`` (resolved)."""
    return Path(path).resolve().as_uri()


class GitRepo(NamedTuple):
    """What :func:`make_git_repo` made: unpacks as ``url, commit``."""

    url: str  # git+file:///abs/path (no rev, no subdirectory)
    commit: str  # full sha of the single commit


def _git(*args: str, cwd: Path) -> str:
    env = {
        **os.environ,
        # Neither the user's nor the system's config (hooks, signing,
        # templates...) may change what gets committed; nothing is written there.
        "GIT_CONFIG_GLOBAL": os.devnull,
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_AUTHOR_DATE": GIT_DATE,
        "GIT_COMMITTER_DATE": GIT_DATE,
    }
    flags = ["-c", "user.name=uvroot tests", "-c", "user.email=tests@uvroot.invalid"]
    flags += ["-c", "init.defaultBranch=main", "-c", "commit.gpgsign=false"]
    proc = subprocess.run(
        ["git", *flags, *args], cwd=cwd, env=env, check=True, capture_output=True, text=True, timeout=60
    )
    return proc.stdout.strip()


def make_git_repo(dir: Path, package_kwargs: Mapping[str, Any], *, subdirectory: str | None = None) -> GitRepo:
    """A git repository at ``dir`` with one commit holding a :func:`write_package` tree.

    The tree goes to ``dir/subdirectory`` when given (refer to it with
    ``#subdirectory=...``, see :func:`git_requirement`).  Uses the system
    ``git``; author, committer and dates are fixed, so the same tree gives
    the same commit sha.  Returns ``(url, commit)`` with url ``git+file:///...``.
    """
    dir.mkdir(parents=True, exist_ok=True)
    write_package(dir / subdirectory if subdirectory else dir, **package_kwargs)
    _git("init", "--quiet", cwd=dir)
    _git("add", "--all", cwd=dir)
    _git("commit", "--quiet", "--message", f"{package_kwargs['name']} {package_kwargs.get('version', '1.0')}", cwd=dir)
    return GitRepo(url="git+" + file_url(dir), commit=_git("rev-parse", "HEAD", cwd=dir))


def git_requirement(name: str, url: str, rev: str | None = None, *, subdirectory: str | None = None) -> str:
    """``name @ git+file:///...[@rev][#subdirectory=sub]`` (PEP 508 direct reference)."""
    ref = f"{url}@{rev}" if rev else url
    if subdirectory:
        ref += f"#subdirectory={subdirectory}"
    return f"{name} @ {ref}"


def installed_distributions(venv_dir: Path) -> list[str]:
    """``name==version`` (canonical name) of every dist-info in a venv's site-packages, sorted."""
    found = []
    for site in [*venv_dir.glob("lib/python*/site-packages"), venv_dir / "Lib" / "site-packages"]:
        for meta in site.glob("*.dist-info/METADATA"):
            headers = HeaderParser().parsestr(meta.read_text(encoding="utf-8"), headersonly=True)
            found.append(f"{canonicalize_name(headers['Name'])}=={headers['Version']}")
    return sorted(found)


def _venv_python(venv_dir: Path) -> Path:
    posix = venv_dir / "bin" / "python"
    return posix if posix.exists() else venv_dir / "Scripts" / "python.exe"


def uv_oracle_sync(
    project: Path,
    venv_dir: Path,
    *,
    index_url: str,
    cache_dir: Path,
    extra_args: Sequence[str] = (),
) -> list[str]:
    """Install ``project/uv.lock`` with ``uv sync --frozen --no-editable`` into a fresh venv.

    The BUILD oracle: uv builds every local/git/sdist source itself (its
    build environments get ``tinybuild`` from ``index_url``) and installs
    the lock's selection for THIS machine.  ``extra_args`` go to ``uv sync``
    (``--no-dev``, ``--extra x``, ``--package p``...).  The venv is
    ``venv_dir`` (made with the running interpreter via ``uv venv``; uv sync
    targets it through ``UV_PROJECT_ENVIRONMENT``, since ``--python`` alone
    only picks an interpreter for the project's own ``.venv``).  Returns
    :func:`installed_distributions` (the project itself included).
    """
    run_uv(
        ["venv", "--no-config", "--quiet", "--python", sys.executable, str(venv_dir)], cwd=project, cache_dir=cache_dir
    )
    run_uv(
        [
            "sync",
            "--no-config",
            "--frozen",  # install uv.lock as is; never re-resolve
            "--no-editable",
            "--default-index",
            index_url,
            "--python",
            str(_venv_python(venv_dir)),
            *extra_args,
        ],
        cwd=project,
        cache_dir=cache_dir,
        env={"UV_PROJECT_ENVIRONMENT": str(venv_dir)},
    )
    return installed_distributions(venv_dir)
