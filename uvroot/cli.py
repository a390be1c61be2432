"""The ``uvroot`` command: declare flags (uv's names), turn them into options, call the library.

This is the only module that imports typer; it holds no packaging logic.  Each command lists its
options explicitly, from the shared ``Annotated`` aliases below.  A setting shared with ``uv sync``
comes from the flag, else ``UVROOT_<NAME>``, else ``UV_<NAME>`` (the ``envvar`` lists), else the
configuration files (:mod:`uvroot.settings`), else the default.  Printing belongs to
:class:`uvroot.report.Console`.
"""

from __future__ import annotations

import importlib
import os
import sys
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Optional, TypeVar

import typer
from typer.core import TyperGroup

from . import __version__
from .errors import UsageError, UvrootError
from .settings import env_names

if TYPE_CHECKING:
    from .images import Image
    from .interpreter import Interpreter
    from .layout import Layout
    from .report import Console
    from .settings import Config
    from .sync import SyncReport
    from .target import Target

T = TypeVar("T", bound=str)


def _load_click() -> Any:
    # typer >= 0.26 vendors click as typer._click; older releases use click itself.
    try:
        return importlib.import_module("typer._click")
    except ImportError:  # pragma: no cover - older typer
        return importlib.import_module("click")


click = _load_click()


class _Group(TyperGroup):
    """Usage errors (unknown flag, missing value, bad number) in uvroot's ``error:``/``hint:`` style, exit 2."""

    def main(self, *args: Any, **kwargs: Any) -> Any:
        kwargs["standalone_mode"] = False
        try:
            code = super().main(*args, **kwargs)
        except click.exceptions.UsageError as exc:
            if type(exc).__name__ == "NoArgsIsHelpError":  # `uvroot` alone: the help, as before
                sys.stderr.write((exc.ctx.get_help() if exc.ctx else "") + "\n")
                sys.exit(2)
            from .report import Console

            command = exc.ctx.command_path if exc.ctx else "uvroot"
            Console().error(exc.format_message(), f"see `{command} --help`")
            sys.exit(exc.exit_code)
        except typer.Abort:
            sys.stderr.write("Aborted!\n")
            sys.exit(130)
        sys.exit(code if isinstance(code, int) else 0)


app = typer.Typer(
    cls=_Group,
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
    help="Stage a uv.lock into a --root, --target, --prefix or --user layout for any target platform.",
)

_LAYOUT = "Layout (choose one)"
_TARGET = "Target"
_SELECT = "Selection (as uv sync)"
_PROJECT = "Project and configuration (as uv)"
_BUILD = "Wheels and builds (as uv)"
_CACHE = "Cache and network"
_OUTPUT = "Output"


def _env(name: str) -> list[str]:
    return env_names(name)


# -- the options, once each ----------------------------------------------------------------

