#!/usr/bin/env python3
"""Benchmark uvroot against uv and pip on one lock, every goal of issue 13 in one run.

All tools install the same wheels (the ones `bench/project/uv.lock` selects for the target), served
from a PEP 503 index on 127.0.0.1 that this script runs from a wheelhouse in the scratch directory
(downloaded once from the lock's URLs and checked against its sha256), so no timed run touches the
network.  uvroot reads a copy of the lock whose selected wheel URLs point at that index; uv and pip
get the same pins with hashes (`uv export`) and the index URL.  Each tool has its own cache under the
scratch directory and ignores this machine's uv/pip configuration.  Scenarios:

- warm: every cache holds the wheels, the target is new (uvroot / uv pip install / pip, --target);
- cold: the tool's cache is empty, the target is new;
- noop: the same lock synced again into a synced tree (uvroot --target vs `uv sync --frozen` in a venv);
- plan, check: `uvroot plan` on the synced tree and `uvroot check`;
- removal: every distribution removed (uvroot sync of a project with no dependencies into the tree)
  vs `rm -rf` of the same files;
- synth50k: `uvroot plan` of a generated 50,000-package lock, killed after --synth-timeout seconds;
- and, after everything, the size of each tool's cache and the peak memory of every run.

Before every timed run the dirty pages are written back (`sync`) and, where this process may, the page
cache is dropped (plan and check are also timed with it kept); tools take turns within a round (the first tool rotates), and min / median / max of
each row are reported.  A ratio is claimed only where the two rows' ranges do not overlap.

    make bench                              # the full run (--runs 5; writes bench/RESULTS.md)
    make bench ARGS=--quick                 # one run of each, a smoke test (report in the scratch dir)
    python bench/bench.py --runs 3 --scenarios warm,noop
"""

from __future__ import annotations

import argparse
import concurrent.futures
import datetime as dt
import hashlib
import html
import json
import os
import platform
import re
import resource
import shutil
import signal
import statistics
import subprocess
import sys
import threading
import time
import urllib.request
import zipfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
PROJECT = HERE / "project"
CACHED = " (page cache kept)"
BIN = Path(sys.executable).parent  # the dev venv that runs this script has uvroot and uv
UV_PLATFORM = "x86_64-manylinux_2_28"
SCENARIOS = ("warm", "cold", "noop", "plan", "check", "removal", "synth50k")
ORDER = ("noop", "plan", "check", "warm", "removal", "cold", "synth50k")  # cold last: caches end full
LINK_MODES = ("copy", "hardlink")  # the modes uvroot and uv both have, compared like for like
SYNTH_COUNT = 50_000
SYNTH_PYTHON = "3.12"
GNU_TIME = Path("/usr/bin/time")
DROP_CACHES = Path("/proc/sys/vm/drop_caches")
MIB = 1024 * 1024


class BenchError(Exception):
    """A tool failed or the machine cannot run the benchmark; the message says which and why."""


# --------------------------------------------------------------------------- the local index


@dataclass(frozen=True)
class Wheel:
    """One wheel the lock selects for the target, as `uvroot plan --format json` names it."""

    name: str
    filename: str
    url: str
    sha256: str
    size: int


def normalize(name: str) -> str:
    """PEP 503 normalized project name."""
    return re.sub(r"[-_.]+", "-", name).lower()


def selected_wheels(source: Path, scratch: Path, python_version: str) -> list[Wheel]:
    """The wheels uvroot picks from the committed lock for the target (a dry run: nothing is written)."""
    cmd = [str(BIN / "uvroot"), "plan", "--project", str(source), "--target", str(scratch / "targets" / "probe")]
    cmd += ["--frozen", "--no-dev", "--python-version", python_version, "--python-platform", UV_PLATFORM]
    cmd += ["--cache-dir", str(scratch / "cache" / "probe"), "--format", "json", "--no-progress"]
    out = subprocess.run(cmd, capture_output=True, text=True, env=tool_env(), check=False)
    if out.returncode != 0:
        raise BenchError(f"uvroot plan of bench/project failed ({out.returncode}):\n{out.stderr[-2000:]}")
    wheels = []
    for package in json.loads(out.stdout)["packages"]:
        wheel = package.get("wheel")
        if not wheel:
            raise BenchError(f"{package['name']} has no wheel for {UV_PLATFORM}: the bench lock must be all wheels")
        wheels.append(
            Wheel(normalize(package["name"]), wheel["filename"], wheel["url"], wheel["sha256"], wheel["size"])
        )
    return wheels


def fetch_wheel(wheel: Wheel, house: Path) -> None:
    """Download one wheel into the wheelhouse unless it is there, verify it and extract its METADATA."""
    path = house / wheel.filename
    if not path.exists():
        part = path.with_name(path.name + ".part")
        digest = hashlib.sha256()
        with urllib.request.urlopen(wheel.url, timeout=60) as response, part.open("wb") as out:
            while chunk := response.read(1 << 20):
                digest.update(chunk)
                out.write(chunk)
        if digest.hexdigest() != wheel.sha256 or part.stat().st_size != wheel.size:
            part.unlink()
            raise BenchError(f"{wheel.url} does not match the lock's sha256 or size")
        part.rename(path)
    metadata = path.with_name(path.name + ".metadata")  # PEP 658, as PyPI serves it
    if not metadata.exists():
        with zipfile.ZipFile(path) as archive:
            names = [n for n in archive.namelist() if re.fullmatch(r"[^/]+\.dist-info/METADATA", n)]
            if len(names) != 1:
                raise BenchError(f"{wheel.filename} has {len(names)} top-level .dist-info/METADATA files")
            metadata.write_bytes(archive.read(names[0]))


def fill_wheelhouse(wheels: Sequence[Wheel], house: Path) -> None:
    """Download (8 at a time) every wheel the wheelhouse does not hold yet."""
    house.mkdir(parents=True, exist_ok=True)
    missing = [w for w in wheels if not (house / w.filename).exists()]
    if missing:
        total = sum(w.size for w in missing) / MIB
        print(f"  downloading {len(missing)} wheels ({total:.0f} MiB) into {house} (once) ...", flush=True)
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        for future in [pool.submit(fetch_wheel, w, house) for w in wheels]:
            future.result()


class LocalIndex:
    """A PEP 503 index with PEP 658 metadata on 127.0.0.1, served from the wheelhouse by a thread.

    Files go out with `sendfile` (little CPU in this process); index pages may be cached for an
    hour, as PyPI's are for minutes, so a warm uv does not ask again.
    """

    def __init__(self, wheels: Sequence[Wheel], house: Path) -> None:
        by_project: dict[str, list[Wheel]] = {}
        for wheel in wheels:
            by_project.setdefault(wheel.name, []).append(wheel)
        pages = {"/simple/": self._page("Simple index", [f'<a href="/simple/{p}/">{p}</a>' for p in by_project])}
        for project, files in by_project.items():
            links = []
            for w in files:
                meta = hashlib.sha256((house / (w.filename + ".metadata")).read_bytes()).hexdigest()
                attrs = f'data-dist-info-metadata="sha256={meta}" data-core-metadata="sha256={meta}"'
                links.append(f'<a href="/files/{w.filename}#sha256={w.sha256}" {attrs}>{html.escape(w.filename)}</a>')
            pages[f"/simple/{project}/"] = self._page(f"Links for {project}", links)
        files_served = {f"/files/{w.filename}": house / w.filename for w in wheels}
        files_served |= {f"/files/{w.filename}.metadata": house / (w.filename + ".metadata") for w in wheels}
        handler = type("Handler", (_IndexHandler,), {"pages": pages, "files": files_served})
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @staticmethod
    def _page(title: str, links: list[str]) -> bytes:
        body = "\n".join(f"{link}<br/>" for link in links)
        return f"<!DOCTYPE html>\n<html><head><title>{title}</title></head><body>\n{body}\n</body></html>\n".encode()

    def close(self) -> None:
        """Stop serving."""
        self.server.shutdown()
        self.server.server_close()


