"""``uvroot check``: can this lock be staged for that target?  Every offender, not only the first.

An offender is a selected package with no locked wheel for the target and
nothing to build (the plan's ``problems``), or one that has only an sdist when
the target is *foreign*: its platform (OS, architecture, libc family) or Python
X.Y is not this machine's, so a build here would produce a wheel for the build
machine, not for the target.  On the host itself an sdist builds for the host
and is fine, unless ``--no-build`` (uv's name) forbids building sdists.  Local
trees (the project, workspace members, path and git sources) are always built
on this machine; they are counted, never offenders.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from .freshness import check_fresh
from .lock import load_lock
from .plan import BuildPolicy, InstallPlan, PlannedDist, plan_install, plural
from .project import discover_project
from .selection import SelectionFlags, select
from .target import Target


@dataclass(frozen=True, slots=True)
class Offender:
    """A package that stops the lock from being staged for the target."""

    label: str
    why: str
    wheels: tuple[str, ...]
    """The wheels uv.lock has for the package."""

    def __str__(self) -> str:
        return f"{self.label}: {self.why}; wheels in uv.lock: {', '.join(self.wheels) or 'none'}"


@dataclass(frozen=True, slots=True)
class CheckResult:
    """The plan for the target and what stops it, if anything."""

    plan: InstallPlan
    offenders: tuple[Offender, ...]
    foreign: bool

    def summary(self) -> str:
        """The success line: how many packages come from wheels and how many are built here."""
        dists = self.plan.dists
        wheels = sum(1 for planned in dists if planned.wheel is not None)
        parts = [f"{wheels} from wheels"]
        if sdists := sum(1 for planned in dists if planned.build_from == "sdist"):
            parts.append(f"{sdists} built from sdists on this machine")
        if trees := sum(1 for planned in dists if planned.build_from == "tree"):
            parts.append(f"{trees} built from local sources on this machine")
        return f"uv.lock can be staged for {self.plan.target}: {plural(len(dists), 'package')} ({', '.join(parts)})"


def host_target() -> Target:
    """The build machine: its platform and the running interpreter's Python (what a build here produces)."""
    return Target.parse(None, None)  # both default to this machine and this interpreter


def is_foreign(target: Target, host: Target) -> bool:
    """True when a wheel built on ``host`` may not run on ``target``.

    The libc *version* does not count: a build here is tagged ``linux_<arch>``,
    which every Linux target of that architecture accepts (as ``sync`` does).
    """
    same_platform = (target.os, target.arch, target.libc) == (host.os, host.arch, host.libc)
    return not same_platform or target.python[:2] != host.python[:2]


def offenders(plan: InstallPlan, *, host: Target, no_build: bool = False) -> list[Offender]:
    """Every package of a non-strict plan that cannot be staged for its target, sorted by name."""
    found = [Offender(problem.package.label, problem.why, problem.wheels) for problem in plan.problems]
    foreign = is_foreign(plan.target, host)
    for planned in plan.dists:
        if planned.build_from == "sdist" and (foreign or no_build):
            found.append(_sdist_offender(planned, plan.target, host, foreign))
    return sorted(found, key=lambda offender: offender.label)


def _sdist_offender(planned: PlannedDist, target: Target, host: Target, foreign: bool) -> Offender:
    sdist = planned.package.sdist
    name = sdist.filename if sdist is not None else "an sdist"
    if foreign:
        why = f"only an sdist ({name}), which would be built for this machine ({host}), not for {target}"
    else:
        why = f"only an sdist ({name}), and --no-build forbids building it"
    return Offender(planned.package.label, why, tuple(wheel.filename for wheel in planned.package.wheels))


def check_lock(
    project_dir: Path,
    target: Target,
    flags: SelectionFlags,
    *,
    locked: bool = False,
    frozen: bool = False,
    policy: BuildPolicy | None = None,
    cache_dir: Path | None = None,
    warn: Callable[[str], None] = lambda line: None,
) -> CheckResult:
    """Plan the lock for ``target`` without raising at the first offender, and list them all.

    ``cache_dir`` keeps uv.lock's parsed form (as ``sync`` does); None parses it afresh.
    """
    project = discover_project(project_dir)
    lock = load_lock(project.root / "uv.lock", cache_dir)
    if not frozen:
        check_fresh(project, lock, strict=locked, warn=warn)
    plan = plan_install(lock, project, target, select(project, flags, lock), strict=False, policy=policy)
    host = host_target()
    return CheckResult(plan, tuple(offenders(plan, host=host)), is_foreign(target, host))
