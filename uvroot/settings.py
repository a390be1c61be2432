"""uv's environment variables and configuration files, read with uv's meaning.

Precedence, for every setting uvroot shares with ``uv sync``: the command-line flag, then
``UVROOT_<NAME>``, then uv's ``UV_<NAME>``, then the configuration files, then the default.
The files are found as uv finds them (docs: concepts/configuration-files): the project's
``uv.toml``, else the ``[tool.uv]`` table of its ``pyproject.toml``, searched from the
workspace root upwards; then the user's ``$XDG_CONFIG_HOME/uv/uv.toml`` (``~/.config/uv``);
then the system's ``$XDG_CONFIG_DIRS/uv/uv.toml`` or ``/etc/uv/uv.toml``; the nearer file wins
for a single value and comes first in a merged array.  ``--no-config`` (``UV_NO_CONFIG``)
reads none of them; ``--config-file`` (``UV_CONFIG_FILE``) reads only that ``uv.toml``.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import unquote, urlsplit

from ._toml import read_toml
from .errors import ProjectError, UsageError

T = TypeVar("T")
_TRUE = {"1", "true", "yes", "on", "y", "t"}
_FALSE = {"0", "false", "no", "off", "n", "f"}
Credentials = dict[str, tuple[str, str]]


def env_names(name: str) -> list[str]:
    """``UVROOT_<NAME>`` then ``UV_<NAME>``: the variables a setting is read from, in precedence order."""
    return [f"UVROOT_{name}", f"UV_{name}"]


def env_value(name: str) -> tuple[str, str] | None:
    """(variable, value) of the first non-empty of ``UVROOT_<NAME>`` and ``UV_<NAME>``."""
    for variable in env_names(name):
        if value := os.environ.get(variable):
            return variable, value
    return None


def env_bool(name: str) -> bool | None:
    """``UVROOT_<NAME>`` / ``UV_<NAME>`` as uv reads a boolean variable (1/true/yes/on, 0/false/no/off)."""
    found = env_value(name)
    if found is None:
        return None
    variable, value = found
    if value.strip().lower() in _TRUE:
        return True
    if value.strip().lower() in _FALSE:
        return False
    raise UsageError(f"{variable}={value!r} is not a boolean", hint=f"set {variable} to 1 or 0 (true or false)")


def env_list(name: str) -> tuple[str, ...]:
    """A space-separated list variable (``UV_NO_GROUP``, ``UV_NO_BINARY_PACKAGE``...)."""
    found = env_value(name)
    return tuple(found[1].split()) if found else ()


def env_seconds(name: str, default: float) -> float:
    """A positive number of seconds (``UVROOT_HTTP_TIMEOUT``, ``UV_HTTP_TIMEOUT``)."""
    found = env_value(name)
    if found is None:
        return default
    variable, value = found
    try:
        seconds = float(value)
    except ValueError:
        seconds = -1.0
    if not seconds > 0 or seconds == float("inf"):
        raise UsageError(f"{variable}={value!r} is not a number of seconds", hint=f"set {variable} to e.g. 30")
    return seconds


@dataclass(frozen=True)
class Config:
    """The merged configuration files (uv.toml format: the keys of ``[tool.uv]``)."""

    values: Mapping[str, Any] = field(default_factory=dict)
    files: tuple[Path, ...] = ()

    def get(self, key: str, kind: type[T]) -> T | None:
        """The value of ``key``, checked to be a ``kind``."""
        value = self.values.get(key)
        if value is not None and (not isinstance(value, kind) or (kind is int and isinstance(value, bool))):
            where = ", ".join(map(str, self.files)) or "the configuration"
            raise ProjectError(
                f"{where}: {key} must be a {kind.__name__}", hint="fix the setting (see uv's settings reference)"
            )
        return value

    def names(self, key: str) -> tuple[str, ...]:
        """A list of package names (``no-binary-package``...)."""
        value = self.get(key, list) or []
        return tuple(str(item) for item in value)


def load_config(root: Path, *, no_config: bool = False, config_file: Path | None = None) -> Config:
    """The configuration uv would read for the project at ``root`` (the workspace root)."""
    if config_file is not None:
        if not config_file.is_file():
            raise UsageError(f"--config-file {config_file} does not exist", hint="name an existing uv.toml")
        return Config(_read(config_file), (config_file,))
    if no_config:
        return Config()
    found: list[tuple[Path, dict[str, Any]]] = []
    project = _project_config(root)
    if project is not None:
        found.append(project)
    for path in (_user_file(), _system_file()):
        if path is not None and path.is_file():
            found.append((path, _read(path)))
    merged: dict[str, Any] = {}
    for _, values in reversed(found):  # the farthest first: nearer files override, and their arrays come first
        for key, value in values.items():
            old = merged.get(key)
            merged[key] = [*value, *old] if isinstance(value, list) and isinstance(old, list) else value
    return Config(merged, tuple(path for path, _ in found))


def _project_config(root: Path) -> tuple[Path, dict[str, Any]] | None:
    for directory in (root, *root.parents):
        if (directory / "uv.toml").is_file():
            return directory / "uv.toml", _read(directory / "uv.toml")
        pyproject = directory / "pyproject.toml"
        if pyproject.is_file() and (values := _tool_uv(pyproject)) is not None:
            return pyproject, values
    return None


_HINT = "fix the file, or pass --no-config to ignore configuration files"


def _read(path: Path) -> dict[str, Any]:
    return read_toml(path, ProjectError, hint=_HINT)


def _tool_uv(path: Path) -> dict[str, Any] | None:
    """The ``[tool.uv]`` table of a pyproject.toml; None without one (uv keeps searching upwards)."""
    tool = _read(path).get("tool", {})
    values = tool.get("uv") if isinstance(tool, dict) else None
    if values is not None and not isinstance(values, dict):
        raise ProjectError(f"{path}: tool.uv must be a table", hint=_HINT)
    return values


def _user_file() -> Path | None:
    base = os.environ.get("XDG_CONFIG_HOME") or (str(Path.home() / ".config") if Path.home() else None)
    return Path(base) / "uv" / "uv.toml" if base else None


def _system_file() -> Path | None:
    for directory in (os.environ.get("XDG_CONFIG_DIRS") or "").split(":"):
        if directory and (Path(directory) / "uv" / "uv.toml").is_file():
            return Path(directory) / "uv" / "uv.toml"
    return Path("/etc/uv/uv.toml")


# -- credentials -------------------------------------------------------------------------


def url_credentials(urls: Iterable[str]) -> Credentials:
    """Userinfo of index URLs, by host: uv strips it from uv.lock, so the lock's URLs need it back."""
    found: Credentials = {}
    for url in urls:
        parts = urlsplit(url.strip())
        if parts.username is None and parts.password is None:
            continue
        host = parts.netloc.rsplit("@", 1)[-1]
        found.setdefault(host, (unquote(parts.username or ""), unquote(parts.password or "")))
    return found


