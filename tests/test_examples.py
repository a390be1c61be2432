"""Every example in examples/ performs its own uvroot steps here, and the result runs as its image would.

The Dockerfiles cannot be built here, so each test reads the ``uvroot sync``
command out of the example's Dockerfile (tests/support/dockerfile.py) or runs
its Makefile with ``make``, changing only where the tree and the cache go,
then runs the staged tree with a real interpreter laid out as the final image
has it.  Editing an example's uvroot command changes what its test runs.

Staging needs the public PyPI (examples/hello's uv.lock), so those tests are
``network`` tests (``UVROOT_NETWORK=1 .venv/bin/python -m pytest -m network
tests/test_examples.py``); the plan of every Dockerfile and the zip tool are
checked offline.
"""

from __future__ import annotations

import hashlib
import json
import os
import shlex
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from tests.support.cli import uvroot
from tests.support.dockerfile import UvrootStep, parse, python_tag
from tests.support.overlay import ImageSimulator, find_cpython, image_unavailable_reason, overlayfs_supported
from tests.support.sysroot import MountNamespace, debian_python, lay_out_cpython

EXAMPLES = Path(__file__).parent.parent / "examples"
HELLO = EXAMPLES / "hello"
DOCKER = EXAMPLES / "docker"
SDE = 315532800  # uvroot's default SOURCE_DATE_EPOCH, 1980-01-01T00:00:00Z
ESCAPED = "&lt;hello &lt;img&gt;&gt;"
IMAGE_ENV = {"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": "/root", "LANG": "C.UTF-8"}


@pytest.fixture(scope="session")
def examples_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One uvroot cache for the examples' PyPI wheels (content-addressed, so sharing is safe)."""
    return tmp_path_factory.mktemp("examples-cache")


def the_step(name: str) -> UvrootStep:
    """The one ``uvroot sync`` step of examples/docker/NAME/Dockerfile."""
    _, steps = parse(DOCKER / name / "Dockerfile")
    assert len(steps) == 1, steps
    return steps[0]


def build_context(tmp_path: Path) -> Path:
    """What the RUN step sees in WORKDIR /src: only the bind-mounted pyproject.toml and uv.lock."""
    src = tmp_path / "src"
    src.mkdir(exist_ok=True)
    for name in ("pyproject.toml", "uv.lock"):
        shutil.copy(HELLO / name, src / name)
    return src


def run_step(
    step: UvrootStep, root: Path, project: Path, cache: Path, *, platform: str | None = None, dry_run: bool = False
) -> str:
    """Run the step in-process as the build stage would: /root-dir -> ``root``, the stage's Python on PATH.

    The build stage's interpreter (``python:X.Y``) is the default Python version
    there, so it is passed explicitly when the step leaves it out; ``platform``
    replaces ``--python-platform`` (to stage the same command for this host).
    """
    args = [str(root) if word == "/root-dir" else word for word in step.args]
    if platform is not None:
        args[args.index("--python-platform") + 1] = platform
    stage_python = python_tag(step.stage.image)
    assert stage_python, f"the build stage should be an official python image, not {step.stage.image}"
    if step.option("--python-version") is None:
        args += ["--python-version", stage_python]
    args += ["--project", str(project)]
    if dry_run:
        args.append("--dry-run")
    env = dict(step.env)
    prefix = find_cpython(stage_python)
    if prefix is None and "--compile-bytecode" in args:
        pytest.skip(f"--compile-bytecode needs a CPython {stage_python} (the build stage's) and none was found")
    if prefix is not None:  # the build stage's python3.12, for --compile-bytecode
        env["PATH"] = f"{prefix / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}"
    result = uvroot(*args, cache=cache, env=env)
    assert result.exit_code == 0, f"uvroot {shlex.join(args)}\n{result.output}"
    return result.output


def shebang(script: Path) -> str:
    return script.read_bytes().split(b"\n", 1)[0].decode()


# --------------------------------------------------------------------------- offline


