"""`uvroot plan --format json` and `sync --report FILE`: the machine-readable plan and report.

The plan is compared with what uv itself installs from the same lock for the
same target (`uv export` + `uv pip install --target --python-platform`): the same
distributions and, wheel by wheel, the same tags.  Skipped packages carry the
reason the lock's graph gives (marker, group, extra); after a real sync every
package's installed size is checked against the staged files themselves.
"""

from __future__ import annotations

import csv
import json
import os
import re
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from packaging.utils import canonicalize_name, parse_wheel_filename

from tests.support.cli import uvroot
from tests.support.index import LocalIndex
from tests.support.uvproject import uv_lock, uv_oracle_target, write_project

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - uvroot supports 3.10, which lacks tomllib
    import tomli as tomllib

DEPENDENCIES = [
    "alpha",
    "native",
    "gadgets",
    "winonly; sys_platform == 'win32'",
    "linuxonly; sys_platform == 'linux'",
]
OPTIONAL = {"fancy": ["alpha[fancy]"], "docs": ["docstool"]}
GROUPS = {"dev": ["devtool"], "lint": ["linttool"]}


@pytest.fixture(scope="module")
def locked(tmp_path_factory: pytest.TempPathFactory, index: LocalIndex, uv_cache: Path) -> Path:
    project = tmp_path_factory.mktemp("plan-project")
    # >=3.8 makes uv fork `beta` on the Python version (1.0 below 3.12, 2.0 from 3.12).
    write_project(project, dependencies=DEPENDENCIES, optional=OPTIONAL, groups=GROUPS, requires_python=">=3.8")
    uv_lock(project, index.url, cache_dir=uv_cache)
    return project


def _plan(project: Path, *args: str | Path) -> dict[str, Any]:
    result = uvroot("plan", "--project", project, "--format", "json", *args)
    assert result.exit_code == 0, result.output
    doc: dict[str, Any] = json.loads(result.stdout)
    return doc


def _oracle_tags(target_dir: Path) -> dict[str, tuple[str, set[str]]]:
    """name -> (version, the Tag lines of its WHEEL file) for everything uv installed."""
    found = {}
    for info in target_dir.glob("*.dist-info"):
        name, version = info.name.removesuffix(".dist-info").split("-")
        wheel = (info / "WHEEL").read_text().splitlines()
        found[str(canonicalize_name(name))] = (version, {line[5:] for line in wheel if line.startswith("Tag: ")})
    return found


def _locked_ids(project: Path) -> set[tuple[str, str]]:
    data = tomllib.loads((project / "uv.lock").read_text())
    return {(package["name"], package["version"]) for package in data["package"]}


@pytest.mark.parametrize(
    ("platform", "version", "native", "marker_skipped", "beta"),
    [
        ("aarch64-unknown-linux-musl", "3.12", "cp312-cp312-musllinux_1_2_aarch64", "winonly", "2.0"),
        ("x86_64-manylinux_2_28", "3.11", "cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64", "winonly", "1.0"),
        ("windows", "3.12", "cp312-cp312-win_amd64", "linuxonly", "2.0"),
    ],
)
def test_plan_lists_what_uv_installs_with_the_wheel_it_chose(
    locked: Path,
    index: LocalIndex,
    uv_cache: Path,
    tmp_path: Path,
    platform: str,
    version: str,
    native: str,
    marker_skipped: str,
    beta: str,
) -> None:
    staged = tmp_path / "staged"
    doc = _plan(locked, "--target", staged, "--python-platform", platform, "--python-version", version)
    assert not staged.exists()  # a plan writes nothing
    theirs = _oracle_tags(
        uv_oracle_target(
            locked,
            tmp_path / "uv",
            python_platform=platform,
            python_version=version,
            index_url=index.url,
            cache_dir=uv_cache,
        )
    )
    packages = {entry["name"]: entry for entry in doc["packages"]}
    assert {name: entry["version"] for name, entry in packages.items()} == {n: v for n, (v, _) in theirs.items()}
    for name, entry in packages.items():
        tags = parse_wheel_filename(entry["wheel"]["filename"])[3]
        assert {str(tag) for tag in tags} == theirs[name][1], name  # the same wheel uv installed
        assert entry["action"] == "install" and entry["build"] is None
        assert entry["wheel"]["url"].endswith(entry["wheel"]["filename"])
        assert len(entry["wheel"]["sha256"]) == 64
        assert entry["wheel"]["size"] is None  # the test index (PEP 503 HTML) gives uv no sizes; see below
    assert packages["native"]["wheel"]["filename"] == f"native-1.0-{native}.whl"
    assert packages["beta"]["version"] == beta
    assert packages["alpha"]["requested"] and not packages["beta"]["requested"]  # beta comes through alpha

    assert doc["schema"] == {"name": "uvroot-plan", "version": 1}
    assert doc["dry_run"] is True and doc["removed"] == []
    assert doc["target"]["python_version"] == version and doc["layout"]["kind"] == "target"
    skipped = {entry["name"]: entry for entry in doc["skipped"] if entry["name"] != "beta"}
    platform_of = {"winonly": "win32", "linuxonly": "linux"}
    assert skipped[marker_skipped]["kind"] == "marker"
    assert skipped[marker_skipped]["detail"] == f'sys_platform == "{platform_of[marker_skipped]}"'
    assert skipped[marker_skipped]["parent"] == "app==0.1.0"
    docstool = {"name": "docstool", "version": "1.0", "kind": "extra", "detail": "docs", "parent": "app==0.1.0"}
    assert skipped["docstool"] == docstool
    assert skipped["fancy-dep"]["kind"] == "extra" and skipped["fancy-dep"]["detail"] == "fancy"  # via alpha[fancy]
    assert skipped["linttool"]["kind"] == "group" and skipped["linttool"]["detail"] == "lint"
    assert skipped["app"]["kind"] == "virtual"
    assert "devtool" in packages  # the default group
    # The other branch of the beta fork is skipped by its marker.
    (other_beta,) = [entry for entry in doc["skipped"] if entry["name"] == "beta"]
    assert other_beta["kind"] == "marker" and "python_full_version" in other_beta["detail"]
    assert other_beta["version"] != beta
    # Every locked package is accounted for, exactly once.
    planned = [(e["name"], e["version"]) for e in doc["packages"]] + [(e["name"], e["version"]) for e in doc["skipped"]]
    assert sorted(planned) == sorted(_locked_ids(locked))
    totals = doc["totals"]
    assert totals["packages"] == len(packages) == totals["install"] and totals["skipped"] == len(doc["skipped"])


