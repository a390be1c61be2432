"""pyproject.toml -> :class:`Project`: just what selection needs.

uv.lock already holds the flattened dependency graph (include-group resolved,
legacy ``tool.uv.dev-dependencies`` folded into the ``dev`` group); the project
file adds the names that exist and which groups are on by default.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from packaging.utils import NormalizedName, canonicalize_name

from ._toml import read_toml
from .errors import ProjectError

_HINT = "point --project at the directory holding the pyproject.toml that uv locked"


@dataclass(frozen=True, slots=True)
class Project:
    """The parts of ``pyproject.toml`` that decide what ``uv sync`` installs."""

    dir: Path
    name: NormalizedName | None
    extras: frozenset[str]
    groups: frozenset[str]
    default_groups: frozenset[str]
    declared: Declared
    indexes: tuple[tuple[str, str], ...] = ()
    """``[[tool.uv.index]]`` (name, url): where ``UV_INDEX_<NAME>_USERNAME/PASSWORD`` apply."""
    workspace_root: Path | None = None
    """Where uv.lock is: the workspace root above a member (None: ``dir`` itself)."""
    dynamic: frozenset[str] = frozenset()
    """``project.dynamic``: fields only a build knows (``version``, ``dependencies``...)."""
    sources: Mapping[str, tuple[Mapping[str, Any], ...]] = field(default_factory=dict)
    """``[tool.uv.sources]``, each entry as a tuple of source tables (uv allows a list split by markers)."""
    requires_python: str | None = None
    """``project.requires-python`` as written."""

    @property
    def root(self) -> Path:
        """The directory holding uv.lock."""
        return self.workspace_root or self.dir

    @property
    def is_package(self) -> bool:
        """False for a workspace root or directory with no ``[project]`` table (only groups)."""
        return self.name is not None


@dataclass(frozen=True, slots=True)
class Declared:
    """The requirements as written, for ``--locked`` to compare with the lock's ``[package.metadata]``."""

    dependencies: tuple[str, ...] = ()
    optional: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    groups: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    """Each group's own requirements, include-group entries expanded (as uv records them)."""


def discover_project(start: Path) -> Project:
    """The project uv would sync from ``start``: the nearest pyproject.toml at or above it, with its workspace root.

    As uv: a pyproject.toml holding ``[tool.uv.workspace]`` is a workspace root; any other
    is a project that belongs to the nearest workspace root above it whose ``members`` globs
    match it (and whose ``exclude`` globs do not), or stands alone.
    """
    start = start.resolve()
    if not start.is_dir():
        raise ProjectError(f"{start / 'pyproject.toml'} does not exist (no such directory)", hint=_HINT)
    here = next((d for d in (start, *start.parents) if (d / "pyproject.toml").is_file()), None)
    if here is None:
        raise ProjectError(
            f"no pyproject.toml in {start} or any parent directory",
            hint="run uvroot in a uv project, or point --project (or --directory) at one",
        )
    project = load_project(here)
    if _workspace_table(here) is not None:
        return project
    for above in here.parents:
        workspace = _workspace_table(above)
        if workspace is not None and _member_of(above, workspace, here):
            return replace(project, workspace_root=above)
    return project


def _workspace_table(directory: Path) -> dict[str, Any] | None:
    path = directory / "pyproject.toml"
    if not path.is_file():
        return None
    data = read_toml(path, ProjectError, hint=_HINT)
    workspace = _table(_table(_table(data, "tool", path), "uv", path), "workspace", path)
    return workspace if "workspace" in data.get("tool", {}).get("uv", {}) else None


def _member_of(root: Path, workspace: dict[str, Any], directory: Path) -> bool:
    def matches(key: str) -> bool:
        patterns = workspace.get(key, [])
        globs = patterns if isinstance(patterns, list) else []
        return any(directory in {p.resolve() for p in root.glob(g)} for g in globs if isinstance(g, str) and g)

    return matches("members") and not matches("exclude")