Root = Annotated[
    Optional[Path],
    typer.Option(
        help="Staging root: the tree `COPY --from=build ROOT /` copies (`--root /`: this machine).",
        rich_help_panel=_LAYOUT,
    ),
]
Prefix = Annotated[
    Optional[str],
    typer.Option(
        help="Install prefix; with --root, a path in the final image (default with --root: /usr/local).",
        rich_help_panel=_LAYOUT,
    ),
]
TargetDir = Annotated[
    Optional[Path],
    typer.Option(
        "--target", "-t", help="A flat import directory (Lambda, zipapps, vendoring).", rich_help_panel=_LAYOUT
    ),
]
User = Annotated[
    bool,
    typer.Option("--user", help="The posix_user scheme (~/.local), under --root if given.", rich_help_panel=_LAYOUT),
]
Shebang = Annotated[
    Optional[str],
    typer.Option(
        help="Interpreter written into scripts (default PREFIX/bin/pythonX.Y; --target: /usr/bin/env pythonX.Y).",
        rich_help_panel=_LAYOUT,
    ),
]
Venv = Annotated[
    Optional[Path],
    typer.Option(
        help="A virtual environment at DIR (with --root: a path in the final image) whose pyvenv.cfg names "
        "--venv-python.",
        rich_help_panel=_LAYOUT,
    ),
]
VenvPython = Annotated[
    Optional[str],
    typer.Option(
        help="The final image's interpreter a --venv runs (default: the --layout's or --python's, else "
        "PREFIX/bin/pythonX.Y).",
        rich_help_panel=_LAYOUT,
    ),
]
LayoutName = Annotated[
    Optional[str],
    typer.Option(
        "--layout",
        help="The system scheme of an image (needs --root; `--root /` for this machine): official (python:X.Y, "
        "/usr/local/lib/pythonX.Y/site-packages), debian (also ubuntu, distroless: "
        "/usr/local/lib/pythonX.Y/dist-packages) or alpine (/usr/lib/pythonX.Y/site-packages).",
        rich_help_panel=_LAYOUT,
    ),
]
Python = Annotated[
    Optional[str],
    typer.Option(
        help="Take the scheme, version and shebang from this interpreter's sysconfig, as pip install --root "
        "would with it.",
        rich_help_panel=_LAYOUT,
    ),
]
SchemePath = Annotated[
    Optional[list[str]],
    typer.Option(
        help="KIND=PATH: put one part of every wheel (purelib, platlib, scripts, headers, data) at PATH (repeatable).",
        rich_help_panel=_LAYOUT,
    ),
]
Relocatable = Annotated[
    bool,
    typer.Option(
        "--relocatable",
        help="As uv's: scripts find their interpreter relative to their own directory (and pyvenv.cfg says "
        "relocatable), so a --venv, or a --prefix holding its Python, still runs after it is moved.",
        rich_help_panel=_LAYOUT,
    ),
]
AllowExisting = Annotated[
    bool,
    typer.Option(
        "--allow-existing",
        rich_help_panel=_LAYOUT,
        help="Replace files in the way that no uvroot distribution owns (default: stop).",
    ),
]
CompileBytecode = Annotated[
    bool,
    typer.Option(
        "--compile-bytecode",
        envvar=_env("COMPILE_BYTECODE"),
        show_envvar=True,
        help="Write hash-based .pyc files, compiled by a CPython of the target's version (found on PATH or "
        "--compile-python); fails rather than compile with another version. Config: compile-bytecode.",
        rich_help_panel=_BUILD,
    ),
]
CompilePython = Annotated[
    Optional[str],
    typer.Option(help="The interpreter that compiles bytecode (must be the target's X.Y).", rich_help_panel=_BUILD),
]
PythonVersion = Annotated[
    Optional[str],
    typer.Option(help="Target Python, X.Y or X.Y.Z (default: this interpreter's).", rich_help_panel=_TARGET),
]
PythonPlatform = Annotated[
    Optional[str],
    typer.Option(
        help="Target platform, as uv's --python-platform: linux, windows, macos, x86_64|aarch64-unknown-linux-gnu, "
        "x86_64|aarch64-unknown-linux-musl, x86_64|aarch64-manylinux_2_17 ... _2_40, *-manylinux2014, "
        "ARCH-musllinux_1_N, x86_64|aarch64-apple-darwin, x86_64|i686|aarch64-pc-windows-msvc "
        "(default: this machine).",
        rich_help_panel=_TARGET,
    ),
]
ImageName = Annotated[
    Optional[str],
    typer.Option(
        "--image",
        help="The final image, e.g. python:3.12-slim, python:3.13-alpine, gcr.io/distroless/python3-debian12, "
        "debian:12, ubuntu:24.04, public.ecr.aws/lambda/python:3.12: sets the Python version, the wheel tags "
        "(its C library) and the layout (`uvroot images` lists them).",
        rich_help_panel=_TARGET,
    ),
]
DockerPlatform = Annotated[
    Optional[str],
    typer.Option(
        "--platform",
        help="With --image: Docker's platform of the final image, linux/amd64, linux/arm64, linux/arm/v7, "
        "linux/386, linux/ppc64le, linux/s390x or linux/riscv64 (default: $TARGETPLATFORM, else this machine).",
        rich_help_panel=_TARGET,
    ),
]
TargetFile = Annotated[
    Optional[Path],
    typer.Option(
        "--target-file",
        metavar="FILE",
        help="Stage for the interpreter FILE describes (from `uvroot target --script` run in the image): its "
        "version, tags, markers and install scheme.",
        rich_help_panel=_TARGET,
    ),
]
ProjectDir = Annotated[
    Optional[Path],
    typer.Option(
        envvar=_env("PROJECT"),
        show_envvar=True,
        help="Where to look for the project: its pyproject.toml here or in a parent directory, uv.lock at its "
        "workspace root (default: the current directory).",
        rich_help_panel=_PROJECT,
    ),
]
Directory = Annotated[
    Optional[Path],
    typer.Option(
        envvar=_env("WORKING_DIR"),
        show_envvar=True,
        help="Change to this directory before doing anything (relative paths in other flags start here).",
        rich_help_panel=_PROJECT,
    ),
]
ConfigFile = Annotated[
    Optional[Path],
    typer.Option(
        envvar=_env("CONFIG_FILE"),
        show_envvar=True,
        help="Read settings from this uv.toml only (no project, user or system configuration).",
        rich_help_panel=_PROJECT,
    ),
]
NoConfig = Annotated[
    bool,
    typer.Option(
        "--no-config",
        envvar=_env("NO_CONFIG"),
        show_envvar=True,
        help="Read no configuration file (uv.toml, [tool.uv] settings).",
        rich_help_panel=_PROJECT,
    ),
]
Locked = Annotated[
    bool,
    typer.Option(
        "--locked",
        envvar=_env("LOCKED"),
        show_envvar=True,
        help="Fail if uv.lock no longer matches pyproject.toml (uv lock --check's verdict).",
        rich_help_panel=_PROJECT,
    ),
]
Frozen = Annotated[
    bool,
    typer.Option(
        "--frozen",
        envvar=_env("FROZEN"),
        show_envvar=True,
        help="Use uv.lock as it is, without checking it against pyproject.toml (uvroot never re-locks).",
        rich_help_panel=_PROJECT,
    ),
]
Names = Annotated[Optional[list[str]], typer.Option(rich_help_panel=_SELECT)]
Extra = Annotated[Optional[list[str]], typer.Option(help="Include this extra (repeatable).", rich_help_panel=_SELECT)]
AllExtras = Annotated[bool, typer.Option("--all-extras", help="Include every extra.", rich_help_panel=_SELECT)]
NoExtra = Annotated[
    Optional[list[str]],
    typer.Option(help="Leave this extra out (with --all-extras; repeatable).", rich_help_panel=_SELECT),
]
Dev = Annotated[
    Optional[bool],
    typer.Option(
        "--dev/--no-dev",
        show_default=False,
        help="Include (or drop) the dev group. --no-dev also from UVROOT_NO_DEV / UV_NO_DEV.",
        rich_help_panel=_SELECT,
    ),
]
OnlyDev = Annotated[
    bool, typer.Option("--only-dev", help="Only the dev group, not the project.", rich_help_panel=_SELECT)
]
Group = Annotated[
    Optional[list[str]], typer.Option(help="Include this dependency group (repeatable).", rich_help_panel=_SELECT)
]
NoGroup = Annotated[
    Optional[list[str]],
    typer.Option(
        envvar=_env("NO_GROUP"),
        show_envvar=True,
        help="Leave this group out, whatever else selects it (repeatable).",
        rich_help_panel=_SELECT,
    ),
]
OnlyGroup = Annotated[
    Optional[list[str]],
    typer.Option(help="Only this group, not the project (repeatable).", rich_help_panel=_SELECT),
]
AllGroups = Annotated[bool, typer.Option("--all-groups", help="Include every group.", rich_help_panel=_SELECT)]
NoDefaultGroups = Annotated[
    bool,
    typer.Option(
        "--no-default-groups",
        envvar=_env("NO_DEFAULT_GROUPS"),
        show_envvar=True,
        help="Leave out tool.uv.default-groups (default: dev).",
        rich_help_panel=_SELECT,
    ),
]
NoInstallProject = Annotated[
    bool,
    typer.Option(
        "--no-install-project",
        envvar=_env("NO_INSTALL_PROJECT"),
        show_envvar=True,
        help="Install the dependencies but not the project itself (needs only pyproject.toml and uv.lock).",
        rich_help_panel=_SELECT,
    ),
]
NoInstallWorkspace = Annotated[
    bool,
    typer.Option(
        "--no-install-workspace",
        envvar=_env("NO_INSTALL_WORKSPACE"),
        show_envvar=True,
        help="Skip every workspace member (their dependencies stay; no member sources needed).",
        rich_help_panel=_SELECT,
    ),
]
NoInstallLocal = Annotated[
    bool,
    typer.Option(
        "--no-install-local",
        envvar=_env("NO_INSTALL_LOCAL"),
        show_envvar=True,
        help="Skip the project, members and path/directory sources.",
        rich_help_panel=_SELECT,
    ),
]
NoInstallPackage = Annotated[
    Optional[list[str]],
    typer.Option(help="Skip this package; its dependencies stay (repeatable).", rich_help_panel=_SELECT),
]
Package = Annotated[
    Optional[str], typer.Option(help="Sync this workspace member instead of the project.", rich_help_panel=_SELECT)
]
AllPackages = Annotated[
    bool, typer.Option("--all-packages", help="Sync every workspace member.", rich_help_panel=_SELECT)
]
NoEditable = Annotated[
    bool,
    typer.Option(
        "--no-editable",
        envvar=_env("NO_EDITABLE"),
        help="Accepted for uv compatibility: uvroot always installs local sources non-editable.",
        rich_help_panel=_SELECT,
    ),
]
BuildFrontend = Annotated[
    Optional[str],
    typer.Option(help="Build sources with uv, build or pip (default: the first installed).", rich_help_panel=_BUILD),
]
NoBuild = Annotated[
    bool,
    typer.Option(
        "--no-build",
        envvar=_env("NO_BUILD"),
        show_envvar=True,
        help="Build no sdist: a package without a wheel for the target fails (config: no-build).",
        rich_help_panel=_BUILD,
    ),
]
NoBuildPackage = Annotated[
    Optional[list[str]],
    typer.Option(
        envvar=_env("NO_BUILD_PACKAGE"),
        show_envvar=True,
        help="Build no sdist of this package (repeatable; config: no-build-package).",
        rich_help_panel=_BUILD,
    ),
]
NoBinary = Annotated[
    bool,
    typer.Option(
        "--no-binary",
        envvar=_env("NO_BINARY"),
        show_envvar=True,
        help="Install no locked wheel: build every registry package from its sdist (config: no-binary).",
        rich_help_panel=_BUILD,
    ),
]
NoBinaryPackage = Annotated[
    Optional[list[str]],
    typer.Option(
        envvar=_env("NO_BINARY_PACKAGE"),
        show_envvar=True,
        help="Build this package from its sdist instead of its wheel (repeatable; config: no-binary-package).",
        rich_help_panel=_BUILD,
    ),
]
LinkMode = Annotated[
    Optional[str],
    typer.Option(
        envvar=_env("LINK_MODE"),
        show_envvar=True,
        rich_help_panel=_CACHE,
        help="How files come from the cache: clone (copy-on-write, else hardlink; the default), hardlink, copy "
        "or symlink; falls back to copy where linking is impossible. Config: link-mode.",
    ),
]
Reinstall = Annotated[bool, typer.Option("--reinstall", help="Place every package again.", rich_help_panel=_CACHE)]
Inexact = Annotated[
    bool,
    typer.Option(
        "--inexact/--exact",
        rich_help_panel=_SELECT,
        help="Keep distributions uvroot installed that the lock no longer selects (uv's --inexact); the default, "
        "--exact, removes them. Distributions uvroot did not install are never removed either way.",
    ),
]
ReinstallPackage = Annotated[
    Optional[list[str]], typer.Option(help="Place this package again (repeatable).", rich_help_panel=_CACHE)
]
Retries = Annotated[
    Optional[int],
    typer.Option(
        envvar=_env("HTTP_RETRIES"),
        show_envvar=True,
        rich_help_panel=_CACHE,
        help="Retries after a transient download failure, 0 or more (default 3; timeout: UVROOT_HTTP_TIMEOUT or "
        "UV_HTTP_TIMEOUT, default 30 s).",
    ),
]
CacheDir = Annotated[
    Optional[Path],
    typer.Option(
        envvar="UVROOT_CACHE_DIR",
        show_envvar=True,
        rich_help_panel=_CACHE,
        help="uvroot's wheel cache (default $XDG_CACHE_HOME/uvroot or ~/.cache/uvroot; not uv's cache, whose "
        "format differs).",
    ),
]
NoCache = Annotated[
    bool,
    typer.Option(
        "--no-cache",
        "-n",
        envvar=_env("NO_CACHE"),
        show_envvar=True,
        help="Use a temporary cache for this run (config: no-cache).",
        rich_help_panel=_CACHE,
    ),
]
Offline = Annotated[
    bool,
    typer.Option(
        "--offline",
        envvar=_env("OFFLINE"),
        show_envvar=True,
        help="Use only the cache; never download (config: offline).",
        rich_help_panel=_CACHE,
    ),
]
Refresh = Annotated[
    bool,
    typer.Option(
        "--refresh",
        help="Re-hash every cache entry uv.lock can use first, evicting damaged ones (as `uvroot cache verify`).",
        rich_help_panel=_CACHE,
    ),
]
DryRun = Annotated[bool, typer.Option("--dry-run", help="Print the plan and write nothing.", rich_help_panel=_OUTPUT)]
Check = Annotated[
    bool,
    typer.Option(
        "--check",
        help="Write nothing; exit 1 if the tree is not in sync with the lock (as uv sync --check).",
        rich_help_panel=_OUTPUT,
    ),
]
Format = Annotated[
    str,
    typer.Option(
        "--format",
        "--output-format",
        help="text, or json: print the machine-readable plan (with --dry-run) or report on stdout.",
        rich_help_panel=_OUTPUT,
    ),
]
Report = Annotated[
    Optional[Path],
    typer.Option(
        "--report",
        metavar="FILE",
        help="Write the JSON report (with --dry-run: the plan) to FILE, outside the staged tree.",
        rich_help_panel=_OUTPUT,
    ),
]
Quiet = Annotated[bool, typer.Option("--quiet", "-q", help="Print only errors.", rich_help_panel=_OUTPUT)]
Verbose = Annotated[
    bool, typer.Option("--verbose", "-v", help="One line per package; tracebacks.", rich_help_panel=_OUTPUT)
]
Color = Annotated[
    str,
    typer.Option(
        help="auto, always or never (as uv). auto: colour on a terminal, off with NO_COLOR, forced with "
        "FORCE_COLOR; never also draws no progress bars.",
        rich_help_panel=_OUTPUT,
    ),
]
NoProgress = Annotated[
    bool,
    typer.Option(
        "--no-progress",
        envvar=_env("NO_PROGRESS"),
        show_envvar=True,
        help="Draw no progress bars.",
        rich_help_panel=_OUTPUT,
    ),
]


