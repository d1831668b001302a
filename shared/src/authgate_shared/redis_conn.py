"""Redis connection settings and client construction, shared by both services.

``REDIS_URL`` (redis:// or rediss://) wins over ``REDIS_HOST``/``REDIS_PORT``/``REDIS_PASSWORD``.
Clients fail fast (short connect and socket timeouts, one retry) because a request waiting on a
dead Redis is worse than a quick 503: the proxy in front retries, a hung worker does not.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import quote, urlsplit

import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError
from redis.exceptions import TimeoutError as RedisTimeoutError

from .config import EnvReader

# What a caller catches to turn "Redis did not answer" into 503.
REDIS_DOWN_ERRORS: tuple[type[Exception], ...] = (
    RedisConnectionError,
    RedisTimeoutError,
    RedisError,
    OSError,
)


@dataclass(frozen=True)
class RedisSettings:
    url: str
    connect_timeout: float = 1.0
    socket_timeout: float = 2.0

    def redacted(self) -> str:
        """The URL with any password replaced, for logs."""
        parts = urlsplit(self.url)
        if parts.password is None:
            return self.url
        user = parts.username or ""
        host = parts.netloc.rsplit("@", 1)[1]
        return self.url.replace(parts.netloc, f"{user}:***@{host}", 1)


def redis_settings_from_env(env: EnvReader) -> RedisSettings:
    url = env.raw("REDIS_URL")
    if url is not None:
        if urlsplit(url).scheme not in {"redis", "rediss", "unix"}:
            env.problems.append(
                f"REDIS_URL must start with redis://, rediss:// or unix://, got {url.split(':', 1)[0]!r}"
            )
    else:
        host = env.text("REDIS_HOST", "redis") or "redis"
        port = env.integer("REDIS_PORT", 6379, minimum=1, maximum=65535)
        password = env.raw("REDIS_PASSWORD")
        auth = f":{quote(password, safe='')}@" if password else ""
        url = f"redis://{auth}{host}:{port}/0"
    return RedisSettings(
        url=url,
        connect_timeout=env.integer("REDIS_CONNECT_TIMEOUT_MS", 1000, minimum=50) / 1000,
        socket_timeout=env.integer("REDIS_SOCKET_TIMEOUT_MS", 2000, minimum=50) / 1000,
    )


def create_redis(
    settings: RedisSettings, *, protocol: int = 2, max_connections: int = 64
) -> aioredis.Redis:
    """An asyncio client with bounded waits; connections are made lazily, so start-up never
    fails because Redis is briefly down (the service reports unhealthy and recovers instead)."""
    return aioredis.Redis.from_url(
        settings.url,
        protocol=protocol,
        socket_connect_timeout=settings.connect_timeout,
        socket_timeout=settings.socket_timeout,
        retry=Retry(NoBackoff(), 1),
        retry_on_error=[RedisConnectionError, RedisTimeoutError],
        health_check_interval=10,
        max_connections=max_connections,
        decode_responses=False,
    )
