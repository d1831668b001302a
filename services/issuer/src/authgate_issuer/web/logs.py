"""Logging set-up: one JSON object per line in production, readable text for ``make run``.

Security events are logged through ``event()`` with explicit fields; no code path logs request
bodies, headers or tokens. Every JSON line carries ``request_id`` (null outside a request), set by
the request_id middleware through a context variable, so all lines of one request can be joined.
"""

from __future__ import annotations

import logging
import sys
import time
from contextvars import ContextVar
from typing import Any

import orjson

LOGGER = logging.getLogger("authgate.issuer")
# Set per request by request_id.RequestId; a ContextVar follows the request into every await
# and into FastAPI's thread pool, and concurrent requests never see each other's id.
REQUEST_ID: ContextVar[str | None] = ContextVar("authgate_request_id", default=None)


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": REQUEST_ID.get(),
        }
        fields = getattr(record, "fields", None)
        if isinstance(fields, dict):
            entry.update(fields)
        if record.exc_info and record.exc_info[0] is not None:
            entry["exception"] = record.exc_info[0].__name__
        return orjson.dumps(entry, default=str).decode()


class TextFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        fields = getattr(record, "fields", None)
        extra = ""
        if isinstance(fields, dict):
            extra = " " + " ".join(f"{k}={v}" for k, v in fields.items())
        request_id = REQUEST_ID.get()
        if request_id is not None:
            extra += f" request_id={request_id}"
        stamp = time.strftime("%H:%M:%S", time.localtime(record.created))
        return f"{stamp} {record.levelname:<7} {record.name}: {record.getMessage()}{extra}"


def configure(fmt: str, level: str) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    root = logging.getLogger("authgate")
    root.handlers[:] = [handler]
    root.setLevel(level)
    root.propagate = False


def event(name: str, **fields: Any) -> None:
    """A security event (registration, consent, login, token issued/revoked, ...)."""
    LOGGER.info(name, extra={"fields": {"event": name, **fields}})