def load_project(directory: Path) -> Project:
    """Read ``directory/pyproject.toml``."""
    path = directory / "pyproject.toml"
    data = read_toml(path, ProjectError, hint=_HINT)
    project = _table(data, "project", path)
    tool_uv = _table(_table(data, "tool", path), "uv", path)
    name = project.get("name")
    if name is not None and not isinstance(name, str):
        raise ProjectError(f"{path}: project.name must be a string", hint=_HINT)
    groups = {canonicalize_name(g) for g in _table(data, "dependency-groups", path)}
    if tool_uv.get("dev-dependencies"):
        groups.add(canonicalize_name("dev"))
    return Project(
        dir=directory,
        name=canonicalize_name(name) if name else None,
        extras=frozenset(canonicalize_name(e) for e in _table(project, "optional-dependencies", path)),
        groups=frozenset(groups),
        default_groups=_default_groups(tool_uv.get("default-groups"), groups, path),
        declared=_declared(data, project, tool_uv, path),
        indexes=tuple(
            (entry["name"], entry["url"])
            for entry in tool_uv.get("index", [])
            if isinstance(entry, dict) and isinstance(entry.get("name"), str) and isinstance(entry.get("url"), str)
        ),
        dynamic=frozenset(d for d in project.get("dynamic", []) if isinstance(d, str)),
        requires_python=project["requires-python"] if isinstance(project.get("requires-python"), str) else None,
        sources={
            str(canonicalize_name(name)): tuple(entry for entry in (value if isinstance(value, list) else [value]))
            for name, value in _table(tool_uv, "sources", path).items()
        },
    )


def _declared(data: dict[str, Any], project: dict[str, Any], tool_uv: dict[str, Any], path: Path) -> Declared:
    optional = _table(project, "optional-dependencies", path)
    tables = _table(data, "dependency-groups", path)
    groups = {str(canonicalize_name(name)): tuple(_expand(name, tables, path, ())) for name in tables}
    if dev := tool_uv.get("dev-dependencies"):
        groups["dev"] = (*groups.get("dev", ()), *_strings(dev, "tool.uv.dev-dependencies", path))
    return Declared(
        dependencies=tuple(_strings(project.get("dependencies", []), "project.dependencies", path)),
        optional={
            str(canonicalize_name(k)): tuple(_strings(v, f"optional-dependencies.{k}", path))
            for k, v in optional.items()
        },
        groups=groups,
    )


def _expand(name: str, tables: dict[str, Any], path: Path, seen: tuple[str, ...]) -> list[str]:
    # PEP 735 include-group: a group's entries are its strings plus those of the groups it includes.
    if name in seen:
        raise ProjectError(f"{path}: dependency group {name!r} includes itself", hint=_HINT)
    found: list[str] = []
    for item in tables.get(name, []):
        if isinstance(item, dict) and isinstance(item.get("include-group"), str):
            found += _expand(item["include-group"], tables, path, (*seen, name))
        elif isinstance(item, str):
            found.append(item)
        else:
            raise ProjectError(
                f"{path}: dependency-groups.{name} has an entry that is neither a string nor an include-group table",
                hint=_HINT,
            )
    return found


def _strings(value: Any, where: str, path: Path) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise ProjectError(f"{path}: {where} must be a list of requirement strings", hint=_HINT)
    return value


def _default_groups(value: Any, groups: set[NormalizedName], path: Path) -> frozenset[str]:
    # uv: default-groups = ["dev"] unless set; "all" means every group.
    if value is None:
        return frozenset({"dev"} & groups)
    if value == "all":
        return frozenset(groups)
    if not isinstance(value, list) or not all(isinstance(g, str) for g in value):
        raise ProjectError(f'{path}: tool.uv.default-groups must be a list of group names or "all"', hint=_HINT)
    return frozenset(canonicalize_name(g) for g in value)


def _table(data: dict[str, Any], key: str, path: Path) -> dict[str, Any]:
    value = data.get(key, {})
    if not isinstance(value, dict):
        raise ProjectError(f"{path}: {key} must be a table", hint=_HINT)
    return value
