"""Read a TOML file into a dict, turning every failure into the caller's error class."""

from __future__ import annotations

import contextlib
import hashlib
import json
import re
import shutil
import sys
import zlib
from pathlib import Path
from typing import Any

from .errors import InputError, UvrootError

_BUCKET = "toml-v2"  # toml-v1 could hold credentials: it is deleted
# scheme://userinfo@host: an "@" before the end of the authority.
_USERINFO = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://[^/?#]*@")

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on 3.10 only
    import tomli as tomllib


def read_toml(path: Path, error: type[InputError], hint: str, cache_dir: Path | None = None) -> dict[str, Any]:
    """Parse ``path``; a missing or malformed file raises ``error`` naming it.

    With ``cache_dir``, the parsed table is kept as JSON keyed by the file's
    sha256: a large uv.lock parses ten times faster from JSON than from TOML,
    which is most of a no-op sync.  A table holding credentials (userinfo in any
    URL, however the TOML spells it) is never written there.
    """
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise error(f"{path} does not exist", hint=hint) from None
    except OSError as exc:
        raise error(f"cannot read {path}: {exc}", hint=hint) from None
    cached = cache_dir / _BUCKET / f"{hashlib.sha256(data).hexdigest()}.json" if cache_dir else None
    if cached is not None and (hit := _load(cached)) is not None:
        return hit
    table = _parse(path, data, error, hint)
    if cached is not None and not _has_credentials(table):
        _store(cached, table)
    return table


def _has_credentials(table: dict[str, Any]) -> bool:
    """Whether any string in the parsed table is a URL with userinfo (``scheme://user:secret@host``)."""
    pending: list[object] = [table]
    while pending:  # not recursive: a deeply nested table must not overflow the stack
        value = pending.pop()
        if isinstance(value, str) and _USERINFO.search(value):
            return True
        if isinstance(value, dict):
            pending.extend(value.values())
        elif isinstance(value, list):
            pending.extend(value)
    return False


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


def inflate(data: bytes, limit: int = 1 << 27) -> bytes:
    """``data`` decompressed (zlib), refusing with ValueError a damaged stream or one that grows past ``limit``.

    For what uvroot compressed into its cache: a damaged or planted file there must not fill the memory.
    """
    inflater = zlib.decompressobj()
    try:
        out = inflater.decompress(data, limit)
    except zlib.error as exc:
        raise ValueError(f"not a zlib stream: {exc}") from None
    if inflater.unconsumed_tail or not inflater.eof:
        raise ValueError("a zlib stream cut short or larger than expected")
    return out


def _load(cached: Path) -> dict[str, Any] | None:
    """The stored table if its checksum (the first line) still matches, else None: parse again."""
    try:
        digest, _, text = cached.read_bytes().partition(b"\n")
        if hashlib.sha256(text).hexdigest().encode() == digest:
            return dict(json.loads(text if text.startswith(b"{") else inflate(text)))  # "{": an older uvroot's
    except (OSError, ValueError, TypeError, RecursionError):
        pass
    return None


def _store(cached: Path, table: dict[str, Any]) -> None:
    # Best effort: TOML dates have no JSON form, and a read-only cache is fine.  The
    # temporary file is one of the cache's locked temporary entries (cleaned if killed).
    from .cache import WheelCache

    cache = WheelCache(cached.parent.parent)
    with contextlib.suppress(OSError, TypeError, ValueError, RecursionError, UvrootError):
        text = zlib.compress(json.dumps(table).encode(), 1)  # a third of the lock's size; inflated in ms
        cached.parent.mkdir(parents=True, exist_ok=True)
        with cache.temporary(prefix="toml-", suffix=".part") as (temporary, _):
            temporary.write_bytes(hashlib.sha256(text).hexdigest().encode() + b"\n" + text)
            temporary.replace(cached)
        if (old := cached.parent.parent / "toml-v1").is_dir():  # an older uvroot's: may hold credentials
            shutil.rmtree(old, ignore_errors=True)
