"""uv.lock -> :class:`Lock`: validated, frozen, and free of any target knowledge.

The schema is uv's wire format (``uv-resolver/src/lock/mod.rs``): version 1,
any additive ``revision``.  Every value is checked here, once, with its key path
in the message; nothing past this module sees raw TOML.
"""

from __future__ import annotations

import functools
import re
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, TypeVar
from urllib.parse import parse_qs, unquote, urlsplit

from packaging.markers import InvalidMarker, Marker, UndefinedComparison
from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.tags import Tag, parse_tag
from packaging.utils import (
    BuildTag,
    InvalidWheelFilename,
    NormalizedName,
    canonicalize_name,
    parse_wheel_filename,
)

from ._toml import read_toml
from .errors import LockError

SUPPORTED_VERSION = 1
SourceKind = Literal["registry", "url", "path", "directory", "editable", "virtual", "git"]
_SOURCE_KINDS: tuple[SourceKind, ...] = ("registry", "url", "path", "directory", "editable", "virtual", "git")
_HINT = 're-run "uv lock" with a current uv'
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Source:
    """Where uv found a package: ``registry``, ``url``, ``git``, a local path..."""

    kind: SourceKind
    value: str
    """A URL, or for path, directory, editable and virtual sources an absolute path."""
    subdirectory: str | None = None

    @property
    def is_local(self) -> bool:
        """True for sources that are a tree to build (not an archive)."""
        return self.kind in ("directory", "editable", "virtual", "git")

    @property
    def git_commit(self) -> str:
        """For git sources, the exact commit uv locked (the URL fragment)."""
        return urlsplit(self.value).fragment

    @property
    def git_url(self) -> str:
        """For git sources, the repository URL without uv's query and fragment."""
        parts = urlsplit(self.value)
        return parts._replace(query="", fragment="").geturl()

    def __str__(self) -> str:
        return f"{self.kind}+{self.value}"


@dataclass(frozen=True, slots=True)
class PackageId:
    """The key of a locked package: one name may be locked at several versions (forks)."""

    name: NormalizedName
    version: str | None
    source: Source


@dataclass(frozen=True, slots=True)
class Dependency:
    """An edge of the lock graph; the marker is evaluated for the target."""

    name: NormalizedName
    extras: frozenset[str] = frozenset()
    marker: Marker | None = None
    version: str | None = None
    source: Source | None = None


@dataclass(frozen=True, slots=True)
class LockedWheel:
    """One wheel file uv recorded for a package."""

    filename: str
    url: str | None
    """A URL, or for a local registry / path source an absolute file path."""
    sha256: str | None
    size: int | None
    tags: frozenset[Tag]
    build: BuildTag


@dataclass(frozen=True, slots=True)
class LockedSdist:
    """The source archive uv recorded for a package."""

    filename: str
    url: str | None
    """A URL, or an absolute file path for local archives."""
    sha256: str | None
    size: int | None


@dataclass(frozen=True, slots=True)
class PackageMetadata:
    """What the project declared when uv locked (``[package.metadata]``): compared by ``--locked``."""

    requires_dist: frozenset[str]
    provides_extras: frozenset[str]
    requires_dev: Mapping[str, frozenset[str]]


@dataclass(frozen=True, slots=True)
class LockedPackage:
    """One ``[[package]]`` of the lock."""

    id: PackageId
    dependencies: tuple[Dependency, ...] = ()
    optional_dependencies: Mapping[str, tuple[Dependency, ...]] = field(default_factory=dict)
    dependency_groups: Mapping[str, tuple[Dependency, ...]] = field(default_factory=dict)
    wheels: tuple[LockedWheel, ...] = ()
    sdist: LockedSdist | None = None
    metadata: PackageMetadata | None = None
    resolution_markers: tuple[Marker, ...] = ()
    """The forks this version belongs to (empty: every environment)."""

    @property
    def name(self) -> NormalizedName:
        """The package's normalized name."""
        return self.id.name

    @property
    def label(self) -> str:
        """``name==version`` for messages."""
        return f"{self.id.name}=={self.id.version}" if self.id.version else self.id.name


