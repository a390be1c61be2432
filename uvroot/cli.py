"""The ``uvroot`` command: declare flags (uv's names), build options, call the library, map errors.

This is the only module that imports typer; it holds no packaging logic.
"""

from __future__ import annotations

import inspect
import os
import sys
import traceback
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Optional, TextIO, TypeVar

import typer

from . import __version__
from .errors import UvrootError

if TYPE_CHECKING:
    from .interpreter import Interpreter
    from .layout import Layout
    from .sync import Reporter, SyncReport

T = TypeVar("T", bound=str)

app = typer.Typer(
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    help="Stage a uv.lock into a --root, --target, --prefix or --user layout for any target platform.",
)

_LAYOUT = "Layout (choose one)"
_TARGET = "Target"
_SELECT = "Selection (as uv sync)"
_CACHE = "Cache and network"
Names = Annotated[Optional[list[str]], typer.Option(rich_help_panel=_SELECT)]


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


@app.command()
def sync(
    root: Annotated[
        Optional[Path],
        typer.Option(help="Staging root: the tree `COPY --from=build ROOT /` copies.", rich_help_panel=_LAYOUT),
    ] = None,
    prefix: Annotated[
        Optional[str],
        typer.Option(
            help="Install prefix; with --root, a path in the final image (default with --root: /usr/local).",
            rich_help_panel=_LAYOUT,
        ),
    ] = None,
    target: Annotated[
        Optional[Path],
        typer.Option(
            "--target", "-t", help="A flat import directory (Lambda, zipapps, vendoring).", rich_help_panel=_LAYOUT
        ),
    ] = None,
    user: Annotated[
        bool,
        typer.Option(
            "--user", help="The posix_user scheme (~/.local), under --root if given.", rich_help_panel=_LAYOUT
        ),
    ] = False,
    shebang: Annotated[
        Optional[str],
        typer.Option(
            help="Interpreter written into scripts (default PREFIX/bin/pythonX.Y; --target: /usr/bin/env pythonX.Y).",
            rich_help_panel=_LAYOUT,
        ),
    ] = None,
    venv: Annotated[
        Optional[Path],
        typer.Option(
            help="A virtual environment at DIR (with --root: a path in the final image) whose pyvenv.cfg names "
            "--venv-python.",
            rich_help_panel=_LAYOUT,
        ),
    ] = None,
    venv_python: Annotated[
        Optional[str],
        typer.Option(
            help="The final image's interpreter a --venv runs (default: the --layout's or --python's, else "
            "PREFIX/bin/pythonX.Y).",
            rich_help_panel=_LAYOUT,
        ),
    ] = None,
    layout: Annotated[
        Optional[str],
        typer.Option(
            help="The system scheme of an image: official (python:X.Y, /usr/local/lib/pythonX.Y/site-packages), "
            "debian (also ubuntu, distroless: /usr/local/lib/pythonX.Y/dist-packages) or alpine "
            "(/usr/lib/pythonX.Y/site-packages).",
            rich_help_panel=_LAYOUT,
        ),
    ] = None,
    python: Annotated[
        Optional[str],
        typer.Option(
            help="Take the scheme, version and shebang from this interpreter's sysconfig, as pip install --root "
            "would with it.",
            rich_help_panel=_LAYOUT,
        ),
    ] = None,
    scheme_path: Annotated[
        Optional[list[str]],
        typer.Option(
            help="KIND=PATH: put one part of every wheel (purelib, platlib, scripts, headers, data) at PATH "
            "(repeatable).",
            rich_help_panel=_LAYOUT,
        ),
    ] = None,
    compile_bytecode: Annotated[
        bool,
        typer.Option(
            "--compile-bytecode",
            envvar="UV_COMPILE_BYTECODE",
            help="Write hash-based .pyc files, compiled by a CPython of the target's version (found on PATH or "
            "--compile-python); fails rather than compile with another version.",
        ),
    ] = False,
    compile_python: Annotated[
        Optional[str],
        typer.Option(help="The interpreter that compiles bytecode (must be the target's X.Y)."),
    ] = None,
    python_version: Annotated[
        Optional[str],
        typer.Option(help="Target Python, X.Y or X.Y.Z (default: this interpreter's).", rich_help_panel=_TARGET),
    ] = None,
    python_platform: Annotated[
        Optional[str],
        typer.Option(
            help="Target platform, as uv's --python-platform (default: this machine).", rich_help_panel=_TARGET
        ),
    ] = None,
    project: Annotated[Path, typer.Option(help="Directory with pyproject.toml and uv.lock.")] = Path(),
    extra: Names = None,
    all_extras: Annotated[bool, typer.Option("--all-extras", rich_help_panel=_SELECT)] = False,
    no_extra: Names = None,
    dev: Annotated[
        Optional[bool],
        typer.Option(
            "--dev/--no-dev", show_default=False, help="Include (or drop) the dev group.", rich_help_panel=_SELECT
        ),
    ] = None,
    only_dev: Annotated[bool, typer.Option("--only-dev", rich_help_panel=_SELECT)] = False,
    group: Names = None,
    no_group: Names = None,
    only_group: Names = None,
    all_groups: Annotated[bool, typer.Option("--all-groups", rich_help_panel=_SELECT)] = False,
    no_default_groups: Annotated[bool, typer.Option("--no-default-groups", rich_help_panel=_SELECT)] = False,
    no_install_project: Annotated[
        bool,
        typer.Option(
            "--no-install-project", help="Install the dependencies but not the project itself.", rich_help_panel=_SELECT
        ),
    ] = False,
    no_install_workspace: Annotated[
        bool,
        typer.Option(
            "--no-install-workspace",
            help="Skip every workspace member (their dependencies stay).",
            rich_help_panel=_SELECT,
        ),
    ] = False,
    no_install_local: Annotated[
        bool,
        typer.Option(
            "--no-install-local", help="Skip the project, members and path/directory sources.", rich_help_panel=_SELECT
        ),
    ] = False,
    no_install_package: Names = None,
    package: Annotated[
        Optional[str], typer.Option(help="Sync this workspace member instead of the project.", rich_help_panel=_SELECT)
    ] = None,
    all_packages: Annotated[
        bool, typer.Option("--all-packages", help="Sync every workspace member.", rich_help_panel=_SELECT)
    ] = False,
    locked: Annotated[
        bool, typer.Option("--locked", help="Fail if uv.lock no longer matches pyproject.toml (as uv).")
    ] = False,
    build_frontend: Annotated[
        Optional[str],
        typer.Option(help="Build sources with uv, build or pip (default: the first installed)."),
    ] = None,
    link_mode: Annotated[
        str,
        typer.Option(
            envvar="UVROOT_LINK_MODE",
            rich_help_panel=_CACHE,
            help="How files come from the cache: clone (copy-on-write, else hardlink), hardlink, copy "
            "or symlink; falls back to copy where linking is impossible.",
        ),
    ] = "clone",
    reinstall: Annotated[bool, typer.Option("--reinstall", help="Place every package again.")] = False,
    allow_existing: Annotated[
        bool,
        typer.Option(
            "--allow-existing",
            rich_help_panel=_LAYOUT,
            help="Replace files in the way that no uvroot distribution owns (default: stop).",
        ),
    ] = False,
    retries: Annotated[
        int,
        typer.Option(
            envvar="UV_HTTP_RETRIES",
            rich_help_panel=_CACHE,
            help="Retries after a transient download failure (timeouts: UVROOT_HTTP_TIMEOUT).",
        ),
    ] = 3,
    reinstall_package: Annotated[
        Optional[list[str]], typer.Option(help="Place this package again (repeatable).")
    ] = None,
    frozen: Annotated[
        bool, typer.Option("--frozen", help="Accepted for uv compatibility: uvroot never re-locks.")
    ] = False,
    cache_dir: Annotated[
        Optional[Path],
        typer.Option(envvar="UVROOT_CACHE_DIR", rich_help_panel=_CACHE, help="Wheel cache (default ~/.cache/uvroot)."),
    ] = None,
    no_cache: Annotated[
        bool, typer.Option("--no-cache", help="Use a temporary cache for this run.", rich_help_panel=_CACHE)
    ] = False,
    offline: Annotated[
        bool, typer.Option("--offline", help="Use only the cache; never download.", rich_help_panel=_CACHE)
    ] = False,
    refresh: Annotated[
        bool,
        typer.Option(
            "--refresh",
            help="Re-hash every cache entry uv.lock can use first, evicting damaged ones (as `uvroot cache verify`).",
            rich_help_panel=_CACHE,
        ),
    ] = False,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Print the plan and write nothing.")] = False,
    output_format: Annotated[
        str,
        typer.Option(
            "--format",
            help="text, or json: print the machine-readable plan (with --dry-run) or report on stdout.",
        ),
    ] = "text",
    report_file: Annotated[
        Optional[Path],
        typer.Option(
            "--report",
            metavar="FILE",
            help="Write the JSON report (with --dry-run: the plan) to FILE, outside the staged tree.",
        ),
    ] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Print only errors.")] = False,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="One line per package; tracebacks.")] = False,
    color: Annotated[
        str,
        typer.Option(
            help="auto, always or never (as uv). auto: colour on a terminal, off with NO_COLOR, forced with "
            "FORCE_COLOR; never also draws no progress bars."
        ),
    ] = "auto",
) -> None:
    """Make a layout hold exactly the locked wheels for the target Python and platform."""
    from .build import FRONTENDS
    from .bytecode import find_compiler
    from .fetch import RequestsDownloader
    from .interpreter import inspect_interpreter
    from .layout import LayoutRequest, make_layout, parse_scheme_paths, preset_name
    from .report import plan_table, summary
    from .selection import SelectionFlags
    from .sync import SyncOptions
    from .sync import sync as run_sync
    from .target import Target
    from .tree import LINK_MODES, source_date_epoch

    with _errors(verbose):
        _set_color(color)
        interpreter = inspect_interpreter(python) if python is not None else None
        the_target = Target.parse(_python_version(python_version, interpreter), python_platform)
        request = LayoutRequest(
            root=root,
            prefix=prefix,
            target_dir=target,
            user=user,
            venv=venv,
            venv_python=venv_python,
            preset=preset_name(layout) if layout is not None else None,
            python=interpreter,
            scheme_paths=parse_scheme_paths(scheme_path or ()),
            shebang=shebang,
        )
        the_layout = make_layout(the_target, request)
        compiler = None
        if compile_bytecode and not dry_run:
            compiler = find_compiler(the_target, compile_python, interpreter)
        flags = SelectionFlags(
            extra=tuple(extra or ()),
            all_extras=all_extras,
            no_extra=tuple(no_extra or ()),
            dev=dev,
            only_dev=only_dev,
            group=tuple(group or ()),
            no_group=tuple(no_group or ()),
            only_group=tuple(only_group or ()),
            all_groups=all_groups,
            no_default_groups=no_default_groups,
            no_install_project=no_install_project,
            no_install_workspace=no_install_workspace,
            no_install_local=no_install_local,
            no_install_package=tuple(no_install_package or ()),
            package=package,
            all_packages=all_packages,
        )
        report_path = _report_path(output_format, report_file, the_layout)
        options = SyncOptions(
            project_dir=project.resolve(),
            target=the_target,
            layout=the_layout,
            compile_with=compiler,
            epoch=source_date_epoch(),
            selection=flags,
            cache_dir=cache_dir,
            no_cache=no_cache,
            offline=offline,
            dry_run=dry_run,
            explain=dry_run or output_format == "json" or report_path is not None,
            locked=locked,
            build_frontend=_choice("--build-frontend", build_frontend, FRONTENDS) if build_frontend else None,
            link_mode=_choice("--link-mode", link_mode, LINK_MODES),
            reinstall=reinstall,
            allow_existing=allow_existing,
            reinstall_packages=frozenset(reinstall_package or ()),
        )
        if refresh and not dry_run and not no_cache:
            _refresh_cache(cache_dir, options.project_dir, quiet)
        with _reporter(quiet, verbose) as reporter:
            report = run_sync(options, downloader=RequestsDownloader(retries=retries), reporter=reporter)
        if output_format == "json" or report_path is not None:
            _inventory(report, the_layout, stdout=output_format == "json", path=report_path)
        if dry_run and output_format == "text":
            typer.echo(plan_table(report, the_layout))
        elif not quiet and not dry_run:
            typer.echo(summary(report, str(the_layout.top)), err=output_format == "json")  # stdout is the JSON


