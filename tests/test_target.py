"""Target: tags and marker environments are computed from the triple, never from the host."""

from __future__ import annotations

import dataclasses
import platform
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from packaging.markers import Marker

from tests.support.cli import uvroot
from tests.support.index import LocalIndex
from tests.support.uvproject import run_uv
from tests.support.wheels import build_wheel
from uvroot.errors import TargetError
from uvroot.target import Target, host_platform


def test_musl_aarch64_prefers_exact_abi_then_abi3_then_pure() -> None:
    target = Target.parse("3.12", "aarch64-unknown-linux-musl")
    order = [str(tag) for tag in target.tags]
    assert order[0] == "cp312-cp312-musllinux_1_2_aarch64"
    assert order.index("cp312-abi3-musllinux_1_2_aarch64") < order.index("py3-none-any")
    assert not any("manylinux" in tag or "x86_64" in tag for tag in order)
    assert order[-1].endswith("-none-any")


def test_manylinux_descends_with_legacy_aliases_after_their_twins() -> None:
    platforms = Target.parse("3.12", "x86_64-manylinux_2_28").platforms()
    assert platforms[0] == "manylinux_2_28_x86_64"
    assert platforms.index("manylinux2014_x86_64") == platforms.index("manylinux_2_17_x86_64") + 1
    assert platforms.index("manylinux1_x86_64") == platforms.index("manylinux_2_5_x86_64") + 1
    assert platforms[-1] == "linux_x86_64"
    aarch64 = Target.parse("3.12", "aarch64-manylinux_2_28").platforms()
    assert "manylinux_2_16_aarch64" not in aarch64  # aarch64 starts at glibc 2.17


def test_uv_aliases() -> None:
    assert Target.parse("3.12", "linux").platform_name == "x86_64-manylinux_2_28"
    assert Target.parse("3.12", "x86_64-unknown-linux-gnu").platform_name == "x86_64-manylinux_2_28"
    assert Target.parse("3.12", "x86_64-manylinux2014").platform_name == "x86_64-manylinux_2_17"
    assert Target.parse("3.12", "macos").platforms()[0] == "macosx_13_0_arm64"
    assert Target.parse("3.12", "windows").platforms() == ["win_amd64"]


TAGS = Path(__file__).parent / "data" / "tags"


def _recorded(name: str) -> list[str]:
    return [line for line in (TAGS / name).read_text().splitlines() if line and not line.startswith("#")]


@pytest.mark.parametrize("recorded", sorted(path.name for path in TAGS.glob("cp*.txt")))
def test_tags_are_what_a_real_interpreter_accepts(recorded: str) -> None:
    """Every tag, in order, that `pip debug --verbose` printed under a real CPython (tests/data/tags).

    Recorded on Debian 12 (glibc 2.36, x86_64) from pyenv's CPython 3.8-3.13: the only kind of
    machine these tests had.  musl and aarch64 lists need such hosts (not recorded here).
    """
    minor = recorded.split("-")[0].removeprefix("cp3")
    target = Target.parse(f"3.{minor}", "x86_64-manylinux_2_36")
    assert [str(tag) for tag in target.tags] == _recorded(recorded)


def test_the_recorded_tags_cover_what_the_images_use() -> None:
    assert {path.name for path in TAGS.glob("cp*.txt")} >= {
        f"cp3{minor}-x86_64-glibc_2_36.txt" for minor in (10, 11, 12, 13)
    }


# -- the build machine, when --python-platform is not given ---------------------------------------


