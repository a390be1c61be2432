"""Where each part of a wheel goes: the install scheme of the final image, as data.

A :class:`Layout` holds the *runtime* scheme (the paths as the final image sees
them, written into RECORD and shebangs) and, for ``--root``, the staging
directory they are re-rooted under.  The scheme comes from a flag
(``--root``/``--prefix``/``--user``/``--target``/``--venv``), a preset for an
image that cannot run at build time (``--layout``), a real interpreter's
sysconfig (``--python``), plus per-key overrides (``--scheme-path``).  Only
schemes are data here; writing is ``spread``'s job.
"""

from __future__ import annotations

import os
import posixpath
import shutil
import sys
from collections.abc import Iterable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Literal

from .errors import UsageError
from .interpreter import Interpreter
from .target import Target

LayoutKind = Literal["root", "prefix", "target", "user", "venv", "system"]
DEFAULT_PREFIX = "/usr/local"
SCHEME_KEYS = ("purelib", "platlib", "scripts", "headers", "data")


@dataclass(frozen=True, slots=True, kw_only=True)
class Layout:
    """A wheel-scheme mapping plus the staging root it is written under."""

    kind: LayoutKind
    destdir: Path | None
    """Files land under this directory; None writes the runtime paths directly."""
    purelib: str
    platlib: str
    scripts: str
    headers: str
    """Headers directory; the distribution name is appended per wheel."""
    data: str
    interpreter: str
    """What generated scripts run: the TARGET interpreter, never the build machine's."""
    venv_python: str | None = None
    """For ``--venv``: the interpreter ``pyvenv.cfg`` and ``bin/python`` name."""
    relocatable: bool = False
    """``--relocatable``: scripts run ``interpreter`` by its path relative to their own directory."""

    def scheme_dict(self, distribution: str) -> dict[str, str]:
        """The installer scheme for one distribution (runtime paths)."""
        return {
            "purelib": self.purelib,
            "platlib": self.platlib,
            "scripts": self.scripts,
            "headers": posixpath.join(self.headers, distribution),
            "data": self.data,
        }

    def on_disk(self, runtime_path: str) -> Path:
        """Where a runtime path is written on the build machine."""
        return Path(self.disk_path(runtime_path))

    def disk_path(self, runtime_path: str) -> str:
        """:meth:`on_disk` as a plain string (the placing loop maps one path per file)."""
        if self.destdir is None:
            return runtime_path
        return os.path.join(self.destdir, runtime_path.lstrip("/"))  # noqa: PTH118 - a str per placed file

    @property
    def site_packages(self) -> Path:
        """The import directory (purelib) as written on the build machine."""
        return self.on_disk(self.purelib)

    @property
    def lib_dirs(self) -> tuple[Path, ...]:
        """purelib, and platlib where it differs: where dist-infos live."""
        return tuple(dict.fromkeys((self.on_disk(self.purelib), self.on_disk(self.platlib))))

    @property
    def top(self) -> Path:
        """The directory the user named (or that holds every scheme directory); nothing outside it is written."""
        if self.destdir is not None:
            return self.destdir
        directories = (self.purelib, self.platlib, self.scripts, self.headers, self.data)
        return Path(os.path.commonpath(directories))

    def describe(self) -> dict[str, str]:
        """Each scheme directory as written on the build machine (for listings and reports)."""
        return {key: str(self.on_disk(getattr(self, key))) for key in SCHEME_KEYS}


@dataclass(frozen=True, slots=True)
class Preset:
    """An image's system scheme, for images that cannot run at build time.

    The paths are templates of the Python version (``{version}``: ``X.Y``), filled in when used
    (not at import: every part of the scheme is computed where a test can see it).
    """

    description: str
    lib: str
    """purelib and platlib."""
    base: str
    """The prefix: ``data``, and ``scripts`` in its ``bin``."""
    include: str
    interpreter: str

    def scheme(self, version: str) -> dict[str, str]:
        """``X.Y`` -> runtime paths of purelib, platlib, scripts, headers, data and the interpreter."""
        site = self.lib.format(version=version)
        return {
            "purelib": site,
            "platlib": site,
            "scripts": f"{self.base}/bin",
            "headers": self.include.format(version=version),
            "data": self.base,
            "interpreter": self.interpreter.format(version=version),
        }


