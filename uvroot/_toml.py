"""Read a TOML file into a dict, turning every failure into the caller's error class."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from .errors import InputError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on 3.10 only
    import tomli as tomllib


def read_toml(path: Path, error: type[InputError], hint: str) -> dict[str, Any]:
    """Parse ``path``; a missing or malformed file raises ``error`` naming it."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise error(f"{path} does not exist", hint=hint) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise error(f"cannot read {path}: {exc}", hint=hint) from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        # The decoder's message already carries "(at line L, column C)".
        raise error(f"{path} is not valid TOML: {exc}", hint=hint) from None