# -- the cache: `uvroot cache verify` and sync's --refresh (the work is in unpack.py and cache.py) ------------

cache_app = typer.Typer(no_args_is_help=True, help="Check uvroot's cache.")
app.add_typer(cache_app, name="cache")


@cache_app.command("verify")
def cache_verify(
    cache_dir: Annotated[
        Optional[Path],
        typer.Option(envvar="UVROOT_CACHE_DIR", help="Wheel cache (default ~/.cache/uvroot)."),
    ] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Print only errors.")] = False,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Name every evicted entry; tracebacks.")] = False,
) -> None:
    """Re-hash every cache entry and evict the damaged ones (the next sync fetches them again); exit 0."""
    from .cache import WheelCache, default_cache_dir
    from .unpack import verify_cache

    with _errors(verbose):
        result = verify_cache(WheelCache(cache_dir or default_cache_dir()))
    if not quiet:
        typer.echo(result.summary())
        for entry in result.evicted if verbose else ():
            typer.echo(f"  evicted {entry}")


def _refresh_cache(cache_dir: Path | None, project_dir: Path, quiet: bool) -> None:
    from .cache import WheelCache, default_cache_dir
    from .unpack import refresh_cache

    result = refresh_cache(WheelCache(cache_dir or default_cache_dir()), project_dir / "uv.lock")
    if result.evicted and not quiet:
        typer.echo(f"--refresh: {result.summary()}", err=True)


