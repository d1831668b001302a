"""The guarded network backend's own paths: a name that does not resolve, and the next checked
address when one refuses the connection (each address is connected to as checked)."""

from __future__ import annotations

import asyncio
import typing

import httpcore
import pytest

from authgate_issuer.outbound.guarded_backend import (
    DestinationRefused,
    GuardedBackend,
    system_resolver,
)


class Inner(httpcore.AsyncNetworkBackend):
    """Records each address it is asked to connect to; refuses those in ``refusing``."""

    def __init__(self, refusing: set[str]) -> None:
        self.refusing = refusing
        self.tried: list[str] = []

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,  # noqa: ASYNC109 - httpcore's interface
        local_address: str | None = None,
        socket_options: typing.Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        self.tried.append(host)
        if host in self.refusing:
            raise httpcore.ConnectError(f"{host} refused")
        return typing.cast(httpcore.AsyncNetworkStream, object())

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,  # noqa: ASYNC109 - httpcore's interface
        socket_options: typing.Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        raise AssertionError("never called")

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)


def backend(inner: Inner, *addresses: str) -> GuardedBackend:
    async def resolve(host: str, port: int) -> list[str]:
        return list(addresses)

    return GuardedBackend(allow_private=False, resolve=resolve, inner=inner)


def test_an_unresolvable_name_is_refused() -> None:
    with pytest.raises(DestinationRefused, match="does not resolve"):
        asyncio.run(system_resolver("no-such-host.invalid", 443))


def test_the_next_checked_address_when_one_refuses() -> None:
    inner = Inner(refusing={"8.8.8.8"})
    stream = asyncio.run(backend(inner, "8.8.8.8", "1.1.1.1").connect_tcp("docs.example", 443))
    assert stream is not None
    assert inner.tried == ["8.8.8.8", "1.1.1.1"]


def test_when_every_address_refuses_the_last_error_is_raised() -> None:
    inner = Inner(refusing={"8.8.8.8", "1.1.1.1"})
    with pytest.raises(httpcore.ConnectError, match=r"1\.1\.1\.1 refused"):
        asyncio.run(backend(inner, "8.8.8.8", "1.1.1.1").connect_tcp("docs.example", 443))
    assert inner.tried == ["8.8.8.8", "1.1.1.1"]


def test_one_refused_address_refuses_the_whole_answer() -> None:
    inner = Inner(refusing=set())
    with pytest.raises(DestinationRefused, match="loopback"):
        asyncio.run(backend(inner, "8.8.8.8", "127.0.0.1").connect_tcp("docs.example", 443))
    assert inner.tried == []  # nothing was connected to
