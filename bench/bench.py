#!/usr/bin/env python3
"""Benchmark `uvroot sync --target` against `uv pip install --target` and `pip install --target`.

All three install the same wheels (the ones `bench/project/uv.lock` selects for the target) into a
fresh flat directory, each with its own cache under a scratch directory and isolated from this
machine's uv/pip configuration.  Scenarios:

- warm: the cache holds every wheel, the target is new and empty;
- cold: the cache is empty (everything is downloaded from PyPI), the target is new;
- noop: the target was already synced and the same lock is synced again.

Each scenario is run several times, tools interleaved round by round so that drift (network, other
load) spreads over all of them; medians and minimums of wall time and the child's peak RSS are
reported next to the goals from the issue, printed and written to `bench/RESULTS.md`.

    make bench                          # the full run (about 10 minutes on 2 cores)
    python bench/bench.py --quick       # one run of each, a smoke test (RESULTS go to the scratch dir)
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
PROJECT = HERE / "project"
BIN = Path(sys.executable).parent  # the dev venv that runs this script has uvroot and uv
UV_PLATFORM = "x86_64-manylinux_2_28"
SCENARIOS = ("warm", "cold", "noop")
DEFAULT_RUNS = {"warm": 5, "cold": 3, "noop": 5}
LINK_MODES = ("copy", "hardlink")  # the modes uvroot and uv both have, compared like for like
MIB = 1024 * 1024

Kind = Literal["uvroot", "uv", "pip"]


class BenchError(Exception):
    """A tool failed or the machine cannot run the benchmark; the message says which and why."""


# --------------------------------------------------------------------------- tools and commands


@dataclass(frozen=True)
class Tool:
    """One row of the table: an installer and, where it has them, a link mode."""

    kind: Kind
    link_mode: str | None = None  # None: the tool's own default (pip has no link modes)

    @property
    def label(self) -> str:
        """Human-readable name, e.g. `uv (hardlink)`."""
        if self.kind == "pip":
            return "pip"
        return f"{self.kind} ({self.link_mode or 'default'})"

    @property
    def slug(self) -> str:
        """File-name-safe name for the tool's target directories and logs."""
        return f"{self.kind}-{self.link_mode or 'default'}"


@dataclass(frozen=True)
class Setup:
    """Everything the commands need: scratch paths, the target and the programs."""

    scratch: Path
    python_version: str
    requirements: Path
    pip_python: Path
    uvroot_has_link_mode: bool

    def cache(self, tool: Tool) -> Path:
        """The tool's own cache; link modes of one tool share it, as they would on a real machine."""
        return self.scratch / "cache" / tool.kind

    def target(self, tool: Tool, purpose: str) -> Path:
        """A target directory for one tool and purpose (check/noop target, or a timed warm/cold one)."""
        return self.scratch / "targets" / f"{purpose}-{tool.slug}"

    def log(self, tool: Tool) -> Path:
        """Where the tool's output goes (appended): kept out of the terminal and out of the timing."""
        return self.scratch / "logs" / f"{tool.slug}.log"


def pip_platforms() -> list[str]:
    """The `--platform` flags for pip that accept what uv's `x86_64-manylinux_2_28` accepts.

    pip does not widen `manylinux_2_28_x86_64` to older glibc tags (cffi, for one, ships only
    `manylinux2014`/`manylinux_2_17` wheels), so every tag up to 2_28 is listed, legacy aliases too.
    """
    tags = [f"manylinux_2_{minor}_x86_64" for minor in range(28, 4, -1)]
    tags += ["manylinux2014_x86_64", "manylinux2010_x86_64", "manylinux1_x86_64"]
    return [flag for tag in tags for flag in ("--platform", tag)]