@pytest.mark.parametrize(
    ("name", "final", "wheel"),
    [
        ("slim", "python:3.12-slim", "markupsafe-3.0.4-cp312-cp312-manylinux"),
        ("alpine-aarch64", "alpine:3.21", "markupsafe-3.0.4-cp312-cp312-musllinux_1_2_aarch64.whl"),
        ("distroless", "gcr.io/distroless/python3-debian12", "markupsafe-3.0.4-cp311-cp311-manylinux"),
        ("nonroot", "python:3.12-slim", "markupsafe-3.0.4-cp312-cp312-manylinux"),
    ],
)
def test_dockerfile_plans_the_wheels_its_final_image_needs(
    name: str, final: str, wheel: str, tmp_path: Path, uvroot_cache: Path
) -> None:
    stages, _ = parse(DOCKER / name / "Dockerfile")
    assert [stage.name for stage in stages] == ["build", None]
    assert stages[-1].image == final
    step = the_step(name)
    assert "--no-dev" in step.args and "--locked" in step.args
    plan = run_step(step, tmp_path / "root-dir", build_context(tmp_path), uvroot_cache, dry_run=True)
    assert wheel in plan, plan
    assert not (tmp_path / "root-dir").exists()


def test_zipdir_is_reproducible(tmp_path: Path) -> None:
    sys.path.insert(0, str(EXAMPLES / "lambda"))
    try:
        import zipdir  # type: ignore[import-not-found]
    finally:
        sys.path.remove(str(EXAMPLES / "lambda"))

    def bundle(top: Path, mtime: int, umask: int) -> Path:
        old = os.umask(umask)
        try:
            (top / "pkg").mkdir(parents=True)
            (top / "pkg" / "__init__.py").write_text("X = 1\n")
            (top / "bin").mkdir()
            (top / "bin" / "tool").write_text("#!/usr/bin/env python3\n")
            (top / "bin" / "tool").chmod(0o777 & ~umask)
            for path in top.rglob("*"):
                os.utime(path, (mtime, mtime))
        finally:
            os.umask(old)
        return top

    handler = tmp_path / "handler.py"
    handler.write_text("def handler(event, context): return event\n")  # checked out today: clamped
    first = bundle(tmp_path / "a", SDE, 0o022)
    second = bundle(tmp_path / "b", SDE - 86400 * 365, 0o077)  # older files: their own (earlier) time
    assert zipdir.main([str(tmp_path / "a.zip"), str(first), str(handler)]) == 0
    assert zipdir.main([str(tmp_path / "b.zip"), str(second), str(handler)]) == 0
    with zipfile.ZipFile(tmp_path / "a.zip") as archive:
        infos = {info.filename: info for info in archive.infolist()}
        assert list(infos) == ["bin/tool", "handler.py", "pkg/__init__.py"]
        assert {info.date_time for info in infos.values()} == {(1980, 1, 1, 0, 0, 0)}
        assert infos["bin/tool"].external_attr >> 16 == 0o100755
        assert infos["pkg/__init__.py"].external_attr >> 16 == 0o100644
    # Only the file times differ between the two inputs: clamped to 1980, which a zip cannot go below.
    assert (tmp_path / "a.zip").read_bytes() == (tmp_path / "b.zip").read_bytes()
    (first / "link.py").symlink_to(first / "pkg" / "__init__.py")
    with pytest.raises(SystemExit, match="symbolic link"):
        zipdir.main([str(tmp_path / "c.zip"), str(first)])


# --------------------------------------------------------------------------- network: each example for real


@pytest.mark.network
def test_slim_image(tmp_path: Path, examples_cache: Path) -> None:
    """python:3.12-slim: official layout with bytecode the image's own python3.12 loads."""
    root = tmp_path / "root-dir"
    run_step(the_step("slim"), root, build_context(tmp_path), examples_cache)
    site = root / "usr/local/lib/python3.12/site-packages"
    assert sorted(p.name for p in root.iterdir()) == ["usr"]
    assert list(site.glob("markupsafe/_speedups.cpython-312-x86_64-linux-gnu.so"))
    assert shebang(root / "usr/local/bin/pygmentize") == "#!/usr/local/bin/python3.12"
    pycs = sorted(site.rglob("*.pyc"))
    assert pycs and all(pyc.name.endswith(".cpython-312.pyc") for pyc in pycs)
    assert site / "markupsafe/__pycache__/__init__.cpython-312.pyc" in pycs
    assert all(int.from_bytes(pyc.read_bytes()[4:8], "little") & 1 for pyc in pycs), "pyc must be hash-based"
    if reason := image_unavailable_reason("3.12"):
        pytest.skip(reason)
    with ImageSimulator(find_cpython("3.12"), tmp_path / "image") as image:
        image.apply(root)  # COPY --from=build /root-dir /
        out = image.run(["python", str(HELLO / "app.py"), "--name", "<img>"], check=True).stdout  # CMD
        assert ESCAPED in out and "/usr/local/lib/python3.12/site-packages/markupsafe/_speedups" in out
        assert image.run(["pygmentize", "-V"], check=True).stdout.startswith("Pygments version 2.21.0")
        verbose = image.run(["python3.12", "-v", "-c", "import markupsafe"], check=True).stderr
        assert "code object from '/usr/local/lib/python3.12/site-packages/markupsafe/__pycache__/" in verbose


