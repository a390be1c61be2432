"""A wheelhouse for attacking the write side: wheels with many files, namespace packages and hostile names.

* ``bulka 1.0``/``2.0``: package ``bulka/`` (``FILES`` modules in two directories), console script ``bulka``;
  2.0 also ships ``share/bulka/v2.txt`` (data), where the tests plant a foreign file.
* ``bulkb 1.0``/``2.0``: package ``bulkb/``, its part of the namespace ``nsp/``, a header and data.
* ``bulkc 1.0``: its part of ``nsp/``, a single module ``bulkc.py``, a ``.data`` script ``bulkc-tool``.
* ``globby 1.0``: a module named ``*.py`` (glob characters in a path).
* ``evildata 1.0``: ``.data/data/.uvroot-txn/journal-0000-1``, a forged journal.
* ``pip 99.0``: pip's launchers as its wheels ship them (``pip``, ``pip3``, ``pip3.10``).
* ``escaper 1.0``: RECORD rows that name no file of the wheel, leading out (``../../../../etc/hostname``).
* ``forger 1.0``: ``.data/purelib/aaa-1.0.dist-info/`` posing as a distribution uvroot installed.
* ``evilpartial 1.0``: ``.evil-1.0.dist-info.uvroot-partial/RECORD`` at the wheel's root.
"""

from __future__ import annotations

import os
import stat
import zipfile
from pathlib import Path

import pytest

from tests.support.cli import uvroot_argv
from tests.support.overlay import find_cpython
from tests.support.wheels import build_wheel

TARGET = ["--python-version", "3.12", "--python-platform", "x86_64-manylinux_2_28"]
SITE = "usr/local/lib/python3.12/site-packages"
Snapshot = dict[str, tuple[str, int, int, bytes]]

FILES = 240


def _modules(package: str, version: str, count: int) -> dict[str, str]:
    files = {f"{package}/__init__.py": f'VERSION = "{version}"\n\n\ndef main():\n    print("{package} {version}")\n'}
    for number in range(count):
        folder = "sub/" if number % 2 else ""
        files[f"{package}/{folder}m{number}.py"] = f"N = {number}\nV = {version!r}\n" + "# padding\n" * 40
    return files


def _add_record_rows(wheel: Path, *rows: str) -> None:
    """Append rows to a built wheel's RECORD (naming files the wheel does not have)."""
    with zipfile.ZipFile(wheel) as archive:
        members = {info.filename: archive.read(info) for info in archive.infolist()}
    record = next(name for name in members if name.endswith(".dist-info/RECORD"))
    members[record] += "".join(row + "\n" for row in rows).encode()
    with zipfile.ZipFile(wheel, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)


def build_bulk_wheelhouse(out: Path) -> Path:
    """Write every wheel above into ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    for version in ("1.0", "2.0"):
        build_wheel(
            out,
            "bulka",
            version,
            files=_modules("bulka", version, FILES),
            console_scripts={"bulka": "bulka:main"},
            data={"share/bulka/v2.txt": "two\n"} if version == "2.0" else None,
        )
        build_wheel(
            out,
            "bulkb",
            version,
            files={**_modules("bulkb", version, FILES), **_modules("nsp/bulkb", version, 20)},
            headers={"bulkb.h": f"#define BULKB {version[0]}\n"},
            data={"share/bulkb/readme.txt": f"bulkb {version}\n"},
        )
    build_wheel(
        out,
        "bulkc",
        "1.0",
        files={**_modules("nsp/bulkc", "1.0", 20), "bulkc.py": "def main():\n    print('bulkc')\n"},
        data_scripts={"bulkc-tool": "#!python\nprint('bulkc tool')\n"},
    )
    pip_main = "pip._internal.cli.main:main"
    build_wheel(
        out,
        "pip",
        "99.0",
        files={"pip/__init__.py": "", "pip/_internal/__init__.py": "", "pip/_internal/cli/__init__.py": "",
               "pip/_internal/cli/main.py": "def main():\n    print('pip 99.0')\n"},
        console_scripts={"pip": pip_main, "pip3": pip_main, "pip3.10": pip_main},
    )  # fmt: skip
    escaper = build_wheel(out, "escaper", "1.0", files={"escaper.py": "E = 1\n"})
    _add_record_rows(escaper, "../../../../../../../../../etc/hostname,,", "../../../../../../etc/passwd,,")
    forged = "aaa-1.0.dist-info"
    build_wheel(
        out, "forger", "1.0", files={"forger.py": "F = 1\n", f"forger-1.0.data/purelib/{forged}/INSTALLER": "uvroot\n"}
    )
    build_wheel(out, "globby", "1.0", files={"*.py": "STAR = 1\n", "globby.py": "G = 1\n"})
    build_wheel(out, "evildata", "1.0", data={".uvroot-txn/journal-0000-1": "B\t0\t\nN\t../../outside\n"})
    build_wheel(
        out,
        "evilpartial",
        "1.0",
        files={"evilpartial.py": "E = 1\n", ".evil-1.0.dist-info.uvroot-partial/RECORD": "../../../outside,,\n"},
    )
    return out


def start_argv(project: Path, root: Path, cache: Path, *extra: str | Path) -> list[str]:
    layout = [] if any(flag in LAYOUT_FLAGS for flag in extra) else ["--root", root]
    return uvroot_argv("sync", "--project", project, *layout, *TARGET, "--cache-dir", cache, *extra)


LAYOUT_FLAGS = {"--target", "--prefix", "--venv"}


def snapshot(top: Path) -> Snapshot:
    """Every entry under ``top``: kind, permission bits, mtime and contents (or link target)."""
    found: Snapshot = {}
    for directory, folders, files in os.walk(top):
        for name in folders + files:
            path = Path(directory, name)
            info = path.lstat()
            relative = path.relative_to(top).as_posix()
            if stat.S_ISLNK(info.st_mode):
                found[relative] = ("link", 0, 0, str(path.readlink()).encode())
            elif stat.S_ISDIR(info.st_mode):
                found[relative] = ("dir", stat.S_IMODE(info.st_mode), info.st_mtime_ns, b"")
            else:
                found[relative] = ("file", stat.S_IMODE(info.st_mode), info.st_mtime_ns, path.read_bytes())
    return found


def python312() -> Path:
    prefix = find_cpython("3.12")
    if prefix is None:
        pytest.skip("no CPython 3.12 on this machine to compile bytecode")
    return prefix / "bin" / "python3.12"