@dataclass(frozen=True, slots=True)
class ConflictItem:
    """One member of a ``conflicts`` set: an extra or a group of a package."""

    package: NormalizedName
    extra: str | None = None
    group: str | None = None

    def __str__(self) -> str:
        return f"{self.package}[{self.extra}]" if self.extra is not None else f"{self.package}:{self.group}"


@dataclass(frozen=True, slots=True)
class Lock:
    """A whole uv.lock."""

    path: Path
    revision: int
    requires_python: SpecifierSet | None
    packages: tuple[LockedPackage, ...]
    members: tuple[NormalizedName, ...] = ()
    groups: Mapping[str, tuple[Dependency, ...]] = field(default_factory=dict)
    """``[manifest.dependency-groups]``: the groups of a workspace root (or project) with no ``[project]``."""
    group_requirements: Mapping[str, frozenset[str]] = field(default_factory=dict)
    """The same groups as requirement text, for ``--locked``."""
    supported_markers: tuple[Marker, ...] = ()
    """``supported-markers`` (``tool.uv.environments``): the only environments the lock was resolved for."""
    conflicts: tuple[tuple[ConflictItem, ...], ...] = ()
    """``conflicts`` (``tool.uv.conflicts``): extras or groups that must not be selected together."""
    _by_name: Mapping[str, tuple[LockedPackage, ...]] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        # One index, built once: planning resolves every edge by name (a scan per edge is quadratic).
        index: dict[str, list[LockedPackage]] = {}
        for package in self.packages:
            index.setdefault(package.name, []).append(package)
        object.__setattr__(self, "_by_name", {name: tuple(found) for name, found in index.items()})

    @property
    def default_index(self) -> str | None:
        """The registry URL most packages come from: where build requirements are fetched."""
        counts = Counter(
            p.id.source.value for p in self.packages if p.id.source.kind == "registry" and "://" in p.id.source.value
        )
        return counts.most_common(1)[0][0] if counts else None  # ties: the first seen, as max() gave

    def by_name(self, name: str) -> list[LockedPackage]:
        """Every locked package of that name (several when the lock forks)."""
        return list(self._by_name.get(canonicalize_name(name), ()))

    def resolve(
        self, dependency: Dependency, parent: LockedPackage, env: Mapping[str, Any] | None = None
    ) -> LockedPackage:
        """The package an edge points to; version/source pick among forks.

        A requirement with no version (the manifest's groups) picks, with ``env``, the fork whose
        ``resolution-markers`` hold there, as uv does.
        """
        candidates = [
            package
            for package in self._by_name.get(dependency.name, ())
            if dependency.version in (None, package.id.version) and dependency.source in (None, package.id.source)
        ]
        if len(candidates) > 1 and env is not None and dependency.version is None:
            candidates = [package for package in candidates if _in_fork(package, env)]
        if len(candidates) != 1:
            found = "no" if not candidates else "several"
            msg = f"{self.path}: {parent.label} depends on {dependency.name}, which matches {found} locked packages"
            raise LockError(msg, hint=_HINT)
        return candidates[0]


def _in_fork(package: LockedPackage, env: Mapping[str, Any]) -> bool:
    markers = package.resolution_markers
    return not markers or any(
        marker.evaluate(
            dict(env),
            context="lock_file",  # pragma: no mutate: env sets every name a context only gives a default for
        )
        for marker in markers
    )


def load_lock(path: Path, cache_dir: Path | None = None) -> Lock:
    """Read and validate ``path`` (a uv.lock); ``cache_dir`` keeps its parsed form for next time."""
    data = read_toml(path, LockError, hint='run "uv lock" in the project first', cache_dir=cache_dir)
    version = _get(data, "version", int, str(path))
    if version != SUPPORTED_VERSION:
        msg = f"{path} has lock version {version}; uvroot reads version {SUPPORTED_VERSION}"
        raise LockError(msg, hint="use a uvroot release that matches your uv, or re-lock with a matching uv")
    where = str(path)
    raw_packages = data.get("package", data.get("distribution", []))
    if not isinstance(raw_packages, list):
        raise LockError(f"{where}: 'package' must be an array of tables", hint=_HINT)
    packages = tuple(_package(raw, f"package[{index}]", path.parent) for index, raw in enumerate(raw_packages))
    _refuse_duplicates(packages, path)
    manifest = _table(data.get("manifest", {}), "manifest")
    members = tuple(canonicalize_name(m) for m in _list_of(manifest, "members", str, "manifest"))
    groups = _dependency_tables(manifest, "dependency-groups", "manifest", path.parent)  # (checks it is a table)
    return Lock(
        path=path,
        revision=_opt(data, "revision", int, where) or 0,
        requires_python=_specifier(data.get("requires-python"), "requires-python"),
        packages=packages,
        members=members,
        groups=groups,
        group_requirements={
            str(canonicalize_name(group)): _requirements(items, f"manifest.dependency-groups.{group}")
            for group, items in (manifest.get("dependency-groups") or {}).items()
        },
        supported_markers=tuple(
            _marker(text, "supported-markers") for text in _list_of(data, "supported-markers", str, where)
        ),
        conflicts=tuple(_conflicts(data.get("conflicts", []), where)),
    )


