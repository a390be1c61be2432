"""uv's environment variables and configuration files mean what they mean to `uv sync` (uv is the oracle).

Precedence: flag, then UVROOT_*, then UV_*, then the configuration files (project, user, system;
``--no-config``, ``--config-file``), then the default.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.support.cli import uvroot
from tests.support.index import LocalIndex
from tests.support.sources import installed_distributions, write_workspace
from tests.support.uvproject import run_uv

SITE = f"usr/local/lib/python{sys.version_info[0]}.{sys.version_info[1]}/site-packages"
NO_CONFIG = {"UV_NO_CONFIG": None}  # the test session sets UV_NO_CONFIG=1 for the builds it starts


def planned(*args: str | Path, env: dict[str, str | None] | None = None) -> list[str]:
    result = uvroot("plan", "--format", "json", *args, env=env)  # type: ignore[arg-type]
    assert result.exit_code == 0, result.output
    return sorted(f"{p['name']}=={p['version']}" for p in json.loads(result.stdout)["packages"])


@pytest.fixture
def workspace(tmp_path: Path, lock_project: Callable[[Path], Path]) -> Path:
    """wsroot -> app -> core (members), alpha from the index, groups dev and lint, a path dependency."""
    (tmp_path / "libs" / "pathdep").mkdir(parents=True)
    from tests.support.sources import write_package

    write_package(tmp_path / "libs" / "pathdep", name="pathdep")
    ws = write_workspace(
        tmp_path / "ws",
        root={
            "name": "wsroot",
            "version": "0.1.0",
            "dependencies": ["app", "pathdep"],
            "uv_sources": {"pathdep": {"path": "../libs/pathdep"}},
            "extra_pyproject": '[dependency-groups]\ndev = ["devtool"]\nlint = ["linttool"]',
        },
        members={
            "libs/core": {"name": "core", "version": "1.0"},
            "libs/app": {"name": "app", "version": "2.0", "dependencies": ["core", "alpha"]},
        },
    )
    lock_project(ws)
    return ws


def _uv_sync(project: Path, venv: Path, index: LocalIndex, uv_cache: Path, env: dict[str, str]) -> list[str]:
    run_uv(["venv", "--no-config", "--quiet", "--python", sys.executable, str(venv)], cwd=project, cache_dir=uv_cache)
    args = ["sync", "--no-config", "--frozen", "--no-editable", "--default-index", index.url]
    run_uv(
        [*args, "--python", str(venv / "bin" / "python")],
        cwd=project,
        cache_dir=uv_cache,
        env={"UV_PROJECT_ENVIRONMENT": str(venv), **env},
    )
    return installed_distributions(venv)


VARIABLES = [
    {"UV_NO_DEV": "1"},
    {"UV_NO_DEFAULT_GROUPS": "1"},
    {"UV_NO_GROUP": "dev"},
    {"UV_NO_INSTALL_PROJECT": "1"},
    {"UV_NO_INSTALL_WORKSPACE": "1"},
    {"UV_NO_INSTALL_LOCAL": "true"},
    {"UV_NO_DEV": "0"},
]


@pytest.mark.parametrize("variables", VARIABLES, ids=lambda v: ",".join(f"{k}={x}" for k, x in v.items()))
def test_selection_variables_mean_what_they_mean_to_uv(
    workspace: Path, index: LocalIndex, uv_cache: Path, tmp_path: Path, variables: dict[str, str]
) -> None:
    theirs = _uv_sync(workspace, tmp_path / "venv", index, uv_cache, variables)
    ours = planned("--project", workspace, "--root", tmp_path / "r", env=dict(variables))
    assert ours == theirs
    assert ours != planned("--project", workspace, "--root", tmp_path / "r") or variables == {"UV_NO_DEV": "0"}


def test_uvroot_variables_come_before_uv_ones_and_flags_before_both(workspace: Path, tmp_path: Path) -> None:
    base = ["--project", workspace, "--root", tmp_path / "r"]
    everything = planned(*base)
    no_dev = planned(*base, "--no-dev")
    assert planned(*base, env={"UV_NO_DEV": "1"}) == no_dev
    assert planned(*base, env={"UV_NO_DEV": "1", "UVROOT_NO_DEV": "0"}) == everything
    assert planned(*base, "--dev", env={"UV_NO_DEV": "1"}) == everything
    bad = uvroot("plan", *base, env={"UV_NO_DEV": "maybe"})
    assert bad.exit_code == 2 and "error: UV_NO_DEV='maybe' is not a boolean" in bad.output


def test_uv_project_and_working_dir(workspace: Path, tmp_path: Path) -> None:
    expected = planned("--project", workspace, "--root", tmp_path / "r")
    assert planned("--root", tmp_path / "r", env={"UV_PROJECT": str(workspace)}) == expected
    assert planned("--root", tmp_path / "r", env={"UV_WORKING_DIR": str(workspace / "libs")}) == expected


def test_locked_and_frozen_variables(make_locked_project: Callable[..., Path], tmp_path: Path) -> None:
    project = make_locked_project(dependencies=["alpha"])
    pyproject = project / "pyproject.toml"
    pyproject.write_text(pyproject.read_text().replace('"alpha"', '"alpha", "docstool"'))
    base = ["plan", "--project", project, "--root", tmp_path / "r"]
    stale = uvroot(*base, env={"UV_LOCKED": "1"})
    assert stale.exit_code == 3 and "out of date" in stale.output
    warned = uvroot(*base)
    assert warned.exit_code == 0 and "warning: " in warned.output
    frozen = uvroot(*base, env={"UV_FROZEN": "1"})
    assert frozen.exit_code == 0 and "warning" not in frozen.output
    both = uvroot(*base, "--locked", env={"UV_FROZEN": "1"})
    assert both.exit_code == 2 and "--locked cannot be used with --frozen" in both.output


def test_offline_variable_fails_before_downloading(
    make_locked_project: Callable[..., Path], index: LocalIndex, tmp_path: Path
) -> None:
    project = make_locked_project(dependencies=["gadgets"])
    index.reset()
    result = uvroot(
        "sync", "--project", project, "--root", tmp_path / "r", cache=tmp_path / "c", env={"UV_OFFLINE": "1"}
    )
    assert result.exit_code == 5, result.output
    assert index.downloads() == []
    assert not (tmp_path / "r").exists() or not list((tmp_path / "r").rglob("*.dist-info"))


def test_no_cache_variable_leaves_the_cache_alone(make_locked_project: Callable[..., Path], tmp_path: Path) -> None:
    project = make_locked_project(dependencies=["alpha"])
    result = uvroot(
        "sync", "--project", project, "--root", tmp_path / "r", cache=tmp_path / "c", env={"UV_NO_CACHE": "1"}
    )
    assert result.exit_code == 0, result.output
    assert not (tmp_path / "c").exists()
    assert list((tmp_path / "r" / SITE).glob("alpha-1.0.dist-info"))


@pytest.mark.parametrize("value", ["soon", "0", "-5"])
def test_a_bad_http_timeout_is_a_clean_error(
    make_locked_project: Callable[..., Path], tmp_path: Path, value: str
) -> None:
    project = make_locked_project(dependencies=["alpha"])
    for variable in ("UVROOT_HTTP_TIMEOUT", "UV_HTTP_TIMEOUT"):
        result = uvroot("sync", "--project", project, "--root", tmp_path / "r", env={variable: value})
        assert result.exit_code == 2, result.output
        assert f"error: {variable}={value!r} is not a number of seconds" in result.output
        assert "hint:" in result.output


def _alpha_nlink(root: Path) -> int:
    return (root / SITE / "alpha" / "__init__.py").stat().st_nlink


def test_link_mode_precedence_flag_uvroot_uv_config_default(
    make_locked_project: Callable[..., Path], tmp_path: Path
) -> None:
    project = make_locked_project(dependencies=["alpha"])
    cache = tmp_path / "cache"
    xdg = tmp_path / "xdg"
    counter = iter(range(100))

    def nlink(*flags: str, env: dict[str, str | None]) -> int:
        root = tmp_path / f"root-{next(counter)}"
        full = {**NO_CONFIG, "XDG_CONFIG_HOME": str(xdg), **env}
        result = uvroot("sync", "--project", project, "--root", root, *flags, cache=cache, env=full)  # type: ignore[arg-type]
        assert result.exit_code == 0, result.output
        return _alpha_nlink(root)

    assert nlink(env={}) > 1  # clone falls back to hard links, or shares the inode
    (xdg / "uv").mkdir(parents=True)
    (xdg / "uv" / "uv.toml").write_text('link-mode = "copy"\n')
    assert nlink(env={}) == 1  # the user's configuration
    assert nlink(env={"UV_LINK_MODE": "hardlink"}) > 1  # a variable beats it
    assert nlink(env={"UV_LINK_MODE": "hardlink", "UVROOT_LINK_MODE": "copy"}) == 1
    assert nlink("--link-mode", "hardlink", env={"UVROOT_LINK_MODE": "copy"}) > 1
    assert nlink(env={"UV_NO_CONFIG": "1"}) > 1
    assert nlink("--no-config", env={}) > 1
    # The project's [tool.uv] beats the user's uv.toml; a uv.toml beside it beats [tool.uv].
    pyproject = project / "pyproject.toml"
    pyproject.write_text(pyproject.read_text() + 'link-mode = "hardlink"\n')
    assert "[tool.uv]" in pyproject.read_text()
    assert nlink(env={}) > 1
    (project / "uv.toml").write_text('link-mode = "copy"\n')
    assert nlink(env={}) == 1
    # --config-file (UV_CONFIG_FILE) replaces every file found
    only = tmp_path / "only.toml"
    only.write_text('link-mode = "hardlink"\n')
    assert nlink("--config-file", str(only), env={}) > 1
    assert nlink(env={"UV_CONFIG_FILE": str(only)}) > 1


def test_config_no_build_and_compile_bytecode(make_locked_project: Callable[..., Path], tmp_path: Path) -> None:
    project = make_locked_project(dependencies=["sdistonly", "alpha"])
    (project / "uv.toml").write_text("no-build-package = ['sdistonly']\n")
    refused = uvroot("check", "--project", project, env=NO_CONFIG)  # type: ignore[arg-type]
    assert refused.exit_code == 4 and "--no-build forbids building it" in refused.output
    assert uvroot("check", "--project", project).exit_code == 0  # UV_NO_CONFIG=1: the file is not read
    assert uvroot("check", "--project", project, env={"UV_NO_BUILD": "1"}).exit_code == 4


def test_environments_refuse_a_target_outside_them_as_uv_does(
    make_locked_project: Callable[..., Path], index: LocalIndex, uv_cache: Path, tmp_path: Path
) -> None:
    project = make_locked_project(
        dependencies=["alpha"], tool_uv="environments = [\"sys_platform == 'linux'\", \"sys_platform == 'darwin'\"]"
    )
    assert "supported-markers" in (project / "uv.lock").read_text()
    for command in ("check", "plan"):
        args = [command, "--project", project, "--python-platform", "windows"]
        result = uvroot(*args, *(["--target", tmp_path / "t"] if command == "plan" else []))
        assert result.exit_code == 4, result.output
        assert "not compatible with the lockfile's supported environments" in result.output
    assert uvroot("check", "--project", project, "--python-platform", "macos").exit_code == 0
    with pytest.raises(Exception, match="not compatible with the lockfile's supported environments"):
        run_uv(
            ["sync", "--no-config", "--frozen", "--python-platform", "windows", "--default-index", index.url],
            cwd=project,
            cache_dir=uv_cache,
            env={"UV_PROJECT_ENVIRONMENT": str(tmp_path / "venv")},
        )


def test_conflicting_extras_are_refused_before_fetching_as_uv_does(
    make_locked_project: Callable[..., Path], index: LocalIndex, uv_cache: Path, tmp_path: Path
) -> None:
    project = make_locked_project(
        dependencies=[],
        optional={"a": ["alpha"], "b": ["alpha[fancy]", "docstool"]},
        tool_uv='conflicts = [[{ extra = "a" }, { extra = "b" }]]',
    )
    index.reset()
    result = uvroot("sync", "--project", project, "--root", tmp_path / "r", "--all-extras", cache=tmp_path / "c")
    assert result.exit_code == 2, result.output
    assert "error: Extras `a` and `b` are incompatible with the declared conflicts: {`app[a]`, `app[b]`}" in (
        result.output
    )
    assert index.downloads() == [] and not (tmp_path / "r").exists()
    with pytest.raises(Exception, match=r"Extras `a` and `b` are incompatible with the declared conflicts"):
        run_uv(
            ["sync", "--no-config", "--frozen", "--all-extras", "--default-index", index.url],
            cwd=project,
            cache_dir=uv_cache,
            env={"UV_PROJECT_ENVIRONMENT": str(tmp_path / "venv")},
        )
    assert uvroot("plan", "--project", project, "--root", tmp_path / "r", "--extra", "b").exit_code == 0


# -- credentials as uv users give them ---------------------------------------------------------

USER, SECRET = "alice", "s3cret"


@pytest.mark.parametrize("where", ["UV_INDEX", "UV_DEFAULT_INDEX", "UV_INDEX_URL", "tool.uv.index", "uv.toml"])
def test_index_userinfo_is_applied_to_the_locks_host(
    wheelhouse: Path, make_locked_project: Callable[..., Path], index: LocalIndex, tmp_path: Path, where: str
) -> None:
    # uv strips credentials from uv.lock: the lock names the host, the credentials come from elsewhere.
    from tests.support.faulty import FaultyServer, require_auth

    project = make_locked_project(dependencies=["gadgets"])
    netrc = tmp_path / "empty.netrc"
    netrc.write_text("")
    with FaultyServer(wheelhouse) as faulty:
        faulty.default("*", require_auth(USER, SECRET))
        lock = project / "uv.lock"
        lock.write_text(lock.read_text().replace(f"{index.files_url}/", faulty.url_for("")))
        private = faulty.url_for("", f"{USER}:{SECRET}").replace("/files/", "/simple")
        env: dict[str, str | None] = {"NETRC": str(netrc), "NO_PROXY": "127.0.0.1", **NO_CONFIG}
        denied = uvroot("sync", "--project", project, "--root", tmp_path / "r0", cache=tmp_path / "c0", env=env)
        assert denied.exit_code == 5 and "HTTP 401" in denied.output, denied.output
        if where == "UV_INDEX":
            env["UV_INDEX"] = f"private={private}"
        elif where in ("UV_DEFAULT_INDEX", "UV_INDEX_URL"):
            env[where] = private
        elif where == "uv.toml":
            (project / "uv.toml").write_text(f'[[index]]\nname = "private"\nurl = "{private}"\n')
        else:
            pyproject = project / "pyproject.toml"
            pyproject.write_text(pyproject.read_text() + f'\n[[tool.uv.index]]\nname = "private"\nurl = "{private}"\n')
        result = uvroot("sync", "--project", project, "--root", tmp_path / "r", cache=tmp_path / "c", env=env)  # type: ignore[arg-type]
        assert result.exit_code == 0, result.output
        assert SECRET not in result.output
        assert list((tmp_path / "r" / SITE).glob("gadgets-1.0.dist-info"))


def test_compile_bytecode_from_the_configuration(make_locked_project: Callable[..., Path], tmp_path: Path) -> None:
    project = make_locked_project(dependencies=["alpha"])
    (project / "uv.toml").write_text("compile-bytecode = true\n")
    result = uvroot("sync", "--project", project, "--root", tmp_path / "r", env=NO_CONFIG)  # type: ignore[arg-type]
    assert result.exit_code == 0, result.output
    assert list((tmp_path / "r" / SITE / "alpha" / "__pycache__").glob("*.pyc"))
    plain = uvroot("sync", "--project", project, "--root", tmp_path / "r2", "--no-config")
    assert plain.exit_code == 0 and not (tmp_path / "r2" / SITE / "alpha" / "__pycache__").exists()


def test_check_flag_exits_1_when_the_tree_is_not_in_sync(
    make_locked_project: Callable[..., Path], tmp_path: Path
) -> None:
    project = make_locked_project(dependencies=["alpha"], groups={"dev": ["devtool"]})
    root = tmp_path / "r"
    missing = uvroot("sync", "--project", project, "--root", root, "--check")
    assert missing.exit_code == 1 and "is not in sync with uv.lock" in missing.output, missing.output
    assert not root.exists()  # --check writes nothing
    assert uvroot("sync", "--project", project, "--root", root).exit_code == 0
    assert uvroot("sync", "--project", project, "--root", root, "--check").exit_code == 0
    before = sorted(p.name for p in (root / SITE).iterdir())
    stale = uvroot("sync", "--project", project, "--root", root, "--check", env={"UV_NO_DEV": "1"})
    assert stale.exit_code == 1 and "1 to remove" in stale.output, stale.output
    assert sorted(p.name for p in (root / SITE).iterdir()) == before


def test_no_binary_and_no_build_as_uv(make_locked_project: Callable[..., Path], tmp_path: Path) -> None:
    project = make_locked_project(dependencies=["alpha", "sdistonly"])
    base = ["plan", "--project", project, "--root", tmp_path / "r"]
    no_sdist = uvroot(*base, "--no-binary-package", "alpha")
    assert no_sdist.exit_code == 4 and "alpha==1.0 has no sdist, and --no-binary forbids its wheels" in no_sdist.output
    assert uvroot(*base, env={"UV_NO_BINARY_PACKAGE": "alpha"}).exit_code == 4
    no_build = uvroot(*base, "--no-build-package", "sdistonly")
    assert no_build.exit_code == 4 and "--no-build forbids building it" in no_build.output
    assert uvroot(*base, "--no-build-package", "alpha").exit_code == 0  # alpha has a wheel
