"""uv.lock as uvroot reads it: what a real uv lock parses to, and every damaged value refused by key path.

The refusals go through ``uvroot check`` (exit 3, one ``error:`` naming the key, the hint to re-lock);
the parsed locks are real uv ones (tests/data/realworld was written by uv against pypi.org).
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from packaging.markers import Marker
from packaging.specifiers import SpecifierSet
from packaging.tags import Tag

from tests.support import tinybuild_backend
from tests.support.cli import uvroot
from tests.support.index import LocalIndex
from tests.support.sources import git_requirement
from uvroot.errors import LockError
from uvroot.lock import ConflictItem, Dependency, Lock, Source, load_lock

REALWORLD = Path(__file__).parent / "data" / "realworld"
RELOCK = 're-run "uv lock" with a current uv'
SHA_A, SHA_B = "a" * 64, "b" * 64

PYPROJECT = """\
[project]
name = "app"
version = "0.1.0"
requires-python = ">=3.10"
dependencies = ["alpha>=1"]

[project.optional-dependencies]
fast = ["alpha"]

[dependency-groups]
dev = ["alpha"]
"""

# The shape uv 0.13 writes for PYPROJECT (hashes and URLs made up: nothing is fetched by `check`).
LOCK = f"""\
version = 1
revision = 3
requires-python = ">=3.10"

[[package]]
name = "alpha"
version = "1.0"
source = {{ registry = "https://pypi.org/simple" }}
sdist = {{ url = "https://files.example/alpha-1.0.tar.gz", hash = "sha256:{SHA_A}", size = 10 }}
wheels = [
    {{ url = "https://files.example/alpha-1.0-py3-none-any.whl", hash = "sha256:{SHA_B}", size = 20 }},
]

[[package]]
name = "app"
version = "0.1.0"
source = {{ virtual = "." }}
dependencies = [
    {{ name = "alpha", marker = "python_full_version >= '3.10'" }},
]

[package.optional-dependencies]
fast = [
    {{ name = "alpha" }},
]

[package.dev-dependencies]
dev = [
    {{ name = "alpha" }},
]

[package.metadata]
requires-dist = [
    {{ name = "alpha", specifier = ">=1" }},
    {{ name = "alpha", marker = "extra == 'fast'" }},
]
provides-extras = ["fast"]

