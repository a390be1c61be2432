"""Launchers as the image's Python expects them: pip's versioned names and ``--shebang`` spellings."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable
from pathlib import Path

from tests.support.bulk import start_argv


def _sync(project: Path, root: Path, cache: Path, *extra: str) -> None:
    result = subprocess.run(start_argv(project, root, cache, *extra), capture_output=True, text=True,
                            env={**os.environ, "CI": "1"}, check=False)  # fmt: skip
    assert result.returncode == 0, result.stderr


def test_pip_gets_its_launchers_for_the_target_version(bulk_project: Callable[..., Path], tmp_path: Path) -> None:
    # pip's wheel names pip3.X after the Python it was built with; pip and uv write the installing one's.
    root = tmp_path / "root"
    _sync(bulk_project("pip==99.0"), root, tmp_path / "cache")
    scripts = sorted(p.name for p in (root / "usr/local/bin").iterdir())
    assert scripts == ["pip", "pip3", "pip3.12"]
    record = (root / "usr/local/lib/python3.12/site-packages/pip-99.0.dist-info/RECORD").read_text()
    assert "../../../bin/pip3.12," in record and "pip3.10" not in record
    assert (root / "usr/local/bin/pip3.12").read_text().startswith("#!/usr/local/bin/python3.12\n")


def test_a_shebang_given_with_its_hash_bang_is_written_once(bulk_project: Callable[..., Path], tmp_path: Path) -> None:
    root = tmp_path / "root"
    _sync(bulk_project("bulka==1.0"), root, tmp_path / "cache", "--shebang", "#!/usr/bin/python3")
    assert (root / "usr/local/bin/bulka").read_text().startswith("#!/usr/bin/python3\n")