def _conflicts(raw: object, where: str) -> list[tuple[ConflictItem, ...]]:
    if not isinstance(raw, list):
        raise LockError(f"uv.lock: {where}: conflicts must be an array of arrays", hint=_HINT)
    sets = []
    for index, items in enumerate(raw):
        if not isinstance(items, list):
            raise LockError(f"uv.lock: {where}: conflicts[{index}] must be an array", hint=_HINT)
        found = []
        for item in items:
            table = _table(item, f"conflicts[{index}]")
            extra, group = _opt(table, "extra", str, where), _opt(table, "group", str, where)
            found.append(
                ConflictItem(
                    canonicalize_name(_get(table, "package", str, where)),
                    str(canonicalize_name(extra)) if extra is not None else None,
                    str(canonicalize_name(group)) if group is not None else None,
                )
            )
        sets.append(tuple(found))
    return sets


def _refuse_duplicates(packages: tuple[LockedPackage, ...], path: Path) -> None:
    seen: set[PackageId] = set()
    for package in packages:
        if package.id in seen:
            raise LockError(f"{path} locks {package.label} from {package.id.source} twice", hint=_HINT)
        seen.add(package.id)


def _package(raw: object, where: str, base: Path) -> LockedPackage:
    table = _table(raw, where)
    name = canonicalize_name(_get(table, "name", str, where))
    source = _source(_get(table, "source", dict, where), f"{where}.source", base)
    package_id = PackageId(name, _opt(table, "version", str, where), source)
    wheels = tuple(
        _wheel(w, f"{where}.wheels[{i}]", source, base) for i, w in enumerate(_list_of(table, "wheels", dict, where))
    )
    return LockedPackage(
        id=package_id,
        dependencies=_dependencies(table.get("dependencies", []), f"{where}.dependencies", base),
        optional_dependencies=_dependency_tables(table, "optional-dependencies", where, base),
        dependency_groups=_dependency_tables(table, "dev-dependencies", where, base)
        or _dependency_tables(table, "dependency-groups", where, base),
        wheels=wheels,
        sdist=_sdist(table.get("sdist"), f"{where}.sdist", source, base),
        metadata=_metadata(table.get("metadata"), f"{where}.metadata"),
        resolution_markers=tuple(
            _marker(text, f"{where}.resolution-markers") for text in _list_of(table, "resolution-markers", str, where)
        ),
    )


def _source(table: Mapping[str, Any], where: str, base: Path) -> Source:
    kinds = [kind for kind in _SOURCE_KINDS if kind in table]
    if len(kinds) != 1 or not isinstance(table[kinds[0]], str):
        raise LockError(f"uv.lock: {where} must name exactly one of {', '.join(_SOURCE_KINDS)}", hint=_HINT)
    kind = kinds[0]
    value: str = table[kind]
    if kind in ("registry", "path", "directory", "editable", "virtual") and "://" not in value:
        value = _local_path(base, value, f"{where}.{kind}")  # local paths are relative to the lock's directory
    subdirectory = _opt(table, "subdirectory", str, where)
    if kind == "git":  # uv writes git://...?subdirectory=sub&rev=...#<commit>
        subdirectory = subdirectory or next(iter(parse_qs(urlsplit(value).query).get("subdirectory", [])), None)
    return Source(kind, value, subdirectory)


