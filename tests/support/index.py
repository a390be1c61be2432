"""A tiny PEP 503 "simple" package index served from a directory of wheels and sdists.

It runs a stdlib ``ThreadingHTTPServer`` on 127.0.0.1 (random port) in a
daemon thread, so tests stay offline and need no extra dependencies::

    with LocalIndex(wheelhouse) as index:
        uv_lock(project, index.url, cache_dir=cache)  # or any client
        assert index.downloads() == []  # locking reads .metadata only

Pages:

* ``/simple/`` - every project found in the directory;
* ``/simple/<normalized-name>/`` - its wheels and sdists (``*.tar.gz``),
  each link carrying a ``#sha256=`` fragment and ``data-requires-python``
  (from the wheel's METADATA or the sdist's PKG-INFO); wheel links also carry
  ``data-dist-info-metadata``/``data-core-metadata`` (PEP 658/714);
* ``/files/<filename>`` - the file itself; ``/files/<wheel>.metadata`` -
  a wheel's METADATA, which lets resolvers lock without downloading wheels,
  so ``requests`` shows real installs as ``.whl`` fetches only.  (An sdist
  has no such file: uv downloads it to lock, see :meth:`LocalIndex.sdist_downloads`.)

The listing is recomputed per request, so files added to the directory
later show up immediately.
"""

from __future__ import annotations

import gzip
import hashlib
import html
import io
import tarfile
import threading
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from email.parser import BytesHeaderParser
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from packaging.utils import canonicalize_name, parse_sdist_filename, parse_wheel_filename

from tests.support.loopback import LoopbackServer

__all__ = ["LocalIndex", "WheelInfo", "read_sdist_info", "read_wheel_info"]


@dataclass(frozen=True)
class WheelInfo:
    """What the index needs to know about one distribution file (wheel or sdist)."""

    filename: str
    project: str  # normalized (PEP 503) project name
    sha256: str  # hex digest of the *original* bytes, even when corrupted
    metadata: bytes  # raw .dist-info/METADATA, or an sdist's PKG-INFO
    requires_python: str | None
    kind: str = "wheel"  # or "sdist"


def read_wheel_info(path: Path) -> WheelInfo:
    """Hash a wheel and pull METADATA (and Requires-Python) out of it."""
    data = path.read_bytes()
    name, _version, _build, _tags = parse_wheel_filename(path.name)
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        meta_name = next(n for n in zf.namelist() if n.endswith(".dist-info/METADATA") and n.count("/") == 1)
        metadata = zf.read(meta_name)
    return _info(path, data, name, metadata, "wheel")


def read_sdist_info(path: Path) -> WheelInfo:
    """Hash an sdist (``.tar.gz``) and pull PKG-INFO (and Requires-Python) out of it."""
    data = path.read_bytes()
    name, _version = parse_sdist_filename(path.name)
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tf:
        member = next(m for m in tf.getmembers() if m.name.count("/") == 1 and m.name.endswith("/PKG-INFO"))
        extracted = tf.extractfile(member)
        assert extracted is not None, member.name
        metadata = extracted.read()
    return _info(path, data, name, metadata, "sdist")


def _info(path: Path, data: bytes, name: str, metadata: bytes, kind: str) -> WheelInfo:
    headers = BytesHeaderParser().parsebytes(metadata)
    return WheelInfo(
        filename=path.name,
        project=canonicalize_name(name),
        sha256=hashlib.sha256(data).hexdigest(),
        metadata=metadata,
        requires_python=headers.get("Requires-Python"),
        kind=kind,
    )


def corrupt_bytes(data: bytes) -> bytes:
    """Return a *still valid* archive with the same members but different bytes.

    For a zip only the archive comment changes; for a gzip (``.tar.gz``) only
    the header's mtime.  So a consumer that skips hash checking installs it
    without noticing: a failure can only come from the hash check.
    """
    if data[:2] == b"\x1f\x8b":
        return gzip.compress(gzip.decompress(data), mtime=1234567890)
    src = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with src, zipfile.ZipFile(out, "w") as dst:
        for info in src.infolist():
            dst.writestr(info, src.read(info))
        dst.comment = b"corrupted by tests.support.index"
    return out.getvalue()