def command(setup: Setup, tool: Tool, target: Path) -> list[str]:
    """The install command for `tool` into `target` (the same lock, target and link mode for all)."""
    if tool.kind == "uvroot":
        cmd = [str(BIN / "uvroot"), "sync", "--project", str(PROJECT), "--target", str(target), "--no-dev"]
        cmd += ["--python-version", setup.python_version, "--python-platform", UV_PLATFORM]
        cmd += ["--cache-dir", str(setup.cache(tool))]
        return cmd + (["--link-mode", tool.link_mode] if tool.link_mode else [])
    if tool.kind == "uv":
        cmd = [str(BIN / "uv"), "pip", "install", "--no-config", "--no-deps", "--target", str(target)]
        cmd += ["-r", str(setup.requirements), "--python", sys.executable]
        cmd += ["--python-version", setup.python_version, "--python-platform", UV_PLATFORM]
        cmd += ["--cache-dir", str(setup.cache(tool))]
        return cmd + (["--link-mode", tool.link_mode] if tool.link_mode else [])
    cmd = [str(setup.pip_python), "-m", "pip", "install", "--no-deps", "--target", str(target)]
    cmd += ["-r", str(setup.requirements), "--only-binary=:all:", *pip_platforms()]
    cmd += ["--python-version", setup.python_version, "--implementation", "cp"]
    # pip compiles bytecode by default; uvroot and uv do not, so pip would do more work.
    return [*cmd, "--cache-dir", str(setup.cache(tool)), "--no-compile", "--progress-bar", "off"]


def tool_env(kind: Kind) -> dict[str, str]:
    """The current environment minus the machine's uv/pip/uvroot settings (indexes, caches, find-links)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("UV_", "PIP_", "UVROOT_"))}
    env.pop("VIRTUAL_ENV", None)
    if kind == "pip":
        env["PIP_CONFIG_FILE"] = os.devnull  # ignore /etc/pip.conf and ~/.config/pip
        env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"  # no extra request per run
    return env


def tools_to_compare(uvroot_has_link_mode: bool) -> list[Tool]:
    """The rows: uvroot and uv in each shared link mode, then pip (one row: it has no link modes)."""
    uvroot_modes: Sequence[str | None] = LINK_MODES if uvroot_has_link_mode else (None,)
    tools = [Tool("uvroot", mode) for mode in uvroot_modes]
    return [*tools, *(Tool("uv", mode) for mode in LINK_MODES), Tool("pip")]


# --------------------------------------------------------------------------- running and measuring


@dataclass(frozen=True)
class Sample:
    """One timed run: wall time and the child's peak resident set size."""

    seconds: float
    max_rss_mib: float


def run(cmd: Sequence[str], env: dict[str, str], log: Path, cwd: Path) -> Sample:
    """Run `cmd` to completion, timing it and reading its peak RSS from `wait4`.

    `wait4` returns the rusage of exactly this child (and of the grandchildren it waited for), so
    no accounting is mixed up between runs, unlike `RUSAGE_CHILDREN` of this process.
    """
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("ab") as out:
        out.write(f"\n$ {' '.join(cmd)}\n".encode())
        out.flush()
        start = time.perf_counter()
        proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT, env=env, cwd=cwd)
        _, status, usage = os.wait4(proc.pid, 0)
        elapsed = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)  # reaped here: Popen must not wait again
    if proc.returncode != 0:
        tail = "\n".join(log.read_text(errors="replace").splitlines()[-15:])
        raise BenchError(f"{Path(cmd[0]).name} exited with {proc.returncode} (log: {log}):\n{tail}")
    return Sample(elapsed, usage.ru_maxrss / 1024)  # ru_maxrss is in KiB on Linux


def remove(path: Path) -> None:
    """Delete a directory tree if it exists (untimed housekeeping between runs)."""
    if path.exists():
        shutil.rmtree(path)


def install(setup: Setup, tool: Tool, target: Path) -> Sample:
    """Run one install of `tool` into `target`."""
    return run(command(setup, tool, target), tool_env(tool.kind), setup.log(tool), setup.scratch)


Results = dict[tuple[str, Tool], list[Sample]]