@pytest.mark.parametrize(
    ("system", "machine", "libc", "triple", "first"),
    [
        ("linux", "x86_64", ("glibc", "2.36"), "x86_64-manylinux_2_36", "manylinux_2_36_x86_64"),
        ("linux", "aarch64", ("glibc", "2.31"), "aarch64-manylinux_2_31", "manylinux_2_31_aarch64"),
        ("linux", "x86_64", ("", ""), "x86_64-unknown-linux-musl", "musllinux_1_2_x86_64"),
        ("linux", "aarch64", ("", ""), "aarch64-unknown-linux-musl", "musllinux_1_2_aarch64"),
        ("darwin", "arm64", ("", ""), "aarch64-apple-darwin", "macosx_13_0_arm64"),
        ("darwin", "x86_64", ("", ""), "x86_64-apple-darwin", "macosx_13_0_x86_64"),
        ("win32", "AMD64", ("", ""), "x86_64-pc-windows-msvc", "win_amd64"),
        ("win32", "ARM64", ("", ""), "aarch64-pc-windows-msvc", "win_arm64"),
        ("win32", "x86", ("", ""), "i686-pc-windows-msvc", "win32"),
    ],
)
def test_the_host_is_the_default_target(
    monkeypatch: pytest.MonkeyPatch,
    system: str,
    machine: str,
    libc: tuple[str, str],
    triple: str,
    first: str,
) -> None:
    """What `platform` and `sys` report on each kind of build machine (amd64/arm64 spellings included)."""
    monkeypatch.setattr(sys, "platform", system)
    monkeypatch.setattr(platform, "machine", lambda: machine)
    monkeypatch.setattr(platform, "libc_ver", lambda *args, **kwargs: libc)
    assert host_platform() == triple
    target = Target.parse("3.12", None)
    assert target.platforms()[0] == first
    assert target == Target.parse("3.12", triple)


