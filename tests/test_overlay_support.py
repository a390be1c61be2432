"""The image simulator: staged trees run in a real CPython mounted as /usr/local, by shebang."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.overlay import (
    ImageError,
    ImageSimulator,
    find_cpython,
    image_unavailable_reason,
    overlayfs_supported,
)

VERSIONS = ["3.12", "3.11"]


def write(path: Path, text: str, mode: int = 0o644) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    path.chmod(mode)
    return path


def fake_root(root: Path, version: str, greeting: str = "hello from the image") -> Path:
    """What uvroot stages for --root: a module in site-packages and a console script."""
    write(
        root / f"usr/local/lib/python{version}/site-packages/hello_overlay.py",
        f"GREETING = {greeting!r}\n",
    )
    write(
        root / "usr/local/bin/hello-overlay",
        f"#!/usr/local/bin/python{version}\n"
        "import sys\n"
        "import hello_overlay\n"
        "print(hello_overlay.GREETING)\n"
        "print(sys.executable)\n"
        "print(hello_overlay.__file__)\n",
        0o755,
    )
    return root


def host_state() -> tuple[object, ...]:
    """What must not change on the host: /usr/local's listing and this process's mounts."""
    local = Path("/usr/local")
    listing = sorted(str(p.relative_to(local)) for p in local.iterdir())
    bin_listing = sorted(p.name for p in (local / "bin").iterdir()) if (local / "bin").is_dir() else []
    mounts = Path("/proc/self/mountinfo").read_text()
    root_listing = sorted(p.name for p in Path("/root").iterdir()) if Path("/root").is_dir() else []
    return listing, bin_listing, mounts, root_listing


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(params=VERSIONS)
def image(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[ImageSimulator]:
    version = request.param
    reason = image_unavailable_reason(version)
    if reason is not None:
        pytest.skip(reason)
    prefix = find_cpython(version)
    assert prefix is not None
    with ImageSimulator(prefix, tmp_path / "image") as simulator:
        yield simulator


def test_find_cpython_validates_what_it_returns() -> None:
    assert find_cpython("3.99") is None
    assert image_unavailable_reason("3.99") is not None
    with pytest.raises(ValueError, match="expected a version"):
        find_cpython("three")
    for version in VERSIONS:
        prefix = find_cpython(version)
        if prefix is not None:
            assert (prefix / "bin" / f"python{version}").is_file()
            assert (prefix / "lib" / f"python{version}" / "os.py").is_file()


def test_staged_script_runs_by_shebang(image: ImageSimulator, tmp_path: Path) -> None:
    v = image.version
    before = host_state()
    image.apply(fake_root(tmp_path / "root-dir", v))

    script = image.run(["hello-overlay"], check=True)  # found on PATH, run by its shebang
    assert script.stdout.splitlines() == [
        "hello from the image",
        f"/usr/local/bin/python{v}",
        f"/usr/local/lib/python{v}/site-packages/hello_overlay.py",
    ]
    assert script.args == ["hello-overlay"]

    direct = image.run([f"python{v}", "-c", "import hello_overlay, sys; print(sys.prefix)"], check=True)
    assert direct.stdout == "/usr/local\n"

    # the mounts lived only in the child's namespace
    assert host_state() == before
    assert not Path("/usr/local/bin/hello-overlay").exists()


def test_interpreter_is_relocated_to_usr_local(image: ImageSimulator, monkeypatch: pytest.MonkeyPatch) -> None:
    # nothing from the caller's environment reaches the image
    monkeypatch.setenv("PYTHONPATH", "/nonexistent")
    monkeypatch.setenv("PYTHONHOME", "/nonexistent")
    monkeypatch.setenv("VIRTUAL_ENV", "/nonexistent")
    code = """
