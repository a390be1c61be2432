"""Bad input: one clear error naming the culprit, a distinct exit code, no traceback, nothing staged."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from tests.support.cli import tree, uvroot
from tests.support.index import LocalIndex


@pytest.fixture
def project(make_locked_project: Callable[..., Path]) -> Path:
    return make_locked_project(dependencies=["alpha", "gadgets"], requires_python=">=3.10")


def _fails(result, code: int, *needles: str) -> None:  # type: ignore[no-untyped-def]
    assert result.exit_code == code, result.output
    assert "Traceback" not in result.output
    assert result.output.count("error: ") == 1
    for needle in needles:
        assert needle in result.output, result.output


def test_hash_mismatch_installs_nothing(project: Path, index: LocalIndex, tmp_path: Path) -> None:
    root, cache = tmp_path / "root", tmp_path / "cache"
    index.corrupt("gadgets-1.0-py3-none-any.whl")
    try:
        result = uvroot("sync", "--project", project, "--root", root, cache=cache)
    finally:
        index.reset()
    _fails(result, 5, "gadgets-1.0-py3-none-any.whl", "does not match uv.lock", "expected sha256")
    assert tree(root) == {}  # alpha verified fine, but nothing is spread before everything is verified
    assert not list(cache.glob("wheels-v1/*/*/gadgets-*"))  # nothing unverified enters the cache


def test_no_compatible_wheel_names_package_tags_and_wheels(
    make_locked_project: Callable[..., Path], tmp_path: Path
) -> None:
    project = make_locked_project(dependencies=["alpha", "linuxbin"], requires_python=">=3.10")
    result = uvroot(
        "sync",
        "--project",
        project,
        "--root",
        tmp_path / "root",
        "--python-version",
        "3.12",
        "--python-platform",
        "aarch64-unknown-linux-musl",
        cache=tmp_path / "cache",
    )
    _fails(
        result,
        4,
        "linuxbin==1.0 has no wheel for cp312-aarch64-musllinux_1_2",
        "cp312-cp312-musllinux_1_2_aarch64",
        "linuxbin-1.0-py3-none-musllinux_1_2_x86_64.whl",
    )
    assert not (tmp_path / "root").exists()


@pytest.mark.parametrize(
    ("mutate", "needles"),
    [
        (lambda text: text.replace("[[package]]", "[[package]", 1), ["uv.lock is not valid TOML", "line"]),
        (lambda text: text.replace("version = 1", "version = 2", 1), ["lock version 2", "uvroot reads version 1"]),
        (lambda text: text.replace('hash = "sha256:', 'hash = "md5:', 1), ['must look like "sha256:']),
        (
            lambda text: text.replace('name = "beta"', 'name = "betta"', 1),
            ["alpha==1.0 depends on betta", "matches no locked packages"],
        ),
        (lambda text: text.replace("source = { registry", "source = { nowhere", 1), ["source must name exactly"]),
        (
            lambda text: (
                text + text[text.index("[[package]]") : text.index("[[package]]", text.index("[[package]]") + 1)]
            ),
            ["locks alpha==1.0 from registry+", "twice"],
        ),
    ],
    ids=["toml", "future-version", "hash", "dangling", "source", "duplicate"],
)
def test_malformed_lock(project: Path, tmp_path: Path, mutate: Callable[[str], str], needles: list[str]) -> None:
    lock = project / "uv.lock"
    lock.write_text(mutate(lock.read_text()))
    result = uvroot("sync", "--project", project, "--root", tmp_path / "root", cache=tmp_path / "cache")
    _fails(result, 3, *needles)
    assert not (tmp_path / "root").exists()


def test_missing_lock_and_project(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "x"\nversion = "1"\n')
    _fails(
        uvroot("sync", "--project", tmp_path, "--root", tmp_path / "root"), 3, "uv.lock does not exist", 'run "uv lock"'
    )
    _fails(
        uvroot("sync", "--project", tmp_path / "nowhere", "--root", tmp_path / "root"),
        3,
        "pyproject.toml does not exist",
    )


@pytest.mark.parametrize(
    ("flags", "needle", "code"),
    [
        # README, "Exit codes": 2 wrong flags, 3 bad input (pyproject.toml, uv.lock, target), 4 the lock
        # cannot be staged for this target.
        (["--root", "r", "--target", "t"], "--target cannot be combined", 2),
        (["--user", "--prefix", "/opt"], "--user cannot be combined with --prefix", 2),
        ([], "choose where to install", 2),
        (["--root", "r", "--prefix", "relative/path"], "must be an absolute path", 2),
        (["--root", "r", "--python-platform", "x86_64-sun-solaris"], "--python-platform 'x86_64-sun-solaris'", 3),
        (["--root", "r", "--python-version", "2.7"], "--python-version '2.7'", 3),
        (["--root", "r", "--python-platform", "windows"], "use --target DIR for a Windows target", 2),
        (["--root", "r", "--python-version", "3.9"], "does not satisfy the lock's requires-python >=3.10", 4),
    ],
)
def test_bad_flags(project: Path, tmp_path: Path, flags: list[str], needle: str, code: int) -> None:
    result = uvroot("sync", "--project", project, *flags)
    assert result.exit_code == code, result.output
    assert needle in result.output and "Traceback" not in result.output


def test_unknown_flag_is_a_usage_error(project: Path) -> None:
    result = uvroot("sync", "--project", project, "--platfrom", "linux")
    assert result.exit_code == 2 and "No such option" in result.output


def test_no_install_project_skips_the_project_but_not_its_dependencies(
    make_locked_project: Callable[..., Path], tmp_path: Path
) -> None:
    project = make_locked_project(dependencies=["alpha"], package=True, requires_python=">=3.10")
    plan = uvroot("sync", "--project", project, "--root", tmp_path / "root", "--no-install-project", "--dry-run")
    assert plan.exit_code == 0, plan.output
    assert "skip     app==0.1.0 (--no-install-project)" in plan.output and "install  alpha==1.0" in plan.output
    assert not (tmp_path / "root").exists()


def test_offline_names_the_missing_file_then_works_from_cache(project: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    _fails(
        uvroot("sync", "--project", project, "--root", tmp_path / "a", "--offline", cache=cache),
        5,
        "alpha-1.0-py3-none-any.whl is not in the cache",
        "--offline",
    )
    assert uvroot("sync", "--project", project, "--root", tmp_path / "b", cache=cache).exit_code == 0
    warm = uvroot("sync", "--project", project, "--root", tmp_path / "c", "--offline", cache=cache)
    assert warm.exit_code == 0 and tree(tmp_path / "b") == tree(tmp_path / "c")


def test_conflict_with_a_foreign_file_rolls_back_the_whole_sync(project: Path, tmp_path: Path) -> None:
    root = tmp_path / "root"
    foreign = root / "usr/local/bin/gadget"
    foreign.parent.mkdir(parents=True)
    foreign.write_text("#!/bin/sh\necho not yours\n")
    result = uvroot("sync", "--project", project, "--root", root, cache=tmp_path / "cache")
    _fails(result, 6, "gadgets-1.0 would overwrite", "usr/local/bin/gadget, which no installed distribution owns")
    assert tree(root) == {"usr/local/bin/gadget": b"#!/bin/sh\necho not yours\n"}
    assert sorted(p.relative_to(root).as_posix() for p in root.rglob("*")) == [
        "usr",
        "usr/local",
        "usr/local/bin",
        "usr/local/bin/gadget",
    ]


def test_conflict_names_both_owners(project: Path, tmp_path: Path) -> None:
    root = tmp_path / "root"
    site = root / "usr/local/lib/python3.11/site-packages"
    info = site / "oldgadgets-0.9.dist-info"
    info.mkdir(parents=True)
    (info / "INSTALLER").write_text("pip\n")
    (info / "RECORD").write_text("../../../bin/gadget,,\noldgadgets-0.9.dist-info/RECORD,,\n")
    (root / "usr/local/bin").mkdir(parents=True)
    (root / "usr/local/bin/gadget").write_text("#!/bin/sh\n")
    result = uvroot("sync", "--project", project, "--root", root, "--python-version", "3.11", cache=tmp_path / "c")
    _fails(result, 6, "gadgets-1.0 would overwrite", "belongs to oldgadgets-0.9 (installed by pip)")
    assert (root / "usr/local/bin/gadget").read_text() == "#!/bin/sh\n"


def test_allow_existing_takes_over_foreign_files(project: Path, tmp_path: Path) -> None:
    root = tmp_path / "root"
    (root / "usr/local/bin").mkdir(parents=True)
    (root / "usr/local/bin/gadget").write_text("#!/bin/sh\necho not yours\n")
    result = uvroot("sync", "--project", project, "--root", root, "--allow-existing", cache=tmp_path / "cache")
    assert result.exit_code == 0, result.output
    assert "gadgets" in (root / "usr/local/bin/gadget").read_text()  # now the staged console script
    again = uvroot("sync", "--project", project, "--root", root, cache=tmp_path / "cache")
    assert again.exit_code == 0 and "is up to date" in again.output


def test_verbose_shows_the_traceback(project: Path, tmp_path: Path) -> None:
    result = uvroot("sync", "--project", project, "--root", tmp_path / "r", "--python-version", "3.9", "-v")
    assert result.exit_code == 4 and "Traceback" in result.output


def test_secrets_in_index_urls_never_reach_output(project: Path, tmp_path: Path) -> None:
    lock = project / "uv.lock"
    lock.write_text(lock.read_text().replace("http://127.0.0.1", "http://alice:s3cr3t-token@127.0.0.1:1"))
    result = uvroot("sync", "--project", project, "--root", tmp_path / "root", "-v", cache=tmp_path / "cache")
    assert result.exit_code == 5
    assert "s3cr3t-token" not in result.output and "alice" not in result.output
    assert "****@127.0.0.1:1" in result.output
