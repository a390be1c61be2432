"""What a person sees: progress bars on a terminal, plain lines elsewhere, --color, -q and -v.

The real ``uvroot`` runs as a subprocess, its stdout and stderr on a pseudo-terminal
(or on pipes), against a project the real uv locked from the local test index.  The
index is local, so downloads are instant: the tests that look at the download bar
point the lock at a :class:`FaultyServer` that holds one wheel back for a second.
"""

from __future__ import annotations

import os
import pty
import random
import re
import select
import shutil
import struct
import subprocess
import sys
import termios
import time
from collections.abc import Iterator, Mapping
from fcntl import ioctl
from pathlib import Path

import pytest

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

from tests.support.cli import uvroot_argv
from tests.support.faulty import FaultyServer, reset, slow
from tests.support.index import LocalIndex
from tests.support.uvproject import uv_lock, write_project
from tests.support.wheels import build_wheel

TARGET = ("--python-version", "3.12")
PACKAGES = ("alpha==1.0", "beta==2.0", "gadgets==1.0")  # alpha and gadgets, and alpha's beta for 3.12
GADGETS = "gadgets-1.0-py3-none-any.whl"
BAR = "━"  # rich's bar character
SGR = re.compile(r"\x1b\[([0-9;]*)m")
CSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


# -- running uvroot ------------------------------------------------------------


def environment(tmp_path: Path, **extra: str) -> dict[str, str]:
    """This environment without CI or colour settings, a known terminal type and nothing steering requests."""
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in {"CI", "NO_COLOR", "FORCE_COLOR", "CLICOLOR_FORCE", "COLUMNS", "LINES", "TERM"}
    }
    netrc = tmp_path / "empty.netrc"
    netrc.write_text("")
    env.update(
        TERM="xterm-256color",
        NETRC=str(netrc),
        NO_PROXY="127.0.0.1,localhost",
        no_proxy="127.0.0.1,localhost",
        UVROOT_RETRY_BACKOFF="0.01",
    )
    env.update(extra)
    return env


def sync_argv(project: Path, root: Path, cache: Path, *flags: str) -> list[str]:
    return uvroot_argv("sync", "--project", project, "--root", root, *TARGET, "--cache-dir", cache, *flags)


def on_tty(argv: list[str], env: Mapping[str, str], timeout: float = 120) -> tuple[int, str]:
    """Run ``argv`` with stdout and stderr on a fresh 120x40 pseudo-terminal: (exit code, everything it wrote)."""
    master, slave = pty.openpty()
    ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))
    try:
        child = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=slave, stderr=slave, env=dict(env))
    finally:
        os.close(slave)
    output = bytearray()
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            if not select.select([master], [], [], 0.1)[0]:
                continue
            try:
                data = os.read(master, 65536)
            except OSError:  # EIO: the child and everything it started closed the terminal
                break
            if not data:
                break
            output += data
        else:
            child.kill()
            pytest.fail(f"{argv} still runs after {timeout} s; it wrote:\n{output.decode(errors='replace')}")
        code = child.wait(timeout=30)
    finally:
        os.close(master)
    return code, output.decode(errors="replace").replace("\r\n", "\n")


