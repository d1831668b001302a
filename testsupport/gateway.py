"""The example gateway as real processes: Authgate (``testsupport.stack``) behind the SHIPPED
Traefik, nginx and Caddy configs (``testsupport.proxies``), each on its own loopback port.

    with running_gateway(tmp, upstreams={"mcp_a": a.port, "github": g.port, "jira": j.port}) as gw:
        gw.get("nginx", MCP_A_HOST, "/mcp", token=gw.mint(MCP_A).token)
        gw.raw("caddy", TOOLS_HOST, "/%6Aira/x")   # the request line exactly as written

Every proxy fronts one verifier and one issuer; issuer and verifier list the example's services
(``proxies.RESOURCES``) in ``ALLOWED_RESOURCES``. Public host names are only ever sent as Host
headers to the loopback ports.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import redis.asyncio as aioredis

from authgate_issuer.store.grants import revoke_token

from .proxies import PROXIES, RESOURCES, ProxyProcess, installed, start_proxy
from .raw_http import exchange
from .stack import Stack, StackOptions, start_stack
from .tokens import Minted, mint_sync


@dataclass
class Gateway:
    stack: Stack
    proxies: dict[str, ProxyProcess]

    def url(self, kind: str) -> str:
        return self.proxies[kind].url

    def port(self, kind: str) -> int:
        return self.proxies[kind].port

    def mint(self, *resources: str, scope: str = "mcp:*") -> Minted:
        """A token from the issuer's own code path, bound to ``resources`` exactly as given
        (even ones this issuer would refuse to issue for: that is what attack tests need)."""
        env = {"ISSUER_URL": self.stack.issuer_url, "SCOPES_SUPPORTED": f"mcp:*,{scope}"}
        env["ALLOWED_RESOURCES"] = ",".join(sorted({*RESOURCES, *resources}))
        keys = self.stack.directory / "keys"
        return mint_sync(
            self.stack.redis_url, keys, resources=list(resources), scope=scope, env=env
        )

    def request(
        self,
        kind: str,
        method: str,
        host: str,
        target: str,
        *,
        token: str | None = None,
        headers: Mapping[str, str] | None = None,
        **kwargs: Any,
    ) -> httpx.Response:
        """One request through ``kind`` with ``Host: host`` (httpx; it normalises dot
        segments, so use ``raw`` for path spellings)."""
        sent = {"Host": host, **(headers or {})}
        if token is not None:
            sent["Authorization"] = f"Bearer {token}"
        url = self.url(kind) + target
        return httpx.request(method, url, headers=sent, timeout=10, **kwargs)

    def get(self, kind: str, host: str, target: str, **kwargs: Any) -> httpx.Response:
        return self.request(kind, "GET", host, target, **kwargs)

    def raw(
        self,
        kind: str,
        host: str,
        target: str,
        *,
        token: str | None = None,
        headers: Sequence[tuple[str, str]] = (),
    ) -> bytes:
        """The response to a request line written byte for byte: ``GET <target> HTTP/1.1``."""
        lines = [f"GET {target} HTTP/1.1", f"Host: {host}"]
        if token is not None:
            lines.append(f"Authorization: Bearer {token}")
        lines += [f"{name}: {value}" for name, value in headers]
        request = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
        return exchange(self.port(kind), request)[0]

    def revoke(self, jti: str) -> None:
        async def run() -> None:
            client = aioredis.Redis.from_url(self.stack.redis_url)
            try:
                assert await revoke_token(client, jti), f"{jti} was not live"
            finally:
                await client.aclose()

        asyncio.run(run())


@contextlib.contextmanager
def running_gateway(
    directory: Path,
    *,
    upstreams: Mapping[str, int],
    kinds: Sequence[str] = PROXIES,
    issuer_env: Mapping[str, str] | None = None,
    verifier_env: Mapping[str, str] | None = None,
) -> Iterator[Gateway]:
    """The stack plus each installed proxy of ``kinds`` (``upstreams``: ``mcp_a``, ``github``,
    ``jira`` -> port)."""
    allowed = {"ALLOWED_RESOURCES": ",".join(RESOURCES)}
    options = StackOptions(
        issuer_env={**allowed, **(issuer_env or {})},
        verifier_env={**allowed, **(verifier_env or {})},
    )
    stack = start_stack(directory / "stack", options)
    proxies: dict[str, ProxyProcess] = {}
    try:
        assert stack.verifier is not None
        issuer = stack.issuer_url.removeprefix("http://")
        for kind in (k for k in kinds if installed(k)):
            proxies[kind] = start_proxy(
                kind,
                directory / kind,
                verifier_ports=[stack.verifier.port],
                issuer=issuer,
                upstreams=upstreams,
            )
        yield Gateway(stack, proxies)
    finally:
        for proxy in proxies.values():
            proxy.stop()
        stack.stop()