def _python_version(given: str | None, interpreter: Interpreter | None) -> str | None:
    """--python-version, which must agree with --python's interpreter when both are given."""
    if interpreter is None:
        return given
    from .errors import UsageError

    if given is not None and not f"{given}.".startswith(f"{interpreter.short_version}."):
        raise UsageError(
            f"--python-version {given} contradicts --python {interpreter.executable}, which is "
            f"Python {interpreter.short_version}",
            hint="drop --python-version: --python gives the version",
        )
    return given or ".".join(map(str, interpreter.version))


def _choice(flag: str, value: str, choices: tuple[T, ...]) -> T:
    from .errors import UsageError

    for choice in choices:
        if choice == value:
            return choice
    raise UsageError(f"{flag} {value!r} is not one of {', '.join(choices)}")


COLORS = ("auto", "always", "never")
_color = "auto"
"""The --color of the running command: every command sets it first (errors printed later use it)."""


def _set_color(choice: str) -> None:
    global _color
    _color = "auto"  # a bad value is reported in the default style
    _color = _choice("--color", choice, COLORS)


def _colored(stream: TextIO) -> bool:
    """Whether to style text written to ``stream``, decided as uv decides it.

    An explicit always/never wins; in auto a non-empty NO_COLOR turns colour off, then a
    non-empty FORCE_COLOR or CLICOLOR_FORCE turns it on; otherwise only a terminal gets colour.
    """
    if _color != "auto":
        return _color == "always"
    if os.environ.get("NO_COLOR"):
        return False
    if os.environ.get("FORCE_COLOR") or os.environ.get("CLICOLOR_FORCE"):
        return True
    return stream.isatty()


