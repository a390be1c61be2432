"""state.py alone: what a layout holds, and removal by RECORD inside one transaction (real files, no sync)."""

from __future__ import annotations

import hashlib
import json
import sys
from collections.abc import Callable
from itertools import islice
from pathlib import Path

import pytest

from tests.support.cli import uvroot
from tests.support.index import LocalIndex
from tests.support.sources import GitRepo, git_requirement
from uvroot.errors import InstallError, UsageError
from uvroot.layout import Layout
from uvroot.state import check_target_dir, remove_dist, scan
from uvroot.txn import Transaction

EPOCH = 315532800
HOST = f"{sys.version_info[0]}.{sys.version_info[1]}"


def _layout(top: Path) -> Layout:
    site = str(top / "site")
    return Layout(kind="target", destdir=None, purelib=site, platlib=site, scripts=str(top / "bin"),
                  headers=str(top / "include"), data=str(top), interpreter="/usr/bin/python3")  # fmt: skip


def _dist(top: Path, name: str, files: dict[str, str], installer: str = "uvroot") -> None:
    site = top / "site"
    info = site / f"{name}-1.0.dist-info"
    info.mkdir(parents=True)
    (info / "INSTALLER").write_text(installer + "\n")
    (info / "uvroot.json").write_text('{"source": "x"}\n')
    rows = [*files, f"{info.name}/INSTALLER", f"{info.name}/uvroot.json", f"{info.name}/RECORD"]
    for path, text in files.items():
        (site / path).parent.mkdir(parents=True, exist_ok=True)
        (site / path).write_text(text)
    (info / "RECORD").write_text("".join(f"{row},,\n" for row in rows))


def _remove(top: Path, name: str) -> None:
    dist = next(d for d in scan(_layout(top)) if d.name == name)
    txn = Transaction.begin(top, EPOCH)
    try:
        remove_dist(dist, _layout(top), txn)
    except BaseException:
        txn.rollback()
        raise
    txn.commit()


def _files(top: Path) -> list[str]:
    return sorted(p.relative_to(top).as_posix() for p in top.rglob("*") if not p.is_dir())


def test_removal_takes_only_its_own_files_and_keeps_foreign_ones(tmp_path: Path) -> None:
    _dist(tmp_path, "mine", {"mine/__init__.py": "", "mine/sub/a.py": "", "nsp/mine/x.py": "", "../bin/tool": ""})
    _dist(tmp_path, "other", {"nsp/other/y.py": "", "other.py": ""})
    (tmp_path / "site/mine/sub/notes.txt").write_text("someone's\n")  # a foreign file in my package
    (tmp_path / "site/mine/__pycache__").mkdir()
    (tmp_path / "site/mine/__pycache__/__init__.cpython-312.pyc").write_bytes(b"")  # Python's, at run time
    (tmp_path / "site/mine/__pycache__/__init__.notes.txt").write_text("someone's\n")  # not bytecode
    (tmp_path / "site/mine/empty").mkdir()  # wheels carry no empty directories: someone made it
    (tmp_path / "bin/theirs").write_text("foreign\n")
    _remove(tmp_path, "mine")
    assert _files(tmp_path) == [
        "bin/theirs",
        "site/mine/__pycache__/__init__.notes.txt",
        "site/mine/sub/notes.txt",
        "site/nsp/other/y.py",
        "site/other-1.0.dist-info/INSTALLER",
        "site/other-1.0.dist-info/RECORD",
        "site/other-1.0.dist-info/uvroot.json",
        "site/other.py",
    ]
    assert [d.name for d in scan(_layout(tmp_path))] == ["other"]
    assert (tmp_path / "site/mine/empty").is_dir()


@pytest.mark.parametrize("row", ["../../outside.txt", "/etc/passwd-uvroot-test", "../../top/site/../../outside.txt"])
def test_a_record_pointing_outside_the_tree_is_refused_and_nothing_moves(tmp_path: Path, row: str) -> None:
    top = tmp_path / "top"
    _dist(top, "evil", {"evil.py": ""})
    record = top / "site/evil-1.0.dist-info/RECORD"
    record.write_text(record.read_text() + f"{row},,\n")
    (tmp_path / "outside.txt").write_text("precious\n")
    before = _files(top)
    # state's own refusal, naming the dist-info (the journal's guard would refuse later, less clearly)
    with pytest.raises(InstallError, match=r"RECORD of evil-1\.0\.dist-info lists .*, outside "):
        _remove(top, "evil")
    assert _files(top) == before and (tmp_path / "outside.txt").read_text() == "precious\n"
    assert top.is_dir() and not (top / ".uvroot-txn").exists()