PRESETS = {
    # python:X.Y (official images, built from source): posix_prefix at /usr/local.
    "official": Preset(
        "python:X.Y images",
        "/usr/local/lib/python{version}/site-packages", "/usr/local", "/usr/local/include/python{version}",
        "/usr/local/bin/python{version}",
    ),
    # Debian/Ubuntu/distroless python3: posix_local puts local installs in dist-packages
    # under /usr/local, but headers under /usr/include (what pip --root does there).
    "debian": Preset(
        "Debian, Ubuntu and distroless with the distribution's python3",
        "/usr/local/lib/python{version}/dist-packages", "/usr/local", "/usr/include/python{version}",
        "/usr/bin/python{version}",
    ),
    # Alpine's apk python3: posix_prefix with prefix /usr.
    "alpine": Preset(
        "Alpine with apk's python3",
        "/usr/lib/python{version}/site-packages", "/usr", "/usr/include/python{version}", "/usr/bin/python{version}",
    ),
}  # fmt: skip
PRESET_ALIASES = {"python": "official", "ubuntu": "debian", "distroless": "debian"}


@dataclass(frozen=True, slots=True, kw_only=True)
class LayoutRequest:
    """The layout flags as given, before they are checked against each other."""

    root: Path | None = None
    prefix: str | None = None
    target_dir: Path | None = None
    user: bool = False
    venv: Path | None = None
    venv_python: str | None = None
    preset: str | None = None
    python: Interpreter | None = None
    scheme_paths: tuple[tuple[str, str], ...] = ()
    shebang: str | None = None
    python_flag: str = "--python"
    """How the user named ``python`` (``--python PATH`` or ``--target-file FILE``), for messages."""
    preset_flag: str | None = None
    """How the user chose ``preset`` when not by ``--layout`` (``--image NAME``), for messages."""
    image: tuple[str, str] | None = None
    """``--image``: its name and layout (a preset name, or ``lambda``: flat in LAMBDA_TASK_ROOT)."""
    relocatable: bool = False


LAMBDA_TASK_ROOT = "/var/task"


def make_layout(target: Target, request: LayoutRequest) -> Layout:
    """Build the layout the flags ask for, refusing combinations that contradict each other."""
    layout = _make_layout(target, request)
    return _relocatable(layout) if request.relocatable else layout


def runs_by_path(interpreter: str) -> bool:
    """Whether scripts run ``interpreter`` by its absolute path (not ``/usr/bin/env pythonX.Y``, as --target's)."""
    return interpreter.startswith("/") and not interpreter.startswith("/usr/bin/env ")


def _relocatable(layout: Layout) -> Layout:
    """As uv's ``--relocatable``: scripts find the interpreter from their own directory, so it must move too."""
    interpreter = layout.interpreter
    if not runs_by_path(interpreter):
        return replace(layout, relocatable=True)  # `/usr/bin/env pythonX.Y` (--target) finds it already
    top = "/" if layout.destdir is not None else str(layout.top)
    if os.path.commonpath([top, interpreter]) != top:
        raise UsageError(
            f"--relocatable: the scripts' interpreter {interpreter} lies outside {top}, so a moved tree would lose it",
            hint="--relocatable is for trees that hold their interpreter: --venv, or a --prefix with its Python",
        )
    return replace(layout, relocatable=True)


def _make_layout(target: Target, request: LayoutRequest) -> Layout:
    if request.image is not None:
        request = _with_image(request)
        if request.image is not None:  # Lambda's flat /var/task under --root
            return _lambda(request, target)
    _check_combination(target, request)
    if request.target_dir is not None:
        return _flat(request.target_dir.resolve(), request.shebang or f"/usr/bin/env python{target.python_version}")
    root = request.root.resolve() if request.root is not None else None
    if request.venv is not None:
        # The image's interpreter: named, or the --layout's, --python's or PREFIX/bin/pythonX.Y.
        python = request.venv_python or _image_python(request, target)
        layout = _venv(root, request.venv, target, python, request.shebang)
    elif request.user:
        layout = _user(root, target, request.shebang or _image_python(request, target))
    elif request.preset is not None or request.python is not None:
        layout = _system_layout(root, request, target)
    elif root is None and request.prefix is None:
        raise UsageError(
            "choose where to install: --root DIR, --prefix DIR, --target DIR, --user, --venv DIR or --python PATH",
            hint="for a Docker staging tree use --root /root-dir (add --layout debian or alpine for those images)",
        )
    elif root is None:
        layout = _prefix(None, str(Path(request.prefix or "").resolve()), target, request.shebang)
    else:
        layout = _prefix(root, _absolute_posix(request.prefix or DEFAULT_PREFIX), target, request.shebang)
    return _override(layout, request.scheme_paths)


