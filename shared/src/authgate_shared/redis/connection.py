"""Redis connection settings and client construction, shared by both services.

``REDIS_URL`` (see ``urls`` for the standalone, Sentinel and Cluster forms) wins over
``REDIS_HOST``/``REDIS_PORT``/``REDIS_PASSWORD``; ``REDIS_CLUSTER=true`` treats a ``redis://`` URL
as a Cluster seed; ``SENTINEL_PASSWORD`` authenticates to the sentinels themselves.

Clients fail fast (short connect and socket timeouts, one retry) because a request waiting on a
dead Redis is worse than a quick 503: the proxy in front retries, a hung worker does not. They
also heal by themselves: a Sentinel-backed pool asks the sentinels for the primary on every new
connection, and the Cluster client reloads the slot map after MOVED or a connection error.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any, cast
from urllib.parse import quote, urlsplit

import redis.asyncio as aioredis
from redis.asyncio.client import Pipeline
from redis.asyncio.cluster import ClusterNode, ClusterPipeline, RedisCluster
from redis.asyncio.retry import Retry
from redis.asyncio.sentinel import Sentinel
from redis.backoff import NoBackoff
from redis.exceptions import (
    BusyLoadingError,
    ClusterDownError,
    ReadOnlyError,
    RedisClusterException,
    RedisError,
    TryAgainError,
)
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from ..config import EnvReader
from .nodes import (
    AnyNodeConnection,
    AnyNodeSSLConnection,
    GuardedConnection,
    GuardedSentinelConnection,
    GuardedSentinelSSLConnection,
    GuardedSSLConnection,
    SentinelRedis,
)
from .urls import RedisTarget, parse_redis_url

# What a caller catches to turn "Redis did not answer" into 503. Failovers raise these:
# MasterNotFoundError (a ConnectionError) while no sentinel names a healthy primary, ReadOnlyError
# from a demoted primary, ClusterDownError/TryAgainError while slots move or a primary fails, and
# RedisClusterException (not a RedisError) when no seed node answers.
REDIS_DOWN_ERRORS: tuple[type[Exception], ...] = (
    RedisConnectionError,
    RedisTimeoutError,
    BusyLoadingError,
    ReadOnlyError,
    ClusterDownError,
    TryAgainError,
    RedisClusterException,
    RedisError,
    OSError,
)


@dataclass(frozen=True)
class RedisSettings:
    url: str
    connect_timeout: float = 1.0
    socket_timeout: float = 2.0
    cluster: bool = False
    """``REDIS_CLUSTER=true``: the redis:// URL names one seed node of a Cluster."""
    sentinel_password: str | None = None
    wait_replicas: int = 0
    """``REDIS_WAIT_REPLICAS``: writes that call ``wait_for_replicas`` need this many replicas
    to acknowledge them (``WAIT``) before they count as done; 0 = no WAIT."""
    wait_timeout_ms: int = 100
    """``REDIS_WAIT_TIMEOUT_MS``: how long ``WAIT`` blocks at most (below the socket timeout)."""

    def redacted(self) -> str:
        """The URL with any password (userinfo or ``password=`` option) replaced, for logs."""
        parts = urlsplit(self.url)
        url = self.url
        if parts.password is not None:
            user = parts.username or ""
            host = parts.netloc.rsplit("@", 1)[1]
            url = url.replace(parts.netloc, f"{user}:***@{host}", 1)
        if "password=" in parts.query:
            query = "&".join(
                "password=***" if item.startswith("password=") else item
                for item in parts.query.split("&")
            )
            url = url.replace(parts.query, query, 1)
        return url

    def target(self) -> RedisTarget:
        return parse_redis_url(self.url, cluster=self.cluster)