def test_a_distribution_another_installer_wrote_is_not_ours(tmp_path: Path) -> None:
    _dist(tmp_path, "pipped", {"pipped.py": ""}, installer="pip")
    (found,) = scan(_layout(tmp_path))
    assert (found.name, found.ours, found.key) == ("pipped", False, None)


def test_removing_the_last_distribution_leaves_the_top_and_all_above_it(tmp_path: Path) -> None:
    top = tmp_path / "above" / "top"
    (tmp_path / "above" / "empty-sibling").mkdir(parents=True)
    _dist(top, "mine", {"mine/__init__.py": "", "mine/sub/deep/a.py": "", "../bin/tool": ""})
    _remove(top, "mine")
    assert _files(top) == []
    # What removal emptied inside the tree goes; the top itself and everything outside it stay.
    assert top.is_dir() and not (top / "site").exists() and not (top / "bin").exists()
    assert (tmp_path / "above" / "empty-sibling").is_dir() and tmp_path.is_dir()


def test_pruning_stops_at_a_directory_someone_else_keeps_a_file_in(tmp_path: Path) -> None:
    top = tmp_path / "top"
    _dist(top, "mine", {"mine/sub/deep/a.py": "", "../share/mine/data.txt": ""})
    (top / "share" / "theirs.txt").write_text("someone's\n")
    (top / "site" / "mine" / "sub" / "keep.txt").write_text("someone's\n")
    _remove(top, "mine")
    assert _files(top) == ["share/theirs.txt", "site/mine/sub/keep.txt"]
    assert not (top / "share" / "mine").exists() and not (top / "site" / "mine" / "sub" / "deep").exists()


def test_pruning_walks_up_to_the_top_and_never_past_it(tmp_path: Path) -> None:
    """The directories commit may prune above a removed file: inside the tree, the top excluded.

    Bounded with islice: a walk that does not stop at the top (`or` for `and`) climbs past the
    filesystem root and never ends, so every removal would hang rather than fail.
    """
    from uvroot.txn import _parents

    top = str(tmp_path / "top")
    assert list(islice(_parents(f"{top}/site/pkg/sub/a.py", top), 10)) == [
        f"{top}/site/pkg/sub",
        f"{top}/site/pkg",
        f"{top}/site",
    ]
    assert list(islice(_parents(f"{top}/a.py", top), 10)) == []
    assert list(islice(_parents(f"{tmp_path}/elsewhere/a.py", top), 10)) == []


def test_removal_takes_the_bytecode_python_wrote_for_its_modules_and_no_one_elses(tmp_path: Path) -> None:
    # mine.py is a top-level module: its bytecode (written at run time, in no RECORD) goes with it; other
    # modules' bytecode beside it stays.
    _dist(tmp_path, "mine", {"mine.py": "", "mine/data.txt": ""})
    cache = tmp_path / "site/__pycache__"
    cache.mkdir()
    for name in (
        "mine.cpython-312.pyc",
        "mine.cpython-312.opt-1.pyc",
        "minex.cpython-312.pyc",
        "other.cpython-312.pyc",
    ):
        (cache / name).write_bytes(b"")
    (tmp_path / "site/mine.txt").write_text("someone's\n")
    _remove(tmp_path, "mine")
    assert _files(tmp_path) == [
        "site/__pycache__/minex.cpython-312.pyc",
        "site/__pycache__/other.cpython-312.pyc",
        "site/mine.txt",
    ]


def test_removal_of_files_someone_already_deleted_goes_on(tmp_path: Path) -> None:
    _dist(tmp_path, "mine", {"mine/__init__.py": "", "mine/sub/a.py": "", "../bin/tool": "", "solo.py": ""})
    _dist(tmp_path, "other", {"other.py": ""})
    for path in ("bin/tool", "site/solo.py"):
        (tmp_path / path).unlink()
    for path in ("site/mine/sub/a.py", "site/mine/__init__.py"):
        (tmp_path / path).unlink()
    (tmp_path / "site/mine/sub").rmdir()
    (tmp_path / "site/mine").rmdir()
    _remove(tmp_path, "mine")
    assert [d.name for d in scan(_layout(tmp_path))] == ["other"]
    assert not (tmp_path / "site/mine-1.0.dist-info").exists()


