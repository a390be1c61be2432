"""(Lock, Project, Target, Selection) -> :class:`InstallPlan`.  Pure: no I/O.

The walk is uv's ``Lock::to_resolution``: start at the selected roots (the
project, ``--package`` or every workspace member), add the selected extras and
groups, follow every edge whose marker holds for the TARGET, then give each
package its best locked wheel by (tag priority, build tag), or, where none fits
or the package is a local tree, a build from source.

Asked to ``explain``, the same walk (one breadth-first pass) also follows every
blocked edge and records why each locked package is left out: the first blocked
edge on its shortest path from a root decides (``marker``, ``group``, ``extra``,
or the ``--only-group`` ``flag``); without ``explain`` (a no-op sync) blocked
edges are not followed at all.  The
other branch of a Python-version fork is a ``marker`` skip like any other.
Packages that no path from the selected roots reaches at all (another
workspace member's dependencies, extras nobody selected on the way) are
``unreachable``, and the virtual project itself is ``virtual``: with them every
locked package is either planned or skipped.  Planning that is not ``strict``
collects every package without a usable artifact in ``problems`` instead of
raising at the first, for ``uvroot check``.
"""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Iterable, Mapping
from contextlib import suppress
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Literal

from packaging.markers import Marker
from packaging.utils import NormalizedName

from .errors import LockError, NoCompatibleWheel, PlanError, UsageError
from .lock import Dependency, Lock, LockedPackage, LockedWheel, PackageId, Source
from .project import Project
from .selection import Selection
from .target import Target

# uv writes conflict markers as `extra == 'extra-<len>-<package>-<extra>'` (and
# `group-...`); rewritten to PEP 751's `'...' in extras` they can be evaluated
# against the whole set of active items at once.
_CONFLICT_MARKER = re.compile(r"""\bextra\s*(==|!=)\s*(['"])((?:extra|group)-\d+-[^'"]+)\2""")
Env = dict[str, str | frozenset[str]]
_UNRANKED = 1 << 30  # a tag the target does not accept


@dataclass(frozen=True, slots=True)
class PlannedDist:
    """One distribution to install: a locked wheel that fits the target, or a build from source."""

    package: LockedPackage
    wheel: LockedWheel | None
    """None when the package is built from source (a local tree, git, or an sdist)."""
    requested: bool
    """A direct dependency of a selected root (gets a REQUESTED file)."""
    built_version: str | None = None
    """A dynamic version (none in uv.lock), as the wheel built earlier for the same source says."""

    @property
    def name(self) -> str:
        """The normalized project name."""
        return self.package.name

    @property
    def version(self) -> str:
        """The locked version, or the built one for a dynamic version ("" before the first build)."""
        return self.package.id.version or self.built_version or ""

    @property
    def label(self) -> str:
        """``name==version``, or the name alone for a dynamic version not known before a build."""
        return f"{self.name}=={self.version}" if self.version else self.name

    @property
    def build_from(self) -> Literal["tree", "sdist"] | None:
        """What a build starts from: a source tree (local or git), an sdist, or nothing (a wheel)."""
        if self.wheel is not None:
            return None
        return "tree" if self.package.id.source.is_local else "sdist"

    @property
    def artifact(self) -> str:
        """What is installed, for listings: a wheel filename or the source that is built."""
        if self.wheel is not None:
            return self.wheel.filename
        if self.build_from == "sdist" and self.package.sdist is not None:
            return f"build from {self.package.sdist.filename}"
        return f"build from {self.package.id.source.kind} {self.package.id.source.value}"


def plural(count: int, noun: str) -> str:
    """``1 package``, ``2 packages``."""
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


SkipKind = Literal["flag", "marker", "group", "extra", "unreachable", "virtual"]
Block = tuple[SkipKind, str, str]  # (kind, detail, label of the package whose edge is blocked)