def _wheel(raw: Mapping[str, Any], where: str, source: Source, base: Path) -> LockedWheel:
    url = _opt(raw, "url", str, where)
    path = _opt(raw, "path", str, where)
    filename = _opt(raw, "filename", str, where)
    if url is not None:
        filename = _url_filename(url)
    elif path is not None:
        root = Path(source.value) if source.kind == "registry" else base
        url = _local_path(root, path, f"{where}.path")
        filename = Path(path).name
    elif source.kind in ("url", "path"):
        url = source.value
    if filename is None or url is None:
        raise LockError(f"uv.lock: {where} has neither url, path nor filename", hint=_HINT)
    build, tags = _wheel_tags(filename, where)
    return LockedWheel(filename, url, _sha256(raw.get("hash"), where), _opt(raw, "size", int, where), tags, build)


def _local_path(base: Path, value: str, where: str) -> str:
    if "\0" in value:  # TOML allows it; no file system does (resolve() would raise ValueError)
        raise LockError(f"uv.lock: {where} is not a path: {value!r}", hint=_HINT)
    return str((base / value).resolve())


def _url_filename(url: str) -> str:
    path = url.partition("#")[0].partition("?")[0]
    return unquote(path.rpartition("/")[2])  # unquote returns a name without "%" as it is


def _wheel_tags(filename: str, where: str) -> tuple[BuildTag, frozenset[Tag]]:
    # Only the tags and build tag matter here, and a lock has thousands of
    # wheels: skip the full name/version validation of parse_wheel_filename
    # (installer checks the wheel it installs).
    parts = filename[:-4].split("-") if filename.endswith(".whl") else []
    if len(parts) not in (5, 6):
        raise LockError(f"uv.lock: {where} does not name a wheel: {filename}", hint=_HINT)
    build: BuildTag = ()
    if len(parts) == 6:
        try:
            build = parse_wheel_filename(filename)[2]
        except InvalidWheelFilename:
            raise LockError(f"uv.lock: {where} has an invalid build tag: {filename}", hint=_HINT) from None
    return build, _parse_tag("-".join(parts[-3:]))


@functools.lru_cache(maxsize=4096)
def _parse_tag(compressed: str) -> frozenset[Tag]:
    return parse_tag(compressed)


def _sdist(raw: object, where: str, source: Source, base: Path) -> LockedSdist | None:
    if raw is None:
        return None
    table = _table(raw, where)
    url = _opt(table, "url", str, where)
    path = _opt(table, "path", str, where)
    if url is None and path is not None:
        root = Path(source.value) if source.kind == "registry" else base
        url = _local_path(root, path, f"{where}.path")
    elif url is None and source.kind in ("url", "path"):
        url = source.value
    filename = unquote(urlsplit(url).path.rpartition("/")[2]) if url else None
    if not filename:
        raise LockError(f"uv.lock: {where} has neither url nor path", hint=_HINT)
    return LockedSdist(filename, url, _sha256(table.get("hash"), where), _opt(table, "size", int, where))


def _metadata(raw: object, where: str) -> PackageMetadata | None:
    if raw is None:
        return None
    table = _table(raw, where)
    # uv writes requires-dev; it reads dependency-groups too (the older spelling)
    requires_dev = _opt(table, "requires-dev", dict, where) or _opt(table, "dependency-groups", dict, where) or {}
    return PackageMetadata(
        requires_dist=_requirements(table.get("requires-dist", []), f"{where}.requires-dist"),
        provides_extras=frozenset(str(canonicalize_name(e)) for e in _list_of(table, "provides-extras", str, where)),
        requires_dev={
            str(canonicalize_name(group)): _requirements(items, f"{where}.requires-dev.{group}")
            for group, items in requires_dev.items()
        },
    )


