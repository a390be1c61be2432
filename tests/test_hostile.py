"""Hostile wheels and hostile trees are refused before anything of them is written.

Each hostile wheel stands in for `alpha` on a second index, and the genuine
uv.lock is pointed at it with the matching hash, as if the index had served it
when uv locked: the sha256 check passes, so uvroot's own checks must catch it.
"""

from __future__ import annotations

import hashlib
import os
import struct
import zipfile
from base64 import urlsafe_b64encode
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import Result

from tests.support.cli import tree, uvroot
from tests.support.index import LocalIndex
from tests.support.wheels import rezipped

GOOD = {"alpha/__init__.py": b"def main():\n    print('alpha')\n"}
META = "alpha-1.0.dist-info"


def _row(name: str, data: bytes) -> str:
    digest = urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"{name},sha256={digest},{len(data)}"


def _wheel(
    path: Path,
    files: dict[str, bytes],
    *,
    record: dict[str, bytes] | None = None,
    links: tuple[str, ...] = (),
    dist_info: str = META,
    deflate: bool = False,
) -> Path:
    """A wheel whose RECORD lists ``record`` (default: the files themselves)."""
    metadata = {
        f"{dist_info}/METADATA": b"Metadata-Version: 2.1\nName: alpha\nVersion: 1.0\n",
        f"{dist_info}/WHEEL": b"Wheel-Version: 1.0\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
    }
    everything = {**files, **metadata}
    rows = [_row(name, data) for name, data in {**(record if record is not None else files), **metadata}.items()]
    rows.append(f"{dist_info}/RECORD,,")
    compression = zipfile.ZIP_DEFLATED if deflate else zipfile.ZIP_STORED
    with zipfile.ZipFile(path, "w", compression) as archive:
        for name, data in everything.items():
            archive.writestr(name, data)
        for name in links:
            info = zipfile.ZipInfo(name)
            info.external_attr = 0o120777 << 16  # a symbolic link
            archive.writestr(info, "/etc/passwd")
        archive.writestr(f"{dist_info}/RECORD", "\n".join(rows) + "\n")
    return path


_RECORD = f"{META}/RECORD"


def _rewritten(wheel: Path, member: str, change: Callable[[bytes], bytes | None]) -> Path:
    """``wheel`` zipped again with ``member``'s bytes changed by ``change`` (None: the member left out)."""
    with rezipped(wheel) as members:
        changed = change(members.pop(member))
        if changed is not None:
            members[member] = changed
    return wheel


def _bad_crc(path: Path, member: str = "alpha/__init__.py", algorithm: str = "sha512") -> Path:
    """A stored member changed after zipping (its CRC-32 no longer matches) under a RECORD row uvroot does
    not recompute (sha512; RECORD.jws's): only the zip's CRC can tell (skipped where sha256 proves the bytes)."""
    data = GOOD.get(member, b"signature of the RECORD\n")
    digest = urlsafe_b64encode(hashlib.new(algorithm, data).digest()).rstrip(b"=").decode()
    row = f"{member},{algorithm}={digest},{len(data)}".encode()
    _rewritten(
        _wheel(path, {**GOOD, member: data}), _RECORD, lambda record: record.replace(_row(member, data).encode(), row)
    )
    raw = path.read_bytes()
    assert raw.count(data) == 1
    path.write_bytes(raw.replace(data, data.replace(b"a", b"o")))
    return path


def _record_row_changed(path: Path, change: Callable[[bytes], bytes]) -> Path:
    """GOOD, with RECORD's row of alpha/__init__.py rewritten by ``change`` (the member itself untouched)."""
    row = _row("alpha/__init__.py", GOOD["alpha/__init__.py"]).encode()
    return _rewritten(_wheel(path, GOOD), _RECORD, lambda record: record.replace(row, change(row)))


def _record_replaced(path: Path, record: bytes | None) -> Path:
    """GOOD with RECORD replaced by ``record`` (None: no RECORD at all)."""
    return _rewritten(_wheel(path, GOOD), _RECORD, lambda _: record)


def _same_size_other_bytes(row: bytes) -> bytes:
    data = GOOD["alpha/__init__.py"]
    return _row("alpha/__init__.py", data.replace(b"alpha", b"omega")).encode()


def _declared_huge(path: Path) -> Path:
    """Five one-byte members whose central directory declares 4 GiB each: 20 GiB, past what uvroot unpacks."""
    _wheel(path, {**GOOD, **{f"alpha/f{i}.py": b"x" for i in range(5)}})
    raw = bytearray(path.read_bytes())
    with zipfile.ZipFile(path) as archive:
        offset = archive.start_dir  # the central directory: 46-byte headers, each then its name, extra, comment
        for _ in archive.infolist():
            assert raw[offset : offset + 4] == b"PK\x01\x02"
            name_length, extra_length, comment_length = struct.unpack_from("<HHH", raw, offset + 28)
            if raw[offset + 46 : offset + 46 + name_length].startswith(b"alpha/f"):
                struct.pack_into("<I", raw, offset + 24, 0xFFFFFFFE)  # uncompressed size
            offset += 46 + name_length + extra_length + comment_length
    path.write_bytes(bytes(raw))
    return path