@dataclass(frozen=True, slots=True)
class Skipped:
    """A locked package that is not installed, and why."""

    package: LockedPackage
    kind: SkipKind
    """``flag`` (a --no-install-* or --only-* flag), ``marker``, ``group``, ``extra``, ``unreachable``, ``virtual``."""
    detail: str
    """The flag, the marker text, or the group or extra name."""
    parent: str = ""
    """``name==version`` of the package whose edge was not followed (marker, group and extra skips)."""

    @property
    def label(self) -> str:
        """``name==version``."""
        return self.package.label

    @property
    def reason(self) -> str:
        """For people: ``--no-install-project``, ``marker sys_platform == 'win32'``, ``group docs``..."""
        return self.detail if self.kind == "flag" else f"{self.kind} {self.detail}".rstrip()


@dataclass(frozen=True, slots=True)
class Problem:
    """A package with neither a wheel for the target nor a source to build (non-strict planning)."""

    package: LockedPackage
    why: str
    """``no wheel for <target> (tags tried: ...)``."""

    @property
    def wheels(self) -> tuple[str, ...]:
        """The wheels uv.lock has for the package."""
        return tuple(wheel.filename for wheel in self.package.wheels)

    @property
    def message(self) -> str:
        """The error of a strict plan."""
        return f"{self.package.label} has {self.why}"

    @property
    def hint(self) -> str:
        """What the lock offers instead."""
        return f"wheels in uv.lock: {', '.join(self.wheels) or 'none'}"


@dataclass(frozen=True, slots=True)
class InstallPlan:
    """Every distribution to stage, sorted by name, plus what was left out on purpose."""

    target: Target
    dists: tuple[PlannedDist, ...]
    skipped: tuple[Skipped, ...] = ()
    problems: tuple[Problem, ...] = ()
    """Only when planned with ``strict=False``: packages that cannot be staged (else the first one raises)."""


@dataclass(frozen=True, slots=True)
class BuildPolicy:
    """uv's ``--no-build`` / ``--no-binary`` (and their ``-package`` forms): wheels only, or sdists only."""

    no_build: bool = False
    no_build_packages: frozenset[str] = frozenset()
    no_binary: bool = False
    no_binary_packages: frozenset[str] = frozenset()

    def may_build(self, name: str) -> bool:
        """Whether an sdist of ``name`` may be built."""
        return not self.no_build and name not in self.no_build_packages

    def may_use_wheel(self, name: str) -> bool:
        """Whether a locked wheel of ``name`` may be installed."""
        return not self.no_binary and name not in self.no_binary_packages


def plan_install(
    lock: Lock,
    project: Project,
    target: Target,
    selection: Selection,
    *,
    explain: bool,
    strict: bool = True,
    policy: BuildPolicy | None = None,
) -> InstallPlan:
    """Choose what to install for every package the target needs.

    ``explain`` adds a :class:`Skipped` for every locked package left out (a
    second walk); ``strict=False`` collects packages that cannot be staged in
    ``problems`` instead of raising :class:`NoCompatibleWheel` at the first.
    """
    _check_python(lock, target)
    _check_environments(lock, target)
    roots = _roots(lock, project, selection)
    _check_conflicts(lock, roots, selection)
    env: Env = {
        **target.environment(),
        "extras": _active(roots, selection),
        "dependency_groups": frozenset(),  # pragma: no mutate: packaging's lock_file context defaults it so
        "extra": "",  # a plain `extra == ...` edge marker (not uv's conflict spelling) is never active
    }
    needed, direct, blocked = _walk(lock, roots, env, selection, explain=explain)
    needed.pop(_WORKSPACE_ROOT, None)
    walked = set(needed)
    # With no [project], the members are not "the project" (--no-install-project keeps them) but
    # --only-group still leaves them out.
    projects = roots if project.is_package or not selection.project_dependencies else []
    skipped = _skip(needed, projects, lock, selection, explain)
    if explain:
        skipped += _explained(lock, blocked, walked)
    policy = policy or BuildPolicy()
    chosen = [_choose(package, target, package.id in direct, policy) for package in needed.values()]
    problems = [found for found in chosen if isinstance(found, Problem)]
    if strict and problems:
        raise NoCompatibleWheel(problems[0].message, hint=problems[0].hint)
    dists = [found for found in chosen if isinstance(found, PlannedDist)]
    dists.sort(key=lambda planned: (planned.name, planned.version))
    skipped.sort(key=lambda item: (item.package.name, item.package.id.version or ""))
    problems.sort(key=lambda problem: problem.package.label)
    return InstallPlan(target=target, dists=tuple(dists), skipped=tuple(skipped), problems=tuple(problems))


