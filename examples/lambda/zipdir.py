"""Zip a directory reproducibly (stdlib only): the same files give a byte-identical zip.

    python3 zipdir.py OUT.zip DIR [FILE ...]

Entries are DIR's files (relative paths) plus each FILE at the top of the
archive, sorted by name.  Nothing of the build machine leaks in: every entry
gets the same Unix attributes (0644, or 0755 if the file is executable),
deflate level 9, no extra fields, and its file's mtime clamped to
SOURCE_DATE_EPOCH (default 315532800, 1980-01-01T00:00:00Z, the earliest a
zip can hold): uvroot stamps what it stages at that time already, and a
FILE checked out later is clamped to it.  Directories are implied by the
paths; symbolic links are refused (stage with --link-mode copy).
"""

from __future__ import annotations

import os
import stat
import sys
import time
import zipfile
from pathlib import Path

ZIP_EPOCH = 315532800  # 1980-01-01T00:00:00Z: DOS timestamps cannot go earlier


def entries(directory: Path, extra: list[Path]) -> dict[str, Path]:
    """Archive name -> file, for every file under ``directory`` and each extra file."""
    found: dict[str, Path] = {}
    for path in sorted(directory.rglob("*")):
        if path.is_symlink():
            raise SystemExit(f"zipdir: {path} is a symbolic link; refusing (stage with --link-mode copy)")
        if path.is_file():
            found[path.relative_to(directory).as_posix()] = path
    for path in extra:
        if path.name in found:
            raise SystemExit(f"zipdir: {path.name} is already in {directory}")
        found[path.name] = path
    return found


def zip_info(name: str, path: Path, epoch: int) -> zipfile.ZipInfo:
    """A ZipInfo that depends only on the name, the executable bit and the (clamped) mtime."""
    st = path.stat()
    mtime = max(min(int(st.st_mtime), epoch), ZIP_EPOCH)
    info = zipfile.ZipInfo(name, date_time=time.gmtime(mtime)[:6])
    info.create_system = 3  # Unix, so unzip and Lambda read the modes below
    mode = 0o755 if st.st_mode & 0o111 else 0o644
    info.external_attr = (stat.S_IFREG | mode) << 16
    info.compress_type = zipfile.ZIP_DEFLATED
    return info


def zipdir(out: Path, directory: Path, extra: list[Path]) -> int:
    """Write ``out``; returns the number of entries."""
    epoch = int(os.environ.get("SOURCE_DATE_EPOCH", ZIP_EPOCH))
    files = entries(directory, extra)
    tmp = out.with_name(out.name + ".tmp")
    with zipfile.ZipFile(tmp, "w") as archive:
        for name in sorted(files):
            archive.writestr(zip_info(name, files[name], epoch), files[name].read_bytes(), compresslevel=9)
    tmp.replace(out)
    return len(files)


def main(argv: list[str]) -> int:
    """Command line: ``OUT.zip DIR [FILE ...]``; returns the exit status."""
    if len(argv) < 2:
        print(__doc__.strip().splitlines()[2].strip(), file=sys.stderr)
        return 2
    out, directory, *extra = (Path(arg) for arg in argv)
    if not directory.is_dir():
        print(f"zipdir: {directory} is not a directory", file=sys.stderr)
        return 2
    count = zipdir(out, directory, extra)
    print(f"zipdir: {count} files -> {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