def measure(setup: Setup, scenario: str, tools: Sequence[Tool], runs: int, results: Results) -> None:
    """Time `runs` rounds of `scenario`; each round runs every tool once, in turn.

    The preconditions are made untimed before each run: warm removes the target, cold also
    removes the cache, noop leaves the target from the install check in place.
    """
    tools = [tool for tool in tools if not (scenario == "noop" and tool.kind == "pip")]  # pip has no no-op
    for round_no in range(1, runs + 1):
        for tool in tools:
            purpose = "check" if scenario == "noop" else "timed"
            target = setup.target(tool, purpose)
            if scenario != "noop":
                remove(target)
            if scenario == "cold":
                remove(setup.cache(tool))
            sample = install(setup, tool, target)
            results.setdefault((scenario, tool), []).append(sample)
            print(
                f"  {scenario:<5} {round_no}/{runs}  {tool.label:<18} {sample.seconds:7.2f} s"
                f"  {sample.max_rss_mib:6.0f} MiB",
                flush=True,
            )
    for tool in tools:
        remove(setup.target(tool, "timed"))  # a GB each: do not leave them behind


# --------------------------------------------------------------------------- checking what was installed


@dataclass(frozen=True)
class Tree:
    """What one tool installed: distributions, files, bytes, and how many files are hardlinks."""

    dists: frozenset[str]
    files: int
    size: int
    linked: int
    fell_back: bool  # the tool said it could not link and copied instead


def normalize_dist(dist_info: str) -> str:
    """`Foo_Bar-1.0.dist-info` -> `foo-bar==1.0` (PEP 503 name, so installers' spellings compare)."""
    name, _, version = dist_info.removesuffix(".dist-info").partition("-")
    return f"{re.sub(r'[-_.]+', '-', name).lower()}=={version}"


def inspect_tree(target: Path, log: Path) -> Tree:
    """Count the distributions and files in a target, and spot silent link-mode fallbacks."""
    dists = frozenset(normalize_dist(p.name) for p in target.glob("*.dist-info"))
    files = size = linked = 0
    for root, _dirs, names in os.walk(target):
        for name in names:
            st = Path(root, name).lstat()
            files += 1
            size += st.st_size
            linked += st.st_nlink > 1
    fell_back = "falling back" in log.read_text(errors="replace").lower()
    return Tree(dists, files, size, linked, fell_back)


def install_check(setup: Setup, tools: Sequence[Tool]) -> dict[Tool, Tree]:
    """Install once with every tool (untimed), then compare what they installed.

    This also fills every cache (the warm scenario's precondition) and leaves the synced targets
    that the noop scenario re-syncs.
    """
    trees = {}
    for tool in tools:
        target = setup.target(tool, "check")
        remove(target)
        sample = install(setup, tool, target)
        trees[tool] = inspect_tree(target, setup.log(tool))
        print(f"  check       {tool.label:<18} {sample.seconds:7.2f} s  {len(trees[tool].dists)} distributions")
    return trees


def describe_check(trees: dict[Tool, Tree]) -> list[str]:
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
    for tool, tree in trees.items():
        note = " (said it fell back to copying)" if tree.fell_back else ""
        lines.append(
            f"| {tool.label} | {len(tree.dists)} | {tree.files} | {tree.size / MIB:.0f} | {tree.linked}{note} |"
        )
    if not same:
        for tool, tree in trees.items():
            extra, missing = sorted(tree.dists - reference), sorted(reference - tree.dists)
            if extra or missing:
                lines.append(f"- {tool.label}: extra {extra}, missing {missing}")
    return lines


# --------------------------------------------------------------------------- preparing the machine


def tool_output(cmd: Sequence[str], env: dict[str, str] | None = None) -> str:
    """Run a quick informational command and return its stripped stdout."""
    return subprocess.run(cmd, capture_output=True, text=True, check=True, env=env).stdout.strip()


def uvroot_has_link_mode() -> bool:
    """Whether this uvroot has `--link-mode` yet (it is being added; fall back to its default until then)."""
    env = {**os.environ, "COLUMNS": "200"}  # typer's rich help wraps: keep the flag on one line
    return "--link-mode" in tool_output([str(BIN / "uvroot"), "sync", "--help"], env)