def _version(value: bool) -> None:
    if value:
        typer.echo(f"uvroot {__version__}")
        raise typer.Exit


@app.callback()
def _main(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Show the version and exit.")
    ] = False,
) -> None:
    """Stage a uv.lock into a system-like tree, with no virtual environment."""


# -- the commands --------------------------------------------------------------------------


@app.command()
def sync(
    root: Root = None,
    prefix: Prefix = None,
    target: TargetDir = None,
    user: User = False,
    shebang: Shebang = None,
    venv: Venv = None,
    venv_python: VenvPython = None,
    layout: LayoutName = None,
    python: Python = None,
    scheme_path: SchemePath = None,
    relocatable: Relocatable = False,
    allow_existing: AllowExisting = False,
    python_version: PythonVersion = None,
    python_platform: PythonPlatform = None,
    image: ImageName = None,
    platform: DockerPlatform = None,
    target_file: TargetFile = None,
    project: ProjectDir = None,
    directory: Directory = None,
    config_file: ConfigFile = None,
    no_config: NoConfig = False,
    locked: Locked = False,
    frozen: Frozen = False,
    extra: Extra = None,
    all_extras: AllExtras = False,
    no_extra: NoExtra = None,
    dev: Dev = None,
    only_dev: OnlyDev = False,
    group: Group = None,
    no_group: NoGroup = None,
    only_group: OnlyGroup = None,
    all_groups: AllGroups = False,
    no_default_groups: NoDefaultGroups = False,
    no_install_project: NoInstallProject = False,
    no_install_workspace: NoInstallWorkspace = False,
    no_install_local: NoInstallLocal = False,
    no_install_package: NoInstallPackage = None,
    package: Package = None,
    all_packages: AllPackages = False,
    no_editable: NoEditable = False,
    compile_bytecode: CompileBytecode = False,
    compile_python: CompilePython = None,
    build_frontend: BuildFrontend = None,
    no_build: NoBuild = False,
    no_build_package: NoBuildPackage = None,
    no_binary: NoBinary = False,
    no_binary_package: NoBinaryPackage = None,
    link_mode: LinkMode = None,
    reinstall: Reinstall = False,
    reinstall_package: ReinstallPackage = None,
    inexact: Inexact = False,
    retries: Retries = None,
    cache_dir: CacheDir = None,
    no_cache: NoCache = False,
    offline: Offline = False,
    refresh: Refresh = False,
    dry_run: DryRun = False,
    check: Check = False,
    output_format: Format = "text",
    report_file: Report = None,
    quiet: Quiet = False,
    verbose: Verbose = False,
    color: Color = "auto",
    no_progress: NoProgress = False,
) -> None:
    """Make a layout hold exactly the locked wheels for the target Python and platform."""
    _run_sync(_Args(dict(locals())))