def with_built_versions(plan: InstallPlan, built: Mapping[str, str]) -> InstallPlan:
    """``plan`` with the versions of dynamic-version sources filled in from earlier builds (name -> version)."""
    dists = tuple(
        replace(planned, built_version=built[planned.name])
        if not planned.package.id.version and planned.name in built
        else planned
        for planned in plan.dists
    )
    return replace(plan, dists=dists)


def best_wheel(package: LockedPackage, target: Target) -> LockedWheel | None:
    """The wheel uv would choose: best tag priority, then the highest build tag; None if none fits.

    A build tag compares as uv compares it: its number, then the rest (``1b`` above ``1a``); a wheel
    without one loses to every wheel with one.
    """
    rank = target.rank
    scored = [(min(rank.get(tag, _UNRANKED) for tag in wheel.tags), wheel) for wheel in package.wheels]
    scored = [(score, wheel) for score, wheel in scored if score != _UNRANKED]
    if not scored:
        return None
    best = min(score for score, _ in scored)
    return max((wheel for score, wheel in scored if score == best), key=lambda wheel: wheel.build)


def _choose(package: LockedPackage, target: Target, requested: bool, policy: BuildPolicy) -> PlannedDist | Problem:
    if package.id.source.is_local:
        return PlannedDist(package, None, requested)  # a tree: always built, never editable
    wheel = best_wheel(package, target) if policy.may_use_wheel(package.name) else None
    if wheel is None and package.sdist is None:
        if not policy.may_use_wheel(package.name) and package.wheels:
            return Problem(package, "no sdist, and --no-binary forbids its wheels")
        tried = ", ".join(str(tag) for tag in target.tags[:3])
        return Problem(package, f"no wheel for {target} (tags tried: {tried}, ... {len(target.tags)} in all)")
    if wheel is None and not policy.may_build(package.name):
        assert package.sdist is not None
        return Problem(package, f"only an sdist ({package.sdist.filename}), and --no-build forbids building it")
    return PlannedDist(package, wheel, requested)


_WORKSPACE_ROOT = PackageId(NormalizedName("(workspace root)"), None, Source("virtual", ""))


def _roots(lock: Lock, project: Project, selection: Selection) -> list[LockedPackage]:
    if not project.is_package and selection.package is None:
        # A workspace root (or directory) with no [project]: uv syncs every member and the
        # root's own groups, which the lock keeps in [manifest.dependency-groups].
        members = [p for p in lock.packages if p.name in lock.members and p.id.source.kind != "registry"]
        return [*members, LockedPackage(_WORKSPACE_ROOT, dependency_groups=lock.groups)]
    if selection.all_packages:
        members = [p for p in lock.packages if p.name in lock.members and p.id.source.kind != "registry"]
        return members or [_project_package(lock, project)]
    if selection.package is not None:
        found = [p for p in lock.packages if p.name == selection.package and p.id.source.kind != "registry"]
        if not found or (lock.members and selection.package not in lock.members):
            listed = ", ".join(sorted(lock.members)) or "none"
            raise PlanError(
                f"--package {selection.package} is not a workspace member (members: {listed})",
                hint="name a member listed in the lock's [manifest] members",
            )
        return found[:1]
    return [_project_package(lock, project)]