def _bad_deflate(path: Path) -> Path:
    """A deflated member whose stream starts with a reserved block type: no inflater can read it."""
    data = b"import this\n" * 1000
    _wheel(path, {**GOOD, "alpha/big.py": data}, deflate=True)
    with zipfile.ZipFile(path) as archive:
        info = archive.getinfo("alpha/big.py")
    raw = bytearray(path.read_bytes())
    start = info.header_offset + 30 + len(info.filename.encode()) + len(info.extra)  # the local header's end
    raw[start] = 0xFF  # BFINAL=1, BTYPE=11: reserved
    path.write_bytes(bytes(raw))
    return path


HOSTILE: dict[str, tuple[Callable[[Path], Path], str]] = {
    "dot-dot": (lambda p: _wheel(p, {**GOOD, "../evil.py": b"x"}), "unsafe entry '../evil.py'"),
    "absolute": (lambda p: _wheel(p, {**GOOD, "/tmp/evil.py": b"x"}), "unsafe entry '/tmp/evil.py'"),
    "drive": (lambda p: _wheel(p, {**GOOD, "C:/evil.py": b"x"}), "unsafe entry 'C:/evil.py'"),
    "drive-lowercase": (lambda p: _wheel(p, {**GOOD, "c:/evil.py": b"x"}), "unsafe entry 'c:/evil.py'"),
    "symlink": (lambda p: _wheel(p, GOOD, links=("alpha/passwd",)), "symbolic link 'alpha/passwd'"),
    "record": (lambda p: _wheel(p, GOOD, record={"alpha/__init__.py": b"other"}), "does not match its RECORD"),
    "record-same-size": (  # the CRC is not checked where RECORD's sha256 is: the hash alone must catch it
        lambda p: _record_row_changed(p, _same_size_other_bytes),
        "alpha/__init__.py does not match its RECORD",
    ),
    "record-size": (  # the right digest, a wrong size
        lambda p: _record_row_changed(p, lambda row: row.rpartition(b",")[0] + b",999"),
        "alpha/__init__.py does not match its RECORD",
    ),
    "unlisted": (lambda p: _wheel(p, GOOD, record={}), "is not listed in RECORD"),
    "no-record": (lambda p: _record_replaced(p, None), "has 0 RECORD files instead of one"),
    "record-not-utf8": (
        lambda p: _record_replaced(p, b"alpha/__init__.py,sha256=\xff,1\n"),
        "cannot unpack alpha-1.0-py3-none-any.whl",
    ),
    "record-field-too-large": (  # past csv's field size limit
        lambda p: _record_replaced(p, b"a" * 200_000 + b",sha256=x,1\n"),
        "its RECORD is not valid CSV",
    ),
    "name": (lambda p: _wheel(p, GOOD, dist_info="beta-2.0.dist-info"), "does not contain the dist-info"),
    "data-escape": (
        lambda p: _wheel(p, {**GOOD, "alpha-1.0.data/purelib/../../../../evil.py": b"x"}),
        "unsafe entry",
    ),
    "crc": (_bad_crc, "Bad CRC-32 for file 'alpha/__init__.py'"),
    "crc-signature": (
        lambda p: _bad_crc(p, f"{META}/RECORD.jws", "sha256"),  # listed with a sha256 that is never checked
        f"Bad CRC-32 for file '{META}/RECORD.jws'",
    ),
    "bomb": (lambda p: _wheel(p, {**GOOD, "alpha/zeros": bytes(80 << 20)}, deflate=True), "zip bomb"),
    "declared-huge": (_declared_huge, "would unpack to 20480 MiB, more than uvroot allows"),
    "deflate": (_bad_deflate, "cannot unpack alpha-1.0-py3-none-any.whl"),
    "second-dist-info": (  # "./" hid it from the check of names, not from unpacking
        lambda p: _wheel(p, {**GOOD, "./beta-2.0.dist-info/METADATA": b"Name: beta\n"}),
        "does not contain the dist-info its name promises (found: alpha-1.0.dist-info, beta-2.0.dist-info)",
    ),
}


@pytest.fixture
def evil_index(tmp_path: Path) -> Iterator[LocalIndex]:
    (tmp_path / "evil").mkdir()
    with LocalIndex(tmp_path / "evil") as server:
        yield server


