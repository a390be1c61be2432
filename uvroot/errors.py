"""One exception hierarchy: every error the user can act on, with its exit code.

Each error carries a one-line ``message`` (what failed, naming the file, package,
flag or URL) and an optional ``hint`` (what to do next).  The CLI prints both and
exits with ``exit_code``; anything else that escapes is a bug and keeps its
traceback.
"""

from __future__ import annotations

import re
from typing import ClassVar


class UvrootError(Exception):
    """Base of every error uvroot expects; the CLI maps it to an exit code."""

    exit_code: ClassVar[int] = 1

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message if self.hint is None else f"{self.message} ({self.hint})"


class UsageError(UvrootError):
    """Flags that cannot go together, or a flag value that makes no sense."""

    exit_code = 2


class InputError(UvrootError):
    """pyproject.toml, uv.lock or the target description is wrong."""

    exit_code = 3


class ProjectError(InputError):
    """pyproject.toml is missing or malformed."""


class LockError(InputError):
    """uv.lock is missing, malformed or of an unsupported version."""


class TargetError(InputError):
    """--python-version or --python-platform is not understood."""


class PlanError(UvrootError):
    """The lock cannot be staged for this target."""

    exit_code = 4


class NoCompatibleWheel(PlanError):
    """No locked wheel of a package fits the target."""


class StaleLock(InputError):
    """``--locked``: uv.lock no longer matches pyproject.toml."""


class BuildError(UvrootError):
    """A package could not be built from source, or its wheel does not fit the target."""

    exit_code = 7


class FetchError(UvrootError):
    """A wheel could not be downloaded or read from the cache."""

    exit_code = 5


class HashMismatch(FetchError):
    """A downloaded wheel does not match the hash in uv.lock."""


class InstallError(UvrootError):
    """A wheel could not be spread into the layout."""

    exit_code = 6


class FileConflict(InstallError):
    """A file that uvroot would write already exists and is not uvroot's."""


# Query parameters that carry credentials: tokens, presigned URLs' signatures (X-Amz-*, sig=...), keys.
_SECRET_PARAMETER = re.compile(
    r"(?i)(^|[?&;])((?:[\w.-]*(?:token|secret|passw|signature|credential|auth|apikey|api_key|key)[\w.-]*|sig"
    r"|x-amz-[\w-]+|x-goog-[\w-]+)=)[^&;#]*"
)


def redact(url: str) -> str:
    """``url`` without userinfo or credential-like query values: secrets never reach output, logs or errors."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        return url
    host, slash, path = rest.partition("/")
    if "@" in host:
        host = "****@" + host.rsplit("@", 1)[1]
    if "?" in path:
        before, _, query = path.partition("?")
        path = before + "?" + _SECRET_PARAMETER.sub(r"\1\2****", query)
    return f"{scheme}://{host}{slash}{path}"
