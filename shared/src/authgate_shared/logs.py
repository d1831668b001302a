"""The JSON log line both services write, and the handler both install on the ``authgate`` logger.

One JSON object per line: ``ts`` (UTC, milliseconds), ``level``, ``logger``, ``message``, then
what the service adds to every line (``context``: the issuer's ``request_id``), then the
record's structured fields (``extra={"fields": {...}}``: the issuer's security events, the
verifier's decision and start-up lines), then ``exception`` (the class name only) when the record
carries one. Nothing else: no code path logs tokens, request bodies or headers.
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Callable, Mapping
from typing import Any

import orjson


class JsonFormatter(logging.Formatter):
    def __init__(self, context: Callable[[], Mapping[str, object]] | None = None) -> None:
        super().__init__()
        self.context = context

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        if self.context is not None:
            entry.update(self.context())
        fields = getattr(record, "fields", None)
        if isinstance(fields, dict):
            entry.update(fields)
        if record.exc_info and record.exc_info[0] is not None:
            entry["exception"] = record.exc_info[0].__name__
        return orjson.dumps(entry, default=str).decode()


def install(formatter: logging.Formatter, level: str) -> None:
    """Every ``authgate.*`` logger writes to stderr through ``formatter``, at ``level``."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(formatter)
    root = logging.getLogger("authgate")
    root.handlers[:] = [handler]
    root.setLevel(level)
    root.propagate = False
