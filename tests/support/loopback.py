"""The lifecycle both test servers share: a ThreadingHTTPServer on a free loopback port, in a daemon thread."""

from __future__ import annotations

import threading
from http.server import ThreadingHTTPServer
from typing import TYPE_CHECKING, TypeVar

if TYPE_CHECKING:
    from typing_extensions import Self  # typing.Self needs 3.11; annotations are not evaluated

S = TypeVar("S", bound="LoopbackServer")


class LoopbackServer:
    """Start, stop and address a test HTTP server; subclasses build the server in :meth:`_make_server`."""

    def __init__(self, host: str = "127.0.0.1") -> None:
        self.host = host
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def _make_server(self) -> ThreadingHTTPServer:
        raise NotImplementedError

    def start(self) -> Self:
        """Bind a free port and serve in a daemon thread (idempotent)."""
        if self._server is None:
            self._server = self._make_server()
            self._server.daemon_threads = True  # never block interpreter exit
            self._thread = threading.Thread(
                target=self._server.serve_forever,
                kwargs={"poll_interval": 0.05},  # short, so stop() returns promptly
                name=type(self).__name__,
                daemon=True,
            )
            self._thread.start()
        return self

    def stop(self) -> None:
        """Shut the server down and release the port (safe to call from two threads at once)."""
        with self._lock:  # the second caller finds nothing left to stop
            server, thread = self._server, self._thread
            self._server = self._thread = None
        if server is not None:
            server.shutdown()
            server.server_close()
            if thread is not None:
                thread.join(timeout=5)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError(f"{type(self).__name__} is not started")
        return int(self._server.server_address[1])

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def files_url(self) -> str:
        """Where files live: ``{files_url}/{filename}``."""
        return f"{self.base_url}/files"
