"""Targets as people name them: base images (``--image``) and Docker platforms (``--platform``).

An :class:`Image` is the few facts a staged tree depends on: the image's Python
X.Y, its C library (the kind and version that decide the wheel tags) and its
layout (one of :data:`uvroot.layout.PRESETS`, or Lambda's flat ``/var/task``).
Each fact says where it comes from (``source``), and ``uvroot images`` lists
them.  A Docker platform (``linux/arm64``) gives the architecture; together
they make a :class:`~uvroot.target.Target`.  Nothing here runs or probes an
image: for one uvroot does not know, ``uvroot target --script`` describes it
(see :mod:`uvroot.targetfile`).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Literal

from .errors import TargetError, UsageError
from .layout import LAMBDA_TASK_ROOT
from .target import Target

ImageLayout = Literal["official", "debian", "alpine", "lambda"]


@dataclass(frozen=True, slots=True)
class Libc:
    """A C library as wheel tags see it: ``manylinux`` (glibc) or ``musllinux`` (musl), and its version."""

    kind: Literal["manylinux", "musllinux"]
    version: tuple[int, int]

    def __str__(self) -> str:
        return f"{'glibc' if self.kind == 'manylinux' else 'musl'} {self.version[0]}.{self.version[1]}"


@dataclass(frozen=True, slots=True)
class Distro:
    """The operating system under an image: its C library and, where it has one, its own ``python3``."""

    name: str
    libc: Libc
    python: tuple[int, int] | None
    source: str
    libc_source: str = ""
    """Where the C library's version comes from (for images whose Python is not the distribution's)."""


DEBIAN_12 = Distro(
    "Debian 12 (bookworm)",
    Libc("manylinux", (2, 36)),
    (3, 11),
    "Debian bookworm packages libc6 2.36 and python3 3.11.2 (packages.debian.org/bookworm)",
    "Debian bookworm's libc6 is 2.36 (packages.debian.org/bookworm/libc6)",
)
DEBIAN_13 = Distro(
    "Debian 13 (trixie)",
    Libc("manylinux", (2, 41)),
    (3, 13),
    "Debian trixie packages libc6 2.41 and python3 3.13.5 (packages.debian.org/trixie)",
    "Debian trixie's libc6 is 2.41 (packages.debian.org/trixie/libc6)",
)
UBUNTU_2204 = Distro(
    "Ubuntu 22.04 (jammy)",
    Libc("manylinux", (2, 35)),
    (3, 10),
    "Ubuntu jammy packages libc6 2.35 and python3 3.10.12 (packages.ubuntu.com/jammy)",
)
UBUNTU_2404 = Distro(
    "Ubuntu 24.04 (noble)",
    Libc("manylinux", (2, 39)),
    (3, 12),
    "Ubuntu noble packages libc6 2.39 and python3 3.12.3 (packages.ubuntu.com/noble)",
)
ALPINE = Distro(
    "Alpine 3.13 or newer",
    Libc("musllinux", (1, 2)),
    None,
    "Alpine 3.13 and later ship musl 1.2.x (pkgs.alpinelinux.org, package musl)",
)
AMAZON_LINUX_2023 = Distro(
    "Amazon Linux 2023",
    Libc("manylinux", (2, 34)),
    None,
    "Amazon Linux 2023 ships glibc 2.34; Lambda's python3.12 and later runtimes run on it "
    "(docs.aws.amazon.com/lambda/latest/dg/lambda-runtimes.html)",
)
AMAZON_LINUX_2 = Distro(
    "Amazon Linux 2",
    Libc("manylinux", (2, 26)),
    None,
    "Amazon Linux 2 ships glibc 2.26; Lambda's python3.9 to python3.11 runtimes run on it "
    "(docs.aws.amazon.com/lambda/latest/dg/lambda-runtimes.html)",
)


@dataclass(frozen=True, slots=True, kw_only=True)
class Image:
    """One base image: its Python, C library and layout, and where those facts come from."""

    name: str
    python: str
    """``X.Y`` (or ``X.Y.Z`` when the tag pins it)."""
    libc: Libc
    layout: ImageLayout
    platforms: tuple[str, ...] | None
    """The Docker platforms the image is published for; None: not restricted here."""
    source: str


@dataclass(frozen=True, slots=True)
class Family:
    """Images named by one pattern, e.g. ``python:X.Y[-slim][-bookworm|-trixie]``."""

    pattern: str
    summary: str
    regex: re.Pattern[str]
    make: Callable[[str, re.Match[str]], Image]


_OFFICIAL = (
    "docker-library/python (hub.docker.com/_/python): CPython built from source at /usr/local "
    "(posix_prefix: /usr/local/lib/pythonX.Y/site-packages, /usr/local/bin/pythonX.Y)"
)
_DEBIAN_PYTHON = (
    "the distribution's python3 (apt-get install python3; posix_local scheme: "
    "/usr/local/lib/pythonX.Y/dist-packages, /usr/bin/pythonX.Y)"
)


def _python_image(name: str, match: re.Match[str]) -> Image:
    distro = DEBIAN_12 if match["codename"] == "bookworm" else DEBIAN_13
    default = (
        "; untagged python:X.Y and -slim have been Debian 13 trixie since Aug 2025" if not match["codename"] else ""
    )
    return Image(
        name=name,
        python=match["version"],
        libc=distro.libc,
        layout="official",
        platforms=None,
        source=f"{_OFFICIAL}{default}; {distro.name} underneath: {distro.libc_source}",
    )


def _python_alpine(name: str, match: re.Match[str]) -> Image:
    return Image(
        name=name,
        python=match["version"],
        libc=ALPINE.libc,
        layout="official",
        platforms=None,
        source=f"{_OFFICIAL}; {ALPINE.source}",
    )


def _distro_image(distro: Distro, *, platforms: tuple[str, ...] | None = None, what: str = "") -> Image:
    assert distro.python is not None
    return Image(
        name=what,
        python=f"{distro.python[0]}.{distro.python[1]}",
        libc=distro.libc,
        layout="debian",
        platforms=platforms,
        source=f"{_DEBIAN_PYTHON}; {distro.source}",
    )


_DEBIANS = {"12": DEBIAN_12, "bookworm": DEBIAN_12, "13": DEBIAN_13, "trixie": DEBIAN_13}
_UBUNTUS = {"22.04": UBUNTU_2204, "jammy": UBUNTU_2204, "24.04": UBUNTU_2404, "noble": UBUNTU_2404}


def _distroless(name: str, match: re.Match[str]) -> Image:
    image = _distro_image(_DEBIANS[match["release"]], platforms=("linux/amd64", "linux/arm64"), what=name)
    where = "GoogleContainerTools/distroless python3 (Debian's python3, amd64 and arm64 only)"
    return replace(image, source=f"{where}; {image.source}")


def _lambda(name: str, match: re.Match[str]) -> Image:
    version = match["version"]
    major, minor = (int(part) for part in version.split(".")[:2])
    distro = AMAZON_LINUX_2023 if (major, minor) >= (3, 12) else AMAZON_LINUX_2
    arch = {"x86_64": ("linux/amd64",), "arm64": ("linux/arm64",)}.get(match["arch"] or "")
    return Image(
        name=name,
        python=version,
        libc=distro.libc,
        layout="lambda",
        platforms=arch or ("linux/amd64", "linux/arm64"),
        source="AWS Lambda base images (gallery.ecr.aws/lambda/python): Python in /var/lang/bin, code and "
        f"packages flat in LAMBDA_TASK_ROOT={LAMBDA_TASK_ROOT}, x86_64 and arm64 only; {distro.source}",
    )


_VERSION = r"(?P<version>3\.\d+(?:\.\d+)?)"
_HUB = r"(?:docker\.io/)?(?:library/)?"
FAMILIES = (
    Family(
        "python:X.Y[-slim][-bookworm|-trixie]",
        "official Python image on Debian (default trixie): --layout official",
        re.compile(rf"^{_HUB}python:{_VERSION}(?P<slim>-slim)?(?:-(?P<codename>bookworm|trixie))?$"),
        _python_image,
    ),
    Family(
        "python:X.Y-alpine[3.NN]",
        "official Python image on Alpine (musl 1.2): --layout official",
        re.compile(rf"^{_HUB}python:{_VERSION}-alpine(?:3\.(?:1[3-9]|[2-9]\d))?$"),
        _python_alpine,
    ),
    Family(
        "gcr.io/distroless/python3-debian12|13[:TAG]",
        "distroless with Debian's python3 (3.11 / 3.13): --layout debian",
        re.compile(r"^gcr\.io/distroless/python3-debian(?P<release>12|13)(?::(?:latest|nonroot|debug|debug-nonroot))?$"),
        _distroless,
    ),
    Family(
        "debian:12|13 (bookworm|trixie[-slim]) with apt's python3",
        "Debian's python3 (3.11 / 3.13): --layout debian",
        re.compile(rf"^{_HUB}debian:(?P<release>12|13|bookworm|trixie)(?:-slim)?$"),
        lambda name, match: _distro_image(_DEBIANS[match["release"]], what=name),
    ),
    Family(
        "ubuntu:22.04|24.04 (jammy|noble) with apt's python3",
        "Ubuntu's python3 (3.10 / 3.12): --layout debian",
        re.compile(rf"^{_HUB}ubuntu:(?P<release>22\.04|24\.04|jammy|noble)$"),
        lambda name, match: _distro_image(_UBUNTUS[match["release"]], what=name),
    ),
    Family(
        "public.ecr.aws/lambda/python:X.Y[-x86_64|-arm64]",
        f"AWS Lambda (Amazon Linux 2023 from 3.12, else 2): flat {LAMBDA_TASK_ROOT}",
        re.compile(rf"^(?:public\.ecr\.aws/lambda/python|amazon/aws-lambda-python):{_VERSION}(?:-(?P<arch>x86_64|arm64))?$"),
        _lambda,
    ),
)  # fmt: skip


def find_image(name: str) -> Image:
    """The preset for ``--image NAME[:TAG]``, or a target error listing the images uvroot knows."""
    given = name.strip()
    for family in FAMILIES:
        if match := family.regex.match(given):
            return family.make(given, match)
    known = "; ".join(family.pattern for family in FAMILIES)
    raise TargetError(
        f"--image {name} is not an image uvroot knows (known: {known})",
        hint="describe any image by its own interpreter instead: "
        'docker run --rm IMAGE python3 -c "$(uvroot target --script)" > image.json, then --target-file image.json',
    )


# -- Docker platforms ----------------------------------------------------------------------

DOCKER_PLATFORMS = {
    "linux/amd64": "x86_64",
    "linux/arm64": "aarch64",
    "linux/arm/v7": "armv7l",
    "linux/386": "i686",
    "linux/ppc64le": "ppc64le",
    "linux/s390x": "s390x",
    "linux/riscv64": "riscv64",
    "linux/arm/v6": "armv6l",
    "linux/arm/v5": "armv5tel",
    "linux/mips64le": "mips64",
}
"""Docker's platform names (``docker buildx build --platform``, ``$TARGETPLATFORM``) -> ``platform.machine()``."""
_PLATFORM_ALIASES = {"linux/arm64/v8": "linux/arm64", "linux/arm": "linux/arm/v7", "linux/x86_64": "linux/amd64"}
# Architectures that have manylinux (PEP 600, auditwheel's policies) and musllinux (PEP 656) wheels.
TAGGED_ARCHES = {
    "manylinux": ("x86_64", "i686", "aarch64", "armv7l", "ppc64le", "s390x", "riscv64"),
    "musllinux": ("x86_64", "i686", "aarch64", "armv7l", "ppc64le", "s390x", "riscv64"),
}