@pytest.mark.network
def test_alpine_aarch64_image(tmp_path: Path, examples_cache: Path) -> None:
    """Alpine arm64: musllinux aarch64 wheels in /usr/lib; the same command for this host runs on a /usr Python."""
    step = the_step("alpine-aarch64")
    assert step.stage.platform == "$BUILDPLATFORM"
    root = tmp_path / "root-dir"
    run_step(step, root, build_context(tmp_path), examples_cache)
    site = root / "usr/lib/python3.12/site-packages"
    assert sorted(p.name for p in root.iterdir()) == ["usr"]
    assert sorted(p.name for p in (root / "usr").iterdir()) == ["bin", "lib"]
    assert list(site.glob("markupsafe/_speedups.cpython-312-aarch64-linux-musl.so"))
    assert (site / "markupsafe-3.0.4.dist-info/WHEEL").read_text().count("musllinux_1_2_aarch64") == 1
    assert shebang(root / "usr/bin/pygmentize") == "#!/usr/bin/python3.12"

    # This host cannot run aarch64 musl code: stage the same command for it and run that as Alpine would.
    host_root = tmp_path / "host-root"
    run_step(step, host_root, build_context(tmp_path), examples_cache, platform="x86_64-manylinux_2_28")
    if reason := MountNamespace.unavailable_reason():
        pytest.skip(reason)
    prefix = find_cpython("3.12")
    if prefix is None:
        pytest.skip("no CPython 3.12 install found")
    python = lay_out_cpython(prefix, tmp_path / "python3-apk", "3.12")  # what `apk add python3` installs
    alpine = (
        MountNamespace()
        .hide("/root")  # the image's empty home; also hides pyenv, so nothing can load from the source install
        .hide("/usr/local")
        .overlay("/usr/bin", [host_root / "usr/bin", python / "bin"])
        .overlay("/usr/lib", [host_root / "usr/lib", python / "lib"])
    )
    out = alpine.run(["python3", str(HELLO / "app.py"), "--name", "<img>"], IMAGE_ENV).stdout  # CMD
    assert ESCAPED in out and "python 3.12" in out and "at /usr/bin/python3" in out
    assert "/usr/lib/python3.12/site-packages/markupsafe/_speedups.cpython-312-x86_64-linux-gnu.so" in out
    assert alpine.run(["pygmentize", "-V"], IMAGE_ENV).stdout.startswith("Pygments version 2.21.0")


@pytest.mark.network
def test_distroless_image(tmp_path: Path, examples_cache: Path) -> None:
    """Distroless: Debian's real /usr/bin/python3.11 imports the staged dist-packages."""
    root = tmp_path / "root-dir"
    run_step(the_step("distroless"), root, build_context(tmp_path), examples_cache)
    local = root / "usr/local"
    site = local / "lib/python3.11/dist-packages"
    assert sorted(p.name for p in root.iterdir()) == ["usr"]
    assert list(site.glob("markupsafe/_speedups.cpython-311-x86_64-linux-gnu.so"))
    assert not (local / "lib/python3.11/site-packages").exists()
    assert shebang(local / "bin/pygmentize") == "#!/usr/bin/python3.11"
    python, why = debian_python("3.11")
    if python is None:
        pytest.skip(why)
    if reason := MountNamespace.unavailable_reason():
        pytest.skip(reason)
    distroless = MountNamespace().bind(local, "/usr/local").hide("/root")  # /usr/local: only what was copied
    if Path("/usr/lib/python3/dist-packages").is_dir():
        distroless.hide("/usr/lib/python3/dist-packages")  # this host's Debian packages are not in the image
    out = distroless.run([str(python), str(HELLO / "app.py"), "--name", "<img>"], IMAGE_ENV).stdout  # ENTRYPOINT+CMD
    assert ESCAPED in out and "python 3.11" in out and "at /usr/bin/python3.11" in out
    assert "/usr/local/lib/python3.11/dist-packages/markupsafe/_speedups.cpython-311-x86_64-linux-gnu.so" in out
    assert distroless.run(["/usr/local/bin/pygmentize", "-V"], IMAGE_ENV).stdout.startswith("Pygments version 2.21.0")


