"""Target: tags and marker environments are computed from the triple, never from the host."""

from __future__ import annotations

import pytest
from packaging import tags
from packaging.markers import Marker

from uvroot.errors import TargetError
from uvroot.target import Target


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


def test_tags_match_packaging_for_the_same_inputs() -> None:
    target = Target.parse("3.11", "x86_64-manylinux_2_17")
    plats = target.platforms()
    expected = [*tags.cpython_tags((3, 11), ["cp311"], plats), *tags.compatible_tags((3, 11), "cp311", plats)]
    assert list(target.tags) == list(dict.fromkeys(expected))


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


@pytest.mark.parametrize(("version", "platform"), [("2.7", "linux"), ("3.x", "linux"), ("3.12", "sparc-sun-solaris")])
def test_bad_targets_name_the_flag(version: str, platform: str) -> None:
    with pytest.raises(TargetError, match=r"--python-(version|platform)"):
        Target.parse(version, platform)
