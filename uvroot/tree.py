"""Placing files with uv's link modes, and the epoch every staged file carries."""

from __future__ import annotations

import errno
import fcntl
import os
import shutil
import threading
from collections.abc import Callable
from typing import BinaryIO, Literal

from .errors import UsageError

DEFAULT_EPOCH = 315532800
"""1980-01-01T00:00:00Z: every staged file's mtime unless SOURCE_DATE_EPOCH says otherwise (zip's first second)."""
CACHE_EPOCH = DEFAULT_EPOCH
"""The mtime of every file in the unpacked cache, so hardlinked files carry the default epoch."""


def source_date_epoch() -> int:
    """The mtime of everything a sync writes: ``SOURCE_DATE_EPOCH`` (reproducible-builds.org) or the default."""
    value = os.environ.get("SOURCE_DATE_EPOCH", "").strip()
    if not value:
        return DEFAULT_EPOCH
    if not value.isdigit():
        raise UsageError(
            f"SOURCE_DATE_EPOCH={value!r} is not a number of seconds since 1970",
            hint="set it to e.g. $(git log -1 --format=%ct), or unset it for the fixed default (1980-01-01)",
        )
    return int(value)


LinkMode = Literal["clone", "hardlink", "copy", "symlink"]
LINK_MODES: tuple[LinkMode, ...] = ("clone", "hardlink", "copy", "symlink")
_FICLONE = 0x40049409  # ioctl(2) number of FICLONE on Linux: a copy-on-write clone (btrfs, xfs)
_CANNOT_LINK = {errno.EXDEV, errno.EPERM, errno.EMLINK, errno.EOPNOTSUPP, errno.ENOTTY, errno.EINVAL, errno.ENOSYS}


class Placer:
    """Puts a cached file at a destination with uv's link modes, falling back once, with a notice."""

    def __init__(self, mode: LinkMode, notice: Callable[[str], None] | None = None, epoch: int = DEFAULT_EPOCH) -> None:
        self.mode = mode
        self.epoch = epoch
        # A hard link shares the cache file's mtime (CACHE_EPOCH): another epoch needs a file of its own.
        self._can_share = epoch == CACHE_EPOCH
        self._notice = notice
        self._fallback: LinkMode | None = None
        self._lock = threading.Lock()

    def place(self, source: str, destination: str) -> None:
        """Create ``destination`` (which must not exist) with ``source``'s contents, mode and the epoch."""
        mode = self._fallback or self.mode
        if mode == "symlink":
            os.symlink(source, destination)
        elif mode == "clone" and self._try(_clone, source, destination, "hardlink"):
            pass
        elif mode != "copy" and self._can_share and self._try(os.link, source, destination, "copy"):
            return  # the cache file already has the epoch
        else:
            _copy(source, destination)
        os.utime(destination, (self.epoch, self.epoch), follow_symlinks=False)

    def _try(self, link: Callable[[str, str], None], source: str, destination: str, instead: LinkMode) -> bool:
        try:
            link(source, destination)
        except OSError as exc:
            if exc.errno not in _CANNOT_LINK:
                raise
            self._fall_back(instead, exc)
            return False
        return True

    def _fall_back(self, instead: LinkMode, exc: OSError) -> None:
        with self._lock:
            if self._fallback is None or LINK_MODES.index(instead) > LINK_MODES.index(self._fallback):
                self._fallback = instead
                if self._notice and instead == "copy":  # clone -> hardlink is silent, as in uv
                    self._notice(
                        f"notice: --link-mode {self.mode} is not possible here ({exc.strerror}); "
                        f"using {instead} instead"
                    )


def _clone(source: str, destination: str) -> None:
    with open(source, "rb") as src, open(destination, "xb") as dst:
        try:
            fcntl.ioctl(dst.fileno(), _FICLONE, src.fileno())
        except OSError:
            dst.close()
            os.unlink(destination)
            raise
    shutil.copymode(source, destination)


def _copy(source: str, destination: str) -> None:
    # Exclusive create (never overwrite), then a kernel-side copy; a failed copy is removed.
    with open(source, "rb") as src, open(destination, "xb") as dst:
        try:
            _send(src, dst)
        except BaseException:
            os.unlink(destination)
            raise
    shutil.copymode(source, destination)


def _send(src: BinaryIO, dst: BinaryIO) -> None:
    size = os.fstat(src.fileno()).st_size
    offset = 0
    try:
        # pragma below: <= only adds a last sendfile at the end of the file, which returns 0 and breaks
        while offset < size:  # pragma: no mutate
            sent = os.sendfile(dst.fileno(), src.fileno(), offset, size - offset)
            if sent == 0:
                # pragma below: its only mutant, return, is the same: nothing follows the loop
                break  # pragma: no mutate
            offset += sent
    except OSError:  # no sendfile for this pair of files
        src.seek(0)
        dst.seek(0)
        dst.truncate()
        shutil.copyfileobj(src, dst)
