"""Build small, real, spec-valid wheels for offline tests.

The wheels follow the binary distribution format spec
(https://packaging.python.org/en/latest/specifications/binary-distribution-format/)
closely enough that uv, pip and ``installer`` accept them.  Output is
deterministic: the same inputs always give byte-identical files, so the
sha256 hashes that end up in a ``uv.lock`` are stable across runs.
"""

from __future__ import annotations

import base64
import hashlib
import itertools
import re
import zipfile
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path

from packaging.version import Version

Content = bytes | str  # file contents; str is written as UTF-8

# Zip timestamps before 1980 are invalid; a fixed date keeps output stable.
_ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)
# Regular file, rw-r--r--.  Scripts are stored like this on purpose so tests
# can check that the installer (not the archive) makes them executable.
_FILE_MODE = 0o100644 << 16

__all__ = [
    "build_wheel",
    "default_files",
    "dist_name",
    "expand_tags",
    "import_name",
    "record_hash",
]


def dist_name(name: str) -> str:
    """Return the wheel-filename form of a project name (``My.Pkg`` -> ``my_pkg``)."""
    return re.sub(r"[-_.]+", "_", name).lower()


def import_name(name: str) -> str:
    """Return the Python package name the default files use for ``name``."""
    return dist_name(name)


def expand_tags(tag: str) -> list[str]:
    """Expand a compressed tag set into individual tags, in a stable order.

    ``cp312-cp312-manylinux_2_17_x86_64.manylinux2014_x86_64`` becomes two
    tags; each WHEEL ``Tag:`` line must hold exactly one.
    """
    parts = tag.split("-")
    if len(parts) != 3 or not all(parts):
        raise ValueError(f"tag must be python-abi-platform, got {tag!r}")
    pythons, abis, platforms = (p.split(".") for p in parts)
    return ["-".join(t) for t in itertools.product(pythons, abis, platforms)]


def is_pure_tag(tag: str) -> bool:
    """True when every tag in the set is ``py*-none-any`` (a pure wheel)."""
    return all(t.split("-")[0].startswith("py") and t.split("-")[1:] == ["none", "any"] for t in expand_tags(tag))


def default_files(name: str, version: str, tag: str) -> dict[str, str]:
    """Return the default payload: one package that reports its own variant.

    ``TAG`` lets a test read back *which* of several platform wheels landed.
    """
    body = f'__version__ = "{version}"\nTAG = "{tag}"\n\n\ndef main():\n    print("{name} {version} {tag}")\n'
    return {f"{import_name(name)}/__init__.py": body}


def record_hash(data: bytes) -> str:
    """Return a RECORD hash field: ``sha256=`` + urlsafe base64 without padding."""
    digest = hashlib.sha256(data).digest()
    return "sha256=" + base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def _to_bytes(content: Content) -> bytes:
    return content.encode("utf-8") if isinstance(content, str) else content


def _metadata(
    name: str,
    version: str,
    requires: Sequence[str],
    extras: Mapping[str, Sequence[str]],
    requires_python: str | None,
) -> str:
    """Render a Metadata-Version 2.1 METADATA file."""
    lines = ["Metadata-Version: 2.1", f"Name: {name}", f"Version: {version}"]
    if requires_python:
        lines.append(f"Requires-Python: {requires_python}")
    lines += [f"Requires-Dist: {req}" for req in requires]
    for extra in sorted(extras):
        lines.append(f"Provides-Extra: {extra}")
        lines += [f"Requires-Dist: {_with_extra(req, extra)}" for req in extras[extra]]
    return "\n".join(lines) + "\n\n"


def _with_extra(req: str, extra: str) -> str:
    """Attach ``extra == "x"`` to a requirement, keeping any marker it has."""
    spec, sep, marker = req.partition(";")
    if sep:
        return f'{spec.strip()}; ({marker.strip()}) and extra == "{extra}"'
    return f'{spec.strip()}; extra == "{extra}"'


def _wheel_file(tag: str, build: str | None, purelib: bool) -> str:
    lines = [
        "Wheel-Version: 1.0",
        "Generator: uvroot-tests (0)",
        f"Root-Is-Purelib: {'true' if purelib else 'false'}",
    ]
    lines += [f"Tag: {t}" for t in expand_tags(tag)]
    if build:
        lines.append(f"Build: {build}")
    return "\n".join(lines) + "\n"


