"""A misbehaving HTTP file server, for fault-injection tests of uvroot's downloads.

It serves the files of a directory at ``/files/<name>``, exactly like
:class:`~tests.support.index.LocalIndex` does, from a stdlib
``ThreadingHTTPServer`` on 127.0.0.1 (random port) in a daemon thread.  Each
file has a *plan*: a queue of behaviours, one consumed per request for that
file; when the queue is empty the file's *default* behaviour applies (``ok``
unless :meth:`FaultyServer.default` set another)::

    with FaultyServer(wheelhouse) as server:
        server.plan("alpha-1.0-py3-none-any.whl", status(503), reset(), ok())
        ...  # point a uv.lock at server.files_url, run uvroot
        assert len(server.hits("alpha-1.0-py3-none-any.whl")) == 3

Behaviours (module-level constructors):

* :func:`ok` - 200 with the file;
* :func:`status` ``(code, headers={})`` - that status with a small body;
* :func:`reset` ``(mid_body=False)`` - close the connection with a TCP RST,
  before any response or after the headers and half the body;
* :func:`truncate` ``(n_bytes)`` - the real ``Content-Length`` but only ``n_bytes``, then close;
* :func:`slow` ``(seconds, after_bytes=None)`` - sleep, then serve the file
  (with ``after_bytes``, the headers and that many bytes go out *before* the sleep);
* :func:`wrong_bytes` - 200 with different bytes (a still valid archive) under the same name;
* :func:`gzipped` - 200 with the file gzip-compressed and ``Content-Encoding: gzip`` (as a compressing proxy sends it);
* :func:`endless` - 200 with no ``Content-Length`` and the file's bytes repeated until the
  client hangs up (at most :data:`MAX_ENDLESS` bytes; :attr:`FaultyServer.sent` counts them);
* :func:`trickle` ``(interval, n_bytes)`` - the headers, then one byte every ``interval``
  seconds, ``n_bytes`` of them, then close;
* :func:`redirect` ``(url, code=302)``;
* :func:`require_auth` ``(user, password, then=ok())`` - 401 unless the request's
  Basic ``Authorization`` matches, else ``then``; every Authorization seen is kept in ``.seen``.

Every request is recorded (:attr:`FaultyServer.requests`: method, path, headers,
arrival time), thread-safely.  Bounded: a sleep is at most :data:`MAX_SLEEP`
seconds and is cut short when the server stops (the connection is then reset);
stopping never waits for a client's open connection.
"""

from __future__ import annotations

import base64
import gzip
import socket
import struct
import threading
import time
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from tests.support.index import corrupt_bytes
from tests.support.loopback import LoopbackServer

__all__ = [
    "MAX_SLEEP",
    "Behaviour",
    "FaultyServer",
    "Request",
    "endless",
    "gzipped",
    "ok",
    "redirect",
    "require_auth",
    "reset",
    "slow",
    "status",
    "trickle",
    "truncate",
    "wrong_bytes",
]

MAX_SLEEP = 5.0  # seconds; a longer slow() is refused, so no test can hang on this server
MAX_ENDLESS = 256 << 20  # bytes an endless() body sends at most


# -- behaviours -------------------------------------------------------------


@dataclass(frozen=True)
class Behaviour:
    """What the server does for one request (see the module doc for each kind)."""

    kind: str
    code: int = 200
    headers: Mapping[str, str] = field(default_factory=dict)
    n_bytes: int | None = None
    seconds: float = 0.0
    url: str = ""
    user: str = ""
    password: str = ""
    then: Behaviour | None = None
    mid_body: bool = False
    # require_auth only: every Authorization header value seen (None when absent).
    seen: list[str | None] = field(default_factory=list, compare=False)


def ok() -> Behaviour:
    """200 with the file's real bytes."""
    return Behaviour("ok")


def status(code: int, headers: Mapping[str, str] | None = None) -> Behaviour:
    """Answer ``code`` (with ``headers``, e.g. ``{"Retry-After": "1"}``) and a short text body."""
    return Behaviour("status", code=code, headers=dict(headers or {}))


