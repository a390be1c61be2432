"""Turning sync events and results into text for people: the CLI's side of :class:`Reporter`."""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, TextIO

from .fetch import LocalFile
from .plan import InstallPlan, PlannedDist, plural
from .state import Changes, InstalledDist
from .sync import SyncReport

if TYPE_CHECKING:
    from rich.progress import Progress, TaskID

    from .layout import Layout

_WRITE_LOCK = threading.Lock()
_LABELS = {"error": "31", "warning": "33", "hint": "36"}  # red, yellow, cyan: uv's colours


def painted(line: str, color: bool) -> str:
    """``line`` with its leading ``error:``, ``warning:`` or ``hint:`` in bold colour (as uv), if ``color``."""
    label, colon, rest = line.partition(":")
    if not (color and colon and label in _LABELS):
        return line
    return f"\x1b[1;{_LABELS[label]}m{label}\x1b[0m\x1b[1m:\x1b[0m{rest}"


class LineReporter:
    """Plain lines: one per package with ``-v``, nothing otherwise (CI logs stay short)."""

    def __init__(self, verbose: bool, quiet: bool = False, stream: TextIO | None = None, color: bool = False) -> None:
        self.verbose = verbose
        self.quiet = quiet
        self.stream = stream or sys.stderr  # looked up per instance: tests and tools swap sys.stderr
        self.color = color

    def planned(self, plan: InstallPlan, changes: Changes) -> None:  # noqa: D102
        if self.verbose:
            self._say(
                f"target {plan.target}: {len(changes.install)} to install, "
                f"{len(changes.keep)} unchanged, {len(changes.remove)} to remove"
            )

    def downloads(self, dists: tuple[PlannedDist, ...]) -> None:  # noqa: D102
        pass  # lines report each wheel once it is verified, not its bytes

    def downloading(self, planned: PlannedDist, nbytes: int) -> None:  # noqa: D102
        pass

    def fetched(self, planned: PlannedDist, cached: LocalFile) -> None:  # noqa: D102
        if self.verbose:
            self._say(f"verified {cached.path.name}")

    def installed(self, planned: PlannedDist, files: int) -> None:  # noqa: D102
        if self.verbose:
            self._say(f" + {planned.label} ({files} files)")

    def removed(self, dist: InstalledDist) -> None:  # noqa: D102
        if self.verbose:
            self._say(f" - {dist.name}=={dist.version}")

    def log(self, line: str) -> None:  # noqa: D102
        if self.verbose:
            self._say(line)

    def warn(self, line: str) -> None:  # noqa: D102
        if not self.quiet:
            self._say(painted(line, self.color))

    def _say(self, line: str) -> None:
        # Wheels are placed by several threads: one locked write per line, or two lines can interleave.
        with _WRITE_LOCK:
            self.stream.write(line + "\n")
            self.stream.flush()


class BarReporter(LineReporter):
    """Two rich progress bars on a terminal, bytes downloaded and packages placed, over the lines of ``-v``.

    The bars appear with the first piece of real work, so a no-op sync or a dry run
    never imports rich.  They are transient (only the summary line stays) and drawn on
    stderr, the stream the CLI checked is a terminal; the byte bar shows only when
    something is not cached.  Events come from the download threads too.
    """

    def __init__(self, verbose: bool, *, color: bool = True, stream: TextIO | None = None) -> None:
        super().__init__(verbose, stream=stream, color=color)
        self.packages = 0
        self.progress: Progress | None = None
        self.download: TaskID | None = None
        self.install: TaskID | None = None
        self._lock = threading.Lock()

    def planned(self, plan: InstallPlan, changes: Changes) -> None:  # noqa: D102
        super().planned(plan, changes)
        self.packages = len(changes.install)

    def downloads(self, dists: tuple[PlannedDist, ...]) -> None:  # noqa: D102
        if (bars := self._bars()) is None or self.download is None:
            return
        sizes = [planned.wheel.size if planned.wheel else None for planned in dists]
        known = [size for size in sizes if size is not None]
        # A size missing from the lock (the index published none) leaves the total open: the bar pulses.
        total = sum(known) if len(known) == len(sizes) else None
        bars.update(self.download, total=total, visible=True)

    def downloading(self, planned: PlannedDist, nbytes: int) -> None:  # noqa: D102
        if (bars := self.progress or self._bars()) is not None and self.download is not None:
            bars.advance(self.download, nbytes)  # rich's Progress takes its own lock

    def fetched(self, planned: PlannedDist, cached: LocalFile) -> None:  # noqa: D102
        super().fetched(planned, cached)
        if (bars := self._bars()) is not None and self.install is not None:
            bars.update(self.install, note=f"prepared {planned.name}")

    def installed(self, planned: PlannedDist, files: int) -> None:  # noqa: D102
        super().installed(planned, files)
        if (bars := self._bars()) is not None and self.install is not None:
            bars.update(self.install, advance=1, note=planned.name)

    def close(self) -> None:
        """Remove the bars from the terminal."""
        if self.progress is not None:
            self.progress.stop()

    def _bars(self) -> Progress | None:
        with self._lock:
            if self.progress is None and self.packages:
                progress = _progress(self.stream, self.color)
                # Added first, hidden until downloads() says what is missing, so that it is drawn on top.
                self.download = progress.add_task("download", total=None, visible=False, unit="bytes", note="")
                self.install = progress.add_task("install", total=self.packages, unit="packages", note="")
                progress.start()
                self.progress = progress
            return self.progress

    def _say(self, line: str) -> None:
        if self.progress is None:
            super()._say(line)
            return
        from rich.text import Text

        self.progress.console.print(Text.from_ansi(line), highlight=False)  # above the bars


