"""Response header blocks checked and rendered once, then written as they are.

uvicorn checks, lower-cases and joins every header of every response (``send`` in
``httptools_impl``): ~0.3 µs a header here, while the verifier's answer for a given token is
the same six headers on every request. ``prepare_head`` does that work once, with uvicorn's own
checks, and the app puts the result in its ``http.response.start`` message under
``PREPARED_KEY`` beside the ordinary ``headers`` (ASGI servers ignore keys they do not know,
so the message means the same anywhere). ``PreparedCycle``, which ``protocol`` installs as
uvicorn's request/response cycle, writes a prepared block directly when the response is an
ordinary keep-alive one (logging the access line as uvicorn would, when on); in every other
case, and for every other message, it is uvicorn's own ``send``. Only a ``PreparedHead`` is
written as it is, and only ``prepare_head`` makes one.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from uvicorn.protocols.http import httptools_impl
from uvicorn.protocols.utils import get_client_addr, get_path_with_query_string

PREPARED_KEY = "authgate.prepared_head"
# Headers that change how uvicorn frames the response; a prepared head never carries them.
_FRAMING = frozenset({b"transfer-encoding", b"connection"})
UVICORN_CYCLE = httptools_impl.RequestResponseCycle


class PreparedHead:
    __slots__ = ("block", "content_length")

    def __init__(self, block: bytes, content_length: int, _token: object) -> None:
        if _token is not _MADE_HERE:
            raise TypeError("use prepare_head()")
        self.block = block
        self.content_length = content_length


_MADE_HERE = object()


def _check(name: bytes, value: bytes) -> None:
    # uvicorn's checks (RFC 9110 §5.1 token names, §5.5 field values without CR/LF/NUL).
    if httptools_impl.HEADER_RE.search(name):
        raise ValueError(f"invalid header name {name!r}")
    if httptools_impl.HEADER_VALUE_RE.search(value):
        raise ValueError(f"invalid value for header {name!r}")


def prepare_head(headers: Iterable[tuple[bytes, bytes]]) -> PreparedHead:
    """The header lines of a response with a Content-Length, checked as uvicorn checks them."""
    lines: list[bytes] = []
    length: int | None = None
    for name, value in headers:
        _check(name, value)
        name = name.lower()
        if name in _FRAMING:
            raise ValueError(f"a prepared head cannot carry {name.decode()}")
        if name == b"content-length":
            if length is not None:
                raise ValueError("a prepared head carries one content-length")
            length = int(value.decode())
        lines.append(b"%s: %s\r\n" % (name, value))
    if length is None:
        raise ValueError("a prepared head needs a content-length")
    return PreparedHead(b"".join(lines), length, _MADE_HERE)


class _Defaults:
    """uvicorn's default headers (Date, and Server when on) rendered once per list: uvicorn
    replaces the list once a second, so the identity of the list is the cache key. One tuple,
    so a reader never pairs one list with another's block."""

    last: tuple[object, bytes] = (None, b"")

    @classmethod
    def render(cls, headers: list[tuple[bytes, bytes]]) -> bytes:
        source, block = cls.last
        if headers is not source:
            for name, value in headers:
                _check(name, value)
            block = b"".join(b"%s: %s\r\n" % (n.lower(), v) for n, v in headers)
            cls.last = (headers, block)
        return block


class PreparedCycle(UVICORN_CYCLE):
    async def send(self, message: Any) -> None:
        head = message.get(PREPARED_KEY)
        if (
            type(head) is not PreparedHead
            or self.response_started
            or message["type"] != "http.response.start"
            # uvicorn's own send waits for a paused transport and adds "connection: close".
            or self.flow.write_paused
            or self.disconnected
            or not self.keep_alive
        ):
            await super().send(message)
            return
        scope = self.scope
        if self.access_log:  # the line uvicorn's send logs
            self.access_logger.info(
                '%s - "%s %s HTTP/%s" %d',
                get_client_addr(scope),
                scope["method"],
                get_path_with_query_string(scope),
                scope["http_version"],
                message["status"],
            )
        self.response_started = True
        self.waiting_for_100_continue = False
        self.chunked_encoding = False
        self.expected_content_length = head.content_length
        defaults = _Defaults.render(self.default_headers)
        status = httptools_impl.STATUS_LINE[message["status"]]
        self.transport.write(b"".join((status, defaults, head.block, b"\r\n")))