[package.metadata.requires-dev]
dev = [{{ name = "alpha" }}]
"""

WHEEL = f'{{ url = "https://files.example/alpha-1.0-py3-none-any.whl", hash = "sha256:{SHA_B}", size = 20 }}'
SDIST = f'sdist = {{ url = "https://files.example/alpha-1.0.tar.gz", hash = "sha256:{SHA_A}", size = 10 }}'
DEPENDENCY = '{ name = "alpha", marker = "python_full_version >= \'3.10\'" }'
REQUIRES = '{ name = "alpha", specifier = ">=1" }'


def _project(tmp_path: Path, lock: str) -> Path:
    project = tmp_path / "project"
    project.mkdir(exist_ok=True)
    (project / "pyproject.toml").write_text(PYPROJECT)
    (project / "uv.lock").write_text(lock)
    return project


def _refused(tmp_path: Path, lock: str) -> tuple[str, str]:
    """``uvroot check`` on ``lock``: exit 3, no traceback; its (error, hint) lines."""
    project = _project(tmp_path, lock)
    result = uvroot("check", "--project", project, cache=tmp_path / "cache")
    assert result.exit_code == 3, result.output
    assert "Traceback" not in result.output
    lines = result.output.splitlines()
    errors = [line.removeprefix("error: ") for line in lines if line.startswith("error: ")]
    hints = [line.removeprefix("hint: ") for line in lines if line.startswith("hint: ")]
    assert len(errors) == 1 and len(hints) == 1, result.output
    return errors[0], hints[0]


def _sub(old: str, new: str) -> Callable[[str], str]:
    def change(text: str) -> str:
        assert old in text, old
        return text.replace(old, new, 1)

    return change


def _whole(text: str) -> Callable[[str], str]:
    return lambda _: text


HEAD = 'version = 1\n\n[[package]]\nname = "app"\nversion = "0.1.0"\nsource = { virtual = "." }\n'

# (how the lock is damaged, the error uvroot prints: {lock} is the lock's path)
REFUSALS: list[tuple[str, Callable[[str], str], str]] = [
    ("no-version", _sub("version = 1\n", ""), "uv.lock: {lock}.version is missing"),
    ("string-version", _sub("version = 1\n", 'version = "1"\n'), "uv.lock: {lock}.version must be a int"),
    ("bool-version", _sub("version = 1\n", "version = true\n"), "uv.lock: {lock}.version must be a int"),
    ("bool-revision", _sub("revision = 3", "revision = true"), "uv.lock: {lock}.revision must be a int"),
    (
        "requires-python",
        _sub('requires-python = ">=3.10"', 'requires-python = "=>3.10"'),
        "uv.lock: requires-python is not a version specifier: '=>3.10'",
    ),
    ("package-not-array", _whole("version = 1\npackage = 3\n"), "{lock}: 'package' must be an array of tables"),
    (
        "distribution-not-array",
        _whole("version = 1\ndistribution = 3\n"),
        "{lock}: 'package' must be an array of tables",
    ),
    ("package-not-table", _whole("version = 1\npackage = [1]\n"), "uv.lock: package[0] must be a table"),
    ("no-name", _sub('name = "alpha"\nversion', "version"), "uv.lock: package[0].name is missing"),
    ("name-not-string", _sub('name = "app"', "name = 3"), "uv.lock: package[1].name must be a str"),
    ("version-not-string", _sub('version = "1.0"', "version = 1.0"), "uv.lock: package[0].version must be a str"),
    ("no-source", _sub('source = { virtual = "." }\n', ""), "uv.lock: package[1].source is missing"),
    (
        "source-not-table",
        _sub('source = { virtual = "." }', 'source = "."'),
        "uv.lock: package[1].source must be a dict",
    ),
    (
        "two-sources",
        _sub('source = { virtual = "." }', 'source = { virtual = ".", path = "." }'),
        "uv.lock: package[1].source must name exactly one of registry, url, path, directory, editable, virtual, git",
    ),
    (
        "source-not-string",
        _sub('source = { virtual = "." }', "source = { virtual = 1 }"),
        "uv.lock: package[1].source must name exactly one of registry, url, path, directory, editable, virtual, git",
    ),
    (
        "subdirectory-not-string",
        _sub('source = { virtual = "." }', 'source = { virtual = ".", subdirectory = 1 }'),
        "uv.lock: package[1].source.subdirectory must be a str",
    ),
    (
        "nul-in-source-path",
        _sub('source = { virtual = "." }', 'source = { virtual = "a\\u0000b" }'),
        "uv.lock: package[1].source.virtual is not a path: 'a\\x00b'",
    ),
    (
        "wheels-not-array",
        _sub(f"wheels = [\n    {WHEEL},\n]", "wheels = 3"),
        "uv.lock: package[0].wheels must be a list",
    ),
    (
        "wheel-not-table",
        _sub(WHEEL, '"alpha-1.0-py3-none-any.whl"'),
        "uv.lock: every item of package[0].wheels must be a dict",
    ),
    (
        "wheel-without-url",
        _sub(WHEEL, f'{{ hash = "sha256:{SHA_B}" }}'),
        "uv.lock: package[0].wheels[0] has neither url, path nor filename",
    ),
    (
        "wheel-with-only-filename",
        _sub(WHEEL, '{ filename = "alpha-1.0-py3-none-any.whl" }'),
        "uv.lock: package[0].wheels[0] has neither url, path nor filename",
    ),
    ("wheel-url-not-string", _sub(WHEEL, "{ url = 1 }"), "uv.lock: package[0].wheels[0].url must be a str"),
    ("wheel-path-not-string", _sub(WHEEL, "{ path = 1 }"), "uv.lock: package[0].wheels[0].path must be a str"),
    (
        "wheel-filename-not-string",
        _sub(WHEEL, "{ filename = 1 }"),
        "uv.lock: package[0].wheels[0].filename must be a str",
    ),
    (
        "nul-in-wheel-path",
        _sub(WHEEL, '{ path = "a\\u0000-1.0-py3-none-any.whl" }'),
        "uv.lock: package[0].wheels[0].path is not a path: 'a\\x00-1.0-py3-none-any.whl'",
    ),
    (
        "wheel-is-an-sdist",
        _sub("alpha-1.0-py3-none-any.whl", "alpha-1.0.tar.gz"),
        "uv.lock: package[0].wheels[0] does not name a wheel: alpha-1.0.tar.gz",
    ),
    (
        "wheel-name-too-short",
        _sub("alpha-1.0-py3-none-any.whl", "alpha-py3-none-any.whl"),
        "uv.lock: package[0].wheels[0] does not name a wheel: alpha-py3-none-any.whl",
    ),
    (
        "wheel-name-too-long",
        _sub("alpha-1.0-py3-none-any.whl", "alpha-1.0-1-x-py3-none-any.whl"),
        "uv.lock: package[0].wheels[0] does not name a wheel: alpha-1.0-1-x-py3-none-any.whl",
    ),
    (
        "wheel-not-a-whl",
        _sub("alpha-1.0-py3-none-any.whl", "alpha-1.0-py3-none-any.zip"),
        "uv.lock: package[0].wheels[0] does not name a wheel: alpha-1.0-py3-none-any.zip",
    ),
    (
        "wheel-build-tag",
        _sub("alpha-1.0-py3-none-any.whl", "alpha-1.0-x-py3-none-any.whl"),
        "uv.lock: package[0].wheels[0] has an invalid build tag: alpha-1.0-x-py3-none-any.whl",
    ),
    (
        "wheel-md5",
        _sub(f'hash = "sha256:{SHA_B}"', f'hash = "md5:{SHA_B}"'),
        'uv.lock: package[0].wheels[0].hash must look like "sha256:<64 hex digits>"',
    ),
    (
        "wheel-hash-upper-case",
        _sub(f'hash = "sha256:{SHA_B}"', f'hash = "sha256:{SHA_B.upper()}"'),
        'uv.lock: package[0].wheels[0].hash must look like "sha256:<64 hex digits>"',
    ),
    (
        "wheel-hash-short",
        _sub(f'hash = "sha256:{SHA_B}"', f'hash = "sha256:{SHA_B[1:]}"'),
        'uv.lock: package[0].wheels[0].hash must look like "sha256:<64 hex digits>"',
    ),
    (
        "wheel-hash-not-string",
        _sub(f'hash = "sha256:{SHA_B}"', "hash = 1"),
        'uv.lock: package[0].wheels[0].hash must look like "sha256:<64 hex digits>"',
    ),
    ("wheel-size-string", _sub("size = 20", 'size = "20"'), "uv.lock: package[0].wheels[0].size must be a int"),
    ("wheel-size-bool", _sub("size = 20", "size = true"), "uv.lock: package[0].wheels[0].size must be a int"),
    ("sdist-not-table", _sub(SDIST, "sdist = 1"), "uv.lock: package[0].sdist must be a table"),
    (
        "sdist-without-url",
        _sub(SDIST, f'sdist = {{ hash = "sha256:{SHA_A}" }}'),
        "uv.lock: package[0].sdist has neither url nor path",
    ),
    (
        "sdist-url-without-name",
        _sub("https://files.example/alpha-1.0.tar.gz", "https://files.example/"),
        "uv.lock: package[0].sdist has neither url nor path",
    ),
    ("sdist-url-not-string", _sub(SDIST, "sdist = { url = 1 }"), "uv.lock: package[0].sdist.url must be a str"),
    ("sdist-path-not-string", _sub(SDIST, "sdist = { path = 1 }"), "uv.lock: package[0].sdist.path must be a str"),
    (
        "nul-in-sdist-path",
        _sub(SDIST, 'sdist = { path = "a\\u0000.tar.gz" }'),
        "uv.lock: package[0].sdist.path is not a path: 'a\\x00.tar.gz'",
    ),
    (
        "sdist-hash",
        _sub(f'hash = "sha256:{SHA_A}"', f'hash = "sha512:{SHA_A}"'),
        'uv.lock: package[0].sdist.hash must look like "sha256:<64 hex digits>"',
    ),
    ("sdist-size", _sub("size = 10", "size = 1.5"), "uv.lock: package[0].sdist.size must be a int"),
    (
        "dependencies-not-array",
        _sub(f"dependencies = [\n    {DEPENDENCY},\n]", "dependencies = 1"),
        "uv.lock: package[1].dependencies must be an array",
    ),
    ("dependency-not-table", _sub(DEPENDENCY, '"alpha"'), "uv.lock: package[1].dependencies[0] must be a table"),
    (
        "dependency-without-name",
        _sub(DEPENDENCY, "{ marker = \"python_full_version >= '3.10'\" }"),
        "uv.lock: package[1].dependencies[0].name is missing",
    ),
    (
        "dependency-marker-not-string",
        _sub(DEPENDENCY, '{ name = "alpha", marker = 1 }'),
        "uv.lock: package[1].dependencies[0].marker must be a str",
    ),
    (
        "dependency-marker-invalid",
        _sub(DEPENDENCY, '{ name = "alpha", marker = "python_version >> \'3\'" }'),
        "uv.lock: package[1].dependencies[0].marker is not a valid marker: ",
    ),
    (
        "dependency-marker-arbitrary-equality-on-a-string",
        _sub(DEPENDENCY, '{ name = "alpha", marker = "sys_platform === \'linux\'" }'),
        "uv.lock: package[1].dependencies[0].marker cannot be evaluated: ",
    ),
    (  # the check evaluates it as plan will: `extra` and the lock-file names (`extras`) defined
        "dependency-marker-arbitrary-equality-beside-extras",
        _sub(DEPENDENCY, "{ name = \"alpha\", marker = \"extra == 'x' and 'x' in extras and os_name === 'posix'\" }"),
        "uv.lock: package[1].dependencies[0].marker cannot be evaluated: ",
    ),
    (
        "dependency-extra-not-array",
        _sub(DEPENDENCY, '{ name = "alpha", extra = "fast" }'),
        "uv.lock: package[1].dependencies[0].extra must be a list",
    ),
    (
        "dependency-extras-not-strings",
        _sub(DEPENDENCY, '{ name = "alpha", extras = [1] }'),
        "uv.lock: every item of package[1].dependencies[0].extras must be a str",
    ),
    (
        "dependency-version-not-string",
        _sub(DEPENDENCY, '{ name = "alpha", version = 1 }'),
        "uv.lock: package[1].dependencies[0].version must be a str",
    ),
    (
        "dependency-source",
        _sub(DEPENDENCY, '{ name = "alpha", source = { nowhere = "x" } }'),
        (
            "uv.lock: package[1].dependencies[0].source must name exactly one of registry, url, path, directory, editable, "
            "virtual, git"
        ),
    ),
    (
        "optional-dependencies-not-table",
        _sub('[package.optional-dependencies]\nfast = [\n    { name = "alpha" },\n]', 'optional-dependencies = "fast"'),
        "uv.lock: package[1].optional-dependencies must be a dict",
    ),
    (
        "extra-not-array",
        _sub('fast = [\n    { name = "alpha" },\n]', 'fast = "alpha"'),
        "uv.lock: package[1].optional-dependencies.fast must be an array",
    ),
    (
        "dev-dependency-not-table",
        _sub('dev = [\n    { name = "alpha" },\n]', 'dev = ["alpha"]'),
        "uv.lock: package[1].dev-dependencies.dev[0] must be a table",
    ),
    (
        "dependency-group-not-array",
        _sub('[package.dev-dependencies]\ndev = [\n    { name = "alpha" },\n]', "[package.dependency-groups]\ndev = 1"),
        "uv.lock: package[1].dependency-groups.dev must be an array",
    ),
    (
        "metadata-not-table",
        lambda text: text.replace("[package.metadata", "[package.old-metadata").replace(
            'source = { virtual = "." }\n', 'source = { virtual = "." }\nmetadata = 1\n'
        ),
        "uv.lock: package[1].metadata must be a table",
    ),
    (
        "requires-dist-not-array",
        _sub(f"requires-dist = [\n    {REQUIRES},", 'requires-dist = 1\nx = [\n    "",'),
        "uv.lock: package[1].metadata.requires-dist must be an array",
    ),
    (
        "requirement-not-table",
        _sub(REQUIRES, '"alpha>=1"'),
        "uv.lock: package[1].metadata.requires-dist[0] must be a table",
    ),
    (
        "requirement-without-name",
        _sub(REQUIRES, '{ specifier = ">=1" }'),
        "uv.lock: package[1].metadata.requires-dist.name is missing",
    ),
    (
        "requirement-extras-not-strings",
        _sub(REQUIRES, '{ name = "alpha", extras = [1] }'),
        "uv.lock: every item of package[1].metadata.requires-dist.extras must be a str",
    ),
    (
        "requirement-specifier-not-string",
        _sub(REQUIRES, '{ name = "alpha", specifier = 1 }'),
        "uv.lock: package[1].metadata.requires-dist.specifier must be a str",
    ),
    (
        "requirement-url-not-string",
        _sub(REQUIRES, '{ name = "alpha", url = 1 }'),
        "uv.lock: package[1].metadata.requires-dist.url must be a str",
    ),
    (
        "requirement-marker-not-string",
        _sub(REQUIRES, '{ name = "alpha", marker = 1 }'),
        "uv.lock: package[1].metadata.requires-dist.marker must be a str",
    ),
    (
        "provides-extras-not-strings",
        _sub('provides-extras = ["fast"]', "provides-extras = [1]"),
        "uv.lock: every item of package[1].metadata.provides-extras must be a str",
    ),
    (
        "requires-dev-not-table",
        _sub('[package.metadata.requires-dev]\ndev = [{ name = "alpha" }]', "requires-dev = 1"),
        "uv.lock: package[1].metadata.requires-dev must be a dict",
    ),
    (
        "requires-dev-group-not-array",
        _sub('dev = [{ name = "alpha" }]', 'dev = "alpha"'),
        "uv.lock: package[1].metadata.requires-dev.dev must be an array",
    ),
    (
        "old-dependency-groups-not-array",
        _sub(
            '[package.metadata.requires-dev]\ndev = [{ name = "alpha" }]',
            "[package.metadata.dependency-groups]\ndev = 1",
        ),
        "uv.lock: package[1].metadata.requires-dev.dev must be an array",
    ),
    (
        "old-dependency-groups-not-table",
        lambda text: text.replace('[package.metadata.requires-dev]\ndev = [{ name = "alpha" }]', "").replace(
            'provides-extras = ["fast"]', 'provides-extras = ["fast"]\ndependency-groups = 1'
        ),
        "uv.lock: package[1].metadata.dependency-groups must be a dict",
    ),
    (
        "resolution-marker",
        _sub('version = "1.0"\n', 'version = "1.0"\nresolution-markers = ["python_version >> \'3\'"]\n'),
        "uv.lock: package[0].resolution-markers is not a valid marker: ",
    ),
    (
        "resolution-markers-not-strings",
        _sub('version = "1.0"\n', 'version = "1.0"\nresolution-markers = [1]\n'),
        "uv.lock: every item of package[0].resolution-markers must be a str",
    ),
    (
        "manifest-not-table",
        _whole(HEAD.replace("version = 1\n", "version = 1\nmanifest = 3\n")),
        "uv.lock: manifest must be a table",
    ),
    (
        "members-not-strings",
        _whole(HEAD.replace("version = 1\n", "version = 1\nmanifest = { members = [1] }\n")),
        "uv.lock: every item of manifest.members must be a str",
    ),
    (
        "manifest-groups-not-table",
        _whole(HEAD.replace("version = 1\n", 'version = 1\nmanifest = { dependency-groups = "dev" }\n')),
        "uv.lock: manifest.dependency-groups must be a dict",
    ),
    (
        "manifest-group-not-array",
        _whole(HEAD.replace("version = 1\n", "version = 1\nmanifest = { dependency-groups = { dev = 1 } }\n")),
        "uv.lock: manifest.dependency-groups.dev must be an array",
    ),
    (
        "manifest-group-specifier-not-string",
        _whole(
            HEAD.replace(
                "version = 1\n",
                'version = 1\nmanifest = { dependency-groups = { dev = [{ name = "alpha", specifier = 1 }] } }\n',
            )
        ),
        "uv.lock: manifest.dependency-groups.dev.specifier must be a str",
    ),
    (
        "manifest-group-item-not-table",
        _whole(HEAD.replace("version = 1\n", 'version = 1\nmanifest = { dependency-groups = { dev = ["alpha"] } }\n')),
        "uv.lock: manifest.dependency-groups.dev[0] must be a table",
    ),
    (
        "supported-marker",
        _whole(HEAD.replace("version = 1\n", 'version = 1\nsupported-markers = ["os_name =="]\n')),
        "uv.lock: supported-markers is not a valid marker: ",
    ),
    (
        "supported-markers-not-strings",
        _whole(HEAD.replace("version = 1\n", "version = 1\nsupported-markers = [1]\n")),
        "uv.lock: every item of {lock}.supported-markers must be a str",
    ),
    (
        "conflicts-not-array",
        _whole(HEAD.replace("version = 1\n", 'version = 1\nconflicts = "a"\n')),
        "uv.lock: {lock}: conflicts must be an array of arrays",
    ),
    (
        "conflict-not-array",
        _whole(HEAD.replace("version = 1\n", 'version = 1\nconflicts = [[], "a"]\n')),
        "uv.lock: {lock}: conflicts[1] must be an array",
    ),
    (
        "conflict-item-not-table",
        _whole(HEAD.replace("version = 1\n", 'version = 1\nconflicts = [["a"]]\n')),
        "uv.lock: conflicts[0] must be a table",
    ),
    (
        "conflict-package-not-string",
        _whole(HEAD.replace("version = 1\n", "version = 1\nconflicts = [[{ package = 1 }]]\n")),
        "uv.lock: {lock}.package must be a str",
    ),
    (
        "conflict-without-package",
        _whole(HEAD.replace("version = 1\n", 'version = 1\nconflicts = [[{ extra = "x" }]]\n')),
        "uv.lock: {lock}.package is missing",
    ),
    (
        "conflict-extra-not-string",
        _whole(HEAD.replace("version = 1\n", 'version = 1\nconflicts = [[{ package = "app", extra = 1 }]]\n')),
        "uv.lock: {lock}.extra must be a str",
    ),
    (
        "conflict-group-not-string",
        _whole(HEAD.replace("version = 1\n", 'version = 1\nconflicts = [[{ package = "app", group = 1 }]]\n')),
        "uv.lock: {lock}.group must be a str",
    ),
]


@pytest.mark.parametrize(("damage", "message"), [(d, m) for _, d, m in REFUSALS], ids=[i for i, _, _ in REFUSALS])
def test_a_damaged_lock_is_refused_naming_the_key(tmp_path: Path, damage: Callable[[str], str], message: str) -> None:
    error, hint = _refused(tmp_path, damage(LOCK))
    expected = message.format(lock=tmp_path / "project" / "uv.lock")
    assert error.startswith(expected) if expected.endswith(": ") else error == expected, error
    assert hint == RELOCK


def test_the_undamaged_lock_is_fine(tmp_path: Path) -> None:
    result = uvroot("check", "--project", _project(tmp_path, LOCK), cache=tmp_path / "cache")
    assert result.exit_code == 0, result.output
    assert ": 1 package (1 from wheels)" in result.output


def _plan_json(tmp_path: Path, lock: str) -> dict[str, Any]:
    result = uvroot("plan", "--project", _project(tmp_path, lock), "--root", tmp_path / "r", "--format", "json")
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)  # type: ignore[no-any-return]


@pytest.mark.parametrize(
    ("url", "filename"),
    [
        ("https://files.example/x/alpha-1.0%2Blocal-py3-none-any.whl", "alpha-1.0+local-py3-none-any.whl"),
        ("https://files.example/x/alpha-1.0-py3-none-any.whl?sig=a?b#frag#more", "alpha-1.0-py3-none-any.whl"),
        ("https://files.example/x/alpha-1.0-py3-none-any.whl#sha256=abc#x", "alpha-1.0-py3-none-any.whl"),
        ("alpha-1.0-py3-none-any.whl", "alpha-1.0-py3-none-any.whl"),
    ],
)
def test_a_wheels_file_name_is_the_last_segment_of_its_url(tmp_path: Path, url: str, filename: str) -> None:
    lock = LOCK.replace("https://files.example/alpha-1.0-py3-none-any.whl", url)
    (alpha,) = _plan_json(tmp_path, lock)["packages"]
    assert alpha["wheel"]["filename"] == filename


def test_an_sdists_file_name_is_the_last_segment_of_its_url(tmp_path: Path) -> None:
    for url in ("alpha-1.0.tar.gz", "https://files.example/x/alpha-1.0.tar.gz?sig=a#b"):
        project = _project(tmp_path, LOCK.replace("https://files.example/alpha-1.0.tar.gz", url))
        sdist = load_lock(project / "uv.lock").by_name("alpha")[0].sdist
        assert sdist is not None and sdist.filename == "alpha-1.0.tar.gz"


def test_keys_uv_may_leave_out(tmp_path: Path) -> None:
    """A metadata table without requires-dist, a wheel without hash or size: read as empty / unknown."""
    lock = LOCK.replace(f"requires-dist = [\n    {REQUIRES},\n", "x = [\n").replace(
        f', hash = "sha256:{SHA_B}", size = 20', ""
    )
    lock = lock.replace("revision = 3\n", "")  # uv 0.4's locks have none
    (alpha,) = _plan_json(tmp_path, lock)["packages"]
    assert alpha["wheel"]["sha256"] is None and alpha["wheel"]["size"] is None
    read = load_lock(tmp_path / "project" / "uv.lock")
    (app,) = read.by_name("app")
    assert app.metadata is not None and app.metadata.requires_dist == frozenset()
    assert read.revision == 0


def test_a_lock_without_packages_is_read_as_empty(tmp_path: Path) -> None:
    project = _project(tmp_path, 'version = 1\nrevision = 3\nrequires-python = ">=3.10"\n')
    assert load_lock(project / "uv.lock").packages == ()


def test_a_lock_of_another_version_names_both(tmp_path: Path) -> None:
    error, hint = _refused(tmp_path, LOCK.replace("version = 1\n", "version = 2\n", 1))
    assert error == f"{tmp_path / 'project' / 'uv.lock'} has lock version 2; uvroot reads version 1"
    assert hint == "use a uvroot release that matches your uv, or re-lock with a matching uv"


def test_a_missing_lock_says_to_lock(tmp_path: Path) -> None:
    project = _project(tmp_path, LOCK)
    (project / "uv.lock").unlink()
    result = uvroot("check", "--project", project, cache=tmp_path / "cache")
    assert result.exit_code == 3 and "Traceback" not in result.output
    assert 'hint: run "uv lock" in the project first\n' in result.output


def test_the_parsed_lock_is_cached(tmp_path: Path) -> None:
    """README: the parsed copy of uv.lock is kept in the cache (toml-v2/)."""
    project = _project(tmp_path, LOCK)
    assert uvroot("check", "--project", project, cache=tmp_path / "cache").exit_code == 0
    assert list((tmp_path / "cache" / "toml-v2").rglob("*"))


def test_dangling_and_ambiguous_edges(tmp_path: Path) -> None:
    error, hint = _refused(tmp_path, LOCK.replace(DEPENDENCY, '{ name = "beta" }'))
    lock = tmp_path / "project" / "uv.lock"
    assert error == f"{lock}: app==0.1.0 depends on beta, which matches no locked packages"
    assert hint == RELOCK
    local = '{ name = "alpha", version = "1.0", source = { directory = "../alpha" } }'
    error, hint = _refused(tmp_path, LOCK.replace(DEPENDENCY, local))
    assert error == f"{lock}: app==0.1.0 depends on alpha, which matches no locked packages"
    optional = LOCK.replace('fast = [\n    { name = "alpha" },\n]', f"fast = [\n    {local},\n]")
    project = _project(tmp_path, optional)
    assert uvroot("check", "--project", project, cache=tmp_path / "cache").exit_code == 0  # an extra not selected
    result = uvroot("check", "--project", project, "--extra", "fast", cache=tmp_path / "cache")
    assert result.exit_code == 3 and "app==0.1.0 depends on alpha, which matches no locked packages" in result.output
    start = LOCK.index("[[package]]")
    alpha = LOCK[start : LOCK.index("[[package]]", start + 1)]
    other = alpha.replace('version = "1.0"', 'version = "2.0"')
    error, hint = _refused(tmp_path, LOCK + "\n" + other)
    assert error == f"{lock}: app==0.1.0 depends on alpha, which matches several locked packages"
    assert hint == RELOCK


def test_a_duplicate_package_is_refused(tmp_path: Path) -> None:
    first = LOCK[LOCK.index("[[package]]") : LOCK.index("[[package]]", LOCK.index("[[package]]") + 1)]
    error, hint = _refused(tmp_path, LOCK + "\n" + first)
    assert error == f"{tmp_path / 'project' / 'uv.lock'} locks alpha==1.0 from registry+https://pypi.org/simple twice"
    assert hint == RELOCK


# -- what a real uv lock parses to ------------------------------------------------


def test_a_real_uv_lock_parses_to_what_uv_wrote(tmp_path: Path) -> None:
    lock = load_lock(REALWORLD / "uv.lock")
    assert lock.path == REALWORLD / "uv.lock"
    assert lock.revision == 5
    assert lock.requires_python == SpecifierSet(">=3.10")
    assert len(lock.packages) == 29
    assert lock.members == () and lock.groups == {} and lock.conflicts == () and lock.supported_markers == ()
    assert lock.default_index == "https://pypi.org/simple"

    (cffi,) = lock.by_name("CFFI")
    assert cffi.label == "cffi==2.1.1"
    assert cffi.id.source == Source("registry", "https://pypi.org/simple")
    assert str(cffi.id.source) == "registry+https://pypi.org/simple"
    assert not cffi.id.source.is_local
    assert cffi.dependencies == (
        Dependency(
            "pycparser",
            marker=Marker("python_full_version < '3.11' and implementation_name != 'PyPy'"),
            version="3.11",
            source=Source("registry", "https://pypi.org/simple"),
        ),
        Dependency(
            "pycparser",
            marker=Marker("python_full_version >= '3.11' and implementation_name != 'PyPy'"),
            version="3.12",
            source=Source("registry", "https://pypi.org/simple"),
        ),
    )
    sdist = cffi.sdist
    assert sdist is not None and sdist.filename == "cffi-2.1.1.tar.gz" and sdist.size == 530807
    assert sdist.url == (
        "https://files.pythonhosted.org/packages/9e/ef/008a1939e372c06329a3fce4279c02f328488f3526744906eeec3da7ad5f/"
        "cffi-2.1.1.tar.gz"
    )
    assert sdist.sha256 == "dd31f52ea1086513bb9df30f8fcee9b8918323ae067a3d5b78bc826a000712be"
    wheel = cffi.wheels[0]
    assert wheel.filename == "cffi-2.1.1-cp310-cp310-macosx_10_15_x86_64.whl"
    assert wheel.url == (
        "https://files.pythonhosted.org/packages/b6/d2/2cde336b375f55c76ca670f0be3978cc048e31e24f3b4d7ce8473150a388/"
        "cffi-2.1.1-cp310-cp310-macosx_10_15_x86_64.whl"
    )
    assert wheel.sha256 == "baed1e86cc735622097354b9d1281406caf42ff42a886d29faa8e8d1630333be"
    assert wheel.size == 183779 and wheel.build == ()
    assert wheel.tags == frozenset({Tag("cp310", "cp310", "macosx_10_15_x86_64")})
    many = next(w for w in cffi.wheels if "manylinux1_i686" in w.filename)
    assert Tag("cp310", "cp310", "manylinux_2_17_i686") in many.tags and len(many.tags) == 4
    assert cffi.resolution_markers == () and cffi.metadata is None

    old, new = lock.by_name("pycparser")
    assert (old.label, new.label) == ("pycparser==3.11", "pycparser==3.12")
    assert old.resolution_markers == (Marker("python_full_version < '3.11'"),)
    assert lock.resolve(cffi.dependencies[1], cffi) is new
    assert lock.by_name("no-such-package") == []

    (app,) = lock.by_name("realworld")
    assert app.id.source == Source("virtual", str(REALWORLD.resolve()))
    assert app.id.source.is_local and app.wheels == () and app.sdist is None
    assert app.metadata is not None
    assert "numpy>=2" in app.metadata.requires_dist
    assert "colorama; sys_platform == 'win32'" in app.metadata.requires_dist
    assert len(app.metadata.requires_dist) == 11
    assert app.metadata.provides_extras == frozenset() and app.metadata.requires_dev == {}


def test_an_edge_without_version_picks_the_fork_of_the_environment() -> None:
    lock = load_lock(REALWORLD / "uv.lock")
    (app,) = lock.by_name("realworld")
    edge = Dependency("pycparser")
    env = {"python_full_version": "3.10.4", "python_version": "3.10", "implementation_name": "cpython"}
    assert lock.resolve(edge, app, env).label == "pycparser==3.11"
    assert lock.resolve(edge, app, {**env, "python_full_version": "3.12.1"}).label == "pycparser==3.12"
    with pytest.raises(LockError, match="depends on pycparser, which matches several locked packages"):
        lock.resolve(edge, app)  # no environment: both forks fit
    with pytest.raises(LockError, match="which matches several locked packages"):
        lock.resolve(Dependency("pycparser", version=None), app, None)


def test_an_edge_to_the_only_version_ignores_its_fork_markers(tmp_path: Path) -> None:
    """A version-less edge picks among forks only when there are several to pick from."""
    real = load_lock(REALWORLD / "uv.lock")
    old = real.by_name("pycparser")[0]
    (app,) = real.by_name("realworld")
    lock = Lock(path=real.path, revision=5, requires_python=None, packages=(old, app))
    env = {"python_full_version": "3.12.1", "python_version": "3.12", "implementation_name": "cpython"}
    assert lock.resolve(Dependency("pycparser"), app, env) is old


# -- what the real uv writes for conflicts, every kind of source, a workspace ------------------


def test_declared_conflicts_are_read_as_uv_wrote_them(make_locked_project: Callable[..., Path], tmp_path: Path) -> None:
    project = make_locked_project(
        dependencies=["alpha"],
        optional={"old": ["devtool"], "new": ["docstool"]},
        groups={"g1": ["devtool"], "g2": ["docstool"]},
        tool_uv='conflicts = [[{ extra = "old" }, { extra = "new" }], [{ group = "g1" }, { group = "g2" }]]',
        requires_python=">=3.10",
    )
    lock = load_lock(project / "uv.lock")
    assert lock.conflicts == (
        (ConflictItem("app", extra="new"), ConflictItem("app", extra="old")),  # uv sorts them
        (ConflictItem("app", group="g1"), ConflictItem("app", group="g2")),
    )
    extras = uvroot("plan", "--project", project, "--root", tmp_path / "r", "--extra", "old", "--extra", "new")
    assert extras.exit_code == 2, extras.output
    assert "error: Extras `new` and `old` are incompatible with the declared conflicts: {`app[new]`, `app[old]`}\n" in (
        extras.output
    )
    groups = uvroot("plan", "--project", project, "--root", tmp_path / "r", "--group", "g1", "--group", "g2")
    assert "error: Groups `g1` and `g2` are incompatible with the conflicts: {`app:g1`, `app:g2`}\n" in groups.output
    one = uvroot("plan", "--project", project, "--root", tmp_path / "r", "--extra", "old", "--group", "g2")
    assert one.exit_code == 0, one.output


def test_a_wheel_named_by_filename_alone_comes_from_its_url_or_path_source(tmp_path: Path) -> None:
    """A direct-URL or path source whose wheel entry has only ``filename``: the source is the file.

    (And a ``path`` in a wheel entry of a source that is not an index is relative to the lock.)"""
    url = "https://files.example/direct/alpha-1.0-py3-none-any.whl"
    name = "alpha-1.0-py3-none-any.whl"
    shapes = [
        (f'{{ url = "{url}" }}', f'{{ filename = "{name}", hash = "sha256:{SHA_B}" }}', url),
        (f'{{ path = "wheels/{name}" }}', f'{{ filename = "{name}", hash = "sha256:{SHA_B}" }}', None),
        (f'{{ path = "wheels/{name}" }}', f'{{ path = "wheels/{name}", hash = "sha256:{SHA_B}" }}', None),
    ]
    for source, wheel_entry, expected in shapes:
        text = LOCK.replace('source = { registry = "https://pypi.org/simple" }', f"source = {source}", 1)
        text = text.replace(WHEEL, wheel_entry, 1)
        project = _project(tmp_path, text)
        (alpha,) = load_lock(project / "uv.lock").by_name("alpha")
        (wheel,) = alpha.wheels
        wanted = expected or str((project / "wheels/alpha-1.0-py3-none-any.whl").resolve())
        assert (wheel.filename, wheel.url) == ("alpha-1.0-py3-none-any.whl", wanted)


def test_an_sdist_path_of_a_source_that_is_not_an_index_is_relative_to_the_lock(tmp_path: Path) -> None:
    text = LOCK.replace(
        'source = { registry = "https://pypi.org/simple" }', 'source = { path = "dist/alpha-1.0.tar.gz" }'
    )
    text = text.replace(SDIST, f'sdist = {{ path = "dist/alpha-1.0.tar.gz", hash = "sha256:{SHA_A}" }}', 1)
    project = _project(tmp_path, text)
    (alpha,) = load_lock(project / "uv.lock").by_name("alpha")
    assert alpha.sdist is not None
    assert (alpha.sdist.filename, alpha.sdist.url) == (
        "alpha-1.0.tar.gz",
        str(project.resolve() / "dist/alpha-1.0.tar.gz"),
    )


def test_a_git_source_with_and_without_a_subdirectory(tmp_path: Path) -> None:
    commit = "0123456789abcdef0123456789abcdef01234567"
    for query, subdirectory in (("?rev=main", None), ("?subdirectory=sub&rev=main", "sub")):
        source = f'source = {{ git = "https://example.org/alpha.git{query}#{commit}" }}'
        text = LOCK.replace('source = { registry = "https://pypi.org/simple" }', source, 1)
        (alpha,) = load_lock(_project(tmp_path, text) / "uv.lock").by_name("alpha")
        assert (alpha.id.source.kind, alpha.id.source.subdirectory) == ("git", subdirectory)


def test_a_group_edge_to_a_local_source_is_relative_to_the_lock(tmp_path: Path) -> None:
    """Edges name a source where two packages share a name (here alpha 1.0 from the index, 2.0 from a
    directory): in a package's groups (either spelling) and in the manifest's, relative to the lock."""
    edge = '{ name = "alpha", version = "2.0", source = { directory = "libs/alpha" } }'
    second = '[[package]]\nname = "alpha"\nversion = "2.0"\nsource = { directory = "libs/alpha" }\n\n'
    base = LOCK.replace('[[package]]\nname = "app"', second + '[[package]]\nname = "app"', 1)
    shapes = {
        "dev-dependencies": base.replace(
            '[package.dev-dependencies]\ndev = [\n    { name = "alpha" },',
            "[package.dev-dependencies]\ndev = [\n    " + edge + ",",
            1,
        ),
        "dependency-groups": base.replace(
            '[package.dev-dependencies]\ndev = [\n    { name = "alpha" },',
            "[package.dependency-groups]\ndev = [\n    " + edge + ",",
            1,
        ),
        "manifest": base.replace(
            "version = 1\n", f"version = 1\nmanifest = {{ dependency-groups = {{ dev = [{edge}] }} }}\n", 1
        ),
    }
    for shape, text in shapes.items():
        (tmp_path / shape).mkdir()
        project = _project(tmp_path / shape, text)
        lock = load_lock(project / "uv.lock")
        if shape == "manifest":
            (edge_read,) = lock.groups["dev"]
        else:
            (app,) = lock.by_name("app")
            (edge_read,) = app.dependency_groups["dev"]
        assert edge_read.source == Source("directory", str((project / "libs/alpha").resolve())), shape


def test_every_kind_of_source_uv_writes(
    make_locked_project: Callable[..., Path],
    make_package: Callable[..., Path],
    make_git_package: Callable[..., tuple[str, str]],
    index: LocalIndex,
    wheelhouse: Path,
    tmp_path: Path,
) -> None:
    flat = tmp_path / "flat"  # a find-links directory beside the project
    flat.mkdir()
    for name in ("docstool-1.0-py3-none-any.whl", "linuxonly-1.0-py3-none-any.whl"):
        shutil.copy(wheelhouse / name, flat)
    tinybuild_backend.sdist_from(str(make_package(name="flatsdist")), str(flat))
    tinybuild_backend.sdist_from(str(make_package(name="pathsdist")), str(flat))
    make_package(name="pathdep")
    make_package(name="dirdep")
    make_package(name="editdep")
    url, commit = make_git_package(subdirectory="sub", name="subpkg")
    wheel_url = f"{index.files_url}/fancy_dep-1.0-py3-none-any.whl"
    project = make_locked_project(
        dependencies=[
            "pathdep",
            f"dirdep @ {(tmp_path / 'libs/dirdep').as_uri()}",
            "editdep",
            git_requirement("subpkg", url, commit, subdirectory="sub"),
            f"fancy-dep @ {wheel_url}",
            f"sdistonly @ {index.files_url}/sdistonly-1.0.tar.gz",
            "pathsdist",
            "docstool",
            "buildy",
            "linuxonly",
            "flatsdist",
        ],
        sources={
            "pathdep": {"path": "../libs/pathdep"},
            "editdep": {"path": "../libs/editdep", "editable": True},
            "linuxonly": {"index": "here"},
            "flatsdist": {"index": "here"},
            "pathsdist": {"path": "../flat/pathsdist-1.0.tar.gz"},
            "docstool": {"path": "../flat/docstool-1.0-py3-none-any.whl"},
        },
        tool_uv='[[tool.uv.index]]\nname = "here"\nurl = "../flat"\nformat = "flat"\nexplicit = true',
        requires_python=">=3.10",
    )
    lock = load_lock(project / "uv.lock")
    text = (project / "uv.lock").read_text()
    assert 'source = { registry = "../flat" }' in text and 'source = { directory = "../libs/pathdep" }' in text
    by = {package.name: package for package in lock.packages}
    libs, flat = (tmp_path / "libs").resolve(), flat.resolve()
    assert by["pathdep"].id.source == Source("directory", str(libs / "pathdep"))
    assert by["dirdep"].id.source == Source("directory", str(libs / "dirdep"))
    assert by["editdep"].id.source == Source("editable", str(libs / "editdep"))
    assert all(by[name].id.source.is_local for name in ("pathdep", "dirdep", "editdep", "subpkg", "app"))
    assert not any(
        by[name].id.source.is_local for name in ("docstool", "pathsdist", "sdistonly", "fancy-dep", "buildy")
    )

    git = by["subpkg"].id.source
    assert git.kind == "git" and git.subdirectory == "sub" and git.git_commit == commit
    assert f"git+{git.git_url}" == url and git.git_url.startswith("file://")

    (docstool,) = by["docstool"].wheels
    assert by["docstool"].id.source == Source("path", str(flat / "docstool-1.0-py3-none-any.whl"))
    assert (docstool.filename, docstool.url) == ("docstool-1.0-py3-none-any.whl", str(flat / docstool.filename))
    assert docstool.sha256 is not None and len(docstool.sha256) == 64

    sdist = by["pathsdist"].sdist
    assert by["pathsdist"].id.source == Source("path", str(flat / "pathsdist-1.0.tar.gz"))
    assert sdist is not None and (sdist.filename, sdist.url) == ("pathsdist-1.0.tar.gz", str(flat / sdist.filename))
    remote = by["sdistonly"].sdist
    assert by["sdistonly"].id.source == Source("url", f"{index.files_url}/sdistonly-1.0.tar.gz")
    assert remote is not None and remote.url == f"{index.files_url}/sdistonly-1.0.tar.gz"
    assert remote.filename == "sdistonly-1.0.tar.gz" and remote.sha256 is not None

    (local,) = by["linuxonly"].wheels
    assert by["linuxonly"].id.source == Source("registry", str(flat))
    assert (local.filename, local.url) == ("linuxonly-1.0-py3-none-any.whl", str(flat / local.filename))

    flat_sdist = by["flatsdist"].sdist
    assert 'sdist = { path = "flatsdist-1.0.tar.gz"' in text  # relative to the flat registry, not to the lock
    assert flat_sdist is not None and flat_sdist.url == str(flat / "flatsdist-1.0.tar.gz")

    (fancy,) = by["fancy-dep"].wheels
    assert by["fancy-dep"].id.source == Source("url", wheel_url)
    assert (fancy.filename, fancy.url) == ("fancy_dep-1.0-py3-none-any.whl", wheel_url)
    assert lock.default_index == index.url  # the flat directory is no index to fetch build requirements from

    assert [wheel.build for wheel in by["buildy"].wheels] == [(1, ""), (2, "")]
    metadata = by["app"].metadata
    assert metadata is not None
    assert f"fancy-dep @ {wheel_url} " in metadata.requires_dist and "buildy" in metadata.requires_dist

    # What the user sees: every source stages (the sources are built, the archives verified).
    result = uvroot("plan", "--project", project, "--root", tmp_path / "r", cache=tmp_path / "cache")
    assert result.exit_code == 0, result.output
    assert "docstool==1.0" in result.output and "linuxonly==1.0" in result.output


def test_a_workspace_whose_root_is_no_project(
    make_package: Callable[..., Path], lock_project: Callable[[Path], Path], tmp_path: Path
) -> None:
    workspace = tmp_path / "ws"
    make_package(
        "ws/libs/member", name="member", dependencies=["alpha[zzz,fancy]"], optional={"Extra_One": ["gadgets"]}
    )
    (workspace / "pyproject.toml").write_text(
        '[tool.uv.workspace]\nmembers = ["libs/member"]\n\n'
        '[dependency-groups]\nDev_Tools = ["devtool>=1", "docstool; python_version >= \'3.8\'", "beta"]\n'
    )
    lock_project(workspace)
    lock = load_lock(workspace / "uv.lock")
    assert lock.members == ("member",)
    assert lock.groups == {
        "dev-tools": (  # uv sorts them
            Dependency("beta"),
            Dependency("devtool"),
            Dependency("docstool", marker=Marker("python_full_version >= '3.8'")),
        )
    }
    assert lock.group_requirements == {
        "dev-tools": frozenset({"devtool>=1", "docstool; python_full_version >= '3.8'", "beta"})
    }
    (member,) = lock.by_name("member")
    assert member.id.source == Source("editable", str((workspace / "libs/member").resolve()))
    assert member.dependencies == (Dependency("alpha", extras=frozenset({"fancy"})),)
    assert member.optional_dependencies == {"extra-one": (Dependency("gadgets"),)}
    assert member.metadata is not None
    # As declared (sorted), with an extra alpha does not have; the edge has only the one alpha has.
    assert member.metadata.requires_dist == frozenset({"alpha[fancy,zzz]", "gadgets; extra == 'extra-one'"})
    assert member.metadata.provides_extras == frozenset({"extra-one"})
    (alpha,) = lock.by_name("alpha")
    assert alpha.optional_dependencies == {"fancy": (Dependency("fancy-dep"),)}
    # The group's version-less edge to beta picks the fork of the target's Python, as uv does.
    for version, beta in (("3.11", "beta==1.0"), ("3.12", "beta==2.0")):
        result = uvroot(
            "plan",
            "--project",
            workspace,
            "--root",
            tmp_path / "r",
            "--group",
            "dev-tools",
            "--python-version",
            version,
        )
        assert result.exit_code == 0, result.output
        assert f"install  {beta}" in result.output and "install  devtool==1.0" in result.output, result.output


def test_dependency_groups_in_every_spelling_uv_wrote(make_locked_project: Callable[..., Path], tmp_path: Path) -> None:
    project = make_locked_project(dependencies=["alpha"], groups={"Dev": ["devtool>=1"]}, requires_python=">=3.10")
    text = (project / "uv.lock").read_text()
    assert "[package.dev-dependencies]" in text and "[package.metadata.requires-dev]" in text
    (app,) = load_lock(project / "uv.lock").by_name("app")
    assert app.dependency_groups == {"dev": (Dependency("devtool"),)}
    assert app.metadata is not None and app.metadata.requires_dev == {"dev": frozenset({"devtool>=1"})}
    # uv reads the older spellings too; so does uvroot, and [[distribution]] for [[package]].
    (project / "uv.lock").write_text(
        text.replace("[package.dev-dependencies]", "[package.dependency-groups]")
        .replace("[package.metadata.requires-dev]", "[package.metadata.dependency-groups]")
        .replace("[[package]]", "[[distribution]]")
        .replace("[package.", "[distribution.")
    )
    (old,) = load_lock(project / "uv.lock").by_name("app")
    assert old == app
    result = uvroot("plan", "--project", project, "--root", tmp_path / "r", "--only-group", "dev")
    assert result.exit_code == 0 and "install  devtool==1.0" in result.output, result.output
    assert "install  alpha" not in result.output