class _IndexHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as a real index
    pages: dict[str, bytes]
    files: dict[str, Path]

    def do_GET(self) -> None:
        self._serve(body=True)

    def do_HEAD(self) -> None:
        self._serve(body=False)

    def _serve(self, *, body: bool) -> None:
        path = self.path.split("?", 1)[0].split("#", 1)[0]
        if path.startswith("/simple/") and not path.endswith("/"):
            path += "/"
        if path.startswith("/simple/") and path not in self.pages:
            project = path.removeprefix("/simple/").strip("/")
            path = f"/simple/{normalize(project)}/"
        if path in self.pages:
            data = self.pages[path]
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            self.send_header("Cache-Control", "max-age=3600, public")
            self.end_headers()
            if body:
                self.wfile.write(data)
            return
        file = self.files.get(path)
        if file is None:
            self.send_error(404)
            return
        size = file.stat().st_size
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(size))
        self.send_header("Cache-Control", "max-age=365000000, immutable, public")
        self.end_headers()
        if not body:
            return
        with file.open("rb") as source:
            offset = 0
            while offset < size:
                sent = os.sendfile(self.connection.fileno(), source.fileno(), offset, size - offset)
                if sent == 0:
                    break
                offset += sent

    def log_message(self, format: str, *args: object) -> None:
        pass


def local_project(source: Path, scratch: Path, wheels: Sequence[Wheel], index_url: str) -> Path:
    """A copy of bench/project whose lock names the local index's URLs for the selected wheels."""
    project = scratch / "project"
    project.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source / "pyproject.toml", project / "pyproject.toml")
    text = (source / "uv.lock").read_text()
    for wheel in wheels:
        quoted = f'url = "{wheel.url}"'
        if quoted not in text:
            raise BenchError(f"{wheel.url} is not in {source / 'uv.lock'}")
        text = text.replace(quoted, f'url = "{index_url}/files/{wheel.filename}"')
    (project / "uv.lock").write_text(text)
    return project


def empty_project(scratch: Path, python_version: str) -> Path:
    """A virtual project with no dependencies (and its uv.lock): syncing it removes every distribution."""
    project = scratch / "empty"
    project.mkdir(parents=True, exist_ok=True)
    major_minor = ".".join(python_version.split(".")[:2])
    (project / "pyproject.toml").write_text(
        '[project]\nname = "uvroot-bench-empty"\nversion = "0.1.0"\n'
        f'requires-python = ">={major_minor}"\ndependencies = []\n\n[tool.uv]\npackage = false\n'
    )
    cmd = [str(BIN / "uv"), "lock", "--no-config", "--offline", "--project", str(project), "--quiet"]
    cmd += ["--python", sys.executable, "--cache-dir", str(scratch / "cache" / "uv-setup")]
    subprocess.run(cmd, check=True, env=tool_env())
    return project


def synthetic_project(scratch: Path, count: int = SYNTH_COUNT) -> Path:
    """A virtual project whose uv.lock holds `count` registry packages, generated (never installed).

    pkg-i depends on pkg-(2i+1) and pkg-(2i+2) (a binary tree: every package is reached, about 2
    edges each) and every third package also on a later one under `sys_platform == 'win32'` (an edge
    the plan must evaluate and skip); each has one py3-none-any wheel.  Sorted by name as uv writes it.
    """
    project = scratch / "synth50k"
    lock = project / "uv.lock"
    if lock.exists() and (project / "count").exists() and (project / "count").read_text() == str(count):
        return project
    project.mkdir(parents=True, exist_ok=True)
    (project / "pyproject.toml").write_text(
        '[project]\nname = "synthetic-app"\nversion = "0.1.0"\nrequires-python = ">=3.10"\n'
        'dependencies = ["pkg-0"]\n\n[tool.uv]\npackage = false\n'
    )
    registry = 'source = { registry = "https://example.invalid/simple" }'
    entries = []
    for i in range(count):
        deps = [f'    {{ name = "pkg-{c}" }},' for c in (2 * i + 1, 2 * i + 2) if c < count]
        extra = (i * 7919 + 13) % count
        if i % 3 == 0 and extra > 2 * i + 2:
            deps.append(f'    {{ name = "pkg-{extra}", marker = "sys_platform == \'win32\'" }},')
        digest = hashlib.sha256(f"pkg-{i}".encode()).hexdigest()
        wheel = (
            f'    {{ url = "https://example.invalid/files/pkg_{i}-1.0.0-py3-none-any.whl", '
            f'hash = "sha256:{digest}", size = 1000 }},'
        )
        lines = ["[[package]]", f'name = "pkg-{i}"', 'version = "1.0.0"', registry]
        if deps:
            lines += ["dependencies = [", *deps, "]"]
        lines += ["wheels = [", wheel, "]"]
        entries.append((f"pkg-{i}", "\n".join(lines)))
    root = (
        '[[package]]\nname = "synthetic-app"\nversion = "0.1.0"\nsource = { virtual = "." }\n'
        'dependencies = [\n    { name = "pkg-0" },\n]\n\n[package.metadata]\nrequires-dist = [{ name = "pkg-0" }]'
    )
    entries.append(("synthetic-app", root))
    entries.sort()
    header = 'version = 1\nrevision = 3\nrequires-python = ">=3.10"\n'
    lock.write_text(header + "\n" + "\n\n".join(text for _, text in entries) + "\n")
    (project / "count").write_text(str(count))
    return project


# --------------------------------------------------------------------------- running and measuring


