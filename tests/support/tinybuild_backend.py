"""tinybuild: a tiny but real PEP 517 / PEP 660 build backend for offline tests.

This file is shipped VERBATIM as ``tinybuild/__init__.py`` inside
``tinybuild-1.0-py3-none-any.whl`` (see ``tests.support.wheelhouse``), so a
project declaring::

    [build-system]
    requires = ["tinybuild"]
    build-backend = "tinybuild"

builds against the local test index with uv, ``python -m build`` or
``pip wheel``.  It must therefore stay self-contained: stdlib only (plus
``tomli`` on Python < 3.11 when it happens to be importable).

What it reads from ``pyproject.toml``
-------------------------------------
``[project]``: ``name``, ``version`` (used verbatim: write it normalized),
``description``, ``requires-python``, ``dependencies``,
``optional-dependencies``, ``scripts``, ``gui-scripts``, ``entry-points``.
``dynamic`` fields take their value from ``[tool.tinybuild.dynamic]`` (e.g.
``version = "1.2"``, ``dependencies = ["alpha"]``), as a real backend computes
them at build time: a frontend cannot read them from ``pyproject.toml``.

``[tool.tinybuild]`` (all optional):

* ``import-name``: the import package/module (default: the project name,
  lowercased, runs of ``-_.`` replaced by ``_``);
* ``native = true``: tag the wheel for the BUILD interpreter and host, e.g.
  ``cp311-cp311-linux_x86_64``, and add a dummy extension module
  ``<pkg>/_native<EXT_SUFFIX>`` (e.g. ``_native.cpython-311-x86_64-linux-gnu.so``)
  so a host-only wheel can be told apart from a portable one.

What it packs
-------------
The first of ``src/<import>/``, ``<import>/``, ``src/<import>.py``,
``<import>.py`` (``__pycache__`` and ``*.pyc`` skipped).  Wheels get
METADATA 2.1, WHEEL, entry_points.txt and a RECORD with sha256 hashes; the
sdist gets PKG-INFO (Metadata-Version 2.2), pyproject.toml and the sources.
Output is deterministic: fixed timestamps, sorted members.

Editable wheels (PEP 660) hold only a ``.pth`` file naming the source
directory, like real backends do, so an editable install is easy to spot:
it contains ``_tinybuild_editable_<dist>.pth`` and no package files.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import io
import re
import sys
import sysconfig
import tarfile
import zipfile
from pathlib import Path

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - only for build environments on Python < 3.11
    try:
        import tomli as tomllib
    except ImportError as exc:
        raise ImportError("tinybuild needs Python >= 3.11 (tomllib) or the 'tomli' package") from exc

__version__ = "1.0"

__all__ = [
    "build_editable",
    "build_sdist",
    "build_wheel",
    "get_requires_for_build_editable",
    "get_requires_for_build_sdist",
    "get_requires_for_build_wheel",
    "prepare_metadata_for_build_editable",
    "prepare_metadata_for_build_wheel",
    "sdist_from",
    "wheel_from",
]

_ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)
_TAR_MTIME = 315532800  # 1980-01-01T00:00:00Z: safe to re-zip after extraction
_FILE_MODE = 0o100644 << 16


class _Project:
    """The parts of ``pyproject.toml`` the backend uses, read from the cwd."""

    def __init__(self, root: str = ".") -> None:
        self.root = Path(root).resolve()
        data = tomllib.loads((self.root / "pyproject.toml").read_text(encoding="utf-8"))
        project = data.get("project")
        dynamic = data.get("tool", {}).get("tinybuild", {}).get("dynamic", {})
        if isinstance(project, dict) and project.get("dynamic"):
            missing = [key for key in project["dynamic"] if key not in dynamic]
            if missing:
                raise ValueError(f"tinybuild: dynamic {missing} need a value in [tool.tinybuild.dynamic]")
            project = {**project, **{key: dynamic[key] for key in project["dynamic"]}}
        if not isinstance(project, dict) or "name" not in project or "version" not in project:
            raise ValueError("tinybuild: pyproject.toml needs [project] with a static name and version")
        self.project = project
        self.name = str(project["name"])
        self.version = str(project["version"])
        self.dist = re.sub(r"[-_.]+", "_", self.name).lower()
        self.config = data.get("tool", {}).get("tinybuild", {})
        self.import_name = str(self.config.get("import-name", self.dist))
        self.native = bool(self.config.get("native", False))
        self.stem = f"{self.dist}-{self.version}"
        self.dist_info = f"{self.stem}.dist-info"

    # -- sources -----------------------------------------------------------

    def source(self) -> tuple[str, str]:
        """Return (kind, path relative to root): kind is ``package`` or ``module``."""
        name = self.import_name
        for kind, rel in (
            ("package", f"src/{name}"),
            ("package", name),
            ("module", f"src/{name}.py"),
            ("module", f"{name}.py"),
        ):
            path = self.root / rel
            if path.is_dir() if kind == "package" else path.is_file():
                return kind, rel
        raise FileNotFoundError(f"tinybuild: no src/{name}/, {name}/, src/{name}.py or {name}.py under {self.root}")

    def source_files(self) -> list[tuple[str, str]]:
        """(path relative to root, path inside the wheel) for every source file, sorted."""
        kind, rel = self.source()
        top = self.root / rel
        if kind == "module":
            return [(rel, top.name)]
        found = []
        for path in top.rglob("*"):
            if path.is_dir() or "__pycache__" in path.relative_to(top).parts or path.suffix in (".pyc", ".pyo"):
                continue
            inside = path.relative_to(top.parent).as_posix()  # drops "src/" when present
            found.append((path.relative_to(self.root).as_posix(), inside))
        return sorted(found)

    def source_dir(self) -> Path:
        """The directory an editable install puts on sys.path."""
        _kind, rel = self.source()
        return (self.root / rel).parent

    # -- metadata ----------------------------------------------------------

    def metadata(self, metadata_version: str = "2.1") -> str:
        p = self.project
        lines = [f"Metadata-Version: {metadata_version}", f"Name: {self.name}", f"Version: {self.version}"]
        if p.get("description"):
            lines.append(f"Summary: {p['description']}")
        if p.get("requires-python"):
            lines.append(f"Requires-Python: {p['requires-python']}")
        lines += [f"Requires-Dist: {req}" for req in p.get("dependencies", [])]
        for extra, reqs in sorted(p.get("optional-dependencies", {}).items()):
            extra = re.sub(r"[-_.]+", "-", extra).lower()
            lines.append(f"Provides-Extra: {extra}")
            lines += [f"Requires-Dist: {_with_extra(req, extra)}" for req in reqs]
        return "\n".join(lines) + "\n\n"

    def tag(self) -> str:
        if not self.native:
            return "py3-none-any"
        impl = {"cpython": "cp", "pypy": "pp"}.get(sys.implementation.name, "py")
        interpreter = f"{impl}{sys.version_info[0]}{sys.version_info[1]}"
        abi = interpreter + ("t" if sysconfig.get_config_var("Py_GIL_DISABLED") else "")
        platform = re.sub(r"[-.]", "_", sysconfig.get_platform())
        return f"{interpreter}-{abi}-{platform}"

    def entry_points(self) -> str | None:
        groups = {
            "console_scripts": self.project.get("scripts", {}),
            "gui_scripts": self.project.get("gui-scripts", {}),
            **self.project.get("entry-points", {}),
        }
        sections = []
        for group, entries in groups.items():
            if entries:
                body = "".join(f"{k} = {v}\n" for k, v in sorted(entries.items()))
                sections.append(f"[{group}]\n{body}")
        return "\n".join(sections) if sections else None

    def dist_info_files(self) -> dict[str, bytes]:
        """METADATA, WHEEL and entry_points.txt (no RECORD), keyed by name in .dist-info."""
        wheel = [
            "Wheel-Version: 1.0",
            f"Generator: tinybuild ({__version__})",
            f"Root-Is-Purelib: {'false' if self.native else 'true'}",
            f"Tag: {self.tag()}",
        ]
        files = {"METADATA": self.metadata(), "WHEEL": "\n".join(wheel) + "\n"}
        entry_points = self.entry_points()
        if entry_points:
            files["entry_points.txt"] = entry_points
        return {name: text.encode("utf-8") for name, text in files.items()}


def _with_extra(req: str, extra: str) -> str:
    """Attach ``extra == "x"`` to a requirement, keeping any marker it has."""
    spec, sep, marker = req.partition(";")
    if sep:
        return f'{spec.strip()}; ({marker.strip()}) and extra == "{extra}"'
    return f'{spec.strip()}; extra == "{extra}"'


def _record_hash(data: bytes) -> str:
    digest = hashlib.sha256(data).digest()
    return "sha256=" + base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def _write_wheel(project: _Project, wheel_directory: str, payload: dict[str, bytes]) -> str:
    """Zip ``payload`` + .dist-info (RECORD last) into ``wheel_directory``; return the basename."""
    ordered = [(path, payload[path]) for path in sorted(payload)]
    meta = project.dist_info_files()
    ordered += [(f"{project.dist_info}/{name}", meta[name]) for name in sorted(meta)]
    record_path = f"{project.dist_info}/RECORD"
    record = "".join(f"{path},{_record_hash(data)},{len(data)}\n" for path, data in ordered)
    ordered.append((record_path, (record + f"{record_path},,\n").encode("utf-8")))

    basename = f"{project.stem}-{project.tag()}.whl"
    Path(wheel_directory).mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(Path(wheel_directory) / basename, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for arcname, data in ordered:
            info = zipfile.ZipInfo(arcname, date_time=_ZIP_EPOCH)
            info.external_attr = _FILE_MODE
            info.compress_type = zipfile.ZIP_DEFLATED
            info.create_system = 3
            zf.writestr(info, data)
    return basename


def _native_payload(project: _Project) -> dict[str, bytes]:
    if not project.native:
        return {}
    kind, _rel = project.source()
    suffix = sysconfig.get_config_var("EXT_SUFFIX") or ".so"
    where = f"{project.import_name}/" if kind == "package" else ""
    return {f"{where}_native{suffix}": b"\x7fELF tinybuild dummy extension (not loadable)\n"}


# -- PEP 517 hooks -------------------------------------------------------------


def get_requires_for_build_wheel(config_settings: dict | None = None) -> list[str]:
    return []


def get_requires_for_build_sdist(config_settings: dict | None = None) -> list[str]:
    return []


def get_requires_for_build_editable(config_settings: dict | None = None) -> list[str]:
    return []


def prepare_metadata_for_build_wheel(metadata_directory: str, config_settings: dict | None = None) -> str:
    project = _Project()
    target = Path(metadata_directory) / project.dist_info
    target.mkdir(parents=True, exist_ok=True)
    for name, data in project.dist_info_files().items():
        (target / name).write_bytes(data)
    return project.dist_info


prepare_metadata_for_build_editable = prepare_metadata_for_build_wheel


def build_wheel(
    wheel_directory: str, config_settings: dict | None = None, metadata_directory: str | None = None
) -> str:
    return wheel_from(".", wheel_directory)


def build_editable(
    wheel_directory: str, config_settings: dict | None = None, metadata_directory: str | None = None
) -> str:
    project = _Project()
    pth = f"_tinybuild_editable_{project.dist}.pth"
    return _write_wheel(project, wheel_directory, {pth: f"{project.source_dir()}\n".encode()})


def build_sdist(sdist_directory: str, config_settings: dict | None = None) -> str:
    return sdist_from(".", sdist_directory)


# -- the same builds for any directory (the hooks run in the project's cwd) ------


def wheel_from(root: str, wheel_directory: str) -> str:
    """Build the wheel of the project at ``root`` into ``wheel_directory``; return its basename."""
    project = _Project(root)
    payload = {inside: (project.root / path).read_bytes() for path, inside in project.source_files()}
    payload.update(_native_payload(project))
    return _write_wheel(project, wheel_directory, payload)


def sdist_from(root: str, sdist_directory: str) -> str:
    """Build the sdist of the project at ``root`` into ``sdist_directory``; return its basename."""
    project = _Project(root)
    top = project.stem
    members = {"PKG-INFO": project.metadata("2.2").encode("utf-8")}
    for path in ["pyproject.toml", *(p for p, _inside in project.source_files())]:
        members[path] = (project.root / path).read_bytes()

    tar_bytes = io.BytesIO()
    with tarfile.open(fileobj=tar_bytes, mode="w", format=tarfile.PAX_FORMAT) as tf:
        for path in sorted(members):
            data = members[path]
            info = tarfile.TarInfo(f"{top}/{path}")
            info.size, info.mtime, info.mode = len(data), _TAR_MTIME, 0o644
            info.uid = info.gid = 0
            info.uname = info.gname = ""
            tf.addfile(info, io.BytesIO(data))
    basename = f"{top}.tar.gz"
    Path(sdist_directory).mkdir(parents=True, exist_ok=True)
    # mtime=0 keeps the gzip header deterministic (gzip.compress stores no filename).
    (Path(sdist_directory) / basename).write_bytes(gzip.compress(tar_bytes.getvalue(), mtime=0))
    return basename