@pytest.mark.network
def test_nonroot_image(tmp_path: Path, examples_cache: Path) -> None:
    """A non-root user's own site: ~/.local under /home/app, found by the image's python through HOME."""
    step = the_step("nonroot")
    assert step.env.get("PYTHONUSERBASE") == "/home/app/.local" and "--user" in step.args
    root = tmp_path / "root-dir"
    run_step(step, root, build_context(tmp_path), examples_cache)
    base = root / "home/app/.local"
    assert sorted(p.name for p in root.iterdir()) == ["home"]
    assert list(base.glob("lib/python3.12/site-packages/markupsafe/_speedups.cpython-312-x86_64-linux-gnu.so"))
    assert shebang(base / "bin/pygmentize") == "#!/usr/local/bin/python3.12"
    if reason := image_unavailable_reason("3.12") or overlayfs_supported():
        pytest.skip(reason)
    if not Path("/home").is_dir():
        pytest.skip("this host has no /home to overlay the image's /home/app on")
    context = tmp_path / "context"  # COPY --chown=app:app app.py /home/app/
    (context / "home/app").mkdir(parents=True)
    shutil.copy(HELLO / "app.py", context / "home/app/app.py")
    env = {"HOME": "/home/app", "PATH": "/home/app/.local/bin:/usr/local/bin:/usr/bin:/bin"}
    # USER app: really drop to uid 1000 when this test runs as root (setpriv); else the namespace's root.
    user = ["setpriv", "--reuid=1000", "--regid=1000", "--clear-groups"] if os.geteuid() == 0 else []
    if user and shutil.which("setpriv") is None:
        user = []
    with ImageSimulator(find_cpython("3.12"), tmp_path / "image") as image:
        image.apply(root)  # COPY --from=build --chown=app:app /root-dir/home/app/ /home/app/
        image.apply(context)
        out = image.run([*user, "python", "app.py", "--name", "<img>"], env, check=True, cwd="/home/app").stdout
        assert ESCAPED in out
        assert "/home/app/.local/lib/python3.12/site-packages/markupsafe/_speedups" in out
        who = image.run(
            [*user, "python", "-c", "import os, site; print(os.getuid(), site.ENABLE_USER_SITE)"], env, check=True
        ).stdout.split()
        assert who == ["1000" if user else "0", "True"]
        assert image.run([*user, "pygmentize", "-V"], env, check=True).stdout.startswith("Pygments version 2.21.0")