def test_selection_flags_move_packages_between_installed_and_skipped(locked: Path, tmp_path: Path) -> None:
    args = ["--target", tmp_path / "t", "--python-platform", "x86_64-manylinux_2_28", "--python-version", "3.12"]
    doc = _plan(locked, *args, "--extra", "fancy", "--no-dev", "--group", "lint")
    names = {entry["name"] for entry in doc["packages"]}
    skipped = {entry["name"]: (entry["kind"], entry["detail"]) for entry in doc["skipped"]}
    assert {"fancy-dep", "linttool"} <= names and "devtool" not in names
    assert skipped["devtool"] == ("group", "dev") and skipped["docstool"] == ("extra", "docs")


def test_sync_dry_run_json_is_the_plan_and_text_names_the_reasons(locked: Path, tmp_path: Path) -> None:
    args = ["--project", locked, "--root", tmp_path / "root", "--python-platform", "aarch64-unknown-linux-musl"]
    plan = uvroot("plan", *args, "--format", "json")
    dry = uvroot("sync", *args, "--dry-run", "--format", "json")
    assert plan.exit_code == dry.exit_code == 0, plan.output + dry.output
    assert plan.stdout == dry.stdout
    # Deterministic text: sorted keys, fixed indentation, one final newline (diffable).
    assert plan.stdout == json.dumps(json.loads(plan.stdout), indent=2, sort_keys=True) + "\n"
    text = uvroot("plan", *args)
    assert text.exit_code == 0, text.output
    assert 'skip     winonly==1.0 (marker sys_platform == "win32")' in text.stdout
    assert "skip     linttool==1.0 (group lint)" in text.stdout and "(extra docs)" in text.stdout
    assert "virtual" not in text.stdout and "unreachable" not in text.stdout
    assert not (tmp_path / "root").exists()


def test_workspace_members_are_built_and_the_rest_is_unreachable_or_flagged(
    make_workspace: Callable[..., Path], tmp_path: Path
) -> None:
    workspace = make_workspace()
    doc = _plan(workspace, "--root", tmp_path / "r", "--package", "app")
    packages = {entry["name"]: entry for entry in doc["packages"]}
    assert set(packages) == {"app", "core", "alpha", "beta"}
    assert packages["core"]["wheel"] is None and packages["core"]["build"]["from"] == "tree"
    assert packages["core"]["build"]["url"] == str((workspace / "libs/core").resolve())
    assert packages["app"]["requested"] is False and packages["core"]["requested"] is True
    skipped = {entry["name"]: entry["kind"] for entry in doc["skipped"]}
    assert skipped["wsroot"] == "unreachable"  # app does not depend on the workspace root

    doc = _plan(workspace, "--root", tmp_path / "r", "--no-install-workspace")
    assert {entry["name"] for entry in doc["packages"]} == {"alpha", "beta"}
    flagged = {entry["name"]: entry["detail"] for entry in doc["skipped"] if entry["kind"] == "flag"}
    assert flagged == dict.fromkeys(["app", "core", "wsroot"], "--no-install-workspace")


def test_plan_without_the_dry_run_flag_is_sync_dry_run(locked: Path, tmp_path: Path) -> None:
    # `plan` takes every sync flag but --dry-run (it is always one).
    result = uvroot("plan", "--project", locked, "--root", tmp_path / "r", "--dry-run")
    assert result.exit_code == 2 and "--dry-run" in result.output
    help_text = uvroot("plan", "--help").stdout
    assert "--no-install-project" in help_text and "--report" in help_text and "--link-mode" in help_text