@app.command()
def plan(
    root: Root = None,
    prefix: Prefix = None,
    target: TargetDir = None,
    user: User = False,
    shebang: Shebang = None,
    venv: Venv = None,
    venv_python: VenvPython = None,
    layout: LayoutName = None,
    python: Python = None,
    scheme_path: SchemePath = None,
    relocatable: Relocatable = False,
    allow_existing: AllowExisting = False,
    python_version: PythonVersion = None,
    python_platform: PythonPlatform = None,
    image: ImageName = None,
    platform: DockerPlatform = None,
    target_file: TargetFile = None,
    project: ProjectDir = None,
    directory: Directory = None,
    config_file: ConfigFile = None,
    no_config: NoConfig = False,
    locked: Locked = False,
    frozen: Frozen = False,
    extra: Extra = None,
    all_extras: AllExtras = False,
    no_extra: NoExtra = None,
    dev: Dev = None,
    only_dev: OnlyDev = False,
    group: Group = None,
    no_group: NoGroup = None,
    only_group: OnlyGroup = None,
    all_groups: AllGroups = False,
    no_default_groups: NoDefaultGroups = False,
    no_install_project: NoInstallProject = False,
    no_install_workspace: NoInstallWorkspace = False,
    no_install_local: NoInstallLocal = False,
    no_install_package: NoInstallPackage = None,
    package: Package = None,
    all_packages: AllPackages = False,
    no_editable: NoEditable = False,
    compile_bytecode: CompileBytecode = False,
    compile_python: CompilePython = None,
    build_frontend: BuildFrontend = None,
    no_build: NoBuild = False,
    no_build_package: NoBuildPackage = None,
    no_binary: NoBinary = False,
    no_binary_package: NoBinaryPackage = None,
    link_mode: LinkMode = None,
    reinstall: Reinstall = False,
    reinstall_package: ReinstallPackage = None,
    inexact: Inexact = False,
    retries: Retries = None,
    cache_dir: CacheDir = None,
    no_cache: NoCache = False,
    offline: Offline = False,
    output_format: Format = "text",
    report_file: Report = None,
    quiet: Quiet = False,
    verbose: Verbose = False,
    color: Color = "auto",
    no_progress: NoProgress = False,
) -> None:
    """Print what sync would stage for the target (sync --dry-run, with every sync flag); write nothing."""
    _run_sync(_Args({**locals(), "dry_run": True, "check": False}))


