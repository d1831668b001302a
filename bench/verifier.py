"""The verifier section: /verify against the bare ASGI ceiling, all in one run.

Cases: the bare app; a valid token with the Redis revocation check on every request; the same
with ``REVOCATION_CACHE_MS`` on; no token (401); a revoked token (401). One token per case, as
an MCP client sends the same token on every request. Every service stays up for the whole run
and the cases are measured in interleaved rounds (median reported), so load from elsewhere on a
shared machine weighs on all cases alike. The bare app gets the valid-token request too: the
ratio then measures the verifier's work, not the size of the request.
"""

from __future__ import annotations

import asyncio
import statistics
from contextlib import ExitStack
from pathlib import Path

import httpx

from authgate_shared import redis_keys
from testsupport.redis_server import RedisServer
from testsupport.service import ServiceProcess, python_module
from testsupport.tokens import TokenMinter
from testsupport.verifier import MCP_A, forwarded, start_verifier, verifier_env

from .common import Result, print_table, run_wrk, warm_up

REVOCATION_CACHE_MS = "50"
ROUNDS = 3


async def _mint(redis_url: str, keys_dir: Path) -> tuple[str, str]:
    """(valid token, revoked token), minted by the issuer's code path."""
    async with TokenMinter.open(redis_url, keys_dir) as minter:
        valid = await minter.mint(resources=[MCP_A])
        revoked = await minter.mint(resources=[MCP_A])
        await minter.ctx.redis.delete(redis_keys.token(revoked.jti))
        return valid.token, revoked.token


def _median(name: str, runs: list[Result]) -> Result:
    middle = sorted(runs, key=lambda r: r.rps)[len(runs) // 2]
    rps = statistics.median(r.rps for r in runs)
    return Result(
        name, rps, middle.p50_ms, middle.p99_ms, middle.errors, middle.non2xx, middle.status
    )


def run(directory: Path, duration: int) -> list[Result]:
    redis = RedisServer(directory / "redis").start()
    with ExitStack() as stack:
        stack.callback(redis.stop)
        keys_dir = directory / "keys"
        keys_dir.mkdir(mode=0o700)
        valid, revoked = asyncio.run(_mint(redis.url, keys_dir))
        fwd = forwarded(MCP_A)
        with_valid = {**fwd, "Authorization": f"Bearer {valid}"}

        def verifier(**overrides: str) -> ServiceProcess:
            env = verifier_env(redis.url, LOG_FORMAT="json", **overrides)
            proc = start_verifier(env, directory / f"v{len(overrides)}")
            stack.callback(proc.stop)
            return proc

        bare = ServiceProcess(
            python_module("bench.bare_app", "--port", "{port}"),
            {},
            directory / "bare.log",
            health_path="/",
        ).start()
        stack.callback(bare.stop)
        plain, cached = verifier(), verifier(REVOCATION_CACHE_MS=REVOCATION_CACHE_MS)
        # The seed forwards the whole JWT as X-Auth-Token; the header is ~1 KB that uvicorn
        # validates and writes on every 200, so its cost is shown separately.
        lean = verifier(REVOCATION_CACHE_MS=REVOCATION_CACHE_MS, FORWARD_AUTH_TOKEN_HEADER="false")
        cases = [
            ("bare ASGI ceiling", bare, with_valid),
            ("valid token (Redis check each)", plain, with_valid),
            (f"valid token (cache {REVOCATION_CACHE_MS} ms)", cached, with_valid),
            ("valid, cache, no X-Auth-Token", lean, with_valid),
            ("no token (401)", plain, fwd),
            ("revoked token (401)", plain, {**fwd, "Authorization": f"Bearer {revoked}"}),
        ]
        runs: dict[str, list[Result]] = {name: [] for name, _, _ in cases}
        for _, proc, headers in cases:
            warm_up(proc.url + "/verify", headers, directory)
        for _ in range(ROUNDS):
            for name, proc, headers in cases:
                url = proc.url + "/verify"
                status = httpx.get(url, headers=headers).status_code
                runs[name].append(
                    run_wrk(
                        name, url, headers, duration=duration, status=status, directory=directory
                    )
                )
        results = [_median(name, runs[name]) for name, _, _ in cases]
        print_table(f"Verifier /verify, median of {ROUNDS} rounds", results, results[0])
        return results