import json, os, sys, sysconfig
maps = open("/proc/self/maps").read()
libpython = sorted({line.split()[-1] for line in maps.splitlines() if "libpython" in line})
print(json.dumps({
    "prefix": sys.prefix, "base_prefix": sys.base_prefix, "exec_prefix": sys.exec_prefix,
    "path": sys.path, "stdlib": sysconfig.get_path("stdlib"), "purelib": sysconfig.get_path("purelib"),
    "scripts": sysconfig.get_path("scripts"), "libdir": sysconfig.get_config_var("LIBDIR"),
    "libpython": libpython, "env": dict(os.environ), "site": sorted(os.listdir(sysconfig.get_path("purelib"))),
    "source_visible": os.path.isdir(sys.argv[1]) and os.listdir(sys.argv[1]),
}))
"""
    source = str(image.source.resolve())
    info = json.loads(image.run(["python3", "-c", code, source], check=True).stdout)
    v = image.version
    assert info["prefix"] == info["base_prefix"] == info["exec_prefix"] == "/usr/local"
    assert info["stdlib"] == f"/usr/local/lib/python{v}"
    assert info["purelib"] == f"/usr/local/lib/python{v}/site-packages"
    assert info["scripts"] == "/usr/local/bin"
    assert info["libdir"] == "/usr/local/lib"  # _sysconfigdata relocated
    assert info["libpython"] == [f"/usr/local/lib/libpython{v}.so.1.0"]  # RUNPATH rewritten, no LD_LIBRARY_PATH
    assert all(entry == "" or entry.startswith("/usr/local/lib/") for entry in info["path"]), info["path"]
    assert info["source_visible"] in (False, [])  # the source prefix is hidden inside the image
    env = info["env"]
    assert env["PATH"] == "/usr/local/bin:/usr/bin:/bin"
    assert env["HOME"] == "/root"
    assert not {"PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV"} & env.keys()
    # a clean site-packages: the seed (pip) only, never the source install's packages
    assert {name.split("-")[0] for name in info["site"]} == {"README.txt", "pip"}
    pip = image.run(["pip", "--version"], check=True)
    assert f"/usr/local/lib/python{v}/site-packages/pip (python {v})" in pip.stdout


def test_copy_merges_overwrites_and_never_writes_through(image: ImageSimulator, tmp_path: Path) -> None:
    v = image.version
    stdlib_file = image.source / "lib" / f"python{v}" / "this.py"
    watched = [
        stdlib_file,
        image.source / "lib" / f"python{v}" / "site-packages" / "pip" / "__init__.py",
        image.source / "bin" / f"python{v}",
        *sorted((image.source / "lib" / f"python{v}").glob("_sysconfigdata_*.py")),
    ]
    before = {path: digest(path) for path in watched}

    image.apply(fake_root(tmp_path / "first", v, greeting="first"))
    second = fake_root(tmp_path / "second", v, greeting="second")
    write(second / f"usr/local/lib/python{v}/this.py", "print('patched this')\n")  # overwrites a hard link
    image.apply(second)

    assert image.run(["hello-overlay"], check=True).stdout.splitlines()[0] == "second"
    assert image.run(["python", "-c", "import this"], check=True).stdout == "patched this\n"
    # the stdlib shares inodes with the real install, so it is read-only inside
    for shared in (f"/usr/local/lib/python{v}/os.py", f"/usr/local/lib/python{v}/site-packages/pip/__init__.py"):
        denied = image.run(["sh", "-c", f"echo x >> {shared}"])
        assert denied.returncode != 0
        assert "Read-only file system" in denied.stderr
    # site-packages and bin are writable, and writes persist between runs (one container)
    image.run(["sh", "-c", f"echo 'X = 1' > /usr/local/lib/python{v}/site-packages/written.py"], check=True)
    assert image.run(["python", "-c", "import written; print(written.X)"], check=True).stdout == "1\n"

    assert {path: digest(path) for path in watched} == before
    assert "patched" not in stdlib_file.read_text()


def test_user_layout_in_a_fresh_home(image: ImageSimulator, tmp_path: Path) -> None:
    v = image.version
    root = tmp_path / "user-root"
    write(root / f"root/.local/lib/python{v}/site-packages/hello_user.py", "WHERE = __file__\n")
    write(
        root / "root/.local/bin/hello-user",
        f"#!/usr/local/bin/python{v}\nimport hello_user\nprint(hello_user.WHERE)\n",
        0o755,
    )
    before = host_state()
    image.apply(root)
    result = image.run(["/root/.local/bin/hello-user"], check=True)
    assert result.stdout == f"/root/.local/lib/python{v}/site-packages/hello_user.py\n"
    home = image.run(["sh", "-c", "ls -A /root"], check=True)
    assert home.stdout.split() == [".local"]  # the image's home, not the host's
    assert host_state() == before


def test_other_top_level_directories_are_overlaid(image: ImageSimulator, tmp_path: Path) -> None:
    reason = overlayfs_supported()
    if reason is not None:
        pytest.skip(reason)
    root = tmp_path / "target-root"
    write(root / "opt/uvroot-overlay-test/hello_target.py", "print('target layout')\n")
    host_opt = sorted(p.name for p in Path("/opt").iterdir())
    image.apply(root)
    result = image.run(
        ["python", "-c", "import hello_target, os; print(sorted(os.listdir('/opt')))"],
        env={"PYTHONPATH": "/opt/uvroot-overlay-test"},
        check=True,
    )
    first, listing = result.stdout.splitlines()
    assert first == "target layout"
    assert eval(listing) == sorted([*host_opt, "uvroot-overlay-test"])  # merged with the host's /opt
    assert sorted(p.name for p in Path("/opt").iterdir()) == host_opt


def test_unplaceable_roots_are_refused(image: ImageSimulator, tmp_path: Path) -> None:
    root = tmp_path / "odd-root"
    write(root / "uvroot-no-such-top-level/file.txt", "x\n")
    with pytest.raises(ImageError, match="no directory"):
        image.apply(root)
    assert not Path("/uvroot-no-such-top-level").exists()
