"""Fault injection: downloads from a misbehaving server (tests/support/faulty.py).

Projects are locked with the real uv against the normal local index, then their
uv.lock is pointed at a :class:`FaultyServer` over the same wheelhouse (same
bytes, so the locked hashes stay valid).  Every run gets a fresh uvroot cache:
the cache is content-addressed, so a warm one would never download.

The behaviour under test (uvroot/fetch.py):

* transient failures (connection errors/resets, timeouts, truncated bodies,
  429, 5xx) are retried with exponential backoff, ``--retries N`` (default 3)
  times after the first attempt; ``UVROOT_RETRY_BACKOFF`` is the base delay;
* 4xx fail at once (exit 5, ``cannot download URL: HTTP nnn``), 401/403 with a
  hint about credentials;
* ``UVROOT_HTTP_TIMEOUT`` bounds a slow response, which then counts as transient;
* wrong bytes are never retried and never cached;
* redirects are followed, hashes still checked, credentials never sent to another host;
* after any fault the root is unchanged and no traceback is printed.
"""

from __future__ import annotations

import base64
import hashlib
import os
import re
import shutil
import socket
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    import requests

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

from tests.support.cli import check_record, tree, uvroot
from tests.support.faulty import (
    Behaviour,
    FaultyServer,
    gzipped,
    ok,
    redirect,
    require_auth,
    reset,
    slow,
    status,
    trickle,
    truncate,
    wrong_bytes,
)
from tests.support.index import LocalIndex
from tests.support.uvproject import uv_lock, write_project
from tests.support.wheels import build_wheel

ALPHA = "alpha-1.0-py3-none-any.whl"
BETA = "beta-1.0-py3-none-any.whl" if sys.version_info < (3, 12) else "beta-2.0-py3-none-any.whl"
GADGETS = "gadgets-1.0-py3-none-any.whl"
SITE = f"usr/local/lib/python{sys.version_info[0]}.{sys.version_info[1]}/site-packages"

USER, SECRET = "alice", "s3cret"
BASIC = "Basic " + base64.b64encode(f"{USER}:{SECRET}".encode()).decode()


# -- fixtures and helpers ------------------------------------------------------


@pytest.fixture
def faulty(wheelhouse: Path) -> Iterator[FaultyServer]:
    with FaultyServer(wheelhouse) as server:
        yield server


@pytest.fixture
def other(wheelhouse: Path) -> Iterator[FaultyServer]:
    """A second server: another port is another host for credential forwarding."""
    with FaultyServer(wheelhouse) as server:
        yield server


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    """Short backoff, and nothing from this machine (netrc, proxies) steering requests."""
    netrc = tmp_path / "empty.netrc"
    netrc.write_text("")
    return {
        "UVROOT_RETRY_BACKOFF": "0.01",
        "NETRC": str(netrc),
        "NO_PROXY": "127.0.0.1,localhost",
        "no_proxy": "127.0.0.1,localhost",
    }


def point_lock_at(project: Path, index: LocalIndex, server: FaultyServer, userinfo: str | None = None) -> Path:
    """Rewrite every ``<index>/files/`` URL in uv.lock (and pyproject.toml) to ``server``; return the project."""
    old = f"{index.files_url}/"
    new = server.url_for("", userinfo)
    lock = project / "uv.lock"
    text = lock.read_text()
    assert old in text, text
    lock.write_text(text.replace(old, new))
    pyproject = project / "pyproject.toml"
    pyproject.write_text(pyproject.read_text().replace(old, new))
    return project


@pytest.fixture(scope="module")
def locked_projects(tmp_path_factory: pytest.TempPathFactory, index: LocalIndex, uv_cache: Path) -> Callable[..., Path]:
    """``locked_projects(*dependencies) -> project`` locked by uv against ``index``, once per module and set."""
    done: dict[tuple[str, ...], Path] = {}

    def get(*dependencies: str) -> Path:
        if dependencies not in done:
            project = tmp_path_factory.mktemp("faults-template")
            write_project(project, dependencies=list(dependencies), requires_python=">=3.10")
            uv_lock(project, index.url, cache_dir=uv_cache)
            done[dependencies] = project
        return done[dependencies]

    return get


@pytest.fixture
def faulty_project(
    locked_projects: Callable[..., Path], index: LocalIndex, faulty: FaultyServer, tmp_path: Path
) -> Callable[..., Path]:
    """``faulty_project(*dependencies, userinfo=None) -> project`` whose wheel URLs point at ``faulty``.

    A copy of a project the real uv locked against the normal index (see ``locked_projects``).
    """
    counter = iter(range(1, 1000))

    def make(*dependencies: str, userinfo: str | None = None) -> Path:
        project = tmp_path / f"project-{next(counter)}"
        shutil.copytree(locked_projects(*(dependencies or ("gadgets",))), project)
        return point_lock_at(project, index, faulty, userinfo)

    return make


def locked_sha256(project: Path, filename: str) -> str:
    """The sha256 uv.lock pins for ``filename``."""
    lock = tomllib.loads((project / "uv.lock").read_text())
    for package in lock["package"]:
        for wheel in package.get("wheels", []):
            if wheel.get("filename", wheel.get("url", "").rsplit("/", 1)[-1]) == filename:
                return str(wheel["hash"]).removeprefix("sha256:")
    raise AssertionError(f"{filename} is not in {project / 'uv.lock'}")


def sync(project: Path, root: Path, cache: Path, *flags: str, env: dict[str, str]):  # type: ignore[no-untyped-def]
    return uvroot("sync", "--project", project, "--root", root, *flags, cache=cache, env=env)


def assert_ok(result) -> None:  # type: ignore[no-untyped-def]
    assert result.exit_code == 0, result.output
    assert "Traceback" not in result.output and "error:" not in result.output, result.output


def assert_fails(result, *needles: str, code: int = 5) -> None:  # type: ignore[no-untyped-def]
    assert result.exit_code == code, result.output
    assert "Traceback" not in result.output, result.output
    assert result.output.count("error: ") == 1, result.output
    for needle in needles:
        assert needle in result.output, f"{needle!r} not in:\n{result.output}"


def assert_not_cached(cache: Path, sha256: str) -> None:
    """Nothing of the wheel with this hash is in the cache, and no partial download is left."""
    for kind in ("wheels-v1", "unpacked-v2"):
        files = [p for p in (cache / kind / sha256[:2] / sha256).rglob("*") if not p.is_dir()]
        assert files == [], files  # (an empty directory is no entry)
    leftovers = list((cache / "tmp").rglob("*")) if (cache / "tmp").exists() else []
    assert leftovers == [], leftovers


