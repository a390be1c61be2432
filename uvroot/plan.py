"""(Lock, Project, Target, Selection) -> :class:`InstallPlan`.  Pure: no I/O.

The walk is uv's ``Lock::to_resolution``: start at the project, add the selected
extras and groups, follow every edge whose marker holds for the TARGET, then
pick each package's best wheel by (tag priority, build tag).
"""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass

from packaging.markers import Marker

from .errors import NoCompatibleWheel, PlanError, UnsupportedSource
from .lock import Dependency, Lock, LockedPackage, LockedWheel, PackageId
from .project import Project
from .selection import Selection
from .target import Target

# uv writes conflict markers as `extra == 'extra-<len>-<package>-<extra>'` (and
# `group-...`); rewritten to PEP 751's `'...' in extras` they can be evaluated
# against the whole set of active items at once.
_CONFLICT_MARKER = re.compile(r"""\bextra\s*(==|!=)\s*(['"])((?:extra|group)-\d+-[^'"]+)\2""")


@dataclass(frozen=True, slots=True)
class PlannedWheel:
    """One distribution to install: the locked package and the wheel chosen for the target."""

    package: LockedPackage
    wheel: LockedWheel
    requested: bool
    """A direct dependency of the project (gets a REQUESTED file)."""

    @property
    def name(self) -> str:
        """The normalized project name."""
        return self.package.name

    @property
    def version(self) -> str:
        """The locked version."""
        return self.package.id.version or ""


@dataclass(frozen=True, slots=True)
class Skipped:
    """A locked package that is needed but not installed, and why."""

    label: str
    reason: str


@dataclass(frozen=True, slots=True)
class InstallPlan:
    """Every wheel to stage, sorted by name, plus what was left out on purpose."""

    target: Target
    wheels: tuple[PlannedWheel, ...]
    skipped: tuple[Skipped, ...] = ()


def plan_install(lock: Lock, project: Project, target: Target, selection: Selection) -> InstallPlan:
    """Choose one wheel for every package the target needs."""
    _check_python(lock, target)
    root = _project_package(lock, project)
    env: dict[str, str | frozenset[str]] = {
        **target.environment(),
        "extras": _active(project, selection),
        "dependency_groups": frozenset(),
        "extra": "",  # a plain `extra == ...` edge marker (not uv's conflict spelling) is never active
    }
    needed, direct = _walk(lock, root, env, selection)
    skipped: list[Skipped] = []
    if not selection.install_project or root.id.source.kind == "virtual":
        needed.pop(root.id, None)
        if root.id.source.kind != "virtual":
            skipped.append(Skipped(root.label, "--no-install-project"))
    _refuse_unsupported(needed.values(), target)
    wheels = [PlannedWheel(p, best_wheel(p, target), p.id in direct) for p in needed.values()]
    wheels.sort(key=lambda planned: (planned.name, planned.version))
    return InstallPlan(target=target, wheels=tuple(wheels), skipped=tuple(skipped))


def best_wheel(package: LockedPackage, target: Target) -> LockedWheel:
    """The wheel uv would choose: best tag priority, then the highest build tag."""
    scored = [
        (min(target.rank[tag] for tag in wheel.tags if tag in target.rank), wheel)
        for wheel in package.wheels
        if not wheel.tags.isdisjoint(target.rank)
    ]
    if not scored:
        offered = ", ".join(w.filename for w in package.wheels) or "none (sdist only)"
        tried = ", ".join(str(tag) for tag in target.tags[:3])
        msg = f"{package.label} has no wheel for {target} (tags tried: {tried}, ... {len(target.tags)} in all)"
        raise NoCompatibleWheel(msg, hint=f"wheels in uv.lock: {offered}")
    return min(scored, key=lambda pair: (pair[0], _negated(pair[1].build)))[1]


def _negated(build: tuple[()] | tuple[int, str]) -> tuple[int, str]:
    # Higher build tags win; a missing build tag sorts lowest.
    return (-build[0], "") if build else (1, "")


def _walk(
    lock: Lock, root: LockedPackage, env: dict[str, str | frozenset[str]], selection: Selection
) -> tuple[dict[PackageId, LockedPackage], set[PackageId]]:
    edges = list(root.dependencies) if selection.project_dependencies else []
    for extra in sorted(selection.extras):
        edges += root.optional_dependencies.get(extra, ())
    for group in sorted(selection.groups):
        edges += root.dependency_groups.get(group, ())
    needed: dict[PackageId, LockedPackage] = {root.id: root}
    direct = {lock.resolve(d, root).id for d in edges if _holds(d, env)}
    todo = deque((lock.resolve(d, root), d.extras) for d in edges if _holds(d, env))
    seen: set[tuple[PackageId, frozenset[str]]] = set()
    while todo:
        package, extras = todo.popleft()
        if (package.id, extras) in seen:
            continue
        seen.add((package.id, extras))
        needed[package.id] = package
        follow = [*package.dependencies, *(d for e in extras for d in package.optional_dependencies.get(e, ()))]
        todo.extend((lock.resolve(d, package), d.extras) for d in follow if _holds(d, env))
    return needed, direct


def _holds(dependency: Dependency, env: dict[str, str | frozenset[str]]) -> bool:
    if dependency.marker is None:
        return True
    text = str(dependency.marker)
    if "extra" not in text:
        return dependency.marker.evaluate(env, context="lock_file")
    rewritten = _CONFLICT_MARKER.sub(lambda m: f"'{m[3]}' {'in' if m[1] == '==' else 'not in'} extras", text)
    return Marker(rewritten).evaluate(env, context="lock_file")


def _active(project: Project, selection: Selection) -> frozenset[str]:
    """The conflict items uv would consider active, in its ``extra-N-name-item`` spelling."""
    name = project.name or ""
    items = [f"extra-{len(name)}-{name}-{e}" for e in selection.extras]
    items += [f"group-{len(name)}-{name}-{g}" for g in selection.groups]
    return frozenset(items)


def _project_package(lock: Lock, project: Project) -> LockedPackage:
    for package in lock.by_name(project.name or ""):
        if package.id.source.kind in ("editable", "virtual", "directory") and package.id.source.value == ".":
            return package
    msg = f"{lock.path} has no entry for the project {project.name or '(unnamed)'} in {project.dir}"
    raise PlanError(msg, hint='the lock is stale or belongs to another project: run "uv lock"')


def _check_python(lock: Lock, target: Target) -> None:
    version = ".".join(map(str, target.python))
    if lock.requires_python is not None and not lock.requires_python.contains(version, prereleases=True):
        msg = f"the target Python {version} does not satisfy the lock's requires-python {lock.requires_python}"
        raise PlanError(msg, hint="pass a --python-version the project supports")


def _refuse_unsupported(packages: Iterable[LockedPackage], target: Target) -> None:
    local = sorted(f"{p.label} ({p.id.source.kind} source)" for p in packages if p.id.source.is_local)
    sdist_only = sorted(p.label for p in packages if not p.id.source.is_local and not p.wheels)
    problems = [*local, *(f"{label} (sdist only)" for label in sdist_only)]
    if problems:
        msg = f"cannot stage {', '.join(problems)} for {target}: building from source is not supported yet"
        raise UnsupportedSource(
            msg,
            hint="use --no-install-project to skip the project itself; other local or "
            "sdist-only packages need a prebuilt wheel in the lock",
        )