def redis_settings_from_env(env: EnvReader) -> RedisSettings:
    url = env.raw("REDIS_URL")
    if url is None:
        host = env.text("REDIS_HOST", "redis") or "redis"
        port = env.integer("REDIS_PORT", 6379, minimum=1, maximum=65535)
        password = env.raw("REDIS_PASSWORD")
        auth = f":{quote(password, safe='')}@" if password else ""
        url = f"redis://{auth}{host}:{port}/0"
    settings = RedisSettings(
        url=url,
        connect_timeout=env.integer("REDIS_CONNECT_TIMEOUT_MS", 1000, minimum=50) / 1000,
        socket_timeout=env.integer("REDIS_SOCKET_TIMEOUT_MS", 2000, minimum=50) / 1000,
        cluster=env.flag("REDIS_CLUSTER", False),
        sentinel_password=env.raw("SENTINEL_PASSWORD"),
        wait_replicas=env.integer("REDIS_WAIT_REPLICAS", 0, minimum=0, maximum=64),
        wait_timeout_ms=env.integer("REDIS_WAIT_TIMEOUT_MS", 100, minimum=1),
    )
    if settings.wait_replicas and settings.wait_timeout_ms >= settings.socket_timeout * 1000:
        # The socket would time out first and the client retry the write: never an answer.
        env.problems.append(
            f"REDIS_WAIT_TIMEOUT_MS ({settings.wait_timeout_ms}) must be below "
            f"REDIS_SOCKET_TIMEOUT_MS ({int(settings.socket_timeout * 1000)})"
        )
    try:
        settings.target()
    except ValueError as exc:
        env.problems.append(f"REDIS_URL {exc}")
    return settings


def create_redis(
    settings: RedisSettings, *, protocol: int = 2, max_connections: int = 64
) -> aioredis.Redis:
    """An asyncio client with bounded waits; connections are made lazily, so start-up never
    fails because Redis is briefly down (the service reports unhealthy and recovers instead).

    On Cluster this is a ``redis.asyncio.cluster.RedisCluster``, typed as ``Redis`` because it
    answers the same commands, scripts and pipelines (transactions and scripts on one slot:
    the key schema's hash tags). Pub/sub and scans differ: use ``create_pubsub_client`` and
    ``scan_keys``.
    """
    target = settings.target()
    options: dict[str, Any] = {
        "protocol": protocol,
        "socket_connect_timeout": settings.connect_timeout,
        "socket_timeout": settings.socket_timeout,
        "health_check_interval": 10,
        "max_connections": max_connections,
        "decode_responses": False,
    }
    if target.mode == "cluster":
        return cast(aioredis.Redis, _cluster(target, options))
    options |= {
        "retry": Retry(NoBackoff(), 1),
        "retry_on_error": [RedisConnectionError, RedisTimeoutError],
    }
    if target.mode == "sentinel":
        return _sentinel_primary(settings, target, options)
    return _standalone(settings, target, options)


def create_pubsub_client(settings: RedisSettings) -> aioredis.Redis:
    """A RESP2 client for classic SUBSCRIBE/PUBLISH on ``redis_keys.REVOCATION_CHANNEL``.

    Reads block until a message arrives (no socket timeout; dead peers are found by TCP
    keepalive and the 10 s health check that ``PubSub.get_message`` runs). Standalone: the
    server. Sentinel: the current primary, found again through the sentinels after a failover.
    Cluster: one node, since a classic PUBLISH is broadcast to every node over the cluster bus;
    a reconnect tries the seed nodes and the nodes the last one reported, so losing the node
    subscribed to costs a reconnect, not the channel. A subscriber misses messages published
    while it reconnects, so it must treat a reconnect as "revocations may have been missed".
    """
    target = settings.target()
    options: dict[str, Any] = {
        "protocol": 2,
        "socket_connect_timeout": settings.connect_timeout,
        "socket_timeout": None,
        "socket_keepalive": True,
        "health_check_interval": 10,
        "retry": Retry(NoBackoff(), 1),
        "retry_on_error": [RedisConnectionError, RedisTimeoutError],
    }
    if target.mode == "sentinel":
        return _sentinel_primary(settings, target, options)
    if target.mode == "standalone":
        return _standalone(settings, target, options)
    kwargs = dict(target.connection_kwargs)
    tls = kwargs.pop("ssl", False)
    pool = aioredis.ConnectionPool(
        connection_class=AnyNodeSSLConnection if tls else AnyNodeConnection,
        nodes=list(target.nodes),
        **kwargs,
        **options,
    )
    return aioredis.Redis.from_pool(pool)


async def scan_keys(client: aioredis.Redis | RedisCluster, match: str) -> AsyncIterator[bytes]:
    """Every key matching ``match`` (admin CLI only: SCAN is O(keyspace)).

    On Cluster, ``RedisCluster.scan_iter`` sends SCAN to every primary and follows each node's
    cursor to 0 (redis-py 8 ``AsyncClusterDataAccessCommands.scan_iter``); a key may be reported
    twice if slots move during the scan, as with SCAN itself.
    """
    async for key in client.scan_iter(match=match, count=1000):
        yield key