@contextmanager
def _reporter(quiet: bool, verbose: bool) -> Iterator[Reporter]:
    from .report import BarReporter, LineReporter

    color = _colored(sys.stderr)
    # Bars only for a person at a terminal: CI logs and pipes get plain lines, and
    # --color never asks for no escape sequences at all (a bar is drawn with them).
    if quiet or _color == "never" or not sys.stderr.isatty() or os.environ.get("CI"):
        yield LineReporter(verbose and not quiet, quiet, color=color)
        return
    bar = BarReporter(verbose, color=color)
    try:
        yield bar
    finally:
        bar.close()


@contextmanager
def _errors(verbose: bool) -> Iterator[None]:
    try:
        yield
    except UvrootError as error:
        if verbose:
            traceback.print_exc()
        _print_error(error.message, error.hint)
        raise typer.Exit(error.exit_code) from None


def _print_error(message: str, hint: str | None, details: Iterable[str] = ()) -> None:
    """``error: message``, indented detail lines, then ``hint: ...``, on stderr in the --color style."""
    color = _colored(sys.stderr)
    typer.echo(f"{_label('error', 'red')} {message}", err=True, color=color)
    for line in details:
        typer.echo(f"  {line}", err=True)
    if hint:
        typer.echo(f"{_label('hint', 'cyan')} {hint}", err=True, color=color)


def _label(name: str, fg: str) -> str:
    # As uv: the word in bold colour, the colon bold; echo(color=False) strips both.
    return typer.style(name, fg=fg, bold=True) + typer.style(":", bold=True)


# -- plan, report and check (the machine-readable side of sync) ---------------------


