"""Every layout flag as `uvroot plan --format json` shows it: the scheme directories, the interpreter scripts run.

README: the plan's ``layout`` (kind, destdir, top, each scheme directory as written, the interpreter)
is what sync would write; these are the schemes of pip/uv for each flag.  A lock with nothing to
install is enough (plan fetches nothing); refusals are one ``error:`` and one ``hint:``, exit 2.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path
from typing import Any

import pytest

from tests.support.cli import uvroot

PYPROJECT = '[project]\nname = "app"\nversion = "0.1.0"\nrequires-python = ">=3.10"\ndependencies = []\n'
LOCK = (
    'version = 1\nrevision = 3\nrequires-python = ">=3.10"\n\n'
    '[[package]]\nname = "app"\nversion = "0.1.0"\nsource = { virtual = "." }\n'
)
TARGET = ["--python-version", "3.12", "--python-platform", "x86_64-manylinux_2_28"]


@pytest.fixture
def project(tmp_path: Path) -> Path:
    project = tmp_path / "project"
    project.mkdir()
    (project / "pyproject.toml").write_text(PYPROJECT)
    (project / "uv.lock").write_text(LOCK)
    return project


def _plan(project: Path, *flags: str | Path, env: dict[str, str] | None = None) -> Any:
    result = uvroot("plan", "--project", project, "--format", "json", *flags, env=env)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)["layout"]


def _scheme(destdir: str | None, top: str, kind: str, interpreter: str, **directories: str) -> dict[str, Any]:
    return {"destdir": destdir, "top": top, "kind": kind, "interpreter": interpreter, "directories": directories}


def _posix(destdir: str | None, top: str, kind: str, base: str, interpreter: str, site: str = "site-packages") -> Any:
    on_disk = (destdir or "") + base
    return _scheme(
        destdir,
        top,
        kind,
        interpreter,
        purelib=f"{on_disk}/lib/python3.12/{site}",
        platlib=f"{on_disk}/lib/python3.12/{site}",
        scripts=f"{on_disk}/bin",
        headers=f"{on_disk}/include/python3.12",
        data=on_disk,
    )


def test_root_is_a_python_image(project: Path, tmp_path: Path) -> None:
    root = str(tmp_path / "R")
    official = _posix(root, root, "root", "/usr/local", "/usr/local/bin/python3.12")
    assert _plan(project, "--root", root, *TARGET) == official
    assert _plan(project, "--root", root, "--layout", "official", *TARGET) == official
    assert _plan(project, "--root", root, "--layout", "python", *TARGET) == official
    assert _plan(project, "--root", root, "--image", "python:3.12-slim") == official
    # Only the leading "/" of a runtime path goes when it is put under the root.
    assert _plan(project, "--root", root, "--prefix", "/X", *TARGET)["directories"]["data"] == f"{root}/X"
    opt = _posix(root, root, "root", "/opt/app", "/opt/app/bin/python3.12")
    assert _plan(project, "--root", root, "--prefix", "/opt//app/", *TARGET) == opt
    assert _plan(project, "--root", root, "--prefix", "/opt/app", "--image", "python:3.12-alpine") == opt
    shebang = _plan(project, "--root", root, "--shebang", "/usr/bin/python3", *TARGET)
    assert shebang == {**official, "interpreter": "/usr/bin/python3"}


@pytest.mark.parametrize("name", ["debian", "ubuntu", "distroless"])
def test_debian_installs_into_dist_packages(project: Path, tmp_path: Path, name: str) -> None:
    root = str(tmp_path / "R")
    expected = _posix(root, root, "root", "/usr/local", "/usr/bin/python3.12", site="dist-packages")
    expected["directories"]["headers"] = f"{root}/usr/include/python3.12"
    assert _plan(project, "--root", root, "--layout", name, *TARGET) == expected


def test_alpine_installs_into_usr(project: Path, tmp_path: Path) -> None:
    root = str(tmp_path / "R")
    expected = _posix(root, root, "root", "/usr", "/usr/bin/python3.12")
    assert _plan(project, "--root", root, "--layout", "alpine", *TARGET) == expected
    shebang = _plan(project, "--root", root, "--layout", "alpine", "--shebang", "/bin/py", *TARGET)
    assert shebang == {**expected, "interpreter": "/bin/py"}


def test_prefix_without_root_is_this_machines_path(
    project: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    prefix = str(tmp_path / "P")
    assert _plan(project, "--prefix", prefix, *TARGET) == _posix(
        None, prefix, "prefix", prefix, f"{prefix}/bin/python3.12"
    )
    monkeypatch.chdir(tmp_path)
    relative = _plan(project, "--prefix", "P", *TARGET)
    assert relative == _posix(None, prefix, "prefix", prefix, f"{prefix}/bin/python3.12")


def test_target_is_flat_and_scripts_look_python_up(project: Path, tmp_path: Path) -> None:
    target = str(tmp_path / "T")
    expected = _scheme(
        None,
        target,
        "target",
        "/usr/bin/env python3.12",
        purelib=target,
        platlib=target,
        scripts=f"{target}/bin",
        headers=f"{target}/include/python",
        data=target,
    )
    assert _plan(project, "--target", target, *TARGET) == expected
    assert _plan(project, "--target", target, "--relocatable", *TARGET) == expected
    lambda_image = "public.ecr.aws/lambda/python:3.12"
    assert _plan(project, "--target", target, "--image", lambda_image) == expected
    assert _plan(project, "--target", target, "--shebang", "/py", *TARGET) == {**expected, "interpreter": "/py"}


def test_lambda_image_under_root_is_var_task(project: Path, tmp_path: Path) -> None:
    root = str(tmp_path / "R")
    task = f"{root}/var/task"
    expected = _scheme(
        root,
        root,
        "target",
        "/var/lang/bin/python3.12",
        purelib=task,
        platlib=task,
        scripts=f"{task}/bin",
        headers=f"{task}/include/python",
        data=task,
    )
    assert _plan(project, "--root", root, "--image", "public.ecr.aws/lambda/python:3.12") == expected
    shebang = _plan(project, "--root", root, "--image", "public.ecr.aws/lambda/python:3.12", "--shebang", "/py")
    assert shebang == {**expected, "interpreter": "/py"}


def test_user_is_posix_user_under_root(project: Path, tmp_path: Path) -> None:
    root = str(tmp_path / "R")
    env = {"PYTHONUSERBASE": "/home/app/.local"}
    base = "/home/app/.local"
    assert _plan(project, "--root", root, "--user", *TARGET, env=env) == _posix(
        root, root, "user", base, "/usr/local/bin/python3.12"
    )
    assert _plan(project, "--root", root, "--user", "--layout", "alpine", *TARGET, env=env) == _posix(
        root, root, "user", base, "/usr/bin/python3.12"
    )
    assert _plan(project, "--root", root, "--user", "--prefix", "/opt", *TARGET, env=env) == _posix(
        root, root, "user", base, "/opt/bin/python3.12"
    )
    assert _plan(project, "--root", root, "--user", "--shebang", "/py", *TARGET, env=env) == _posix(
        root, root, "user", base, "/py"
    )
    home = {"PYTHONUSERBASE": "", "HOME": "/home/u"}  # unset or empty: ~/.local, as site.py
    assert _plan(project, "--root", root, "--user", *TARGET, env=home) == _posix(
        root, root, "user", "/home/u/.local", "/usr/local/bin/python3.12"
    )


def _venv(destdir: str | None, top: str, base: str, interpreter: str) -> Any:
    expected = _posix(destdir, top, "venv", base, interpreter)
    expected["directories"]["headers"] = f"{destdir or ''}{base}/include/site/python3.12"
    return expected


def test_venv(project: Path, tmp_path: Path) -> None:
    here = str(tmp_path / "V")
    assert _plan(project, "--venv", here, *TARGET) == _venv(None, here, here, f"{here}/bin/python")
    root = str(tmp_path / "R")
    image = _venv(root, root, "/app/venv", "/app/venv/bin/python")
    assert _plan(project, "--venv", "/app//venv", "--root", root, *TARGET) == image
    assert _plan(project, "--venv", "/app/venv", "--root", root, "--relocatable", *TARGET) == image
    assert _plan(project, "--venv", "/app/venv", "--root", root, "--shebang", "/py", *TARGET) == {
        **image,
        "interpreter": "/py",
    }


def test_scheme_paths_override_one_part_each(project: Path, tmp_path: Path) -> None:
    root = str(tmp_path / "R")
    official = _posix(root, root, "root", "/usr/local", "/usr/local/bin/python3.12")
    for key in ("purelib", "platlib", "scripts", "headers", "data"):
        layout = _plan(project, "--root", root, "--scheme-path", f"{key}=/x//{key}/", *TARGET)
        assert layout == {**official, "directories": {**official["directories"], key: f"{root}/x/{key}"}}


def test_python_takes_the_interpreters_scheme(project: Path, tmp_path: Path) -> None:
    root = str(tmp_path / "R")
    paths = sysconfig.get_paths()
    layout = _plan(project, "--root", root, "--python", sys.executable)
    assert layout["kind"] == "root" and layout["destdir"] == root and layout["interpreter"] == sys.executable
    for key in ("purelib", "platlib", "scripts", "data"):
        assert layout["directories"][key] == root + paths[key], key
    version = f"{sys.version_info[0]}.{sys.version_info[1]}"
    headers = f"{sys.prefix}/include/site/python{version}" if sys.prefix != sys.base_prefix else paths["include"]
    assert layout["directories"]["headers"] == root + headers
    here = _plan(project, "--python", sys.executable)
    assert here["kind"] == "system" and here["destdir"] is None
    assert here["directories"]["purelib"] == paths["purelib"]


def _refused(
    project: Path, *flags: str | Path, code: int = 2, env: dict[str, str] | None = None, command: str = "plan"
) -> tuple[str, str]:
    result = uvroot(command, "--project", project, *flags, env=env)
    assert result.exit_code == code, result.output
    assert "Traceback" not in result.output
    lines = result.output.splitlines()
    errors = [line.removeprefix("error: ") for line in lines if line.startswith("error: ")]
    hints = [line.removeprefix("hint: ") for line in lines if line.startswith("hint: ")]
    assert len(errors) == 1 and len(hints) <= 1, result.output
    return errors[0], hints[0] if hints else ""


WHOLE = "--target, --venv, --user, --layout and --python each choose a whole layout"
COMBINATIONS = [
    (["--target", "/t", "--root", "/r"], "--target cannot be combined with --root"),
    (["--target", "/t", "--prefix", "/p", "--user"], "--target cannot be combined with --user, --prefix"),
    (["--target", "/t", "--scheme-path", "data=/d"], "--target cannot be combined with --scheme-path"),
    (["--venv", "/v", "--user"], "--venv cannot be combined with --user"),
    (["--venv", "/v", "--root", "/r", "--scheme-path", "data=/d"], "--venv cannot be combined with --scheme-path"),
    (["--user", "--venv", "/v"], "--venv cannot be combined with --user"),
    (["--layout", "debian", "--root", "/r", "--prefix", "/p"], "--layout cannot be combined with --prefix"),
    (["--python", "{python}", "--prefix", "/p"], "--python cannot be combined with --prefix"),
    (["--python", "{python}", "--layout", "debian", "--root", "/r"], "--layout cannot be combined with --python"),
]


@pytest.mark.parametrize(("flags", "message"), COMBINATIONS, ids=[" ".join(f) for f, _ in COMBINATIONS])
def test_flags_that_each_choose_a_layout_do_not_combine(project: Path, flags: list[str], message: str) -> None:
    args = [flag.format(python=sys.executable) for flag in flags]
    assert _refused(project, *args, *([] if "--python" in flags else TARGET)) == (message, WHOLE)


REFUSALS = [
    (
        ["--layout", "debian"],
        (
            "--layout debian lays out an image's Python and needs --root: without it uvroot would install into this "
            "machine's own system directories"
        ),
        (
            "stage a tree with --root DIR (e.g. --root /root-dir), or pass --root / to install into this machine on "
            "purpose"
        ),
    ),
    (
        ["--image", "python:3.12-slim", "--python-version", "3.12"],
        (
            "--image python:3.12-slim lays out an image's Python and needs --root: without it uvroot would install into "
            "this machine's own system directories"
        ),
        (
            "stage a tree with --root DIR (e.g. --root /root-dir), or pass --root / to install into this machine on "
            "purpose"
        ),
    ),
    (
        ["--user", "--prefix", "/opt", *TARGET],
        "--user cannot be combined with --prefix",
        "use --user alone or with --root",
    ),
    (["--venv-python", "/x", "--root", "/r", *TARGET], "--venv-python needs --venv DIR", ""),
    (
        ["--root", "/r", "--python-version", "3.12", "--python-platform", "windows"],
        (
            "--root, --prefix, --user, --venv and --layout lay out a POSIX system, and cp312-x86_64-pc-windows-msvc is "
            "Windows"
        ),
        "use --target DIR for a Windows target",
    ),
    (
        ["choose"],
        "choose where to install: --root DIR, --prefix DIR, --target DIR, --user, --venv DIR or --python PATH",
        "for a Docker staging tree use --root /root-dir (add --layout debian or alpine for those images)",
    ),
    (
        ["--root", "/r", "--layout", "bogus", *TARGET],
        "--layout 'bogus' is not a layout uvroot knows (official, debian, alpine, python, ubuntu, distroless)",
        (
            "official: python:X.Y images; debian: Debian, Ubuntu and distroless with the distribution's python3; "
            "alpine: Alpine with apk's python3"
        ),
    ),
    (
        ["--root", "/r", "--prefix", "opt", *TARGET],
        "--prefix 'opt' must be an absolute path in the target system",
        "with --root, --prefix names a directory of the final image, e.g. /usr/local",
    ),
    (
        ["--root", "/r", "--venv", "venv", *TARGET],
        "--venv 'venv' must be an absolute path in the target system",
        "with --root, --venv names a directory of the final image, e.g. /usr/local",
    ),
    (
        ["--root", "/r", "--scheme-path", "purelib=lib", *TARGET],
        "--scheme-path 'lib' must be an absolute path in the target system",
        "with --root, --scheme-path names a directory of the final image, e.g. /usr/local",
    ),
    *[
        (
            ["--root", "/r", "--scheme-path", value, *TARGET],
            f"--scheme-path {value!r} is not KIND=PATH with KIND one of purelib, platlib, scripts, headers, data",
            "e.g. --scheme-path purelib=/opt/app/lib --scheme-path scripts=/opt/app/bin",
        )
        for value in ("purelib", "bogus=/x", "purelib=", "=/x")
    ],
    (
        ["--root", "/r", "--image", "python:3.12-alpine", "--layout", "debian"],
        "--layout debian contradicts --image python:3.12-alpine, whose layout is official",
        "drop --layout: --image chooses the layout of its image",
    ),
    (
        ["--image", "public.ecr.aws/lambda/python:3.12"],
        "--image public.ecr.aws/lambda/python:3.12 imports from a flat /var/task: it needs --root DIR or --target DIR",
        "--root DIR writes DIR/var/task (COPY --from=build DIR /); --target DIR writes DIR itself",
    ),
    *[
        (
            ["--root", "/r", *flags, "--image", "public.ecr.aws/lambda/python:3.12"],
            f"--image public.ecr.aws/lambda/python:3.12 imports from a flat /var/task: it cannot be combined with {named}",
            "--root DIR writes DIR/var/task (COPY --from=build DIR /); --target DIR writes DIR itself",
        )
        for flags, named in [
            (["--venv", "/v"], "--venv"),
            (["--user"], "--user"),
            (["--user", "--prefix", "/p"], "--user, --prefix"),
            (["--scheme-path", "data=/d"], "--scheme-path"),
            (["--venv", "/v", "--scheme-path", "data=/d"], "--venv, --scheme-path"),
        ]
    ],
    (
        ["--prefix", "/opt/app", "--shebang", "/usr/bin/python3", "--relocatable", *TARGET],
        "--relocatable: the scripts' interpreter /usr/bin/python3 lies outside /opt/app, so a moved tree would lose it",
        "--relocatable is for trees that hold their interpreter: --venv, or a --prefix with its Python",
    ),
]


@pytest.mark.parametrize(("flags", "message", "hint"), REFUSALS, ids=[" ".join(f) for f, _, _ in REFUSALS])
def test_layout_refusals(project: Path, flags: list[str], message: str, hint: str) -> None:
    args = [] if flags == ["choose"] else flags
    assert _refused(project, *args) == (message, hint)


def test_relocatable_trees_that_hold_their_interpreter(project: Path, tmp_path: Path) -> None:
    prefix = str(tmp_path / "P")
    expected = _posix(None, prefix, "prefix", prefix, f"{prefix}/bin/python3.12")
    assert _plan(project, "--prefix", prefix, "--relocatable", *TARGET) == expected
    root = str(tmp_path / "R")
    assert _plan(project, "--root", root, "--relocatable", *TARGET)["interpreter"] == "/usr/local/bin/python3.12"
    # Without --root the top is the prefix itself: a sibling directory with a common stem is outside it.
    error, _ = _refused(project, "--prefix", prefix, "--shebang", f"{prefix}x/python", "--relocatable", *TARGET)
    assert error.startswith(f"--relocatable: the scripts' interpreter {prefix}x/python lies outside {prefix},")


@pytest.mark.parametrize(
    ("flag", "named"), [("--root", "--root"), ("--prefix", "--prefix"), ("--target", "--target"), ("--venv", "--venv")]
)
def test_a_file_in_the_way_names_the_flag(project: Path, tmp_path: Path, flag: str, named: str) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    assert _refused(project, flag, blocker, *TARGET) == (
        f"{named} {blocker} is a file",
        "choose a directory (existing, or one to create)",
    )
    assert _refused(project, flag, blocker / "sub", *TARGET) == (
        f"{named} {blocker / 'sub'} is under {blocker}, which is a file",
        "choose a directory (existing, or one to create)",
    )


def test_a_file_in_the_way_of_user(project: Path, tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    error, _ = _refused(project, "--user", *TARGET, env={"PYTHONUSERBASE": str(blocker)})
    assert error == f"--user {blocker} is a file"
    error, _ = _refused(project, "--user", "--root", blocker, *TARGET, env={"PYTHONUSERBASE": "/home/app"})
    assert error == f"--root {blocker} is a file"


def _venv_python(project: Path, venv: Path, *flags: str | Path, top: Path | None = None) -> str:
    """Sync nothing into a venv (no download): what its bin/python, and so pyvenv.cfg, names."""
    result = uvroot("sync", "--project", project, "--venv", venv, *flags)
    assert result.exit_code == 0, result.output
    where = venv if top is None else top / str(venv).lstrip("/")
    python = (where / "bin" / "python").readlink()
    config = (where / "pyvenv.cfg").read_text()
    assert f"executable = {python}\n" in config and f"home = {python.parent}\n" in config
    return str(python)


def test_a_venv_for_this_machine_runs_its_interpreter(project: Path, tmp_path: Path) -> None:
    host = f"{sys.version_info[0]}.{sys.version_info[1]}"
    base = getattr(sys, "_base_executable", None) or sys.executable
    assert _venv_python(project, tmp_path / "same", "--python-version", host) == base
    other = "3.13" if host != "3.13" else "3.12"  # not this interpreter: pythonX.Y on PATH, else /usr/local's
    expected = shutil.which(f"python{other}") or f"/usr/local/bin/python{other}"
    assert _venv_python(project, tmp_path / "other", "--python-version", other) == expected


@pytest.mark.parametrize(
    ("flags", "python"),
    [
        ([], "/usr/local/bin/python3.12"),
        (["--prefix", "/opt//py"], "/opt/py/bin/python3.12"),
        (["--layout", "alpine"], "/usr/bin/python3.12"),
        (["--layout", "debian"], "/usr/bin/python3.12"),
        (["--venv-python", "/x/bin/python3"], "/x/bin/python3"),
        (["--image", "python:3.12-alpine"], "/usr/local/bin/python3.12"),
    ],
)
def test_a_venv_in_an_image_runs_the_images_interpreter(
    project: Path, tmp_path: Path, flags: list[str], python: str
) -> None:
    root = tmp_path / "R"
    target = [] if "--image" in flags else ["--python-version", "3.12"]
    assert _venv_python(project, Path("/app/venv"), "--root", root, *flags, *target, top=root) == python


def test_a_venv_for_an_interpreter_of_this_machine(project: Path, tmp_path: Path) -> None:
    root = tmp_path / "R"
    assert _venv_python(project, Path("/app/venv"), "--root", root, "--python", sys.executable, top=root) == (
        sys.executable
    )


def test_relocatable_is_written_into_pyvenv_cfg(project: Path, tmp_path: Path) -> None:
    root = tmp_path / "R"
    for flags, expected in (([], False), (["--relocatable"], True)):
        result = uvroot(
            "sync", "--project", project, "--root", root, "--venv", "/v", "--python-version", "3.12", *flags
        )
        assert result.exit_code == 0, result.output
        assert ("relocatable = true\n" in (root / "v/pyvenv.cfg").read_text()) is expected


def test_a_relative_shebang_is_relocatable_as_it_is(project: Path, tmp_path: Path) -> None:
    prefix = str(tmp_path / "P")
    layout = _plan(project, "--prefix", prefix, "--shebang", "python3", "--relocatable", *TARGET)
    assert layout["interpreter"] == "python3"


def test_a_target_file_lays_out_the_described_interpreter(project: Path, tmp_path: Path) -> None:
    described = uvroot("target", "--python", sys.executable)
    assert described.exit_code == 0, described.output
    image = tmp_path / "image.json"
    image.write_text(described.stdout)
    facts = json.loads(described.stdout)
    root = str(tmp_path / "R")
    layout = _plan(project, "--target-file", image, "--root", root)
    assert layout["kind"] == "root" and layout["interpreter"] == facts["executable"]
    paths = sysconfig.get_paths()
    assert layout["directories"]["scripts"] == root + paths["scripts"]
    user = _plan(project, "--target-file", image, "--root", root, "--user", env={"PYTHONUSERBASE": "/home/a"})
    assert user["interpreter"] == facts["executable"] and user["directories"]["data"] == f"{root}/home/a"
    assert _refused(project, "--target-file", image) == (
        (
            "--target-file lays out the described interpreter's own directories and needs --root: without it uvroot "
            "would install into this machine's"
        ),
        "stage a tree with --root DIR (use --python PATH to install into an interpreter of this machine)",
    )
    assert _refused(project, "--target-file", image, "--root", root, "--layout", "debian") == (
        "--layout cannot be combined with --target-file",
        "--target, --venv, --user, --layout and --target-file each choose a whole layout",
    )


@pytest.mark.parametrize(
    "flags",
    [
        ["--user", "--python-version", "3.12"],
        ["--layout", "alpine", "--python-version", "3.12"],
        ["--python", sys.executable],
    ],
    ids=["user", "layout", "python"],
)
def test_a_scheme_path_refines_a_whole_layout(project: Path, tmp_path: Path, flags: list[str]) -> None:
    root = str(tmp_path / "R")
    env = {"PYTHONUSERBASE": "/home/app"}
    plain = _plan(project, "--root", root, *flags, env=env)
    data = _plan(
        project, "--root", root, *flags, "--scheme-path", "data=/srv/k=v", env=env
    )  # KIND is up to the first =
    assert data == {**plain, "directories": {**plain["directories"], "data": f"{root}/srv/k=v"}}


def _unwritable(tmp_path: Path) -> Path:
    """A directory this user cannot write into: made so, or (root writes anywhere) a read-only mount."""
    if os.geteuid() != 0:
        directory = tmp_path / "read-only"
        directory.mkdir()
        directory.chmod(0o500)
        return directory
    for candidate in (Path("/proc/sys"), Path("/sys/fs/cgroup")):
        if candidate.is_dir() and not os.access(candidate, os.W_OK | os.X_OK):
            return candidate
    pytest.skip("no directory here is unwritable for root")


@pytest.mark.parametrize("flag", ["--root", "--prefix", "--target"])
def test_an_unwritable_tree_is_refused_before_anything_is_fetched(project: Path, tmp_path: Path, flag: str) -> None:
    locked = _unwritable(tmp_path)
    tree = locked / "uvroot-tree"
    error, hint = _refused(project, flag, tree, *TARGET, code=6, command="sync")
    assert error == f"{flag} {tree} is not writable by this user ({locked} is where it would be created)"
    assert hint == "choose a directory you can write, or run with the permissions to write it"
    error, _ = _refused(project, flag, locked, *TARGET, code=6, command="sync")
    assert error == f"{flag} {locked} is not writable by this user"
    assert _plan(project, flag, tree, *TARGET)["top"] == str(tree)  # a dry run writes nothing: no need to


def test_a_relocatable_venv_whose_scripts_look_python_up(project: Path, tmp_path: Path) -> None:
    """`/usr/bin/env python3` needs no relative launcher, but the venv still says it may move."""
    venv = tmp_path / "V"
    result = uvroot(
        "sync", "--project", project, "--venv", venv, "--shebang", "/usr/bin/env python3", "--relocatable", *TARGET
    )
    assert result.exit_code == 0, result.output
    assert "relocatable = true\n" in (venv / "pyvenv.cfg").read_text()


def test_python_of_an_interpreter_that_is_no_venv(project: Path, tmp_path: Path) -> None:
    base = vars(sys).get("_base_executable") or sys.executable
    facts = subprocess.run(
        [
            base,
            "-c",
            "import json, sys, sysconfig; print(json.dumps([sys.prefix != sys.base_prefix, sysconfig.get_paths()]))",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    in_venv, paths = json.loads(facts)
    if in_venv:
        pytest.skip(f"{base} is a venv's interpreter")
    root = str(tmp_path / "R")
    layout = _plan(project, "--root", root, "--python", base)
    assert layout["directories"]["headers"] == root + paths["include"]
    assert layout["directories"]["purelib"] == root + paths["purelib"]


def test_a_relative_venv_is_this_machines_directory(
    project: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    layout = _plan(project, "--venv", "V", *TARGET)
    assert layout["top"] == str(tmp_path / "V") and layout["interpreter"] == f"{tmp_path / 'V'}/bin/python"
