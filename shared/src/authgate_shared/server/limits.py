"""How long a connection may take to send a request head, and to stay idle between requests.

Both services read these the same way (``http_limits_from_env``) into their settings; the
server gets them through ``http_server.serve``. Without a head timeout a client can hold a
connection (and a worker's file descriptor) open for ever by sending a head a byte at a time
(slowloris); the timeout ends such a connection with 408 (RFC 9110 §15.5.9).
"""

from __future__ import annotations

from dataclasses import dataclass

from ..config import EnvReader

DEFAULT_REQUEST_HEAD_TIMEOUT = 10
DEFAULT_KEEP_ALIVE_TIMEOUT = 5  # uvicorn's own default
MAX_TIMEOUT = 300


@dataclass(frozen=True)
class HttpLimits:
    request_head_timeout: int = DEFAULT_REQUEST_HEAD_TIMEOUT
    """Seconds from the first byte of a request head (or from the connection's start) until
    the whole head must have arrived."""
    keep_alive_timeout: int = DEFAULT_KEEP_ALIVE_TIMEOUT
    """Seconds an idle persistent connection stays open after a response (RFC 9112 §9.3)."""


def http_limits_from_env(env: EnvReader) -> HttpLimits:
    return HttpLimits(
        request_head_timeout=env.integer(
            "REQUEST_HEAD_TIMEOUT", DEFAULT_REQUEST_HEAD_TIMEOUT, minimum=1, maximum=MAX_TIMEOUT
        ),
        keep_alive_timeout=env.integer(
            "KEEP_ALIVE_TIMEOUT", DEFAULT_KEEP_ALIVE_TIMEOUT, minimum=1, maximum=MAX_TIMEOUT
        ),
    )
