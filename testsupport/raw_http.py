"""Raw HTTP/1.1 over a socket against an ASGI app served by uvicorn with our protocol, for
tests of what goes over the wire byte for byte (an HTTP client library would normalise it)."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import uvicorn

from authgate_shared.server import protocol as http_server
from authgate_shared.server.limits import HttpLimits

from .ports import free_port


@contextlib.contextmanager
def serve_in_thread(app: Any, limits: HttpLimits | None = None) -> Iterator[uvicorn.Server]:
    """uvicorn with the services' protocol and logging (no access log) on a free loopback
    port (``server.config.port``), in a thread; the server, to stop it early. ``limits``:
    the head and keep-alive timeouts, as ``http_server.serve`` passes them."""
    limits = limits or HttpLimits()
    chosen = free_port()
    config = http_server.HttpConfig(
        app,
        host="127.0.0.1",
        port=chosen,
        http=http_server.PROTOCOL,
        log_level="warning",
        access_log=False,
        timeout_keep_alive=limits.keep_alive_timeout,
        request_head_timeout=limits.request_head_timeout,
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.02)
    try:
        yield server
    finally:
        server.should_exit = True
        thread.join(5)


def read_response(
    conn: socket.socket, pending: bytearray | None = None, *, body: bool = True
) -> bytes:
    """One response (head, and a content-length body unless ``body`` is false, as for HEAD),
    or what arrived before the server closed. ``pending`` keeps bytes of later responses that
    arrived in the same read."""
    data = pending if pending is not None else bytearray()
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(65536)
        if not chunk:
            return bytes(data)
        data += chunk
    end = data.index(b"\r\n\r\n") + 4
    length = 0
    if body:
        length = int(bytes(data[:end]).lower().split(b"content-length: ")[1].split(b"\r\n")[0])
    while len(data) < end + length:
        data += conn.recv(65536)
    answer = bytes(data[: end + length])
    del data[: end + length]
    return answer


def exchange(port: int, *requests: bytes) -> list[bytes]:
    """Each request in turn on one connection, and its response (b"reset" if refused)."""
    answers = []
    with socket.create_connection(("127.0.0.1", port), timeout=5) as conn:
        for request in requests:
            try:
                conn.sendall(request)
                answers.append(read_response(conn, body=not request.startswith(b"HEAD ")))
            except (ConnectionResetError, BrokenPipeError):
                answers.append(b"reset")
    return answers


def until_closed(conn: socket.socket, limit: float = 5.0) -> tuple[bytes, float]:
    """What the server sends until it closes ``conn`` (a reset counts as closed), and the
    seconds from this call to the close; ``limit``: how long to wait at most (socket.timeout
    beyond)."""
    started = time.monotonic()
    conn.settimeout(limit)
    data = bytearray()
    while True:
        try:
            chunk = conn.recv(65536)
        except ConnectionResetError:
            chunk = b""
        if not chunk:
            return bytes(data), time.monotonic() - started
        data += chunk


def send_in_pieces(conn: socket.socket, data: bytes, size: int, pause: float = 0.002) -> None:
    """``data`` in writes of ``size`` bytes with a pause between, so the server reads them
    apart (Nagle off: each write goes out as it is)."""
    conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    for start in range(0, len(data), size):
        conn.sendall(data[start : start + size])
        time.sleep(pause)
