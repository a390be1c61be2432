"""The ``uvroot`` command: declare flags (uv's names), build options, call the library, map errors.

This is the only module that imports typer; it holds no packaging logic.
"""

from __future__ import annotations

import os
import sys
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Optional, TypeVar

import typer

from . import __version__
from .errors import UvrootError

if TYPE_CHECKING:
    from .sync import Reporter

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
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Print the plan and write nothing.")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Print only errors.")] = False,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="One line per package; tracebacks.")] = False,
) -> None:
    """Make a layout hold exactly the locked wheels for the target Python and platform."""
    from .build import FRONTENDS
    from .fetch import RequestsDownloader
    from .layout import make_layout
    from .report import plan_table, summary
    from .selection import SelectionFlags
    from .sync import SyncOptions
    from .sync import sync as run_sync
    from .target import Target
    from .tree import LINK_MODES

    with _errors(verbose):
        the_target = Target.parse(python_version, python_platform)
        layout = make_layout(the_target, root=root, prefix=prefix, target_dir=target, user=user, shebang=shebang)
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
        options = SyncOptions(
            project_dir=project.resolve(),
            target=the_target,
            layout=layout,
            selection=flags,
            cache_dir=cache_dir,
            no_cache=no_cache,
            offline=offline,
            dry_run=dry_run,
            locked=locked,
            build_frontend=_choice("--build-frontend", build_frontend, FRONTENDS) if build_frontend else None,
            link_mode=_choice("--link-mode", link_mode, LINK_MODES),
            reinstall=reinstall,
            allow_existing=allow_existing,
            reinstall_packages=frozenset(reinstall_package or ()),
        )
        with _reporter(quiet, verbose) as reporter:
            report = run_sync(options, downloader=RequestsDownloader(retries=retries), reporter=reporter)
        if dry_run:
            typer.echo(plan_table(report))
        elif not quiet:
            typer.echo(summary(report, str(layout.top)))


def _choice(flag: str, value: str, choices: tuple[T, ...]) -> T:
    from .errors import UsageError

    for choice in choices:
        if choice == value:
            return choice
    raise UsageError(f"{flag} {value!r} is not one of {', '.join(choices)}")


@contextmanager
def _reporter(quiet: bool, verbose: bool) -> Iterator[Reporter]:
    from .report import BarReporter, LineReporter

    if quiet or not sys.stderr.isatty() or os.environ.get("CI"):
        yield LineReporter(verbose and not quiet, quiet)
        return
    bar = BarReporter(verbose)
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
        typer.secho(f"error: {error.message}", err=True, fg="red")
        if error.hint:
            typer.echo(f"hint: {error.hint}", err=True)
        raise typer.Exit(error.exit_code) from None


def main() -> None:
    """Entry point of the ``uvroot`` script."""
    app()
