"""--image and --platform: targets as people name them (a base image and Docker's platform)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.support.cli import uvroot
from uvroot.errors import TargetError, UsageError
from uvroot.images import EXAMPLES, FAMILIES, TargetFlags, choose_target, find_image, image_target

SITE = "usr/local/lib/python3.12/site-packages"


@pytest.fixture
def project(make_locked_project: Callable[..., Path]) -> Path:
    return make_locked_project(dependencies=["alpha", "native"], requires_python=">=3.10")


@pytest.mark.parametrize(
    ("name", "python", "libc", "layout"),
    [
        ("python:3.12", "3.12", "glibc 2.41", "official"),
        ("python:3.12-slim", "3.12", "glibc 2.41", "official"),
        ("python:3.12-trixie", "3.12", "glibc 2.41", "official"),
        ("python:3.11-slim-bookworm", "3.11", "glibc 2.36", "official"),
        ("docker.io/library/python:3.13.1-bookworm", "3.13.1", "glibc 2.36", "official"),
        ("python:3.13-alpine", "3.13", "musl 1.2", "official"),
        ("python:3.12-alpine3.21", "3.12", "musl 1.2", "official"),
        ("gcr.io/distroless/python3-debian12", "3.11", "glibc 2.36", "debian"),
        ("gcr.io/distroless/python3-debian13:nonroot", "3.13", "glibc 2.41", "debian"),
        ("debian:12", "3.11", "glibc 2.36", "debian"),
        ("debian:trixie-slim", "3.13", "glibc 2.41", "debian"),
        ("ubuntu:22.04", "3.10", "glibc 2.35", "debian"),
        ("ubuntu:noble", "3.12", "glibc 2.39", "debian"),
        ("public.ecr.aws/lambda/python:3.12", "3.12", "glibc 2.34", "lambda"),
        ("public.ecr.aws/lambda/python:3.11", "3.11", "glibc 2.26", "lambda"),
    ],
)
def test_each_preset_gives_python_libc_and_layout(name: str, python: str, libc: str, layout: str) -> None:
    image = find_image(name)
    assert (image.python, str(image.libc), image.layout) == (python, libc, layout)
    assert image.source  # every preset says where its facts come from


def test_every_example_is_known_and_sourced() -> None:
    for name in EXAMPLES:
        assert find_image(name).source
    assert len(FAMILIES) == 6


@pytest.mark.parametrize("name", ["centos:7", "python:3.12-alpine3.12", "python:2.7", "debian:11", "python"])
def test_unknown_image_is_refused_with_the_list_and_the_way_out(name: str) -> None:
    with pytest.raises(TargetError) as caught:
        find_image(name)
    assert "python:X.Y[-slim][-bookworm|-trixie]" in caught.value.message
    assert "public.ecr.aws/lambda/python:X.Y" in caught.value.message
    assert "--target-file" in (caught.value.hint or "")


def test_image_on_a_docker_platform_makes_the_tags() -> None:
    slim = find_image("python:3.12-slim")
    arm = image_target(slim, "linux/arm64")
    assert str(arm.tags[0]) == "cp312-cp312-manylinux_2_41_aarch64"
    assert arm.environment()["platform_machine"] == "aarch64"
    alpine = image_target(find_image("python:3.13-alpine"), "linux/arm/v7")
    assert str(alpine.tags[0]) == "cp313-cp313-musllinux_1_2_armv7l"
    i686 = image_target(find_image("debian:12"), "linux/386")
    assert str(i686) == "cp311-i686-manylinux_2_36"
    assert "manylinux1_i686" in i686.platforms()
    assert str(image_target(slim, "linux/amd64", "3.12.7").environment()["python_full_version"]) == "3.12.7"


@pytest.mark.parametrize("platform", ["linux/arm/v6", "linux/arm/v5", "linux/mips64le"])
def test_a_platform_without_wheel_tags_for_the_libc_is_refused_naming_both(platform: str) -> None:
    with pytest.raises(TargetError) as caught:
        image_target(find_image("python:3.12-alpine"), platform)
    assert platform in caught.value.message and "musl 1.2" in caught.value.message
    with pytest.raises(TargetError, match="manylinux"):
        image_target(find_image("python:3.12-slim"), platform)


def test_an_image_of_a_python_uvroot_cannot_target_is_refused_as_such() -> None:
    with pytest.raises(TargetError, match=r"python:3\.7-slim has Python 3\.7"):
        image_target(find_image("python:3.7-slim"), "linux/amd64")


def test_images_published_for_two_platforms_refuse_the_others() -> None:
    with pytest.raises(TargetError, match="linux/amd64 and linux/arm64 only, not linux/386"):
        image_target(find_image("gcr.io/distroless/python3-debian12"), "linux/386")
    with pytest.raises(TargetError, match="linux/arm64 only"):
        image_target(find_image("public.ecr.aws/lambda/python:3.12-arm64"), "linux/amd64")


def test_flags_that_contradict_the_image_are_refused() -> None:
    with pytest.raises(UsageError, match=r"contradicts --image python:3\.12-slim, whose Python is 3\.12"):
        choose_target(TargetFlags(image="python:3.12-slim", python_version="3.11"))
    with pytest.raises(UsageError, match="cannot be combined with --image"):
        choose_target(TargetFlags(image="python:3.12-slim", python_platform="aarch64-manylinux_2_36"))
    with pytest.raises(UsageError, match="needs --image"):
        choose_target(TargetFlags(platform="linux/arm64"))
    with pytest.raises(UsageError, match="not a Docker platform"):
        choose_target(TargetFlags(image="python:3.12-slim", platform="arm64"))
    with pytest.raises(TargetError, match=r"^\$TARGETPLATFORM linux/arm/v6 \(armv6l\) has no"):
        choose_target(TargetFlags(image="python:3.12-slim", environ_platform="linux/arm/v6"))
    with pytest.raises(UsageError, match=r"\$TARGETPLATFORM windows/amd64"):
        choose_target(TargetFlags(image="python:3.12-slim", environ_platform="windows/amd64"))


def test_targetplatform_is_the_default_and_said_so() -> None:
    choice = choose_target(TargetFlags(image="python:3.12-slim", environ_platform="linux/arm64"))
    assert choice.target.arch == "aarch64" and "from $TARGETPLATFORM" in choice.note
    explicit = choose_target(
        TargetFlags(image="python:3.12-slim", platform="linux/amd64", environ_platform="linux/arm64")
    )
    assert explicit.target.arch == "x86_64" and explicit.note == ""
    # Without --image, $TARGETPLATFORM says nothing about the C library: uv's flags decide, as before.
    plain = choose_target(TargetFlags(python_version="3.12", python_platform="x86_64-manylinux_2_28",
                                      environ_platform="linux/arm64"))  # fmt: skip
    assert plain.target.arch == "x86_64" and plain.image is None


# --------------------------------------------------------------------------- the CLI, end to end


def native_tag(site: Path) -> str:
    text = (site / "native" / "__init__.py").read_text()
    return text.split('TAG = "')[1].split('"')[0]


def test_sync_for_an_image_on_arm64_from_targetplatform(project: Path, tmp_path: Path, uvroot_cache: Path) -> None:
    root = tmp_path / "root"
    result = uvroot("sync", "--project", project, "--root", root, "--image", "python:3.12-slim",
                    cache=uvroot_cache, env={"TARGETPLATFORM": "linux/arm64"})  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "--platform linux/arm64 (from $TARGETPLATFORM)" in result.output
    site = root / SITE
    assert native_tag(site) == "cp312-cp312-manylinux_2_17_aarch64.manylinux2014_aarch64"
    assert (root / "usr/local/bin/alpha").read_bytes().startswith(b"#!/usr/local/bin/python3.12\n")
    state = json.loads((site / "native-1.0.dist-info/uvroot.json").read_text())
    assert state["target"] == "cp312-aarch64-manylinux_2_41"
    quiet = uvroot("sync", "--project", project, "--root", root, "--image", "python:3.12-slim", "-q",
                   cache=uvroot_cache, env={"TARGETPLATFORM": "linux/arm64"})  # fmt: skip
    assert quiet.exit_code == 0 and quiet.output == ""


def test_sync_for_alpine_amd64_and_debian(project: Path, tmp_path: Path, uvroot_cache: Path) -> None:
    alpine = tmp_path / "alpine"
    result = uvroot("sync", "--project", project, "--root", alpine, "--image", "python:3.12-alpine",
                    "--platform", "linux/amd64", cache=uvroot_cache)  # fmt: skip
    assert result.exit_code == 0, result.output
    assert native_tag(alpine / SITE) == "cp312-cp312-musllinux_1_2_x86_64"
    debian = tmp_path / "debian"
    result = uvroot("sync", "--project", project, "--root", debian, "--image", "debian:12",
                    "--platform", "linux/amd64", cache=uvroot_cache)  # fmt: skip
    assert result.exit_code == 0, result.output
    site = debian / "usr/local/lib/python3.11/dist-packages"
    assert native_tag(site) == "cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64"
    assert (debian / "usr/local/bin/alpha").read_bytes().startswith(b"#!/usr/bin/python3.11\n")


def test_lambda_image_is_flat_in_var_task(project: Path, tmp_path: Path, uvroot_cache: Path) -> None:
    root = tmp_path / "root"
    image = "public.ecr.aws/lambda/python:3.12"
    result = uvroot("sync", "--project", project, "--root", root, "--image", image, "--platform", "linux/arm64",
                    cache=uvroot_cache)  # fmt: skip
    assert result.exit_code == 0, result.output
    task = root / "var/task"
    assert sorted(p.name for p in root.iterdir()) == ["var"]
    assert native_tag(task) == "cp312-cp312-manylinux_2_17_aarch64.manylinux2014_aarch64"
    assert (task / "alpha-1.0.dist-info/RECORD").is_file()
    launcher = (task / "bin/alpha").read_bytes()
    assert launcher.startswith(b"#!/var/lang/bin/python3.12\n") and b"_sys.path.insert(0" in launcher
    flat = tmp_path / "flat"
    result = uvroot("sync", "--project", project, "--target", flat, "--image", image, "--platform", "linux/amd64",
                    cache=uvroot_cache)  # fmt: skip
    assert result.exit_code == 0, result.output
    assert native_tag(flat) == "cp312-cp312-manylinux_2_28_x86_64"  # Amazon Linux 2023: glibc 2.34
    refused = uvroot("sync", "--project", project, "--venv", tmp_path / "venv", "--image", image, cache=uvroot_cache)
    assert refused.exit_code == 2 and "flat /var/task" in refused.output


@pytest.mark.parametrize(
    ("flags", "code", "words"),
    [
        (["--image", "centos:7"], 3, "is not an image uvroot knows"),
        (["--image", "python:3.12-slim", "--python-version", "3.11"], 2, "whose Python is 3.12"),
        (["--image", "python:3.12-slim", "--python-platform", "linux"], 2, "use --platform"),
        (["--image", "python:3.12-slim", "--layout", "debian"], 2, "whose layout is official"),
        (["--image", "python:3.12-alpine", "--platform", "linux/arm/v6"], 3, "musl 1.2"),
        (["--platform", "linux/arm64"], 2, "needs --image"),
        (["--image", "python:3.12-slim", "--python", "python3"], 2, "both describe the final image"),
    ],
)
def test_cli_refusals_are_one_paragraph(
    flags: list[str], code: int, words: str, project: Path, tmp_path: Path, uvroot_cache: Path
) -> None:
    result = uvroot("sync", "--project", project, "--root", tmp_path / "root", *flags, cache=uvroot_cache)
    assert result.exit_code == code, result.output
    assert words in result.output and "Traceback" not in result.output
    assert result.output.startswith("error: ") and not (tmp_path / "root").exists()


def test_agreeing_flags_are_accepted(project: Path, tmp_path: Path, uvroot_cache: Path) -> None:
    result = uvroot("plan", "--project", project, "--root", tmp_path / "root", "--image", "python:3.12-slim",
                    "--layout", "official", "--python-version", "3.12.4", "--platform", "linux/amd64",
                    cache=uvroot_cache)  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "native-1.0-cp312-cp312-manylinux_2_28_x86_64.whl" in result.output


def test_without_root_the_image_layout_is_refused(project: Path, uvroot_cache: Path) -> None:
    result = uvroot("sync", "--project", project, "--image", "python:3.12-slim", cache=uvroot_cache)
    assert result.exit_code == 2
    assert "--image python:3.12-slim lays out an image's Python and needs --root" in result.output


def test_check_takes_the_image(project: Path, uvroot_cache: Path) -> None:
    result = uvroot("check", "--project", project, "--image", "python:3.13-alpine", "--platform", "linux/arm64",
                    cache=uvroot_cache)  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "cp313-aarch64-musllinux_1_2" in result.output


def test_images_command_lists_the_presets() -> None:
    result = uvroot("images", "-v")
    assert result.exit_code == 0
    for family in FAMILIES:
        assert family.pattern in result.output
    assert "glibc 2.34" in result.output and "packages.debian.org/bookworm" in result.output