def prepare_pip(scratch: Path) -> Path:
    """A scratch venv with the latest pip, built from this interpreter (so pip runs the target's Python)."""
    venv = scratch / "pip-venv"
    python = venv / "bin" / "python"
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    upgrade = [str(python), "-m", "pip", "install", "--quiet", "--upgrade", "pip"]
    subprocess.run(upgrade, check=True, env=tool_env("pip"))
    return python


def relock() -> None:
    """Re-resolve the benchmark project to today's latest versions (changes the committed uv.lock)."""
    cmd = [str(BIN / "uv"), "lock", "--upgrade", "--no-config", "--project", str(PROJECT)]
    subprocess.run(cmd, check=True, env=tool_env("uv"))


def export_requirements(scratch: Path) -> Path:
    """The lock's non-dev packages as hashed pins: what uv and pip install (uvroot reads uv.lock)."""
    out = scratch / "requirements.txt"
    cmd = [str(BIN / "uv"), "export", "--no-config", "--project", str(PROJECT), "--frozen", "--no-emit-project"]
    cmd += ["--no-dev", "--format", "requirements.txt", "--quiet", "--output-file", str(out)]
    subprocess.run(cmd, check=True, env=tool_env("uv"))
    return out


# --------------------------------------------------------------------------- machine facts


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
    commit = tool_output(["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"])
    dirty = tool_output(["git", "-C", str(REPO), "status", "--porcelain", "--", "uvroot"])
    return f"{commit}{' + uncommitted changes in uvroot/' if dirty else ''}"


def locked_packages() -> int:
    """How many packages uv.lock holds (all forks and platforms, the virtual project included)."""
    return sum(line == "[[package]]" for line in (PROJECT / "uv.lock").read_text().splitlines())


def machine_facts(setup: Setup) -> list[tuple[str, str]]:
    """The facts printed above the numbers, so a result can be told apart from another machine's.

    Taken before the timing starts: uvroot is installed editable and may change during a long run.
    """
    mem_kib = int(re.findall(r"MemTotal:\s+(\d+)", Path("/proc/meminfo").read_text())[0])
    return [
        ("CPU", f"{cpu_model()}, nproc {os.cpu_count()}, {mem_kib / 1024 / 1024:.1f} GiB RAM"),
        ("OS", f"{platform.system()} {platform.release()}"),
        ("scratch", f"{setup.scratch} on {filesystem(setup.scratch)}"),
        ("target", f"{UV_PLATFORM}, Python {setup.python_version} (this interpreter)"),
        ("uvroot", f"{tool_output([str(BIN / 'uvroot'), '--version'])}, commit {git_describe()}"),
        ("uv", tool_output([str(BIN / "uv"), "--version"])),
        ("pip", tool_output([str(setup.pip_python), "-m", "pip", "--version"]).split(" from ")[0]),
        ("python", f"{platform.python_implementation()} {platform.python_version()}"),
    ]


def run_facts(trees: dict[Tool, Tree], load_at_start: float) -> list[tuple[str, str]]:
    """What was installed, and how busy the machine was (other work explains noisy numbers)."""
    tree = next(iter(trees.values()))
    load = f"1-min load average {load_at_start:.2f} before the bench, {os.getloadavg()[0]:.2f} at the end"
    return [
        ("lock", f"{locked_packages()} packages in bench/project/uv.lock, {len(tree.dists)} installed"),
        ("installed", f"{tree.files} files, {tree.size / MIB:.0f} MiB (uvroot's tree)"),
        ("load", load),
    ]


def busy_warning(load_at_start: float) -> str:
    """A warning for the report when something else was using the CPUs as the bench started."""
    cpus = os.cpu_count() or 1
    if load_at_start < 0.5 * cpus:
        return ""
    return (
        f"**The machine was busy** (load {load_at_start:.2f} on {cpus} CPUs before the bench started): "
        "the medians include that contention; the min column is closer to an idle machine."
    )