def tool_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """The current environment minus the machine's uv/pip/uvroot settings (indexes, caches, find-links)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("UV_", "PIP_", "UVROOT_"))}
    env.pop("VIRTUAL_ENV", None)
    # A user's shell does not set it; with it set, the editable uvroot would compile its modules afresh in every run.
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["PIP_CONFIG_FILE"] = os.devnull  # ignore /etc/pip.conf and ~/.config/pip
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"  # no extra request per run
    env["UV_PYTHON_DOWNLOADS"] = "never"  # uv uses the interpreter it is given, never fetches one
    return env | (extra or {})


@dataclass(frozen=True)
class Sample:
    """One timed run: wall time and peak resident set size (None: killed at the timeout)."""

    seconds: float
    max_rss_mib: float
    killed: bool = False


class Runner:
    """Runs one command at a time: flush (and drop) the page cache, time it, read its peak RSS."""

    def __init__(self, scratch: Path, drop: bool) -> None:
        self.scratch = scratch
        self.gnu_time = GNU_TIME.exists() and "GNU" in _quiet([str(GNU_TIME), "--version"])
        self.drop, self.drop_note = self._can_drop() if drop else (False, "not asked (--no-drop-caches)")

    @staticmethod
    def _can_drop() -> tuple[bool, str]:
        try:
            os.sync()
            DROP_CACHES.write_text("3\n")
        except OSError as exc:
            return False, f"not possible here ({DROP_CACHES}: {exc.strerror or exc})"
        return True, f"yes (`echo 3 > {DROP_CACHES}` after `sync`)"

    def flush(self, drop: bool = True) -> None:
        """Write dirty pages back (so no run pays for the previous run's writes) and drop the page cache."""
        os.sync()
        if self.drop and drop:
            DROP_CACHES.write_text("3\n")

    def run(self, cmd: Sequence[str], env: dict[str, str], log: Path, timeout: float | None = None) -> Sample:
        """Run `cmd` to completion (or kill it at `timeout`), timing it and reading its peak RSS.

        The RSS is GNU time's `%M` where /usr/bin/time is GNU time, else `ru_maxrss` from `wait4`
        on this one child: either is the largest single process of the run, not a sum over workers.
        """
        log.parent.mkdir(parents=True, exist_ok=True)
        rss_file = self.scratch / "logs" / "rss"
        argv = [str(GNU_TIME), "-f", "%M", "-o", str(rss_file), *cmd] if self.gnu_time else list(cmd)
        with log.open("ab") as out:
            out.write(f"\n$ {' '.join(cmd)}\n".encode())
            out.flush()
            start = time.perf_counter()
            proc = subprocess.Popen(
                argv, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT, env=env, start_new_session=True
            )
            killed = threading.Event()

            def kill() -> None:
                killed.set()
                os.killpg(proc.pid, signal.SIGKILL)

            timer = threading.Timer(timeout, kill) if timeout else None
            if timer:
                timer.start()
            _, status, usage = os.wait4(proc.pid, 0)
            elapsed = time.perf_counter() - start
            if timer:
                timer.cancel()
        proc.returncode = os.waitstatus_to_exitcode(status)  # reaped here: Popen must not wait again
        if killed.is_set():
            return Sample(elapsed, usage.ru_maxrss / 1024, killed=True)
        if proc.returncode != 0:
            tail = "\n".join(log.read_text(errors="replace").splitlines()[-15:])
            raise BenchError(f"{Path(cmd[0]).name} exited with {proc.returncode} (log: {log}):\n{tail}")
        rss_kib = float(usage.ru_maxrss)  # KiB on Linux
        if self.gnu_time:
            rss_kib = float(rss_file.read_text().split()[-1])
        return Sample(elapsed, rss_kib / 1024)


def _quiet(cmd: Sequence[str]) -> str:
    """The stdout + stderr of an informational command, empty when it cannot run."""
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, check=False)
    except OSError:
        return ""
    return out.stdout + out.stderr


def remove(path: Path) -> None:
    """Delete a directory tree if it exists (untimed housekeeping between runs)."""
    if path.is_symlink() or path.is_file():
        path.unlink()
    elif path.exists():
        subprocess.run(["rm", "-rf", "--", str(path)], check=True)  # faster than shutil.rmtree on 30,000 files


# --------------------------------------------------------------------------- the commands


@dataclass
class Setup:
    """Everything the commands need: scratch paths, the target, the index and the programs."""

    scratch: Path
    python_version: str
    project: Path  # bench/project with the local index's URLs
    empty: Path
    synth: Path
    index_url: str
    requirements: Path
    pip_python: Path

    def cache(self, kind: str) -> Path:
        """A tool's own cache (link modes of one tool share it, as they would on a real machine)."""
        return self.scratch / "cache" / kind

    def target(self, name: str) -> Path:
        """A target directory under the scratch directory."""
        return self.scratch / "targets" / name

    def log(self, name: str) -> Path:
        """Where a row's output goes (appended): kept out of the terminal and out of the timing."""
        return self.scratch / "logs" / f"{name}.log"

    def uvroot(self, verb: str, target: Path | None, mode: str | None = None, project: Path | None = None) -> list[str]:
        """`uvroot sync|plan|check` of the (local) bench lock for the target, `--frozen` as uv's no-op."""
        cmd = [str(BIN / "uvroot"), verb, "--project", str(project or self.project), "--frozen", "--no-dev"]
        cmd += ["--python-version", self.python_version, "--python-platform", UV_PLATFORM]
        cmd += ["--cache-dir", str(self.cache("uvroot"))]
        if verb != "check":
            cmd.append("--no-progress")  # check draws no bars and has no such flag
        if target is not None:
            cmd += ["--target", str(target)]
        return cmd + (["--link-mode", mode] if mode else [])

    def uv_pip(self, target: Path, mode: str) -> list[str]:
        """`uv pip install --target` of the exported pins (what uvroot --target does, uv's way)."""
        cmd = [str(BIN / "uv"), "pip", "install", "--no-config", "--no-deps", "--target", str(target)]
        cmd += ["-r", str(self.requirements), "--index-url", f"{self.index_url}/simple", "--python", sys.executable]
        cmd += ["--python-version", self.python_version, "--python-platform", UV_PLATFORM]
        return [*cmd, "--cache-dir", str(self.cache("uv")), "--link-mode", mode, "--no-progress"]

    def uv_sync(self, *, dry_run: bool = False) -> list[str]:
        """`uv sync --frozen` of the same lock into a venv (UV_PROJECT_ENVIRONMENT, see uv_sync_env)."""
        cmd = [str(BIN / "uv"), "sync", "--no-config", "--frozen", "--no-dev", "--no-install-project"]
        cmd += ["--project", str(self.project), "--python", sys.executable, "--cache-dir", str(self.cache("uv"))]
        cmd += ["--link-mode", "hardlink", "--no-progress"]
        return [*cmd, "--dry-run"] if dry_run else cmd

    def uv_sync_env(self) -> dict[str, str]:
        """The environment of `uv sync`: the venv it syncs."""
        return tool_env({"UV_PROJECT_ENVIRONMENT": str(self.target("noop-uv-venv"))})

    def pip(self, target: Path) -> list[str]:
        """`pip install --target` of the exported pins for the same platform tags."""
        cmd = [str(self.pip_python), "-m", "pip", "install", "--no-deps", "--target", str(target)]
        cmd += ["-r", str(self.requirements), "--index-url", f"{self.index_url}/simple", "--only-binary=:all:"]
        cmd += ["--trusted-host", "127.0.0.1"]  # pip caches plain-http responses only from trusted hosts
        cmd += [*pip_platforms(), "--python-version", self.python_version, "--implementation", "cp"]
        # pip compiles bytecode by default; uvroot and uv do not, so pip would do more work.
        return [*cmd, "--cache-dir", str(self.cache("pip")), "--no-compile", "--progress-bar", "off"]

    def synth_plan(self) -> list[str]:
        """`uvroot plan` of the generated 50,000-package lock (own cache: it must not count in uvroot's)."""
        cmd = [str(BIN / "uvroot"), "plan", "--project", str(self.synth), "--frozen", "--no-dev"]
        cmd += ["--python-version", SYNTH_PYTHON, "--python-platform", UV_PLATFORM, "--no-progress"]
        return [*cmd, "--cache-dir", str(self.cache("uvroot-synth")), "--target", str(self.target("synth"))]


def pip_platforms() -> list[str]:
    """The `--platform` flags for pip that accept what uv's `x86_64-manylinux_2_28` accepts.

    pip does not widen `manylinux_2_28_x86_64` to older glibc tags (cffi, for one, ships only
    `manylinux2014`/`manylinux_2_17` wheels), so every tag up to 2_28 is listed, legacy aliases too.
    """
    tags = [f"manylinux_2_{minor}_x86_64" for minor in range(28, 4, -1)]
    tags += ["manylinux2014_x86_64", "manylinux2010_x86_64", "manylinux1_x86_64"]
    return [flag for tag in tags for flag in ("--platform", tag)]


