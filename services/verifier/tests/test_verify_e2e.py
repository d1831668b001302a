"""The verifier as a real process (uvicorn, uvloop, httptools) against a real Redis that dies.

Redis killed mid-run gives 503 with Retry-After (never 200, never 401); Redis restarted gives
200 again with no verifier restart. Revocation by the issuer's own code path (delete + publish)
is seen on the next request, with and without the revocation cache.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from pathlib import Path

import httpx

from authgate_issuer.store import grants
from testsupport.redis_server import RedisServer
from testsupport.tokens import TokenMinter, mint_sync
from testsupport.verifier import MCP_A, bearer, forwarded, start_verifier, verifier_env


def eventually(check: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "condition not reached"
        time.sleep(0.05)


def test_redis_outage_is_503_and_recovery_needs_no_restart(tmp_path: Path, keys_dir: Path) -> None:
    server = RedisServer(tmp_path / "redis", appendonly=True).start()
    proc = None
    try:
        minted = mint_sync(server.url, keys_dir, resources=[MCP_A])
        env = verifier_env(
            server.url, REDIS_CONNECT_TIMEOUT_MS="200", REDIS_SOCKET_TIMEOUT_MS="500"
        )
        proc = start_verifier(env, tmp_path)
        headers = {**forwarded(MCP_A), **bearer(minted.token)}
        url = proc.url + "/verify"
        ok = httpx.get(url, headers=headers)
        assert ok.status_code == 200 and ok.headers["x-user-name"] == "octocat"
        assert "server" not in ok.headers

        server.kill()
        statuses = [httpx.get(url, headers=headers, timeout=5).status_code for _ in range(5)]
        assert statuses == [503] * 5
        down = httpx.get(url, headers=headers, timeout=5)
        assert down.headers["retry-after"] and down.json()["error"] == "temporarily_unavailable"
        assert httpx.get(proc.url + "/health", timeout=5).status_code == 503

        server.start()
        eventually(lambda: httpx.get(url, headers=headers, timeout=5).status_code == 200)
        assert httpx.get(proc.url + "/health").json()["redis"] == "connected"
    finally:
        if proc is not None:
            proc.stop()
        server.stop()


def test_revocation_seen_on_next_request_with_and_without_cache(
    tmp_path: Path, keys_dir: Path, redis_url: str
) -> None:
    async def mint_two() -> tuple[str, str, str, str]:
        async with TokenMinter.open(redis_url, keys_dir) as minter:
            a = await minter.mint(resources=[MCP_A])
            b = await minter.mint(resources=[MCP_A])
            return a.token, a.jti, b.token, b.jti

    async def revoke(jti: str) -> None:
        async with TokenMinter.open(redis_url, keys_dir) as minter:
            assert await grants.revoke_token(minter.ctx.redis, jti)

    token_a, jti_a, token_b, jti_b = asyncio.run(mint_two())
    plain = start_verifier(verifier_env(redis_url), tmp_path / "plain")
    cached = start_verifier(verifier_env(redis_url, REVOCATION_CACHE_MS="60000"), tmp_path / "c")
    try:
        for proc, token, jti in ((plain, token_a, jti_a), (cached, token_b, jti_b)):
            headers = {**forwarded(MCP_A), **bearer(token)}
            url = proc.url + "/verify"
            assert httpx.get(url, headers=headers).status_code == 200
            assert httpx.get(url, headers=headers).status_code == 200
            asyncio.run(revoke(jti))

            # With a 60 s cache only the pub/sub message can make this immediate.
            def refused(u: str = url, h: dict[str, str] = headers) -> bool:
                return httpx.get(u, headers=h).status_code == 401

            eventually(refused, 2.0)
            response = httpx.get(url, headers=headers)
            assert 'error="invalid_token"' in response.headers["www-authenticate"]
    finally:
        plain.stop()
        cached.stop()
