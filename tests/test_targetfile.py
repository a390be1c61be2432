"""A target described by its own interpreter: ``uvroot target --script`` / ``--python`` and ``--target-file``."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.support.cli import tree, uvroot
from uvroot.errors import TargetError
from uvroot.targetfile import SCRIPT, read_target_file

PYENV = Path.home() / ".pyenv" / "versions"


def pyenv_python(version: str) -> Path:
    """A real CPython X.Y of this machine (pyenv's), or skip."""
    found = sorted(PYENV.glob(f"{version}.*/bin/python{version}"))
    if not found:
        pytest.skip(f"no CPython {version} under {PYENV}")
    return found[-1]


@pytest.fixture
def project(make_locked_project: Callable[..., Path]) -> Path:
    return make_locked_project(dependencies=["alpha", "native", "gadgets"], requires_python=">=3.10")


def described(python: Path, tmp_path: Path) -> tuple[Path, dict[str, Any]]:
    """``uvroot target --python PYTHON > FILE``; the file and its document."""
    result = uvroot("target", "--python", python)
    assert result.exit_code == 0, result.output
    out = tmp_path / f"{python.name}.json"
    out.write_text(result.output)
    return out, json.loads(result.output)


def test_the_script_run_by_the_interpreter_says_what_target_python_says(tmp_path: Path) -> None:
    python = pyenv_python("3.12")
    script = uvroot("target", "--script")
    assert script.exit_code == 0
    assert "import uvroot" not in script.output and "packaging" not in script.output
    # As in the image: python3 -c "$(uvroot target --script)", no uvroot there.
    ran = subprocess.run([python, "-c", script.output], capture_output=True, text=True, check=True)
    _, document = described(python, tmp_path)
    assert json.loads(ran.stdout) == document
    assert document["version"][:2] == [3, 12] and document["implementation"] == "cpython"
    assert document["libc"]["kind"] == "glibc" and document["libc"]["version"].startswith("2.")
    assert document["soabi"] == "cpython-312-x86_64-linux-gnu" or document["machine"] != "x86_64"
    assert ".abi3.so" in document["extension_suffixes"] and document["free_threading"] is False
    assert len(document["markers"]) == 11 and document["markers"]["python_version"] == "3.12"
    assert document["executable"] == str(python) and document["scheme"] == "posix_prefix"
    assert {"purelib", "platlib", "scripts", "include", "data", "stdlib"} <= set(document["paths"])


def test_the_script_runs_on_the_oldest_python_uvroot_targets() -> None:
    python = pyenv_python("3.8")
    ran = subprocess.run([python, "-I", "-c", SCRIPT], capture_output=True, text=True, check=True)
    assert json.loads(ran.stdout)["version"][:2] == [3, 8]


def test_a_target_file_reproduces_python_paths_tree_byte_for_byte(
    project: Path, tmp_path: Path, uvroot_cache: Path
) -> None:
    python = pyenv_python("3.12")
    image_json, _ = described(python, tmp_path)
    by_python, by_file = tmp_path / "by-python", tmp_path / "by-file"
    first = uvroot("sync", "--project", project, "--root", by_python, "--python", python, cache=uvroot_cache)
    assert first.exit_code == 0, first.output
    second = uvroot("sync", "--project", project, "--root", by_file, "--target-file", image_json, cache=uvroot_cache)
    assert second.exit_code == 0, second.output
    ours = tree(by_file)
    assert ours == tree(by_python)
    site = str(python.parent.parent / "lib/python3.12/site-packages").lstrip("/")
    assert f"{site}/native/__init__.py" in ours
    script = next(path for path in ours if path.endswith("/bin/alpha"))
    assert ours[script].startswith(f"#!{python}\n".encode())
    # The same again as a --user layout, which takes the image's interpreter for its scripts.
    user_py, user_file = tmp_path / "user-python", tmp_path / "user-file"
    env = {"PYTHONUSERBASE": "/home/app/.local"}
    for flag, value, root in (("--python", python, user_py), ("--target-file", image_json, user_file)):
        result = uvroot(
            "sync", "--project", project, "--root", root, "--user", flag, value, cache=uvroot_cache, env=env
        )
        assert result.exit_code == 0, result.output
    assert tree(user_py) == tree(user_file) != {}


def test_a_target_file_from_a_venv_keeps_the_venvs_headers(project: Path, tmp_path: Path, uvroot_cache: Path) -> None:
    venv = tmp_path / "venv"
    subprocess.run([pyenv_python("3.12"), "-m", "venv", "--without-pip", venv], check=True)
    image_json, document = described(venv / "bin" / "python", tmp_path)
    assert document["venv"] == str(venv)
    by_python, by_file = tmp_path / "by-python", tmp_path / "by-file"
    for flag, value, root in (("--python", venv / "bin/python", by_python), ("--target-file", image_json, by_file)):
        result = uvroot("sync", "--project", project, "--root", root, flag, value, cache=uvroot_cache)
        assert result.exit_code == 0, result.output
    assert tree(by_file) == tree(by_python)
    assert any("/include/site/python3.12/gadgets/gadgets.h" in path for path in tree(by_file))


def edited(tmp_path: Path, **changes: Any) -> Path:
    """This interpreter's description with some facts changed (an image uvroot cannot run here)."""
    document = json.loads(subprocess.run([sys.executable, "-I", "-c", SCRIPT], capture_output=True, text=True,
                                         check=True).stdout)  # fmt: skip
    for key, value in changes.items():
        if key == "python_version":
            document["version"] = [int(part) for part in value.split(".")]
            document["markers"]["python_version"] = ".".join(value.split(".")[:2])
            document["markers"]["python_full_version"] = value
        else:
            document[key] = value
    out = tmp_path / "image.json"
    out.write_text(json.dumps(document))
    return out


def test_a_musl_arm64_image_gives_musllinux_tags_and_its_own_markers(tmp_path: Path) -> None:
    path = edited(tmp_path, machine="aarch64", libc={"kind": "musl", "version": "1.2.5"}, python_version="3.12.8")
    target = read_target_file(path).target
    assert str(target) == "cp312-aarch64-musllinux_1_2"
    assert str(target.tags[0]) == "cp312-cp312-musllinux_1_2_aarch64"
    assert target.environment()["python_full_version"] == "3.12.8"
    assert target.environment()["platform_release"]  # the interpreter's own, not ""


def test_free_threading_and_32_bit_userlands(tmp_path: Path) -> None:
    free = read_target_file(edited(tmp_path, python_version="3.13.1", free_threading=True, abiflags="t")).target
    tags = [str(tag) for tag in free.tags]
    assert str(free).startswith("cp313t-") and tags[0].startswith("cp313-cp313t-manylinux")
    assert not any("-abi3-" in tag for tag in tags)  # free-threaded builds cannot load abi3 extensions
    i686 = read_target_file(edited(tmp_path, machine="x86_64", pointer_bits=32)).target
    assert i686.arch == "i686"


@pytest.mark.parametrize(
    ("changes", "words"),
    [
        ({"implementation": "pypy"}, "CPython only"),
        ({"libc": {"kind": None, "version": None}}, "not glibc or musl"),
        ({"schema": {"name": "other", "version": 9}}, "not a uvroot target description"),
        ({"paths": {}}, "lacks or garbles"),
    ],
)
def test_bad_target_files_are_refused(tmp_path: Path, changes: dict[str, Any], words: str) -> None:
    with pytest.raises(TargetError, match=words):
        read_target_file(edited(tmp_path, **changes))


@pytest.mark.parametrize(
    ("flags", "words"),
    [
        (["--image", "python:3.12-slim"], "--target-file cannot be combined with --image"),
        (["--python-platform", "linux"], "cannot be combined with --python-platform"),
        (["--python-version", "3.9"], "contradicts --target-file"),
        (["--platform", "linux/arm64"], "contradicts --target-file"),
        (["--python", "python3"], "--target-file cannot be combined with --python"),
    ],
)
def test_flags_must_agree_with_the_target_file(
    flags: list[str], words: str, project: Path, tmp_path: Path, uvroot_cache: Path
) -> None:
    image_json = edited(tmp_path)
    result = uvroot("sync", "--project", project, "--root", tmp_path / "r", "--target-file", image_json, *flags,
                    cache=uvroot_cache)  # fmt: skip
    assert result.exit_code == 2, result.output
    assert words in result.output and "Traceback" not in result.output


def test_cli_errors_for_the_target_command_and_unreadable_files(tmp_path: Path, project: Path) -> None:
    assert uvroot("target").exit_code == 2
    missing = uvroot("target", "--python", tmp_path / "nope")
    assert missing.exit_code == 2 and missing.output.startswith("error: --python")
    (tmp_path / "bad.json").write_text("{")
    bad = uvroot("plan", "--project", project, "--root", tmp_path / "r", "--target-file", tmp_path / "bad.json")
    assert bad.exit_code == 3 and "is not JSON" in bad.output and "uvroot target --script" in bad.output


def test_without_root_a_target_file_is_refused(tmp_path: Path, project: Path) -> None:
    result = uvroot("plan", "--project", project, "--target-file", edited(tmp_path))
    assert result.exit_code == 2 and "--target-file lays out" in result.output and "needs --root" in result.output


@pytest.mark.parametrize("image", ["debian:12", "gcr.io/distroless/python3-debian12"])
def test_the_debian_12_presets_match_debians_own_python(
    image: str, project: Path, tmp_path: Path, uvroot_cache: Path
) -> None:
    """Where this machine is Debian 12, its /usr/bin/python3.11 checks the presets' facts: Python, glibc, layout."""
    debian = Path("/usr/bin/python3.11")
    if not debian.is_file():
        pytest.skip("no Debian python3.11 here")
    image_json, document = described(debian, tmp_path)
    if document["scheme"] != "posix_local" or document["libc"] != {"kind": "glibc", "version": "2.36"}:
        pytest.skip("this machine is not Debian 12")
    by_file, by_image = tmp_path / "by-file", tmp_path / "by-image"
    first = uvroot("sync", "--project", project, "--root", by_file, "--target-file", image_json, cache=uvroot_cache)
    assert first.exit_code == 0, first.output
    second = uvroot("sync", "--project", project, "--root", by_image, "--image", image, "--platform", "linux/amd64",
                    cache=uvroot_cache)  # fmt: skip
    assert second.exit_code == 0, second.output
    staged = tree(by_image)
    assert staged == tree(by_file)
    assert "usr/local/lib/python3.11/dist-packages/native/__init__.py" in staged
    assert "usr/include/python3.11/gadgets/gadgets.h" in staged


def test_a_target_file_made_in_the_simulated_python_image_matches_its_preset(
    project: Path, tmp_path: Path, uvroot_cache: Path
) -> None:
    """As the README says: `docker run IMAGE python3 -c "$(uvroot target --script)"`, here in python:3.12's /usr/local."""
    from tests.support.overlay import ImageSimulator, find_cpython, image_unavailable_reason

    if reason := image_unavailable_reason("3.12"):
        pytest.skip(reason)
    script = uvroot("target", "--script").output
    with ImageSimulator(find_cpython("3.12"), tmp_path / "image") as image:
        ran = image.run(["python3.12", "-c", script], check=True)
    document = json.loads(ran.stdout)
    if document["libc"] != {"kind": "glibc", "version": "2.36"}:
        pytest.skip("the preset compared is bookworm's (glibc 2.36); this machine has another glibc")
    assert document["executable"] == "/usr/local/bin/python3.12"
    assert document["paths"]["purelib"] == "/usr/local/lib/python3.12/site-packages"
    image_json = tmp_path / "python-3.12.json"
    image_json.write_text(ran.stdout)
    by_file, by_image = tmp_path / "by-file", tmp_path / "by-image"
    first = uvroot("sync", "--project", project, "--root", by_file, "--target-file", image_json, cache=uvroot_cache)
    assert first.exit_code == 0, first.output
    second = uvroot("sync", "--project", project, "--root", by_image, "--image", "python:3.12-slim-bookworm",
                    "--platform", "linux/amd64", cache=uvroot_cache)  # fmt: skip
    assert second.exit_code == 0, second.output
    staged = tree(by_image)
    assert staged == tree(by_file)
    assert staged["usr/local/bin/alpha"].startswith(b"#!/usr/local/bin/python3.12\n")


def test_with_target_the_file_gives_only_the_target(tmp_path: Path, project: Path, uvroot_cache: Path) -> None:
    image_json = edited(tmp_path, machine="aarch64", libc={"kind": "musl", "version": "1.2.5"}, python_version="3.12.8")
    flat = tmp_path / "flat"
    result = uvroot("sync", "--project", project, "--target", flat, "--target-file", image_json, cache=uvroot_cache)
    assert result.exit_code == 0, result.output
    assert 'TAG = "cp312-cp312-musllinux_1_2_aarch64"' in (flat / "native/__init__.py").read_text()
    assert (flat / "bin/alpha").read_bytes().startswith(b"#!/usr/bin/env python3.12\n")


def _markers_without(key: str) -> dict[str, str]:
    document = json.loads(subprocess.run([sys.executable, "-I", "-c", SCRIPT], capture_output=True, text=True,
                                         check=True).stdout)  # fmt: skip
    return {name: value for name, value in document["markers"].items() if name != key}


@pytest.mark.parametrize(
    ("changes", "words"),
    [
        # a newline would end the shebang and start code in every script; a backslash breaks the polyglot
        ({"executable": "/usr/bin/python3\n__import__('os').system('echo PWNED')#"}, "executable"),
        ({"executable": "/opt/py\\N'''x/python"}, "executable"),
        ({"executable": "python3"}, "executable"),
        (
            {"paths": {"purelib": "relative/site", "platlib": "/p", "scripts": "/s", "include": "/i", "data": "/d"}},
            "paths.purelib",
        ),
        ({"venv": ["x"]}, "venv"),
        ({"machine": "x86_64 evil/../"}, "machine"),
        ({"free_threading": "false"}, "free_threading"),
        ({"pointer_bits": "32"}, "pointer_bits"),
        ({"version": [3, 11, 1e400]}, "is not JSON (Infinity is not a value the script prints)"),
        # packaging fills a missing marker from THIS machine: the selection would silently be the host's
        ({"markers": _markers_without("platform_machine")}, "markers platform_machine"),
    ],
)
def test_hostile_or_damaged_target_files_are_refused(tmp_path: Path, changes: dict[str, Any], words: str) -> None:
    with pytest.raises(TargetError, match=re.escape(words)):
        read_target_file(edited(tmp_path, **changes))


def test_infinity_in_a_target_file_is_an_error_not_a_traceback(tmp_path: Path) -> None:
    path = edited(tmp_path)
    path.write_text(path.read_text().replace('"version": [', '"version": [Infinity, ', 1))
    with pytest.raises(TargetError, match="Infinity"):
        read_target_file(path)


def test_a_target_file_from_a_pipe_is_read_once_by_the_sync(tmp_path: Path, project: Path, uvroot_cache: Path) -> None:
    """``--target-file <(docker run …)``: the no-op stamp must not read (and empty) the pipe first."""
    document = edited(tmp_path).read_text()
    argv = [sys.executable, "-m", "uvroot", "sync", "--project", str(project), "--root", str(tmp_path / "root")]
    argv += ["--target-file", "/dev/stdin", "--cache-dir", str(uvroot_cache)]
    done = subprocess.run(
        argv, input=document, capture_output=True, text=True, check=False, env={**os.environ, "CI": "1"}
    )
    assert done.returncode == 0, done.stderr
    assert list((tmp_path / "root").rglob("alpha-*.dist-info"))


def test_targetplatform_from_buildx_must_agree_with_the_target_file(
    project: Path, tmp_path: Path, uvroot_cache: Path
) -> None:
    """One x86_64 image.json reused in the linux/arm64 stage of a multi-platform build must not stage x86_64."""
    image_json = edited(tmp_path)  # this machine: x86_64
    args = ("sync", "--project", project, "--root", tmp_path / "r", "--target-file", image_json)
    refused = uvroot(*args, cache=uvroot_cache, env={"TARGETPLATFORM": "linux/arm64"})
    assert refused.exit_code == 2, refused.output
    assert "$TARGETPLATFORM linux/arm64 contradicts --target-file, which describes a x86_64 interpreter" in (
        refused.output
    )
    agreed = uvroot(*args, cache=uvroot_cache, env={"TARGETPLATFORM": "linux/amd64"})
    assert agreed.exit_code == 0, agreed.output
