"""A content-addressed wheel cache: ``wheels-v1/<sha[:2]>/<sha256>/<original filename>``.

Entries are published by one ``os.replace`` from a temporary file in the same
cache, so a reader never sees half an entry.  The original filename is kept
because installer parses the distribution's name and version from it.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

from .errors import FetchError
from .lock import LockedSdist, LockedWheel

_TAG = b"Signature: 8a477f597d28d172789f06886806bc55\n# This is a cache directory created by uvroot.\n"


def default_cache_dir() -> Path:
    """``$UVROOT_CACHE_DIR``, else ``$XDG_CACHE_HOME/uvroot``, else ``~/.cache/uvroot``."""
    if explicit := os.environ.get("UVROOT_CACHE_DIR"):
        return Path(explicit)
    base = os.environ.get("XDG_CACHE_HOME") or Path("~/.cache").expanduser()
    return Path(base) / "uvroot"


class WheelCache:
    """Verified wheels, keyed by their sha256."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def path_for(self, wheel: LockedWheel | LockedSdist) -> Path:
        """Where a wheel with this hash lives (whether or not it is there)."""
        digest = wheel.sha256 or ""
        return self.root / "wheels-v1" / digest[:2] / digest / wheel.filename

    def get(self, wheel: LockedWheel | LockedSdist) -> Path | None:
        """The cached file, or None on a miss."""
        path = self.path_for(wheel)
        return path if wheel.sha256 and path.is_file() else None

    @contextmanager
    def new_entry(self, wheel: LockedWheel | LockedSdist) -> Iterator[BinaryIO]:
        """A file to write the wheel into; published only if the block exits cleanly."""
        final = self.path_for(wheel)
        try:
            self._prepare()
            final.parent.mkdir(parents=True, exist_ok=True)
            handle, temporary = tempfile.mkstemp(dir=self.root / "tmp", suffix=".part")
        except OSError as exc:
            raise FetchError(
                f"cannot write to the cache at {self.root}: {exc}", hint="pass a writable --cache-dir, or --no-cache"
            ) from None
        try:
            with os.fdopen(handle, "wb") as sink:
                yield sink
            Path(temporary).replace(final)
        finally:
            Path(temporary).unlink(missing_ok=True)

    def built(self, key: str) -> Path | None:
        """The wheel built earlier for ``key`` (source fingerprint + target), or None."""
        entry = self.root / "built-v1" / key
        wheels = sorted(entry.glob("*.whl")) if entry.is_dir() else []
        return wheels[0] if wheels else None

    @contextmanager
    def scratch(self) -> Iterator[Path]:
        """A temporary directory inside the cache (same filesystem, so publishing is a rename)."""
        self._prepare()
        with tempfile.TemporaryDirectory(dir=self.root / "tmp", prefix="work-") as work:
            yield Path(work)

    def publish_built(self, key: str, wheel: Path) -> Path:
        """Move a freshly built wheel into ``built-v1/<key>/``, atomically; returns its new path."""
        final = self.root / "built-v1" / key
        final.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(dir=self.root / "tmp", prefix="built-"))
        wheel.replace(staging / wheel.name)
        try:
            staging.rename(final)
        except OSError:  # another sync published the same build first: keep theirs
            (staging / wheel.name).unlink()
            staging.rmdir()
        return final / wheel.name

    def _prepare(self) -> None:
        (self.root / "tmp").mkdir(parents=True, exist_ok=True)
        tag = self.root / "CACHEDIR.TAG"
        if not tag.exists():
            tag.write_bytes(_TAG)
