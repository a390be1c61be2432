"""Download, verify, cache: the only module that talks to the network (via requests).

Every byte is hashed as it is written; a wheel reaches the cache only when its
sha256 (and size, where the lock has one) matches uv.lock.  A body longer than
the lock's size is cut as soon as it is, and a transfer slower than
``MIN_RATE`` bytes per second over any window of the timeout counts as timed
out (the socket timeout alone bounds each read, not the whole transfer).
A cached file is hashed again whenever it is used.
"""

from __future__ import annotations

import errno
import hashlib
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol
from urllib.parse import urlsplit

from .cache import WheelCache, cache_write_error, file_sha256
from .errors import FetchError, HashMismatch, redact
from .lock import LockedSdist, LockedWheel

if TYPE_CHECKING:
    import requests

_CHUNK = 1 << 16
_TRANSIENT_STATUS = {408, 425, 429, 500, 502, 503, 504}
_MAX_RETRY_AFTER = 10.0
MIN_RATE = 1024
"""Bytes per second a download must average over each window of ``UVROOT_HTTP_TIMEOUT`` seconds."""
Credentials = dict[str, tuple[str, str]]
"""Host (``netloc`` without userinfo) -> (username, password), from ``UV_INDEX_<NAME>_*``."""
Progress = Callable[[int], None]
"""Told the size of each chunk as it arrives, and minus the bytes of an attempt that failed."""


class TransientError(FetchError):
    """A failure worth retrying: a reset, a timeout, a truncated body, HTTP 429 or 5xx."""

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message, hint="the index may be overloaded or the network flaky; try again later")
        self.retry_after = retry_after


class Downloader(Protocol):
    """Yields the bytes at a URL, raising :class:`FetchError` (or :class:`TransientError`) on failure."""

    retries: int
    """How many times fetch() tries again after a transient failure."""
    credentials: Credentials
    """Filled by the sync from the project's named indexes."""

    def chunks(self, url: str) -> Iterator[bytes]:
        """Stream the body of ``url``."""
        ...


