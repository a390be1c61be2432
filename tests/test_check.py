"""`uvroot check`: does the lock stage for a target?  Every offender is named, and the pre-commit hook runs it.

Locks are genuine (uv against the local index).  `linuxbin` has x86_64 Linux
wheels only, so an aarch64 target has an offender; `sdistonly` has only a
pure-Python sdist, which builds into a wheel for any target and passes (sdists
with native code: tests/test_dropin_refusals.py).
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.support.cli import uvroot

REPO = Path(__file__).resolve().parent.parent
HOST_PYTHON = f"{sys.version_info[0]}.{sys.version_info[1]}"
MUSL = ["--python-platform", "aarch64-unknown-linux-musl", "--python-version", "3.12"]


def test_a_target_with_wheels_for_everything_passes(make_locked_project: Callable[..., Path]) -> None:
    project = make_locked_project(dependencies=["alpha", "native", "gadgets"], requires_python=">=3.10")
    result = uvroot("check", "--project", project, *MUSL)
    assert result.exit_code == 0, result.output
    assert result.stdout == "uv.lock can be staged for cp312-aarch64-musllinux_1_2: 4 packages (4 from wheels)\n"


def test_every_offender_is_listed_with_why_and_the_wheels_the_lock_has(
    make_locked_project: Callable[..., Path], tmp_path: Path
) -> None:
    project = make_locked_project(dependencies=["alpha", "linuxbin", "sdistonly"], requires_python=">=3.10")
    result = uvroot("check", "--project", project, *MUSL)
    assert result.exit_code == 4, result.output
    lines = result.stderr.splitlines()
    assert lines[0] == (
        "error: uv.lock cannot be staged for cp312-aarch64-musllinux_1_2: 1 package has no wheel that fits it"
    )
    assert lines[1] == (
        "  linuxbin==1.0: no wheel for cp312-aarch64-musllinux_1_2 (tags tried: cp312-cp312-musllinux_1_2_aarch64, "
        f"cp312-cp312-musllinux_1_1_aarch64, cp312-cp312-musllinux_1_0_aarch64, ... {_tag_count()} in all); "
        "wheels in uv.lock: linuxbin-1.0-py3-none-manylinux_2_17_x86_64.manylinux2014_x86_64.whl, "
        "linuxbin-1.0-py3-none-musllinux_1_2_x86_64.whl"
    )
    assert lines[2].startswith("hint: ") and len(lines) == 3
    assert "alpha" not in result.stderr and "sdistonly" not in result.stderr and result.stdout == ""
    # sync stops at the first offender (with the same exit code); check names them all.
    sync = uvroot("sync", "--project", project, "--root", tmp_path / "root", *MUSL)
    assert sync.exit_code == 4 and "linuxbin==1.0 has no wheel" in sync.output and "sdistonly" not in sync.output


def _tag_count() -> int:
    from uvroot.target import Target

    return len(Target.parse("3.12", "aarch64-unknown-linux-musl").tags)


def test_an_sdist_passes_on_this_machine_but_not_with_no_build_or_another_python(
    make_locked_project: Callable[..., Path],
) -> None:
    project = make_locked_project(dependencies=["sdistonly", "alpha"], requires_python=">=3.8")
    here = uvroot("check", "--project", project, "--python-version", HOST_PYTHON)
    assert here.exit_code == 0, here.output
    assert here.stdout.endswith("3 packages (2 from wheels, 1 built from sdists on this machine)\n")
    assert "uv.lock can be staged for cp" in here.stdout
    no_build = uvroot("check", "--project", project, "--no-build")
    assert no_build.exit_code == 4, no_build.output
    assert (
        "  sdistonly==1.0: only an sdist (sdistonly-1.0.tar.gz), and --no-build forbids building it" in no_build.stderr
    )
    other = "3.13" if HOST_PYTHON != "3.13" else "3.12"
    foreign = uvroot("check", "--project", project, "--python-version", other)
    assert foreign.exit_code == 0, foreign.output  # a pure-Python sdist builds into a wheel for any Python


def test_local_sources_are_built_here_and_never_offenders(
    make_locked_project: Callable[..., Path],
) -> None:
    project = make_locked_project(name="shop", dependencies=["alpha"], backend="tinybuild", requires_python=">=3.10")
    result = uvroot("check", "--project", project, *MUSL, "--no-build")
    assert result.exit_code == 0, result.output
    assert "3 packages (2 from wheels, 1 built from local sources on this machine)" in result.stdout
    only_deps = uvroot("check", "--project", project, *MUSL, "--no-install-project", "-q")
    assert only_deps.exit_code == 0 and only_deps.output == ""


def test_check_follows_the_selection_and_needs_no_layout(make_locked_project: Callable[..., Path]) -> None:
    project = make_locked_project(
        dependencies=["alpha"], optional={"x86": ["linuxbin"]}, groups={"dev": ["sdistonly"]}, requires_python=">=3.10"
    )
    assert uvroot("check", "--project", project, *MUSL, "--no-dev").exit_code == 0
    with_dev = uvroot("check", "--project", project, *MUSL, "--no-build")
    assert with_dev.exit_code == 4 and "sdistonly==1.0" in with_dev.stderr and "linuxbin" not in with_dev.stderr
    both = uvroot("check", "--project", project, *MUSL, "--extra", "x86", "--no-build")
    assert both.exit_code == 4 and "2 packages have no wheel" in both.stderr
    assert uvroot("check", "--project", project, *MUSL, "--no-dev", "--extra", "x86").exit_code == 4
    assert uvroot("check", "--project", project, "--root", "/x").exit_code == 2  # no layout flags here


def test_locked_is_honoured(make_locked_project: Callable[..., Path]) -> None:
    project = make_locked_project(dependencies=["alpha"], requires_python=">=3.10")
    pyproject = project / "pyproject.toml"
    pyproject.write_text(pyproject.read_text().replace('dependencies = ["alpha"]', 'dependencies = ["alpha", "beta"]'))
    assert uvroot("check", "--project", project, *MUSL).exit_code == 0  # a stale lock only warns
    stale = uvroot("check", "--project", project, *MUSL, "--locked")
    assert stale.exit_code == 3, stale.output


# -- the pre-commit hook ----------------------------------------------------------


def _hooks() -> list[dict[str, object]]:
    """A tiny reader for .pre-commit-hooks.yaml: a list of flat mappings (scalars, booleans, quoted strings)."""
    hooks: list[dict[str, object]] = []
    for raw in (REPO / ".pre-commit-hooks.yaml").read_text().splitlines():
        line = raw.split(" #", 1)[0].rstrip()
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        if line.startswith("- "):
            hooks.append({})
            line = line[2:]
        key, _, value = line.strip().partition(": ")
        value = value.strip()
        if value[:1] in "'\"" and value[-1:] == value[:1]:
            hooks[-1][key] = value[1:-1].replace("''", "'") if value[0] == "'" else value[1:-1]
        else:
            hooks[-1][key] = {"true": True, "false": False}.get(value, value)
    return hooks


def test_the_pre_commit_hook_runs_uvroot_check(
    make_locked_project: Callable[..., Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    (hook,) = _hooks()
    assert hook["id"] == "uvroot-check" and hook["language"] == "python" and hook["pass_filenames"] is False
    files = re.compile(str(hook["files"]))
    assert all(files.search(path) for path in ("uv.lock", "pyproject.toml", "services/api/uv.lock"))
    assert not any(files.search(path) for path in ("uv.lock.orig", "src/app.py", "my-pyproject.toml"))
    command, *entry_args = str(hook["entry"]).split()
    assert command == "uvroot"
    user_args = ["--python-platform", "aarch64-unknown-linux-musl", "--python-version", "3.12"]  # as README shows

    good = make_locked_project(dependencies=["alpha", "native"], requires_python=">=3.10")
    bad = make_locked_project(dependencies=["alpha", "linuxbin"], requires_python=">=3.10")
    monkeypatch.chdir(good)  # pre-commit runs hooks at the repository's top
    assert uvroot(*entry_args, *user_args).exit_code == 0
    monkeypatch.chdir(bad)
    failed = uvroot(*entry_args, *user_args)
    assert failed.exit_code == 4 and "linuxbin==1.0: no wheel" in failed.stderr


@pytest.mark.network
def test_pre_commit_try_repo_runs_the_hook(make_locked_project: Callable[..., Path], tmp_path: Path) -> None:
    """The real pre-commit installs uvroot from this checkout (from PyPI: flit_core and the dependencies)."""
    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", venv], check=True)
    subprocess.run([venv / "bin/python", "-m", "pip", "install", "-q", "pre-commit"], check=True)
    project = _committed(make_locked_project(dependencies=["alpha"], requires_python=">=3.10"))
    # The checkout as it is now (committed or not: try-repo ignores untracked files), as a repository.
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    )
    snapshot = tmp_path / "uvroot-repo"
    for name in listed.stdout.splitlines():
        if (REPO / name).is_file():
            (snapshot / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO / name, snapshot / name)
    _committed(snapshot)
    run = [venv / "bin/pre-commit", "try-repo", snapshot, "uvroot-check", "--all-files", "--verbose"]
    env = {"PATH": f"{venv / 'bin'}:/usr/bin:/bin", "HOME": str(tmp_path), "PRE_COMMIT_HOME": str(tmp_path / "pc")}
    # The hook's own args come from the user's config; try-repo has none, so the host target is checked: passes.
    done = subprocess.run(run, cwd=project, env=env, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "uv.lock can be staged" in done.stdout


def _committed(directory: Path) -> Path:
    """``directory`` as a git repository with everything in it committed."""
    for argv in (["init", "-q"], ["add", "."], ["-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "x"]):
        subprocess.run(["git", *argv], cwd=directory, check=True)
    return directory