def test_plan_without_a_platform_stages_for_the_build_machine(
    make_locked_project: Callable[..., Path], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """On an arm64 Mac, `uvroot plan` without --python-platform picks the macOS arm64 wheel."""
    project = make_locked_project(dependencies=["native"], requires_python=">=3.10")
    monkeypatch.setattr(sys, "platform", "darwin")
    monkeypatch.setattr(platform, "machine", lambda: "arm64")
    result = uvroot("plan", "--project", project, "--target", tmp_path / "t", "--python-version", "3.12")
    assert result.exit_code == 0, result.output
    assert "native-1.0-cp312-cp312-macosx_11_0_arm64.whl" in result.output


@pytest.mark.parametrize(
    ("platform", "marker", "expected"),
    [
        ("windows", "sys_platform == 'win32' and os_name == 'nt'", True),
        ("macos", "platform_machine == 'arm64' and platform_system == 'Darwin'", True),
        ("aarch64-unknown-linux-musl", "platform_machine == 'aarch64' and sys_platform == 'linux'", True),
        ("linux", "platform_release != '' or platform_version != ''", False),
    ],
)
def test_markers_are_the_targets(platform: str, marker: str, expected: bool) -> None:
    env = Target.parse("3.9.2", platform).environment()
    assert len(env) == 11  # every key set: Marker.evaluate would borrow missing ones from the host
    assert Marker(marker).evaluate(dict(env)) is expected
    assert Marker("python_full_version == '3.9.2' and python_version < '3.10'").evaluate(dict(env))


def test_a_target_described_by_its_interpreter_keeps_that_ones_markers() -> None:
    """--target-file's markers are the interpreter's own (platform_release included), not computed."""
    own = (("platform_release", "6.1.0-28-arm64"), ("python_full_version", "3.12.8"), ("sys_platform", "linux"))
    target = dataclasses.replace(Target.parse("3.12", "aarch64-manylinux_2_36"), markers=own)
    assert target.environment() == dict(own)
    assert Target.parse("3.12", "aarch64-manylinux_2_36").environment()["platform_release"] == ""


@pytest.mark.parametrize(("version", "platform"), [("2.7", "linux"), ("3.x", "linux"), ("3.12", "sparc-sun-solaris")])
def test_bad_targets_name_the_flag(version: str, platform: str) -> None:
    with pytest.raises(TargetError, match=r"--python-(version|platform)"):
        Target.parse(version, platform)


# -- the marker environment, judged by uv -------------------------------------------------------

TRIPLES = [
    ("3.12", "linux", "cp312-x86_64-manylinux_2_28"),
    ("3.11.4", "aarch64-unknown-linux-gnu", "cp311-aarch64-manylinux_2_28"),
    ("3.10", "x86_64-unknown-linux-musl", "cp310-x86_64-musllinux_1_2"),
    ("3.13", "aarch64-unknown-linux-musl", "cp313-aarch64-musllinux_1_2"),
    ("3.9", "x86_64-manylinux2014", "cp39-x86_64-manylinux_2_17"),
    ("3.12", "aarch64-manylinux_2_40", "cp312-aarch64-manylinux_2_40"),
    ("3.12.1", "macos", "cp312-aarch64-macosx_13_0"),
    ("3.12", "x86_64-apple-darwin", "cp312-x86_64-macosx_13_0"),
    ("3.12", "windows", "cp312-x86_64-pc-windows-msvc"),
    ("3.12", "i686-pc-windows-msvc", "cp312-i686-pc-windows-msvc"),
    ("3.12", "aarch64-pc-windows-msvc", "cp312-aarch64-pc-windows-msvc"),
]


@pytest.fixture(scope="module")
def marker_index(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalIndex]:
    wheels = tmp_path_factory.mktemp("marker-wheels")
    for key in range(11):
        build_wheel(wheels, f"key{key}", "1.0")
    with LocalIndex(wheels) as index:
        yield index


@pytest.mark.parametrize(("version", "platform_", "name"), TRIPLES)
def test_every_marker_value_is_the_one_uv_uses(
    marker_index: LocalIndex, uv_cache: Path, tmp_path: Path, version: str, platform_: str, name: str
) -> None:
    """Each key of uvroot's environment, as `key == 'value'`, must hold for uv on the same target."""
    target = Target.parse(version, platform_)
    assert str(target) == name
    env = target.environment()
    checked = {k: v for k, v in env.items() if k not in ("platform_release", "platform_version")}
    assert len(checked) == 9
    requirements = tmp_path / "requirements.in"
    lines = [f"key{i}; {key} == {value!r}" for i, (key, value) in enumerate(checked.items())]
    requirements.write_text("\n".join(lines) + "\n")
    out = run_uv(
        ["pip", "compile", "--no-config", "--no-header", "--no-annotate", "--index-url", marker_index.url,
         "--python-platform", platform_, "--python-version", version, str(requirements)],
        cwd=tmp_path, cache_dir=uv_cache,
    ).stdout  # fmt: skip
    chosen = sorted(line.split("==")[0] for line in out.splitlines() if "==" in line)
    assert chosen == sorted(f"key{i}" for i in range(len(checked))), (env, out)
    # Empty where uv's are (a marker on them never holds for a foreign target).
    assert env["platform_release"] == env["platform_version"] == ""


@pytest.mark.parametrize(
    ("platform_", "first", "last", "count"),
    [
        ("x86_64-unknown-linux-musl", "musllinux_1_2_x86_64", "linux_x86_64", 4),
        ("aarch64-manylinux_2_28", "manylinux_2_28_aarch64", "linux_aarch64", 14),
        ("x86_64-manylinux_2_17", "manylinux_2_17_x86_64", "linux_x86_64", 17),
        ("i686-pc-windows-msvc", "win32", "win32", 1),
        ("aarch64-musllinux_1_1", "musllinux_1_1_aarch64", "linux_aarch64", 3),
        ("x86_64-manylinux2010", "manylinux_2_12_x86_64", "linux_x86_64", 11),
        ("i686-manylinux1", "manylinux_2_5_i686", "linux_i686", 3),
        ("aarch64-pc-windows-msvc", "win_arm64", "win_arm64", 1),
    ],
)
def test_platform_lists_at_their_ends(platform_: str, first: str, last: str, count: int) -> None:
    """musllinux down to 1_0; aarch64 glibc down to 2_17 (PEP 599); x86_64 down to 2_5 with the legacy aliases."""
    platforms = Target.parse("3.12", platform_).platforms()
    assert (platforms[0], platforms[-1], len(platforms)) == (first, last, count)


@pytest.mark.parametrize(
    ("value", "expected"),
    [("3.12", (3, 12, 0)), ("3.12.4", (3, 12, 4)), ("cp311", None), ("cp3.11", (3, 11, 0)), ("python3.10", (3, 10, 0)),
     (" 3.9 ", (3, 9, 0)), ("3.8", (3, 8, 0)), ("3.7", None), ("4.0", None), ("2.12", None)],
)  # fmt: skip
def test_python_versions_as_uv_spells_them(value: str, expected: tuple[int, int, int] | None) -> None:
    if expected is None:
        with pytest.raises(TargetError) as refused:
            Target.parse(value, "linux")
        assert refused.value.message == f"--python-version {value!r} is not a CPython version uvroot can stage for"
        assert refused.value.hint == "give X.Y or X.Y.Z, CPython 3.8 or newer, e.g. 3.12"
    else:
        assert Target.parse(value, "linux").python == expected


@pytest.mark.parametrize(
    ("platform_", "name"),
    [("aarch64-musllinux_1_1", "cp313-aarch64-musllinux_1_1"), ("x86_64-manylinux_2_31", "cp313-x86_64-manylinux_2_31"),
     ("i686-manylinux1", "cp313-i686-manylinux_2_5"), ("arm64-apple-darwin", "cp313-aarch64-macosx_13_0")],
)  # fmt: skip
def test_explicit_libc_versions_name_the_target(platform_: str, name: str) -> None:
    target = Target.parse("3.13", platform_)
    assert str(target) == name
    assert target.environment()["python_full_version"] == "3.13.0"
    assert target.environment()["sys_platform"] == ("darwin" if "apple" in platform_ else "linux")


def test_the_default_python_is_this_interpreters_feature_release() -> None:
    assert Target.parse(None, "linux").python == (*sys.version_info[:2], 0)


@pytest.mark.parametrize(
    ("value", "what"),
    [("wasm32-pyodide2024", "Pyodide (WebAssembly)"), ("aarch64-linux-android", "Android"), ("arm64-apple-ios", "iOS")],
)
def test_platforms_with_no_layout_are_refused_by_name(value: str, what: str) -> None:
    with pytest.raises(TargetError) as refused:
        Target.parse("3.12", value)
    assert refused.value.message == (
        f"--python-platform {value} is a uv platform, but {what} apps bundle their Python and packages "
        "themselves: there is no system or venv layout to stage into"
    )
    assert (
        refused.value.hint == "use the platform's own packaging tool (e.g. pyodide build, briefcase) with the uv.lock"
    )


def test_an_unknown_platform_names_the_flag_and_the_values_uv_takes(tmp_path: Path) -> None:
    with pytest.raises(TargetError) as refused:
        Target.parse("3.12", "sparc64-sun-solaris")
    assert refused.value.message == "--python-platform 'sparc64-sun-solaris' is not a platform uvroot knows"
    assert refused.value.hint is not None and refused.value.hint.startswith("use a uv --python-platform value")
    assert Target.parse("3.12", "arm64-apple-darwin") == Target.parse("3.12", "aarch64-apple-darwin")


@pytest.mark.parametrize(
    ("value", "message", "hint"),
    [
        (
            "armv7l-pc-windows-msvc",
            "--python-platform armv7l-pc-windows-msvc: Windows wheels exist for x86_64, i686, aarch64, not armv7l",
            "use one of x86_64-pc-windows-msvc, i686-pc-windows-msvc, aarch64-pc-windows-msvc",
        ),
        (
            "i686-apple-darwin",
            "--python-platform i686-apple-darwin: macOS wheels exist for x86_64, aarch64, not i686",
            "use one of x86_64-apple-darwin, aarch64-apple-darwin",
        ),
    ],
)
def test_an_architecture_the_system_has_no_wheels_for_is_refused_up_front(value: str, message: str, hint: str) -> None:
    """Accepted before, it crashed later (KeyError) when the platform tags were computed."""
    with pytest.raises(TargetError) as refused:
        Target.parse("3.12", value)
    assert (refused.value.message, refused.value.hint) == (message, hint)


def test_uvs_riscv64_alias_starts_at_glibc_2_39() -> None:
    """uv maps `riscv64-unknown-linux` to manylinux_2_39 (ANCHORS 3.3, target_triple.rs), not the gnu default."""
    target = Target.parse("3.12", "riscv64-unknown-linux")
    assert str(target) == "cp312-riscv64-manylinux_2_39"
    assert target.platforms()[:2] == ["manylinux_2_39_riscv64", "manylinux_2_38_riscv64"]