class ReplicasNotReached(RedisError):
    """Fewer than ``REDIS_WAIT_REPLICAS`` replicas acknowledged a write in time: the write is on
    the primary, but a failover now could lose it. A RedisError, so callers answer 503."""


async def wait_for_replicas(
    pipe: Pipeline | ClusterPipeline, settings: RedisSettings, *, key: str
) -> list[Any]:
    """Execute the writes queued on ``pipe``, then ``WAIT`` on the same connection; their results.

    ``WAIT n ms`` counts the replicas that acknowledged every write made *by the connection it
    is sent on* (a fresh connection has made none and gets every replica at once), so it must
    share the write's connection: a pipeline sends all its commands on one connection, and a
    Cluster pipeline one per node, with WAIT routed here to the node that owns ``key``. ``pipe``
    is ``client.pipeline(transaction=False)`` (inside MULTI, WAIT does not block) holding writes
    of ``key``'s slot only. ReplicasNotReached when fewer than ``settings.wait_replicas``
    replicas acknowledged within ``settings.wait_timeout_ms``; with 0 the pipeline just runs.
    """
    if settings.wait_replicas <= 0:
        return list(await pipe.execute())
    wait = ("WAIT", settings.wait_replicas, settings.wait_timeout_ms)
    cluster = pipe.cluster_client if isinstance(pipe, ClusterPipeline) else None
    node: ClusterNode | None = None
    if cluster is not None:
        await cluster.initialize()  # the slot map, on a client's first use
        node = cluster.get_node_from_key(key)
        pipe.execute_command(*wait, target_nodes=node)
    else:
        pipe.execute_command(*wait)
    *results, acknowledged = await pipe.execute()
    if cluster is not None and cluster.get_node_from_key(key) != node:
        # MOVED: the write was redone on another node, which the WAIT did not ask.
        raise ReplicasNotReached("the key's slot moved during the write")
    if int(acknowledged) < settings.wait_replicas:
        raise ReplicasNotReached(
            f"{acknowledged} of {settings.wait_replicas} replica(s) acknowledged the write "
            f"within {settings.wait_timeout_ms} ms"
        )
    return results


def _standalone(
    settings: RedisSettings, target: RedisTarget, options: dict[str, Any]
) -> aioredis.Redis:
    if settings.url.lower().startswith("unix://"):
        return aioredis.Redis.from_url(settings.url, **options)
    kwargs = dict(target.connection_kwargs)
    tls = kwargs.pop("ssl", False)
    pool = aioredis.ConnectionPool(
        connection_class=GuardedSSLConnection if tls else GuardedConnection, **kwargs, **options
    )
    return aioredis.Redis.from_pool(pool)


def _cluster(target: RedisTarget, options: dict[str, Any]) -> RedisCluster:
    # One retry after reloading the slot map: enough to follow a finished failover, short
    # enough that a failover in progress is a quick error (503), not a hung request.
    cluster = RedisCluster(
        startup_nodes=[ClusterNode(host, port) for host, port in target.nodes],
        retry=Retry(NoBackoff(), 1),
        **target.connection_kwargs,
        **options,
    )
    # RedisCluster takes no connection_class; it keeps one in the kwargs shared with its
    # NodesManager (used for every node found later) and copies it into the seed nodes.
    guarded = GuardedSSLConnection if target.tls else GuardedConnection
    cluster.connection_kwargs["connection_class"] = guarded
    for node in cluster.nodes_manager.startup_nodes.values():
        node.connection_class = guarded
    return cluster


def _sentinel_primary(
    settings: RedisSettings, target: RedisTarget, options: dict[str, Any]
) -> aioredis.Redis:
    sentinel_options: dict[str, Any] = {
        "socket_connect_timeout": settings.connect_timeout,
        "socket_timeout": settings.socket_timeout,
        "password": settings.sentinel_password,
    }
    if target.tls:
        sentinel_options["ssl"] = True
    sentinel = Sentinel(list(target.nodes), sentinel_kwargs=sentinel_options)  # type: ignore[no-untyped-call]
    client = sentinel.master_for(
        target.service_name,
        redis_class=SentinelRedis,
        connection_class=GuardedSentinelSSLConnection if target.tls else GuardedSentinelConnection,
        **target.connection_kwargs,
        **options,
    )
    return cast(SentinelRedis, client).owning(sentinel)
