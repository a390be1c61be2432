"""Download, verify, cache: the only module that talks to the network (via requests).

Every byte is hashed as it is written; a wheel reaches the cache only when its
sha256 (and size, where the lock has one) matches uv.lock.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from .cache import WheelCache
from .errors import FetchError, HashMismatch, redact
from .lock import LockedSdist, LockedWheel

if TYPE_CHECKING:
    import requests

_CHUNK = 1 << 16
_TIMEOUT = 30


class Downloader(Protocol):
    """Yields the bytes at a URL, raising :class:`FetchError` on failure."""

    def chunks(self, url: str) -> Iterator[bytes]:
        """Stream the body of ``url``."""
        ...


class RequestsDownloader:
    """A :class:`Downloader` over a pooled ``requests.Session``."""

    def __init__(self, session: requests.Session | None = None) -> None:
        self._session = session

    @property
    def session(self) -> requests.Session:
        """The pooled session, created on first use: no-op and offline runs never import requests."""
        if self._session is None:
            import requests

            self._session = requests.Session()
        return self._session

    def chunks(self, url: str) -> Iterator[bytes]:
        """Stream ``url``; HTTP and connection errors become :class:`FetchError`."""
        import requests

        try:
            with self.session.get(url, stream=True, timeout=_TIMEOUT) as response:
                response.raise_for_status()
                yield from response.iter_content(_CHUNK)
        except requests.RequestException as exc:
            status = getattr(exc.response, "status_code", None)
            why = f"HTTP {status}" if status else type(exc).__name__
            raise FetchError(
                f"cannot download {redact(url)}: {why}",
                hint="check the index is reachable, or use --offline with a warm cache",
            ) from None


Artifact = LockedWheel | LockedSdist


@dataclass(frozen=True, slots=True)
class LocalFile:
    """A verified wheel or sdist on local disk, under its original filename."""

    path: Path
    sha256: str | None
    size: int


def fetch(wheel: Artifact, cache: WheelCache, downloader: Downloader, *, offline: bool) -> LocalFile:
    """Return a verified local copy of a wheel or sdist, downloading only on a cache miss."""
    url = wheel.url or ""
    if "://" not in url:
        return _local(wheel, Path(url))
    if wheel.sha256 is None:
        raise FetchError(
            f"uv.lock has no hash for {wheel.filename} from {redact(url)}",
            hint="uvroot installs remote files only when uv.lock pins their sha256",
        )
    if (hit := cache.get(wheel)) is not None:
        return LocalFile(hit, wheel.sha256, hit.stat().st_size)
    if offline:
        raise FetchError(
            f"{wheel.filename} is not in the cache at {cache.root} and --offline forbids downloading it",
            hint="run once without --offline (or with the same --cache-dir) to fill the cache",
        )
    with cache.new_entry(wheel) as sink:
        digest, size = hashlib.sha256(), 0
        for chunk in downloader.chunks(url):
            digest.update(chunk)
            size += len(chunk)
            sink.write(chunk)
        _verify(wheel, digest.hexdigest(), size, redact(url))
    return LocalFile(cache.path_for(wheel), wheel.sha256, size)


def _local(wheel: Artifact, path: Path) -> LocalFile:
    # A wheel from a local directory or path source: read in place, verified when hashed.
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise FetchError(
            f"cannot read {path}: {exc.strerror}", hint="the lock points at a local file that moved"
        ) from None
    if wheel.sha256 is not None:
        _verify(wheel, hashlib.sha256(data).hexdigest(), len(data), str(path))
    return LocalFile(path, wheel.sha256, len(data))


def _verify(wheel: Artifact, digest: str, size: int, origin: str) -> None:
    if digest != wheel.sha256 or (wheel.size is not None and size != wheel.size):
        msg = f"{wheel.filename} from {origin} does not match uv.lock"
        raise HashMismatch(
            msg, hint=f"expected sha256 {wheel.sha256}, got {digest} ({size} bytes); nothing was installed"
        )