@app.command(name="check")
def check_command(
    python_version: PythonVersion = None,
    python_platform: PythonPlatform = None,
    image: ImageName = None,
    platform: DockerPlatform = None,
    target_file: TargetFile = None,
    project: ProjectDir = None,
    directory: Directory = None,
    config_file: ConfigFile = None,
    no_config: NoConfig = False,
    locked: Locked = False,
    frozen: Frozen = False,
    extra: Extra = None,
    all_extras: AllExtras = False,
    no_extra: NoExtra = None,
    dev: Dev = None,
    only_dev: OnlyDev = False,
    group: Group = None,
    no_group: NoGroup = None,
    only_group: OnlyGroup = None,
    all_groups: AllGroups = False,
    no_default_groups: NoDefaultGroups = False,
    no_install_project: NoInstallProject = False,
    no_install_workspace: NoInstallWorkspace = False,
    no_install_local: NoInstallLocal = False,
    no_install_package: NoInstallPackage = None,
    package: Package = None,
    all_packages: AllPackages = False,
    no_build: NoBuild = False,
    no_build_package: NoBuildPackage = None,
    no_binary: NoBinary = False,
    no_binary_package: NoBinaryPackage = None,
    cache_dir: CacheDir = None,
    no_cache: NoCache = False,
    offline: Offline = False,
    quiet: Quiet = False,
    verbose: Verbose = False,
    color: Color = "auto",
) -> None:
    """Exit 4, naming every offender, if the lock cannot be staged for the target.

    An offender has no locked wheel for the target, or only an sdist that cannot be built for it
    here (the same decision sync makes before it builds anything).

    Local sources (the project, members, path and git) are built on this machine and pass, unless
    they declare a compiling build and the target is foreign.
    """
    args = _Args(dict(locals()))
    console = _console(args)
    with _errors(console, args["verbose"]):
        _enter(args)
        _run_check(args, console)


@app.command()
def images(verbose: Verbose = False) -> None:
    """List the images --image knows: Python, C library, layout, and where each fact comes from."""
    from .images import FAMILIES

    for family in FAMILIES:
        typer.echo(f"{family.pattern}\n    {family.summary}")
    typer.echo("\nuvroot images -v adds each preset's sources; any other image: uvroot target --script.")
    if verbose:
        from .images import EXAMPLES, find_image

        for name in EXAMPLES:
            image = find_image(name)
            typer.echo(f"\n{name}: Python {image.python}, {image.libc}, layout {image.layout}\n    {image.source}")


