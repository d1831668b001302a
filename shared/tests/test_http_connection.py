"""Per-connection bookkeeping of the services' HTTP protocol: accepted connections are counted
one by one, and the addresses read lazily are the ones uvicorn would have read."""

from __future__ import annotations

import json
import socket
from typing import Any

import pytest

from authgate_shared.server.connection import _UNREAD, CONNECTIONS, listen_address
from testsupport.raw_http import read_response, serve_in_thread


async def echo_addresses(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] != "http":
        return
    body = json.dumps({"server": scope["server"], "client": scope["client"]}).encode()
    headers = [(b"content-length", b"%d" % len(body))]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def _ask(conn: socket.socket) -> dict[str, Any]:
    conn.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    answer = read_response(conn)
    return dict(json.loads(answer.split(b"\r\n\r\n", 1)[1]))


def test_accepted_connections_are_counted_and_addresses_are_the_sockets() -> None:
    with serve_in_thread(echo_addresses) as server:
        port = server.config.port
        before = CONNECTIONS.accepted
        for _ in range(3):
            with socket.create_connection(("127.0.0.1", port), timeout=5) as conn:
                local = conn.getsockname()
                # Two requests on one connection: one accept, the same addresses twice.
                for _ in range(2):
                    seen = _ask(conn)
                    assert seen["server"] == ["127.0.0.1", port]
                    assert seen["client"] == [local[0], local[1]]
        assert CONNECTIONS.accepted - before == 3


@pytest.mark.parametrize(
    ("host", "port", "expected"),
    [
        ("127.0.0.1", 8000, ("127.0.0.1", 8000)),
        ("::1", 8000, ("::1", 8000)),
        ("0.0.0.0", 8000, _UNREAD),  # a wildcard: the address is per connection
        ("::", 8000, _UNREAD),
        ("localhost", 8000, _UNREAD),  # a name may resolve to several addresses
        ("127.0.0.1", 0, _UNREAD),  # the port is chosen when bound
    ],
)
def test_the_listening_address_stands_for_the_local_one_only_when_it_cannot_differ(
    host: str, port: int, expected: object
) -> None:
    assert listen_address(host, port, uds=None, fd=None) == expected


def test_a_unix_socket_or_an_inherited_fd_reads_the_address_from_the_socket() -> None:
    assert listen_address("127.0.0.1", 8000, uds="/tmp/x.sock", fd=None) is _UNREAD
    assert listen_address("127.0.0.1", 8000, uds=None, fd=3) is _UNREAD