def _progress(stream: TextIO, color: bool) -> Progress:
    """A transient rich Progress on ``stream``: a byte count and speed for downloads, a count for packages."""
    from rich.console import Console, RenderableType
    from rich.progress import (
        BarColumn,
        DownloadColumn,
        MofNCompleteColumn,
        Progress,
        ProgressColumn,
        Task,
        TextColumn,
        TransferSpeedColumn,
    )

    class ByUnit(ProgressColumn):
        """One column drawn by ``for_bytes`` on the download task and by ``for_packages`` on the other."""

        def __init__(self, for_bytes: ProgressColumn, for_packages: ProgressColumn) -> None:
            super().__init__()
            self.for_bytes, self.for_packages = for_bytes, for_packages

        def render(self, task: Task) -> RenderableType:
            return (self.for_bytes if task.fields.get("unit") == "bytes" else self.for_packages).render(task)

    return Progress(
        TextColumn("{task.description:>8}", style="bold"),
        BarColumn(),
        ByUnit(DownloadColumn(binary_units=True), MofNCompleteColumn()),  # KiB, as the summary
        ByUnit(TransferSpeedColumn(), TextColumn("{task.fields[note]}")),
        console=Console(file=stream, no_color=not color, highlight=False),
        transient=True,
    )


def _label(name: str, code: str, color: bool) -> str:
    # As uv: the word in bold colour, the colon bold.
    return f"\x1b[{code}m\x1b[1m{name}\x1b[0m\x1b[1m:\x1b[0m" if color else f"{name}:"


def plan_table(report: SyncReport, layout: Layout | None = None) -> str:
    """The dry-run listing: where files go, then one line per package with the wheel chosen for the target."""
    install = {planned.name for planned in report.changes.install}
    lines = [f"plan for {report.plan.target}:"]
    if layout is not None:
        lines.append(
            f"  into     {layout.site_packages} (scripts {layout.on_disk(layout.scripts)}, #!{layout.interpreter})"
        )
    for planned in report.plan.dists:
        action = "install" if planned.name in install else "keep"
        lines.append(f"  {action:8} {planned.label}  {planned.artifact}")
    lines += [f"  remove   {dist.name}=={dist.version}" for dist in report.changes.remove]
    # Packages no path from the roots reaches would drown the listing (--format json has them).
    shown = [skipped for skipped in report.plan.skipped if skipped.kind not in ("unreachable", "virtual")]
    lines += [f"  skip     {skipped.label} ({skipped.reason})" for skipped in shown]
    return "\n".join(lines)


def summary(report: SyncReport, where: str) -> str:
    """The one-line result of a sync."""
    changes = report.changes
    if not changes.install and not changes.remove:
        return f"{where} is up to date ({plural(len(changes.keep), 'package')} for {report.plan.target})"
    removed = f", removed {len(changes.remove)}" if changes.remove else ""
    return (
        f"staged {plural(len(changes.install), 'package')} ({plural(report.files, 'file')} from "
        f"{_size(report.bytes)} of wheels) "
        f"into {where} for {report.plan.target}{removed}, kept {len(changes.keep)}, in {report.seconds:.2f}s"
    )


def _size(count: int) -> str:
    value = float(count)
    for unit in ("B", "KiB", "MiB"):
        if value < 1024:
            return f"{value:.1f} {unit}" if unit != "B" else f"{count} B"
        value /= 1024
    return f"{value:.1f} GiB"


# -- the console: colour, errors and the reporter a command uses (as uv decides them) ----------

COLORS = ("auto", "always", "never")


class Console:
    """How a command writes to people: ``--color``, ``-q``/``-v`` and ``--no-progress`` decided once."""

    def __init__(self, color: str = "auto", *, quiet: bool = False, verbose: bool = False, progress: bool = True):
        self.color = color
        self.quiet = quiet
        self.verbose = verbose
        self.progress = progress

    def colored(self, stream: TextIO) -> bool:
        """Whether to style text written to ``stream``, decided as uv decides it.

        An explicit always/never wins; in auto a non-empty NO_COLOR turns colour off, then a
        non-empty FORCE_COLOR or CLICOLOR_FORCE turns it on; otherwise only a terminal gets colour.
        """
        if self.color != "auto":
            return self.color == "always"
        if os.environ.get("NO_COLOR"):
            return False
        if os.environ.get("FORCE_COLOR") or os.environ.get("CLICOLOR_FORCE"):
            return True
        return stream.isatty()

    def error(self, message: str, hint: str | None, details: Iterable[str] = ()) -> None:
        """``error: message``, indented detail lines, then ``hint: ...``, on stderr."""
        color = self.colored(sys.stderr)
        lines = [f"{_label('error', '31', color)} {message}", *(f"  {line}" for line in details)]
        if hint:
            lines.append(f"{_label('hint', '36', color)} {hint}")
        with _WRITE_LOCK:
            sys.stderr.write("\n".join(lines) + "\n")
            sys.stderr.flush()

    @contextmanager
    def reporter(self) -> Iterator[LineReporter]:
        """Bars only for a person at a terminal: CI logs and pipes get plain lines.

        ``--color never`` asks for no escape sequences at all (a bar is drawn with them), and
        ``--no-progress`` (``UV_NO_PROGRESS``) for no bars.
        """
        color = self.colored(sys.stderr)
        plain = self.quiet or not self.progress or self.color == "never"
        if plain or not sys.stderr.isatty() or os.environ.get("CI"):
            yield LineReporter(self.verbose and not self.quiet, self.quiet, color=color)
            return
        bar = BarReporter(self.verbose, color=color)
        try:
            yield bar
        finally:
            bar.close()
