"""Read a TOML file into a dict, turning every failure into the caller's error class."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import sys
from pathlib import Path
from typing import Any

from .errors import InputError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on 3.10 only
    import tomli as tomllib


def read_toml(path: Path, error: type[InputError], hint: str, cache_dir: Path | None = None) -> dict[str, Any]:
    """Parse ``path``; a missing or malformed file raises ``error`` naming it.

    With ``cache_dir``, the parsed table is kept as JSON keyed by the file's
    sha256: a large uv.lock parses ten times faster from JSON than from TOML,
    which is most of a no-op sync.
    """
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise error(f"{path} does not exist", hint=hint) from None
    except OSError as exc:
        raise error(f"cannot read {path}: {exc}", hint=hint) from None
    # A lock whose URLs carry credentials is not copied into the cache (often a shared mount).
    cacheable = cache_dir is not None and not re.search(rb"://[^/\s\"']+@", data)
    cached = cache_dir / "toml-v1" / f"{hashlib.sha256(data).hexdigest()}.json" if cache_dir and cacheable else None
    if cached is not None and cached.is_file():
        with contextlib.suppress(OSError, ValueError):
            return dict(json.loads(cached.read_bytes()))
    table = _parse(path, data, error, hint)
    if cached is not None:
        _store(cached, table)
    return table


def _parse(path: Path, data: bytes, error: type[InputError], hint: str) -> dict[str, Any]:
    try:
        return tomllib.loads(data.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise error(f"cannot read {path}: {exc}", hint=hint) from None
    except tomllib.TOMLDecodeError as exc:
        # The decoder's message already carries "(at line L, column C)".
        raise error(f"{path} is not valid TOML: {exc}", hint=hint) from None
    except RecursionError:
        raise error(f"{path} is nested too deeply to read (arrays or tables inside each other)", hint=hint) from None


def _store(cached: Path, table: dict[str, Any]) -> None:
    # Best effort: TOML dates have no JSON form, and a read-only cache is fine.
    with contextlib.suppress(OSError, TypeError, ValueError):
        cached.parent.mkdir(parents=True, exist_ok=True)
        temporary = cached.with_suffix(f".{os.getpid()}.tmp")
        temporary.write_text(json.dumps(table), encoding="utf-8")
        temporary.replace(cached)