def assert_cached_verified(cache: Path, sha256: str, filename: str) -> None:
    """The wheel is in the cache unpacked, with its manifest; the downloaded archive is not kept."""
    assert (cache / "unpacked-v2" / sha256[:2] / sha256 / ".uvroot-unpacked").is_file()
    assert not (cache / "wheels-v1" / sha256[:2] / sha256 / filename).exists()


def snapshot(root: Path) -> tuple[list[str], dict[str, bytes]] | None:
    """Every path (directories too) and every file's bytes under ``root``; None when absent."""
    if not root.exists():
        return None
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*")), tree(root)


def assert_staged(root: Path, *dists: str) -> None:
    for dist in dists:
        info = root / SITE / f"{dist}.dist-info"
        assert info.is_dir(), sorted(tree(root))
        assert check_record(info) == []


# Transient faults: (id, behaviour factory, a needle the final error must hold; {port} is the server's).
# A broken connection is named by the failure and where it happened (mid-body: requests says
# ChunkedEncodingError or ConnectionError, depending on when the reset lands).
TRANSIENT: list[tuple[str, Callable[[], Behaviour], str]] = [
    ("500", lambda: status(500), "HTTP 500"),
    ("502", lambda: status(502), "HTTP 502"),
    ("503", lambda: status(503), "HTTP 503"),
    ("504", lambda: status(504), "HTTP 504"),
    ("429", lambda: status(429, {"Retry-After": "0"}), "HTTP 429"),
    ("reset", lambda: reset(), "ConnectionError talking to 127.0.0.1:{port} (after 3 attempts)"),
    ("reset-mid-body", lambda: reset(mid_body=True), "Error talking to 127.0.0.1:{port} (after 3 attempts)"),
    ("truncate", lambda: truncate(100), "Error talking to 127.0.0.1:{port} (after 3 attempts)"),
]
TRANSIENT_IDS = [t[0] for t in TRANSIENT]


# -- transient failures are retried ------------------------------------------------


@pytest.mark.parametrize(("kind", "fault", "needle"), TRANSIENT, ids=TRANSIENT_IDS)
def test_transient_fault_is_retried_then_succeeds(
    kind: str,
    fault: Callable[[], Behaviour],
    needle: str,
    faulty: FaultyServer,
    faulty_project: Callable[..., Path],
    tmp_path: Path,
    env: dict[str, str],
) -> None:
    project = faulty_project("gadgets")
    faulty.plan(GADGETS, fault(), fault(), ok())
    root, cache = tmp_path / "root", tmp_path / "cache"
    result = sync(project, root, cache, env=env)
    assert_ok(result)
    assert len(faulty.hits(GADGETS)) == 3
    assert_staged(root, "gadgets-1.0")
    assert_cached_verified(cache, locked_sha256(project, GADGETS), GADGETS)


@pytest.mark.parametrize(("kind", "fault", "needle"), TRANSIENT, ids=TRANSIENT_IDS)
def test_transient_fault_gives_up_after_retries(
    kind: str,
    fault: Callable[[], Behaviour],
    needle: str,
    faulty: FaultyServer,
    faulty_project: Callable[..., Path],
    tmp_path: Path,
    env: dict[str, str],
) -> None:
    project = faulty_project("alpha", "gadgets")
    faulty.plan(GADGETS, *(fault() for _ in range(5)))
    root, cache = tmp_path / "root", tmp_path / "cache"
    result = sync(project, root, cache, "--retries", "2", env=env)
    assert_fails(result, faulty.url_for(GADGETS), needle.format(port=faulty.port))
    assert "hint: the index may be overloaded or the network flaky; try again later" in result.output
    assert len(faulty.hits(GADGETS)) == 3  # the first attempt and exactly 2 retries
    assert faulty.pending(GADGETS) == 2
    assert snapshot(root) is None  # alpha was fine, but nothing is staged
    assert_not_cached(cache, locked_sha256(project, GADGETS))


def test_default_is_three_retries(
    faulty: FaultyServer, faulty_project: Callable[..., Path], tmp_path: Path, env: dict[str, str]
) -> None:
    project = faulty_project("gadgets")
    faulty.plan(GADGETS, *(status(503) for _ in range(3)), ok())
    assert_ok(sync(project, tmp_path / "a", tmp_path / "cache-a", env=env))
    assert len(faulty.hits(GADGETS)) == 4

    faulty.clear()
    faulty.plan(GADGETS, *(status(503) for _ in range(4)), ok())
    result = sync(project, tmp_path / "b", tmp_path / "cache-b", env=env)
    assert_fails(result, f"cannot download {faulty.url_for(GADGETS)}: HTTP 503")
    assert len(faulty.hits(GADGETS)) == 4
    assert snapshot(tmp_path / "b") is None
    assert_not_cached(tmp_path / "cache-b", locked_sha256(project, GADGETS))


def test_retries_zero_means_one_attempt(
    faulty: FaultyServer, faulty_project: Callable[..., Path], tmp_path: Path, env: dict[str, str]
) -> None:
    project = faulty_project("gadgets")
    faulty.plan(GADGETS, status(503))
    result = sync(project, tmp_path / "root", tmp_path / "cache", "--retries", "0", env=env)
    assert_fails(result, "HTTP 503")
    assert len(faulty.hits(GADGETS)) == 1
    assert snapshot(tmp_path / "root") is None


class _Waits:
    """fetch's clock: records each wait between attempts instead of sleeping it (the tests' own clock is untouched)."""

    def __init__(self) -> None:
        self.waits: list[float] = []

    def sleep(self, seconds: float) -> None:
        self.waits.append(seconds)

    monotonic = staticmethod(time.monotonic)


@pytest.fixture
def waits(monkeypatch: pytest.MonkeyPatch) -> _Waits:
    import uvroot.fetch

    recorder = _Waits()
    monkeypatch.setattr(uvroot.fetch, "time", recorder)
    return recorder


def test_backoff_base_comes_from_the_environment(
    faulty: FaultyServer, faulty_project: Callable[..., Path], tmp_path: Path, env: dict[str, str], waits: _Waits
) -> None:
    project = faulty_project("gadgets")
    # The waits double from the base, without jitter: 0.01 s base, three retries.
    faulty.plan(GADGETS, *(status(503) for _ in range(3)), ok())
    assert_ok(sync(project, tmp_path / "a", tmp_path / "cache-a", env=env))
    assert len(faulty.hits(GADGETS)) == 4
    assert waits.waits == pytest.approx([0.01, 0.02, 0.04])

    # 0.2 s base: two retries.
    faulty.clear()
    waits.waits.clear()
    faulty.plan(GADGETS, status(503), status(503), ok())
    assert_ok(sync(project, tmp_path / "b", tmp_path / "cache-b", env={**env, "UVROOT_RETRY_BACKOFF": "0.2"}))
    assert len(faulty.hits(GADGETS)) == 3
    assert waits.waits == pytest.approx([0.2, 0.4])

    # No variable: the documented default base, 0.5 s.
    faulty.clear()
    waits.waits.clear()
    faulty.plan(GADGETS, status(503), ok())
    default = {k: v for k, v in env.items() if k != "UVROOT_RETRY_BACKOFF"}
    assert_ok(sync(project, tmp_path / "c", tmp_path / "cache-c", env=default))
    assert waits.waits == pytest.approx([0.5])


