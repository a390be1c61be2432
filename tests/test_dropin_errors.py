"""Never surprise the build machine, never a traceback: one `error:` and one `hint:`, the right exit code."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
import typer

from tests.support.cli import uvroot, uvroot_argv
from uvroot.cli import app


@pytest.fixture
def project(make_locked_project: Callable[..., Path]) -> Path:
    return make_locked_project(dependencies=["alpha"])


def _clean(result: object, code: int, *needles: str) -> None:
    output = result.output  # type: ignore[attr-defined]
    assert result.exit_code == code, output  # type: ignore[attr-defined]
    assert "Traceback" not in output
    assert output.count("error: ") == 1 and "hint: " in output, output
    for needle in needles:
        assert needle in output, output


def test_layout_without_root_is_refused_unless_root_is_explicit(project: Path, tmp_path: Path) -> None:
    result = uvroot("sync", "--project", project, "--layout", "debian")
    _clean(result, 2, "--layout debian lays out an image's Python and needs --root", "--root /")
    assert uvroot("plan", "--project", project, "--layout", "debian", "--root", "/").exit_code == 0
    assert uvroot("plan", "--project", project, "--layout", "alpine", "--root", tmp_path / "r").exit_code == 0


@pytest.mark.parametrize("flag", ["--root", "--venv", "--prefix"])
def test_a_file_in_the_way_of_the_tree(project: Path, tmp_path: Path, flag: str) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    _clean(uvroot("sync", "--project", project, flag, blocker), 2, f"{flag} {blocker} is a file")
    under = blocker / "tree"
    _clean(uvroot("sync", "--project", project, flag, under), 2, f"is under {blocker}, which is a file")
    assert blocker.read_text() == "not a directory"


@pytest.mark.parametrize(
    ("args", "env", "needle"),
    [
        (["--retries", "-1"], {}, "--retries -1 is negative"),
        ([], {"UVROOT_HTTP_TIMEOUT": "soon"}, "UVROOT_HTTP_TIMEOUT='soon' is not a number of seconds"),
        ([], {"UV_HTTP_RETRIES": "many"}, "'many' is not a valid int"),
        (["--link-mode", "teleport"], {}, "--link-mode 'teleport' is not one of"),
        (["--bogus"], {}, "No such option: --bogus"),
        (["--extra"], {}, "Option '--extra' requires an argument"),
    ],
)
def test_bad_flags_and_variables_are_usage_errors(
    project: Path, tmp_path: Path, args: list[str], env: dict[str, str], needle: str
) -> None:
    _clean(uvroot("sync", "--project", project, "--root", tmp_path / "r", *args, env=env), 2, needle)


def test_an_unwritable_report_directory_is_refused_before_staging(project: Path, tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    result = uvroot("sync", "--project", project, "--root", tmp_path / "r", "--report", blocker / "report.json")
    _clean(result, 2, f"--report {blocker / 'report.json'}", "is a file, not a directory")
    assert not (tmp_path / "r").exists()
    nowhere = Path("/proc/uvroot-no-such-dir/report.json")  # not creatable, even for root
    result = uvroot("sync", "--project", project, "--root", tmp_path / "r2", "--report", nowhere)
    _clean(result, 2, f"cannot write --report {nowhere}")


@pytest.mark.parametrize("name", ["pyproject.toml", "uv.lock"])
def test_deeply_nested_toml_is_a_clean_error(project: Path, tmp_path: Path, name: str) -> None:
    (project / name).write_text("a = " + "[" * 100_000 + "]" * 100_000 + "\n")
    result = uvroot("plan", "--project", project, "--root", tmp_path / "r")
    _clean(result, 3, f"{project / name} is nested too deeply to read")


def test_one_package_is_singular(make_locked_project: Callable[..., Path], tmp_path: Path) -> None:
    project = make_locked_project(dependencies=["devtool"])
    first = uvroot("sync", "--project", project, "--root", tmp_path / "r")
    assert first.exit_code == 0 and "staged 1 package (" in first.output, first.output
    again = uvroot("sync", "--project", project, "--root", tmp_path / "r")
    assert "is up to date (1 package for" in again.output, again.output
    check = uvroot("check", "--project", project)
    assert ": 1 package (1 from wheels)" in check.output, check.output


def test_usage_errors_from_a_real_process_are_uvroots_style() -> None:
    done = subprocess.run(
        [*uvroot_argv("plan", "--no-such-flag")], capture_output=True, text=True, check=False, timeout=120
    )
    assert done.returncode == 2
    assert done.stderr.startswith("error: No such option: --no-such-flag"), done.stderr
    assert "hint: see `" in done.stderr and "Traceback" not in done.stderr and "╭" not in done.stderr


def test_every_option_of_every_command_has_help() -> None:
    group = typer.main.get_command(app)
    for name, command in group.commands.items():  # type: ignore[attr-defined]
        for parameter in command.params:
            if parameter.param_type_name == "option" and not parameter.hidden:
                assert parameter.help, f"uvroot {name} {parameter.opts[0]} has no help"
    help_text = subprocess.run(
        [sys.executable, "-m", "uvroot", "sync", "-h"], capture_output=True, text=True, check=True
    ).stdout
    assert "--python-platform" in help_text and "aarch64-unknown-linux-musl" in help_text


UV_PLATFORMS = [
    "windows",
    "linux",
    "macos",
    "x86_64-pc-windows-msvc",
    "aarch64-pc-windows-msvc",
    "i686-pc-windows-msvc",
    "x86_64-unknown-linux-gnu",
    "aarch64-apple-darwin",
    "x86_64-apple-darwin",
    "aarch64-unknown-linux-gnu",
    "aarch64-unknown-linux-musl",
    "x86_64-unknown-linux-musl",
    "riscv64-unknown-linux",
    "x86_64-manylinux2014",
    "x86_64-manylinux_2_17",
    "x86_64-manylinux_2_28",
    "x86_64-manylinux_2_31",
    "x86_64-manylinux_2_40",
    "aarch64-manylinux2014",
    "aarch64-manylinux_2_17",
    "aarch64-manylinux_2_28",
    "aarch64-manylinux_2_40",
    "aarch64-linux-android",
    "x86_64-linux-android",
    "wasm32-pyodide2024",
    "wasm32-pyodide2025",
    "arm64-apple-ios",
    "arm64-apple-ios-simulator",
    "x86_64-apple-ios-simulator",
]


def test_every_uv_python_platform_is_staged_or_refused_naming_why(project: Path) -> None:
    # uv 0.13.9's list (`uv pip install --python-platform` possible values)
    for value in UV_PLATFORMS:
        result = uvroot("check", "--project", project, "--python-platform", value, "--python-version", "3.12")
        if "android" in value or "pyodide" in value or "ios" in value:
            _clean(result, 3, f"--python-platform {value} is a uv platform, but")
        else:
            assert result.exit_code == 0, (value, result.output)


def test_a_venv_without_root_runs_on_this_machines_interpreter(project: Path, tmp_path: Path) -> None:
    venv = tmp_path / "env"
    result = uvroot("sync", "--project", project, "--venv", venv)
    assert result.exit_code == 0, result.output
    python = (venv / "bin" / "python").readlink()
    assert python.is_file(), python  # not /usr/local/bin/pythonX.Y, which this machine may not have
    done = subprocess.run(
        [venv / "bin" / "python", "-c", "import sys, alpha; print(sys.prefix)"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0 and done.stdout.strip() == str(venv), done.stderr
