"""The verifier for tests: its environment, an in-process ASGI client, and a real process."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import orjson

from authgate_verifier.app import VerifierApp

from .service import ServiceProcess, python_module

ISSUER_URL = "https://auth.example.com"  # what testsupport.issuer.issuer_env mints with
MCP_A = "https://mcp-a.example.com"
MCP_B = "https://mcp-b.example.com"


def verifier_env(redis_url: str, **overrides: str) -> dict[str, str]:
    """The verifier's rules tested through the forwarded headers, as ``forwarded`` sends them
    (RESOURCE_SOURCE=forwarded-headers); the default, resources bound in the auth address, is
    tested with ``verify_path`` and through the real proxies."""
    env = {
        "ISSUER_URL": ISSUER_URL,
        "REDIS_URL": redis_url,
        "LOG_FORMAT": "text",
        "RESOURCE_SOURCE": "forwarded-headers",
    }
    env.update(overrides)
    return env


def forwarded(resource: str = MCP_A, uri: str = "/mcp") -> dict[str, str]:
    """The X-Forwarded-* headers Traefik sends for a request to ``resource``."""
    proto, _, host = resource.partition("://")
    return {
        "X-Forwarded-Method": "POST",
        "X-Forwarded-Proto": proto,
        "X-Forwarded-Host": host,
        "X-Forwarded-Uri": uri,
        "X-Forwarded-For": "203.0.113.7",
    }


def verify_path(resource: str = MCP_A) -> str:
    """The auth address a proxy route for ``resource`` calls (RESOURCE_SOURCE=address)."""
    return "/verify?" + urlencode({"resource": resource})


def bearer(token: str, scheme: str = "Bearer") -> dict[str, str]:
    return {"Authorization": f"{scheme} {token}"}


@dataclass(frozen=True)
class AsgiResponse:
    status: int
    headers: dict[str, str]
    raw_headers: list[tuple[bytes, bytes]]
    body: bytes

    def json(self) -> Any:
        return orjson.loads(self.body)


async def call(
    app: VerifierApp,
    path: str = "/verify",
    headers: Mapping[str, str] | list[tuple[bytes, bytes]] | None = None,
    method: str = "GET",
    body: bytes = b"",
) -> AsgiResponse:
    """One HTTP request through the ASGI app, as uvicorn would make it."""
    if isinstance(headers, list):
        raw = headers
    else:
        raw = [(k.lower().encode(), v.encode("latin-1")) for k, v in (headers or {}).items()]
    path, _, query = path.partition("?")
    scope = {
        "type": "http",
        "method": method,
        "path": path,
        "headers": raw,
        "query_string": query.encode("latin-1"),
    }
    sent: list[dict[str, Any]] = []
    body_read = False

    async def receive() -> dict[str, Any]:
        nonlocal body_read
        body_read = True
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await app(scope, receive, send)
    assert not body_read, "the verifier must never read a request body"
    start, content = sent[0], b"".join(m.get("body", b"") for m in sent[1:])
    raw_out = list(start["headers"])
    out = {k.decode(): v.decode("latin-1") for k, v in raw_out}
    return AsgiResponse(start["status"], out, raw_out, content)


@contextlib.asynccontextmanager
async def running(app: VerifierApp) -> AsyncIterator[VerifierApp]:
    """The app with its lifespan run (keys loaded, background tasks started)."""
    await app.startup()
    try:
        yield app
    finally:
        await app.shutdown()


def start_verifier(env: dict[str, str], log_dir: Path, *, workers: int = 1) -> ServiceProcess:
    """``python -m authgate_verifier`` on a free loopback port, once it answers /health."""
    args = python_module(
        "authgate_verifier", "--host", "127.0.0.1", "--port", "{port}", "--workers", str(workers)
    )
    return ServiceProcess(args, env, log_dir / "verifier.log").start()
