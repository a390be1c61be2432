"""The instant no-op: "up to date" decided from a stamp before typer, packaging or the lock is imported.

A sync that found nothing to do leaves a stamp in the cache (``noop-v1/``), keyed
by everything that shapes a sync from the outside: the command line, the working
directory, the interpreter, uvroot's own code and the environment variables it or
uv read.  The stamp lists every file the verdict rests on (pyproject.toml files,
uv.lock, the scheme directories, each installed dist-info and its state files, a
venv's own files, the tree's top, whose change shows a journal) with its inode,
size, mtime and ctime.  The next identical command re-stats those few hundred
paths with the standard library only; if every one is unchanged it prints the
same line and exits, else the full sync runs (and may stamp again).  A ctime
cannot be set back, so any write to a watched file is seen.

Only plain syncs are stamped: not ``--dry-run``, ``--format``, ``--report``,
``--reinstall``, ``--refresh``, ``-v`` or ``--no-cache``, and not a plan that
builds local sources (their files are not watched).
"""

from __future__ import annotations

import hashlib
import marshal
import os
import stat
import sys

_SCHEMA = 1
_NOT_STAMPED = frozenset(
    {
        "--dry-run",
        "--format",
        "--output-format",
        "--report",
        "--reinstall",
        "--reinstall-package",
        "--refresh",
        "--no-cache",
        "-v",
        "--verbose",
        "--check",
        "-h",
        "--help",
    }
)
_ENVIRONMENT = (
    "SOURCE_DATE_EPOCH",
    "XDG_CACHE_HOME",
    "XDG_CONFIG_HOME",
    "HOME",
    "PYTHONUSERBASE",
    "PATH",
    "TARGETPLATFORM",  # --image's default --platform
)
_ENVIRONMENT_PREFIXES = ("UV_", "UVROOT_")
SUMMARY_STREAM = "stderr"
"""Where the CLI prints a sync's one-line summary (the fast path prints there too)."""

ARGV: list[str] | None = None
"""The command line of this process when it came through :func:`main` (None when used as a library)."""

Identity = list[int] | None


def main() -> None:
    """The ``uvroot`` entry point: answer a repeated no-op at once, else run the CLI."""
    global ARGV
    ARGV = sys.argv[1:]
    if _answer(ARGV):
        return
    from .cli import main as cli_main

    cli_main()


def _answer(argv: list[str]) -> bool:
    path = _stamp_path(argv)
    if path is None:
        return False
    try:  # marshal: built in, so the fast answer imports nothing (json alone costs more than the answer)
        with open(path, "rb") as stream:
            stamp = marshal.load(stream)
        watched = [(str(name), identity) for name, identity in stamp["watched"]]
        text = str(stamp["text"])
    except (OSError, ValueError, KeyError, TypeError, EOFError):
        return False
    if any(_identity(name) != identity for name, identity in watched):
        return False
    if text and "-q" not in argv and "--quiet" not in argv:
        print(text, file=sys.stdout if SUMMARY_STREAM == "stdout" else sys.stderr)
    return True


def remember(watched: list[str], text: str) -> None:
    """After a sync found nothing to do: stamp it for the next identical command (best effort)."""
    if ARGV is None or (path := _stamp_path(ARGV)) is None:
        return
    stamp = {"watched": [[name, _identity(name)] for name in dict.fromkeys(watched)], "text": text}
    temporary = f"{path}.{os.getpid()}.tmp"
    try:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(temporary, "wb") as stream:
            marshal.dump(stamp, stream)
        os.replace(temporary, path)
    except OSError:
        pass  # a read-only or full cache only costs the next no-op its speed


def _identity(path: str) -> Identity:
    try:
        found = os.lstat(path)
    except OSError:
        return None
    return [found.st_dev, found.st_ino, found.st_mode, found.st_size, found.st_mtime_ns, found.st_ctime_ns]


def _stamp_path(argv: list[str]) -> str | None:
    if not argv or argv[0] != "sync" or any(arg.split("=", 1)[0] in _NOT_STAMPED for arg in argv[1:]):
        return None
    environment = {
        key: value for key, value in os.environ.items() if key in _ENVIRONMENT or key.startswith(_ENVIRONMENT_PREFIXES)
    }
    if environment.get("UV_NO_CACHE", "") not in ("", "0", "false") or (cache := _cache_dir(argv)) is None:
        return None
    described = [_contents(value) for value in _values(argv, "--target-file")]  # the target, not the file's name
    if None in described:
        return None  # a pipe (`--target-file <(docker run …)`) is read once, by the sync itself
    key = repr(
        [_SCHEMA, argv, os.getcwd(), sys.executable, sys.version, sorted(environment.items()), _code(), described]
    )
    return os.path.join(cache, "noop-v1", hashlib.sha256(key.encode()).hexdigest()[:40] + ".marshal")


def _values(argv: list[str], flag: str) -> list[str]:
    """Every value of ``flag VALUE`` or ``flag=VALUE`` on the command line."""
    found = [value for arg in argv if (value := arg.partition("=")[2]) and arg.startswith(flag + "=")]
    found += [argv[number + 1] for number, arg in enumerate(argv[:-1]) if arg == flag]
    return found


def _contents(path: str) -> str | None:
    """A small regular file's sha256 (a --target-file: editing it changes the target), "" if unreadable.

    None for anything else (a pipe, a device, a file over 1 MiB): reading it here would consume it.
    """
    try:
        found = os.stat(path)
        if not stat.S_ISREG(found.st_mode) or found.st_size > 1 << 20:
            return None
        with open(path, "rb") as stream:
            return hashlib.sha256(stream.read()).hexdigest()
    except OSError:
        return ""


def _cache_dir(argv: list[str]) -> str | None:
    # The same choice as cache.default_cache_dir, with --cache-dir first; a stamp found
    # by another rule is merely missed, never wrongly used.
    for number, arg in enumerate(argv):
        if arg == "--cache-dir" and number + 1 < len(argv):
            return os.path.abspath(argv[number + 1])
        if arg.startswith("--cache-dir="):
            return os.path.abspath(arg.partition("=")[2])
    if explicit := os.environ.get("UVROOT_CACHE_DIR"):
        return os.path.abspath(explicit)
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "uvroot")


def _code() -> list[Identity]:
    """The package's own modules: another version of uvroot never trusts this one's stamps."""
    package = os.path.dirname(os.path.abspath(__file__))
    return [_identity(os.path.join(package, name)) for name in sorted(os.listdir(package)) if name.endswith(".py")]
