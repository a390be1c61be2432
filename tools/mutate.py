"""Mutation testing of uvroot's core modules with mutmut, one module at a time (`make mutate [M=uvroot/plan.py]`).

Each module gets its own mutmut work directory, build/mutate/<module>/, holding a pyproject.toml
that tells mutmut to mutate that module only and to run the tests that exercise it (MODULES
below): the whole suite takes minutes and most of it never reaches a given module.  mutmut keeps
its results there (mutants/), so a second run tests only the mutants of functions that changed.
Prints killed/survived per module and the surviving mutants' names (`mutmut show NAME` in the
work directory shows one).  Not part of `make test` or CI: it takes minutes to hours.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
WORK = REPO / "build" / "mutate"

# module -> the test files that exercise it (fast ones: every mutant runs the tests covering its function).
MODULES: dict[str, list[str]] = {
    "uvroot/target.py": ["tests/test_target.py"],
    "uvroot/lock.py": ["tests/test_lock.py", "tests/test_dropin_errors.py", "tests/test_errors.py"],
    "uvroot/plan.py": ["tests/test_conflicts.py", "tests/test_plan_json.py"],
    "uvroot/layout.py": ["tests/test_layout_plan.py", "tests/test_layouts.py", "tests/test_record.py"],
    "uvroot/txn.py": ["tests/test_txn.py", "tests/test_state.py"],
    "uvroot/state.py": [
        "tests/test_state.py",
        "tests/test_hostile.py",
        "tests/test_resync.py",
        "tests/test_layouts.py",
    ],
    "uvroot/tree.py": ["tests/test_resync.py", "tests/test_record.py"],
    "uvroot/cache.py": ["tests/test_cache.py"],
    "uvroot/fetch.py": ["tests/test_faults.py"],
    "uvroot/cpus.py": ["tests/test_cpus.py"],
    "uvroot/unpack.py": ["tests/test_cache.py", "tests/test_hostile.py"],
}

# mutmut's exit-code classes (mutmut/__main__.py: status_by_exit_code).
KILLED = {"killed", "timeout", "segfault", "caught by type check"}


def main(argv: list[str]) -> int:
    """Mutate each module named (default: every one), print the figures; 1 if mutmut met errors."""
    modules = argv or list(MODULES)
    unknown = [module for module in modules if module not in MODULES]
    if unknown:
        print(f"unknown module(s) {unknown}: choose from {', '.join(MODULES)}", file=sys.stderr)
        return 2
    figures = {module: run(module) for module in modules}
    print("\nmodule                  killed  survived  other  score")
    failed = False
    for module, counts in figures.items():
        killed, survived = counts.get("killed", 0), counts.get("survived", 0)
        other = sum(counts.values()) - killed - survived
        score = f"{100 * killed / (killed + survived):.0f}%" if killed + survived else "-"
        print(f"{module:<22} {killed:>7} {survived:>9} {other:>6}  {score:>5}")
        failed |= counts.get("error", 0) > 0
    return 1 if failed else 0


def run(module: str) -> dict[str, int]:
    """Run mutmut over ``module`` in its own work directory; return counts by verdict."""
    work = WORK / Path(module).stem
    work.mkdir(parents=True, exist_ok=True)
    for name in ("uvroot", "tests"):
        link = work / name
        if link.is_symlink() and link.readlink() != REPO / name:
            link.unlink()  # results copied from another checkout: test this one
        if not link.is_symlink():
            if link.exists():
                shutil.rmtree(link)
            link.symlink_to(REPO / name, target_is_directory=True)
    pyproject = (REPO / "pyproject.toml").read_text(encoding="utf-8")
    tests = json.dumps(MODULES[module])
    config = (
        f"{pyproject}\n[tool.mutmut]\n"
        'source_paths = ["uvroot"]\n'
        f'only_mutate = ["{module}"]\n'
        f"pytest_add_cli_args_test_selection = {tests}\n"
        'pytest_add_cli_args = ["-p", "no:cacheprovider", "-q"]\n'
        "use_git_change_detection = false\n"
    )
    (work / "pyproject.toml").write_text(config, encoding="utf-8")
    print(f"=== {module}: mutants tested with {' '.join(MODULES[module])}", flush=True)
    env = {**os.environ, "CI": "1"}
    mutmut = [sys.executable, "-m", "mutmut"]
    jobs = ["--max-children", os.environ.get("MUTATE_JOBS", "2")]
    # mutmut re-tests a mutant only when its function changed; one that survived earlier tests (or
    # that no test reached) is tested again by name first, so a new test that kills it counts (and when
    # a changed test selection makes mutmut start over, the full run that follows skips the ones just tested).
    earlier = [name for name, verdict in _results(work, env) if verdict in ("survived", "no tests")]
    if earlier:
        subprocess.run([*mutmut, "run", *jobs, *earlier], cwd=work, env=env, check=False)
    subprocess.run([*mutmut, "run", *jobs], cwd=work, env=env, check=False)
    counts: dict[str, int] = {}
    survivors = []
    for name, verdict in _results(work, env):
        key = "killed" if verdict in KILLED else verdict
        counts[key] = counts.get(key, 0) + 1
        if verdict == "survived":
            survivors.append(name)
    for name in survivors:
        print(f"  survived: {name}")
    print(f"=== {module}: {counts}", flush=True)
    return counts


def _results(work: Path, env: dict[str, str]) -> list[tuple[str, str]]:
    """(mutant, verdict) for every mutant mutmut has a result for in ``work``."""
    if not (work / "mutants").is_dir():
        return []
    listed = subprocess.run(
        [sys.executable, "-m", "mutmut", "results", "--all", "true"],
        cwd=work,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    ).stdout
    found = []
    for line in listed.splitlines():
        name, _, verdict = line.strip().rpartition(": ")
        if name:
            found.append((name, verdict))
    return found


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