@app.command(name="target")
def target_command(
    script: Annotated[
        bool, typer.Option("--script", help="Print the stdlib-only program that describes an interpreter.")
    ] = False,
    python: Annotated[
        Optional[str], typer.Option(help="Describe this interpreter of this machine (runs the program on it).")
    ] = None,
    quiet: Quiet = False,
    verbose: Verbose = False,
) -> None:
    """Describe a target interpreter as JSON for --target-file.

    In the final image: docker run --rm IMAGE python3 -c "$(uvroot target --script)" > image.json
    (the image needs no uvroot); here: uvroot target --python PATH > image.json.
    """
    from .report import Console
    from .targetfile import SCRIPT, describe

    with _errors(Console(quiet=quiet, verbose=verbose), verbose):
        if script == (python is not None):
            raise UsageError("give --script or --python PATH", hint="uvroot target --script prints the program")
        typer.echo(SCRIPT if script else describe(python or ""), nl=False)


# -- turning flags into options ------------------------------------------------------------


class _Args(dict[str, Any]):
    """A command's parameters, and whether each was given (flag or variable) or left at its default."""

    def given(self, name: str) -> bool:
        source = click.globals.get_current_context().get_parameter_source(name)
        return source is not None and source.name != "DEFAULT"


@dataclass(frozen=True)
class _Common:
    """What sync, plan and check share: the target, selection, build policy and project configuration."""

    project_dir: Path
    config: Config
    indexes: tuple[tuple[str, str], ...]
    """The project's ``[[tool.uv.index]]`` (name, url)."""


def _console(args: _Args) -> Console:
    from .report import COLORS, Console

    color = args["color"] if args["color"] in COLORS else "auto"  # a bad value is reported in the default style
    progress = not args.get("no_progress", False)
    return Console(color, quiet=args["quiet"], verbose=args["verbose"], progress=progress)


def _enter(args: _Args) -> None:
    """``--directory`` first (every relative path starts there), then check --color."""
    from .report import COLORS

    _choice("--color", args["color"], COLORS)
    directory = args["directory"]
    if directory is not None:
        try:
            os.chdir(directory)
        except OSError as exc:
            raise UsageError(f"--directory {directory}: {exc.strerror}", hint="name an existing directory") from None


def _common(args: _Args) -> _Common:
    from .project import discover_project
    from .settings import load_config

    if args["locked"] and args["frozen"]:
        raise UsageError("--locked cannot be used with --frozen", hint="drop one of the two (or UV_LOCKED/UV_FROZEN)")
    project_dir = (args["project"] or Path()).resolve()
    project = discover_project(project_dir)
    config = load_config(project.root, no_config=args["no_config"], config_file=args["config_file"])
    return _Common(project_dir, config, project.indexes)


def _setting(args: _Args, name: str, config: Config, key: str, kind: type[Any], default: Any) -> Any:
    """Flag, UVROOT_*, UV_* (all three by click), then the configuration's ``key``, then ``default``."""
    if args.given(name):
        return args[name]
    found = config.get(key, kind)
    return default if found is None else found


def _flags(args: _Args) -> Any:
    from .selection import SelectionFlags
    from .settings import env_bool

    dev = args["dev"]
    if dev is None and env_bool("NO_DEV"):
        dev = False
    return SelectionFlags(
        extra=tuple(args["extra"] or ()),
        all_extras=args["all_extras"],
        no_extra=tuple(args["no_extra"] or ()),
        dev=dev,
        only_dev=args["only_dev"],
        group=tuple(args["group"] or ()),
        no_group=tuple(args["no_group"] or ()),
        only_group=tuple(args["only_group"] or ()),
        all_groups=args["all_groups"],
        no_default_groups=args["no_default_groups"],
        no_install_project=args["no_install_project"],
        no_install_workspace=args["no_install_workspace"],
        no_install_local=args["no_install_local"],
        no_install_package=tuple(args["no_install_package"] or ()),
        package=args["package"],
        all_packages=args["all_packages"],
    )


def _policy(args: _Args, config: Config) -> Any:
    from packaging.utils import canonicalize_name

    from .plan import BuildPolicy

    def names(flag: str, key: str) -> frozenset[str]:
        given = list(args[flag] or ()) if args.given(flag) else []
        return frozenset(str(canonicalize_name(n)) for n in [*given, *config.names(key)])

    return BuildPolicy(
        no_build=bool(_setting(args, "no_build", config, "no-build", bool, False)),
        no_build_packages=names("no_build_package", "no-build-package"),
        no_binary=bool(_setting(args, "no_binary", config, "no-binary", bool, False)),
        no_binary_packages=names("no_binary_package", "no-binary-package"),
    )


def _credentials(common: _Common) -> dict[str, tuple[str, str]]:
    """Userinfo of every index URL uv would know, then ``UV_INDEX_<NAME>_*`` (which win), by host."""
    from .settings import index_urls, named_credentials, url_credentials

    urls, named = index_urls(common.config, common.indexes)
    return {**url_credentials(urls), **named_credentials(named)}


def _run_sync(args: _Args) -> None:
    console = _console(args)
    with _errors(console, args["verbose"]):
        _enter(args)
        _sync(args, console)