def _with_image(request: LayoutRequest) -> LayoutRequest:
    """``--image``'s layout, as ``--layout`` would give it: an explicit --layout must agree with it.

    With ``--target DIR`` or ``--prefix P`` the image gives only the target (version and tags), those
    flags the layout.  Returns the request with ``image`` cleared, except for Lambda's flat layout.
    """
    assert request.image is not None
    name, kind = request.image
    if request.preset is not None and request.preset != kind:
        raise UsageError(
            f"--layout {request.preset} contradicts --image {name}, whose layout is {kind}",
            hint="drop --layout: --image chooses the layout of its image",
        )
    if request.python is not None:
        # Unreachable from the CLI, so every mutant of these lines is equivalent there: cli._target refuses
        # --image with --python, and targetfile.check_flags --image with --target-file, first.
        raise UsageError(  # pragma: no mutate
            f"--image {name} and {request.python_flag} both describe the final image's interpreter",  # pragma: no mutate
            hint=f"keep one: {request.python_flag} for an interpreter uvroot can read, --image for a known image",  # pragma: no mutate
        )  # pragma: no mutate
    if request.target_dir is not None or (request.prefix is not None and not request.user):
        return replace(request, image=None)
    if kind != "lambda":
        return replace(request, image=None, preset=kind, preset_flag=f"--image {name}")
    extra = [flag for flag, on in (("--venv", request.venv), ("--user", request.user), ("--prefix", request.prefix),
                                   ("--scheme-path", request.scheme_paths)) if on]  # fmt: skip
    if extra or request.root is None:
        raise UsageError(
            f"--image {name} imports from a flat {LAMBDA_TASK_ROOT}: "
            + (f"it cannot be combined with {', '.join(extra)}" if extra else "it needs --root DIR or --target DIR"),
            hint=f"--root DIR writes DIR{LAMBDA_TASK_ROOT} (COPY --from=build DIR /); --target DIR writes DIR itself",
        )
    return request


def _lambda(request: LayoutRequest, target: Target) -> Layout:
    # AWS Lambda's base images: the handler's packages flat in LAMBDA_TASK_ROOT, Python in /var/lang/bin.
    assert request.root is not None
    return replace(
        _flat(Path(LAMBDA_TASK_ROOT), request.shebang or f"/var/lang/bin/python{target.python_version}"),
        destdir=request.root.resolve(),
    )


def preset_name(name: str) -> str:
    """The canonical preset for a ``--layout`` value (aliases included), or a usage error."""
    canonical = PRESET_ALIASES.get(name, name)
    if canonical not in PRESETS:
        known = ", ".join([*PRESETS, *PRESET_ALIASES])
        raise UsageError(f"--layout {name!r} is not a layout uvroot knows ({known})", hint=_LAYOUT_HINT)
    return canonical


def parse_scheme_paths(values: Iterable[str]) -> tuple[tuple[str, str], ...]:
    """``KIND=PATH`` values of ``--scheme-path``, checked."""
    parsed = []
    for value in values:
        kind, sep, path = value.partition("=")
        if not sep or kind not in SCHEME_KEYS or not path:
            raise UsageError(
                f"--scheme-path {value!r} is not KIND=PATH with KIND one of {', '.join(SCHEME_KEYS)}",
                hint="e.g. --scheme-path purelib=/opt/app/lib --scheme-path scripts=/opt/app/bin",
            )
        parsed.append((kind, _absolute_posix(path, "--scheme-path")))
    return tuple(parsed)


_LAYOUT_HINT = "; ".join(f"{name}: {preset.description}" for name, preset in PRESETS.items())


