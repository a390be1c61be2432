"""Does uv.lock still match pyproject.toml?  ``--locked`` fails when not; otherwise a warning.

uv records what each workspace package declared in ``[package.metadata]``;
comparing that with the pyproject files is what ``uv lock --check`` does first.
Requirements are compared by name, extras, specifier and marker (sources are
uv's business); optional dependencies carry their ``extra == '...'`` marker as
uv writes them.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

from packaging.markers import Marker
from packaging.requirements import InvalidRequirement, Requirement
from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.utils import canonicalize_name

from .errors import ProjectError, StaleLock, redact
from .lock import Lock, LockedPackage, PackageMetadata
from .project import Project, load_project

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
    root = project if project.workspace_root is None else _member_at(project.root)
    if root is not None and _requires_python_changed(root, lock):
        yield "requires-python"
    if not project.is_package:
        # A root with no [project]: uv records its groups in [manifest.dependency-groups].
        locked = {name: _locked_set(items, ("",)) for name, items in lock.group_requirements.items() if items}
        if _groups(project.declared.groups, project.sources, ("",)) != locked:
            yield "the workspace root's dependency-groups"
    for package in _workspace_packages(project, lock):
        here = Path(package.id.source.value)
        declared = project if here == project.dir.resolve() else _member(package)
        if declared is None or package.metadata is None:
            continue
        sources = {**(root.sources if root is not None else {}), **declared.sources}
        if _normalise_declared(declared, sources, package.metadata) != _normalise_locked(declared, package.metadata):
            yield package.name


def _requires_python_changed(root: Project, lock: Lock) -> bool:
    """Whether requires-python changed: uv records the workspace's (every member's, intersected) in uv.lock."""
    members = [p for p in lock.packages if p.name in lock.members and p.id.source.kind != "registry"]
    declared = [root] if root.is_package else []
    for package in members:
        member = root if Path(package.id.source.value) == root.dir.resolve() else _member(package)
        if member is None:
            return False  # a member's sources are not here (a Docker layer): nothing to compare
        if member is not root:
            declared.append(member)
    texts = [p.requires_python for p in declared if p.requires_python]
    if not texts or lock.requires_python is None:
        return bool(texts) != (lock.requires_python is not None)
    try:
        wanted = [SpecifierSet(text) for text in texts]
    except InvalidSpecifier:
        return False  # uv would refuse the file itself
    if len(wanted) == 1:
        return wanted[0] != lock.requires_python  # uv writes a single project's requires-python as declared
    versions = [f"3.{minor}.{patch}" for minor in range(20) for patch in (0, 1, 9, 30)]
    both = [all(spec.contains(v, prereleases=True) for spec in wanted) for v in versions]
    return both != [lock.requires_python.contains(v, prereleases=True) for v in versions]


def _member_at(directory: Path) -> Project | None:
    try:
        return load_project(directory)
    except ProjectError:
        return None


def _workspace_packages(project: Project, lock: Lock) -> list[LockedPackage]:
    local = ("editable", "virtual", "directory")
    return [
        p for p in lock.packages if p.id.source.kind in local and (p.name in lock.members or p.name == project.name)
    ]


def _member(package: LockedPackage) -> Project | None:
    return _member_at(Path(package.id.source.value))


Normalised = tuple[frozenset[str], frozenset[str], dict[str, frozenset[str]]]
Sources = Mapping[str, tuple[Mapping[str, Any], ...]]


def _extras_axis(project: Project, metadata: PackageMetadata) -> tuple[str, ...]:
    """The values of ``extra`` every marker is evaluated under (one axis of the truth tables)."""
    names = {str(canonicalize_name(e)) for e in project.declared.optional} | set(metadata.provides_extras)
    return (*sorted(names), "")


def _normalise_declared(project: Project, sources: Sources, metadata: PackageMetadata) -> Normalised:
    declared = project.declared
    extras = _extras_axis(project, metadata)
    if "dependencies" in project.dynamic:  # only a build knows them: uv's check builds, ours trusts the lock
        requires = {c for c in _locked_set(metadata.requires_dist, extras) if not _extra_only(c)}
    else:
        requires = _declared_set(declared.dependencies, sources, extras, None)
    if "optional-dependencies" in project.dynamic:
        requires |= {c for c in _locked_set(metadata.requires_dist, extras) if _extra_only(c)}
        provided = metadata.provides_extras
    else:
        for extra, items in declared.optional.items():
            requires |= _declared_set(items, sources, extras, str(canonicalize_name(extra)))
        provided = frozenset(str(canonicalize_name(e)) for e in declared.optional)
    return frozenset(requires), provided, _groups(declared.groups, sources, extras)


def _groups(
    groups: Mapping[str, Iterable[str]], sources: Sources, extras: tuple[str, ...]
) -> dict[str, frozenset[str]]:
    found = {name: frozenset(_declared_set(items, sources, extras, None)) for name, items in groups.items()}
    return {name: items for name, items in found.items() if items}


def _normalise_locked(project: Project, metadata: PackageMetadata) -> Normalised:
    extras = _extras_axis(project, metadata)
    groups = {name: _locked_set(items, extras) for name, items in metadata.requires_dev.items()}
    return (
        frozenset(_locked_set(metadata.requires_dist, extras)),
        metadata.provides_extras,
        {name: items for name, items in groups.items() if items},
    )


def _extra_only(canonical: str) -> bool:
    # A requirement whose table says true only under some extra (the last row of every block is extra "").
    return canonical.endswith("~extra")


def _locked_set(texts: Iterable[str], extras: tuple[str, ...]) -> frozenset[str]:
    found = set()
    for text in texts:
        requirement = _parse(text)
        if requirement is None:
            found.add(text)
            continue
        found.add(_canonical(requirement, _marker_bits(_text(requirement.marker), extras), extras, requirement.url))
    return frozenset(found)


def _declared_set(texts: Iterable[str], sources: Sources, extras: tuple[str, ...], extra: str | None) -> set[str]:
    """Requirements as uv records them: one per marker-split source, plus the rest of the marker space."""
    found = set()
    everywhere = _mask(extras)
    only = _extra_bits(extra, extras) if extra is not None else everywhere
    for text in texts:
        requirement = _parse(text)
        if requirement is None:
            found.add(text)
            continue
        base = _marker_bits(_text(requirement.marker), extras) & only
        entries = [e for e in sources.get(str(canonicalize_name(requirement.name)), ()) if isinstance(e, Mapping)]
        split = [(_marker_bits(e["marker"], extras), _url(e)) for e in entries if isinstance(e.get("marker"), str)]
        if not split:
            url = _url(entries[0]) if len(entries) == 1 else None
            found.add(_canonical(requirement, base, extras, url or requirement.url))
            continue
        covered = 0
        for bits, url in split:
            found.add(_canonical(requirement, base & bits, extras, url))
            covered |= bits
        if rest := base & ~covered & everywhere:
            found.add(_canonical(requirement, rest, extras, None))
    return found


def _parse(text: str) -> Requirement | None:
    try:
        return Requirement(text)
    except InvalidRequirement:
        return None  # compared as written; uv would have refused it


def _text(marker: Marker | None) -> str | None:
    return str(marker) if marker is not None else None


def _url(entry: Mapping[str, Any]) -> str | None:
    url = entry.get("url")
    return url if isinstance(url, str) and "://" in url else None


def _canonical(requirement: Requirement, bits: int, extras: tuple[str, ...], url: str | None) -> str:
    names = ",".join(sorted(str(canonicalize_name(e)) for e in requirement.extras))
    specifier = ",".join(sorted(str(s) for s in requirement.specifier))
    # The rows that hold are the meaning; "~extra" marks one that holds only under some extra.
    only_extra = bits != 0 and bits & _extra_bits("", extras) == 0
    packed = "" if bits == _mask(extras) else hex(bits)
    source = f"@{redact(url).split('#', 1)[0]}" if url else ""
    tail = "~extra" if only_extra else ""
    return f"{canonicalize_name(requirement.name)}[{names}]{specifier}{source};{packed}{tail}"


@functools.cache
def _mask(extras: tuple[str, ...]) -> int:
    return (1 << (len(_SAMPLES) * len(extras))) - 1


@functools.cache
def _extra_bits(extra: str, extras: tuple[str, ...]) -> int:
    """The rows (sample environment, extra) whose extra is ``extra``."""
    block = sum(1 << (len(extras) - 1 - index) for index, name in enumerate(extras) if name == extra)
    bits = 0
    for _ in _SAMPLES:
        bits = bits << len(extras) | block
    return bits


@functools.cache
def _marker_bits(text: str | None, extras: tuple[str, ...]) -> int:
    """A marker's meaning as its truth table over sample environments, each under every extra (a bitset).

    uv rewrites markers when it records them (``python_version < '3.11'`` becomes
    ``python_full_version < '3.11'``, terms are reordered, quotes change); two spellings mean
    the same when they agree everywhere we look.  Markers are evaluated once per spelling.
    """
    if text is None:
        return _mask(extras)
    marker = Marker(text)
    per_extra = "extra" in text
    bits = 0
    for env in _SAMPLES:
        if per_extra:
            for extra in extras:
                bits = bits << 1 | marker.evaluate({**env, "extra": extra})
        else:
            value = marker.evaluate({**env, "extra": ""})
            for _ in extras:
                bits = bits << 1 | value
    return bits


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