@dataclass
class Row:
    """One row of the table: a command timed in one scenario, with its untimed preparation."""

    scenario: str
    label: str
    argv: Callable[[], list[str]]  # built after `prepare` (rm -rf lists the files it finds)
    env: dict[str, str]
    log: Path
    prepare: Callable[[], None] = lambda: None
    peer: str | None = None  # the label of the row it is compared with
    uvroot: bool = False  # counts for uvroot's memory goal
    timeout: float | None = None
    drop: bool = True  # False: only `sync` first, the page cache kept (a command run again, as people do)
    samples: list[Sample] = field(default_factory=list)
    shown: list[str] = field(default_factory=list)  # the first command line, for the report


def scenario_rows(setup: Setup, scenario: str, synth_timeout: float) -> list[Row]:
    """The rows of one scenario, each with what must be true before its timed run."""
    rows: list[Row] = []
    if scenario in ("warm", "cold"):
        for mode in LINK_MODES:
            for kind in ("uvroot", "uv"):
                target = setup.target(f"{scenario}-{kind}-{mode}")
                argv = setup.uvroot("sync", target, mode) if kind == "uvroot" else setup.uv_pip(target, mode)
                rows.append(
                    Row(
                        scenario,
                        f"{kind} ({mode})",
                        fixed(argv),
                        tool_env(),
                        setup.log(f"{scenario}-{kind}-{mode}"),
                        _fresh(setup, target, kind if scenario == "cold" else None),
                        peer=f"uv ({mode})" if kind == "uvroot" else None,
                        uvroot=kind == "uvroot",
                    )
                )
        target = setup.target(f"{scenario}-pip")
        argv = setup.pip(target)
        rows.append(
            Row(
                scenario,
                "pip",
                fixed(argv),
                tool_env(),
                setup.log(f"{scenario}-pip"),
                _fresh(setup, target, "pip" if scenario == "cold" else None),
            )
        )
    elif scenario == "noop":
        argv = setup.uvroot("sync", setup.target("check-uvroot-hardlink"), "hardlink")
        rows.append(
            Row(scenario, "uvroot", fixed(argv), tool_env(), setup.log("noop-uvroot"), peer="uv sync", uvroot=True)
        )
        rows.append(Row(scenario, "uv sync", setup.uv_sync, setup.uv_sync_env(), setup.log("noop-uv-sync")))
    elif scenario == "plan":
        # Each twice: after the page cache is dropped (every file read from disk, Python's ~240 modules
        # included) and with it kept (the command run again, as when one looks at a plan, then syncs).
        argv = setup.uvroot("plan", setup.target("check-uvroot-hardlink"), "hardlink")
        dry_run = setup.uv_sync(dry_run=True)
        for drop, suffix in ((True, ""), (False, CACHED)):
            log = setup.log(f"plan-uvroot{suffix and '-cached'}")
            warm = _warm_up(argv, tool_env(), drop)
            rows.append(
                Row(scenario, f"uvroot plan{suffix}", fixed(argv), tool_env(), log, warm, uvroot=True, drop=drop)
            )
            log, env = setup.log(f"plan-uv{suffix and '-cached'}"), setup.uv_sync_env()
            rows.append(
                Row(
                    scenario,
                    f"uv sync --dry-run{suffix}",
                    fixed(dry_run),
                    env,
                    log,
                    _warm_up(dry_run, env, drop),
                    drop=drop,
                )
            )
    elif scenario == "check":
        argv = setup.uvroot("check", None)
        for drop, suffix in ((True, ""), (False, CACHED)):
            log, warm = setup.log(f"check-uvroot{suffix and '-cached'}"), _warm_up(argv, tool_env(), drop)
            rows.append(
                Row(scenario, f"uvroot check{suffix}", fixed(argv), tool_env(), log, warm, uvroot=True, drop=drop)
            )
    elif scenario == "removal":
        rows += removal_rows(setup)
    elif scenario == "synth50k":
        argv = setup.synth_plan()
        rows.append(Row(scenario, "uvroot plan", fixed(argv), tool_env(), setup.log("synth50k"), timeout=synth_timeout))
    return rows


def _warm_up(argv: list[str], env: dict[str, str], drop: bool) -> Callable[[], None]:
    """A row timed with the page cache kept runs its command once, untimed, first (the row before may drop it)."""

    def warm() -> None:
        if not drop:
            subprocess.run(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)

    return warm


def fixed(argv: list[str]) -> Callable[[], list[str]]:
    """A command known before its preparation."""
    return lambda: argv


def _fresh(setup: Setup, target: Path, empty_cache: str | None) -> Callable[[], None]:
    """Preparation of a warm or cold run: the target does not exist, and for cold neither does the cache."""

    def prepare() -> None:
        remove(target)
        if empty_cache:
            remove(setup.cache(empty_cache))

    return prepare


def removal_rows(setup: Setup) -> list[Row]:
    """The removal rows: uvroot removing every distribution vs `rm -rf` of the same files, each from a fresh uvroot sync."""
    rows = []
    for label, slug in (("uvroot", "uvroot"), ("rm -rf", "rm")):
        target = setup.target(f"removal-{slug}")
        log = setup.log(f"removal-{slug}")

        def prepare(target: Path = target, log: Path = log) -> None:
            remove(target)
            sync = setup.uvroot("sync", target, "hardlink")
            with log.open("ab") as out:
                subprocess.run(sync, stdout=out, stderr=subprocess.STDOUT, env=tool_env(), check=True)

        if slug == "uvroot":
            argv = setup.uvroot("sync", target, "hardlink", project=setup.empty)
            rows.append(Row("removal", label, fixed(argv), tool_env(), log, prepare, "rm -rf", uvroot=True))
        else:

            def rm_argv(target: Path = target) -> list[str]:
                return ["rm", "-rf", "--", *sorted(str(p) for p in target.iterdir())]

            rows.append(Row("removal", label, rm_argv, tool_env(), log, prepare))
    return rows


def measure(runner: Runner, rows: Sequence[Row], runs: int, setup: Setup) -> None:
    """Time `runs` rounds; each round runs every row once, the first row rotating round by round."""
    for round_no in range(runs):
        turn = round_no % len(rows)
        for row in [*rows[turn:], *rows[:turn]]:
            if row.samples and row.samples[-1].killed:
                continue  # killed once: the next run would be too
            started = time.perf_counter()
            row.prepare()
            argv = row.argv()
            prepared = time.perf_counter()
            runner.flush(row.drop)
            flushed = time.perf_counter()
            sample = runner.run(argv, row.env, row.log, row.timeout)
            row.samples.append(sample)
            if not row.shown:
                row.shown.append(shorten(argv, setup))
            note = f"killed at {sample.seconds:.0f} s" if sample.killed else f"{sample.seconds:8.3f} s"
            print(
                f"  {row.scenario:<8} {round_no + 1}/{runs}  {row.label:<18} {note}  {sample.max_rss_mib:6.0f} MiB"
                f"   (untimed: preparation {prepared - started:.1f} s, sync + drop {flushed - prepared:.1f} s)",
                flush=True,
            )


def shorten(argv: Sequence[str], setup: Setup) -> str:
    """A command line for the report, with the scratch directory and the venv abbreviated."""
    text = " ".join(argv)
    if argv and argv[0] == "rm":
        text = f"rm -rf -- TARGET/* ({len(argv) - 3} entries)"
    text = text.replace(sys.executable, "$PYTHON").replace(str(setup.scratch), "$SCRATCH")
    text = text.replace(str(BIN) + "/", "").replace(setup.index_url, "$INDEX")
    if argv[:2] == [str(BIN / "uv"), "sync"]:
        text = "UV_PROJECT_ENVIRONMENT=$SCRATCH/targets/noop-uv-venv " + text
    return re.sub(r"( --platform manylinux\S+)+", " --platform <manylinux 2_28..2_5 tags>", text)