def index_urls(config: Config, indexes: Iterable[tuple[str, str]]) -> tuple[list[str], list[tuple[str, str]]]:
    """Every index URL uv would know for this project, and the named ones.

    From ``UV_INDEX`` (``[name=]url``, space-separated), ``UV_DEFAULT_INDEX``, ``UV_INDEX_URL``,
    ``UV_EXTRA_INDEX_URL``, the configuration's ``index``/``index-url``/``extra-index-url`` and
    the project's ``[[tool.uv.index]]``.
    """
    urls: list[str] = []
    named = list(indexes)
    for entry in env_list("INDEX") + env_list("EXTRA_INDEX_URL"):
        name, sep, url = entry.partition("=")
        if sep and "://" not in name:
            named.append((name, url))
            urls.append(url)
        else:
            urls.append(entry)
    urls += [found[1] for name in ("DEFAULT_INDEX", "INDEX_URL") if (found := env_value(name))]
    for entry in config.get("index", list) or []:
        if isinstance(entry, dict) and isinstance(entry.get("url"), str):
            urls.append(entry["url"])
            if isinstance(entry.get("name"), str):
                named.append((entry["name"], entry["url"]))
    urls += [url for url in [config.get("index-url", str)] if url]
    urls += [url for url in config.get("extra-index-url", list) or [] if isinstance(url, str)]
    urls += [url for _, url in indexes]
    return urls, named


def named_credentials(indexes: Iterable[tuple[str, str]]) -> Credentials:
    """``UV_INDEX_<NAME>_USERNAME`` / ``_PASSWORD`` for named indexes, by host (uv's spelling of NAME)."""
    found: Credentials = {}
    for name, url in indexes:
        variable = "UV_INDEX_" + re.sub(r"[^A-Z0-9]", "_", name.upper())
        username, password = os.environ.get(f"{variable}_USERNAME"), os.environ.get(f"{variable}_PASSWORD")
        if username or password:
            found[urlsplit(url).netloc.rsplit("@", 1)[-1]] = (username or "", password or "")
    return found
