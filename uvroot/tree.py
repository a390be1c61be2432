"""Filesystem helpers shared by spreading and removing: a journal of written files, pruning."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class Journal:
    """Every file a sync wrote, so a failure can take them all back."""

    top: Path
    written: list[Path] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def record(self, path: Path) -> None:
        """Note a file about to be written (before writing, so a partial file is rolled back too)."""
        with self.lock:
            self.written.append(path)

    def rollback(self) -> None:
        """Delete what was written, then any directory left empty by that."""
        parents: set[Path] = set()
        for path in reversed(self.written):
            path.unlink(missing_ok=True)
            parents.update(p for p in path.parents if p.is_relative_to(self.top) and p != self.top)
        prune_empty(parents)
        self.written.clear()


def prune_empty(directories: Iterable[Path]) -> None:
    """Remove the directories that are empty, deepest first."""
    for directory in sorted(directories, key=lambda p: len(p.parts), reverse=True):
        with contextlib.suppress(OSError):  # not empty, or already gone
            directory.rmdir()
