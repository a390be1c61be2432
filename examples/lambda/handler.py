"""An AWS Lambda handler using the hello app's locked dependencies (markupsafe's compiled speedups).

Lambda unzips the bundle into /var/task and puts it first on sys.path, so the
packages uvroot staged with ``--target`` import with no virtual environment.
"""

from __future__ import annotations

from importlib import metadata
from typing import Any

import markupsafe
from markupsafe import _speedups  # the compiled extension: fails at import if the wrong wheel was staged


def handler(event: dict[str, Any], context: object) -> dict[str, Any]:
    """Greet ``event["name"]``, HTML-escaped."""
    name = str(event.get("name", "lambda"))
    return {
        "statusCode": 200,
        "headers": {"content-type": "text/html; charset=utf-8"},
        "body": str(markupsafe.escape(f"<hello {name}>")),
        "markupsafe": metadata.version("markupsafe"),
        "speedups": _speedups.__file__,
    }