# --------------------------------------------------------------------------- report


@dataclass(frozen=True)
class Stats:
    """Summary of one row's samples."""

    median: float
    minimum: float
    peak_rss: float
    runs: int


def stats(samples: Sequence[Sample]) -> Stats:
    """Median and minimum wall time, and the highest peak RSS of any run."""
    times = [s.seconds for s in samples]
    return Stats(statistics.median(times), min(times), max(s.max_rss_mib for s in samples), len(samples))


def uv_peers(tool: Tool) -> list[Tool]:
    """The uv rows a uvroot row is compared with: the same link mode, or both while uvroot has none."""
    return [Tool("uv", tool.link_mode)] if tool.link_mode else [Tool("uv", mode) for mode in LINK_MODES]


def ratio(numerator: Stats | None, denominator: Stats | None) -> float | None:
    """Ratio of two medians, or None when either side was not measured."""
    if numerator is None or denominator is None:
        return None
    return numerator.median / denominator.median


def fmt_ratio(value: float | None) -> str:
    """`1.23x`, or `n/a`."""
    return "n/a" if value is None else f"{value:.2f}x"


def table(summary: dict[tuple[str, Tool], Stats], tools: Sequence[Tool], scenarios: Iterable[str]) -> list[str]:
    """The times table: one row per scenario and tool, ratios on uvroot's rows."""
    lines = [
        "| scenario | tool | median s | min s | runs | peak RSS MiB | uvroot / uv (same link mode) | pip / uvroot |",
        "|---|---|---:|---:|---:|---:|---|---:|",
    ]
    for scenario in scenarios:
        for tool in tools:
            row = summary.get((scenario, tool))
            if row is None:
                lines.append(f"| {scenario} | {tool.label} | n/a | n/a | 0 | n/a | | |")  # pip's no-op
                continue
            vs_uv = vs_pip = ""
            if tool.kind == "uvroot":
                peers = [(peer, ratio(row, summary.get((scenario, peer)))) for peer in uv_peers(tool)]
                vs_uv = ", ".join(f"{fmt_ratio(r)} vs {peer.label}" for peer, r in peers)
                vs_pip = fmt_ratio(ratio(summary.get((scenario, Tool("pip"))), row))
            lines.append(
                f"| {scenario} | {tool.label} | {row.median:.2f} | {row.minimum:.2f} | {row.runs}"
                f" | {row.peak_rss:.0f} | {vs_uv} | {vs_pip} |"
            )
    return lines


@dataclass(frozen=True)
class Verdict:
    """One goal from the issue, what was measured, and whether it is met (None: not measured)."""

    goal: str
    measured: str
    met: bool | None


def uvroot_rows(summary: dict[tuple[str, Tool], Stats], scenario: str) -> list[tuple[Tool, Stats]]:
    """The uvroot rows of one scenario."""
    return [(tool, row) for (name, tool), row in summary.items() if name == scenario and tool.kind == "uvroot"]


def ratio_goal(summary: dict[tuple[str, Tool], Stats], scenario: str, mode: str, limit: float) -> Verdict:
    """The goal that uvroot / uv in one link mode is at most `limit` (uvroot without link modes: its default)."""
    goal = f"{scenario} sync <= {limit}x uv ({mode})"
    uv_row = summary.get((scenario, Tool("uv", mode)))
    mine = [(tool, row) for tool, row in uvroot_rows(summary, scenario) if tool.link_mode in (mode, None)]
    if uv_row is None or not mine:
        return Verdict(goal, "not measured", None)
    tool, row = mine[0]
    value = row.median / uv_row.median
    return Verdict(goal, f"{value:.2f}x ({tool.label} {row.median:.2f} s / {uv_row.median:.2f} s)", value <= limit)