class RequestsDownloader:
    """A :class:`Downloader` over a pooled ``requests.Session``: TLS verified, credentials as uv takes them."""

    def __init__(
        self,
        *,
        retries: int = 3,
        credentials: Credentials | None = None,
        session: requests.Session | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.retries = retries
        self.credentials = credentials or {}
        self.timeout = float(os.environ.get("UVROOT_HTTP_TIMEOUT", "30"))
        self.clock = clock
        """Read once per chunk by the throughput guard (the tests pass a fake one)."""
        self._session = session

    @property
    def session(self) -> requests.Session:
        """The pooled session, created on first use: no-op and offline runs never import requests."""
        if self._session is None:
            import requests

            self._session = requests.Session()
            if ca := os.environ.get("SSL_CERT_FILE"):  # uv honours it; requests alone would not
                self._session.verify = ca
        return self._session

    def chunks(self, url: str) -> Iterator[bytes]:
        """Stream ``url``; failures become :class:`FetchError`, retryable ones :class:`TransientError`."""
        import requests

        # Userinfo in the URL and ~/.netrc are applied by requests itself; requests also
        # drops Authorization when a redirect leaves the host.
        auth = self.credentials.get(urlsplit(url).netloc.rsplit("@", 1)[-1])
        try:
            with self.session.get(url, stream=True, timeout=self.timeout, auth=auth) as response:
                _check_status(url, response)
                window, received = self.clock(), 0
                for chunk in _body(response):
                    yield chunk
                    received += len(chunk)
                    if (elapsed := self.clock() - window) >= self.timeout:
                        if received < MIN_RATE * elapsed:
                            raise TransientError(
                                f"cannot download {redact(url)}: too slow, {received} bytes in the last "
                                f"{elapsed:.0f} s (less than {MIN_RATE} bytes/s)"
                            )
                        window, received = self.clock(), 0
        except requests.Timeout:
            raise TransientError(f"cannot download {redact(url)}: timed out after {self.timeout:g} s") from None
        except (requests.ConnectionError, requests.exceptions.ChunkedEncodingError) as exc:
            # A stall in the middle of the body arrives as a ConnectionError wrapping a read timeout.
            why = f"timed out after {self.timeout:g} s" if "timed out" in str(exc) else _reason(exc, url)
            raise TransientError(f"cannot download {redact(url)}: {why}") from None
        except requests.RequestException as exc:
            raise FetchError(
                f"cannot download {redact(url)}: {_reason(exc, url)}", hint="check the index URL in uv.lock"
            ) from None


def _body(response: requests.Response) -> Iterator[bytes]:
    """The body, handed back after every read from the socket: a trickle cannot hold a 64 KiB read forever."""
    read1 = getattr(response.raw, "read1", None)  # urllib3 >= 2.3
    if read1 is None:
        yield from response.iter_content(_CHUNK)
        return
    import requests
    from urllib3.exceptions import HTTPError, ReadTimeoutError

    try:
        while chunk := read1(_CHUNK, decode_content=True):
            yield chunk
    except ReadTimeoutError as exc:  # as requests' iter_content maps them
        raise requests.ConnectionError(exc) from None
    except HTTPError as exc:
        raise requests.exceptions.ChunkedEncodingError(exc) from None


def _check_status(url: str, response: requests.Response) -> None:
    status = response.status_code
    if status < 400:
        return
    message = f"cannot download {redact(url)}: HTTP {status}"
    if status in _TRANSIENT_STATUS:
        raise TransientError(message, retry_after=_retry_after(response.headers.get("Retry-After")))
    if status in (401, 403):
        raise FetchError(
            message,
            hint="the index wants credentials: set UV_INDEX_<NAME>_USERNAME/PASSWORD, "
            "use .netrc or userinfo in the index URL",
        )
    raise FetchError(message, hint="the file is gone from the index: re-lock with `uv lock`, or check the index URL")


def _retry_after(value: str | None) -> float | None:
    try:
        return min(float(value), _MAX_RETRY_AFTER) if value else None
    except ValueError:
        return None  # an HTTP date: fall back to our own backoff


def _reason(exc: BaseException, url: str) -> str:
    """What failed and where, in words: DNS, a refused connection, the proxy, TLS.

    Never the exception's own text: it can carry the URL with its credentials.
    """
    import socket

    import requests

    parts = urlsplit(url)
    host = parts.hostname or "?"
    try:
        where = f"{host}:{parts.port}" if parts.port else host
    except ValueError:  # a port that is not a number: the URL itself is what failed
        return "the URL is not valid (check its host and port)"
    causes = list(_causes(exc))
    if any(isinstance(cause, requests.exceptions.ProxyError) for cause in causes):
        proxy = requests.utils.select_proxy(url, requests.utils.get_environ_proxies(url)) or "?"
        return f"the proxy {redact(proxy)} failed (from the *_PROXY variables; NO_PROXY exempts hosts)"
    if any(isinstance(cause, requests.exceptions.SSLError) for cause in causes):
        return f"TLS with {where} failed (an untrusted certificate? SSL_CERT_FILE names the CA bundle)"
    # urllib3 >= 2 wraps the resolver's error in its NameResolutionError, raised "from" it: among the causes.
    if any(isinstance(cause, socket.gaierror) for cause in causes):
        return f"cannot resolve the host name {host} (DNS)"
    if any(isinstance(cause, ConnectionRefusedError) for cause in causes):
        return f"connection refused by {where}"
    unreachable = (errno.ENETUNREACH, errno.EHOSTUNREACH)
    if any(isinstance(cause, OSError) and cause.errno in unreachable for cause in causes):
        return f"{where} is unreachable (no route to it)"
    return f"{type(exc).__name__} talking to {where}"


def _causes(exc: BaseException) -> Iterator[BaseException]:
    """``exc`` and what it wraps: causes, contexts, urllib3's ``reason`` and exceptions among the args."""
    seen: set[int] = set()
    todo = [exc]
    while todo:
        current = todo.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        inner = [current.__cause__, current.__context__, getattr(current, "reason", None), *current.args]
        todo += [item for item in inner if isinstance(item, BaseException)]


Artifact = LockedWheel | LockedSdist


@dataclass(frozen=True, slots=True)
class LocalFile:
    """A verified wheel or sdist on local disk, under its original filename."""

    path: Path
    """Where it is cached (a warm sync goes straight to the unpacked copy and never opens it)."""
    sha256: str | None
    size: int


def is_remote(artifact: Artifact) -> bool:
    """Whether the lock names this file by a URL (downloaded), not a path on this machine."""
    return "://" in (artifact.url or "")


def needs_download(wheel: Artifact, cache: WheelCache) -> bool:
    """Whether :func:`fetch` would download this file: a remote URL not yet in the cache."""
    return is_remote(wheel) and cache.get(wheel) is None


def fetch(
    wheel: Artifact, cache: WheelCache, downloader: Downloader, *, offline: bool, progress: Progress | None = None
) -> LocalFile:
    """Return a verified local copy of a wheel or sdist, downloading only on a cache miss."""
    url = wheel.url or ""
    if not is_remote(wheel):
        return _local(wheel, Path(url))
    if wheel.sha256 is None:
        raise FetchError(
            f"uv.lock has no hash for {wheel.filename} from {redact(url)}",
            hint="uvroot installs remote files only when uv.lock pins their sha256",
        )
    if (hit := cache.get(wheel)) is not None:
        # Hashed again: whoever calls fetch() reads the whole file anyway (to unpack or build it).
        if (size := _intact(wheel, hit)) is not None:
            return LocalFile(hit, wheel.sha256, size)
        cache.evict(hit.parent)
    if offline:
        raise FetchError(
            f"{wheel.filename} is not in the cache at {cache.root} and --offline forbids downloading it",
            hint="run once without --offline (or with the same --cache-dir) to fill the cache",
        )
    for attempt in range(downloader.retries + 1):
        try:
            return _download(wheel, url, cache, downloader, progress)
        except TransientError as exc:
            if attempt == downloader.retries:
                raise FetchError(f"{exc.message} (after {attempt + 1} attempts)", hint=exc.hint) from None
            time.sleep(exc.retry_after or _backoff() * 2**attempt)
    raise AssertionError("unreachable")  # pragma: no mutate: the last attempt returns or raises, never ends the loop


def _download(
    wheel: Artifact, url: str, cache: WheelCache, downloader: Downloader, progress: Progress | None = None
) -> LocalFile:
    # The entry is published only when the block ends cleanly: a failed or wrong
    # download leaves nothing in the cache.
    digest, size = hashlib.sha256(), 0
    try:
        with cache.new_entry(wheel) as sink:
            for chunk in downloader.chunks(url):
                if wheel.size is not None and size + len(chunk) > wheel.size:
                    raise HashMismatch(
                        f"{wheel.filename} from {redact(url)} is longer than the {wheel.size} bytes uv.lock gives",
                        hint="the index sent other bytes than uv locked; nothing was installed",
                    )
                digest.update(chunk)
                size += len(chunk)
                try:
                    sink.write(chunk)
                except OSError as exc:
                    raise cache_write_error(cache.root, sink.name, exc) from None
                if progress is not None:
                    progress(len(chunk))
            _verify(wheel, digest.hexdigest(), size, redact(url))
    except BaseException:
        if progress is not None and size:
            progress(-size)  # a retry starts from zero: the bar must not count these bytes twice
        raise
    return LocalFile(cache.path_for(wheel), wheel.sha256, size)


def _backoff() -> float:
    # Read at each retry, so the tests can make it short.
    return float(os.environ.get("UVROOT_RETRY_BACKOFF", "0.5"))


def _intact(wheel: Artifact, path: Path) -> int | None:
    """The size of a cached file if it still is what uv.lock pins (size, then sha256), else None."""
    try:
        size = path.stat().st_size
        if (wheel.size is None or size == wheel.size) and file_sha256(path) == wheel.sha256:
            return size
    except OSError:
        pass
    return None


def _local(wheel: Artifact, path: Path) -> LocalFile:
    # A wheel from a local directory or path source: read in place, verified when hashed.
    try:
        size = path.stat().st_size
        if wheel.sha256 is not None:
            _verify(wheel, file_sha256(path), size, str(path))
    except OSError as exc:
        raise FetchError(
            f"cannot read {path}: {exc.strerror}", hint="the lock points at a local file that moved"
        ) from None
    return LocalFile(path, wheel.sha256, size)


def _verify(wheel: Artifact, digest: str, size: int, origin: str) -> None:
    if digest != wheel.sha256 or (wheel.size is not None and size != wheel.size):
        msg = f"{wheel.filename} from {origin} does not match uv.lock"
        raise HashMismatch(
            msg, hint=f"expected sha256 {wheel.sha256}, got {digest} ({size} bytes); nothing was installed"
        )
