"""Fast checks that the offline test infrastructure itself works."""

from __future__ import annotations

import io
import re
import stat
import sys
import urllib.error
import urllib.request
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest
from installer.sources import WheelFile

from tests.support.index import LocalIndex
from tests.support.uvproject import UvError, uv_oracle_target, write_project
from tests.support.wheels import build_wheel, expand_tags, record_hash

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - uvroot supports 3.10, which lacks tomllib
    import tomli as tomllib


def _read(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=10) as resp:
        return resp.read()


def _lock(project: Path) -> dict:
    return tomllib.loads((project / "uv.lock").read_text(encoding="utf-8"))


def _installed_tag(target: Path) -> str:
    """The ``TAG`` baked into whichever ``native`` variant was installed."""
    text = (target / "native" / "__init__.py").read_text(encoding="utf-8")
    match = re.search(r'^TAG = "([^"]+)"$', text, re.MULTILINE)
    assert match, text
    return match.group(1)


# -- wheels ------------------------------------------------------------------


def _rich_wheel(out: Path) -> Path:
    return build_wheel(
        out,
        "My.Pkg",
        "1.0",
        tag="cp312-cp312-manylinux_2_17_x86_64.manylinux2014_x86_64",
        build="1",
        requires=["beta>=1"],
        extras={"fancy": ["fancy-dep; sys_platform == 'linux'"]},
        requires_python=">=3.8",
        console_scripts={"mp": "my_pkg:main"},
        data_scripts={"tool": "#!python\nprint('hi')\n"},
        headers={"h.h": "/* h */\n"},
        data={"share/x/y.txt": "y\n"},
    )


def test_built_wheel_is_valid_and_deterministic(tmp_path: Path) -> None:
    first = _rich_wheel(tmp_path / "a")
    second = _rich_wheel(tmp_path / "b")
    assert first.name == ("my_pkg-1.0-1-cp312-cp312-manylinux_2_17_x86_64.manylinux2014_x86_64.whl")
    assert first.read_bytes() == second.read_bytes()

    with WheelFile.open(first) as source:
        source.validate_record()  # every file hashed and sized correctly
        assert source.distribution == "my_pkg"

    with zipfile.ZipFile(first) as zf:
        meta = zf.read("my_pkg-1.0.dist-info/METADATA").decode()
        wheel = zf.read("my_pkg-1.0.dist-info/WHEEL").decode()
        script = zf.getinfo("my_pkg-1.0.data/scripts/tool")
        assert zf.namelist()[-1] == "my_pkg-1.0.dist-info/RECORD"
    assert "Requires-Dist: beta>=1" in meta
    assert "Provides-Extra: fancy" in meta
    assert "Requires-Dist: fancy-dep; (sys_platform == 'linux') and extra == \"fancy\"" in meta
    assert "Requires-Python: >=3.8" in meta
    assert "Root-Is-Purelib: false" in wheel
    assert "Tag: cp312-cp312-manylinux2014_x86_64" in wheel
    assert "Build: 1" in wheel
    # Not executable in the archive: the installer has to set +x itself.
    assert stat.S_IMODE(script.external_attr >> 16) == 0o644


def test_pure_wheel_defaults(tmp_path: Path) -> None:
    path = build_wheel(tmp_path, "fancy-dep", "1.0")
    assert path.name == "fancy_dep-1.0-py3-none-any.whl"
    with zipfile.ZipFile(path) as zf:
        assert "Root-Is-Purelib: true" in zf.read("fancy_dep-1.0.dist-info/WHEEL").decode()
        init = zf.read("fancy_dep/__init__.py").decode()
    assert 'TAG = "py3-none-any"' in init and "def main():" in init


def test_tag_helpers() -> None:
    assert expand_tags("py2.py3-none-any") == ["py2-none-any", "py3-none-any"]
    # Known vector: sha256 of b"" in RECORD form.
    assert record_hash(b"") == "sha256=47DEQpj8HBSa-_TImW-5JCeuQeRkm5NMpJWZG3hSuFU"


# -- index -------------------------------------------------------------------


def test_index_listing(index: LocalIndex) -> None:
    root = _read(index.url + "/").decode()
    assert 'href="fancy-dep/"' in root and 'href="native/"' in root

    page = _read(index.url + "/beta/").decode()
    assert f'href="{index.files_url}/beta-2.0-py3-none-any.whl#sha256=' in page
    assert 'data-requires-python="&gt;=3.12"' in page
    assert index.url.startswith("http://127.0.0.1:")

    with pytest.raises(urllib.error.HTTPError):
        _read(index.url + "/no-such-project/")


def test_index_corrupt_and_reset(index: LocalIndex, wheelhouse: Path) -> None:
    name = "beta-1.0-py3-none-any.whl"
    good = (wheelhouse / name).read_bytes()
    index.reset()
    try:
        index.corrupt(name)
        bad = _read(f"{index.files_url}/{name}")
        assert bad != good
        assert zipfile.ZipFile(io.BytesIO(bad)).testzip() is None  # still a valid zip
    finally:
        index.reset()
    assert _read(f"{index.files_url}/{name}") == good
    assert index.downloads() == [name]


