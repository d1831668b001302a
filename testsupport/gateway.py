"""The whole gateway as real processes: Authgate (``testsupport.stack``) behind nginx and Caddy.

    with running_gateway(tmp, upstream_port=echo.port) as gw:
        gw.url("caddy")                       # http://127.0.0.1:<port>, an MCP host
        minted = gw.mint("caddy")             # a token whose aud is that host
        gw.revoke(minted.jti)                 # the issuer's own revocation path

Both proxies run at once, each on its own port, in front of one verifier and one upstream; the
issuer may issue tokens for both hosts (``ALLOWED_RESOURCES``).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import redis.asyncio as aioredis

from authgate_issuer.store.grants import revoke_token

from .ports import free_port
from .proxies import PROXIES, ProxyProcess, start_proxy
from .stack import Stack, StackOptions, start_stack
from .tokens import Minted, mint_sync


@dataclass
class Gateway:
    stack: Stack
    proxies: dict[str, ProxyProcess]

    def url(self, kind: str) -> str:
        return self.proxies[kind].url

    def mint(
        self, kind: str | None = None, *, resource: str | None = None, scope: str = "mcp:*"
    ) -> Minted:
        """A token from the issuer's own code path, for the proxy ``kind``'s host (or ``resource``)."""
        resources = [resource or self.url(kind or "caddy")]
        env = {"ISSUER_URL": self.stack.issuer_url, "SCOPES_SUPPORTED": f"mcp:*,{scope}"}
        keys = self.stack.directory / "keys"
        return mint_sync(self.stack.redis_url, keys, resources=resources, scope=scope, env=env)

    def revoke(self, jti: str) -> None:
        async def run() -> None:
            client = aioredis.Redis.from_url(self.stack.redis_url)
            try:
                assert await revoke_token(client, jti), f"{jti} was not live"
            finally:
                await client.aclose()

        asyncio.run(run())


def resources_for(ports: Mapping[str, int]) -> str:
    return ",".join(f"http://{h}:{p}" for p in ports.values() for h in ("127.0.0.1", "localhost"))


@contextlib.contextmanager
def running_gateway(
    directory: Path,
    *,
    upstream_port: int,
    issuer_env: Mapping[str, str] | None = None,
    verifier_env: Mapping[str, str] | None = None,
) -> Iterator[Gateway]:
    ports = {kind: free_port() for kind in PROXIES}
    options = StackOptions(
        issuer_env={"ALLOWED_RESOURCES": resources_for(ports), **(issuer_env or {})},
        verifier_env=dict(verifier_env or {}),
    )
    stack = start_stack(directory / "stack", options)
    proxies: dict[str, ProxyProcess] = {}
    try:
        assert stack.verifier is not None
        for kind, port in ports.items():
            proxies[kind] = start_proxy(
                kind,
                directory / kind,
                verifier_port=stack.verifier.port,
                upstream_port=upstream_port,
                port=port,
            )
        yield Gateway(stack, proxies)
    finally:
        for proxy in proxies.values():
            proxy.stop()
        stack.stop()