def _check_combination(target: Target, request: LayoutRequest) -> None:
    given = {
        "--target": request.target_dir is not None,
        "--venv": request.venv is not None,
        "--user": request.user,
        "--layout": request.preset is not None,
        request.python_flag: request.python is not None,
        "--prefix": request.prefix is not None,
        "--scheme-path": bool(request.scheme_paths),
        "--root": request.root is not None,
    }
    allowed = {
        # Each of these chooses a whole scheme; these are the flags that may refine it.
        "--target": {"--target"},
        "--venv": {"--venv", "--root", "--layout", request.python_flag, "--prefix"},
        "--user": {"--user", "--root", "--layout", request.python_flag, "--prefix", "--scheme-path"},
        # With --venv or --user, --layout and --python name the image's interpreter.
        "--layout": {"--layout", "--root", "--scheme-path", "--venv", "--user"},
        request.python_flag: {request.python_flag, "--root", "--scheme-path", "--venv", "--user"},
    }
    for flag, fits in allowed.items():
        extra = [other for other, on in given.items() if on and other not in fits]
        if given[flag] and extra:
            raise UsageError(
                f"{flag} cannot be combined with {', '.join(extra)}",
                hint=f"--target, --venv, --user, --layout and {request.python_flag} each choose a whole layout",
            )
    if request.preset is not None and request.root is None and request.venv is None and not request.user:
        # A preset describes an image; on its own it would write into this machine's /usr.
        raise UsageError(
            f"{request.preset_flag or '--layout ' + request.preset} lays out an image's Python and needs --root: "
            "without it uvroot would "
            "install into this machine's own system directories",
            hint="stage a tree with --root DIR (e.g. --root /root-dir), or pass --root / to install into this "
            "machine on purpose",
        )
    if request.python_flag == "--target-file" and request.root is None and request.venv is None and not request.user:
        # The file names the image's directories; written as they are, they would land in this machine's.
        raise UsageError(
            "--target-file lays out the described interpreter's own directories and needs --root: without it "
            "uvroot would install into this machine's",
            hint="stage a tree with --root DIR (use --python PATH to install into an interpreter of this machine)",
        )
    if request.user and request.prefix is not None and request.root is None:
        raise UsageError("--user cannot be combined with --prefix", hint="use --user alone or with --root")
    if request.venv_python is not None and request.venv is None:
        raise UsageError("--venv-python needs --venv DIR")
    if target.os == "windows" and request.target_dir is None:
        raise UsageError(
            f"--root, --prefix, --user, --venv and --layout lay out a POSIX system, and {target} is Windows",
            hint="use --target DIR for a Windows target",
        )


def _prefix(destdir: Path | None, prefix: str, target: Target, shebang: str | None) -> Layout:
    # The scheme of `pip install --root DIR --prefix P` on a python:X.Y image (posix_prefix).
    kind: LayoutKind = "root" if destdir is not None else "prefix"
    return _posix(kind, destdir, prefix, target, shebang or f"{prefix}/bin/python{target.python_version}")


def _user(destdir: Path | None, target: Target, interpreter: str) -> Layout:
    # posix_user: the base is PYTHONUSERBASE or ~/.local, as pip and site.py compute it.
    base = os.environ.get("PYTHONUSERBASE") or str(Path("~/.local").expanduser())
    return _posix("user", destdir, base, target, interpreter)


def _posix(kind: LayoutKind, destdir: Path | None, base: str, target: Target, interpreter: str) -> Layout:
    # posix_prefix and posix_user share one shape: lib/pythonX.Y/site-packages, bin, include/pythonX.Y.
    version = target.python_version
    site = f"{base}/lib/python{version}/site-packages"
    return Layout(
        kind=kind,
        destdir=destdir,
        purelib=site,
        platlib=site,
        scripts=f"{base}/bin",
        headers=f"{base}/include/python{version}",
        data=base,
        interpreter=interpreter,
    )


def _image_python(request: LayoutRequest, target: Target) -> str:
    """The final image's interpreter for --user and --venv: --python's, the --layout's, or PREFIX/bin/pythonX.Y."""
    if request.python is not None:
        return request.python.executable
    if request.preset is not None:
        return _preset_scheme(request.preset, target)["interpreter"]
    if request.root is None and request.prefix is None and (here := _this_machines_python(target)) is not None:
        return here  # no --root: the environment is for this machine, and runs its interpreter
    return f"{_absolute_posix(request.prefix or DEFAULT_PREFIX)}/bin/python{target.python_version}"


def _this_machines_python(target: Target) -> str | None:
    """An interpreter of the target's X.Y on this machine: the running one's base, else pythonX.Y on PATH."""
    if sys.version_info[:2] == target.python[:2]:
        base = vars(sys).get("_base_executable") or sys.executable  # not the venv's own link to it
        if Path(base).is_file():  # Path("") is ".", a directory
            return str(base)
    return shutil.which(f"python{target.python_version}")