# -- uv lock + oracle ----------------------------------------------------------


def test_write_project_renders_groups(tmp_path: Path) -> None:
    path = write_project(
        tmp_path,
        dependencies=["alpha"],
        optional={"fancy": ["alpha[fancy]"]},
        groups={"dev": ["devtool"], "lint": ["linttool", {"include-group": "dev"}]},
        dev_dependencies=["docstool"],
        tool_uv='default-groups = ["dev", "lint"]',
    )
    doc = tomllib.loads(path.read_text())
    assert doc["dependency-groups"]["lint"] == ["linttool", {"include-group": "dev"}]
    assert doc["tool"]["uv"] == {
        "package": False,
        "dev-dependencies": ["docstool"],
        "default-groups": ["dev", "lint"],
    }


def test_uv_lock_forks_on_python_version(make_locked_project: Callable[..., Path], index: LocalIndex) -> None:
    index.reset()
    project = make_locked_project(dependencies=["alpha"], requires_python=">=3.8")
    assert index.downloads() == []  # PEP 658 metadata: locking fetches no wheel
    lock = _lock(project)
    assert lock["resolution-markers"]
    betas = sorted(p["version"] for p in lock["package"] if p["name"] == "beta")
    assert betas == ["1.0", "2.0"]
    app = next(p for p in lock["package"] if p["name"] == "app")
    assert app["source"] == {"virtual": "."}
    wheel_url = next(p for p in lock["package"] if p["name"] == "alpha")["wheels"][0]["url"]
    assert wheel_url.startswith(index.files_url)


@pytest.fixture
def native_project(make_locked_project: Callable[..., Path]) -> Path:
    return make_locked_project(dependencies=["native"], requires_python=">=3.8")


@pytest.mark.parametrize(
    ("platform", "version", "expected"),
    [
        # Exact cp312 beats abi3 and beats the older manylinux_2_17 wheel.
        ("x86_64-manylinux_2_28", "3.12", "cp312-cp312-manylinux_2_28_x86_64"),
        ("aarch64-unknown-linux-musl", "3.12", "cp312-cp312-musllinux_1_2_aarch64"),
        (
            "x86_64-manylinux_2_28",
            "3.11",
            "cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64",
        ),
        # No cp313 wheel: the abi3 one is next best, ahead of py3-none-any.
        (
            "x86_64-manylinux_2_17",
            "3.13",
            "cp38-abi3-manylinux_2_17_x86_64.manylinux2014_x86_64",
        ),
        ("x86_64-pc-windows-msvc", "3.12", "cp312-cp312-win_amd64"),
        ("aarch64-apple-darwin", "3.12", "cp312-cp312-macosx_11_0_arm64"),
        ("aarch64-apple-darwin", "3.11", "py3-none-any"),
    ],
)
def test_oracle_picks_expected_native_variant(
    native_project: Path,
    index: LocalIndex,
    uv_cache: Path,
    tmp_path: Path,
    platform: str,
    version: str,
    expected: str,
) -> None:
    out = uv_oracle_target(
        native_project,
        tmp_path / "target",
        python_platform=platform,
        python_version=version,
        index_url=index.url,
        cache_dir=uv_cache,
    )
    assert _installed_tag(out) == expected
    has_ext = (out / "native" / "_ext.cpython-312-x86_64-linux-gnu.so").exists()
    assert has_ext == (expected == "cp312-cp312-manylinux_2_28_x86_64")
    assert not (out / ".lock").exists()


def test_oracle_installs_data_scripts_executable(
    make_locked_project: Callable[..., Path],
    index: LocalIndex,
    uv_cache: Path,
    tmp_path: Path,
) -> None:
    project = make_locked_project(dependencies=["gadgets"])
    out = uv_oracle_target(
        project,
        tmp_path / "target",
        python_platform="x86_64-manylinux_2_28",
        python_version="3.12",
        index_url=index.url,
        cache_dir=uv_cache,
    )
    for script in ("gadget-tool", "gadget.sh", "gadget"):
        assert (out / "bin" / script).stat().st_mode & stat.S_IXUSR, script
    assert (out / "bin" / "gadget-tool").read_text().startswith("#!/")
    assert (out / "gadgets" / "__init__.py").is_file()


def test_corrupted_wheel_fails_uv_hash_check(
    make_locked_project: Callable[..., Path], index: LocalIndex, tmp_path: Path
) -> None:
    """corrupt() is visible to a hash-checking client (given a cold cache:
    with a warm one uv reuses its verified copy and never re-downloads)."""
    project = make_locked_project(dependencies=["fancy-dep"])
    index.corrupt("fancy_dep-1.0-py3-none-any.whl")
    try:
        with pytest.raises(UvError, match="Hash mismatch"):
            uv_oracle_target(
                project,
                tmp_path / "target",
                python_platform="x86_64-manylinux_2_28",
                python_version="3.12",
                index_url=index.url,
                cache_dir=tmp_path / "cold-cache",
            )
    finally:
        index.reset()
