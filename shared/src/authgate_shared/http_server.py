"""uvicorn's httptools protocol with a cap on the request head, for both services.

httptools is uvicorn's fast HTTP/1.1 parser, but it buffers a request line and header block of
any size: an endless header grows a worker's memory without bound. h11 caps the head (16 KiB)
but costs the issuer about a third of its throughput on small requests. This protocol counts
the bytes of each request head while it arrives (after the blank line that ended the
previous message, RFC 9112 §2.1; bodies are not counted) and, past ``MAX_HEAD_BYTES``,
answers 431 (RFC 6585 §5) and closes the connection. Each read is counted after the parser
has taken it, so a head may exceed the cap by at most one read (bounded by the transport),
which is what matters: memory stays bounded.

Used as ``uvicorn.run(..., http=PROTOCOL)`` (a string, so spawned workers import it).

Importing this module also replaces the two regular expressions uvicorn checks every response
header name and value with (``HEADER_RE``, ``HEADER_VALUE_RE``) by ``RememberingCheck``s with
the same verdict for every input (derived from the expressions themselves and tested against
them): the regex scans ~2.6 ns per byte, and the verifier forwards the ~1 KB JWT as
``X-Auth-Token`` on every 200, so the value check alone was ~10% of a cached /verify. It also
makes uvicorn's request/response cycle ``response_head.PreparedCycle``, which writes a header
block the app prepared once (and is uvicorn's own cycle for everything else).
"""

from __future__ import annotations

import re
from collections.abc import Callable

from uvicorn.protocols.http import httptools_impl
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from . import response_head

MAX_HEAD_BYTES = 16 * 1024  # h11's default, and more than any client here sends
# How long a connection with no request in progress stays open once shutdown begins.
SHUTDOWN_GRACE_SECONDS = 0.25
PROTOCOL = "authgate_shared.http_server:CappedHttpToolsProtocol"
_MESSAGE = b"request header block is too large"
_TOO_LARGE = (
    b"HTTP/1.1 431 Request Header Fields Too Large\r\n"
    b"content-type: text/plain; charset=utf-8\r\n"
    b"content-length: %d\r\n"
    b"connection: close\r\n\r\n%s" % (len(_MESSAGE), _MESSAGE)
)


class CappedHttpToolsProtocol(HttpToolsProtocol):
    _head_bytes = 0
    _refused = False
    _draining = False

    def shutdown(self) -> None:
        """Graceful shutdown. uvicorn closes a connection with no request in progress at once,
        but on a connection accepted a moment ago the request may already be in the socket's
        buffer, unread, and closing a socket with unread data sends a reset (RFC 9293 §3.6.1):
        the client sees its request fail, not a refused connection it could retry elsewhere.
        So such a connection gets ``SHUTDOWN_GRACE_SECONDS``: a request arriving in that time
        is answered with ``Connection: close`` (RFC 9112 §9.6), an idle one is closed after."""
        if self.cycle is not None and not self.cycle.response_complete:
            super().shutdown()
            return
        self._draining = True
        self.loop.call_later(SHUTDOWN_GRACE_SECONDS, self._close_if_idle)

    def _close_if_idle(self) -> None:
        if self.cycle is None or self.cycle.response_complete:
            self.transport.close()

    def data_received(self, data: bytes) -> None:
        if self._refused:
            return
        super().data_received(data)
        if self._draining and self.cycle is not None:
            self.cycle.keep_alive = False
        # uvicorn sets scope["method"] once a head is complete (on_headers_complete), so a
        # scope without it after this read means a head is still arriving. Only this override
        # runs per read: overriding the parser callbacks as well cost ~5% of a small request.
        scope = self.scope
        if scope is None or "method" in scope:
            self._head_bytes = 0
            return
        end = data.rfind(b"\r\n\r\n")
        self._head_bytes += len(data) if end < 0 else len(data) - end - 4
        if self._head_bytes > MAX_HEAD_BYTES:
            self._refused = True
            self.transport.write(_TOO_LARGE)
            self.transport.close()


class _Verdicts(dict[bytes, "bytes | None"]):
    """Values found clean (each mapped to None); a miss works out the verdict in ``__missing__``
    and remembers only a clean value, so a dirty one is checked again every time."""

    def __init__(self, allowed: bytes, limit: int) -> None:
        super().__init__()
        self._allowed = allowed
        self._limit = limit

    def __missing__(self, value: bytes) -> bytes | None:
        forbidden = value.translate(None, self._allowed)
        if forbidden:
            return forbidden
        if len(self) >= self._limit:
            self.clear()
        self[value] = None
        return None


class RememberingCheck:
    """Drop-in for one of uvicorn's header regular expressions (each is a single character
    class): ``search(value)`` returns the offending bytes (truthy) exactly when the expression
    would match, found with ``bytes.translate`` over the bytes the expression allows, and
    remembers values found clean (bytes are immutable and cache their hash). ``search`` is the
    memo's own ``__getitem__``, so a remembered value (every header of a cached /verify answer)
    costs one C-level dict lookup and no Python frame; uvicorn calls it twice per header.
    Bounded: the verifier repeats its header values for every request with the same token,
    but the issuer's request ids never repeat.
    """

    MAX_REMEMBERED = 1024

    def __init__(self, replaced: re.Pattern[bytes]) -> None:
        self.replaced = replaced
        allowed = bytes(b for b in range(256) if not replaced.search(bytes([b])))
        self._clean = _Verdicts(allowed, self.MAX_REMEMBERED)
        self.search: Callable[[bytes], bytes | None] = self._clean.__getitem__


def _install() -> None:
    # Responses whose header block the app prepared once (response_head) are written as is.
    if httptools_impl.RequestResponseCycle is response_head.UVICORN_CYCLE:
        httptools_impl.RequestResponseCycle = response_head.PreparedCycle  # type: ignore[misc]
    # Header names and values of every response (RFC 9110 §5.1, §5.5); a regex scans ~2.6 ns
    # per byte, ~2.3 µs for the 1 KB X-Auth-Token of every 200 of the verifier.
    for name in ("HEADER_RE", "HEADER_VALUE_RE"):
        current = getattr(httptools_impl, name)
        if isinstance(current, re.Pattern):
            setattr(httptools_impl, name, RememberingCheck(current))


_install()