def test_a_package_directory_goes_whole_only_when_all_of_it_is_the_distributions(tmp_path: Path) -> None:
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    (outside / "kept.txt").write_text("someone's\n")
    top = tmp_path / "top"
    _dist(top, "linked", {"linked/__init__.py": "", "linked/a.py": ""})
    (top / "site/linked/data").symlink_to(outside, target_is_directory=True)  # someone's link in the package
    _dist(top, "hollow", {"hollow/__init__.py": "", "hollow/sub/b.py": ""})
    (top / "site/hollow/sub/empty").mkdir()  # someone's empty directory
    _dist(top, "stale", {"stale/__init__.py": ""})
    (top / "site/stale/__pycache__").mkdir()
    (top / "site/stale/__pycache__/__init__.cpython-312.pyc").write_bytes(b"")  # Python's, for its module
    (top / "site/stale/__pycache__/gone.cpython-312.pyc").write_bytes(b"")  # for a module that is not its
    _dist(top, "whole", {"whole/__init__.py": "", "whole/deep/c.py": ""})
    (top / "site/whole/__pycache__").mkdir()
    (top / "site/whole/__pycache__/__init__.cpython-312.pyc").write_bytes(b"")
    for name in ("linked", "hollow", "stale", "whole"):
        _remove(top, name)
    assert (top / "site/linked/data").is_symlink() and (outside / "kept.txt").is_file()
    assert (top / "site/hollow/sub/empty").is_dir()
    assert _files(top) == ["site/stale/__pycache__/gone.cpython-312.pyc"]  # (a link to a directory is no file)
    assert not (top / "site/whole").exists()


def test_a_record_that_escapes_or_names_the_top_or_the_journal_is_refused_with_why(tmp_path: Path) -> None:
    top = tmp_path / "top"
    outside = tmp_path / "outside"
    outside.mkdir()
    _dist(top, "evil", {"evil.py": ""})
    (top / "site/link").symlink_to(outside, target_is_directory=True)
    (outside / "x.txt").write_text("precious\n")
    before = _files(top)
    cases = {
        "link/x.txt,,\n": f"RECORD of evil-1.0.dist-info lists {top}/site/link/x.txt, outside {top} "
        "(uvroot removes only files inside the tree it manages)",
        "..,,\n": f"RECORD of evil-1.0.dist-info lists {top}, outside {top} "
        "(uvroot removes only files inside the tree it manages)",
        "../.uvroot-txn/journal,,\n": f"RECORD of evil-1.0.dist-info lists {top}/.uvroot-txn/journal, a name "
        "uvroot keeps for its own journal (the RECORD was edited by hand or by a hostile tool; remove the "
        "distribution yourself)",
    }
    record = top / "site/evil-1.0.dist-info/RECORD"
    original = record.read_text()
    for row, message in cases.items():
        record.write_text(original + row)
        with pytest.raises(InstallError) as raised:
            _remove(top, "evil")
        assert str(raised.value) == message
        assert _files(top) == before and (outside / "x.txt").read_text() == "precious\n"
    record.write_bytes(b"evil.py,,\n\xff\xfe,,\n")
    with pytest.raises(InstallError) as raised:
        _remove(top, "evil")
    assert str(raised.value).startswith("cannot read the RECORD of evil-1.0.dist-info: ")
    assert raised.value.hint == "uvroot removes a distribution only by its RECORD; delete its files yourself"