# --------------------------------------------------------------------------- checking what was installed


@dataclass(frozen=True)
class Tree:
    """What one tool installed: distributions, files, bytes, and how many files are hardlinks."""

    dists: frozenset[str]
    files: int
    size: int
    linked: int


def normalize_dist(dist_info: str) -> str:
    """`Foo_Bar-1.0.dist-info` -> `foo-bar==1.0` (PEP 503 name, so installers' spellings compare)."""
    name, _, version = dist_info.removesuffix(".dist-info").partition("-")
    return f"{normalize(name)}=={version}"


def inspect_tree(top: Path, site: Path | None = None) -> Tree:
    """Count the distributions (in `site`, default `top`) and the files under `top`."""
    dists = frozenset(normalize_dist(p.name) for p in (site or top).glob("*.dist-info"))
    files = size = linked = 0
    for root, _dirs, names in os.walk(top):
        for name in names:
            st = os.lstat(os.path.join(root, name))  # noqa: PTH118 (hot loop)
            files += 1
            size += st.st_size
            linked += st.st_nlink > 1
    return Tree(dists, files, size, linked)


def install_check(setup: Setup, runner: Runner) -> dict[str, Tree]:
    """Install once with every tool (untimed), then compare what they installed.

    This also fills every cache (the warm scenario's precondition), leaves the synced trees the noop
    and plan scenarios use, and runs each no-op once, so uvroot's no-op stamp exists.
    """
    trees: dict[str, Tree] = {}
    jobs: list[tuple[str, list[str], dict[str, str], Path]] = []
    for mode in LINK_MODES:
        jobs.append(
            (
                f"uvroot ({mode})",
                setup.uvroot("sync", setup.target(f"check-uvroot-{mode}"), mode),
                tool_env(),
                setup.target(f"check-uvroot-{mode}"),
            )
        )
        jobs.append(
            (
                f"uv ({mode})",
                setup.uv_pip(setup.target(f"check-uv-{mode}"), mode),
                tool_env(),
                setup.target(f"check-uv-{mode}"),
            )
        )
    jobs.append(("pip", setup.pip(setup.target("check-pip")), tool_env(), setup.target("check-pip")))
    venv = setup.target("noop-uv-venv")
    jobs.append(("uv sync (venv)", setup.uv_sync(), setup.uv_sync_env(), venv))
    for label, argv, env, top in jobs:
        remove(top)
        sample = runner.run(argv, env, setup.log("install-check"))
        site = next(venv.glob("lib/python*/site-packages"), None) if top == venv else None
        trees[label] = inspect_tree(top, site)
        print(f"  check    {label:<18} {sample.seconds:8.2f} s  {len(trees[label].dists)} distributions", flush=True)
    for argv, env in (
        (setup.uvroot("sync", setup.target("check-uvroot-hardlink"), "hardlink"), tool_env()),
        (setup.uv_sync(), setup.uv_sync_env()),
    ):
        runner.run(argv, env, setup.log("install-check"))  # the first re-sync: leaves uvroot's stamp
    for mode in LINK_MODES:
        remove(setup.target(f"check-uv-{mode}"))
    remove(setup.target("check-uvroot-copy"))
    remove(setup.target("check-pip"))
    return trees


def describe_check(trees: dict[str, Tree]) -> list[str]:
    """Lines saying whether every tool installed the same distributions, with counts and link stats."""
    reference = next(iter(trees.values())).dists
    same = all(tree.dists == reference for tree in trees.values())
    verdict = f"yes, {len(reference)} dist-infos each" if same else "NO (differences below)"
    lines = [
        f"Same distributions (name and version) from every tool: {verdict}.",
        "",
        "| tool | dist-infos | files | installed MiB | files hardlinked (nlink > 1) |",
        "|---|---:|---:|---:|---:|",
    ]
    lines += [f"| {k} | {len(t.dists)} | {t.files} | {t.size / MIB:.0f} | {t.linked} |" for k, t in trees.items()]
    if not same:
        for label, tree in trees.items():
            extra, missing = sorted(tree.dists - reference), sorted(reference - tree.dists)
            if extra or missing:
                lines.append(f"- {label}: extra {extra}, missing {missing}")
    return lines


@dataclass(frozen=True)
class CacheSize:
    """A cache directory's disk usage (each inode once, as du) and apparent size."""

    disk: int
    apparent: int
    files: int


def cache_size(path: Path) -> CacheSize:
    """What `du` says about a directory: allocated blocks of every inode once, plus apparent bytes."""
    seen: set[tuple[int, int]] = set()
    disk = apparent = files = 0
    for root, dirs, names in os.walk(path):
        for name in [*names, *dirs]:
            st = os.lstat(os.path.join(root, name))  # noqa: PTH118 (hot loop)
            if (st.st_dev, st.st_ino) in seen:
                continue
            seen.add((st.st_dev, st.st_ino))
            disk += st.st_blocks * 512
            apparent += st.st_size
            files += name in names
    return CacheSize(disk, apparent, files)


# --------------------------------------------------------------------------- statistics and goals


@dataclass(frozen=True)
class Stats:
    """Summary of one row's samples."""

    minimum: float
    median: float
    maximum: float
    peak_rss: float
    runs: int
    killed: bool


def stats(samples: Sequence[Sample]) -> Stats:
    """Min, median and max wall time, the highest peak RSS, and whether a run was killed."""
    times = [s.seconds for s in samples]
    rss = max(s.max_rss_mib for s in samples)
    return Stats(min(times), statistics.median(times), max(times), rss, len(samples), any(s.killed for s in samples))


def overlap(a: Stats, b: Stats) -> bool:
    """Whether the [min, max] ranges of two rows overlap (then no ratio is claimed)."""
    return not (a.maximum < b.minimum or b.maximum < a.minimum)


def fmt_ratio(a: Stats, b: Stats) -> str:
    """`0.85x` (ratio of medians) where the ranges are apart, else `overlap (medians 0.97x)`."""
    value = a.median / b.median
    return f"overlap (medians {value:.2f}x)" if overlap(a, b) else f"{value:.2f}x"


def ratio_verdict(a: Stats, b: Stats, limit: float) -> bool | None:
    """Whether a <= limit * b.  Apart: by the medians.  Overlapping: only if every pairing of runs agrees."""
    if not overlap(a, b):
        return a.median / b.median <= limit
    if a.maximum / b.minimum <= limit:
        return True
    if a.minimum / b.maximum > limit:
        return False
    return None


@dataclass(frozen=True)
class Verdict:
    """One goal from the issue, what was measured, and whether it is met (None: not decided)."""

    goal: str
    measured: str
    met: bool | None


def times(s: Stats) -> str:
    """`1.23 s (1.10-1.50)`: median and range."""
    return f"{s.median:.3f} s ({s.minimum:.3f}-{s.maximum:.3f})"