def docker_platform(value: str, flag: str = "--platform") -> str:
    """The canonical Docker platform for ``value`` (``linux/amd64/v3`` -> ``linux/amd64``), or a usage error."""
    name = value.strip().lower()
    name = re.sub(r"^linux/amd64/v[1-4]$", "linux/amd64", name)
    name = _PLATFORM_ALIASES.get(name, name)
    if name not in DOCKER_PLATFORMS:
        raise UsageError(
            f"{flag} {value} is not a Docker platform uvroot knows ({', '.join(DOCKER_PLATFORMS)})",
            hint="use Docker's name for the final image's platform, e.g. --platform linux/arm64",
        )
    return name


def host_docker_platform(machine: str) -> str:
    """The build machine as a Docker platform (the default, as ``docker build`` builds for the host)."""
    for name, arch in DOCKER_PLATFORMS.items():
        if arch == machine:
            return name
    raise UsageError(f"this machine ({machine}) is not a Docker platform", hint="pass --platform, e.g. linux/amd64")


def image_target(image: Image, platform: str, python_version: str | None = None, flag: str = "--platform") -> Target:
    """The target of ``image`` on Docker ``platform``; ``python_version`` may only refine the image's X.Y."""
    python = image.python
    if python_version is not None:
        if not f"{python_version.strip()}.".startswith(f"{image.python}."):
            raise UsageError(
                f"--python-version {python_version} contradicts --image {image.name}, whose Python is {image.python}",
                hint=f"drop --python-version, or give a patch release of {image.python} (e.g. {image.python}.1)",
            )
        python = python_version
    if image.platforms is not None and platform not in image.platforms:
        raise TargetError(
            f"--image {image.name} is published for {' and '.join(image.platforms)} only, not {platform}",
            hint=f"pick one of those platforms (it came from {flag})",
        )
    arch = DOCKER_PLATFORMS[platform]
    if arch not in TAGGED_ARCHES[image.libc.kind]:
        raise TargetError(
            f"{flag} {platform} ({arch}) has no {image.libc.kind} wheel tags, and --image {image.name} "
            f"uses {image.libc}: no wheel on PyPI can be chosen for it",
            hint=f"{image.libc.kind} wheels exist for {', '.join(TAGGED_ARCHES[image.libc.kind])}; "
            "describe an unusual image with --target-file instead",
        )
    if tuple(int(part) for part in image.python.split(".")[:2]) < (3, 8):
        raise TargetError(
            f"--image {image.name} has Python {image.python}, and uvroot stages for CPython 3.8 or newer",
            hint="use an image of a supported Python",
        )
    base = Target.parse(python, "x86_64-unknown-linux-gnu")  # the version's parsing only
    return Target(base.python, "linux", arch, image.libc.kind, image.libc.version)


