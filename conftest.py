"""Root fixtures for every test package: a private Redis and helpers to run our services."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from cryptography.hazmat.primitives.asymmetric import rsa

from authgate_issuer.store import keystore
from testsupport.redis_server import RedisServer


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    """One private redis-server for the session (tests that kill Redis start their own)."""
    server = RedisServer(tmp_path_factory.mktemp("redis")).start()
    yield server
    server.stop()


@pytest.fixture
def redis_url(redis_server: RedisServer) -> str:
    """A clean database on the session's private server (never the machine's 6379)."""
    client = redis_server.client()
    client.flushdb()
    client.close()
    return redis_server.url


@pytest.fixture
def redis_client(redis_url: str) -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(redis_url)
    yield client
    client.close()


@pytest.fixture(scope="session")
def session_signing_key() -> rsa.RSAPrivateKey:
    """One RSA key for the whole session: generating one per test dominated the suite's time."""
    return rsa.generate_private_key(65537, 2048)


@pytest.fixture
def keys_dir(tmp_path: Path, session_signing_key: rsa.RSAPrivateKey) -> Path:
    """A KEYS_DIR holding the session's key as the current signing key (as after a first start)."""
    path = tmp_path / "keys"
    path.mkdir(mode=0o700)
    keystore.add_key(path, session_signing_key, make_current=True)
    return path


@pytest.fixture
def empty_keys_dir(tmp_path: Path) -> Path:
    """A KEYS_DIR before the first start: the issuer generates its key there."""
    path = tmp_path / "fresh-keys"
    path.mkdir(mode=0o700)
    return path