def goals(
    summary: dict[tuple[str, str], Stats], caches: dict[str, CacheSize], peak: float | None, synth_count: int
) -> list[Verdict]:
    """The issue's goals, each with the measured value and met / not met / undecided."""
    verdicts = []

    def ratio_goal(goal: str, mine: tuple[str, str], theirs: tuple[str, str], limit: float) -> None:
        a, b = summary.get(mine), summary.get(theirs)
        if a is None or b is None:
            verdicts.append(Verdict(goal, "not measured", None))
            return
        measured = f"{fmt_ratio(a, b)}: {mine[1]} {times(a)} vs {theirs[1]} {times(b)}"
        met = ratio_verdict(a, b, limit)
        verdicts.append(Verdict(goal, measured, met))

    for scenario, limit in (("warm", 0.9), ("cold", 1.0)):
        for mode in LINK_MODES:
            goal = f"{scenario} sync ({mode}) <= {limit}x uv pip install --target ({mode})"
            ratio_goal(goal, (scenario, f"uvroot ({mode})"), (scenario, f"uv ({mode})"), limit)
    ratio_goal("no-op re-sync <= 2x `uv sync --frozen` no-op", ("noop", "uvroot"), ("noop", "uv sync"), 2.0)
    for scenario, label in (
        ("plan", "uvroot plan"),
        ("plan", f"uvroot plan{CACHED}"),
        ("check", "uvroot check"),
        ("check", f"uvroot check{CACHED}"),
    ):
        row = summary.get((scenario, label))
        verdicts.append(
            Verdict(
                f"`{label.removesuffix(CACHED)}` < 0.3 s{CACHED if label.endswith(CACHED) else ''}",
                times(row) if row else "not measured",
                None if row is None else row.median < 0.3,
            )
        )
    ratio_goal("removal of every distribution <= 2x `rm -rf`", ("removal", "uvroot"), ("removal", "rm -rf"), 2.0)
    if "uvroot" in caches and "uv" in caches:
        mine, theirs = caches["uvroot"].disk, caches["uv"].disk
        measured = f"{mine / MIB:.0f} MiB vs uv's {theirs / MIB:.0f} MiB ({mine / theirs:.2f}x)"
        verdicts.append(Verdict("cache size after the bench <= uv's", measured, mine <= theirs))
    else:
        verdicts.append(Verdict("cache size after the bench <= uv's", "not measured", None))
    verdicts.append(
        Verdict(
            "peak memory < 100 MiB (bench lock, every uvroot run)",
            f"{peak:.0f} MiB" if peak is not None else "not measured",
            None if peak is None else peak < 100,
        )
    )
    synth = summary.get(("synth50k", "uvroot plan"))
    goal = f"{synth_count:,}-package lock plans in seconds (median < 60 s)"
    if synth is None:
        verdicts.append(Verdict(goal, "not measured", None))
    elif synth.killed:
        verdicts.append(Verdict(goal, f"killed at {synth.maximum:.0f} s (run {synth.runs})", False))
    else:
        verdicts.append(Verdict(goal, f"{times(synth)}, peak {synth.peak_rss:.0f} MiB", synth.median < 60))
    return verdicts


def goals_table(verdicts: Sequence[Verdict]) -> list[str]:
    """The goals as a markdown table."""
    marks = {True: "met", False: "**not met**", None: "undecided (ranges overlap)"}
    lines = ["| goal (issue 13) | measured: median (min-max) | |", "|---|---|---|"]
    for v in verdicts:
        mark = "not measured" if v.measured == "not measured" else marks[v.met]
        lines.append(f"| {v.goal} | {v.measured} | {mark} |")
    return lines


def times_table(rows: Sequence[Row]) -> list[str]:
    """One line per row: min / median / max, peak RSS, and the ratio to its peer."""
    summary = {(r.scenario, r.label): stats(r.samples) for r in rows if r.samples}
    lines = [
        "| scenario | tool | runs | min s | median s | max s | peak RSS MiB | vs | ratio (medians) |",
        "|---|---|---:|---:|---:|---:|---:|---|---|",
    ]
    for row in rows:
        s = summary.get((row.scenario, row.label))
        if s is None:
            continue
        peer = summary.get((row.scenario, row.peer)) if row.peer else None
        ratio = fmt_ratio(s, peer) if peer else ""
        killed = " (killed)" if s.killed else ""
        lines.append(
            f"| {row.scenario} | {row.label}{killed} | {s.runs} | {s.minimum:.3f} | {s.median:.3f} | {s.maximum:.3f}"
            f" | {s.peak_rss:.0f} | {row.peer or ''} | {ratio} |"
        )
    return lines


def commands_table(rows: Sequence[Row]) -> list[str]:
    """The exact command of every row (first run), for the report."""
    lines = ["| scenario | tool | command |", "|---|---|---|"]
    return lines + [f"| {r.scenario} | {r.label} | `{r.shown[0]}` |" for r in rows if r.shown]


# --------------------------------------------------------------------------- preparing the machine


def tool_output(cmd: Sequence[str], env: dict[str, str] | None = None) -> str:
    """Run a quick informational command and return its stripped stdout."""
    return subprocess.run(cmd, capture_output=True, text=True, check=True, env=env).stdout.strip()


def prepare_pip(scratch: Path) -> Path:
    """A scratch venv with the latest pip, built from this interpreter (so pip runs the target's Python).

    pip comes from uv, not ensurepip: nothing runs outside the scratch directory's caches.
    """
    venv = scratch / "pip-venv"
    python = venv / "bin" / "python"
    if not (venv / "bin" / "pip").exists():
        subprocess.run([sys.executable, "-m", "venv", "--without-pip", "--clear", str(venv)], check=True)
        install = [str(BIN / "uv"), "pip", "install", "--no-config", "--quiet", "--python", str(python), "pip"]
        subprocess.run([*install, "--cache-dir", str(scratch / "cache" / "uv-setup")], check=True, env=tool_env())
    return python


def export_requirements(scratch: Path, project: Path) -> Path:
    """The lock's non-dev packages as hashed pins: what uv and pip install (uvroot reads uv.lock)."""
    out = scratch / "requirements.txt"
    cmd = [str(BIN / "uv"), "export", "--no-config", "--project", str(project), "--frozen", "--no-emit-project"]
    cmd += ["--no-dev", "--format", "requirements.txt", "--quiet", "--output-file", str(out)]
    cmd += ["--cache-dir", str(scratch / "cache" / "uv-setup")]
    subprocess.run(cmd, check=True, env=tool_env())
    return out


def relock() -> None:
    """Re-resolve the benchmark project to today's latest versions (changes the committed uv.lock)."""
    cmd = [str(BIN / "uv"), "lock", "--upgrade", "--no-config", "--project", str(PROJECT)]
    subprocess.run(cmd, check=True, env=tool_env())


def shown_path(path: Path) -> str:
    """A path relative to the repository where it is inside it."""
    return str(path.relative_to(REPO)) if path.is_relative_to(REPO) else str(path)


def cpu_model() -> str:
    """The CPU's model name from /proc/cpuinfo."""
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def filesystem(path: Path) -> str:
    """The filesystem type and mount point holding `path` (hardlinks need cache and target on one)."""
    out = tool_output(["df", "--output=fstype,target", str(path)]).splitlines()[-1].split()
    return f"{out[0]} (mounted on {out[1]})"


def git_describe() -> str:
    """The repository commit, marked dirty when uvroot's sources have uncommitted changes."""
    try:
        commit = tool_output(["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"])
        dirty = tool_output(["git", "-C", str(REPO), "status", "--porcelain", "--", "uvroot"])
    except (OSError, subprocess.CalledProcessError):
        return "unknown (not a git checkout)"
    return f"{commit}{' + uncommitted changes in uvroot/' if dirty else ''}"


def rusage_note() -> str:
    """How far to trust `ru_maxrss` from `wait4` without GNU time: Linux counts the forked copy of this script."""
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return (
        f"ru_maxrss from wait4 (no GNU /usr/bin/time): never below about {own:.0f} MiB, this script's own size,"
        " which the child has between fork and exec"
    )


