"""uv sync's selection flags -> :class:`Selection`: which extras and groups, and whether the project counts.

The rules are uv's: default groups (``tool.uv.default-groups``, else ``dev``) are on
unless ``--no-default-groups``; ``--no-group`` wins over everything; ``--only-group``
and ``--only-dev`` drop the project and its own dependencies.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from packaging.utils import canonicalize_name

from .errors import ProjectError, UsageError
from .project import Project

if TYPE_CHECKING:
    from .lock import Lock


@dataclass(frozen=True, slots=True, kw_only=True)
class SelectionFlags:
    """The flags exactly as given on the command line (uv's names)."""

    extra: tuple[str, ...] = ()
    all_extras: bool = False
    no_extra: tuple[str, ...] = ()
    dev: bool | None = None
    only_dev: bool = False
    group: tuple[str, ...] = ()
    no_group: tuple[str, ...] = ()
    only_group: tuple[str, ...] = ()
    all_groups: bool = False
    no_default_groups: bool = False
    no_install_project: bool = False
    no_install_workspace: bool = False
    no_install_local: bool = False
    no_install_package: tuple[str, ...] = ()
    package: str | None = None
    all_packages: bool = False


@dataclass(frozen=True, slots=True)
class Selection:
    """What to install from the project's lock entry."""

    extras: frozenset[str] = frozenset()
    groups: frozenset[str] = frozenset()
    project_dependencies: bool = True
    """False under --only-group/--only-dev: the project's own dependencies are left out."""
    install_project: bool = True
    package: str | None = None
    """--package: the workspace member to sync instead of the project."""
    all_packages: bool = False
    no_install_workspace: bool = False
    no_install_local: bool = False
    no_install_packages: frozenset[str] = frozenset()


def select(project: Project, flags: SelectionFlags, lock: Lock | None = None) -> Selection:
    """Apply uv's selection rules to ``project``; unknown extras or groups are errors.

    With no ``[project]`` (a workspace root with only groups) every member counts, as in uv:
    their extras and groups are known too (``lock`` lists them).
    """
    _check_conflicts(flags)
    if lock is not None and not project.is_package:
        members = [p for p in lock.packages if p.name in lock.members and p.id.source.kind != "registry"]
        project = replace(
            project,
            extras=project.extras | {e for p in members for e in p.optional_dependencies},
            groups=project.groups | set(lock.groups) | {g for p in members for g in p.dependency_groups},
        )
    only = {*_names(flags.only_group), *(["dev"] if flags.only_dev else [])}
    groups = _groups(project, flags, only)
    extras = set(project.extras) if flags.all_extras else set(_names(flags.extra))
    extras -= set(_names(flags.no_extra))
    if not flags.package and not flags.all_packages:  # other members declare their own extras
        _check_known("extra", extras | set(_names(flags.no_extra)), project.extras, "optional-dependencies")
    return Selection(
        extras=frozenset(extras),
        groups=frozenset(groups),
        project_dependencies=not only,
        install_project=not only and not flags.no_install_project,
        package=str(canonicalize_name(flags.package)) if flags.package else None,
        all_packages=flags.all_packages,
        no_install_workspace=flags.no_install_workspace,
        no_install_local=flags.no_install_local,
        no_install_packages=frozenset(_names(flags.no_install_package)),
    )


def _groups(project: Project, flags: SelectionFlags, only: set[str]) -> set[str]:
    if only:
        chosen = set(only)
    else:
        chosen = set() if flags.no_default_groups else set(project.default_groups)
        chosen |= set(project.groups) if flags.all_groups else set(_names(flags.group))
        if flags.dev is True:
            chosen.add("dev")
    removed = set(_names(flags.no_group)) | ({"dev"} if flags.dev is False else set())
    named = set(only) | set(_names(flags.group)) | set(_names(flags.no_group))
    _check_known("group", named, project.groups, "dependency-groups")
    return (chosen - removed) & (set(project.groups) | named)


def _check_conflicts(flags: SelectionFlags) -> None:
    pairs = [
        ("--only-dev", flags.only_dev, "--no-dev", flags.dev is False),
        ("--extra", bool(flags.extra), "--all-extras", flags.all_extras),
        ("--only-group", bool(flags.only_group), "--all-groups", flags.all_groups),
        ("--package", bool(flags.package), "--all-packages", flags.all_packages),
    ]
    for left, has_left, right, has_right in pairs:
        if has_left and has_right:
            raise UsageError(f"{left} cannot be used with {right}", hint="drop one of the two flags")


def _check_known(kind: str, names: Iterable[str], known: Iterable[str], table: str) -> None:
    unknown = sorted(set(names) - set(known))
    if unknown:
        listed = ", ".join(f"`{name}`" for name in unknown)
        known_list = ", ".join(sorted(known)) or "none"
        msg = f"{kind} {listed} is not defined in the project's {table} table (defined: {known_list})"
        raise ProjectError(msg, hint=f"check the --{kind} names against pyproject.toml")


def _names(values: Iterable[str]) -> list[str]:
    return [str(canonicalize_name(value)) for value in values]