@pytest.fixture(params=["isal", "zlib"])
def inflater(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Deflated members inflated by python-isal (uvroot[fast], which the tests install) or by zlib alone."""
    import uvroot.unpack

    if request.param == "isal":
        assert uvroot.unpack._INFLATER is not None, "the tests install uvroot[fast]: isal must be importable"
    else:
        monkeypatch.setattr(uvroot.unpack, "_INFLATER", None)
    return str(request.param)


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_hostile_wheel_is_refused_before_anything_is_written(
    case: str,
    make_locked_project: Callable[..., Path],
    index: LocalIndex,
    evil_index: LocalIndex,
    tmp_path: Path,
    inflater: str,
) -> None:
    project = make_locked_project(dependencies=["alpha", "gadgets"], requires_python=">=3.10")
    make, needle = HOSTILE[case]
    wheel = make(evil_index.directory / "alpha-1.0-py3-none-any.whl")
    lock = project / "uv.lock"
    text = lock.read_text()
    good_hash = text.split(f'{index.files_url}/alpha-1.0-py3-none-any.whl", hash = "sha256:')[1][:64]
    text = text.replace(f"{index.files_url}/alpha-1.0", f"{evil_index.files_url}/alpha-1.0")
    lock.write_text(text.replace(good_hash, hashlib.sha256(wheel.read_bytes()).hexdigest()))
    root, cache, outside = tmp_path / "root", tmp_path / "cache", tmp_path / "evil.py"
    result = uvroot("sync", "--project", project, "--root", root, cache=cache)
    assert result.exit_code == 6, result.output
    assert needle in result.output and "Traceback" not in result.output
    assert "\nhint: " in result.output  # what the user should make of it
    assert tree(root) == {}  # gadgets was fine, but nothing is spread when one wheel is hostile
    assert not outside.exists() and not Path("/tmp/evil.py").exists()
    assert not list(cache.glob("unpacked-v2/*/*/alpha"))


def test_a_big_member_that_is_no_bomb_is_unpacked(tmp_path: Path) -> None:
    """Past the size where the ratio is checked (64 MiB), a member that barely compresses is a file like any other."""
    from uvroot.cache import WheelCache
    from uvroot.fetch import LocalFile
    from uvroot.unpack import unpack

    wheel = _wheel(tmp_path / "alpha-1.0-py3-none-any.whl", {**GOOD, "alpha/blob.bin": os.urandom(65 << 20)})
    entry = unpack(LocalFile(wheel, None, wheel.stat().st_size), WheelCache(tmp_path / "cache"))
    assert (entry / "alpha" / "blob.bin").stat().st_size == 65 << 20


def test_a_symlink_out_of_the_root_is_never_followed(
    make_locked_project: Callable[..., Path], tmp_path: Path, uvroot_cache: Path
) -> None:
    project = make_locked_project(dependencies=["alpha"], requires_python=">=3.10")
    root, elsewhere = tmp_path / "root", tmp_path / "etc"
    elsewhere.mkdir()
    (root / "usr/local").mkdir(parents=True)
    (root / "usr/local/lib").symlink_to(elsewhere)
    result = uvroot("sync", "--project", project, "--root", root, "--python-version", "3.12", cache=uvroot_cache)
    assert result.exit_code == 6, result.output
    assert "leads outside" in result.output and "through a symbolic link" in result.output
    assert list(elsewhere.iterdir()) == []


def test_a_symlink_inside_the_root_is_fine(
    make_locked_project: Callable[..., Path], tmp_path: Path, uvroot_cache: Path
) -> None:
    # python images have /usr/local/man -> share/man; links that stay inside the tree are followed.
    project = make_locked_project(dependencies=["alpha"], requires_python=">=3.10")
    root = tmp_path / "root"
    (root / "usr/local/real-lib").mkdir(parents=True)
    (root / "usr/local/lib").symlink_to("real-lib")
    result = uvroot("sync", "--project", project, "--root", root, "--python-version", "3.12", cache=uvroot_cache)
    assert result.exit_code == 0, result.output
    assert (root / "usr/local/real-lib/python3.12/site-packages/alpha/__init__.py").is_file()


_SEGMENTS = st.sampled_from(["..", ".", "a", "b.py", "", "C:", "c:\\\\x", "\\\\", "ü", "~", "-", " "])


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(names=st.lists(st.lists(_SEGMENTS, min_size=1, max_size=5).map("/".join), min_size=1, max_size=4))
def test_unpacking_never_writes_outside_its_entry(names: list[str], tmp_path_factory: pytest.TempPathFactory) -> None:
    # Whatever the entry names, unpacking either refuses the wheel or keeps every file inside its entry.
    from uvroot.cache import WheelCache
    from uvroot.errors import InstallError
    from uvroot.fetch import LocalFile
    from uvroot.unpack import unpack

    work = tmp_path_factory.mktemp("fuzz")
    files = {**GOOD, **dict.fromkeys(names, b"x")}
    try:
        wheel = _wheel(work / "alpha-1.0-py3-none-any.whl", files)
    except (ValueError, OSError, IndexError):
        return  # zipfile itself refuses some names (the empty one, with an IndexError)
    before = set(work.rglob("*"))
    try:
        entry = unpack(LocalFile(wheel, None, wheel.stat().st_size), WheelCache(work / "cache"))
    except InstallError:
        after = {p for p in work.rglob("*") if "cache/tmp" not in p.as_posix()}
        assert after - before <= {work / "cache", work / "cache/tmp", work / "cache/CACHEDIR.TAG"}
        return
    written = [p for p in entry.rglob("*") if p.is_file()]
    assert all(p.resolve().is_relative_to(entry.resolve()) for p in written)
    outside = {p for p in work.rglob("*") if not p.is_relative_to(work / "cache")} - before
    assert outside == set()


@pytest.mark.parametrize("layout", [["--root", "ROOT"], ["--venv", "ROOT/venv"], ["--target", "ROOT/t"]])
def test_a_script_named_like_the_interpreter_is_refused(
    layout: list[str], make_locked_project: Callable[..., Path], tmp_path: Path, uvroot_cache: Path
) -> None:
    project = make_locked_project(dependencies=["alpha", "shadowpy"], requires_python=">=3.10")
    root = tmp_path / "root"
    args = [arg.replace("ROOT", str(root)) for arg in layout]
    result = uvroot("sync", "--project", project, *args, "--python-version", "3.12", cache=uvroot_cache)
    assert result.exit_code == 6, result.output
    assert "shadowpy-1.0 would install" in result.output and "bin/python3, which would replace" in result.output
    assert not [path for path in root.rglob("*") if path.is_file()]  # alpha, placed first, was taken back too


# -- removal follows a RECORD, which someone may have edited -----------------------------


def _target_sync(project: Path, target: Path, cache: Path) -> Result:
    return uvroot("sync", "--project", project, "--target", target, "--python-version", "3.12", cache=cache)


@pytest.mark.parametrize("row", ["../outside.txt", "{abs}", "alpha/../../outside.txt", "../t2/theirs.txt"])
def test_a_record_pointing_outside_stops_the_removal_with_nothing_moved(
    make_locked_project: Callable[..., Path], tmp_path: Path, uvroot_cache: Path, row: str
) -> None:
    both = make_locked_project(dependencies=["alpha", "gadgets"], requires_python=">=3.10")
    only = make_locked_project(dependencies=["gadgets"], requires_python=">=3.10")
    target = tmp_path / "t"
    assert _target_sync(both, target, uvroot_cache).exit_code == 0
    precious = {
        tmp_path / "outside.txt": "precious\n",
        tmp_path / "abs.txt": "mine\n",
        tmp_path / "t2/theirs.txt": "x\n",
    }
    for path, text in precious.items():
        path.parent.mkdir(exist_ok=True)
        path.write_text(text)
    record = target / "alpha-1.0.dist-info/RECORD"
    record.write_text(record.read_text() + row.format(abs=tmp_path / "abs.txt") + ",,\n")
    before = tree(target)
    result = _target_sync(only, target, uvroot_cache)
    assert result.exit_code == 6, result.output
    assert "error: RECORD of alpha-1.0.dist-info lists " in result.output and ", outside " in result.output
    assert tree(target) == before and not (target / ".uvroot-txn").exists()
    assert all(path.read_text() == text for path, text in precious.items())


def test_removal_leaves_the_top_and_every_foreign_file(
    make_locked_project: Callable[..., Path], tmp_path: Path, uvroot_cache: Path
) -> None:
    both = make_locked_project(dependencies=["alpha", "gadgets"], requires_python=">=3.10")
    none = make_locked_project(dependencies=[], requires_python=">=3.10")
    target = tmp_path / "t"
    assert _target_sync(both, target, uvroot_cache).exit_code == 0
    (target / "notes.txt").write_text("someone's\n")
    (target / "alpha/mine.txt").write_text("someone's\n")
    (target / "bin/theirs").write_text("someone's\n")
    (target / "share/empty").mkdir()
    (tmp_path / "sibling").mkdir()
    result = _target_sync(none, target, uvroot_cache)
    assert result.exit_code == 0, result.output
    assert sorted(tree(target)) == ["alpha/mine.txt", "bin/theirs", "notes.txt"]
    assert (target / "share/empty").is_dir() and (tmp_path / "sibling").is_dir()
    assert not list(target.glob("*.dist-info")) and not (target / "gadgets").exists()