class LocalIndex(LoopbackServer):
    """PEP 503 index over ``directory`` (``*.whl`` and ``*.tar.gz`` files), on 127.0.0.1."""

    def __init__(self, directory: Path, host: str = "127.0.0.1") -> None:
        super().__init__(host)
        self.directory = Path(directory)
        self.requests: list[str] = []  # every request path, in arrival order
        self._lock = threading.Lock()
        self._corrupted: set[str] = set()
        self._cache: dict[tuple[str, int, int], WheelInfo] = {}

    def _make_server(self) -> ThreadingHTTPServer:
        return ThreadingHTTPServer((self.host, 0), _make_handler(self))

    @property
    def url(self) -> str:
        """The index URL to hand to uv/pip (no trailing slash)."""
        return f"{self.base_url}/simple"

    @property
    def files_url(self) -> str:
        """Where wheel files live: ``{files_url}/{filename}``."""
        return f"{self.base_url}/files"

    # -- test controls -----------------------------------------------------

    def corrupt(self, filename: str) -> None:
        """Serve ``filename`` with altered bytes; the listing keeps the old hash."""
        if not (self.directory / filename).is_file():
            raise FileNotFoundError(self.directory / filename)
        with self._lock:
            self._corrupted.add(filename)

    def reset(self) -> None:
        """Undo :meth:`corrupt` and forget recorded requests."""
        with self._lock:
            self._corrupted.clear()
            self.requests.clear()

    def downloads(self) -> list[str]:
        """Wheel filenames fetched so far (``.metadata`` fetches excluded)."""
        prefix = "/files/"
        with self._lock:
            paths = list(self.requests)
        return [p[len(prefix) :] for p in paths if p.startswith(prefix) and p.endswith(".whl")]

    def sdist_downloads(self) -> list[str]:
        """Sdist filenames (``*.tar.gz``) fetched so far."""
        prefix = "/files/"
        with self._lock:
            paths = list(self.requests)
        return [p[len(prefix) :] for p in paths if p.startswith(prefix) and p.endswith(".tar.gz")]

    # -- content -----------------------------------------------------------

    def wheels(self) -> list[WheelInfo]:
        """All wheels in the directory, cached by (name, size, mtime)."""
        return self._infos("*.whl", read_wheel_info)

    def sdists(self) -> list[WheelInfo]:
        """All sdists (``*.tar.gz``) in the directory, cached like :meth:`wheels`."""
        return self._infos("*.tar.gz", read_sdist_info)

    def distributions(self) -> list[WheelInfo]:
        """Wheels and sdists, sorted by filename."""
        return sorted(self.wheels() + self.sdists(), key=lambda info: info.filename)

    def _infos(self, pattern: str, read: Callable[[Path], WheelInfo]) -> list[WheelInfo]:
        infos = []
        for path in sorted(self.directory.glob(pattern)):
            stat = path.stat()
            key = (path.name, stat.st_size, stat.st_mtime_ns)
            with self._lock:
                info = self._cache.get(key)
            if info is None:
                info = read(path)
                with self._lock:
                    self._cache[key] = info
            infos.append(info)
        return infos

    def file_bytes(self, filename: str) -> bytes | None:
        """Bytes to serve for ``filename`` (corrupted if asked), or None."""
        path = self.directory / filename
        if "/" in filename or not path.is_file():
            return None
        data = path.read_bytes()
        with self._lock:
            corrupted = filename in self._corrupted
        return corrupt_bytes(data) if corrupted else data

    def _record(self, path: str) -> None:
        with self._lock:
            self.requests.append(path)


def _page(title: str, links: list[str]) -> bytes:
    body = "\n".join(f"    {link}<br/>" for link in links)
    return (
        "<!DOCTYPE html>\n<html>\n  <head>\n"
        '    <meta name="pypi:repository-version" content="1.0">\n'
        f"    <title>{html.escape(title)}</title>\n  </head>\n  <body>\n"
        f"{body}\n  </body>\n</html>\n"
    ).encode()


def _root_page(index: LocalIndex) -> bytes:
    projects = sorted({w.project for w in index.distributions()})
    return _page("Simple index", [f'<a href="{p}/">{p}</a>' for p in projects])


def _project_page(index: LocalIndex, project: str) -> bytes | None:
    dists = [w for w in index.distributions() if w.project == project]
    if not dists:
        return None
    links = []
    for w in dists:
        attrs = f'href="{index.files_url}/{w.filename}#sha256={w.sha256}"'
        if w.kind == "wheel":
            meta_hash = hashlib.sha256(w.metadata).hexdigest()
            # Both the PEP 658 name and its PEP 714 rename, for older/newer clients.
            attrs += f' data-dist-info-metadata="sha256={meta_hash}"'
            attrs += f' data-core-metadata="sha256={meta_hash}"'
        if w.requires_python:
            attrs += f' data-requires-python="{html.escape(w.requires_python)}"'
        links.append(f"<a {attrs}>{html.escape(w.filename)}</a>")
    return _page(f"Links for {project}", links)


def _route(index: LocalIndex, path: str) -> tuple[bytes | None, str]:
    """Map a request path to (body or None for 404, content type)."""
    parts = [p for p in path.split("/") if p]
    if parts == ["simple"]:
        return _root_page(index), "text/html; charset=utf-8"
    if len(parts) == 2 and parts[0] == "simple":
        return _project_page(index, canonicalize_name(parts[1])), "text/html; charset=utf-8"
    if len(parts) == 2 and parts[0] == "files":
        name = parts[1]
        if name.endswith(".whl.metadata"):
            info = next((w for w in index.wheels() if w.filename == name[:-9]), None)
            return (info.metadata if info else None), "text/plain; charset=utf-8"
        return index.file_bytes(name), "application/octet-stream"
    return None, "text/plain"


def _make_handler(index: LocalIndex) -> type[BaseHTTPRequestHandler]:
    """A handler class bound to ``index`` (the server instantiates it per request)."""

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive: uv reuses connections

        def do_GET(self) -> None:
            self._respond(send_body=True)

        def do_HEAD(self) -> None:
            self._respond(send_body=False)

        def _respond(self, send_body: bool) -> None:
            path = unquote(urlsplit(self.path).path)
            index._record(path)
            body, ctype = _route(index, path)
            if body is None:
                self.send_error(HTTPStatus.NOT_FOUND)
                return
            self.send_response(HTTPStatus.OK)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            # Content can change under a test (corrupt(), new wheels); make
            # clients revalidate instead of trusting their HTTP cache.
            self.send_header("Cache-Control", "no-cache")
            self.end_headers()
            if send_body:
                self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass  # quiet: requests are recorded in index.requests instead

    return Handler