def _sync(args: _Args, console: Console) -> None:
    from .build import FRONTENDS
    from .bytecode import find_compiler
    from .fetch import RequestsDownloader
    from .interpreter import inspect_interpreter
    from .layout import LayoutRequest, check_place, make_layout, parse_scheme_paths, preset_name
    from .report import plan_table, summary
    from .settings import env_seconds
    from .sync import SyncOptions
    from .sync import sync as run_sync
    from .tree import LINK_MODES, source_date_epoch

    common = _common(args)
    config = common.config
    python = args["python"]
    interpreter = inspect_interpreter(python) if python is not None else None
    the_target, image, described = _target(args, interpreter)
    if args["target"] is not None or args["prefix"] is not None:
        described = None  # as with --image: the file gives the target, --target or --prefix the layout
    request = LayoutRequest(
        root=args["root"],
        prefix=args["prefix"],
        target_dir=args["target"],
        user=args["user"],
        venv=args["venv"],
        venv_python=args["venv_python"],
        preset=preset_name(args["layout"]) if args["layout"] is not None else None,
        python=interpreter or described,
        python_flag="--python" if described is None else "--target-file",
        image=(image.name, image.layout) if image is not None else None,
        scheme_paths=parse_scheme_paths(args["scheme_path"] or ()),
        shebang=args["shebang"],
        relocatable=args["relocatable"],
    )
    the_layout = make_layout(the_target, request)
    dry_run = args["dry_run"] or args["check"]
    check_place(the_layout, write=not dry_run)
    output_format = _choice("--format", args["output_format"], ("text", "json"))
    compiler = None
    if _setting(args, "compile_bytecode", config, "compile-bytecode", bool, False) and not dry_run:
        compiler = find_compiler(the_target, args["compile_python"], interpreter)
    report_path = _report_path(args["report_file"], the_layout)
    retries = 3 if args["retries"] is None else args["retries"]
    if retries < 0:
        raise UsageError(f"--retries {retries} is negative", hint="pass 0 (no retry) or more")
    timeout = env_seconds("HTTP_TIMEOUT", 30.0)
    frontend = args["build_frontend"]
    options = SyncOptions(
        project_dir=common.project_dir,
        target=the_target,
        layout=the_layout,
        compile_with=compiler,
        epoch=source_date_epoch(),
        selection=_flags(args),
        cache_dir=args["cache_dir"] or _config_path(config, "cache-dir"),
        no_cache=bool(_setting(args, "no_cache", config, "no-cache", bool, False)),
        offline=bool(_setting(args, "offline", config, "offline", bool, False)),
        dry_run=dry_run,
        explain=dry_run or output_format == "json" or report_path is not None,
        locked=args["locked"],
        frozen=args["frozen"],
        build_frontend=_choice("--build-frontend", frontend, FRONTENDS) if frontend else None,
        link_mode=_choice("--link-mode", _setting(args, "link_mode", config, "link-mode", str, "clone"), LINK_MODES),
        reinstall=args["reinstall"],
        allow_existing=args["allow_existing"],
        reinstall_packages=frozenset(args["reinstall_package"] or ()),
        inexact=bool(args.get("inexact")),
        policy=_policy(args, config),
    )
    downloader = RequestsDownloader(retries=retries, credentials=_credentials(common))
    downloader.timeout = timeout
    if args.get("refresh") and not dry_run and not options.no_cache:  # (plan has no --refresh)
        _refresh_cache(options.cache_dir, common.project_dir, args["quiet"])
    with console.reporter() as reporter:
        report = run_sync(options, downloader=downloader, reporter=reporter)
    if args["check"]:
        changes = report.changes
        if changes.install or changes.remove:
            console.error(
                f"{the_layout.top} is not in sync with uv.lock: {len(changes.install)} to install, "
                f"{len(changes.remove)} to remove",
                "run the same command without --check",
            )
            raise typer.Exit(1)
        if not args["quiet"]:
            typer.echo(f"{the_layout.top} is in sync with uv.lock", err=True)
        return
    if output_format == "json" or report_path is not None:
        _inventory(report, the_layout, stdout=output_format == "json", path=report_path)
    if dry_run and output_format == "text":
        typer.echo(plan_table(report, the_layout))
    elif not args["quiet"] and not dry_run:
        typer.echo(summary(report, str(the_layout.top)), err=True)  # as uv: the summary goes to stderr


# -- the cache: `uvroot cache verify` and sync's --refresh (the work is in unpack.py and cache.py) ------------

cache_app = typer.Typer(no_args_is_help=True, help="Check uvroot's cache.")
app.add_typer(cache_app, name="cache")


@cache_app.command("verify")
def cache_verify(cache_dir: CacheDir = None, quiet: Quiet = False, verbose: Verbose = False) -> None:
    """Re-hash every cache entry and evict the damaged ones (the next sync fetches them again); exit 0."""
    from .cache import WheelCache, default_cache_dir
    from .report import Console
    from .unpack import verify_cache

    with _errors(Console(quiet=quiet, verbose=verbose), verbose):
        result = verify_cache(WheelCache(cache_dir or default_cache_dir()))
    if not quiet:
        typer.echo(result.summary())
        for entry in result.evicted if verbose else ():
            typer.echo(f"  evicted {entry}")


def _refresh_cache(cache_dir: Path | None, project_dir: Path, quiet: bool) -> None:
    from .cache import WheelCache, default_cache_dir
    from .project import discover_project
    from .unpack import refresh_cache

    lock = discover_project(project_dir).root / "uv.lock"
    result = refresh_cache(WheelCache(cache_dir or default_cache_dir()), lock)
    if result.evicted and not quiet:
        typer.echo(f"--refresh: {result.summary()}", err=True)


def _config_path(config: Config, key: str) -> Path | None:
    value = config.get(key, str)
    return Path(value).expanduser() if value else None


