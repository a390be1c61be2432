"""pyproject.toml -> :class:`Project`: just what selection needs.

uv.lock already holds the flattened dependency graph (include-group resolved,
legacy ``tool.uv.dev-dependencies`` folded into the ``dev`` group); the project
file adds the names that exist and which groups are on by default.
"""

from __future__ import annotations

from dataclasses import dataclass
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
    )


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
