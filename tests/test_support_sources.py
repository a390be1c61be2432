"""Fast checks of the BUILD test infrastructure: tinybuild, sdists on the index, source locks."""

from __future__ import annotations

import gzip
import subprocess
import sys
import sysconfig
import tarfile
import urllib.request
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest
from installer.sources import WheelFile

from tests.support import tinybuild_backend
from tests.support.index import LocalIndex
from tests.support.sources import (
    GitRepo,
    file_url,
    git_requirement,
    uv_oracle_sync,
    write_package,
)
from tests.support.uvproject import run_uv, uv_env, uv_lock, write_project
from tests.support.wheelhouse import SDIST_ONLY, TINYBUILD_WHEEL

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - uvroot supports 3.10, which lacks tomllib
    import tomli as tomllib


def _read(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=10) as resp:
        return resp.read()


def _packages(project: Path) -> dict[str, dict]:
    lock = tomllib.loads((project / "uv.lock").read_text(encoding="utf-8"))
    return {p["name"]: p for p in lock["package"]}


def _site(venv: Path) -> Path:
    return next(venv.glob("lib/python*/site-packages"))


# -- tinybuild -------------------------------------------------------------------


def _rich_package(dir: Path) -> Path:
    return write_package(
        dir,
        name="Rich.Pkg",
        version="1.2",
        dependencies=["beta>=1"],
        optional={"fancy": ["fancy-dep; sys_platform == 'linux'"]},
        scripts={"rich": "rich_pkg:main"},
    )


def test_uv_build_with_tinybuild_makes_valid_wheel_and_sdist(tmp_path: Path, index: LocalIndex, uv_cache: Path) -> None:
    tree = _rich_package(tmp_path / "rich")
    out = tmp_path / "dist"
    # uv build: sdist first, then the wheel from the unpacked sdist, in
    # isolated build envs that get tinybuild from the local index.
    run_uv(
        ["build", "--no-config", "--default-index", index.url, "--python", sys.executable, "--out-dir", str(out), "."],
        cwd=tree,
        cache_dir=uv_cache,
    )
    wheel, sdist = out / "rich_pkg-1.2-py3-none-any.whl", out / "rich_pkg-1.2.tar.gz"
    with WheelFile.open(wheel) as source:
        source.validate_record()
    with zipfile.ZipFile(wheel) as zf:
        names = zf.namelist()
        meta = zf.read("rich_pkg-1.2.dist-info/METADATA").decode()
        entry_points = zf.read("rich_pkg-1.2.dist-info/entry_points.txt").decode()
        wheel_file = zf.read("rich_pkg-1.2.dist-info/WHEEL").decode()
    assert names[0] == "rich_pkg/__init__.py" and names[-1] == "rich_pkg-1.2.dist-info/RECORD"
    assert "Name: Rich.Pkg\nVersion: 1.2\n" in meta and "Requires-Python: >=3.8" in meta
    assert "Requires-Dist: beta>=1" in meta and "Provides-Extra: fancy" in meta
    assert """Requires-Dist: fancy-dep; (sys_platform == 'linux') and extra == "fancy\"""" in meta
    assert entry_points == "[console_scripts]\nrich = rich_pkg:main\n"
    assert "Root-Is-Purelib: true\nTag: py3-none-any\n" in wheel_file

    with tarfile.open(sdist) as tf:
        assert sorted(tf.getnames()) == [
            "rich_pkg-1.2/PKG-INFO",
            "rich_pkg-1.2/pyproject.toml",
            "rich_pkg-1.2/src/rich_pkg/__init__.py",
        ]
    # Deterministic: the sdist uv got equals one built in-process, byte for byte.
    again = tinybuild_backend.sdist_from(str(tree), str(tmp_path / "again"))
    assert (tmp_path / "again" / again).read_bytes() == sdist.read_bytes()