def _run_check(args: _Args, console: Console) -> None:
    import tempfile

    from .cache import WheelCache, default_cache_dir
    from .check import REFUSAL_HINT, check_lock, sdist_inspector
    from .errors import PlanError
    from .fetch import RequestsDownloader
    from .report import LineReporter
    from .settings import env_seconds

    common = _common(args)
    target, _, _ = _target(args, None)
    no_cache = bool(_setting(args, "no_cache", common.config, "no-cache", bool, False))
    cache = None if no_cache else args["cache_dir"] or _config_path(common.config, "cache-dir") or default_cache_dir()
    offline = bool(_setting(args, "offline", common.config, "offline", bool, False))
    downloader = RequestsDownloader(credentials=_credentials(common))
    downloader.timeout = env_seconds("HTTP_TIMEOUT", 30.0)
    with tempfile.TemporaryDirectory(prefix="uvroot-check-") as scratch:
        sdists = WheelCache(cache or Path(scratch))
        result = check_lock(
            common.project_dir,
            target,
            _flags(args),
            locked=args["locked"],
            frozen=args["frozen"],
            policy=_policy(args, common.config),
            cache_dir=cache,
            inspect=sdist_inspector(sdists, downloader, offline=offline),
            warn=LineReporter(False, args["quiet"], color=console.colored(sys.stderr)).warn,
        )
    if result.offenders:
        count = len(result.offenders)
        message = f"uv.lock cannot be staged for {target}: {count} {'packages have' if count > 1 else 'package has'}"
        console.error(f"{message} no wheel that fits it", REFUSAL_HINT, map(str, result.offenders))
        raise typer.Exit(PlanError.exit_code)
    if not args["quiet"]:
        typer.echo(result.summary())


def _target(args: _Args, interpreter: Interpreter | None) -> tuple[Target, Image | None, Interpreter | None]:
    """The target (and the image or described interpreter behind it) from uv's, Docker's or a file's terms."""
    from .images import TargetFlags, choose_target
    from .targetfile import check_flags, read_target_file

    if args["target_file"] is not None:
        described = read_target_file(args["target_file"])
        given = {"--python": interpreter, "--image": args["image"], "--python-platform": args["python_platform"]}
        others = [flag for flag, value in given.items() if value is not None]
        # $TARGETPLATFORM (docker buildx) counts as --platform: one image.json reused for every platform is a mistake
        from_env = args["platform"] is None and bool(os.environ.get("TARGETPLATFORM"))
        check_flags(
            described,
            python_version=args["python_version"],
            platform=os.environ["TARGETPLATFORM"] if from_env else args["platform"],
            others=others,
            platform_source="$TARGETPLATFORM" if from_env else "--platform",
        )
        return described.target, None, described.interpreter
    flags = TargetFlags(
        python_version=_python_version(args["python_version"], interpreter),
        python_platform=args["python_platform"],
        image=args["image"],
        platform=args["platform"],
        environ_platform=os.environ.get("TARGETPLATFORM") or None,
    )
    if interpreter is not None and flags.image is not None:
        raise UsageError(
            f"--image {flags.image} and --python both describe the final image's interpreter",
            hint="keep one: --python for an interpreter uvroot can run, --image for a known image",
        )
    choice = choose_target(flags)
    if choice.note and not args["quiet"]:
        typer.echo(choice.note, err=True)
    return choice.target, choice.image, None


def _python_version(given: str | None, interpreter: Interpreter | None) -> str | None:
    """--python-version, which must agree with --python's interpreter when both are given."""
    if interpreter is None:
        return given
    if given is not None and not f"{given}.".startswith(f"{interpreter.short_version}."):
        raise UsageError(
            f"--python-version {given} contradicts --python {interpreter.executable}, which is "
            f"Python {interpreter.short_version}",
            hint="drop --python-version: --python gives the version",
        )
    return given or ".".join(map(str, interpreter.version))


def _choice(flag: str, value: str, choices: tuple[T, ...]) -> T:
    for choice in choices:
        if choice == value:
            return choice
    raise UsageError(f"{flag} {value!r} is not one of {', '.join(choices)}", hint=f"pass {flag} {choices[0]}, say")


@contextmanager
def _errors(console: Console, verbose: bool) -> Iterator[None]:
    try:
        yield
    except UvrootError as error:
        if verbose:
            traceback.print_exc()
        console.error(error.message, error.hint)
        raise typer.Exit(error.exit_code) from None
    except RecursionError:
        if verbose:
            traceback.print_exc()
        console.error("a TOML file is nested too deeply to read", "check pyproject.toml, uv.lock and uv.toml")
        raise typer.Exit(3) from None


# -- plan, report and check (the machine-readable side of sync) ---------------------


def _report_path(report_file: Path | None, layout: Layout) -> Path | None:
    """--report's FILE, checked before anything is written (refused inside the tree)."""
    from .inventory import check_report_path

    return check_report_path(report_file, layout) if report_file is not None else None


def _inventory(report: SyncReport, layout: Layout, *, stdout: bool, path: Path | None) -> None:
    """The JSON plan (dry run) or report (real sync): on stdout and/or, atomically, to --report FILE."""
    from .inventory import document, dumps, write_report

    text = dumps(document(report, layout))
    if path is not None:
        write_report(path, text)
    if stdout:
        typer.echo(text, nl=False)


def main() -> None:
    """Entry point of the ``uvroot`` script."""
    app()
