"""state.py alone: what a layout holds, and removal by RECORD inside one transaction (real files, no sync)."""

from __future__ import annotations

from itertools import islice
from pathlib import Path

import pytest

from uvroot.errors import InstallError
from uvroot.layout import Layout
from uvroot.state import remove_dist, scan
from uvroot.txn import Transaction

EPOCH = 315532800


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