def test_429_honours_a_small_retry_after(
    faulty: FaultyServer, faulty_project: Callable[..., Path], tmp_path: Path, env: dict[str, str], waits: _Waits
) -> None:
    project = faulty_project("gadgets")
    faulty.plan(GADGETS, status(429, {"Retry-After": "1"}), ok())
    assert_ok(sync(project, tmp_path / "root", tmp_path / "cache", env=env))
    assert len(faulty.hits(GADGETS)) == 2
    assert waits.waits == [1.0]  # Retry-After, not the 0.01 s backoff
    assert_staged(tmp_path / "root", "gadgets-1.0")


# -- non-transient HTTP errors fail at once --------------------------------------


@pytest.mark.parametrize("code", [400, 401, 403, 404, 410])
def test_client_errors_fail_at_once(
    code: int, faulty: FaultyServer, faulty_project: Callable[..., Path], tmp_path: Path, env: dict[str, str]
) -> None:
    project = faulty_project("alpha", "gadgets")
    faulty.plan(GADGETS, status(code))  # then ok: a retry would have succeeded
    root, cache = tmp_path / "root", tmp_path / "cache"
    result = sync(project, root, cache, env=env)
    assert_fails(result, f"cannot download {faulty.url_for(GADGETS)}: HTTP {code}")
    assert len(faulty.hits(GADGETS)) == 1
    if code in (401, 403):
        assert result.output.endswith(
            "hint: the index wants credentials: set UV_INDEX_<NAME>_USERNAME/PASSWORD, "
            "use .netrc or userinfo in the index URL\n"
        ), result.output
    else:
        assert result.output.endswith(
            "hint: the file is gone from the index: re-lock with `uv lock`, or check the index URL\n"
        ), result.output
    assert snapshot(root) is None
    assert_not_cached(cache, locked_sha256(project, GADGETS))


def test_wrong_credentials_fail_at_once_redacted_with_a_hint(
    faulty: FaultyServer, faulty_project: Callable[..., Path], tmp_path: Path, env: dict[str, str]
) -> None:
    project = faulty_project("gadgets", userinfo=f"{USER}:wrong-password")
    auth = require_auth(USER, SECRET)
    faulty.default("*", auth)
    result = sync(project, tmp_path / "root", tmp_path / "cache", env=env)
    assert_fails(result, f"cannot download http://****@127.0.0.1:{faulty.port}/files/{GADGETS}: HTTP 401")
    assert "UV_INDEX_" in result.output and ".netrc" in result.output
    assert "wrong-password" not in result.output and f"{USER}:" not in result.output
    assert len(faulty.hits(GADGETS)) == 1
    assert auth.seen == ["Basic " + base64.b64encode(f"{USER}:wrong-password".encode()).decode()]
    assert snapshot(tmp_path / "root") is None


# -- timeouts ----------------------------------------------------------------------------


STALLS = [
    pytest.param(lambda: slow(1.5), id="before-headers"),
    pytest.param(lambda: slow(1.5, after_bytes=100), id="mid-body"),
]


@pytest.mark.parametrize("stall", STALLS)
def test_slow_response_times_out_and_is_retried(
    stall: Callable[[], Behaviour],
    faulty: FaultyServer,
    faulty_project: Callable[..., Path],
    tmp_path: Path,
    env: dict[str, str],
) -> None:
    project = faulty_project("gadgets")
    faulty.plan(GADGETS, stall(), ok())
    assert_ok(sync(project, tmp_path / "root", tmp_path / "cache", env={**env, "UVROOT_HTTP_TIMEOUT": "0.3"}))
    # Two requests: it gave up on the stalled response (waited out, that one would have served the wheel).
    assert len(faulty.hits(GADGETS)) == 2
    assert_staged(tmp_path / "root", "gadgets-1.0")
    assert_cached_verified(tmp_path / "cache", locked_sha256(project, GADGETS), GADGETS)


@pytest.mark.parametrize("stall", STALLS)
def test_slow_response_fails_with_timed_out_after_retries(
    stall: Callable[[], Behaviour],
    faulty: FaultyServer,
    faulty_project: Callable[..., Path],
    tmp_path: Path,
    env: dict[str, str],
) -> None:
    project = faulty_project("gadgets")
    faulty.plan(GADGETS, stall(), stall(), stall())
    root, cache = tmp_path / "root", tmp_path / "cache"
    result = sync(project, root, cache, "--retries", "1", env={**env, "UVROOT_HTTP_TIMEOUT": "0.3"})
    assert_fails(result, faulty.url_for(GADGETS), "timed out after 0.3 s (after 2 attempts)")
    assert len(faulty.hits(GADGETS)) == 2
    assert snapshot(root) is None
    assert_not_cached(cache, locked_sha256(project, GADGETS))


def test_a_slow_response_within_the_timeout_is_fine(
    faulty: FaultyServer, faulty_project: Callable[..., Path], tmp_path: Path, env: dict[str, str]
) -> None:
    project = faulty_project("gadgets")
    faulty.plan(GADGETS, slow(0.3, after_bytes=100))
    assert_ok(sync(project, tmp_path / "root", tmp_path / "cache", env={**env, "UVROOT_HTTP_TIMEOUT": "2"}))
    assert len(faulty.hits(GADGETS)) == 1


def test_the_throughput_guard_reads_its_clock_not_the_wall(faulty: FaultyServer, wheelhouse: Path) -> None:
    from uvroot.fetch import MIN_RATE, RequestsDownloader, TransientError

    ticks = iter(range(0, 10**6, 10))  # every reading of the clock is 10 s later

    def clock() -> float:
        return float(next(ticks))

    faulty.plan(GADGETS, trickle(0.001, 500))
    downloader = RequestsDownloader(retries=0, clock=clock)  # no credentials given: none sent
    received = 0
    with pytest.raises(TransientError, match="too slow"):
        for chunk in downloader.chunks(faulty.url_for(GADGETS)):
            received += len(chunk)
    assert received < MIN_RATE  # stopped after the first 30 "seconds", not at the end of the body
    # A body that comes fast is not failed: 1 "second" per chunk, far from the end of a window.
    fast = RequestsDownloader(retries=0, clock=iter(range(10**6)).__next__)
    assert b"".join(fast.chunks(faulty.url_for(GADGETS))) == (wheelhouse / GADGETS).read_bytes()


