"""`uvroot plan --format json` and `sync --report FILE`: the machine-readable plan and report.

The plan is compared with what uv itself installs from the same lock for the
same target (`uv export` + `uv pip install --target --python-platform`): the same
distributions and, wheel by wheel, the same tags.  Skipped packages carry the
reason the lock's graph gives (marker, group, extra); after a real sync every
package's installed size is checked against the staged files themselves.

The second half pins down, word for word, what `plan` and `check` say and why: every skip
reason, every refusal, each way of choosing the roots, and the wheel chosen by build tag.
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
from tests.support.sources import write_package
from tests.support.uvproject import uv_lock, uv_oracle_target, write_project
from tests.support.wheels import build_wheel

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


# -- what `plan` (and `check`) tell a user, and why: every skip reason and every refusal, word for word ------
# (The locks are genuine; a few tests then edit one by hand, as a user or a broken tool might, to show
# what uvroot says about a lock it cannot follow.  The decisions are uvroot/plan.py's: the roots, the walk,
# the skips and the choice of artifact.)

HOST_PYTHON = f"{sys.version_info[0]}.{sys.version_info[1]}"
LINUX = ["--python-platform", "x86_64-manylinux_2_28", "--python-version", "3.12"]
MUSL = ["--python-platform", "aarch64-unknown-linux-musl", "--python-version", "3.12"]


def _planned(project: Path, *args: str | Path) -> dict[str, Any]:
    result = uvroot("plan", "--project", project, "--format", "json", "--target", project / "staged", *args)
    assert result.exit_code == 0, result.output
    assert not (project / "staged").exists()
    doc: dict[str, Any] = json.loads(result.stdout)
    return doc


def _names(doc: dict[str, Any]) -> dict[str, str]:
    return {entry["name"]: entry["version"] for entry in doc["packages"]}


def _skipped(doc: dict[str, Any]) -> dict[str, tuple[str, str, str | None]]:
    return {f"{e['name']}=={e['version']}": (e["kind"], e["detail"], e["parent"]) for e in doc["skipped"]}


def _refused(result: Any, code: int) -> list[str]:
    assert result.exit_code == code, result.output
    assert "Traceback" not in result.output and result.stdout == ""
    lines: list[str] = result.stderr.splitlines()
    return lines


# -- a virtual project: markers, extras, groups, flags and the wheel chosen --------------------------


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory, index: LocalIndex, uv_cache: Path) -> Path:
    project = tmp_path_factory.mktemp("reasons-app")
    # >=3.8: uv forks beta on the Python version (1.0 below 3.12, 2.0 from 3.12).
    write_project(
        project,
        dependencies=["alpha", "buildy"],
        groups={"dev": ["devtool"]},
        requires_python=">=3.8",
    )
    uv_lock(project, index.url, cache_dir=uv_cache)
    return project


def test_every_locked_package_is_planned_or_skipped_with_its_reason(app: Path) -> None:
    doc = _planned(app, *LINUX)
    assert _names(doc) == {"alpha": "1.0", "beta": "2.0", "buildy": "1.0", "devtool": "1.0"}
    wheels = {entry["name"]: entry["wheel"]["filename"] for entry in doc["packages"]}
    assert wheels["buildy"] == "buildy-1.0-2-py3-none-any.whl"  # the higher build tag wins, as in uv
    requested = {entry["name"] for entry in doc["packages"] if entry["requested"]}
    assert requested == {"alpha", "buildy", "devtool"}  # beta comes through alpha
    assert _skipped(doc) == {
        "app==0.1.0": ("virtual", "a virtual project is never installed", None),
        "beta==1.0": ("marker", 'python_full_version < "3.12"', "alpha==1.0"),
    }


def test_only_group_leaves_the_project_dependencies_out_as_a_flag(app: Path) -> None:
    doc = _planned(app, *LINUX, "--only-group", "dev")
    assert _names(doc) == {"devtool": "1.0"}
    skipped = _skipped(doc)
    assert skipped["alpha==1.0"] == ("flag", "--only-group/--only-dev", "app==0.1.0")
    assert skipped["buildy==1.0"] == ("flag", "--only-group/--only-dev", "app==0.1.0")
    assert skipped["beta==2.0"] == ("flag", "--only-group/--only-dev", "app==0.1.0")  # the first block decides


def test_skips_are_listed_by_name_then_version(app: Path) -> None:
    # beta 2.0 is left out by a flag, beta 1.0 by its marker: the listing still goes 1.0, then 2.0.
    result = uvroot("plan", "--project", app, "--target", app / "t", *LINUX, "--no-install-package", "beta")
    assert result.exit_code == 0, result.output
    skips = [line.split()[1] for line in result.stdout.splitlines() if line.startswith("  skip ")]
    assert skips == ["beta==1.0", "beta==2.0"], result.stdout
    assert "  skip     beta==2.0 (--no-install-package)" in result.stdout.splitlines()


def test_check_counts_packages_in_words(make_locked_project: Callable[..., Path], app: Path) -> None:
    one = make_locked_project(dependencies=["devtool"], requires_python=">=3.10")
    result = uvroot("check", "--project", one, *MUSL)
    assert result.exit_code == 0, result.output
    assert result.stdout == "uv.lock can be staged for cp312-aarch64-musllinux_1_2: 1 package (1 from wheels)\n"
    result = uvroot("check", "--project", app, *MUSL, "--only-group", "dev", "--group", "dev")
    assert result.exit_code == 0, result.output
    assert result.stdout.endswith(": 1 package (1 from wheels)\n")
    result = uvroot("check", "--project", app, *MUSL, "--no-dev")
    assert result.exit_code == 0, result.output
    assert result.stdout.endswith(": 3 packages (3 from wheels)\n")


def test_an_edge_naming_an_extra_the_package_lacks_adds_nothing(app: Path, tmp_path: Path) -> None:
    # uv drops an unknown extra from the edge (with a warning); a lock that keeps one is followed all the same.
    project = _copy(app, tmp_path)
    _edit_lock(project, '    { name = "alpha" },\n', '    { name = "alpha", extra = ["nope"] },\n')
    assert _names(_planned(project, *LINUX)) == {"alpha": "1.0", "beta": "2.0", "buildy": "1.0", "devtool": "1.0"}


def test_a_dangling_edge_is_an_error_only_where_the_install_follows_it(app: Path, tmp_path: Path) -> None:
    project = _copy(app, tmp_path)
    # An edge to a package the lock does not hold, behind a marker that is false for the target: the
    # plan explains everything else and stages what it can.
    ghost = '    { name = "ghost", marker = "sys_platform == \'win32\'" },\n'
    _edit_lock(project, '    { name = "buildy" },\n', '    { name = "buildy" },\n' + ghost)
    _edit_lock(
        project, "\"python_full_version >= '3.12'\" },\n]", "\"python_full_version >= '3.12'\" },\n" + ghost + "]"
    )
    doc = _planned(project, *LINUX)
    assert _names(doc) == {"alpha": "1.0", "beta": "2.0", "buildy": "1.0", "devtool": "1.0"}
    assert "ghost" not in json.dumps(doc["skipped"])
    # For Windows the install follows the edge out of the project, then the one out of alpha.
    windows = uvroot("plan", "--project", project, "--target", tmp_path / "t", "--python-platform", "windows")
    lines = _refused(windows, 3)
    assert lines[0] == f"error: {project / 'uv.lock'}: app==0.1.0 depends on ghost, which matches no locked packages"
    _edit_lock(project, '    { name = "buildy" },\n' + ghost, '    { name = "buildy" },\n')
    windows = uvroot("plan", "--project", project, "--target", tmp_path / "t", "--python-platform", "windows")
    lines = _refused(windows, 3)
    assert lines[0] == f"error: {project / 'uv.lock'}: alpha==1.0 depends on ghost, which matches no locked packages"


def _tag_count() -> int:
    from uvroot.target import Target

    return len(Target.parse("3.12", "aarch64-unknown-linux-musl").tags)


def _copy(project: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "copy"
    copy.mkdir()
    for name in ("pyproject.toml", "uv.lock"):
        (copy / name).write_bytes((project / name).read_bytes())
    return copy


def _edit_lock(project: Path, old: str, new: str) -> None:
    lock = project / "uv.lock"
    text = lock.read_text()
    assert old in text, text
    lock.write_text(text.replace(old, new, 1))


# -- refusals: what cannot be staged, and what the user asked for that does not exist ----------------


@pytest.fixture(scope="module")
def offenders(tmp_path_factory: pytest.TempPathFactory, index: LocalIndex, uv_cache: Path) -> Path:
    project = tmp_path_factory.mktemp("reasons-offenders")
    write_project(project, dependencies=["alpha", "linuxbin", "sdistonly", "devtool"], requires_python=">=3.10")
    uv_lock(project, index.url, cache_dir=uv_cache)
    return project


def test_check_names_every_offender_and_sync_stops_at_the_first(offenders: Path, tmp_path: Path) -> None:
    flags = ["--no-binary-package", "alpha", "--no-build-package", "sdistonly"]
    lines = _refused(uvroot("check", "--project", offenders, *MUSL, *flags), 4)
    tags = "cp312-cp312-musllinux_1_2_aarch64, cp312-cp312-musllinux_1_1_aarch64, cp312-cp312-musllinux_1_0_aarch64"
    linuxbin = (
        "wheels in uv.lock: linuxbin-1.0-py3-none-manylinux_2_17_x86_64.manylinux2014_x86_64.whl, "
        "linuxbin-1.0-py3-none-musllinux_1_2_x86_64.whl"
    )
    assert lines[:4] == [
        "error: uv.lock cannot be staged for cp312-aarch64-musllinux_1_2: 3 packages have no wheel that fits it",
        "  alpha==1.0: no sdist, and --no-binary forbids its wheels; wheels in uv.lock: alpha-1.0-py3-none-any.whl",
        f"  linuxbin==1.0: no wheel for cp312-aarch64-musllinux_1_2 (tags tried: {tags}, ... {_tag_count()} in all); "
        + linuxbin,
        (
            "  sdistonly==1.0: only an sdist (sdistonly-1.0.tar.gz), and --no-build forbids building it; "
            "wheels in uv.lock: none"
        ),
    ]
    sync = uvroot("sync", "--project", offenders, "--root", tmp_path / "root", *MUSL, *flags, "--dry-run")
    assert _refused(sync, 4) == [
        "error: alpha==1.0 has no sdist, and --no-binary forbids its wheels",
        "hint: wheels in uv.lock: alpha-1.0-py3-none-any.whl",
    ]
    sync = uvroot("sync", "--project", offenders, "--root", tmp_path / "root", *MUSL, "--dry-run")
    assert _refused(sync, 4) == [
        f"error: linuxbin==1.0 has no wheel for cp312-aarch64-musllinux_1_2 (tags tried: {tags}, ... {_tag_count()} in all)",
        f"hint: {linuxbin}",
    ]
    assert not (tmp_path / "root").exists()


def test_no_build_refuses_only_what_has_no_wheel(offenders: Path) -> None:
    lines = _refused(uvroot("check", "--project", offenders, "--no-build", "--no-binary-package", "linuxbin"), 4)
    assert [line.split(":")[0] for line in lines[1:-1]] == ["  linuxbin==1.0", "  sdistonly==1.0"]
    here = uvroot("check", "--project", offenders, "--no-binary-package", "linuxbin", "--python-version", HOST_PYTHON)
    assert here.exit_code == 4, here.output  # linuxbin has no sdist to build instead
    fine = uvroot("check", "--project", offenders, "--python-version", HOST_PYTHON, "--python-platform", "linux")
    assert fine.exit_code == 0, fine.output
    assert fine.stdout.endswith(": 5 packages (4 from wheels, 1 built from sdists on this machine)\n")


# -- the roots: a workspace, one package, a workspace root with no [project] --------------------------


UNREACHABLE = ("unreachable", "not a dependency of the selected project or members", None)


def test_package_and_all_packages_choose_the_roots(make_workspace: Callable[..., Path]) -> None:
    workspace = make_workspace()  # wsroot -> app -> core (and alpha -> beta)
    doc = _planned(workspace, *LINUX, "--package", "core")
    assert _names(doc) == {"core": "1.0"}
    assert _skipped(doc) == {
        "alpha==1.0": UNREACHABLE,
        "app==2.0": UNREACHABLE,
        "beta==1.0": UNREACHABLE,
        "beta==2.0": UNREACHABLE,
        "wsroot==0.1.0": UNREACHABLE,
    }
    everything = {"wsroot": "0.1.0", "app": "2.0", "core": "1.0", "alpha": "1.0", "beta": "2.0"}
    doc = _planned(workspace, *LINUX, "--all-packages")
    assert _names(doc) == everything
    # Every member is a root: what any of them depends on is requested.
    assert {entry["name"] for entry in doc["packages"] if entry["requested"]} == {"app", "core", "alpha"}
    # --no-install-project leaves out the project: with --all-packages there is none.
    assert _names(_planned(workspace, *LINUX, "--all-packages", "--no-install-project")) == everything
    doc = _planned(workspace, *LINUX, "--no-install-project")
    assert _names(doc) == {"app": "2.0", "core": "1.0", "alpha": "1.0", "beta": "2.0"}
    assert _skipped(doc)["wsroot==0.1.0"] == ("flag", "--no-install-project", None)


@pytest.mark.parametrize("name", ["nope", "alpha"])
def test_package_must_name_a_workspace_member(make_workspace: Callable[..., Path], tmp_path: Path, name: str) -> None:
    workspace = make_workspace()
    result = uvroot("plan", "--project", workspace, "--root", tmp_path / "r", "--package", name)
    assert _refused(result, 4) == [
        f"error: --package {name} is not a workspace member (members: app, core, wsroot)",
        "hint: name a member listed in the lock's [manifest] members",
    ]


@pytest.fixture(scope="module")
def package(tmp_path_factory: pytest.TempPathFactory, index: LocalIndex, uv_cache: Path) -> Path:
    project = tmp_path_factory.mktemp("reasons-package")
    write_project(
        project, dependencies=["alpha"], groups={"dev": ["devtool"]}, backend="tinybuild", requires_python=">=3.10"
    )
    uv_lock(project, index.url, cache_dir=uv_cache)
    return project


def test_a_single_package_is_the_project_and_the_whole_workspace(package: Path, tmp_path: Path) -> None:
    planned = {"app": "0.1.0", "alpha": "1.0", "beta": "2.0", "devtool": "1.0"}
    assert _names(_planned(package, *LINUX)) == planned
    assert _names(_planned(package, *LINUX, "--all-packages")) == planned  # its lock lists no members
    for flag in ("--no-install-project", "--no-install-workspace", "--no-install-local"):
        doc = _planned(package, *LINUX, flag)
        assert _names(doc) == {"alpha": "1.0", "beta": "2.0", "devtool": "1.0"}, flag
        assert _skipped(doc)["app==0.1.0"] == ("flag", flag, None)
    doc = _planned(package, *LINUX, "--no-install-package", "alpha")
    assert _skipped(doc)["alpha==1.0"] == ("flag", "--no-install-package", None)
    doc = _planned(package, *LINUX, "--only-group", "dev")
    assert _names(doc) == {"devtool": "1.0"}
    assert _skipped(doc)["app==0.1.0"] == ("flag", "--only-group/--only-dev", None)
    result = uvroot("plan", "--project", package, "--root", tmp_path / "r", "--package", "nope")
    assert _refused(result, 4) == [
        "error: --package nope is not a workspace member (members: none)",
        "hint: name a member listed in the lock's [manifest] members",
    ]


def test_the_target_python_must_satisfy_requires_python(package: Path, tmp_path: Path) -> None:
    result = uvroot("plan", "--project", package, "--root", tmp_path / "r", "--python-version", "3.9")
    assert _refused(result, 4) == [
        "error: the target Python 3.9.0 does not satisfy the lock's requires-python >=3.10",
        "hint: pass a --python-version the project supports",
    ]


def test_a_lock_without_the_project_is_stale(package: Path, tmp_path: Path) -> None:
    project = _copy(package, tmp_path)
    _edit_lock(project, 'name = "app"', 'name = "other"')
    result = uvroot("plan", "--project", project, "--root", tmp_path / "r")
    assert _refused(result, 4) == [
        f"error: {project / 'uv.lock'} has no entry for the project app in {project}",
        'hint: the lock is stale or belongs to another project: run "uv lock"',
    ]


@pytest.fixture(scope="module")
def rootless(tmp_path_factory: pytest.TempPathFactory, index: LocalIndex, uv_cache: Path) -> Path:
    """A workspace root with no [project]: members app -> core, and the root's own group `dev` -> beta.

    app also depends on ext, a local tree that is no member (ext -> devtool).
    """
    workspace = tmp_path_factory.mktemp("reasons-rootless")
    write_package(workspace / "libs/core", name="core")
    write_package(workspace / "ext", name="ext", dependencies=["devtool"])
    write_package(
        workspace / "libs/app",
        name="app",
        dependencies=["core", "ext"],
        uv_sources={"core": {"workspace": True}, "ext": {"path": "../../ext"}},
    )
    (workspace / "pyproject.toml").write_text(
        '[tool.uv.workspace]\nmembers = ["libs/app", "libs/core"]\n\n[dependency-groups]\ndev = ["beta"]\n'
    )
    uv_lock(workspace, index.url, cache_dir=uv_cache)
    return workspace


def test_a_workspace_root_without_a_project_syncs_every_member_and_its_groups(rootless: Path) -> None:
    doc = _planned(rootless, *LINUX)
    members = {"app": "1.0", "core": "1.0", "ext": "1.0", "devtool": "1.0"}
    assert _names(doc) == {**members, "beta": "2.0"}  # the fork for 3.12
    assert _skipped(doc) == {"beta==1.0": UNREACHABLE}
    # The members and the root's groups are the roots: what they depend on is requested, not what ext does.
    assert {entry["name"] for entry in doc["packages"] if entry["requested"]} == {"core", "ext", "beta"}
    at_311 = _planned(rootless, "--python-platform", "linux", "--python-version", "3.11")
    assert _names(at_311) == {**members, "beta": "1.0"}
    # The members are not "the project": --no-install-project keeps them.
    assert _names(_planned(rootless, *LINUX, "--no-install-project")) == {**members, "beta": "2.0"}
    doc = _planned(rootless, *LINUX, "--no-dev")
    assert _names(doc) == members
    assert _skipped(doc)["beta==2.0"][:2] == ("group", "dev")
    doc = _planned(rootless, *LINUX, "--only-group", "dev")
    assert _names(doc) == {"beta": "2.0"}
    assert _skipped(doc)["app==1.0"] == ("flag", "--only-group/--only-dev", None)


def test_no_install_local_leaves_out_trees_editables_and_local_archives(
    make_locked_project: Callable[..., Path], make_package: Callable[..., Path], wheelhouse: Path, tmp_path: Path
) -> None:
    make_package(name="tree")
    make_package(name="edit")
    wheel = tmp_path / "wheels" / "linttool-1.0-py3-none-any.whl"
    wheel.parent.mkdir()
    wheel.write_bytes((wheelhouse / wheel.name).read_bytes())
    project = make_locked_project(
        dependencies=["tree", "edit", "linttool", "alpha"],
        sources={
            "tree": {"path": "../libs/tree", "editable": False},
            "edit": {"path": "../libs/edit", "editable": True},
            "linttool": {"path": f"../wheels/{wheel.name}"},
        },
        requires_python=">=3.10",
    )
    kinds = {p.name: p.id.source.kind for p in __import__("uvroot.lock").lock.load_lock(project / "uv.lock").packages}
    assert kinds == {
        "alpha": "registry",
        "app": "virtual",
        "beta": "registry",
        "edit": "editable",
        "linttool": "path",
        "tree": "directory",
    }
    assert _names(_planned(project, *LINUX)) == {
        "alpha": "1.0",
        "beta": "2.0",
        "edit": "1.0",
        "linttool": "1.0",
        "tree": "1.0",
    }
    doc = _planned(project, *LINUX, "--no-install-local")
    assert _names(doc) == {"alpha": "1.0", "beta": "2.0"}
    flagged = {
        name for name, (kind, detail, _) in _skipped(doc).items() if (kind, detail) == ("flag", "--no-install-local")
    }
    assert flagged == {"edit==1.0", "linttool==1.0", "tree==1.0"}


def test_a_target_outside_the_lock_environments_is_refused(
    make_locked_project: Callable[..., Path], tmp_path: Path
) -> None:
    project = make_locked_project(
        dependencies=["alpha"],
        tool_uv="environments = [\"sys_platform == 'linux'\", \"sys_platform == 'darwin'\"]",
        requires_python=">=3.10",
    )
    assert _names(_planned(project, *LINUX)) == {"alpha": "1.0", "beta": "2.0"}
    windows = ["--python-platform", "windows", "--python-version", "3.12"]
    result = uvroot("plan", "--project", project, "--target", tmp_path / "t", *windows)
    assert _refused(result, 4) == [
        (
            "error: the target cp312-x86_64-pc-windows-msvc is not compatible with the lockfile's supported "
            'environments: `sys_platform == "linux"`, `sys_platform == "darwin"`'
        ),
        (
            "hint: pick a --python-platform/--python-version inside tool.uv.environments, or add the target there "
            "and run uv lock"
        ),
    ]


def test_a_plain_extra_marker_on_an_edge_is_never_active(app: Path, tmp_path: Path) -> None:
    # uv writes extras as [package.optional-dependencies] (and conflicts in its own spelling); an edge that
    # carries PEP 508's `extra == ...` all the same holds for no target.
    project = _copy(app, tmp_path)
    _edit_lock(project, '    { name = "buildy" },\n', '    { name = "buildy", marker = "extra == \'nope\'" },\n')
    doc = _planned(project, *LINUX)
    assert _names(doc) == {"alpha": "1.0", "beta": "2.0", "devtool": "1.0"}
    assert _skipped(doc)["buildy==1.0"] == ("marker", 'extra == "nope"', "app==0.1.0")


def test_the_whole_build_tag_decides_as_uv_decides(
    tmp_path: Path, uv_cache: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    # A build tag is a number, then the rest: uv installs 1b over 1a, 1a over 0z, and any of them over none.
    wheels = tmp_path_factory.mktemp("build-tags")
    for build in (None, "0z", "1a", "1b"):
        build_wheel(wheels, "tagged", "1.0", build=build, files={"tagged.py": f"BUILD = {build!r}\n"})
    build_wheel(wheels, "cyca", "1.0", requires=["cycb"])  # a dependency cycle: the walk visits each once
    build_wheel(wheels, "cycb", "1.0", requires=["cyca"])
    with LocalIndex(wheels) as index:
        project = tmp_path / "project"
        write_project(project, dependencies=["tagged", "cyca"], requires_python=">=3.10")
        uv_lock(project, index.url, cache_dir=uv_cache)
        platform = {"python_platform": "x86_64-manylinux_2_28", "python_version": "3.12"}
        oracle = uv_oracle_target(project, tmp_path / "uv", index_url=index.url, cache_dir=uv_cache, **platform)
    assert (oracle / "tagged.py").read_text() == "BUILD = '1b'\n"
    planned = {entry["name"]: entry["wheel"]["filename"] for entry in _planned(project, *LINUX)["packages"]}
    assert planned == {
        "tagged": "tagged-1.0-1b-py3-none-any.whl",
        "cyca": "cyca-1.0-py3-none-any.whl",
        "cycb": "cycb-1.0-py3-none-any.whl",
    }


def test_a_dynamic_version_is_known_once_built(
    tmp_path: Path, lock_project: Callable[[Path], Path], uvroot_cache: Path
) -> None:
    dyn = write_package(tmp_path / "dyn", name="dyn", extra_pyproject='[tool.tinybuild.dynamic]\nversion = "1.2.3"')
    pyproject = dyn / "pyproject.toml"
    pyproject.write_text(pyproject.read_text().replace('version = "1.0"\n', 'dynamic = ["version"]\n'))
    project = tmp_path / "project"
    write_project(
        project, dependencies=["dyn", "devtool"], sources={"dyn": {"path": "../dyn"}}, requires_python=">=3.10"
    )
    lock_project(project)
    root = tmp_path / "root"
    fresh = uvroot("plan", "--project", project, "--root", root, cache=tmp_path / "cold")
    assert fresh.exit_code == 0, fresh.output
    assert "  install  dyn  build from directory " in fresh.stdout  # not built yet: no version known
    synced = uvroot("sync", "--project", project, "--root", root, cache=uvroot_cache)
    assert synced.exit_code == 0, synced.output
    listed = uvroot("plan", "--project", project, "--root", root, cache=uvroot_cache)
    assert listed.exit_code == 0, listed.output
    lines = listed.stdout.splitlines()
    assert "  keep     devtool==1.0  devtool-1.0-py3-none-any.whl" in lines
    assert [line.split()[:2] for line in lines if " dyn" in line] == [["keep", "dyn==1.2.3"]]