def goals(summary: dict[tuple[str, Tool], Stats]) -> list[Verdict]:
    """The issue's targets, each with the measured value and met / not met."""
    verdicts = [ratio_goal(summary, "warm", mode, 1.0) for mode in LINK_MODES]
    pip_row = summary.get(("warm", Tool("pip")))
    speedups = [(tool, ratio(pip_row, row)) for tool, row in uvroot_rows(summary, "warm")]
    measured = [(tool, value) for tool, value in speedups if value is not None]
    verdicts.append(
        Verdict(
            "warm sync >= 4x faster than pip",
            ", ".join(f"{value:.2f}x ({tool.label})" for tool, value in measured) or "not measured",
            all(value >= 4 for _, value in measured) if measured else None,
        )
    )
    noop = uvroot_rows(summary, "noop")
    verdicts.append(
        Verdict(
            "no-op re-sync < 0.3 s",
            ", ".join(f"{row.median:.2f} s ({tool.label})" for tool, row in noop) or "not measured",
            all(row.median < 0.3 for _, row in noop) if noop else None,
        )
    )
    verdicts += [ratio_goal(summary, "cold", mode, 1.2) for mode in LINK_MODES]
    peaks = [row.peak_rss for (_, tool), row in summary.items() if tool.kind == "uvroot"]
    verdicts.append(
        Verdict(
            "peak memory < 200 MiB",
            f"{max(peaks):.0f} MiB (highest uvroot run, all scenarios)" if peaks else "not measured",
            max(peaks) < 200 if peaks else None,
        )
    )
    return verdicts


def goals_table(verdicts: Sequence[Verdict]) -> list[str]:
    """The goals as a markdown table."""
    marks = {True: "met", False: "**not met**", None: "not measured"}
    lines = ["| goal (from the issue) | measured (medians) | |", "|---|---|---|"]
    return lines + [f"| {v.goal} | {v.measured} | {marks[v.met]} |" for v in verdicts]


METHOD = """\
How it was measured:
- Each number is the wall time of one complete command (process start to exit); median and minimum
  over the runs, tools interleaved round by round. Peak RSS is `ru_maxrss` from `wait4` on that one
  child (it includes any grandchildren it waited for); the column shows the highest run.
- uvroot reads `bench/project/uv.lock`; uv and pip get the same pins with hashes from
  `uv export --frozen --no-emit-project --no-dev` and install them with `--no-deps`.  All three
  verify the sha256 of every wheel.  pip runs with `--no-compile` because uvroot and uv write no
  bytecode; pip gets every `manylinux_2_5..2_28` tag with `--platform` (it does not widen one tag).
- Every tool has its own cache under the scratch directory, on the same filesystem as the targets
  (so hardlinks never fall back to copies; the install check counts linked files to prove it).
  uv and pip run without the machine's configuration (`UV_*`/`PIP_*` removed, `uv --no-config`,
  `PIP_CONFIG_FILE=/dev/null`).  uv's own default link mode on Linux is `hardlink`.
- The target Python is this interpreter's full version, so lock forks such as
  `python_full_version >= '3.11.5'` select the same packages in all three (pip evaluates markers
  with the interpreter it runs on).
- warm: the cache already holds every wheel (and uv/pip their cached index pages), the target
  is a new directory; the page cache is hot.  cold: the tool's cache is deleted before each run, so
  every wheel comes from PyPI (network variance shows in min vs median).  noop: the target synced
  by the install check is synced again; pip has no no-op, so it has no row.
"""


def report(
    started: dt.datetime,
    duration: float,
    facts: list[tuple[str, str]],
    check: list[str],
    times: list[str],
    verdicts: list[str],
    quick: bool,
    notes: str,
    invocation: str,
) -> str:
    """The whole report as markdown (the same text is printed and written to RESULTS.md)."""
    title = "# uvroot benchmark" + (" (--quick: one run each, a smoke test)" if quick else "")
    parts = [
        title,
        "",
        f"Run {started:%Y-%m-%d %H:%M} UTC, took {duration / 60:.1f} min: `{invocation}`.",
        "",
        *(f"- {key}: {value}" for key, value in facts),
        "",
        "## Goals",
        "",
        *verdicts,
        "",
        "## Times",
        "",
        *times,
        "",
        notes,
        "",
        "## Install check",
        "",
        *check,
        "",
        "## Method",
        "",
        METHOD,
    ]
    return "\n".join(parts)