def run_make(directory: Path, *args: str, env: dict[str, str], umask: int = 0o022) -> subprocess.CompletedProcess[str]:
    """``make -C directory ARGS`` with this checkout's uvroot on PATH (the venv's bin)."""
    path = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"
    inherited = {key: value for key, value in os.environ.items() if key != "SOURCE_DATE_EPOCH"}  # uvroot's default
    command = f"umask {umask:03o} && exec make -C {shlex.quote(str(directory))} {shlex.join(args)}"
    return subprocess.run(
        ["/bin/sh", "-c", command],
        env={**inherited, "PATH": path, **env},
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


@pytest.mark.network
def test_lambda_bundle_is_reproducible_and_runs(tmp_path: Path) -> None:
    """Two builds from two fresh caches (umask, link mode differ) give the same zip; Lambda's Python runs it."""
    zips, trees = [], []
    for name, umask, link_mode in (("one", 0o022, "copy"), ("two", 0o077, "hardlink")):
        build = tmp_path / name
        env = {"UVROOT_CACHE_DIR": str(tmp_path / f"cache-{name}"), "UVROOT_LINK_MODE": link_mode}
        made = run_make(EXAMPLES / "lambda", f"BUILD={build}", f"PYTHON={sys.executable}", env=env, umask=umask)
        assert made.returncode == 0, made.stdout + made.stderr
        zips.append(build / "lambda.zip")
        bundle = build / "lambda"
        trees.append({path.relative_to(bundle).as_posix(): path.stat() for path in [bundle, *bundle.rglob("*")]})
    digests = {hashlib.sha256(path.read_bytes()).hexdigest() for path in zips}
    assert len(digests) == 1, digests
    # The staged trees themselves are reproducible too (not only what zipdir keeps of them).
    late = sorted(path for path, st in trees[1].items() if st.st_mtime != SDE)
    assert not late, f"uvroot should stamp every file and directory at SOURCE_DATE_EPOCH: {late}"
    modes = [{path: oct(st.st_mode) for path, st in tree.items()} for tree in trees]
    differ = sorted(path for path in modes[0] if modes[0][path] != modes[1].get(path))
    assert modes[0].keys() == modes[1].keys() and not differ, f"modes depend on the umask: {differ[:5]}..."
    task = tmp_path / "var-task"  # Lambda unzips the bundle into /var/task
    with zipfile.ZipFile(zips[0]) as archive:
        names = archive.namelist()
        assert "handler.py" in names and "markupsafe/__init__.py" in names
        assert not any(name.startswith(("pytest", "_pytest")) for name in names)  # --no-dev
        archive.extractall(task)
    prefix = find_cpython("3.12")
    if prefix is None:
        pytest.skip("no CPython 3.12 install found")
    code = (
        "import json, sys; sys.path.insert(0, sys.argv[1]); import handler; "
        "print(json.dumps(handler.handler({'name': '<img>'}, None)))"
    )
    # -I -S: no site-packages, no PYTHONPATH: only the stdlib and the bundle, as in the Lambda runtime.
    proc = subprocess.run(
        [str(prefix / "bin/python3.12"), "-I", "-S", "-c", code, str(task)],
        capture_output=True,
        text=True,
        check=False,
        env={"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"},
    )
    assert proc.returncode == 0, proc.stderr
    response = json.loads(proc.stdout)
    assert response["statusCode"] == 200 and response["body"] == ESCAPED
    assert response["speedups"] == f"{task}/markupsafe/_speedups.cpython-312-x86_64-linux-gnu.so"


@pytest.mark.network
def test_make_image_root(tmp_path: Path, examples_cache: Path) -> None:
    """`make image-root`: stages with --locked, re-runs as a no-op, and stops on a stale lock."""
    root = tmp_path / "image-root"
    env = {"UVROOT_CACHE_DIR": str(examples_cache)}
    made = run_make(EXAMPLES / "make", "image-root", f"ROOT={root}", env=env)
    assert made.returncode == 0, made.stdout + made.stderr
    site = root / "usr/local/lib/python3.12/site-packages"
    assert list(site.glob("markupsafe/_speedups.cpython-312-x86_64-linux-gnu.so"))
    assert shebang(root / "usr/local/bin/pygmentize") == "#!/usr/local/bin/python3.12"
    again = run_make(EXAMPLES / "make", "image-root", f"ROOT={root}", env=env)
    assert again.returncode == 0 and "is up to date" in again.stderr, again.stdout + again.stderr

    stale = tmp_path / "stale"  # pyproject.toml edited, uv.lock not re-locked
    stale.mkdir()
    shutil.copy(HELLO / "uv.lock", stale / "uv.lock")
    text = (HELLO / "pyproject.toml").read_text()
    (stale / "pyproject.toml").write_text(text.replace('"pygments>=2",', '"pygments>=2",\n    "rich>=13",'))
    refused = run_make(EXAMPLES / "make", "image-root", f"ROOT={tmp_path / 'other'}", f"PROJECT={stale}", env=env)
    assert refused.returncode != 0 and "uv.lock is out of date" in refused.stderr, refused.stderr
    assert not (tmp_path / "other").exists()

    if reason := image_unavailable_reason("3.12"):
        pytest.skip(reason)
    with ImageSimulator(find_cpython("3.12"), tmp_path / "image") as image:
        image.apply(root)  # COPY build/image-root /
        out = image.run(["python", str(HELLO / "app.py"), "--name", "<img>"], check=True).stdout
        assert ESCAPED in out and "/usr/local/lib/python3.12/site-packages/markupsafe/_speedups" in out
