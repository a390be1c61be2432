"""An offline twin of a real uv lock: a wheel for every file it names, and the lock pointed at them.

A lock uv wrote against pypi.org (tests/data/realworld) carries what makes wheel choice hard: forks
by Python version, cpXY/abi3/musllinux/manylinux/macOS/Windows tag sets, compressed tags, markers.
The network tests stage it from PyPI.  Offline, :func:`replica_wheelhouse` builds one small wheel
per wheel file the lock lists, under the very same file name (so the same tags), each telling
which file it is (``WHEEL`` in its top-level module, a console script printing it),
:func:`replica_sdists` one small sdist per sdist (with a C source where the package has platform
wheels, so a foreign target refuses it as it would the real one), and :func:`point_lock_at` rewrites the lock's URLs, hashes and sizes to those wheels on a local index,
changing nothing else: uv's resolution, forks and markers stay as uv wrote them.  uvroot and the uv
oracle then choose among the same file names as they would on PyPI, and a wrong choice shows as a
different ``WHEEL`` line.  What the replicas do not carry is the real files' contents.
"""

from __future__ import annotations

import hashlib
import io
import re
import sys
import tarfile
from pathlib import Path
from urllib.parse import urlsplit

from packaging.utils import parse_wheel_filename

from tests.support.wheels import build_wheel, import_name

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

# One file entry of a lock: `{ url = "...", hash = "sha256:...", size = N` (upload-time may follow).
_ENTRY = re.compile(r'\{ url = "(?P<url>[^"]+\.(?:whl|tar\.gz))", hash = "sha256:[0-9a-f]{64}", size = \d+')


def wheel_filenames(lock: Path) -> list[str]:
    """Every wheel file name ``lock`` lists (registry wheels with a URL)."""
    data = tomllib.loads(lock.read_text(encoding="utf-8"))
    names = []
    for package in data.get("package", []):
        for wheel in package.get("wheels", []):
            if "url" in wheel:
                names.append(Path(urlsplit(wheel["url"]).path).name)
    return names


def replica_sdists(lock: Path, out: Path) -> dict[str, Path]:
    """A replica sdist for every registry sdist of ``lock``: PKG-INFO, pyproject.toml, and a C source
    when the package also has platform wheels (the real ones compile code), so uvroot refuses to build
    it for a foreign target as it would the real one.  File name -> path."""
    data = tomllib.loads(lock.read_text(encoding="utf-8"))
    built = {}
    for package in data.get("package", []):
        sdist = package.get("sdist", {})
        if "url" not in sdist:
            continue
        filename = Path(urlsplit(sdist["url"]).path).name
        stem, module = filename[: -len(".tar.gz")], import_name(package["name"])
        native = any(not wheel["url"].endswith("-none-any.whl") for wheel in package.get("wheels", []))
        files = {
            "PKG-INFO": f"Metadata-Version: 2.1\nName: {package['name']}\nVersion: {package['version']}\n",
            "pyproject.toml": f'[project]\nname = "{package["name"]}"\nversion = "{package["version"]}"\n',
            f"src/{module}/__init__.py": f'SDIST = "{filename}"\n',
            **({f"src/{module}/_native.c": "int answer(void) { return 42; }\n"} if native else {}),
        }
        out.mkdir(parents=True, exist_ok=True)
        with tarfile.open(out / filename, "w:gz") as archive:
            for name, text in sorted(files.items()):
                info = tarfile.TarInfo(f"{stem}/{name}")
                info.size, info.mtime = len(text.encode()), 315532800
                archive.addfile(info, io.BytesIO(text.encode()))
        built[filename] = out / filename
    return built


def replica_wheelhouse(lock: Path, out: Path) -> dict[str, Path]:
    """Build a replica of every wheel ``lock`` names into ``out``; return file name -> path."""
    built = {}
    for filename in wheel_filenames(lock):
        name, version, build, _ = parse_wheel_filename(filename)
        tag = filename[: -len(".whl")].split("-", 2 + (build != ()))[-1]
        module = import_name(name)
        files = {f"{module}/__init__.py": f'WHEEL = "{filename}"\n\n\ndef main():\n    print(WHEEL)\n'}
        path = build_wheel(
            out,
            str(name),
            str(version),
            tag=tag,
            build=str(build[0]) + build[1] if build else None,
            files=files,
            console_scripts={f"{name}-replica": f"{module}:main"},
        )
        if path.name != filename:  # the lock's spelling of the name (build_wheel writes the normalized one)
            path = path.rename(out / filename)
        built[filename] = path
    return built


def point_lock_at(lock: Path, files: dict[str, Path], *, index_url: str, files_url: str) -> None:
    """Rewrite ``lock`` in place: registry -> ``index_url``, each file's url, hash, size -> its replica."""
    text = lock.read_text(encoding="utf-8")

    def local(match: re.Match[str]) -> str:
        filename = Path(urlsplit(match["url"]).path).name
        data = files[filename].read_bytes()
        digest = hashlib.sha256(data).hexdigest()
        return f'{{ url = "{files_url}/{filename}", hash = "sha256:{digest}", size = {len(data)}'

    text = _ENTRY.sub(local, text)
    text = text.replace('registry = "https://pypi.org/simple"', f'registry = "{index_url}"')
    assert "https://" not in text  # nothing left that reaches the network
    lock.write_text(text, encoding="utf-8")