def test_the_downloader_hands_its_timeout_and_credentials_to_the_session_it_is_given(
    faulty: FaultyServer, wheelhouse: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import requests

    from uvroot.fetch import RequestsDownloader

    class Recording(requests.Session):
        """A real session that notes what each request was asked with."""

        def __init__(self) -> None:
            super().__init__()
            self.asked: list[dict[str, object]] = []

        def get(self, url: str | bytes, **kwargs: object) -> requests.Response:  # type: ignore[override]
            self.asked.append(kwargs)
            return super().get(url, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setenv("UVROOT_HTTP_TIMEOUT", "7.5")
    faulty.default(GADGETS, require_auth(USER, SECRET))
    session = Recording()
    downloader = RequestsDownloader(session=session, credentials={f"127.0.0.1:{faulty.port}": (USER, SECRET)})
    assert b"".join(downloader.chunks(faulty.url_for(GADGETS))) == (wheelhouse / GADGETS).read_bytes()
    assert session.asked == [{"stream": True, "timeout": 7.5, "auth": (USER, SECRET)}]


class _Scripted:
    """A transport for a real ``requests.Session`` (mounted at ``http://scripted/``): answers 200 with the
    body in exactly the chunks given, and notes the timeout each request was sent with."""

    def __init__(self, *chunks: bytes) -> None:
        self.chunks = list(chunks)
        self.timeouts: list[object] = []

    def session(self) -> requests.Session:
        import requests

        transport = self

        class Adapter(requests.adapters.BaseAdapter):
            def send(self, request: requests.PreparedRequest, **kwargs: object) -> requests.Response:  # type: ignore[override]
                transport.timeouts.append(kwargs.get("timeout"))
                response = requests.Response()
                response.status_code, response.url, response.raw = 200, str(request.url), transport
                return response

            def close(self) -> None:
                pass

        session = requests.Session()
        session.mount("http://scripted/", Adapter())
        return session

    def read1(self, amount: int, decode_content: bool = False) -> bytes:  # as urllib3's HTTPResponse
        return self.chunks.pop(0) if self.chunks else b""

    def close(self) -> None:
        pass


def _scripted_download(clock: list[float], *chunks: bytes) -> tuple[list[int], str | None, list[object]]:
    """The chunk sizes a RequestsDownloader (timeout 30 s) hands out, the error that ended it, the timeouts sent."""
    from uvroot.fetch import RequestsDownloader, TransientError

    transport = _Scripted(*chunks)
    readings = iter(clock)
    downloader = RequestsDownloader(retries=0, session=transport.session(), clock=lambda: next(readings))
    downloader.timeout = 30.0
    sizes: list[int] = []
    try:
        for chunk in downloader.chunks("http://scripted/x.whl"):
            sizes.append(len(chunk))
    except TransientError as exc:
        return sizes, exc.message, transport.timeouts
    return sizes, None, transport.timeouts


def test_the_throughput_guard_counts_every_byte_of_each_window_against_the_minimum_rate() -> None:
    """MIN_RATE (1024 bytes/s) over each window of the timeout (30 s here): exactly that is enough, one byte less is not."""
    too_slow = "cannot download http://scripted/x.whl: too slow, {} bytes in the last 30 s (less than 1024 bytes/s)"
    # One chunk per window; the clock is read when the download starts, after each chunk, and when a window restarts.
    assert _scripted_download([0, 30], bytes(30719)) == ([30719], too_slow.format(30719), [30.0])
    assert _scripted_download([0, 30, 30, 60], bytes(30720), bytes(30719)) == (
        [30720, 30719],
        too_slow.format(30719),
        [30.0],
    )
    # A window's bytes add up over its chunks; a new window starts from nothing.
    assert _scripted_download([0, 10, 30, 30, 40], bytes(20000), bytes(10720), bytes(5)) == (
        [20000, 10720, 5],
        None,
        [30.0],
    )


def test_a_retried_download_takes_back_the_progress_it_reported(
    faulty: FaultyServer, wheelhouse: Path, tmp_path: Path
) -> None:
    """The progress bar is told each chunk, and minus the bytes of an attempt that failed: it ends at the size."""
    from uvroot.cache import WheelCache
    from uvroot.fetch import RequestsDownloader, fetch
    from uvroot.lock import LockedWheel

    data = (wheelhouse / GADGETS).read_bytes()
    wheel = LockedWheel(GADGETS, faulty.url_for(GADGETS), hashlib.sha256(data).hexdigest(), None, frozenset(), ())
    faulty.plan(GADGETS, truncate(100), ok())
    told: list[int] = []
    local = fetch(
        wheel, WheelCache(tmp_path / "cache"), RequestsDownloader(retries=1), offline=False, progress=told.append
    )
    assert local.path.read_bytes() == data
    taken_back = told.index(-100)  # the 100 bytes of the truncated attempt
    assert sum(told[:taken_back]) == 100 and all(n > 0 for n in told[:taken_back])
    assert sum(told[taken_back + 1 :]) == len(data) and all(n > 0 for n in told[taken_back + 1 :])


# -- wrong bytes ------------------------------------------------------------------------


def test_wrong_bytes_are_not_retried_and_never_cached(
    faulty: FaultyServer, faulty_project: Callable[..., Path], tmp_path: Path, env: dict[str, str]
) -> None:
    project = faulty_project("alpha", "gadgets")
    faulty.plan(GADGETS, wrong_bytes())  # then ok: a retry would have succeeded
    root, cache = tmp_path / "root", tmp_path / "cache"
    result = sync(project, root, cache, env=env)
    assert_fails(result, GADGETS, "does not match uv.lock")
    # The hint gives both hashes: the one uv.lock pins and the one that arrived.
    assert f"hint: expected sha256 {locked_sha256(project, GADGETS)}, got " in result.output
    assert len(faulty.hits(GADGETS)) == 1
    assert snapshot(root) is None
    assert_not_cached(cache, locked_sha256(project, GADGETS))


def test_a_body_sent_gzip_encoded_is_decoded_before_it_is_hashed(
    faulty: FaultyServer, faulty_project: Callable[..., Path], wheelhouse: Path, tmp_path: Path, env: dict[str, str]
) -> None:
    """A proxy may compress what it relays (Content-Encoding: gzip): the wheel is what arrives once decoded."""
    project = faulty_project("gadgets")
    _pin_size(project, GADGETS, (wheelhouse / GADGETS).stat().st_size)  # the decoded size, as the index gave it
    faulty.plan(GADGETS, gzipped())
    root, cache = tmp_path / "root", tmp_path / "cache"
    assert_ok(sync(project, root, cache, env=env))
    assert len(faulty.hits(GADGETS)) == 1
    assert_staged(root, "gadgets-1.0")
    assert_cached_verified(cache, locked_sha256(project, GADGETS), GADGETS)


def _pin_size(project: Path, filename: str, size: int) -> None:
    """Give ``filename``'s entry in uv.lock a ``size`` (uv writes one when the index tells it)."""
    lock = project / "uv.lock"
    text = lock.read_text()
    entry = f'/{filename}", hash = "sha256:{locked_sha256(project, filename)}"'
    assert text.count(entry) == 1, text
    lock.write_text(text.replace(entry, f"{entry}, size = {size}"))


@pytest.mark.parametrize("delta", [0, 1, -1], ids=["exact", "bigger", "smaller"])
def test_a_locked_size_is_checked_with_the_hash(
    delta: int,
    faulty: FaultyServer,
    faulty_project: Callable[..., Path],
    wheelhouse: Path,
    tmp_path: Path,
    env: dict[str, str],
) -> None:
    project = faulty_project("gadgets")
    real = (wheelhouse / GADGETS).stat().st_size
    _pin_size(project, GADGETS, real + delta)
    faulty.plan(GADGETS, slow(0.1, after_bytes=100))  # in two parts at least: the sizes add up across chunks
    root, cache = tmp_path / "root", tmp_path / "cache"
    result = sync(project, root, cache, env=env)
    if delta == 0:  # the right bytes of the right size
        assert_ok(result)
        assert_staged(root, "gadgets-1.0")
    elif delta > 0:  # the hash matches, the size uv.lock gives does not: refused all the same
        assert_fails(result, f"{GADGETS} from {faulty.url_for(GADGETS)} does not match uv.lock", f"({real} bytes)")
    else:  # cut as soon as the body is longer than uv.lock says
        assert_fails(
            result, f"{GADGETS} from {faulty.url_for(GADGETS)} is longer than the {real - 1} bytes uv.lock gives"
        )
        assert result.output.endswith("hint: the index sent other bytes than uv locked; nothing was installed\n")
    assert len(faulty.hits(GADGETS)) == 1  # a mismatch is never retried
    if delta != 0:
        assert snapshot(root) is None
        assert_not_cached(cache, locked_sha256(project, GADGETS))


def test_a_download_that_fills_the_disk_names_the_file_the_cache_and_the_reason(
    faulty: FaultyServer,
    faulty_project: Callable[..., Path],
    tmp_path: Path,
    env: dict[str, str],
    small_disk: Callable[[int], Path],
) -> None:
    project = faulty_project("gadgets")
    big = build_wheel(tmp_path / "big", "gadgets", "1.0", files={"gadgets/blob.bin": os.urandom(1 << 20)})
    digest = hashlib.sha256(big.read_bytes()).hexdigest()
    lock = project / "uv.lock"
    lock.write_text(lock.read_text().replace(locked_sha256(project, GADGETS), digest))
    cache = small_disk(256 << 10)  # room for a quarter of it
    with FaultyServer(big.parent) as server:  # serves the big wheel under the same name
        lock.write_text(lock.read_text().replace(faulty.url_for(GADGETS), server.url_for(GADGETS)))
        result = sync(project, tmp_path / "root", cache, "--retries", "0", env=env)
    assert_fails(result, "No space left on device")
    where = re.escape(str(cache))
    assert re.search(
        rf"error: cannot write {where}/tmp/\S+\.part in the cache at {where}: No space left on device\n", result.output
    )
    assert result.output.endswith("hint: free space on that filesystem, or pass another --cache-dir (or --no-cache)\n")
    assert snapshot(tmp_path / "root") is None
    assert_not_cached(cache, digest)


# -- redirects ----------------------------------------------------------------------------


@pytest.mark.parametrize("code", [301, 302, 307])
def test_redirect_to_another_host_is_followed(
    code: int,
    faulty: FaultyServer,
    other: FaultyServer,
    faulty_project: Callable[..., Path],
    tmp_path: Path,
    env: dict[str, str],
) -> None:
    project = faulty_project("gadgets")
    faulty.plan(GADGETS, redirect(other.url_for(GADGETS), code))
    assert_ok(sync(project, tmp_path / "root", tmp_path / "cache", env=env))
    assert len(faulty.hits(GADGETS)) == 1 and len(other.hits(GADGETS)) == 1
    assert_staged(tmp_path / "root", "gadgets-1.0")


def test_redirect_target_is_still_hash_checked(
    faulty: FaultyServer,
    other: FaultyServer,
    faulty_project: Callable[..., Path],
    tmp_path: Path,
    env: dict[str, str],
) -> None:
    project = faulty_project("gadgets")
    faulty.plan(GADGETS, redirect(other.url_for(GADGETS)))
    other.plan(GADGETS, wrong_bytes())
    root, cache = tmp_path / "root", tmp_path / "cache"
    result = sync(project, root, cache, env=env)
    assert_fails(result, GADGETS, "does not match uv.lock")
    assert len(faulty.hits(GADGETS)) == 1 and len(other.hits(GADGETS)) == 1  # not retried
    assert snapshot(root) is None
    assert_not_cached(cache, locked_sha256(project, GADGETS))


# -- credentials ----------------------------------------------------------------------


def _no_secret_anywhere(result_output: str, *trees: Path) -> None:
    assert SECRET not in result_output, result_output
    for top in trees:
        for path in top.rglob("*"):
            assert SECRET not in str(path.relative_to(top)), path
        for name, data in tree(top).items():
            assert SECRET.encode() not in data, f"{SECRET} in {top / name}"


def test_credentials_in_the_lock_url_are_sent_and_never_leak(
    faulty: FaultyServer, faulty_project: Callable[..., Path], index: LocalIndex, tmp_path: Path, env: dict[str, str]
) -> None:
    # gadgets as a URL dependency: its dist-info gets a direct_url.json.
    project = faulty_project("alpha", f"gadgets @ {index.files_url}/{GADGETS}", userinfo=f"{USER}:{SECRET}")
    auth = require_auth(USER, SECRET)
    faulty.default("*", auth)
    root, cache = tmp_path / "root", tmp_path / "cache"
    result = sync(project, root, cache, "-v", env=env)
    assert_ok(result)
    assert sorted(r.path for r in faulty.file_requests()) == sorted(f"/files/{n}" for n in (ALPHA, BETA, GADGETS))
    assert auth.seen == [BASIC] * 3
    assert_staged(root, "alpha-1.0", "gadgets-1.0")
    direct_url = (root / SITE / "gadgets-1.0.dist-info" / "direct_url.json").read_text()
    assert f"127.0.0.1:{faulty.port}/files/{GADGETS}" in direct_url
    _no_secret_anywhere(result.output, root)
    for path in cache.rglob("*"):  # the cache's file *names*; see the next test for contents
        assert SECRET not in str(path.relative_to(cache)), path


def test_named_index_credentials_from_the_environment_are_sent_and_never_leak(
    faulty: FaultyServer, faulty_project: Callable[..., Path], tmp_path: Path, env: dict[str, str]
) -> None:
    """uv's UV_INDEX_<NAME>_USERNAME/PASSWORD for a named index are sent to that index's host (uv.lock has none)."""
    project = faulty_project("gadgets")
    auth = require_auth(USER, SECRET)
    faulty.default("*", auth)
    named = {
        **env,
        "UV_INDEX": f"private-idx=http://127.0.0.1:{faulty.port}/simple",
        "UV_INDEX_PRIVATE_IDX_USERNAME": USER,
        "UV_INDEX_PRIVATE_IDX_PASSWORD": SECRET,
    }
    root = tmp_path / "root"
    result = sync(project, root, tmp_path / "cache", "-v", env=named)
    assert_ok(result)
    assert auth.seen == [BASIC]
    assert_staged(root, "gadgets-1.0")
    _no_secret_anywhere(result.output, root)


def test_credentials_are_not_written_into_the_cache(
    faulty: FaultyServer, faulty_project: Callable[..., Path], tmp_path: Path, env: dict[str, str]
) -> None:
    project = faulty_project("gadgets", userinfo=f"{USER}:{SECRET}")
    faulty.default("*", require_auth(USER, SECRET))
    cache = tmp_path / "cache"
    assert_ok(sync(project, tmp_path / "root", cache, env=env))
    _no_secret_anywhere("", cache)


def test_credentials_are_not_forwarded_on_a_redirect_to_another_host(
    faulty: FaultyServer,
    other: FaultyServer,
    faulty_project: Callable[..., Path],
    tmp_path: Path,
    env: dict[str, str],
) -> None:
    project = faulty_project("alpha", "gadgets", userinfo=f"{USER}:{SECRET}")
    guards = {name: require_auth(USER, SECRET, then=redirect(other.url_for(name))) for name in (ALPHA, BETA, GADGETS)}
    for name, guard in guards.items():
        faulty.default(name, guard)
    root = tmp_path / "root"
    result = sync(project, root, tmp_path / "cache", "-v", env=env)
    assert_ok(result)
    assert all(guard.seen == [BASIC] for guard in guards.values()), {n: g.seen for n, g in guards.items()}
    landed = other.file_requests()
    assert sorted(r.path for r in landed) == sorted(f"/files/{n}" for n in (ALPHA, BETA, GADGETS))
    assert [r.header("Authorization") for r in landed] == [None] * 3
    assert_staged(root, "alpha-1.0", "gadgets-1.0")
    _no_secret_anywhere(result.output, root)


# -- the root survives every fault ----------------------------------------------------------


@pytest.mark.parametrize(
    "fault",
    [
        pytest.param(lambda: status(503), id="503"),
        pytest.param(lambda: status(404), id="404"),
        pytest.param(lambda: status(403), id="403"),
        pytest.param(lambda: reset(), id="reset"),
        pytest.param(lambda: truncate(10), id="truncate"),
        pytest.param(lambda: wrong_bytes(), id="wrong-bytes"),
    ],
)
def test_a_fault_leaves_an_existing_root_as_it_was(
    fault: Callable[[], Behaviour],
    faulty: FaultyServer,
    faulty_project: Callable[..., Path],
    tmp_path: Path,
    env: dict[str, str],
) -> None:
    root = tmp_path / "root"
    assert_ok(sync(faulty_project("alpha"), root, tmp_path / "cache-1", env=env))
    before = snapshot(root)
    assert before is not None and (root / SITE / "alpha-1.0.dist-info").is_dir()

    bigger = faulty_project("alpha", "gadgets")
    faulty.default(GADGETS, fault())  # every attempt fails
    cache = tmp_path / "cache-2"
    result = sync(bigger, root, cache, env=env)
    assert_fails(result, GADGETS)
    assert snapshot(root) == before
    assert_not_cached(cache, locked_sha256(bigger, GADGETS))


# -- the harness itself --------------------------------------------------------------------


def test_faulty_server_does_what_it_says(faulty: FaultyServer, other: FaultyServer, wheelhouse: Path) -> None:
    """Each behaviour as a plain client sees it, and a negative control for credential forwarding."""
    import urllib.request

    import requests

    real = (wheelhouse / GADGETS).read_bytes()
    url = faulty.url_for(GADGETS)
    faulty.plan(GADGETS, status(503, {"Retry-After": "7"}), reset(), reset(mid_body=True), truncate(10), wrong_bytes())
    with requests.Session() as session:
        answer = session.get(url, timeout=5)
        assert (answer.status_code, answer.headers["Retry-After"]) == (503, "7")
        with pytest.raises(requests.ConnectionError):
            session.get(url, timeout=5)
        for _ in range(2):  # reset mid-body, truncate: the body ends early
            with pytest.raises((requests.exceptions.ChunkedEncodingError, requests.ConnectionError)):
                session.get(url, timeout=5).content  # noqa: B018
        assert session.get(url, timeout=5).content not in (real, b"")  # wrong bytes
        assert session.get(url, timeout=5).content == real  # the plan is used up: ok
        faulty.plan(GADGETS, slow(1.0))
        with pytest.raises(requests.Timeout):
            session.get(url, timeout=0.2)
    assert len(faulty.hits(GADGETS)) == 7 and faulty.pending(GADGETS) == 0

    # require_auth records what it saw; urllib, unlike requests, forwards a set Authorization
    # header to another host on a redirect, and the other server records it.
    guard = require_auth(USER, SECRET, then=redirect(other.url_for(GADGETS), 307))
    faulty.default(GADGETS, guard)
    with pytest.raises(urllib.error.HTTPError, match="401"):
        urllib.request.urlopen(url, timeout=5)
    request = urllib.request.Request(url, headers={"Authorization": BASIC})
    with urllib.request.urlopen(request, timeout=5) as response:
        assert response.read() == real
    assert guard.seen == [None, BASIC]
    assert [r.header("authorization") for r in other.hits(GADGETS)] == [BASIC]

    # stop() cuts a sleeping response short.
    faulty.default(GADGETS, slow(5.0))
    with pytest.raises(requests.ConnectionError) as cut:
        threading.Timer(0.2, faulty.stop).start()
        requests.get(url, timeout=3)
    # Cut short by stop(): a response left to sleep its 5 s would end in a read timeout (3 s) instead.
    assert not isinstance(cut.value, requests.Timeout)


def _closed_port() -> int:
    with socket.socket() as probe:  # bound, never listening: a connection to it is refused
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _lock_at(project: Path, index: LocalIndex, base: str) -> Path:
    lock = project / "uv.lock"
    lock.write_text(lock.read_text().replace(f"{index.files_url}/", base))
    return project


@pytest.fixture
def copied(locked_projects: Callable[..., Path], tmp_path: Path) -> Path:
    return Path(shutil.copytree(locked_projects("gadgets"), tmp_path / "project"))


def test_a_refused_connection_names_the_host_and_port(
    copied: Path, index: LocalIndex, tmp_path: Path, env: dict[str, str]
) -> None:
    port = _closed_port()
    project = _lock_at(copied, index, f"http://127.0.0.1:{port}/files/")
    result = sync(project, tmp_path / "root", tmp_path / "cache", "--retries", "0", env=env)
    assert_fails(result, f"connection refused by 127.0.0.1:{port}")


def test_an_unknown_host_is_named_as_a_dns_failure(
    copied: Path, index: LocalIndex, tmp_path: Path, env: dict[str, str]
) -> None:
    project = _lock_at(copied, index, "http://uvroot-no-such-host.invalid/files/")  # .invalid never resolves
    result = sync(project, tmp_path / "root", tmp_path / "cache", "--retries", "0", env=env)
    assert_fails(result, "cannot resolve the host name uvroot-no-such-host.invalid (DNS)")


def test_a_dead_proxy_is_named_without_its_password(
    copied: Path, index: LocalIndex, tmp_path: Path, env: dict[str, str]
) -> None:
    port = _closed_port()
    project = _lock_at(copied, index, "http://files.uvroot-test.invalid/files/")
    proxied = {**env, "HTTP_PROXY": f"http://{USER}:{SECRET}@127.0.0.1:{port}", "NO_PROXY": "", "no_proxy": ""}
    result = sync(project, tmp_path / "root", tmp_path / "cache", "--retries", "0", env=proxied)
    assert_fails(result, f"the proxy http://****@127.0.0.1:{port} failed")
    assert SECRET not in result.output


def test_a_token_in_a_lock_urls_query_never_reaches_output(
    copied: Path, index: LocalIndex, tmp_path: Path, env: dict[str, str]
) -> None:
    """Presigned URLs carry their credential in the query (X-Amz-Signature=..., token=...)."""
    port = _closed_port()
    project = _lock_at(copied, index, f"http://127.0.0.1:{port}/files/")
    lock = project / "uv.lock"
    lock.write_text(lock.read_text().replace('.whl"', '.whl?X-Amz-Signature=SIGSECRET&token=TOKSECRET&v=1"'))
    result = sync(project, tmp_path / "root", tmp_path / "cache", "--retries", "0", env=env)
    assert_fails(result, "X-Amz-Signature=****&token=****&v=1")
    assert "SIGSECRET" not in result.output and "TOKSECRET" not in result.output
    verbose = sync(project, tmp_path / "root", tmp_path / "cache", "--retries", "0", "-v", env=env)
    assert "SIGSECRET" not in verbose.output and "TOKSECRET" not in verbose.output  # nor in -v's traceback


def test_a_local_wheel_is_hashed_where_it_lies(
    make_locked_project: Callable[..., Path], wheelhouse: Path, tmp_path: Path, env: dict[str, str]
) -> None:
    """A wheel the lock names by path (a ``path`` source) is read in place, and checked when uv.lock hashes it."""
    wheel = tmp_path / "wheels" / "linttool-1.0-py3-none-any.whl"
    wheel.parent.mkdir()
    genuine = (wheelhouse / wheel.name).read_bytes()
    wheel.write_bytes(genuine)
    project = make_locked_project(
        dependencies=["linttool"], sources={"linttool": {"path": f"../wheels/{wheel.name}"}}, requires_python=">=3.10"
    )
    locked = locked_sha256(project, wheel.name)
    impostor = build_wheel(tmp_path / "impostor", "linttool", "1.0", files={"linttool/__init__.py": "IMPOSTOR = 1\n"})
    wheel.write_bytes(impostor.read_bytes())  # a valid wheel, not the one uv locked
    result = sync(project, tmp_path / "tampered", tmp_path / "cache", env=env)
    got = f"got {hashlib.sha256(impostor.read_bytes()).hexdigest()} ({impostor.stat().st_size} bytes)"
    assert_fails(result, f"{wheel.name} from {wheel} does not match uv.lock", f"expected sha256 {locked}, {got}")
    assert snapshot(tmp_path / "tampered") is None

    wheel.unlink()
    result = sync(project, tmp_path / "moved", tmp_path / "cache", env=env)
    assert_fails(result, f"error: cannot read {wheel}: No such file or directory\n")
    assert result.output.endswith("hint: the lock points at a local file that moved\n"), result.output

    wheel.write_bytes(genuine)  # back as it was locked: verified and installed
    assert_ok(sync(project, tmp_path / "genuine", tmp_path / "cache", env=env))
    assert_staged(tmp_path / "genuine", "linttool-1.0")

    wheel.write_bytes(impostor.read_bytes())  # a lock without the hash checks nothing: it installs what lies there
    lock = project / "uv.lock"
    lock.write_text(lock.read_text().replace(f', hash = "sha256:{locked}"', ""))
    assert_ok(sync(project, tmp_path / "unhashed", tmp_path / "cache", env=env))
    assert (tmp_path / "unhashed" / SITE / "linttool" / "__init__.py").read_text() == "IMPOSTOR = 1\n"


def test_a_url_with_a_bad_port_or_none_is_named_as_such(
    copied: Path, index: LocalIndex, tmp_path: Path, env: dict[str, str]
) -> None:
    project = _lock_at(copied, index, "http://127.0.0.1:99999/files/")
    result = sync(project, tmp_path / "root", tmp_path / "cache", env=env)
    assert_fails(result, "gadgets-1.0-py3-none-any.whl: the URL is not valid (check its host and port)\nhint: ")
    assert result.output.endswith("hint: check the index URL in uv.lock\n"), result.output
    assert snapshot(tmp_path / "root") is None

    lock = project / "uv.lock"
    lock.write_text(lock.read_text().replace("http://127.0.0.1:99999/files/", "http:///files/"))
    result = sync(project, tmp_path / "root", tmp_path / "cache", env=env)
    assert_fails(result, "http:///files/gadgets-1.0-py3-none-any.whl: InvalidURL talking to ?\n")  # no host to name

    with socket.socket() as probe:  # the default port (443 for https) must be closed here, as it usually is
        if probe.connect_ex(("127.0.0.1", 443)) == 0:
            pytest.skip("something listens on 127.0.0.1:443")
    lock.write_text(lock.read_text().replace("http:///files/", "https://127.0.0.1/files/"))
    result = sync(project, tmp_path / "root", tmp_path / "cache", "--retries", "0", env=env)
    assert_fails(result, "connection refused by 127.0.0.1 (after 1 attempts)")  # no port in the URL, none named


def test_check_fetches_an_sdist_with_three_retries_by_default(
    faulty: FaultyServer, faulty_project: Callable[..., Path], tmp_path: Path, env: dict[str, str]
) -> None:
    """`uvroot check` for another Python fetches the sdists it would build (no --retries there: the default)."""
    sdist = "sdistonly-1.0.tar.gz"
    project = faulty_project("sdistonly")
    other = "3.13" if sys.version_info[:2] != (3, 13) else "3.12"
    faulty.plan(sdist, truncate(100), *(status(503) for _ in range(2)), ok())  # no progress bar here to correct
    result = uvroot("check", "--project", project, "--python-version", other, cache=tmp_path / "cache-a", env=env)
    assert result.exit_code == 0, result.output
    assert len(faulty.hits(sdist)) == 4

    faulty.clear()
    faulty.plan(sdist, *(status(503) for _ in range(4)), ok())
    result = uvroot("check", "--project", project, "--python-version", other, cache=tmp_path / "cache-b", env=env)
    assert_fails(result, f"cannot download {faulty.url_for(sdist)}: HTTP 503 (after 4 attempts)")
    assert len(faulty.hits(sdist)) == 4


@pytest.mark.parametrize("pinned_size", [False, True], ids=["hash", "hash-and-size"])
def test_a_cached_download_is_used_only_while_it_is_what_the_lock_pins(
    pinned_size: bool,
    faulty: FaultyServer,
    faulty_project: Callable[..., Path],
    wheelhouse: Path,
    tmp_path: Path,
    env: dict[str, str],
) -> None:
    """A wheel already in wheels-v1 (a sync killed before unpacking it left it) is hashed again before use."""
    project = faulty_project("gadgets")
    genuine = (wheelhouse / GADGETS).read_bytes()
    if pinned_size:
        _pin_size(project, GADGETS, len(genuine))
    sha = locked_sha256(project, GADGETS)
    cache = tmp_path / "cache"
    cached = cache / "wheels-v1" / sha[:2] / sha / GADGETS
    cached.parent.mkdir(parents=True)

    cached.write_bytes(genuine)  # intact: used as it is, nothing downloaded
    assert_ok(sync(project, tmp_path / "intact", cache, env=env))
    assert faulty.hits(GADGETS) == []
    assert_staged(tmp_path / "intact", "gadgets-1.0")

    shutil.rmtree(cache / "unpacked-v2")  # the next sync needs the download again
    cached.parent.mkdir(parents=True, exist_ok=True)
    cached.write_bytes(genuine[: len(genuine) // 2])  # truncated: evicted and downloaded again
    assert_ok(sync(project, tmp_path / "damaged", cache, env=env))
    assert len(faulty.hits(GADGETS)) == 1
    assert tree(tmp_path / "damaged") == tree(tmp_path / "intact")
    assert_cached_verified(cache, sha, GADGETS)


def _refusal_behind(where: str) -> BaseException:
    """An error with a refused connection somewhere in what it wraps, next to a cause that explains nothing."""
    refused = ConnectionRefusedError(111, "Connection refused")
    other, twice = RuntimeError("nothing to see"), RuntimeError("seen twice")
    if where == "arg":
        return RuntimeError(refused, other)
    if where == "arg-behind-a-repeat":  # the repeated one is looked at first, and once is enough
        return RuntimeError(refused, twice, twice)
    outer = RuntimeError(other)
    if where == "cause":
        outer.__cause__ = refused
    elif where == "context":
        outer.__context__ = refused
    else:  # urllib3's MaxRetryError keeps the error that ended the retries in .reason
        outer.reason = refused  # type: ignore[attr-defined]
    return outer


@pytest.mark.parametrize("where", ["arg", "arg-behind-a-repeat", "cause", "context", "reason"])
def test_a_refusal_is_named_wherever_it_is_wrapped(where: str) -> None:
    from uvroot.fetch import _reason

    assert _reason(_refusal_behind(where), "http://127.0.0.1:8/files/x.whl") == "connection refused by 127.0.0.1:8"


def test_each_wrapped_error_is_looked_at_once_even_in_a_cycle() -> None:
    from itertools import islice

    from uvroot.fetch import _causes

    inner, twice = RuntimeError("inner"), RuntimeError("twice")
    outer = RuntimeError(inner, twice, twice)
    inner.__context__ = outer  # a cycle: outer -> inner -> outer
    found = list(islice(_causes(outer), 10))  # bounded: a walk that loops would go on forever
    assert sorted(map(str, found)) == sorted(map(str, [outer, inner, twice]))


def test_a_remote_file_needs_a_hash_and_offline_needs_the_cache(
    faulty: FaultyServer, faulty_project: Callable[..., Path], tmp_path: Path, env: dict[str, str]
) -> None:
    project = faulty_project("gadgets")
    cache = tmp_path / "cache"
    result = sync(project, tmp_path / "root", cache, "--offline", env=env)
    assert result.exit_code == 5, result.output
    assert result.output == (
        f"error: {GADGETS} is not in the cache at {cache} and --offline forbids downloading it\n"
        "hint: run once without --offline (or with the same --cache-dir) to fill the cache\n"
    )
    assert faulty.file_requests() == [] and snapshot(tmp_path / "root") is None

    lock = project / "uv.lock"
    lock.write_text(lock.read_text().replace(f', hash = "sha256:{locked_sha256(project, GADGETS)}"', ""))
    result = sync(project, tmp_path / "root", cache, env=env)
    assert result.exit_code == 5, result.output
    assert result.output == (
        f"error: uv.lock has no hash for {GADGETS} from {faulty.url_for(GADGETS)}\n"
        "hint: uvroot installs remote files only when uv.lock pins their sha256\n"
    )
    assert faulty.file_requests() == [] and snapshot(tmp_path / "root") is None