def _record_sizes(dist_info: Path) -> tuple[int, int]:
    """Independently: the files a RECORD lists and the sum of their sizes on disk."""
    site = dist_info.parent
    with (dist_info / "RECORD").open(newline="") as stream:
        paths = [os.path.normpath(site / row[0]) for row in csv.reader(stream) if row]
    return sum(Path(path).stat().st_size for path in paths), len(paths)


def test_report_after_a_real_sync_has_the_installed_size_of_each_package(
    locked: Path, tmp_path: Path, uvroot_cache: Path
) -> None:
    root, report = tmp_path / "root", tmp_path / "out" / "report.json"
    args = [
        "--project",
        locked,
        "--root",
        root,
        "--python-version",
        "3.12",
        "--python-platform",
        "x86_64-manylinux_2_28",
    ]
    result = uvroot("sync", *args, "--report", report, "--format", "json", cache=uvroot_cache)
    assert result.exit_code == 0, result.output
    assert result.stdout == report.read_text()  # stdout is the JSON; the summary went to stderr
    assert "staged" in result.stderr
    doc = json.loads(report.read_text())
    assert doc["dry_run"] is False and doc["layout"]["top"] == str(root)
    site = root / "usr/local/lib/python3.12/site-packages"
    infos = {str(canonicalize_name(p.name.split("-")[0])): p for p in site.glob("*.dist-info")}
    assert set(infos) == {entry["name"] for entry in doc["packages"]}
    for entry in doc["packages"]:
        assert (entry["installed_size"], entry["files"]) == _record_sizes(infos[entry["name"]]), entry["name"]
        assert entry["action"] == "install"
    assert doc["totals"]["installed_size"] == sum(entry["installed_size"] for entry in doc["packages"]) > 0
    assert not list(report.parent.glob(".*.tmp"))  # written through a temporary file, renamed into place

    # A re-sync with another selection: kept packages and removed ones, sizes still from the tree.
    again = uvroot("sync", *args, "--no-dev", "--report", report, cache=uvroot_cache)
    assert again.exit_code == 0, again.output
    doc = json.loads(report.read_text())
    assert {entry["action"] for entry in doc["packages"]} == {"keep"}
    assert doc["removed"] == [{"name": "devtool", "version": "1.0"}]
    gadgets = next(entry for entry in doc["packages"] if entry["name"] == "gadgets")
    assert (gadgets["installed_size"], gadgets["files"]) == _record_sizes(infos["gadgets"])


def test_report_inside_the_staged_tree_is_refused(locked: Path, tmp_path: Path) -> None:
    root = tmp_path / "root"
    result = uvroot("sync", "--project", locked, "--root", root, "--report", root / "report.json")
    assert result.exit_code == 2 and "inside the staged tree" in result.output
    assert not root.exists()


def test_dry_run_report_writes_the_plan(locked: Path, tmp_path: Path) -> None:
    report = tmp_path / "plan.json"
    result = uvroot("sync", "--project", locked, "--root", tmp_path / "r", "--dry-run", "--report", report)
    assert result.exit_code == 0, result.output
    assert "plan for" in result.stdout  # text stays the default on stdout
    doc = json.loads(report.read_text())
    assert doc["dry_run"] is True and "installed_size" not in doc["packages"][0]


def _edited_copy(locked: Path, into: Path, lock: str) -> Path:
    into.mkdir()
    (into / "pyproject.toml").write_text((locked / "pyproject.toml").read_text())
    (into / "uv.lock").write_text(lock)
    return into


def test_wheel_sizes_come_from_the_lock(locked: Path, index: LocalIndex, tmp_path: Path) -> None:
    # uv records `size` when the index gives it (PyPI does; the test index does not): add the real ones.
    def with_size(match: re.Match[str]) -> str:
        data = index.file_bytes(match[2])
        assert data is not None
        return f"{match[1]}, size = {len(data)} }}"

    lock = re.sub(
        r'(\{ url = "[^"]*/files/([^"]+\.whl)", hash = "[^"]+") \}', with_size, (locked / "uv.lock").read_text()
    )
    project = _edited_copy(locked, tmp_path / "sized", lock)
    doc = _plan(project, "--root", tmp_path / "r", "--python-platform", "aarch64-unknown-linux-musl")
    for entry in doc["packages"]:
        data = index.file_bytes(entry["wheel"]["filename"])
        assert data is not None and entry["wheel"]["size"] == len(data) > 0
    assert doc["totals"]["wheel_size"] == sum(entry["wheel"]["size"] for entry in doc["packages"])


def test_credentials_never_reach_the_json(locked: Path, tmp_path: Path) -> None:
    lock = (locked / "uv.lock").read_text().replace("http://127.0.0.1", "http://user:s3cret@127.0.0.1")
    assert "s3cret" in lock
    project = _edited_copy(locked, tmp_path / "secret", lock)
    result = uvroot("plan", "--project", project, "--root", tmp_path / "r", "--format", "json")
    assert result.exit_code == 0, result.output
    assert "s3cret" not in result.stdout and "user" not in result.stdout and "****@127.0.0.1" in result.stdout
