"""Logging set-up: one JSON object per line in production (``authgate_shared.logs``), readable
text for ``make run``.

Security events are logged through ``event()`` with explicit fields; no code path logs request
bodies, headers or tokens. Every JSON line carries ``request_id`` (null outside a request), set by
the request_id middleware through a context variable, so all lines of one request can be joined.
"""

from __future__ import annotations

import logging
import time
from contextvars import ContextVar
from typing import Any

from authgate_shared.logs import JsonFormatter, install

LOGGER = logging.getLogger("authgate.issuer")
# Set per request by request_id.RequestId; a ContextVar follows the request into every await
# and into FastAPI's thread pool, and concurrent requests never see each other's id.
REQUEST_ID: ContextVar[str | None] = ContextVar("authgate_request_id", default=None)


def _request_context() -> dict[str, str | None]:
    return {"request_id": REQUEST_ID.get()}


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
    formatter = JsonFormatter(_request_context) if fmt == "json" else TextFormatter()
    install(formatter, level)


def event(name: str, **fields: Any) -> None:
    """A security event (registration, consent, login, token issued/revoked, ...)."""
    LOGGER.info(name, extra={"fields": {"event": name, **fields}})