def machine_facts(source: Path, setup: Setup, runner: Runner, wheels: Sequence[Wheel]) -> list[tuple[str, str]]:
    """The facts printed above the numbers, so a result can be told apart from another machine's."""
    mem_kib = int(re.findall(r"MemTotal:\s+(\d+)", Path("/proc/meminfo").read_text())[0])
    locked = sum(line == "[[package]]" for line in (source / "uv.lock").read_text().splitlines())
    return [
        ("CPU", f"{cpu_model()}, nproc {os.cpu_count()}, {mem_kib / 1024 / 1024:.1f} GiB RAM"),
        ("OS", f"{platform.system()} {platform.release()}"),
        ("scratch", f"{setup.scratch} on {filesystem(setup.scratch)}"),
        ("target", f"{UV_PLATFORM}, Python {setup.python_version} (this interpreter)"),
        ("uvroot", f"{tool_output([str(BIN / 'uvroot'), '--version'])}, commit {git_describe()}"),
        ("uv", tool_output([str(BIN / "uv"), "--version"])),
        ("pip", tool_output([str(setup.pip_python), "-m", "pip", "--version"]).split(" from ")[0]),
        ("python", f"{platform.python_implementation()} {platform.python_version()}"),
        ("lock", f"{locked} packages in {shown_path(source)}/uv.lock, {len(wheels)} wheels selected for the target"),
        ("wheels", f"{sum(w.size for w in wheels) / MIB:.0f} MiB, served by {setup.index_url} (loopback)"),
        ("page cache", f"flushed (`sync`) before every timed run; dropped: {runner.drop_note}"),
        ("bytecode", "uvroot's modules compiled before the bench (`compileall`, as `pip install` does)"),
        ("peak memory", "GNU time %M" if runner.gnu_time else rusage_note()),
    ]


# --------------------------------------------------------------------------- report

METHOD = """\
- **Timing.** Each number is the wall time of one complete command, process start to exit, measured
  by this script around the child (GNU time, when used for memory, adds one fork/exec to every
  tool alike).  Before every timed run, outside the timing, the untimed preparation of the row is
  done (new target, emptied cache, a synced tree to remove), then `sync` writes every dirty page
  back and, where this process may write `/proc/sys/vm/drop_caches`, the page cache is dropped (the
  header says whether it was): no run pays for the previous run's writeback, and every run starts
  reading from the disk.  `plan` and `check` are also timed with the page cache kept (rows marked
  "(page cache kept)": only `sync` first), as when the command is run again.  Each round runs every row of a scenario once, the first row rotating
  from round to round, so drift (other load on the machine) spreads over all tools.  min, median and
  max over the runs are reported.
- **Ratios.** A ratio (of medians) is claimed only where the two rows' [min, max] ranges do not
  overlap; otherwise the table says `overlap` and gives the medians' ratio for information.  A goal
  is `met` / `not met` by the medians where the ranges are apart; where they overlap it is decided
  only if every pairing of runs agrees (max/min within the limit: met; min/max beyond it: not met),
  else it is `undecided`.
- **Peak memory** is GNU time's `%M` (or `ru_maxrss` from `wait4`): the largest single process of
  the run (uvroot's worker processes are not summed).  The memory goal takes the highest uvroot run
  on the bench lock (all scenarios but synth50k, which is shown on its own row).
- **Same input.** The lock's wheels for the target are downloaded once into `$SCRATCH/wheelhouse`
  (checked against uv.lock's sha256) and served by a PEP 503 index with PEP 658 metadata on
  127.0.0.1 run by this script (files with `sendfile`); no timed run uses the network.  uvroot reads
  a copy of bench/project whose uv.lock names the index's URLs for those wheels; uv and pip install
  the same pins with hashes from `uv export --frozen --no-emit-project --no-dev`, with `--no-deps`
  and `--index-url` of that index.  All tools verify every wheel's sha256.  The install check
  (untimed) installs with every tool and compares the distributions (name, version) they installed.
- **Isolation.** Every tool has its own cache under the scratch directory, on the same filesystem as
  the targets (so hardlinks never fall back to copies; the install check counts linked files).
  `UV_*`/`PIP_*`/`UVROOT_*` are removed from the environment, `uv --no-config`,
  `PIP_CONFIG_FILE=/dev/null`, `UV_PYTHON_DOWNLOADS=never`.  uvroot runs with `--frozen` (as
  `uv sync --frozen`; uv pip install checks nothing either).
- **warm**: the tool's cache holds every wheel (uv also its index pages, allowed an hour's caching),
  the target does not exist.  uvroot `sync --target` vs `uv pip install --target` in the same link
  mode (the closest like-for-like: a flat directory, no venv to create), and pip (`--no-compile`, as
  uvroot and uv write no bytecode; every manylinux tag up to 2_28, since pip does not widen one).
- **cold**: as warm, and the tool's whole cache is deleted before the run: every wheel comes from
  the local index.
- **noop**: uvroot re-syncs a tree it synced (and re-synced once, so its no-op stamp exists) with the
  same command; uv runs `uv sync --frozen --no-dev --no-install-project` into a venv it synced (and
  re-synced once) from the same lock (`UV_PROJECT_ENVIRONMENT`), as the issue's goal says.
- **plan / check**: `uvroot plan` on that synced tree (every package `keep`) and `uvroot check`, both
  with the warm cache; `uv sync --frozen --dry-run` on the synced venv is shown for reference.
- **removal**: before each run a fresh uvroot sync (hardlink, untimed) makes the tree; then uvroot
  syncs a virtual project with no dependencies (`$SCRATCH/empty`) into the same target, which
  removes every distribution by its RECORD; `rm -rf` deletes every entry of an identical tree.
- **synth50k**: `uvroot plan` of a generated lock of 50,000 registry packages (a binary dependency
  tree, every third package with an extra `sys_platform == 'win32'` edge) for Python 3.12 on
  x86_64-manylinux_2_28, with its own cache (kept between runs), killed at `--synth-timeout`.
- **cache size**: after every scenario (cold runs last, so each cache holds what one cold sync
  fetched, plus what later commands added), disk usage as `du` counts it (every inode once).
"""


def report(
    header: list[str],
    facts: list[tuple[str, str]],
    verdicts: list[str],
    table: list[str],
    extra: list[str],
    check: list[str],
    commands: list[str],
) -> str:
    """The whole report as markdown (the same text is printed and written to RESULTS.md)."""
    return "\n".join(
        [
            *header,
            "",
            *(f"- {key}: {value}" for key, value in facts),
            "",
            "## Goals",
            "",
            *verdicts,
            "",
            "## Times",
            "",
            *table,
            "",
            *extra,
            "",
            "## Install check",
            "",
            *check,
            "",
            "## How measured",
            "",
            METHOD,
            "## Commands (first run of each row)",
            "",
            "`$SCRATCH` is the scratch directory, `$INDEX` the local index, `$PYTHON` this interpreter.",
            "",
            *commands,
            "",
        ]
    )


