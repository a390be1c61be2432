"""Layouts for every kind of image: from a real interpreter, presets, per-key paths and venvs.

The oracle for ``--python PATH`` is pip itself: ``PATH -m pip install --root``
with the same interpreter must put every file where uvroot does.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.support.cli import check_record, tree, uvroot
from tests.support.overlay import ImageSimulator, find_cpython, image_unavailable_reason

DEBIAN_PYTHON = Path("/usr/bin/python3.11")
_METADATA = {"INSTALLER", "REQUESTED", "RECORD", "direct_url.json", "uvroot.json"}


@pytest.fixture
def project(make_locked_project: Callable[..., Path]) -> Path:
    return make_locked_project(dependencies=["alpha", "gadgets", "native"], requires_python=">=3.10")


def _stage(project: Path, cache: Path, *args: str | Path, env: dict[str, str] | None = None) -> str:
    result = uvroot("sync", "--project", project, *args, cache=cache, env=env)
    assert result.exit_code == 0, result.output
    return result.output


def _python(version: str) -> Path:
    prefix = find_cpython(version)
    if prefix is None:
        pytest.skip(f"no CPython {version} on this machine")
    return prefix / "bin" / f"python{version}"


def _files(root: Path) -> set[str]:
    """Every file below root, minus bytecode and the installer-specific metadata."""
    return {
        path
        for path in tree(root)
        if "__pycache__" not in path and not (".dist-info/" in path and path.rsplit("/", 1)[1] in _METADATA)
    }


def _pip_root(python: Path, root: Path, staged: Path, wheelhouse: Path) -> None:
    """``python -m pip install --root`` of exactly the wheels uvroot chose."""
    states = [json.loads(p.read_text()) for p in staged.rglob("*.dist-info/uvroot.json")]
    wheels = [str(wheelhouse / state["wheel"]) for state in states]
    subprocess.run(
        [python, "-m", "pip", "install", "-q", "--no-deps", "--no-index", "--no-compile", "--root", root, *wheels],
        check=True,
        capture_output=True,
        env={"PATH": "/usr/bin:/bin", "PIP_DISABLE_PIP_VERSION_CHECK": "1"},
    )


@pytest.mark.parametrize("version", ["debian", "3.12", "venv"])
def test_python_layout_is_what_pip_root_does_with_that_interpreter(
    version: str, project: Path, tmp_path: Path, uvroot_cache: Path, wheelhouse: Path
) -> None:
    python = DEBIAN_PYTHON if version == "debian" else _python("3.12")
    if version == "venv":  # a venv's headers go to its include/site, not to its base interpreter's include
        subprocess.run([python, "-m", "venv", tmp_path / "env"], check=True, capture_output=True)
        python = tmp_path / "env/bin/python"
    if (
        not python.exists()
        or subprocess.run([python, "-m", "pip", "--version"], capture_output=True, check=False).returncode
    ):
        pytest.skip(f"{python} with pip is not on this machine")
    ours, pips = tmp_path / "uvroot", tmp_path / "pip"
    _stage(project, uvroot_cache, "--python", python, "--root", ours)
    _pip_root(python, pips, ours, wheelhouse)
    assert _files(ours) == _files(pips)
    for script in ("alpha", "gadget", "gadget-tool"):
        (found,) = list(ours.rglob(f"bin/{script}"))
        (expected,) = list(pips.rglob(f"bin/{script}"))
        assert found.read_bytes().split(b"\n")[0] == expected.read_bytes().split(b"\n")[0]
    if version == "debian":  # posix_local: dist-packages under /usr/local, headers under /usr/include
        assert (ours / "usr/local/lib/python3.11/dist-packages/alpha/__init__.py").is_file()
        assert (ours / "usr/include/python3.11/gadgets/gadgets.h").is_file()
        assert (ours / "usr/local/bin/alpha").read_text().startswith("#!/usr/bin/python3.11\n")


def test_debian_preset_equals_the_real_debian_interpreter(project: Path, tmp_path: Path, uvroot_cache: Path) -> None:
    if not DEBIAN_PYTHON.exists():
        pytest.skip("no Debian /usr/bin/python3.11 here")
    real, preset = tmp_path / "real", tmp_path / "preset"
    _stage(project, uvroot_cache, "--python", DEBIAN_PYTHON, "--root", real, "--python-platform", "linux")
    _stage(project, uvroot_cache, "--layout", "distroless", "--root", preset, "--python-version", "3.11",
           "--python-platform", "linux")  # fmt: skip
    assert tree(real) == tree(preset) and tree(real)


@pytest.mark.parametrize(
    ("preset", "site", "scripts", "headers", "shebang"),
    [
        ("official", "usr/local/lib/python3.12/site-packages", "usr/local/bin", "usr/local/include/python3.12",
         "/usr/local/bin/python3.12"),
        ("debian", "usr/local/lib/python3.12/dist-packages", "usr/local/bin", "usr/include/python3.12",
         "/usr/bin/python3.12"),
        ("alpine", "usr/lib/python3.12/site-packages", "usr/bin", "usr/include/python3.12", "/usr/bin/python3.12"),
    ],
)  # fmt: skip
def test_presets_put_each_part_where_the_image_looks(
    preset: str, site: str, scripts: str, headers: str, shebang: str, project: Path, tmp_path: Path, uvroot_cache: Path
) -> None:
    root = tmp_path / "root"
    _stage(project, uvroot_cache, "--layout", preset, "--root", root, "--python-version", "3.12",
           "--python-platform", "aarch64-unknown-linux-musl")  # fmt: skip
    assert (root / site / "native/__init__.py").is_file()
    assert next((root / site).glob("native/*musllinux_1_2_aarch64*"), None) or (
        json.loads((root / site / "native-1.0.dist-info/uvroot.json").read_text())["wheel"].endswith(
            "musllinux_1_2_aarch64.whl"
        )
    )
    assert (root / scripts / "alpha").read_text().startswith(f"#!{shebang}\n")
    assert (root / headers / "gadgets/gadgets.h").is_file()
    for info in (root / site).glob("*.dist-info"):
        assert check_record(info) == []


def test_scheme_path_spreads_each_kind_anywhere_and_resyncs(
    make_locked_project: Callable[..., Path], lock_project: Callable[[Path], Path], tmp_path: Path, uvroot_cache: Path
) -> None:
    project = make_locked_project(dependencies=["alpha", "gadgets", "native"], requires_python=">=3.10")
    root = tmp_path / "root"
    paths = {"purelib": "/opt/pure", "platlib": "/opt/plat", "scripts": "/opt/tools", "headers": "/opt/h",
             "data": "/srv/data"}  # fmt: skip
    args = ["--root", root, "--python-version", "3.12", "--python-platform", "linux"]
    args += [f"--scheme-path={kind}={path}" for kind, path in paths.items()]
    _stage(project, uvroot_cache, *args)
    assert (root / "opt/pure/alpha/__init__.py").is_file()  # Root-Is-Purelib: true
    assert (root / "opt/plat/native/__init__.py").is_file() and (root / "opt/plat/native-1.0.dist-info").is_dir()
    assert (root / "opt/tools/alpha").read_text().startswith("#!/usr/local/bin/python3.12\n")
    assert (root / "opt/h/gadgets/gadgets.h").is_file() and (root / "srv/data/share/gadgets/readme.txt").is_file()
    for info in [*root.glob("opt/pure/*.dist-info"), *root.glob("opt/plat/*.dist-info")]:
        assert check_record(info) == []
    python = _python("3.12")
    code = "import alpha, native; print(native.TAG)"
    path = f"{root}/opt/pure:{root}/opt/plat"
    ran = subprocess.run([python, "-c", code], env={"PYTHONPATH": path}, capture_output=True, text=True, check=True)
    assert ran.stdout.strip()
    before = tree(root)
    assert "up to date" in _stage(project, uvroot_cache, *args)  # dist-infos in both directories are found
    (project / "pyproject.toml").write_text((project / "pyproject.toml").read_text().replace(', "native"', ""))
    lock_project(project)
    _stage(project, uvroot_cache, *args)
    assert not (root / "opt/plat/native").exists() and not (root / "opt/plat/native-1.0.dist-info").exists()
    assert tree(root) != before


def test_layout_flags_that_contradict_each_other_are_refused(project: Path, tmp_path: Path) -> None:
    cases = [
        (["--layout", "debian", "--prefix", "/usr"], "--layout cannot be combined with --prefix"),
        (["--venv", "/app/.venv", "--user"], "--venv cannot be combined with --user"),
        (["--target", "t", "--scheme-path", "purelib=/x"], "--target cannot be combined with --scheme-path"),
        (["--layout", "gentoo", "--root", "r"], "--layout 'gentoo' is not a layout uvroot knows"),
        (["--root", "r", "--scheme-path", "lib=/x"], "is not KIND=PATH"),
        (["--root", "r", "--scheme-path", "purelib=relative"], "must be an absolute path"),
        (["--python", "/nonexistent/python3"], "no such interpreter"),
        (["--python", sys.executable, "--python-version", "3.8", "--root", "r"], "contradicts --python"),
    ]
    for args, message in cases:
        result = uvroot("sync", "--project", project, *[str(tmp_path / a) if a in ("t", "r") else a for a in args])
        assert result.exit_code == 2, (args, result.output)
        assert message in " ".join(result.output.split()), (args, result.output)
        assert not (tmp_path / "r").exists() and not (tmp_path / "t").exists()


@pytest.fixture
def image(tmp_path: Path) -> Iterator[ImageSimulator]:
    if reason := image_unavailable_reason("3.12"):
        pytest.skip(reason)
    prefix = find_cpython("3.12")
    assert prefix is not None
    with ImageSimulator(prefix, tmp_path / "image") as simulator:
        yield simulator


def test_venv_at_an_image_path_runs_on_the_image_python(
    project: Path, tmp_path: Path, uvroot_cache: Path, image: ImageSimulator
) -> None:
    root = tmp_path / "root"
    args = ["--venv", "/opt/venv", "--root", root, "--python-version", "3.12", "--python-platform", "linux"]
    _stage(project, uvroot_cache, *args)
    venv = root / "opt/venv"
    config = (venv / "pyvenv.cfg").read_text()
    assert "home = /usr/local/bin\n" in config and "include-system-site-packages = false\n" in config
    assert (venv / "bin/python3.12").readlink() == Path("/usr/local/bin/python3.12")
    assert (venv / "bin/alpha").read_text().startswith("#!/opt/venv/bin/python\n")
    assert (venv / "include/site/python3.12/gadgets/gadgets.h").is_file()
    assert not (root / "usr").exists()  # nothing but the environment
    image.apply(root)
    out = image.run(["/opt/venv/bin/python", "-c", "import sys, alpha; print(sys.prefix, alpha.__file__)"], check=True)
    assert out.stdout.split()[0] == "/opt/venv"
    assert out.stdout.split()[1].startswith("/opt/venv/lib/python3.12/site-packages/")
    assert image.run(["/opt/venv/bin/alpha"], check=True).returncode == 0
    # The image's pip is not in the environment (include-system-site-packages = false), as in a real venv
    # made --without-pip; the image's own pip lists what the environment holds.
    no_pip = image.run(["/opt/venv/bin/python", "-m", "pip", "--version"], check=False)
    assert no_pip.returncode != 0 and "No module named pip" in no_pip.stderr, no_pip.stderr
    site = "/opt/venv/lib/python3.12/site-packages"
    listed = image.run([image.python, "-m", "pip", "list", "--path", site, "--format=freeze"], check=True)
    assert {"alpha==1.0", "beta==2.0", "gadgets==1.0"} <= set(listed.stdout.split()), listed.stdout
    assert "up to date" in _stage(project, uvroot_cache, *args)
    (venv / "bin/python3").unlink()  # a missing link is not "up to date": the next sync puts it back
    _stage(project, uvroot_cache, *args)
    assert (venv / "bin/python3").readlink() == Path("/usr/local/bin/python3.12")


def test_venv_refuses_someone_elses_environment(project: Path, tmp_path: Path, uvroot_cache: Path) -> None:
    venv = tmp_path / "env"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", venv], check=True)
    before = tree(venv)
    result = uvroot("sync", "--project", project, "--venv", venv, cache=uvroot_cache)
    assert result.exit_code == 2 and "not an environment uvroot made" in result.output
    assert tree(venv) == before


def test_venv_without_root_is_a_working_local_environment(project: Path, tmp_path: Path, uvroot_cache: Path) -> None:
    python = _python("3.12")
    venv = tmp_path / "env"
    _stage(project, uvroot_cache, "--venv", venv, "--venv-python", python, "--python-version", "3.12",
           "--python-platform", "linux")  # fmt: skip
    ran = subprocess.run([venv / "bin/alpha"], capture_output=True, text=True, check=True)
    assert ran.stdout.strip() == "alpha 1.0 py3-none-any"
    code = "import sys; print(sys.prefix)"
    out = subprocess.run([venv / "bin/python", "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == str(venv)


def test_venv_for_a_debian_image_runs_on_debian_python(project: Path, tmp_path: Path, uvroot_cache: Path) -> None:
    if not DEBIAN_PYTHON.exists():
        pytest.skip("no Debian /usr/bin/python3.11 here")
    venv = tmp_path / "env"
    _stage(project, uvroot_cache, "--venv", venv, "--layout", "debian", "--python-version", "3.11",
           "--python-platform", "linux")  # fmt: skip
    assert (venv / "bin/python").readlink() == DEBIAN_PYTHON  # the --layout's interpreter
    assert "home = /usr/bin\n" in (venv / "pyvenv.cfg").read_text()
    code = "import sys, alpha; print(sys.prefix, sys.base_prefix, alpha.__file__)"
    out = subprocess.run([venv / "bin/python", "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out[:2] == [str(venv), "/usr"] and out[2].startswith(f"{venv}/lib/python3.11/site-packages/")


def test_python_without_root_stages_into_that_interpreters_environment(
    project: Path, tmp_path: Path, uvroot_cache: Path
) -> None:
    env = tmp_path / "env"
    subprocess.run([_python("3.12"), "-m", "venv", "--without-pip", env], check=True)
    python = env / "bin/python"
    _stage(project, uvroot_cache, "--python", python, "--python-platform", "linux")
    assert (env / "lib/python3.12/site-packages/alpha-1.0.dist-info/RECORD").is_file()
    assert (env / "bin/alpha").read_text().startswith(f"#!{python}\n")  # its sys.executable, as pip writes
    out = subprocess.run([env / "bin/alpha"], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "alpha 1.0 py3-none-any"
    assert (env / "pyvenv.cfg").is_file() and (env / "bin/python").is_symlink()  # the environment is intact