def _requirements(raw: object, where: str) -> frozenset[str]:
    # uv stores each declared requirement as a table; rebuild its PEP 508 text so
    # --locked can compare it with pyproject.toml (sources are not compared).
    if not isinstance(raw, list):
        raise LockError(f"uv.lock: {where} must be an array", hint=_HINT)
    found = set()
    for index, item in enumerate(raw):
        table = _table(item, f"{where}[{index}]")
        name = canonicalize_name(_get(table, "name", str, where))
        extras = ",".join(sorted(str(canonicalize_name(e)) for e in _list_of(table, "extras", str, where)))
        text = f"{name}[{extras}]" if extras else str(name)
        text += _opt(table, "specifier", str, where) or ""
        if url := _opt(table, "url", str, where):  # a URL source (marker-split sources differ only by it)
            text += f" @ {url} "
        if marker := _opt(table, "marker", str, where):
            text += f"; {marker}"
        found.add(text)
    return frozenset(found)


def _sha256(value: object, where: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not re.fullmatch(r"sha256:[0-9a-f]{64}", value):
        raise LockError(f'uv.lock: {where}.hash must look like "sha256:<64 hex digits>"', hint=_HINT)
    return value.removeprefix("sha256:")


def _dependency_tables(table: Mapping[str, Any], key: str, where: str, base: Path) -> dict[str, tuple[Dependency, ...]]:
    groups = _opt(table, key, dict, where) or {}
    return {
        str(canonicalize_name(name)): _dependencies(deps, f"{where}.{key}.{name}", base)
        for name, deps in groups.items()
    }


def _dependencies(raw: object, where: str, base: Path) -> tuple[Dependency, ...]:
    if not isinstance(raw, list):
        raise LockError(f"uv.lock: {where} must be an array", hint=_HINT)
    return tuple(_dependency(item, f"{where}[{i}]", base) for i, item in enumerate(raw))


def _dependency(raw: object, where: str, base: Path) -> Dependency:
    table = _table(raw, where)
    marker_text = _opt(table, "marker", str, where)
    marker = _marker(marker_text, f"{where}.marker") if marker_text else None
    source = table.get("source")
    return Dependency(
        name=canonicalize_name(_get(table, "name", str, where)),
        extras=frozenset(_list_of(table, "extra", str, where) + _list_of(table, "extras", str, where)),
        marker=marker,
        version=_opt(table, "version", str, where),
        source=_source(source, f"{where}.source", base) if isinstance(source, dict) else None,
    )


@functools.lru_cache(maxsize=8192)
def _parsed_marker(text: str) -> Marker:
    # A lock repeats the same few markers on hundreds of edges; a Marker is never changed after parsing.
    return Marker(text)


def _marker(text: str, where: str) -> Marker:
    try:
        marker = _parsed_marker(text)
    except InvalidMarker as exc:
        raise LockError(f"uv.lock: {where} is not a valid marker: {exc}", hint=_HINT) from None
    if "===" in text:  # uv never writes it; packaging evaluates it only between versions, else raises
        try:
            marker.evaluate({"extra": ""}, context="lock_file")  # (over the running interpreter's environment)
        except UndefinedComparison as exc:
            raise LockError(f"uv.lock: {where} cannot be evaluated: {exc}", hint=_HINT) from None
    return marker


def _specifier(value: object, where: str) -> SpecifierSet | None:
    if value is None:
        return None
    try:
        return SpecifierSet(str(value))
    except InvalidSpecifier:
        raise LockError(f"uv.lock: {where} is not a version specifier: {value!r}", hint=_HINT) from None


def _table(raw: object, where: str) -> Mapping[str, Any]:
    if not isinstance(raw, dict):
        raise LockError(f"uv.lock: {where} must be a table", hint=_HINT)
    return raw


def _get(table: Mapping[str, Any], key: str, kind: type[T], where: str) -> T:
    value = _opt(table, key, kind, where)
    if value is None:
        raise LockError(f"uv.lock: {where}.{key} is missing", hint=_HINT)
    return value


def _opt(table: Mapping[str, Any], key: str, kind: type[T], where: str) -> T | None:
    value = table.get(key)
    if value is not None and (not isinstance(value, kind) or (kind is int and isinstance(value, bool))):
        raise LockError(f"uv.lock: {where}.{key} must be a {kind.__name__}", hint=_HINT)
    return value


def _list_of(table: Mapping[str, Any], key: str, kind: type[T], where: str) -> list[T]:
    value = _opt(table, key, list, where) or []
    if not all(isinstance(item, kind) for item in value):
        raise LockError(f"uv.lock: every item of {where}.{key} must be a {kind.__name__}", hint=_HINT)
    return value