def _entry_points(groups: Mapping[str, Mapping[str, str] | None]) -> str | None:
    """Render entry_points.txt, or None when there is nothing to declare."""
    sections = []
    for group, entries in groups.items():
        if entries:
            body = "".join(f"{k} = {v}\n" for k, v in sorted(entries.items()))
            sections.append(f"[{group}]\n{body}")
    return "\n".join(sections) if sections else None


def _prefixed(prefix: str, files: Mapping[str, Content] | None) -> dict[str, Content]:
    return {f"{prefix}/{path}": data for path, data in (files or {}).items()}


@contextmanager
def rezipped(wheel: Path) -> Iterator[dict[str, bytes]]:
    """``wheel``'s members (name -> bytes) to change in place; zipped again, in their order, on leaving.

    Written as ``ZipFile.writestr`` writes (stored, default modes): a test's edit is all that changes.
    """
    with zipfile.ZipFile(wheel) as archive:
        members = {name: archive.read(name) for name in archive.namelist()}
    yield members
    with zipfile.ZipFile(wheel, "w") as archive:
        for name, content in members.items():
            archive.writestr(name, content)


def _write_zip(path: Path, entries: Iterable[tuple[str, bytes]]) -> None:
    """Write entries in the given order with fixed timestamps and modes."""
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for arcname, data in entries:
            info = zipfile.ZipInfo(arcname, date_time=_ZIP_EPOCH)
            info.external_attr = _FILE_MODE
            info.compress_type = zipfile.ZIP_DEFLATED
            info.create_system = 3  # Unix, so external_attr mode bits are honoured
            zf.writestr(info, data)


def build_wheel(
    out_dir: Path,
    name: str,
    version: str,
    *,
    tag: str = "py3-none-any",
    build: str | None = None,
    files: Mapping[str, Content] | None = None,
    requires: Sequence[str] = (),
    extras: Mapping[str, Sequence[str]] | None = None,
    requires_python: str | None = None,
    console_scripts: Mapping[str, str] | None = None,
    gui_scripts: Mapping[str, str] | None = None,
    data_scripts: Mapping[str, Content] | None = None,
    headers: Mapping[str, Content] | None = None,
    data: Mapping[str, Content] | None = None,
    root_is_purelib: bool | None = None,
) -> Path:
    """Write a wheel into ``out_dir`` and return its path.

    ``files`` are paths relative to the wheel root (default: see
    :func:`default_files`).  ``data_scripts``, ``headers`` and ``data`` go to
    ``{dist}-{version}.data/{scripts,headers,data}/``.  ``root_is_purelib``
    defaults to true only for ``py*-none-any`` tag sets.
    """
    version = str(Version(version))  # normalized, as the spec requires
    if build is not None and not re.fullmatch(r"\d\w*", build):
        raise ValueError(f"build tag must start with a digit, got {build!r}")
    dist = dist_name(name)
    stem = f"{dist}-{version}"
    dist_info, data_dir = f"{stem}.dist-info", f"{stem}.data"
    if files is None:
        files = default_files(name, version, tag)
    if root_is_purelib is None:
        root_is_purelib = is_pure_tag(tag)

    payload: dict[str, Content] = dict(files)
    payload.update(_prefixed(f"{data_dir}/scripts", data_scripts))
    payload.update(_prefixed(f"{data_dir}/headers", headers))
    payload.update(_prefixed(f"{data_dir}/data", data))

    meta: dict[str, Content] = {
        f"{dist_info}/METADATA": _metadata(name, version, requires, extras or {}, requires_python),
        f"{dist_info}/WHEEL": _wheel_file(tag, build, root_is_purelib),
    }
    entry_points = _entry_points({"console_scripts": console_scripts, "gui_scripts": gui_scripts})
    if entry_points:
        meta[f"{dist_info}/entry_points.txt"] = entry_points

    # Sorted payload first, then .dist-info with RECORD last: the spec
    # recommends putting metadata at the end of the archive.
    ordered = [(p, _to_bytes(payload[p])) for p in sorted(payload)]
    ordered += [(p, _to_bytes(meta[p])) for p in sorted(meta)]
    record_path = f"{dist_info}/RECORD"
    record = "".join(f"{p},{record_hash(d)},{len(d)}\n" for p, d in ordered)
    ordered.append((record_path, (record + f"{record_path},,\n").encode("utf-8")))

    suffix = f"-{build}" if build else ""
    out_dir.mkdir(parents=True, exist_ok=True)
    wheel_path = out_dir / f"{stem}{suffix}-{tag}.whl"
    _write_zip(wheel_path, ordered)
    return wheel_path
