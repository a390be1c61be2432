"""Does uv.lock still match pyproject.toml?  ``--locked`` fails when not; otherwise a warning.

uv records what each workspace package declared in ``[package.metadata]``;
comparing that with the pyproject files is what ``uv lock --check`` does first.
Requirements are compared by name, extras, specifier and marker (sources are
uv's business); optional dependencies carry their ``extra == '...'`` marker as
uv writes them.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterable
from pathlib import Path

from packaging.markers import Marker
from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

from .errors import ProjectError, StaleLock
from .lock import Lock, LockedPackage, PackageMetadata
from .project import Declared, Project, load_project

_HINT = 'run "uv lock" and commit the updated uv.lock'


def check_fresh(project: Project, lock: Lock, *, strict: bool, warn: Callable[[str], None]) -> None:
    """Raise (``strict``) or warn when the lock no longer matches the workspace's pyproject files."""
    stale = sorted(_stale_packages(project, lock))
    if not stale:
        return
    message = f"{lock.path} is out of date with pyproject.toml ({', '.join(stale)} changed)"
    if strict:
        raise StaleLock(message, hint=_HINT)
    warn(f"warning: {message}; staging the lock as it is ({_HINT})")


def _stale_packages(project: Project, lock: Lock) -> Iterable[str]:
    for package in _workspace_packages(project, lock):
        declared = project if Path(package.id.source.value) == project.dir.resolve() else _member(package)
        if declared is None or package.metadata is None:
            continue
        if _normalise_declared(declared.declared) != _normalise_locked(package.metadata):
            yield package.name


def _workspace_packages(project: Project, lock: Lock) -> list[LockedPackage]:
    local = ("editable", "virtual", "directory")
    return [
        p for p in lock.packages if p.id.source.kind in local and (p.name in lock.members or p.name == project.name)
    ]


def _member(package: LockedPackage) -> Project | None:
    try:
        return load_project(Path(package.id.source.value))
    except ProjectError:
        return None  # a member without a readable pyproject: uv would fail elsewhere


Normalised = tuple[frozenset[str], frozenset[str], dict[str, frozenset[str]]]


def _normalise_declared(declared: Declared) -> Normalised:
    requires = {_canonical(text) for text in declared.dependencies}
    for extra, items in declared.optional.items():
        requires |= {_canonical(text, extra=extra) for text in items}
    groups = {name: frozenset(_canonical(text) for text in items) for name, items in declared.groups.items()}
    return frozenset(requires), frozenset(declared.optional), groups


def _normalise_locked(metadata: PackageMetadata) -> Normalised:
    groups = {name: frozenset(_canonical(t) for t in items) for name, items in metadata.requires_dev.items()}
    return (
        frozenset(_canonical(text) for text in metadata.requires_dist),
        metadata.provides_extras,
        {name: items for name, items in groups.items() if items},
    )


def _canonical(text: str, extra: str | None = None) -> str:
    try:
        requirement = Requirement(text)
    except InvalidRequirement:
        return text  # compared as written; uv would have refused it
    marker = str(requirement.marker) if requirement.marker else ""
    if extra is not None:
        extra_marker = f'extra == "{canonicalize_name(extra)}"'
        marker = f"({marker}) and {extra_marker}" if marker else extra_marker
    extras = ",".join(sorted(str(canonicalize_name(e)) for e in requirement.extras))
    specifier = ",".join(sorted(str(s) for s in requirement.specifier))
    return f"{canonicalize_name(requirement.name)}[{extras}]{specifier};{_truth(marker)}"


@functools.cache
def _truth(marker: str) -> str:
    """A marker's meaning as its truth table over sample environments.

    uv rewrites markers when it records them (``python_version < '3.11'``
    becomes ``python_full_version < '3.11'``, terms are reordered, quotes
    change); two spellings mean the same when they agree everywhere we look.
    """
    if not marker:
        return ""
    parsed = Marker(marker)
    extras = [*sorted(set(re.findall(r"""extra\s*[=!]=\s*['"]([^'"]+)['"]""", marker))), ""]
    return "".join("1" if parsed.evaluate({**env, "extra": extra}) else "0" for env in _SAMPLES for extra in extras)


def _samples() -> list[dict[str, str]]:
    platforms = [
        ("linux", "Linux", "posix", "x86_64"),
        ("linux", "Linux", "posix", "aarch64"),
        ("win32", "Windows", "nt", "AMD64"),
        ("darwin", "Darwin", "posix", "arm64"),
    ]
    samples = []
    for minor in range(6, 16):
        for patch in (0, 7):
            for sys_platform, system, os_name, machine in platforms:
                for implementation in ("cpython", "pypy"):
                    full = f"3.{minor}.{patch}"
                    samples.append(
                        {
                            "python_version": f"3.{minor}",
                            "python_full_version": full,
                            "implementation_name": implementation,
                            "implementation_version": full,
                            "platform_python_implementation": "CPython" if implementation == "cpython" else "PyPy",
                            "sys_platform": sys_platform,
                            "platform_system": system,
                            "os_name": os_name,
                            "platform_machine": machine,
                            "platform_release": "",
                            "platform_version": "",
                        }
                    )
    return samples


_SAMPLES = _samples()