def _walk(
    lock: Lock, roots: list[LockedPackage], env: Env, selection: Selection, *, explain: bool
) -> tuple[dict[PackageId, LockedPackage], set[PackageId], dict[PackageId, Block]]:
    """The one graph walk: what the target needs, the roots' direct dependencies, and (``explain``) why the rest is not.

    Breadth first over (package, extras, blocked): an edge whose marker is false for the
    target, or a root edge of an unselected extra or group, is followed only to explain
    (and then without failing on an edge that does not resolve); the shortest path decides,
    and the first blocked edge on it.
    """
    needed: dict[PackageId, LockedPackage] = {root.id: root for root in roots}
    direct: set[PackageId] = set()
    blocked: dict[PackageId, Block] = {}
    todo: deque[tuple[LockedPackage, frozenset[str], Block | None]] = deque()

    def push(edge: Dependency, parent: LockedPackage, block: Block | None) -> None:
        if block is None:
            todo.append((lock.resolve(edge, parent, env), edge.extras, None))
            return
        with suppress(LockError):  # an edge the install never follows must not fail an explanation
            todo.append((lock.resolve(edge, parent, env), edge.extras, block))

    for root in roots:
        for edge, block in _root_edges(root, selection, env):
            if block is None:
                direct.add(lock.resolve(edge, root, env).id)
            if block is None or explain:
                push(edge, root, block)
    seen: set[tuple[PackageId, frozenset[str], bool]] = set()
    while todo:
        package, extras, block = todo.popleft()
        if (package.id, extras, block is None) in seen:
            continue
        seen.add((package.id, extras, block is None))
        if block is None:
            needed[package.id] = package
        else:
            blocked.setdefault(package.id, block)
        follow = [*package.dependencies, *(d for e in extras for d in package.optional_dependencies.get(e, ()))]
        for edge in follow:
            child = block or (None if _holds(edge, env) else _marker_block(edge, package))
            if child is None or explain:
                push(edge, package, child)
    return needed, direct, blocked


def _root_edges(root: LockedPackage, selection: Selection, env: Env) -> list[tuple[Dependency, Block | None]]:
    """Every edge of a root, each with what blocks it (None: the install follows it)."""

    def check(edge: Dependency, unselected: Block | None) -> tuple[Dependency, Block | None]:
        if unselected is not None:
            return edge, unselected
        return edge, None if _holds(edge, env) else _marker_block(edge, root)

    only: Block | None = ("flag", "--only-group/--only-dev", root.label) if not selection.project_dependencies else None
    edges = [check(edge, only) for edge in root.dependencies]
    for extra, deps in sorted(root.optional_dependencies.items()):
        block: Block | None = None if extra in selection.extras else ("extra", extra, root.label)
        edges += [check(edge, block) for edge in deps]
    for group, deps in sorted(root.dependency_groups.items()):
        block = None if group in selection.groups else ("group", group, root.label)
        edges += [check(edge, block) for edge in deps]
    return edges


def _skip(
    needed: dict[PackageId, LockedPackage],
    roots: list[LockedPackage],
    lock: Lock,
    selection: Selection,
    explain: bool,
) -> list[Skipped]:
    """Drop what the --no-install-* flags (and virtual sources) leave out; their dependencies stay."""
    project_ids = {root.id for root in roots} if not selection.all_packages else set()
    # A single project's lock lists no members: the project is the whole workspace (uv's meaning).
    workspace = set(lock.members) or {root.name for root in roots}  # (a root is never a registry package)
    skipped = []
    for package_id, package in list(needed.items()):
        reason = _skip_reason(package, package_id in project_ids, package.name in workspace, selection)
        if reason is not None:
            del needed[package_id]
            if reason:
                skipped.append(Skipped(package, "flag", reason))
            elif explain:
                skipped.append(Skipped(package, "virtual", "a virtual project is never installed"))
    return skipped


def _explained(lock: Lock, blocked: dict[PackageId, Block], walked: set[PackageId]) -> list[Skipped]:
    """Every locked package the install does not reach, with why (see the module doc)."""
    skipped = [
        Skipped(package, *blocked[package.id])
        for package in lock.packages
        if package.id in blocked and package.id not in walked
    ]
    skipped += [
        Skipped(package, "unreachable", "not a dependency of the selected project or members")
        for package in lock.packages
        if package.id not in walked and package.id not in blocked
    ]
    return skipped


def _marker_block(edge: Dependency, parent: LockedPackage) -> Block:
    return ("marker", str(edge.marker), parent.label)


def _skip_reason(package: LockedPackage, is_project: bool, is_member: bool, selection: Selection) -> str | None:
    kind = package.id.source.kind
    if kind == "virtual":
        return ""  # never installed, and not worth a line
    if is_project and not selection.install_project:
        return "--no-install-project" if selection.project_dependencies else "--only-group/--only-dev"
    if selection.no_install_workspace and is_member and kind != "registry":
        return "--no-install-workspace"
    if selection.no_install_local and kind in ("directory", "editable", "path"):
        return "--no-install-local"
    if package.name in selection.no_install_packages:
        return "--no-install-package"
    return None