def reset(mid_body: bool = False) -> Behaviour:
    """Abort the connection (RST): before any response, or after the headers and half the body."""
    return Behaviour("reset", mid_body=mid_body)


def truncate(n_bytes: int) -> Behaviour:
    """Send the full ``Content-Length`` but only the first ``n_bytes`` bytes, then close (FIN)."""
    if n_bytes < 0:
        raise ValueError("n_bytes must be >= 0")
    return Behaviour("truncate", n_bytes=n_bytes)


def slow(seconds: float, after_bytes: int | None = None) -> Behaviour:
    """Sleep ``seconds`` (at most :data:`MAX_SLEEP`) before responding, or after ``after_bytes`` body bytes."""
    if not 0 <= seconds <= MAX_SLEEP:
        raise ValueError(f"slow() sleeps at most {MAX_SLEEP} s, not {seconds}")
    return Behaviour("slow", seconds=seconds, n_bytes=after_bytes)


def wrong_bytes() -> Behaviour:
    """200 with altered bytes (same members, another zip comment): only a hash check notices."""
    return Behaviour("wrong_bytes")


def gzipped() -> Behaviour:
    """200 with the file's bytes gzip-compressed, sent with ``Content-Encoding: gzip``."""
    return Behaviour("gzipped")


def endless() -> Behaviour:
    """200 without ``Content-Length``: the file's bytes over and over until the client hangs up."""
    return Behaviour("endless")


def trickle(interval: float, n_bytes: int) -> Behaviour:
    """The real headers, then ``n_bytes`` body bytes one every ``interval`` seconds, then close."""
    if not 0 <= interval <= MAX_SLEEP:
        raise ValueError(f"trickle() sleeps at most {MAX_SLEEP} s between bytes, not {interval}")
    return Behaviour("trickle", seconds=interval, n_bytes=n_bytes)


def redirect(url: str, code: int = 302) -> Behaviour:
    """Redirect to ``url`` with ``code`` (301, 302, 303, 307, 308)."""
    if code not in (301, 302, 303, 307, 308):
        raise ValueError(f"{code} is not a redirect status")
    return Behaviour("redirect", code=code, url=url)


def require_auth(user: str, password: str, then: Behaviour | None = None) -> Behaviour:
    """401 unless Basic auth is ``user:password``, else behave as ``then`` (default :func:`ok`).

    Every ``Authorization`` value seen (``None`` when absent) is appended to the
    returned behaviour's ``seen`` list.  Usually installed with
    :meth:`FaultyServer.default`, so it applies to every request of a file.
    """
    return Behaviour("require_auth", user=user, password=password, then=then or ok())


# -- requests ---------------------------------------------------------------


@dataclass(frozen=True)
class Request:
    """One request as the server saw it."""

    method: str
    path: str  # unquoted, without query
    headers: tuple[tuple[str, str], ...]
    at: float  # time.monotonic() on arrival

    def header(self, name: str) -> str | None:
        """The first value of header ``name`` (case-insensitive), or None."""
        return next((v for k, v in self.headers if k.lower() == name.lower()), None)


# -- the server -------------------------------------------------------------


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False  # stop() must not wait for a client's idle keep-alive connection
    owner: FaultyServer

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client hanging up mid-response is what these tests are about: record, never print.
        import sys

        self.owner._note_error(sys.exc_info()[1])