def _report_path(output_format: str, report_file: Path | None, layout: Layout) -> Path | None:
    """Check --format, and --report's FILE before anything is written (refused inside the tree)."""
    from .inventory import check_report_path

    _choice("--format", output_format, ("text", "json"))
    return check_report_path(report_file, layout) if report_file is not None else None


def _inventory(report: SyncReport, layout: Layout, *, stdout: bool, path: Path | None) -> None:
    """The JSON plan (dry run) or report (real sync): on stdout and/or, atomically, to --report FILE."""
    from .inventory import document, dumps, write_report

    text = dumps(document(report, layout))
    if path is not None:
        write_report(path, text)
    if stdout:
        typer.echo(text, nl=False)


_SYNC_SIGNATURE = inspect.signature(sync, eval_str=True)  # read once: plan and check are cut from it


def _derived(keep: Callable[[inspect.Parameter], bool], *extra: inspect.Parameter) -> inspect.Signature:
    """``sync``'s signature, only the parameters ``keep`` accepts: flags added to sync follow automatically."""
    parameters = _SYNC_SIGNATURE.parameters.values()
    return inspect.Signature([*(parameter for parameter in parameters if keep(parameter)), *extra])


def plan(**options: Any) -> None:
    """Print what sync would stage for the target (sync --dry-run, with every sync flag); write nothing."""
    sync(**options, dry_run=True)


plan.__signature__ = _derived(lambda parameter: parameter.name != "dry_run")  # type: ignore[attr-defined]
app.command()(plan)

_CHECK_FLAGS = {"project", "locked", "frozen", "cache_dir", "no_cache", "quiet", "verbose", "color"}


def _for_check(parameter: inspect.Parameter) -> bool:
    # The target and selection flags, and the few that concern reading the lock; no layout.
    from typer.models import ParameterInfo

    infos = [meta for meta in getattr(parameter.annotation, "__metadata__", ()) if isinstance(meta, ParameterInfo)]
    return parameter.name in _CHECK_FLAGS or any(info.rich_help_panel in (_TARGET, _SELECT) for info in infos)


def check(**options: Any) -> None:
    """Exit 4, naming every offender, if the lock cannot be staged for the target.

    An offender has no locked wheel for the target, or only an sdist when the target is not this machine.

    Local sources (the project, members, path and git) are built on this machine and pass.
    """
    from dataclasses import fields

    from .cache import default_cache_dir
    from .check import check_lock
    from .errors import PlanError
    from .report import LineReporter
    from .selection import SelectionFlags
    from .target import Target

    verbose, quiet = options["verbose"], options["quiet"]
    with _errors(verbose):
        _set_color(options.get("color", "auto"))
        target = Target.parse(options["python_version"], options["python_platform"])
        flags = SelectionFlags(**{f.name: _flag(options[f.name], f.default) for f in fields(SelectionFlags)})
        cache = None if options["no_cache"] else options["cache_dir"] or default_cache_dir()
        result = check_lock(
            options["project"].resolve(),
            target,
            flags,
            locked=options["locked"],
            no_build=options["no_build"],
            cache_dir=cache,
            warn=LineReporter(False, quiet, color=_colored(sys.stderr)).warn,
        )
    if result.offenders:
        count = len(result.offenders)
        message = f"uv.lock cannot be staged for {target}: {count} {'packages have' if count > 1 else 'package has'}"
        hint = (
            "lock wheels for the target (add it to tool.uv.required-environments and run uv lock), "
            "or stage on a machine like the target"
        )
        _print_error(f"{message} no wheel that fits it", hint, map(str, result.offenders))
        raise typer.Exit(PlanError.exit_code)
    if not quiet:
        typer.echo(result.summary())


def _flag(value: Any, default: object) -> Any:
    # typer gives repeatable flags as a list (or None); SelectionFlags holds tuples.
    if default == () and (value is None or isinstance(value, list)):
        return tuple(value or ())
    return value


_NO_BUILD = inspect.Parameter(
    "no_build",
    inspect.Parameter.POSITIONAL_OR_KEYWORD,
    default=False,
    annotation=Annotated[
        bool,
        typer.Option("--no-build", help="Also fail on every sdist that would be built (as uv's --no-build)."),
    ],
)
check.__signature__ = _derived(_for_check, _NO_BUILD)  # type: ignore[attr-defined]
app.command()(check)


def main() -> None:
    """Entry point of the ``uvroot`` script."""
    app()