def in_pipe(argv: list[str], env: Mapping[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        argv, check=False, capture_output=True, text=True, env=dict(env), stdin=subprocess.DEVNULL, timeout=120
    )


def colours(text: str) -> list[str]:
    """Every SGR sequence of ``text`` that sets a foreground or background colour."""
    found = []
    for match in SGR.finditer(text):
        params = match.group(1).split(";")
        if any(p.isdigit() and (30 <= int(p) <= 49 or 90 <= int(p) <= 107) for p in params):
            found.append(match.group(0))
    return found


def last_line(text: str) -> str:
    """The last non-empty line of ``text``, without its escape sequences."""
    return [line for line in CSI.sub("", text).splitlines() if line.strip()][-1].strip()


def shown_size(nbytes: int) -> str:
    """How the download bar writes a total of ``nbytes``: binary units as the summary, one decimal above bytes."""
    if nbytes < 1024:
        return f"{nbytes} bytes"
    for unit, suffix in ((1024**2, "KiB"), (1024**3, "MiB")):
        if nbytes < unit:
            return f"{nbytes / (unit // 1024):.1f} {suffix}"
    raise AssertionError(nbytes)


# -- projects ------------------------------------------------------------------


@pytest.fixture(scope="module")
def locked(tmp_path_factory: pytest.TempPathFactory, index: LocalIndex, uv_cache: Path) -> Path:
    """A project with alpha (which needs beta) and gadgets, locked once by the real uv."""
    project = tmp_path_factory.mktemp("output-project")
    write_project(project, dependencies=["alpha", "gadgets"], requires_python=">=3.10")
    uv_lock(project, index.url, cache_dir=uv_cache)
    return project


@pytest.fixture
def project(locked: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "project"
    shutil.copytree(locked, copy)
    return copy


@pytest.fixture
def faulty(wheelhouse: Path) -> Iterator[FaultyServer]:
    with FaultyServer(wheelhouse) as server:
        yield server


def point_at(project: Path, old: str, new: str) -> Path:
    """Replace the ``old`` files URL by ``new`` throughout the project's uv.lock."""
    lock = project / "uv.lock"
    text = lock.read_text()
    assert f"{old}/" in text
    lock.write_text(text.replace(f"{old}/", f"{new}/"))
    return project


def served_by(project: Path, index: LocalIndex, server: FaultyServer) -> Path:
    """Point every wheel URL of the project's uv.lock at ``server`` (same bytes, so the hashes hold)."""
    return point_at(project, index.files_url, server.url_for("").rstrip("/"))


def with_sizes(project: Path, wheelhouse: Path) -> Path:
    """Give every wheel of uv.lock its ``size``, as uv writes it for PyPI (the test index publishes none)."""
    lock = project / "uv.lock"

    def sized(match: re.Match[str]) -> str:
        return f"{match.group(0)}, size = {(wheelhouse / match.group(1)).stat().st_size}"

    text, count = re.subn(r'/files/([^/"]+\.whl)", hash = "sha256:[0-9a-f]+"', sized, lock.read_text())
    assert count
    lock.write_text(text)
    return project


def wheel_bytes(project: Path) -> int:
    """The sum of the sizes uv.lock gives for the wheels a sync for the target downloads."""
    names = {spec.split("==")[0]: spec.split("==")[1] for spec in PACKAGES}
    total = 0
    for package in tomllib.loads((project / "uv.lock").read_text())["package"]:
        if names.get(package["name"]) == package["version"]:
            (wheel,) = package["wheels"]
            total += wheel["size"]
    return total


def summary_only(text: str) -> None:
    lines = text.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("staged 3 packages"), text


# -- a terminal ----------------------------------------------------------------


def test_terminal_shows_a_byte_bar_and_a_package_bar(
    project: Path, index: LocalIndex, faulty: FaultyServer, wheelhouse: Path, tmp_path: Path
) -> None:
    served_by(with_sizes(project, wheelhouse), index, faulty)
    faulty.plan(GADGETS, slow(1.0, after_bytes=100))  # holds the bars on screen for a second
    argv = sync_argv(project, tmp_path / "root", tmp_path / "cache")
    code, output = on_tty(argv, environment(tmp_path))
    assert code == 0, output
    assert BAR in output and "\x1b[" in output, output
    assert "download" in output and "install" in output, output
    total = shown_size(wheel_bytes(project))
    assert re.search(rf"[\d.]+/{re.escape(total)}", output), (total, output)  # bytes done of the lock's total
    assert re.search(r"\d+/3\b", output), output  # packages placed of 3
    assert colours(output), output  # a terminal gets colour
    # Transient bars: the last thing on the screen is the summary.
    assert last_line(output).startswith("staged 3 packages"), output


@pytest.fixture(scope="module")
def bulky(tmp_path_factory: pytest.TempPathFactory, uv_cache: Path) -> Iterator[tuple[Path, Path]]:
    """(wheelhouse, project): a 400 kB wheel of random bytes, locked by the real uv from its own index.

    Big enough that a download broken halfway has already handed over whole chunks.
    """
    house = tmp_path_factory.mktemp("bulky-house")
    blob = random.Random(6).randbytes(400_000)
    build_wheel(house, "bulky", "1.0", files={"bulky/__init__.py": "", "bulky/blob.bin": blob})
    project = tmp_path_factory.mktemp("bulky-project")
    write_project(project, dependencies=["bulky"], requires_python=">=3.10")
    with LocalIndex(house) as index:
        uv_lock(project, index.url, cache_dir=uv_cache)
        yield house, point_at(project, index.files_url, "http://bulky.invalid/files")


def test_the_byte_bar_does_not_count_a_failed_attempt_twice(bulky: tuple[Path, Path], tmp_path: Path) -> None:
    house, template = bulky
    project = tmp_path / "project"
    shutil.copytree(template, project)
    (wheel,) = house.glob("*.whl")
    with FaultyServer(house) as server:
        point_at(with_sizes(project, house), "http://bulky.invalid/files", server.url_for("").rstrip("/"))
        server.plan(wheel.name, reset(mid_body=True), slow(1.0, after_bytes=100_000))
        code, output = on_tty(sync_argv(project, tmp_path / "root", tmp_path / "cache"), environment(tmp_path))
        assert code == 0, output
        assert len(server.hits(wheel.name)) == 2
    total = shown_size(wheel.stat().st_size)
    shown = re.findall(rf"([\d.]+)/{re.escape(total)}", output)
    # The first attempt handed over whole chunks before the reset: without taking them
    # back the bar would end above the total.  It ends exactly there.
    assert shown and all(float(done) <= float(total.split()[0]) for done in shown), (total, shown)
    assert shown[-1] == total.split()[0], (total, shown)


def test_without_sizes_in_the_lock_the_byte_bar_counts_up(
    project: Path, index: LocalIndex, faulty: FaultyServer, tmp_path: Path
) -> None:
    served_by(project, index, faulty)
    faulty.plan(GADGETS, slow(1.0, after_bytes=100))
    code, output = on_tty(sync_argv(project, tmp_path / "root", tmp_path / "cache"), environment(tmp_path))
    assert code == 0, output
    assert re.search(r"[\d.]+/\? (KiB|bytes)", output), output


def test_a_warm_sync_draws_no_byte_bar(project: Path, tmp_path: Path) -> None:
    cache, env = tmp_path / "cache", environment(tmp_path)
    assert in_pipe(sync_argv(project, tmp_path / "first", cache), env).returncode == 0
    code, output = on_tty(sync_argv(project, tmp_path / "second", cache), env)
    assert code == 0, output
    bars = output.rsplit("staged 3 packages", 1)[0]
    assert BAR in bars and "install" in bars, output
    assert "download" not in bars and not re.search(r"\b(bytes|KiB|kB/s)\b", bars), output
    assert last_line(output).startswith("staged 3 packages"), output


def test_wheels_cached_but_not_unpacked_draw_no_byte_bar(project: Path, wheelhouse: Path, tmp_path: Path) -> None:
    """Wheel files in the cache (a killed sync's, an older uvroot's) are unpacked from there: nothing to download."""
    cache, env = tmp_path / "cache", environment(tmp_path)
    assert in_pipe(sync_argv(project, tmp_path / "first", cache), env).returncode == 0
    shutil.rmtree(cache / "unpacked-v2")
    for package in tomllib.loads((project / "uv.lock").read_text())["package"]:
        for wheel in package.get("wheels", []):
            name, sha = wheel["url"].rpartition("/")[2], wheel["hash"].removeprefix("sha256:")
            if (wheelhouse / name).is_file():
                (cache / "wheels-v1" / sha[:2] / sha).mkdir(parents=True)
                shutil.copyfile(wheelhouse / name, cache / "wheels-v1" / sha[:2] / sha / name)
    assert len(list(cache.glob("wheels-v1/*/*/*.whl"))) >= 3  # (the lock also has wheels for other targets)
    code, output = on_tty(sync_argv(project, tmp_path / "second", cache), env)
    assert code == 0, output
    bars = output.rsplit("staged 3 packages", 1)[0]
    assert BAR in bars and "install" in bars, output
    assert "download" not in bars and not re.search(r"\b(bytes|KiB|kB/s)\b", bars), output


def test_a_dry_run_on_a_terminal_draws_no_bar(project: Path, tmp_path: Path) -> None:
    argv = sync_argv(project, tmp_path / "root", tmp_path / "cache", "--dry-run")
    code, output = on_tty(argv, environment(tmp_path))
    assert code == 0, output
    assert BAR not in output and "\x1b" not in output and "install  alpha==1.0" in output, output


def test_verbose_on_a_terminal_prints_each_package_once(project: Path, tmp_path: Path) -> None:
    code, output = on_tty(sync_argv(project, tmp_path / "root", tmp_path / "cache", "-v"), environment(tmp_path))
    assert code == 0, output
    for spec in PACKAGES:
        assert output.count(f" + {spec} (") == 1, output


# -- CI, pipes, --color never --------------------------------------------------


def test_ci_on_a_terminal_gets_the_summary_line_only(project: Path, tmp_path: Path) -> None:
    argv = sync_argv(project, tmp_path / "root", tmp_path / "cache")
    code, output = on_tty(argv, environment(tmp_path, CI="1"))
    assert code == 0, output
    assert "\x1b" not in output and BAR not in output, output
    summary_only(output)


def test_a_pipe_gets_the_summary_line_only(project: Path, tmp_path: Path) -> None:
    done = in_pipe(sync_argv(project, tmp_path / "root", tmp_path / "cache"), environment(tmp_path))
    assert done.returncode == 0, done.stderr
    # as uv: stdout stays free for --format json; the summary is the only line, on stderr
    assert done.stdout == "" and "\x1b" not in done.stderr
    summary_only(done.stderr)


def test_color_never_on_a_terminal_writes_no_escape_at_all(project: Path, tmp_path: Path) -> None:
    argv = sync_argv(project, tmp_path / "root", tmp_path / "cache", "--color", "never")
    code, output = on_tty(argv, environment(tmp_path))
    assert code == 0, output
    assert "\x1b" not in output, output
    summary_only(output)


def test_no_color_keeps_the_bars_without_colour(project: Path, tmp_path: Path) -> None:
    code, output = on_tty(
        sync_argv(project, tmp_path / "root", tmp_path / "cache"), environment(tmp_path, NO_COLOR="1")
    )
    assert code == 0, output
    assert BAR in output and colours(output) == [], output


# -- errors and --color ----------------------------------------------------------


def failing(tmp_path: Path, *flags: str) -> list[str]:
    """A sync that fails at once: the project directory does not exist."""
    return sync_argv(tmp_path / "missing", tmp_path / "root", tmp_path / "cache", *flags)


def error_line(text: str) -> str:
    (line,) = [line for line in text.splitlines() if CSI.sub("", line).startswith("error:")]
    return line


def test_errors_are_red_on_a_terminal_and_plain_in_a_pipe(tmp_path: Path) -> None:
    env = environment(tmp_path)
    code, output = on_tty(failing(tmp_path), env)
    assert code != 0 and "\x1b[31m" in error_line(output), output
    done = in_pipe(failing(tmp_path), env)
    assert done.returncode == code and "\x1b" not in done.stderr and error_line(done.stderr).startswith("error: ")


def test_color_always_colours_the_error_in_a_pipe(tmp_path: Path) -> None:
    done = in_pipe(failing(tmp_path, "--color", "always"), environment(tmp_path))
    assert done.returncode != 0
    line = error_line(done.stderr)
    assert "\x1b[31m" in line and SGR.sub("", line).startswith("error: "), done.stderr
    assert "Traceback" not in done.stderr


def test_color_never_and_no_color_leave_a_terminal_error_plain(tmp_path: Path) -> None:
    code, output = on_tty(failing(tmp_path, "--color", "never"), environment(tmp_path))
    assert code != 0 and "\x1b" not in output and error_line(output).startswith("error: "), output
    code, output = on_tty(failing(tmp_path), environment(tmp_path, NO_COLOR="1"))
    assert code != 0 and colours(output) == [] and "error" in output, output


def test_force_color_in_auto_and_no_color_winning_over_it(tmp_path: Path) -> None:
    forced = in_pipe(failing(tmp_path), environment(tmp_path, FORCE_COLOR="1"))
    assert "\x1b[31m" in error_line(forced.stderr), forced.stderr
    both = in_pipe(failing(tmp_path), environment(tmp_path, FORCE_COLOR="1", NO_COLOR="1"))
    assert "\x1b" not in both.stderr and error_line(both.stderr).startswith("error: "), both.stderr
    never = in_pipe(failing(tmp_path, "--color", "never"), environment(tmp_path, FORCE_COLOR="1"))
    assert "\x1b" not in never.stderr, never.stderr


def test_warnings_get_a_coloured_label_and_quiet_drops_them(project: Path, tmp_path: Path) -> None:
    pyproject = project / "pyproject.toml"
    pyproject.write_text(pyproject.read_text().replace('["alpha", "gadgets"]', '["alpha", "gadgets", "beta"]'))
    env = environment(tmp_path)  # the lock is now stale: uvroot stages it as it is, with a warning

    def run(*flags: str) -> str:
        done = in_pipe(sync_argv(project, tmp_path / "root", tmp_path / "cache", "--dry-run", *flags), env)
        assert done.returncode == 0, done.stderr
        return done.stderr

    assert run().startswith("warning: "), run()
    assert run("--color", "always").startswith("\x1b[1;33mwarning\x1b[0m\x1b[1m:\x1b[0m "), run("--color", "always")
    assert run("-q") == ""


def test_a_bad_color_value_is_a_usage_error(tmp_path: Path) -> None:
    done = in_pipe(failing(tmp_path, "--color", "sometimes"), environment(tmp_path))
    assert done.returncode == 2 and "--color 'sometimes' is not one of auto, always, never" in done.stderr


# -- -q and -v -------------------------------------------------------------------


def test_quiet_prints_nothing_on_success_even_on_a_terminal(project: Path, tmp_path: Path) -> None:
    code, output = on_tty(sync_argv(project, tmp_path / "root", tmp_path / "cache", "-q"), environment(tmp_path))
    assert code == 0 and output == "", output
    assert (tmp_path / "root").is_dir()


def test_quiet_still_prints_errors(tmp_path: Path) -> None:
    done = in_pipe(failing(tmp_path, "-q"), environment(tmp_path))
    assert done.returncode != 0 and done.stdout == "" and error_line(done.stderr).startswith("error: ")


def test_verbose_prints_one_line_per_package(project: Path, tmp_path: Path) -> None:
    done = in_pipe(sync_argv(project, tmp_path / "root", tmp_path / "cache", "-v"), environment(tmp_path))
    assert done.returncode == 0, done.stderr
    installed = [line for line in done.stderr.splitlines() if line.startswith(" + ")]
    assert sorted(line.split(" (")[0] for line in installed) == [f" + {spec}" for spec in PACKAGES], done.stderr
    assert done.stdout == ""
    summary_only(done.stderr.splitlines()[-1])


def test_verbose_adds_a_traceback_to_errors(tmp_path: Path) -> None:
    plain = in_pipe(failing(tmp_path), environment(tmp_path))
    verbose = in_pipe(failing(tmp_path, "-v"), environment(tmp_path))
    assert "Traceback" not in plain.stderr and "Traceback" in verbose.stderr, verbose.stderr
    assert error_line(plain.stderr) in verbose.stderr


@pytest.mark.parametrize("how", [("--no-progress",), ()], ids=["flag", "UV_NO_PROGRESS"])
def test_no_progress_draws_no_bar_on_a_terminal(
    project: Path, index: LocalIndex, faulty: FaultyServer, wheelhouse: Path, tmp_path: Path, how: tuple[str, ...]
) -> None:
    served_by(with_sizes(project, wheelhouse), index, faulty)
    faulty.plan(GADGETS, slow(1.0, after_bytes=100))  # a bar would be on screen for a second
    argv = sync_argv(project, tmp_path / "root", tmp_path / "cache", *how)
    env = environment(tmp_path) if how else environment(tmp_path, UV_NO_PROGRESS="1")
    code, output = on_tty(argv, env)
    assert code == 0, output
    assert BAR not in output, output
    assert last_line(output).startswith("staged 3 packages"), output
