"""Issuer test fixtures: an in-process app (TestClient, real Redis) and a real process."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from cryptography.hazmat.primitives.asymmetric import rsa
from fastapi.testclient import TestClient

from authgate_issuer.app import create_app
from authgate_issuer.settings import IssuerSettings
from authgate_shared import redis_keys
from testsupport.admin_cli import admin_env, drain, open_app
from testsupport.issuer import issuer_env, start_issuer
from testsupport.pem import private_pem
from testsupport.service import ServiceProcess


@pytest.fixture
def env(redis_url: str, keys_dir: Path) -> dict[str, str]:
    return issuer_env(redis_url, keys_dir)


@pytest.fixture
def settings(env: dict[str, str]) -> IssuerSettings:
    return IssuerSettings.from_env(env)


@pytest.fixture
def client(settings: IssuerSettings) -> Iterator[TestClient]:
    """The issuer app in-process (lifespan run), talking to the private Redis."""
    with TestClient(create_app(settings), base_url="https://auth.example.com") as test_client:
        yield test_client


@pytest.fixture
def issuer_process(env: dict[str, str], tmp_path: Path) -> Iterator[ServiceProcess]:
    """The issuer as a real process over real HTTP, ISSUER_URL = its own loopback URL."""
    proc = start_issuer(env, tmp_path, issuer_url_from_port=True)
    yield proc
    proc.stop()


@pytest.fixture
def open_settings(redis_url: str, keys_dir: Path) -> IssuerSettings:
    """Settings that let every GitHub user in (ALLOWED_GITHUB_USERS=*)."""
    return IssuerSettings.from_env(issuer_env(redis_url, keys_dir, ALLOWED_GITHUB_USERS="*"))


@pytest.fixture
def app(open_settings: IssuerSettings) -> Iterator[TestClient]:
    """The real app on ``open_settings`` (admin CLI tests make their data through it)."""
    with open_app(open_settings) as test_client:
        yield test_client


@pytest.fixture
def cli_env(redis_url: str, keys_dir: Path) -> dict[str, str]:
    """The environment of the ``authgate`` admin CLI for the private Redis."""
    return admin_env(redis_url, keys_dir)


@pytest.fixture(scope="session")
def signing_pem(session_signing_key: rsa.RSAPrivateKey) -> str:
    """The session's signing key as GATEWAY_RSA_PRIVATE_KEY would carry it (PEM)."""
    return private_pem(session_signing_key)


@pytest.fixture
def revocations(redis_client: redis.Redis) -> Iterator[redis.client.PubSub]:
    """Subscribed to the revocation channel (what verifiers listen to), drained of old news."""
    pubsub = redis_client.pubsub()
    pubsub.subscribe(redis_keys.REVOCATION_CHANNEL)
    drain(pubsub, 0.1)
    yield pubsub
    pubsub.close()