def test_pip_wheel_builds_with_tinybuild(tmp_path: Path, index: LocalIndex, uv_cache: Path) -> None:
    """The other frontend: pip's isolated build env also gets tinybuild from the local index."""
    tree = _rich_package(tmp_path / "rich")
    proc = subprocess.run(
        [
            *(sys.executable, "-m", "pip", "wheel", "--isolated", "--no-deps", "--no-cache-dir"),
            *("--disable-pip-version-check", "--index-url", index.url, "--wheel-dir", str(tmp_path / "out"), str(tree)),
        ],
        env=uv_env(uv_cache),  # also drops PIP_* variables (this machine sets PIP_FIND_LINKS)
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    wheel = tmp_path / "out" / "rich_pkg-1.2-py3-none-any.whl"
    with WheelFile.open(wheel) as source:
        source.validate_record()
    assert wheel.read_bytes() == (tmp_path / tinybuild_backend.wheel_from(str(tree), str(tmp_path))).read_bytes()


def test_tinybuild_native_wheel_is_tagged_for_this_host(tmp_path: Path) -> None:
    tree = write_package(tmp_path / "nat", name="nat", native=True)
    name = tinybuild_backend.wheel_from(str(tree), str(tmp_path))
    py = f"cp{sys.version_info[0]}{sys.version_info[1]}"
    platform = sysconfig.get_platform().replace("-", "_").replace(".", "_")
    assert name == f"nat-1.0-{py}-{py}-{platform}.whl"  # e.g. nat-1.0-cp311-cp311-linux_x86_64.whl
    with zipfile.ZipFile(tmp_path / name) as zf:
        assert f"nat/_native{sysconfig.get_config_var('EXT_SUFFIX')}" in zf.namelist()
        assert "Root-Is-Purelib: false" in zf.read("nat-1.0.dist-info/WHEEL").decode()


def test_tinybuild_finds_flat_packages_and_single_modules(tmp_path: Path) -> None:
    flat = write_package(tmp_path / "flat", name="flat")
    (flat / "src").rename(flat / "gone")  # src/flat/ -> gone/flat/ ...
    (flat / "gone" / "flat").rename(flat / "flat")  # ... -> flat/ (no src layout)
    (flat / "flat" / "__pycache__").mkdir()
    (flat / "flat" / "__pycache__" / "x.pyc").write_bytes(b"")
    (flat / "flat" / "sub").mkdir()
    (flat / "flat" / "sub" / "data.txt").write_text("d\n")
    mod = write_package(tmp_path / "mod", name="mod", extra_pyproject='[tool.tinybuild]\nimport-name = "single"')
    (mod / "src").rename(mod / "gone")
    (mod / "single.py").write_text("X = 1\n")

    def members(tree: Path) -> list[str]:
        with zipfile.ZipFile(tmp_path / tinybuild_backend.wheel_from(str(tree), str(tmp_path))) as zf:
            return [n for n in zf.namelist() if ".dist-info/" not in n]

    assert members(flat) == ["flat/__init__.py", "flat/sub/data.txt"]
    assert members(mod) == ["single.py"]


def test_tinybuild_editable_wheel_is_a_pth(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    tree = write_package(tmp_path / "ed", name="ed")
    monkeypatch.chdir(tree)  # PEP 517 hooks run in the project directory
    assert tinybuild_backend.get_requires_for_build_editable() == []
    name = tinybuild_backend.build_editable(str(tmp_path / "out"))
    with zipfile.ZipFile(tmp_path / "out" / name) as zf:
        assert zf.read("_tinybuild_editable_ed.pth").decode() == f"{tree.resolve() / 'src'}\n"
        assert not [n for n in zf.namelist() if n.startswith("ed/")]
    assert tinybuild_backend.prepare_metadata_for_build_wheel(str(tmp_path / "meta")) == "ed-1.0.dist-info"


# -- the index serves sdists ----------------------------------------------------


def test_index_serves_sdists(index: LocalIndex, wheelhouse: Path) -> None:
    assert (wheelhouse / TINYBUILD_WHEEL).is_file() and (wheelhouse / SDIST_ONLY).is_file()
    assert not list(wheelhouse.glob("sdistonly-*.whl"))
    assert 'href="sdistonly/"' in _read(index.url + "/").decode()
    page = _read(index.url + "/sdistonly/").decode()
    assert f'href="{index.files_url}/{SDIST_ONLY}#sha256=' in page
    assert 'data-requires-python="&gt;=3.8"' in page and "data-core-metadata" not in page

    good = (wheelhouse / SDIST_ONLY).read_bytes()
    index.reset()
    try:
        index.corrupt(SDIST_ONLY)
        bad = _read(f"{index.files_url}/{SDIST_ONLY}")
        assert bad != good and gzip.decompress(bad) == gzip.decompress(good)  # still a valid archive
    finally:
        index.reset()
    assert _read(f"{index.files_url}/{SDIST_ONLY}") == good


# -- locks of every source kind, and the uv sync oracle ----------------------------


def test_sdist_only_package_locks_and_builds(tmp_path: Path, index: LocalIndex) -> None:
    cache = tmp_path / "uv-cache"  # own cache: uv must fetch the sdist here
    project = tmp_path / "project"
    write_project(project, dependencies=["sdistonly"])
    index.reset()
    uv_lock(project, index.url, cache_dir=cache)
    pkg = _packages(project)["sdistonly"]
    assert pkg["source"] == {"registry": index.url}
    assert pkg["sdist"]["url"] == f"{index.files_url}/{SDIST_ONLY}" and pkg["sdist"]["hash"].startswith("sha256:")
    assert "wheels" not in pkg
    # Locking reads the sdist's PKG-INFO (Metadata-Version 2.2): no build, no tinybuild.
    assert index.sdist_downloads() == [SDIST_ONLY] and index.downloads() == []

    venv = tmp_path / "venv"
    installed = uv_oracle_sync(project, venv, index_url=index.url, cache_dir=cache)
    assert installed == ["sdistonly==1.0"]
    assert TINYBUILD_WHEEL in index.downloads()  # uv sync built it with tinybuild
    out = subprocess.run([venv / "bin" / "sdistonly"], capture_output=True, text=True, check=True).stdout
    assert out == "sdistonly 1.0\n"


_LIST_DISTRIBUTIONS = (
    "import importlib.metadata as m, re\n"
    "names = {(re.sub(r'[-_.]+', '-', d.metadata['Name']).lower(), d.version) for d in m.distributions()}\n"
    "print(*sorted(f'{n}=={v}' for n, v in names))"
)


def test_git_dependencies_lock_at_the_commit(
    make_git_package: Callable[..., GitRepo],
    make_locked_project: Callable[..., Path],
    oracle_sync: Callable[..., list[str]],
) -> None:
    url, commit = make_git_package(name="gitpkg", dependencies=["fancy-dep"])
    sub_url, sub_commit = make_git_package(name="subpkg", subdirectory="sub")
    assert url.startswith("git+file:///") and len(commit) == 40
    project = make_locked_project(
        dependencies=[
            git_requirement("gitpkg", url, commit),
            git_requirement("subpkg", sub_url, sub_commit, subdirectory="sub"),
        ]
    )
    packages = _packages(project)
    plain = url.removeprefix("git+")
    assert packages["gitpkg"]["source"] == {"git": f"{plain}?rev={commit}#{commit}"}
    sub = sub_url.removeprefix("git+")
    assert packages["subpkg"]["source"] == {"git": f"{sub}?subdirectory=sub&rev={sub_commit}#{sub_commit}"}
    assert "sdist" not in packages["gitpkg"] and "wheels" not in packages["gitpkg"]
    assert oracle_sync(project) == ["fancy-dep==1.0", "gitpkg==1.0", "subpkg==1.0"]


def test_workspace_locks_members(
    make_workspace: Callable[..., Path], oracle_sync: Callable[..., list[str]], tmp_path: Path
) -> None:
    ws = make_workspace()
    lock = tomllib.loads((ws / "uv.lock").read_text(encoding="utf-8"))
    assert lock["manifest"]["members"] == ["app", "core", "wsroot"]
    packages = _packages(ws)
    assert packages["wsroot"]["source"] == {"editable": "."}
    assert packages["app"]["source"] == {"editable": "libs/app"}
    assert packages["core"]["source"] == {"editable": "libs/core"}
    assert packages["wsroot"]["metadata"]["requires-dist"] == [{"name": "app", "editable": "libs/app"}]
    assert packages["app"]["metadata"]["requires-dist"] == [
        {"name": "alpha"},
        {"name": "core", "editable": "libs/core"},
    ]
    beta = "beta==2.0" if sys.version_info >= (3, 12) else "beta==1.0"
    assert oracle_sync(ws) == ["alpha==1.0", "app==2.0", beta, "core==1.0", "wsroot==0.1.0"]


def test_path_and_directory_dependencies(
    make_package: Callable[..., Path],
    make_locked_project: Callable[..., Path],
    index: LocalIndex,
    uv_cache: Path,
    tmp_path: Path,
) -> None:
    make_package(name="x", dependencies=["fancy-dep"])
    make_package(name="y", native=True)
    make_package(name="z")
    direct = make_package(name="d")
    project = make_locked_project(
        name="pathapp",
        backend="tinybuild",  # the project itself is a real, buildable package
        scripts={"pathapp": "pathapp:main"},
        dependencies=["x", "y", "z", f"d @ {file_url(direct)}"],
        sources={
            "x": {"path": "../libs/x"},
            "y": {"path": "../libs/y", "editable": False},
            "z": {"path": "../libs/z", "editable": True},
        },
    )
    packages = _packages(project)
    assert packages["pathapp"]["source"] == {"editable": "."}
    assert packages["x"]["source"] == {"directory": "../libs/x"}
    assert packages["y"]["source"] == {"directory": "../libs/y"}
    assert packages["z"]["source"] == {"editable": "../libs/z"}
    assert packages["d"]["source"] == {"directory": str(direct.resolve())}  # absolute, as written

    venv = tmp_path / "venv"
    installed = uv_oracle_sync(project, venv, index_url=index.url, cache_dir=uv_cache)
    assert installed == ["d==1.0", "fancy-dep==1.0", "pathapp==0.1.0", "x==1.0", "y==1.0", "z==1.0"]
    # Not the helper's own reading again: what the venv's Python itself finds, through importlib.metadata.
    seen = subprocess.run(
        [venv / "bin" / "python", "-c", _LIST_DISTRIBUTIONS], capture_output=True, text=True, check=True
    ).stdout.split()
    assert seen == installed
    site = _site(venv)
    # --no-editable: real files even for the editable ones, and no .pth.
    assert (site / "z" / "__init__.py").is_file() and (site / "pathapp" / "__init__.py").is_file()
    assert not list(site.glob("_tinybuild_editable_*.pth"))
    assert list((site / "y").glob("_native.*"))  # the host-only build
    out = subprocess.run([venv / "bin" / "pathapp"], capture_output=True, text=True, check=True).stdout
    assert out == "pathapp 0.1.0\n"