# --------------------------------------------------------------------------- main


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--runs", type=int, default=5, help="timed runs of every row (default 5)")
    parser.add_argument("--quick", action="store_true", help="one run of each row: a smoke test")
    parser.add_argument("--scenarios", default=",".join(SCENARIOS), help=f"comma-separated, of {','.join(SCENARIOS)}")
    parser.add_argument("--synth-count", type=int, default=SYNTH_COUNT, help="packages in the synthetic lock")
    parser.add_argument("--synth-timeout", type=float, default=120.0, help="kill the 50k plan after this many s")
    parser.add_argument("--no-drop-caches", action="store_true", help="only `sync` before runs, keep the page cache")
    parser.add_argument("--scratch", type=Path, default=HERE / "work", help="caches, targets, wheelhouse, logs")
    parser.add_argument(
        "--output",
        type=Path,
        help="report file (default: bench/RESULTS.md for a full run, else RESULTS-partial.md in the scratch dir)",
    )
    parser.add_argument("--project", type=Path, default=PROJECT, help="the locked project (default: bench/project)")
    parser.add_argument("--relock", action="store_true", help="re-run `uv lock --upgrade` first (changes uv.lock)")
    args = parser.parse_args(argv)
    args.scenarios = [s.strip() for s in args.scenarios.split(",") if s.strip()]
    unknown = sorted(set(args.scenarios) - set(SCENARIOS))
    if unknown or not args.scenarios:
        parser.error(f"--scenarios takes {','.join(SCENARIOS)} (got {unknown or 'nothing'})")
    if args.runs < 1:
        parser.error("--runs must be at least 1")
    if args.quick:
        args.runs = 1
    return args


def main(argv: Sequence[str] | None = None) -> int:
    """Prepare, check, time every scenario, print the report and write it."""
    args = parse_args(argv)
    started, clock, load_at_start = dt.datetime.now(dt.timezone.utc), time.perf_counter(), os.getloadavg()[0]
    scratch: Path = args.scratch.resolve()
    scratch.mkdir(parents=True, exist_ok=True)
    for stale in ("logs", "targets", "tmp"):
        remove(scratch / stale)
    (scratch / "tmp").mkdir()
    os.environ["TMPDIR"] = str(scratch / "tmp")  # every tool's temporary files stay in the scratch directory
    if args.relock:
        relock()
    python_version = platform.python_version()
    # uvroot is installed editable here: give it the bytecode an installed copy has (uv is one binary;
    # pip and the libraries were compiled when pip installed them).
    subprocess.run(
        [sys.executable, "-m", "compileall", "-q", str(REPO / "uvroot")], check=True, stdout=subprocess.DEVNULL
    )
    print(f"preparing in {scratch} (wheelhouse, local index, pip venv, projects) ...", flush=True)
    source: Path = args.project.resolve()
    wheels = selected_wheels(source, scratch, python_version)
    fill_wheelhouse(wheels, scratch / "wheelhouse")
    index = LocalIndex(wheels, scratch / "wheelhouse")
    try:
        project = local_project(source, scratch, wheels, index.url)
        setup = Setup(
            scratch=scratch,
            python_version=python_version,
            project=project,
            empty=empty_project(scratch, python_version),
            synth=synthetic_project(scratch, args.synth_count)
            if "synth50k" in args.scenarios
            else scratch / "synth50k",
            index_url=index.url,
            requirements=export_requirements(scratch, project),
            pip_python=prepare_pip(scratch),
        )
        for kind in ("uvroot", "uv", "pip", "uvroot-synth", "probe"):
            remove(setup.cache(kind))  # every run starts from the same state: the install check fills them
        runner = Runner(scratch, drop=not args.no_drop_caches)
        facts = machine_facts(source, setup, runner, wheels)
        print("install check (untimed; fills every cache, syncs the no-op trees):", flush=True)
        trees = install_check(setup, runner)
        rows: list[Row] = []
        for scenario in (s for s in ORDER if s in args.scenarios):
            print(f"{scenario} ({time.perf_counter() - clock:.0f} s into the bench):", flush=True)
            scenario_row_list = scenario_rows(setup, scenario, args.synth_timeout)
            measure(runner, scenario_row_list, args.runs, setup)
            rows += scenario_row_list
            for row in scenario_row_list:
                if row.scenario in ("warm", "cold", "removal"):
                    remove(setup.target(Path(row.log).stem))  # a GB each: do not keep them
    finally:
        index.close()
    removed_ok = check_removal(setup) if "removal" in args.scenarios else None
    caches = {kind: cache_size(setup.cache(kind)) for kind in ("uvroot", "uv", "pip") if setup.cache(kind).exists()}
    remove(scratch / "targets")
    remove(scratch / "tmp")
    rows.sort(key=lambda r: SCENARIOS.index(r.scenario))
    summary = {(r.scenario, r.label): stats(r.samples) for r in rows if r.samples}
    peaks = [stats(r.samples).peak_rss for r in rows if r.uvroot and r.samples]
    duration = time.perf_counter() - clock
    invocation = " ".join(["bench/bench.py", *(sys.argv[1:] if argv is None else argv)])
    title = "# uvroot benchmark" + (" (--quick: one run each, a smoke test, not a result)" if args.quick else "")
    header = [title, "", f"Run {started:%Y-%m-%d %H:%M} UTC, took {duration / 60:.1f} min: `{invocation}`."]
    load = f"1-min load average {load_at_start:.2f} before the bench, {os.getloadavg()[0]:.2f} at the end"
    facts += [("load", load)]
    extra = [f"Runs per row: {args.runs}. {busy_warning(load_at_start)}".strip()]
    if args.runs < 3:
        extra[0] += f" With {args.runs} run(s) a row has hardly a range: no ratio or verdict here is a claim."
    if removed_ok is not None:
        extra += ["", removed_ok]
    extra += ["", "Cache sizes after the bench (du: each inode once; apparent: sum of file sizes):", ""]
    extra += ["| cache | disk MiB | apparent MiB | files |", "|---|---:|---:|---:|"]
    extra += [f"| {k} | {c.disk / MIB:.0f} | {c.apparent / MIB:.0f} | {c.files} |" for k, c in caches.items()]
    text = report(
        header,
        facts,
        goals_table(goals(summary, caches, max(peaks) if peaks else None, args.synth_count)),
        times_table(rows),
        extra,
        describe_check(trees),
        commands_table(rows),
    )
    official = not args.quick and source == PROJECT.resolve() and args.synth_count == SYNTH_COUNT
    official = official and set(args.scenarios) == set(SCENARIOS)
    output: Path = args.output or (HERE / "RESULTS.md" if official else scratch / "RESULTS-partial.md")
    output.write_text(text)
    print("\n" + text + f"\n(written to {output})")
    return 0


def check_removal(setup: Setup) -> str:
    """Sync the empty project once more into a fresh tree and say what uvroot's removal left behind."""
    target = setup.target("removal-verify")
    remove(target)
    subprocess.run(setup.uvroot("sync", target, "hardlink"), capture_output=True, env=tool_env(), check=True)
    before = inspect_tree(target)
    subprocess.run(
        setup.uvroot("sync", target, "hardlink", project=setup.empty), capture_output=True, env=tool_env(), check=True
    )
    left = sorted(p.name for p in target.iterdir())
    after = inspect_tree(target)
    return (
        f"Removal: the tree holds {len(before.dists)} distributions, {before.files} files; after uvroot's removal"
        f" {len(after.dists)} dist-infos and {after.files} files are left (top-level entries: {left[:8] or 'none'})."
    )


def busy_warning(load_at_start: float) -> str:
    """A warning for the report when something else was using the CPUs as the bench started."""
    cpus = os.cpu_count() or 1
    if load_at_start < 0.5 * cpus:
        return ""
    return (
        f"**The machine was busy** (load {load_at_start:.2f} on {cpus} CPUs before the bench started): "
        "the medians include that contention; the min column is closer to an idle machine."
    )


if __name__ == "__main__":
    try:
        sys.exit(main())
    except BenchError as exc:
        sys.exit(f"bench: {exc}")