class FaultyServer(LoopbackServer):
    """Serves ``directory``'s files at ``/files/<name>`` with programmable faults (see module doc)."""

    def __init__(self, directory: Path, host: str = "127.0.0.1") -> None:
        super().__init__(host)
        self.directory = Path(directory)
        self.requests: list[Request] = []
        self.errors: list[str] = []  # exceptions in handler threads (client went away...), for debugging
        self.sent: dict[str, int] = {}  # body bytes written per file by endless() and trickle()
        self._lock = threading.Lock()
        self._plans: dict[str, deque[Behaviour]] = {}
        self._defaults: dict[str, Behaviour] = {}
        self._stopping = threading.Event()

    # -- lifecycle ---------------------------------------------------------

    def _make_server(self) -> _Server:
        self._stopping.clear()
        server = _Server((self.host, 0), _make_handler(self))
        server.owner = self
        return server

    def stop(self) -> None:
        """Stop serving, cut every sleep short, release the port."""
        self._stopping.set()
        super().stop()

    def url_for(self, filename: str, userinfo: str | None = None) -> str:
        """``http://[userinfo@]host:port/files/<filename>``."""
        auth = f"{userinfo}@" if userinfo else ""
        return f"http://{auth}{self.host}:{self.port}/files/{filename}"

    # -- test controls -----------------------------------------------------

    def plan(self, filename: str, *behaviours: Behaviour) -> None:
        """Queue ``behaviours`` for the next requests of ``filename`` (one each, in order)."""
        with self._lock:
            self._plans.setdefault(filename, deque()).extend(behaviours)

    def default(self, filename: str, behaviour: Behaviour) -> None:
        """What ``filename`` gets once its plan is used up (instead of :func:`ok`); ``"*"``: every file."""
        with self._lock:
            self._defaults[filename] = behaviour

    def pending(self, filename: str) -> int:
        """How many planned behaviours of ``filename`` no request has consumed yet."""
        with self._lock:
            return len(self._plans.get(filename, ()))

    def clear(self) -> None:
        """Forget plans, defaults, recorded requests and errors."""
        with self._lock:
            self._plans.clear()
            self._defaults.clear()
            self.requests.clear()
            self.errors.clear()
            self.sent.clear()

    def hits(self, filename: str) -> list[Request]:
        """The requests made for ``/files/<filename>``, in arrival order."""
        with self._lock:
            return [r for r in self.requests if r.path == f"/files/{filename}"]

    def file_requests(self) -> list[Request]:
        """Every request for a ``/files/...`` path."""
        with self._lock:
            return [r for r in self.requests if r.path.startswith("/files/")]

    # -- internals ---------------------------------------------------------

    def _next(self, filename: str) -> Behaviour:
        with self._lock:
            queue = self._plans.get(filename)
            if queue:
                return queue.popleft()
            return self._defaults.get(filename) or self._defaults.get("*") or ok()

    def _record(self, request: Request) -> None:
        with self._lock:
            self.requests.append(request)

    def _note_error(self, error: BaseException | None) -> None:
        with self._lock:
            self.errors.append(repr(error))

    def _count(self, filename: str, n_bytes: int) -> None:
        with self._lock:
            self.sent[filename] = self.sent.get(filename, 0) + n_bytes

    def _sleep(self, seconds: float) -> bool:
        """Sleep (at most MAX_SLEEP); False when cut short because the server is stopping."""
        return not self._stopping.wait(min(seconds, MAX_SLEEP))

    def _file(self, filename: str) -> bytes | None:
        path = self.directory / filename
        if "/" in filename or filename.startswith(".") or not path.is_file():
            return None
        return path.read_bytes()


