"""Read the ``uvroot sync`` steps out of a Dockerfile, so a test runs exactly what the example builds.

Just enough of the Dockerfile syntax for the examples: comment lines, ``\\``
continuations, ``FROM [--platform=P] IMAGE [AS NAME]``, ``ENV K=V ...`` and
``RUN [--mount=...] <shell>``.  A RUN's shell text is split into simple
commands at ``&&``, ``||``, ``;`` and ``|``; a command whose words (after
``VAR=value`` assignments) start with ``uvroot sync`` is a step.  Anything
this reader cannot represent faithfully (a ``$`` expansion in a step, an
``ENV`` without ``=``) raises ``ValueError`` rather than being guessed at.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path

_ASSIGNMENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*=")
_OPERATORS = {"&&", "||", ";", "|", "&"}


@dataclass(frozen=True)
class Stage:
    """One ``FROM``: its image, ``--platform`` and ``AS`` name, and the ENV set so far in it."""

    image: str
    platform: str | None = None
    name: str | None = None
    env: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class UvrootStep:
    """``uvroot sync ...`` as a RUN runs it: its words after ``uvroot`` and its environment."""

    args: tuple[str, ...]
    env: dict[str, str]
    stage: Stage

    def option(self, name: str) -> str | None:
        """The value of ``--name VALUE`` (or ``--name=VALUE``), None if absent."""
        for index, word in enumerate(self.args):
            if word == name and index + 1 < len(self.args):
                return self.args[index + 1]
            if word.startswith(name + "="):
                return word.split("=", 1)[1]
        return None


def instructions(text: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, rest) pairs: comments dropped, continuation lines joined."""
    result: list[tuple[str, str]] = []
    pending = ""
    for raw in text.splitlines():
        line = raw.strip()
        if line.startswith("#") or (not line and pending):
            continue  # comment lines (also inside a continuation) and blank continuation lines
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        line = (pending + line).strip()
        pending = ""
        if line:
            keyword, _, rest = line.partition(" ")
            result.append((keyword.upper(), rest.strip()))
    if pending.strip():
        raise ValueError("the Dockerfile ends inside a continuation line")
    return result


def _commands(shell: str) -> list[list[str]]:
    lexer = shlex.shlex(shell, posix=True, punctuation_chars=True)
    lexer.whitespace_split = True
    commands: list[list[str]] = [[]]
    for word in lexer:
        if word in _OPERATORS:
            commands.append([])
        else:
            commands[-1].append(word)
    return [command for command in commands if command]


def _strip_run_flags(rest: str) -> str:
    words = rest.split(" ")
    while words and (words[0].startswith("--") or not words[0]):
        words.pop(0)
    return " ".join(words)


def parse(path: Path) -> tuple[list[Stage], list[UvrootStep]]:
    """The stages of the Dockerfile at ``path`` and its ``uvroot sync`` steps, in order."""
    stages: list[Stage] = []
    steps: list[UvrootStep] = []
    for keyword, rest in instructions(path.read_text()):
        if keyword == "FROM":
            words = rest.split()
            platform = next((w.split("=", 1)[1] for w in words if w.startswith("--platform=")), None)
            words = [w for w in words if not w.startswith("--")]
            name = words[2] if len(words) == 3 and words[1].upper() == "AS" else None
            stages.append(Stage(image=words[0], platform=platform, name=name))
        elif keyword == "ENV":
            for word in shlex.split(rest):
                if "=" not in word:
                    raise ValueError(f"{path}: only ENV KEY=VALUE is supported, got {rest!r}")
                key, value = word.split("=", 1)
                stages[-1].env[key] = value
        elif keyword == "RUN":
            for command in _commands(_strip_run_flags(rest)):
                env = dict(stages[-1].env)
                while command and _ASSIGNMENT.match(command[0]):
                    key, value = command.pop(0).split("=", 1)
                    env[key] = value
                if command[:2] == ["uvroot", "sync"]:
                    if any("$" in word for word in command):
                        raise ValueError(f"{path}: cannot expand variables in {shlex.join(command)}")
                    steps.append(UvrootStep(tuple(command[1:]), env, stages[-1]))
    return stages, steps


def python_tag(image: str) -> str | None:
    """``python:3.12-slim`` -> ``3.12`` (the official image's Python), else None."""
    match = re.match(r"^(?:docker\.io/)?(?:library/)?python:(\d+\.\d+)", image)
    return match.group(1) if match else None
