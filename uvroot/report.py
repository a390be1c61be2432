"""Turning sync events and results into text for people: the CLI's side of :class:`Reporter`."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, TextIO

from .fetch import LocalFile
from .plan import InstallPlan, PlannedDist
from .state import Changes, InstalledDist
from .sync import SyncReport

if TYPE_CHECKING:
    from rich.progress import Progress, TaskID


class LineReporter:
    """Plain lines: one per package with ``-v``, nothing otherwise (CI logs stay short)."""

    def __init__(self, verbose: bool, quiet: bool = False, stream: TextIO | None = None) -> None:
        self.verbose = verbose
        self.quiet = quiet
        self.stream = stream or sys.stderr  # looked up per instance: tests and tools swap sys.stderr

    def planned(self, plan: InstallPlan, changes: Changes) -> None:  # noqa: D102
        if self.verbose:
            self._say(
                f"target {plan.target}: {len(changes.install)} to install, "
                f"{len(changes.keep)} unchanged, {len(changes.remove)} to remove"
            )

    def fetched(self, planned: PlannedDist, cached: LocalFile) -> None:  # noqa: D102
        if self.verbose:
            self._say(f"verified {cached.path.name}")

    def installed(self, planned: PlannedDist, files: int) -> None:  # noqa: D102
        if self.verbose:
            self._say(f" + {planned.name}=={planned.version} ({files} files)")

    def removed(self, dist: InstalledDist) -> None:  # noqa: D102
        if self.verbose:
            self._say(f" - {dist.name}=={dist.version}")

    def log(self, line: str) -> None:  # noqa: D102
        if self.verbose:
            self._say(line)

    def warn(self, line: str) -> None:  # noqa: D102
        if not self.quiet:
            self._say(line)

    def _say(self, line: str) -> None:
        print(line, file=self.stream, flush=True)


class BarReporter(LineReporter):
    """A rich progress bar on a terminal, over the per-package lines of ``-v``.

    rich is imported only once there is work to show: a no-op sync never pays for it.
    """

    def __init__(self, verbose: bool) -> None:
        super().__init__(verbose)
        self.progress: Progress | None = None
        self.task: TaskID | None = None

    def planned(self, plan: InstallPlan, changes: Changes) -> None:  # noqa: D102
        super().planned(plan, changes)
        if changes.install:
            from rich.progress import Progress

            self.progress = Progress(transient=True)
            self.task = self.progress.add_task("staging", total=2 * len(changes.install))
            self.progress.start()

    def fetched(self, planned: PlannedDist, cached: LocalFile) -> None:  # noqa: D102
        super().fetched(planned, cached)
        self._advance(f"fetched {planned.name}")

    def installed(self, planned: PlannedDist, files: int) -> None:  # noqa: D102
        super().installed(planned, files)
        self._advance(f"installed {planned.name}")

    def close(self) -> None:
        """Remove the bar from the terminal."""
        if self.progress is not None:
            self.progress.stop()

    def _advance(self, description: str) -> None:
        if self.progress is not None and self.task is not None:
            self.progress.update(self.task, advance=1, description=description)

    def _say(self, line: str) -> None:
        if self.progress is None:
            super()._say(line)
        else:
            self.progress.console.print(line, highlight=False, markup=False)


def plan_table(report: SyncReport) -> str:
    """The dry-run listing: one line per package with the wheel chosen for the target."""
    install = {planned.name for planned in report.changes.install}
    lines = [f"plan for {report.plan.target}:"]
    for planned in report.plan.dists:
        action = "install" if planned.name in install else "keep"
        lines.append(f"  {action:8} {planned.name}=={planned.version}  {planned.artifact}")
    lines += [f"  remove   {dist.name}=={dist.version}" for dist in report.changes.remove]
    lines += [f"  skip     {skipped.label} ({skipped.reason})" for skipped in report.plan.skipped]
    return "\n".join(lines)


def summary(report: SyncReport, where: str) -> str:
    """The one-line result of a sync."""
    changes = report.changes
    if not changes.install and not changes.remove:
        return f"{where} is up to date ({len(changes.keep)} packages for {report.plan.target})"
    removed = f", removed {len(changes.remove)}" if changes.remove else ""
    return (
        f"staged {len(changes.install)} packages ({report.files} files from {_size(report.bytes)} of wheels) "
        f"into {where} for {report.plan.target}{removed}, kept {len(changes.keep)}, in {report.seconds:.2f}s"
    )


def _size(count: int) -> str:
    value = float(count)
    for unit in ("B", "KiB", "MiB"):
        if value < 1024:
            return f"{value:.1f} {unit}" if unit != "B" else f"{count} B"
        value /= 1024
    return f"{value:.1f} GiB"
