"""``--compile-bytecode``: ``.pyc`` files made by an interpreter of the TARGET's version.

Bytecode is version-specific but not platform-specific, so any CPython X.Y on
the build machine can compile for an X.Y image of another architecture; one of
another version never may (pip, uv and installer all compile with the host's,
see pypa/installer#172).  The pyc files are hash-based (``CHECKED_HASH``): they
do not embed the source's mtime, so two syncs give the same bytes, and they are
written with ``PYTHONHASHSEED=0`` because set constants are marshalled in hash
order.  Each is compiled before its distribution's dist-info appears and is
listed in RECORD, so uninstalling removes it.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import threading
from dataclasses import dataclass, field
from typing import IO

from .errors import UsageError
from .interpreter import Interpreter, inspect_interpreter
from .target import Target

# Runs on the compiling interpreter: one JSON list of [source, pyc, runtime path]
# per line in, one JSON list of the sources that did not compile per line out.
_SERVER = """\
import json, py_compile, sys
mode = py_compile.PycInvalidationMode.CHECKED_HASH
for line in sys.stdin:
    failed = []
    for source, cfile, dfile in json.loads(line):
        try:
            py_compile.compile(source, cfile=cfile, dfile=dfile, doraise=True, invalidation_mode=mode)
        except Exception:
            failed.append(source)
    sys.stdout.write(json.dumps(failed) + "\\n")
    sys.stdout.flush()
"""


def find_compiler(target: Target, explicit: str | None = None, python: Interpreter | None = None) -> Interpreter:
    """A CPython of the target's X.Y: ``--compile-python``, ``--python``, this one, or ``pythonX.Y`` on PATH."""
    wanted = target.python_version
    if explicit is not None:
        found = inspect_interpreter(explicit, "--compile-python")
        if found.short_version != wanted or found.implementation != "cpython":
            raise UsageError(
                f"--compile-python {explicit} is {found.implementation} {found.short_version}, and the target is "
                f"CPython {wanted}: its bytecode would not load there",
                hint=f"give a CPython {wanted} interpreter (any architecture will do)",
            )
        return found
    if python is not None and python.short_version == wanted and python.implementation == "cpython":
        return python  # --python's interpreter, already inspected
    candidates = [sys.executable, f"python{wanted}", "python3", "python"]
    for candidate in dict.fromkeys(candidates):
        if os.sep not in candidate and shutil.which(candidate) is None:
            continue
        try:
            found = inspect_interpreter(candidate, "--compile-python")
        except UsageError:
            continue  # e.g. a pyenv shim of a version that is not active
        if found.short_version == wanted and found.implementation == "cpython":
            return found
    raise UsageError(
        f"--compile-bytecode needs a CPython {wanted} interpreter, and none was found "
        f"(tried {', '.join(dict.fromkeys(candidates))})",
        hint=f"install python{wanted} on the build machine or pass --compile-python PATH; "
        "uvroot never writes bytecode of another version",
    )


@dataclass
class CompileServer:
    """One long-lived compiling interpreter, shared by the threads of a batch."""

    interpreter: Interpreter
    _process: subprocess.Popen[str] | None = field(default=None, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def cache_tag(self) -> str:
        """``cpython-312``: the middle of every pyc name."""
        return self.interpreter.cache_tag or f"cpython-{self.interpreter.version[0]}{self.interpreter.version[1]}"

    def compile(self, jobs: list[tuple[str, str, str]]) -> set[str]:
        """Compile (source, pyc, runtime path) triples; returns the sources that are not valid Python."""
        if not jobs:
            return set()
        with self._lock:
            process = self._start()
            stdin, stdout = _pipes(process)
            try:
                stdin.write(json.dumps(jobs) + "\n")
                stdin.flush()
                answer = stdout.readline()
            except OSError:
                answer = ""
            if not answer:
                raise UsageError(
                    f"the bytecode compiler {self.interpreter.executable} stopped unexpectedly",
                    hint="run again without --compile-bytecode, or give another --compile-python",
                )
            return set(json.loads(answer))

    def close(self) -> None:
        """Stop the interpreter."""
        if self._process is not None:
            stdin, _ = _pipes(self._process)
            stdin.close()
            self._process.wait()
            self._process = None

    def _start(self) -> subprocess.Popen[str]:
        if self._process is None:
            # Not -I: it would ignore PYTHONHASHSEED too.  No other PYTHON* variable applies.
            env = {key: value for key, value in os.environ.items() if not key.startswith("PYTHON")}
            env["PYTHONHASHSEED"] = "0"
            self._process = subprocess.Popen(
                [self.interpreter.executable, "-s", "-c", _SERVER],
                cwd="/",
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                text=True,
                env=env,
            )
        return self._process


def _pipes(process: subprocess.Popen[str]) -> tuple[IO[str], IO[str]]:
    assert process.stdin is not None and process.stdout is not None
    return process.stdin, process.stdout
