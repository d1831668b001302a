"""Connection classes behind ``connection``: connections that report a peer-closed socket as a
``ConnectionError``, a Sentinel client that owns its sentinels, and a connection that reaches any
node of a Cluster (for pub/sub, which needs no particular node)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import redis.asyncio as aioredis
from redis.asyncio.connection import AbstractConnection, Connection, SSLConnection
from redis.asyncio.sentinel import (
    Sentinel,
    SentinelManagedConnection,
    SentinelManagedSSLConnection,
)
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError
from redis.exceptions import TimeoutError as RedisTimeoutError


class ClosedSocketIsConnectionError(AbstractConnection):
    """Under uvloop (which uvicorn uses), writing to a socket the server has just closed raises
    ``RuntimeError: unable to perform operation on <TCPTransport closed=True>`` instead of an
    OSError (uvloop#506), which redis-py does not translate: a failover then became a 500. As a
    ConnectionError it is retried once on a fresh connection, or answered with 503."""

    async def send_packed_command(
        self, command: bytes | str | Iterable[bytes], check_health: bool = True
    ) -> None:
        try:
            await super().send_packed_command(command, check_health)
        except RuntimeError as exc:
            await self.disconnect(nowait=True)
            raise RedisConnectionError(f"connection closed by the server ({exc})") from exc


class GuardedConnection(ClosedSocketIsConnectionError, Connection):
    pass


class GuardedSSLConnection(ClosedSocketIsConnectionError, SSLConnection):
    pass


class GuardedSentinelConnection(ClosedSocketIsConnectionError, SentinelManagedConnection):
    pass


class GuardedSentinelSSLConnection(ClosedSocketIsConnectionError, SentinelManagedSSLConnection):
    pass


class SentinelRedis(aioredis.Redis):
    """The primary of a Sentinel set; closing it also closes the connections to the sentinels
    (``Sentinel.master_for`` leaves them to the caller, who no longer holds them)."""

    _sentinel: Sentinel | None = None

    def owning(self, sentinel: Sentinel) -> SentinelRedis:
        self._sentinel = sentinel
        return self

    async def aclose(self, close_connection_pool: bool | None = None) -> None:
        await super().aclose(close_connection_pool)
        if self._sentinel is not None:
            await self._sentinel.aclose()
            self._sentinel = None


class AnyNodeConnection(GuardedConnection):
    """Connects to the first reachable node of a shared list, and refreshes that list from the
    node's ``CLUSTER NODES`` so that a later reconnect knows nodes beyond the seeds."""

    def __init__(self, *, nodes: list[tuple[str, int]], **kwargs: Any) -> None:
        self._nodes = nodes
        super().__init__(host=nodes[0][0], port=nodes[0][1], **kwargs)

    async def connect(self) -> None:
        if self.is_connected:
            return
        failures: list[str] = []
        for host, port in list(self._nodes):
            self.host, self.port = host, port
            try:
                await self.connect_check_health(check_health=True, retry_socket_connect=False)
            except (RedisConnectionError, RedisTimeoutError, OSError) as exc:
                failures.append(f"{host}:{port}: {type(exc).__name__}")
                continue
            await self._learn_nodes()
            return
        raise RedisConnectionError(f"no cluster node reachable ({', '.join(failures)})")

    async def _learn_nodes(self) -> None:
        try:
            await self.send_command("CLUSTER", "NODES")
            reply = await self.read_response()
        except RedisError:
            return  # e.g. an ACL user without CLUSTER: keep the seeds
        text = reply.decode() if isinstance(reply, bytes) else str(reply)
        learned = [(self.host, self.port)]
        for line in text.splitlines():
            fields = line.split()
            if len(fields) < 3 or "fail" in fields[2] or "noaddr" in fields[2]:
                continue
            address = fields[1].split("@", 1)[0]
            host, _, port = address.rpartition(":")
            if port.isdigit() and (host or self.host, int(port)) not in learned:
                learned.append((host or self.host, int(port)))
        self._nodes[:] = learned


class AnyNodeSSLConnection(AnyNodeConnection, SSLConnection):
    pass