# --------------------------------------------------------------------------- main


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--runs", type=int, help="runs per scenario (default: warm 5, cold 3, noop 5)")
    parser.add_argument("--scenarios", default=",".join(SCENARIOS), help="comma-separated: warm,cold,noop")
    parser.add_argument("--quick", action="store_true", help="one run of each scenario (smoke test)")
    parser.add_argument("--scratch", type=Path, default=HERE / "work", help="caches, targets, logs, pip venv")
    parser.add_argument("--output", type=Path, help="report file (default: bench/RESULTS.md; --quick: in scratch)")
    parser.add_argument("--relock", action="store_true", help="re-run `uv lock --upgrade` first (changes uv.lock)")
    args = parser.parse_args(argv)
    args.scenarios = [s.strip() for s in args.scenarios.split(",") if s.strip()]
    unknown = sorted(set(args.scenarios) - set(SCENARIOS))
    if unknown or not args.scenarios:
        parser.error(f"--scenarios takes {','.join(SCENARIOS)} (got {unknown or 'nothing'})")
    if args.runs is not None and args.runs < 1:
        parser.error("--runs must be at least 1")
    return args


def runs_for(scenario: str, args: argparse.Namespace) -> int:
    """How many timed runs a scenario gets."""
    if args.quick:
        return 1
    return int(args.runs) if args.runs else DEFAULT_RUNS[scenario]


def main(argv: Sequence[str] | None = None) -> int:
    """Prepare, check, time every scenario, print the report and write it."""
    args = parse_args(argv)
    started, clock, load_at_start = dt.datetime.now(dt.timezone.utc), time.perf_counter(), os.getloadavg()[0]
    scratch: Path = args.scratch.resolve()
    scratch.mkdir(parents=True, exist_ok=True)
    remove(scratch / "logs")
    if args.relock:
        relock()
    print(f"preparing in {scratch} (latest pip, requirements export) ...", flush=True)
    setup = Setup(
        scratch=scratch,
        python_version=platform.python_version(),
        requirements=export_requirements(scratch),
        pip_python=prepare_pip(scratch),
        uvroot_has_link_mode=uvroot_has_link_mode(),
    )
    tools = tools_to_compare(setup.uvroot_has_link_mode)
    facts = machine_facts(setup)
    print("install check (untimed; also fills every cache):", flush=True)
    trees = install_check(setup, tools)
    results: Results = {}
    # noop first: it re-syncs the check targets while every cache is full; cold last leaves them full.
    for scenario in sorted(args.scenarios, key=("noop", "warm", "cold").index):
        print(f"{scenario} ({time.perf_counter() - clock:.0f} s into the bench):", flush=True)
        measure(setup, scenario, tools, runs_for(scenario, args), results)
    remove(scratch / "targets")
    summary = {key: stats(samples) for key, samples in results.items()}
    order = [s for s in SCENARIOS if s in args.scenarios]
    link_mode_note = (
        "uvroot ran with `--link-mode copy` and `--link-mode hardlink`, each compared with uv in the same mode."
        if setup.uvroot_has_link_mode
        else "This uvroot has no `--link-mode` yet: its one row (its default) is compared with both uv modes."
    )
    text = report(
        started,
        time.perf_counter() - clock,
        facts + run_facts(trees, load_at_start),
        describe_check(trees),
        table(summary, tools, order),
        goals_table(goals(summary)),
        args.quick,
        "\n\n".join(note for note in (busy_warning(load_at_start), link_mode_note) if note),
        " ".join(["bench/bench.py", *(sys.argv[1:] if argv is None else argv)]),
    )
    output: Path = args.output or (scratch / "RESULTS-quick.md" if args.quick else HERE / "RESULTS.md")
    output.write_text(text)
    print("\n" + text + f"\n(written to {output})")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except BenchError as exc:
        sys.exit(f"bench: {exc}")