def _preset_scheme(name: str, target: Target) -> dict[str, str]:
    return PRESETS[preset_name(name)].scheme(target.python_version)


def _system_layout(destdir: Path | None, request: LayoutRequest, target: Target) -> Layout:
    if request.python is not None:
        # Exactly what `pip install --root DIR` does with this interpreter: its default
        # scheme, headers in include/<dist>, shebangs naming its sys.executable.
        paths = request.python.paths
        # A venv's sysconfig "include" is its base interpreter's: pip puts headers in the venv instead.
        venv = request.python.venv
        headers = f"{venv}/include/site/python{request.python.short_version}" if venv else paths["include"]
        scheme = {**{key: paths[key] for key in ("purelib", "platlib", "scripts", "data")}, "headers": headers}
        interpreter = request.python.executable
    else:
        assert request.preset is not None  # _make_layout's condition for coming here
        scheme = _preset_scheme(request.preset, target)
        interpreter = scheme["interpreter"]
    return Layout(
        kind="root" if destdir is not None else "system",
        destdir=destdir,
        purelib=scheme["purelib"],
        platlib=scheme["platlib"],
        scripts=scheme["scripts"],
        headers=scheme["headers"],
        data=scheme["data"],
        interpreter=request.shebang or interpreter,
    )


def _venv(destdir: Path | None, directory: Path, target: Target, python: str, shebang: str | None) -> Layout:
    # The venv scheme (what `python -m venv` and uv lay out), at a path of the final image.
    base = _absolute_posix(str(directory), "--venv") if destdir is not None else str(directory.resolve())
    version = target.python_version
    return replace(
        _posix("venv", destdir, base, target, shebang or f"{base}/bin/python"),
        headers=f"{base}/include/site/python{version}",  # the venv scheme's, not posix_prefix's
        venv_python=python,
    )


def _flat(directory: Path, interpreter: str) -> Layout:
    # pip's --target: importable parts flat in DIR, the rest beside them.  The
    # interpreter's location in the final system is unknown, so scripts look it up.
    return Layout(
        kind="target",
        destdir=None,
        purelib=str(directory),
        platlib=str(directory),
        scripts=str(directory / "bin"),
        headers=str(directory / "include" / "python"),
        data=str(directory),
        interpreter=interpreter,
    )


def _override(layout: Layout, scheme_paths: tuple[tuple[str, str], ...]) -> Layout:
    if not scheme_paths:
        return layout
    paths = dict(scheme_paths)
    return replace(
        layout,
        purelib=paths.get("purelib", layout.purelib),
        platlib=paths.get("platlib", layout.platlib),
        scripts=paths.get("scripts", layout.scripts),
        headers=paths.get("headers", layout.headers),
        data=paths.get("data", layout.data),
    )


def _absolute_posix(prefix: str, flag: str = "--prefix") -> str:
    if not prefix.startswith("/"):
        raise UsageError(
            f"{flag} {prefix!r} must be an absolute path in the target system",
            hint=f"with --root, {flag} names a directory of the final image, e.g. /usr/local",
        )
    return posixpath.normpath(prefix)


def check_place(layout: Layout, *, write: bool) -> None:
    """The tree's top must be a directory, or creatable as one; with ``write``, writable by this user.

    Checked before anything is fetched or written, so a file in the way is one clear error.
    """
    top = layout.top
    existing = next(p for p in (top, *top.parents) if p.exists() or p.is_symlink())  # top is absolute: "/" exists
    if not existing.is_dir():
        where = "is a file" if existing == top else f"is under {existing}, which is a file"
        raise UsageError(f"{_flag(layout)} {top} {where}", hint="choose a directory (existing, or one to create)")
    if write and not os.access(existing, os.W_OK | os.X_OK):
        from .errors import InstallError

        what = "" if existing == top else f" ({existing} is where it would be created)"
        raise InstallError(
            f"{_flag(layout)} {top} is not writable by this user{what}",
            hint="choose a directory you can write, or run with the permissions to write it",
        )


def _flag(layout: Layout) -> str:
    if layout.destdir is not None:
        return "--root"
    return {"prefix": "--prefix", "target": "--target", "user": "--user", "venv": "--venv"}.get(
        layout.kind, "the layout's directory"
    )