@dataclass(frozen=True, slots=True, kw_only=True)
class TargetFlags:
    """The target flags as given: uv's pair, or ``--image`` with ``--platform`` (else ``$TARGETPLATFORM``)."""

    python_version: str | None = None
    python_platform: str | None = None
    image: str | None = None
    platform: str | None = None
    environ_platform: str | None = None
    """``$TARGETPLATFORM``, which ``docker buildx`` sets in a stage that declares ``ARG TARGETPLATFORM``."""


@dataclass(frozen=True, slots=True)
class TargetChoice:
    """The target the flags name, the image it came from, and a line to tell the user (or "")."""

    target: Target
    image: Image | None = None
    note: str = ""


def choose_target(flags: TargetFlags) -> TargetChoice:
    """The target of ``--python-version``/``--python-platform``, or of ``--image`` on a Docker platform.

    ``--image`` decides the C library and ``--platform`` the architecture, so ``--python-platform``
    (which names both) is refused beside it; ``--python-version`` may only add the patch release.
    ``--platform`` defaults to ``$TARGETPLATFORM``, then to this machine (as ``docker build`` does).
    """
    if flags.image is None:
        if flags.platform is not None:
            raise UsageError(
                f"--platform {flags.platform} needs --image: the image's C library decides the wheel tags",
                hint="add --image (e.g. --image python:3.12-slim), or name both with --python-platform "
                "(e.g. aarch64-manylinux_2_36)",
            )
        return TargetChoice(Target.parse(flags.python_version, flags.python_platform))
    if flags.python_platform is not None:
        raise UsageError(
            f"--python-platform {flags.python_platform} cannot be combined with --image {flags.image}: the image "
            "gives the C library and --platform the architecture",
            hint="use --platform with Docker's name, e.g. --platform linux/arm64",
        )
    image = find_image(flags.image)
    note, flag = "", "--platform"
    if flags.platform is not None:
        platform = docker_platform(flags.platform)
    elif flags.environ_platform:
        platform = docker_platform(flags.environ_platform, "$TARGETPLATFORM")
        note, flag = f"--platform {platform} (from $TARGETPLATFORM)", "$TARGETPLATFORM"
    else:
        platform, flag = host_docker_platform(Target.parse(None, None).arch), "this machine's platform"
    return TargetChoice(image_target(image, platform, flags.python_version, flag), image, note)


EXAMPLES = (
    "python:3.12-slim",
    "python:3.12-slim-bookworm",
    "python:3.13-alpine",
    "gcr.io/distroless/python3-debian12",
    "gcr.io/distroless/python3-debian13",
    "debian:12",
    "debian:13",
    "ubuntu:22.04",
    "ubuntu:24.04",
    "public.ecr.aws/lambda/python:3.11",
    "public.ecr.aws/lambda/python:3.12",
)
"""One image of each kind, for ``uvroot images -v`` and the documentation."""
