"""An httpcore network backend that checks the address it connects to (no DNS rebinding).

httpcore asks its backend to ``connect_tcp(host, port)`` and then does TLS on the stream itself,
with SNI and certificate verification for the URL's host name. This backend resolves the name
once, refuses the connection when any resolved address is not allowed (``addresses.refusal``),
and connects the inner backend to that exact checked address: the name is never resolved a
second time, so a DNS answer that changes between a check and a connect (rebinding) cannot
smuggle in a private address. A mixed answer (one public, one private address) is refused as a
whole: it is what rebinding setups look like, and no honest document host needs it.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import typing
from collections.abc import Awaitable, Callable

import httpcore

from .addresses import IPAddress, refusal

Resolver = Callable[[str, int], Awaitable[list[str]]]
"""(host, port) -> the IP addresses (text) the name resolves to."""


class DestinationRefused(Exception):
    """The host resolves to an address a fetch may not reach, or does not resolve at all."""


async def system_resolver(host: str, port: int) -> list[str]:
    loop = asyncio.get_running_loop()
    try:
        infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror:
        raise DestinationRefused(f"{host} does not resolve") from None
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


class GuardedBackend(httpcore.AsyncNetworkBackend):
    def __init__(
        self,
        *,
        allow_private: bool,
        resolve: Resolver = system_resolver,
        inner: httpcore.AsyncNetworkBackend | None = None,
    ) -> None:
        self._allow_private = allow_private
        self._resolve = resolve
        self._inner = inner or httpcore.AnyIOBackend()

    async def addresses(self, host: str, port: int) -> list[IPAddress]:
        """The checked addresses of ``host``; DestinationRefused when any is not allowed."""
        try:
            found: list[IPAddress] = [ipaddress.ip_address(host.strip("[]"))]
        except ValueError:
            found = [ipaddress.ip_address(a) for a in await self._resolve(host, port)]
        if not found:
            raise DestinationRefused(f"{host} has no address")
        for address in found:
            reason = refusal(address, allow_private=self._allow_private)
            if reason is not None:
                raise DestinationRefused(f"{host} resolves to {reason} ({address})")
        return found

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,  # noqa: ASYNC109 - httpcore's interface
        local_address: str | None = None,
        socket_options: typing.Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        error: Exception | None = None
        for address in await self.addresses(host, port):
            try:
                return await self._inner.connect_tcp(
                    str(address),
                    port,
                    timeout=timeout,
                    local_address=local_address,
                    socket_options=socket_options,
                )
            except httpcore.ConnectError as exc:  # the next checked address, as a client would
                error = exc
        assert error is not None
        raise error

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,  # noqa: ASYNC109 - httpcore's interface
        socket_options: typing.Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        raise DestinationRefused("documents are never fetched over a unix socket")

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)