def _make_handler(server: FaultyServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as a real index

        def do_GET(self) -> None:
            self._respond(send_body=True)

        def do_HEAD(self) -> None:
            self._respond(send_body=False)

        def _respond(self, send_body: bool) -> None:
            path = unquote(urlsplit(self.path).path)
            server._record(Request(self.command, path, tuple(self.headers.items()), time.monotonic()))
            parts = [p for p in path.split("/") if p]
            data = server._file(parts[1]) if len(parts) == 2 and parts[0] == "files" else None
            if data is None:
                self._simple(404, {})
                return
            self._behave(server._next(parts[1]), data, send_body, parts[1])

        def _behave(self, plan: Behaviour, data: bytes, send_body: bool, filename: str = "") -> None:
            kind = plan.kind
            if kind == "ok":
                self._file(data, send_body)
            elif kind == "status":
                self._simple(plan.code, plan.headers)
            elif kind == "redirect":
                self._simple(plan.code, {"Location": plan.url})
            elif kind == "wrong_bytes":
                self._file(corrupt_bytes(data), send_body)
            elif kind == "gzipped":
                body = gzip.compress(data)
                self._headers(len(body), extra={"Content-Encoding": "gzip"})
                if send_body:
                    self._write(body)
            elif kind == "slow":
                # A sleep cut short by stop() ends in a reset: a stopped server serves nothing more.
                if plan.n_bytes is None:
                    if not server._sleep(plan.seconds):
                        self._hang_up(abort=True)
                        return
                    self._file(data, send_body)
                else:
                    self._headers(len(data))
                    self._write(data[: plan.n_bytes])
                    if not server._sleep(plan.seconds):
                        self._hang_up(abort=True)
                        return
                    self._write(data[plan.n_bytes :])
            elif kind == "endless":
                self.close_connection = True
                self.send_response(200)
                self.send_header("Content-Type", "application/octet-stream")
                self.send_header("Connection", "close")
                self.end_headers()
                sent = 0
                try:
                    while sent < MAX_ENDLESS and not server._stopping.is_set():
                        self._write(data)
                        sent += len(data)
                        server._count(filename, len(data))
                except OSError:
                    return  # the client hung up: what a good client does
                self._hang_up(abort=False)
            elif kind == "trickle":
                self._headers(len(data))
                for index in range(min(plan.n_bytes or 0, len(data))):
                    if not server._sleep(plan.seconds):
                        self._hang_up(abort=True)
                        return
                    try:
                        self._write(data[index : index + 1])
                    except OSError:
                        return
                    server._count(filename, 1)
                self._hang_up(abort=False)
            elif kind == "truncate":
                self._headers(len(data))
                self._write(data[: plan.n_bytes])
                self._hang_up(abort=False)
            elif kind == "reset":
                if plan.mid_body:
                    self._headers(len(data))
                    self._write(data[: len(data) // 2])
                self._hang_up(abort=True)
            elif kind == "require_auth":
                seen = self.headers.get("Authorization")
                plan.seen.append(seen)
                expected = "Basic " + base64.b64encode(f"{plan.user}:{plan.password}".encode()).decode()
                if seen != expected:
                    self._simple(401, {"WWW-Authenticate": 'Basic realm="faulty"'})
                else:
                    assert plan.then is not None
                    self._behave(plan.then, data, send_body, filename)
            else:  # pragma: no cover - constructors only make the kinds above
                raise AssertionError(kind)

        def _headers(self, length: int, code: int = 200, extra: Mapping[str, str] | None = None) -> None:
            self.send_response(code)
            self.send_header("Content-Type", "application/octet-stream")
            self.send_header("Content-Length", str(length))
            self.send_header("Cache-Control", "no-cache")
            for key, value in (extra or {}).items():
                self.send_header(key, value)
            self.end_headers()
            self.wfile.flush()

        def _file(self, data: bytes, send_body: bool) -> None:
            self._headers(len(data))
            if send_body:
                self._write(data)

        def _simple(self, code: int, headers: Mapping[str, str]) -> None:
            body = f"{code} from FaultyServer\n".encode()
            self._headers(len(body), code, headers)
            if self.command != "HEAD":
                self._write(body)

        def _write(self, chunk: bytes) -> None:
            self.wfile.write(chunk)
            self.wfile.flush()

        def _hang_up(self, *, abort: bool) -> None:
            # abort: SO_LINGER 0 makes close() send RST ("connection reset by peer");
            # else a plain FIN after a short body (the client sees it truncated).
            self.close_connection = True
            self.wfile.flush()
            if abort:
                self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                self.connection.close()
            else:
                self.connection.shutdown(socket.SHUT_RDWR)

        def log_message(self, format: str, *args: Any) -> None:
            pass  # quiet: requests are recorded in server.requests

    return Handler
