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

Importing this module also replaces the regular expression uvicorn checks every response
header value with (``HEADER_VALUE_RE``: no control character but tab, RFC 9110 §5.5) by a
``bytes.translate`` check with the same verdict for every input (tested byte by byte): the
regex scans ~2.6 ns per byte, and the verifier forwards the ~1 KB JWT as ``X-Auth-Token`` on
every 200, so the check alone was ~10% of a cached /verify.
"""

from __future__ import annotations

from uvicorn.protocols.http import httptools_impl
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

MAX_HEAD_BYTES = 16 * 1024  # h11's default, and more than any client here sends
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

    def data_received(self, data: bytes) -> None:
        if self._refused:
            return
        super().data_received(data)
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


# Bytes a header value may hold: tab, visible ASCII and space, obs-text (0x80-0xFF).
_ALLOWED_IN_VALUE = b"\t" + bytes(range(0x20, 0x7F)) + bytes(range(0x80, 0x100))


_CLEAN_VALUES: set[bytes] = set()
# Bounded: values repeat (the verifier sends the same header values for every request with the
# same token), but an issuer's request ids never do.
MAX_CLEAN_VALUES = 1024


class HeaderValueCheck:
    """``search(value)``: the forbidden bytes of ``value`` (truthy), or None when it is clean.

    Values found clean are remembered (bytes are immutable, and a bytes object caches its
    hash), so the same value sent again costs a set lookup.
    """

    @staticmethod
    def search(value: bytes) -> bytes | None:
        if value in _CLEAN_VALUES:
            return None
        forbidden = value.translate(None, _ALLOWED_IN_VALUE)
        if forbidden:
            return forbidden
        if len(_CLEAN_VALUES) >= MAX_CLEAN_VALUES:
            _CLEAN_VALUES.clear()
        _CLEAN_VALUES.add(value)
        return None


# Kept so the tests compare the replacement with the regex of the installed uvicorn.
REPLACED_VALUE_RE = httptools_impl.HEADER_VALUE_RE
httptools_impl.HEADER_VALUE_RE = HeaderValueCheck()  # type: ignore[assignment]
