"""What the HTTP protocol keeps per connection besides the request: the count of accepted
connections (for /metrics) and the connection's two addresses, read only when needed.

Behind Traefik most ForwardAuth calls arrive on a new connection (its ForwardAuth client keeps
2 idle connections per verifier address: Go's ``DefaultMaxIdleConnsPerHost``), so what a
connection costs before its first request is paid about once per request. uvicorn reads both
addresses of every connection as it is made (two socket objects, ``getsockname`` and
``getpeername``); here the local one is the listening address when the server is bound to one
IP and port (it cannot differ), and each is read from the socket on first use otherwise.
"""

from __future__ import annotations

import asyncio
import ipaddress
from typing import Any

from uvicorn.protocols.utils import get_local_addr, get_remote_addr

_UNREAD: Any = object()


class ConnectionCount:
    """Connections this process accepted: beside the requests served, /metrics then shows
    whether the proxy in front reuses its connections."""

    accepted = 0


CONNECTIONS = ConnectionCount()


def listen_address(host: str | None, port: int, *, uds: str | None, fd: int | None) -> Any:
    """The local address of every connection to a server bound to one IP and port, as
    uvicorn reports it (``(host, port)``); ``_UNREAD`` when it depends on the connection
    (a wildcard or a name that may resolve to several addresses, a Unix socket, port 0)."""
    if uds is not None or fd is not None or not port or host is None:
        return _UNREAD
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        return _UNREAD
    return _UNREAD if ip.is_unspecified else (str(ip), port)


class LazyAddresses:
    """``server`` and ``client`` of uvicorn's HttpToolsProtocol, read when first used."""

    transport: asyncio.Transport
    _server: Any = _UNREAD
    _client: Any = _UNREAD

    def reset_addresses(self, listening: Any) -> None:
        self._server, self._client = listening, _UNREAD

    @property
    def server(self) -> tuple[str, int | None] | None:
        if self._server is _UNREAD:
            self._server = get_local_addr(self.transport)
        return self._server  # type: ignore[no-any-return]

    @server.setter
    def server(self, value: tuple[str, int | None] | None) -> None:
        self._server = value

    @property
    def client(self) -> tuple[str, int] | None:
        if self._client is _UNREAD:
            self._client = get_remote_addr(self.transport)
        return self._client  # type: ignore[no-any-return]

    @client.setter
    def client(self, value: tuple[str, int] | None) -> None:
        self._client = value
