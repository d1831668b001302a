"""uvicorn's httptools protocol with a cap on the request head and a time limit on it, for both
services.

httptools is uvicorn's fast HTTP/1.1 parser, but it buffers a request line and header block of
any size: an endless header grows a worker's memory without bound. h11 caps the head (16 KiB)
but costs the issuer about a third of its throughput on small requests. This protocol counts
the bytes of each request head (after the blank line that ended the previous message, RFC 9112
§2.1; bodies are not counted) and, past ``MAX_HEAD_BYTES``, answers 431 (RFC 6585 §5) and
closes the connection. A read is handed to the parser whole when it cannot complete an
oversized head (the common case: one small head per read); a longer one is handed over in
pieces of at most the room left under the cap, so a head that completes inside a piece is
within the cap, whether it came in one write, many, or after other requests (pipelining).

uvicorn itself only limits how long a connection stays idle after a response; a connection
that sends nothing, or half a head, stays open as long as the client likes (slowloris). Here
the wait for a head is limited too (``HttpConfig.request_head_timeout``): when it runs out a
connection that sent part of a head gets 408 (RFC 9110 §15.5.9), one that sent nothing is
closed. One timer per connection, re-armed lazily: serving a request only moves a deadline
(no ``call_later`` per request, where uvicorn had one per response for its keep-alive timer).

Run with ``serve`` (or ``uvicorn.run(..., http=PROTOCOL)``, a string so spawned workers import
it, with the default head timeout).

Importing this module also replaces the two regular expressions uvicorn checks every response
header name and value with (``HEADER_RE``, ``HEADER_VALUE_RE``) by ``RememberingCheck``s with
the same verdict for every input (derived from the expressions themselves and tested against
them): the regex scans ~2.6 ns per byte, and the verifier forwards the ~1 KB JWT as
``X-Auth-Token`` on every 200, so the value check alone was ~10% of a cached /verify. It also
makes uvicorn's request/response cycle ``response_head.PreparedCycle``, which writes a header
block the app prepared once (and is uvicorn's own cycle for everything else).
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import sys
from collections.abc import Callable
from typing import Any

import uvicorn
from uvicorn.logging import TRACE_LOG_LEVEL
from uvicorn.protocols.http import httptools_impl
from uvicorn.protocols.http.flow_control import FlowControl
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
from uvicorn.server import ServerState
from uvicorn.supervisors import Multiprocess

from . import response_head
from .connection import _UNREAD, CONNECTIONS, LazyAddresses, listen_address
from .limits import DEFAULT_REQUEST_HEAD_TIMEOUT, HttpLimits

MAX_HEAD_BYTES = 16 * 1024  # h11's default, and more than any client here sends
# How long a connection with no request in progress stays open once shutdown begins.
SHUTDOWN_GRACE_SECONDS = 0.25
PROTOCOL = "authgate_shared.server.protocol:CappedHttpToolsProtocol"
STARTUP_FAILURE = 3  # uvicorn's exit status when the server did not start


def _plain(status: bytes, message: bytes) -> bytes:
    return (
        b"HTTP/1.1 %s\r\ncontent-type: text/plain; charset=utf-8\r\ncontent-length: %d\r\n"
        b"connection: close\r\n\r\n%s" % (status, len(message), message)
    )


_TOO_LARGE = _plain(b"431 Request Header Fields Too Large", b"request header block is too large")
_TIMEOUT = _plain(b"408 Request Timeout", b"request header block not received in time")


class HttpConfig(uvicorn.Config):
    """uvicorn's Config and the request head timeout. uvicorn hands the Config to the protocol,
    and pickles it to the workers it spawns (``--workers N``), so the value reaches them all."""

    def __init__(
        self, app: Any, *, request_head_timeout: float = DEFAULT_REQUEST_HEAD_TIMEOUT, **kw: Any
    ) -> None:
        super().__init__(app, **kw)
        self.request_head_timeout = request_head_timeout
        self.listen_address = listen_address(self.host, self.port, uds=self.uds, fd=self.fd)


def serve(app: str, *, limits: HttpLimits, workers: int = 1, **options: Any) -> None:
    """``uvicorn.run(app, workers=..., **options)`` with ``limits`` (which uvicorn.run has no
    parameter for). ``app`` is an import string, as workers import it anew."""
    config = HttpConfig(
        app,
        workers=workers,
        timeout_keep_alive=limits.keep_alive_timeout,
        request_head_timeout=limits.request_head_timeout,
        **options,
    )
    server = uvicorn.Server(config)
    with contextlib.suppress(KeyboardInterrupt):
        if config.workers > 1:
            Multiprocess(config, sockets=[config.bind_socket()]).run()
            return
        server.run()
    if not server.started:
        sys.exit(STARTUP_FAILURE)


class CappedHttpToolsProtocol(LazyAddresses, HttpToolsProtocol):
    _head_bytes = 0  # bytes of the unfinished head so far (an upper bound, see _count)
    _refused = False  # a head went over the cap: input is ignored, a 431 is due
    _draining = False
    _deadline = 0.0  # loop time the wait for a head ends; 0.0 while a request is served
    _idle = False  # the wait is for the first byte of a head (keep-alive), not the rest
    _timer: asyncio.TimerHandle | None = None
    _timer_at = 0.0

    def __init__(
        self,
        config: uvicorn.Config,
        server_state: ServerState,
        app_state: dict[str, Any],
        _loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        super().__init__(config, server_state, app_state, _loop)
        self.head_timeout = float(
            getattr(config, "request_head_timeout", DEFAULT_REQUEST_HEAD_TIMEOUT)
        )
        self._listening = getattr(config, "listen_address", _UNREAD)

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        """uvicorn's, with the addresses left to ``LazyAddresses`` (see ``connection``)."""
        CONNECTIONS.accepted += 1
        self.connections.add(self)
        self.transport = transport
        self.flow = FlowControl(transport)
        self.reset_addresses(self._listening)
        self.scheme = "https" if transport.get_extra_info("sslcontext") else "http"
        if self.logger.level <= TRACE_LOG_LEVEL:
            self.logger.log(TRACE_LOG_LEVEL, "%s HTTP connection made", self.client)
        # A new connection waits for its first head from the start: one that sends nothing
        # must not hold its socket any longer than one that sends half a head.
        self._wait(self.head_timeout, idle=False)

    def connection_lost(self, exc: Exception | None) -> None:
        super().connection_lost(exc)
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

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
        room = MAX_HEAD_BYTES - self._head_bytes
        if len(data) <= room:
            # No head can go over the cap in this read: one that completes in it has at most
            # the room left; one still unfinished after it is counted by _count.
            super().data_received(data)
            scope = self.scope
            if scope is None or "method" in scope:
                self._head_bytes = 0
            else:
                self._count(data, 0, len(data))
        else:
            self._feed_in_pieces(data, room)
        if self._refused:
            return
        cycle = self.cycle
        if cycle is not None and not cycle.response_complete:
            # A request is being served (its body read, its answer written): no time limit
            # here, a long response (an event stream) must not be cut.
            self._deadline = 0.0
            if self._draining:
                cycle.keep_alive = False
        elif self._idle or not self._deadline:
            # The first bytes of a new head: it must be complete within the head timeout
            # (a deadline already running for this head is not extended by more bytes).
            self._wait(self.head_timeout, idle=False)

    def _feed_in_pieces(self, data: bytes, room: int) -> None:
        """Hand ``data`` to the parser in pieces of at most the room left under the cap (after
        each, the count is known again), so no head completes past the cap unseen."""
        view = memoryview(data)
        start = 0
        while start < len(data):
            if room <= 0:
                # A head is unfinished at the cap and more of it follows (a head's bytes run
                # up to its blank line): it is over the cap.
                self._refuse()
                return
            end = min(start + room, len(data))
            super().data_received(view[start:end])  # type: ignore[arg-type]
            if self.transport.is_closing() or self not in self.connections:
                return  # refused as malformed (400), or handed to a websocket protocol
            scope = self.scope
            if scope is None or "method" in scope:
                self._head_bytes = 0
            else:
                self._count(data, start, end)
                if self._refused:
                    return
            start = end
            room = MAX_HEAD_BYTES - self._head_bytes

    def _count(self, data: bytes, start: int, end: int) -> None:
        """Count the bytes of ``data[start:end]`` (just parsed) that belong to the unfinished
        head it ends in: uvicorn sets scope["method"] once a head is complete (callers check that
        the scope has none). Only data_received is overridden per read: overriding the parser
        callbacks as well cost ~5% of a small request."""
        # An unfinished head holds no blank line, so it starts after the last one in this
        # piece, or continues one counted before. Upper bound: after a body in the same piece
        # this also counts the body's bytes after its last CRLFCRLF (if any).
        blank = data.rfind(b"\r\n\r\n", start, end)
        if blank < 0:
            self._head_bytes += end - start
        else:
            self._head_bytes = end - blank - 4
        if self._head_bytes > MAX_HEAD_BYTES:
            self._refuse()

    def _refuse(self) -> None:
        """431 for the head over the cap; requests before it on this connection (pipelined in
        the same write) are answered first, in order (RFC 9112 §9.3.2), see on_response_complete."""
        self._refused = True
        self._deadline = 0.0
        cycle = self.cycle
        if cycle is None or cycle.response_complete:
            self.transport.write(_TOO_LARGE)
            self.transport.close()
        else:
            self.flow.pause_reading()

    def on_response_complete(self) -> None:
        """uvicorn's, but waits for the next head with this connection's single timer instead
        of a ``call_later`` per response; and sends a 431 held back behind this response."""
        self.server_state.total_requests += 1
        if self.transport.is_closing():
            return
        if self.pipeline:
            self.flow.resume_reading()
            cycle, app = self.pipeline.pop()
            self._start_asgi_task(cycle, app)
            return
        if self._refused:
            self.transport.write(_TOO_LARGE)
            self.transport.close()
            return
        self.flow.resume_reading()
        scope = self.scope
        if "method" in scope and not self.cycle.more_body:
            # Idle until the next request: closed after the keep-alive timeout (RFC 9112 §9.3).
            self._wait(self.timeout_keep_alive, idle=True)
        else:
            # Part of the next head is here already (pipelined), or the rest of a body the
            # app answered without reading: the head timeout applies from now.
            self._wait(self.head_timeout, idle=False)

    def _wait(self, seconds: float, *, idle: bool) -> None:
        """Start waiting for a head until ``seconds`` from now. The timer already pending
        is kept when it fires no later (it re-arms itself for the deadline then)."""
        now = self.loop.time()
        self._deadline = deadline = now + seconds
        self._idle = idle
        if self._timer is not None:
            if self._timer_at <= deadline:
                return
            self._timer.cancel()
        self._timer_at = deadline
        self._timer = self.loop.call_at(deadline, self._on_timer)

    def _on_timer(self) -> None:
        self._timer = None
        deadline = self._deadline
        if not deadline or self.transport.is_closing():
            return  # a request is being served; the next wait arms the timer again
        if self.loop.time() < deadline:
            self._timer_at = deadline
            self._timer = self.loop.call_at(deadline, self._on_timer)
            return
        scope = self.scope
        if not self._idle and scope is not None and "method" not in scope:
            # Part of a head arrived, not all of it in time (RFC 9110 §15.5.9).
            self.transport.write(_TIMEOUT)
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