def test_what_uvroot_adds_to_each_dist_info(
    make_locked_project: Callable[..., Path],
    make_package: Callable[..., Path],
    make_git_package: Callable[..., GitRepo],
    index: LocalIndex,
    wheelhouse: Path,
    tmp_path: Path,
    uvroot_cache: Path,
) -> None:
    """README, "What lands in the tree": INSTALLER, REQUESTED for direct dependencies, uvroot.json, and
    PEP 610's direct_url.json (sorted keys, as pip writes it) for everything not from a registry."""
    make_package(name="tree")
    make_package(name="edit")
    local = tmp_path / "wheels" / "linttool-1.0-py3-none-any.whl"
    local.parent.mkdir()
    local.write_bytes((wheelhouse / local.name).read_bytes())
    git = make_git_package(subdirectory="sub", name="subpkg")
    project = make_locked_project(
        dependencies=[
            "alpha",
            "tree",
            "edit",
            "linttool",
            f"docstool @ {index.url.removesuffix('/simple')}/files/docstool-1.0-py3-none-any.whl",
            git_requirement("subpkg", git.url, git.commit, subdirectory="sub"),
        ],
        sources={
            "tree": {"path": "../libs/tree", "editable": False},
            "edit": {"path": "../libs/edit", "editable": True},
            "linttool": {"path": f"../wheels/{local.name}"},
        },
        requires_python=">=3.10",
    )
    target = tmp_path / "target"
    platform = ["--python-platform", "x86_64-manylinux_2_28", "--python-version", HOST]
    result = uvroot("sync", "--project", project, "--target", target, *platform, cache=uvroot_cache)
    assert result.exit_code == 0, result.output

    def info(name: str) -> Path:
        (found,) = target.glob(f"{name}-*.dist-info")
        return found

    def sha256(path: Path) -> str:
        return hashlib.sha256(path.read_bytes()).hexdigest()

    docstool = sha256(wheelhouse / "docstool-1.0-py3-none-any.whl")
    expected = {
        "tree": {"dir_info": {}, "url": (tmp_path / "libs/tree").as_uri()},
        "edit": {"dir_info": {}, "url": (tmp_path / "libs/edit").as_uri()},  # staged non-editable
        "linttool": {
            "archive_info": {"hash": f"sha256={sha256(local)}", "hashes": {"sha256": sha256(local)}},
            "url": local.as_uri(),
        },
        "docstool": {
            "archive_info": {"hash": f"sha256={docstool}", "hashes": {"sha256": docstool}},
            "url": f"{index.url.removesuffix('/simple')}/files/docstool-1.0-py3-none-any.whl",
        },
        "subpkg": {
            "subdirectory": "sub",
            "url": git.url.removeprefix("git+"),
            "vcs_info": {"commit_id": git.commit, "vcs": "git"},
        },
    }
    for name, origin in expected.items():
        assert (info(name) / "direct_url.json").read_text() == json.dumps(origin, sort_keys=True), name
    for name in ("alpha", "beta"):
        assert not (info(name) / "direct_url.json").exists()  # a registry install is a name and a version
    for name in ("alpha", "tree", "edit", "linttool", "docstool", "subpkg"):
        assert (info(name) / "REQUESTED").read_bytes() == b"", name
    assert not (info("beta") / "REQUESTED").exists()  # beta comes through alpha
    assert (info("alpha") / "INSTALLER").read_bytes() == b"uvroot\n"
    state = json.loads((info("alpha") / "uvroot.json").read_text())
    alpha = sha256(wheelhouse / "alpha-1.0-py3-none-any.whl")
    assert state.pop("source").startswith(f"{alpha};")  # the wheel, and how its files were placed
    target_tag = f"cp{HOST.replace('.', '')}-x86_64-manylinux_2_28"
    assert state == {"sha256": alpha, "target": target_tag, "wheel": "alpha-1.0-py3-none-any.whl"}


def test_target_must_be_a_directory_empty_or_staged_by_uvroot(
    make_locked_project: Callable[..., Path], tmp_path: Path
) -> None:
    project = make_locked_project(dependencies=["alpha"], requires_python=">=3.10")
    # (The CLI refuses a file in the way before it plans anything: a library caller gets state's refusal.)
    file = tmp_path / "file"
    file.write_text("x\n")
    with pytest.raises(UsageError) as raised:
        check_target_dir(_layout(file), [])
    assert str(raised.value) == f"--target {file} exists and is not a directory (choose a directory path)"
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "theirs.txt").write_text("x\n")
    result = uvroot("sync", "--project", project, "--target", foreign)
    assert result.exit_code == 2 and result.stdout == "", result.output
    assert result.stderr.splitlines() == [
        f"error: --target {foreign} is not empty and was not created by uvroot",
        "hint: pick an empty or new directory; uvroot never mixes into foreign trees",
    ]
    assert sorted(p.name for p in foreign.iterdir()) == ["theirs.txt"]