def _holds(dependency: Dependency, env: Env) -> bool:
    if dependency.marker is None:
        return True
    text = str(dependency.marker)
    if "extra" not in text:
        return dependency.marker.evaluate(
            env,
            context="lock_file",  # pragma: no mutate: env sets every name a context only gives a default for
        )
    rewritten = _CONFLICT_MARKER.sub(lambda m: f"'{m[3]}' {'in' if m[1] == '==' else 'not in'} extras", text)
    return Marker(rewritten).evaluate(
        env,
        context="lock_file",  # pragma: no mutate: env sets every name a context only gives a default for
    )


def _active(roots: Iterable[LockedPackage], selection: Selection) -> frozenset[str]:
    """The conflict items uv would consider active, in its ``extra-N-name-item`` spelling."""
    items = set()
    for root in roots:
        name = root.name
        items |= {f"extra-{len(name)}-{name}-{e}" for e in selection.extras}
        items |= {f"group-{len(name)}-{name}-{g}" for g in selection.groups}
    return frozenset(items)


def _project_package(lock: Lock, project: Project) -> LockedPackage:
    here = project.dir.resolve()
    for package in lock.by_name(project.name or ""):
        source = package.id.source
        if source.kind in ("editable", "virtual", "directory") and Path(source.value) == here:
            return package
    msg = f"{lock.path} has no entry for the project {project.name or '(unnamed)'} in {project.dir}"
    raise PlanError(msg, hint='the lock is stale or belongs to another project: run "uv lock"')


def _check_python(lock: Lock, target: Target) -> None:
    version = ".".join(map(str, target.python))
    if lock.requires_python is not None and not lock.requires_python.contains(
        version,
        prereleases=True,  # pragma: no mutate: the target's version is three integers, never a pre-release
    ):
        msg = f"the target Python {version} does not satisfy the lock's requires-python {lock.requires_python}"
        raise PlanError(msg, hint="pass a --python-version the project supports")


def _check_environments(lock: Lock, target: Target) -> None:
    """A target outside ``tool.uv.environments`` is refused, as uv refuses it (the lock holds nothing for it)."""
    if not lock.supported_markers:
        return
    env = {**target.environment(), "extra": ""}
    if not any(marker.evaluate(env, context="lock_file") for marker in lock.supported_markers):
        listed = ", ".join(f"`{marker}`" for marker in lock.supported_markers)
        raise PlanError(
            f"the target {target} is not compatible with the lockfile's supported environments: {listed}",
            hint="pick a --python-platform/--python-version inside tool.uv.environments, or add the target "
            "there and run uv lock",
        )


def _check_conflicts(lock: Lock, roots: Iterable[LockedPackage], selection: Selection) -> None:
    """Selected extras or groups that ``tool.uv.conflicts`` declares incompatible: refused before anything is fetched."""
    names = {root.name for root in roots}
    for items in lock.conflicts:
        active = [
            item
            for item in items
            if item.package in names
            and (item.extra in selection.extras if item.extra is not None else item.group in selection.groups)
        ]
        if len(active) < 2:
            continue
        declared = ", ".join(f"`{item}`" for item in items)
        # uv's wording, word for word (uv 0.13.9): "the conflicts" for groups only, a list with an Oxford comma.
        extras = [f"`{item.extra}`" for item in active if item.extra is not None]
        groups = [f"`{item.group}`" for item in active if item.extra is None]
        if not groups:
            chosen, against = f"Extras {_listed(extras)}", "the declared conflicts"
        elif not extras:
            chosen, against = f"Groups {_listed(groups)}", "the conflicts"
        else:
            words = [f"extra {extra}" for extra in extras] + [f"group {group}" for group in groups]
            listed = _listed(words)
            chosen, against = listed[0].upper() + listed[1:], "the declared conflicts"
        raise UsageError(
            f"{chosen} are incompatible with {against}: {{{declared}}}",
            hint="select only one of them (drop --all-extras/--all-groups or one --extra/--group)",
        )


def _listed(words: list[str]) -> str:
    """``a and b``; ``a, b, and c`` (uv's lists)."""
    return " and ".join(words) if len(words) < 3 else f"{', '.join(words[:-1])}, and {words[-1]}"
