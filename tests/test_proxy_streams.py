"""Event streams through each proxy running its shipped config: many MCP SDK sessions in a row,
none ending early, and each event passed on as it comes, with no flush setting in any config.

Caddy 2.6.2 to 2.11.4 with ``flush_interval -1`` on the MCP ``reverse_proxy`` end some
sessions early ("SSE stream ended without a response", "peer closed connection without sending
complete message body"; docs: Troubleshooting): 7-15 % of them behind a bare ``reverse_proxy``,
about 1 % behind the shipped config's ``forward_auth`` (2 of 200 measured), too rare for a run of
this size to catch every time; so the shipped Caddyfile is also checked for the setting itself.
Traefik's ``flushInterval: -1ms`` did the same (3 of 300 sessions); Go's reverse proxy (Traefik)
and Caddy send ``text/event-stream`` answers on every write without it, which the lock-step
stream below proves: its second event is sent only once the client has read the first.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import httpx
import httpx2
import pytest
from mcp.client import Client
from mcp.client.streamable_http import streamable_http_client

from testsupport.gateway import Gateway, running_gateway
from testsupport.proxies import DOMAIN, MCP_A, MCP_A_HOST, PROXIES, SHIPPED, installed
from testsupport.raw_http import serve_in_thread
from testsupport.service import ServiceProcess, python_module

SESSIONS = 100


class ToProxy(httpx2.AsyncHTTPTransport):
    """The example's public hosts sent to one proxy's loopback port, Host header kept."""

    def __init__(self, port: int) -> None:
        super().__init__()
        self.port = port

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        if request.url.host.endswith("." + DOMAIN):
            request.url = request.url.copy_with(scheme="http", host="127.0.0.1", port=self.port)
        return await super().handle_async_request(request)


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    directory = tmp_path_factory.mktemp("streams")
    demo = ServiceProcess(
        python_module("devstack.demo_mcp", "--host", "127.0.0.1", "--port", "{port}"),
        {"DEMO_MCP_ALLOWED_HOSTS": MCP_A.removeprefix("https://")},
        directory / "demo-mcp.log",
    ).start(expect_healthy=True)
    try:
        ports = {"mcp_a": demo.port, "github": demo.port, "jira": demo.port}
        with running_gateway(directory, upstreams=ports) as gw:
            yield gw
    finally:
        demo.stop()


async def sessions(port: int, token: str) -> list[str]:
    """SESSIONS sessions (initialize, tools/call, tools/list); what each failure said."""
    failures = []
    for n in range(SESSIONS):
        http = httpx2.AsyncClient(
            headers={"Authorization": f"Bearer {token}"}, timeout=30, transport=ToProxy(port)
        )
        try:
            with anyio.fail_after(30):
                async with (
                    http,
                    Client(streamable_http_client(MCP_A + "/mcp", http_client=http)) as c,
                ):
                    echoed = await c.call_tool("echo", {"text": f"n{n}"})
                    assert "".join(getattr(b, "text", "") for b in echoed.content) == f"n{n}"
                    assert {t.name for t in (await c.list_tools()).tools} >= {"echo", "whoami"}
        except Exception as exc:  # every way a session can end early is counted
            failures.append(repr(exc)[:200])
    return failures


@pytest.mark.parametrize("proxy", [p for p in PROXIES if installed(p)])
def test_no_mcp_session_ends_early(gateway: Gateway, proxy: str, tmp_path: Path) -> None:
    token = gateway.mint(MCP_A).token
    failures = anyio.run(sessions, gateway.port(proxy), token)
    assert failures == [], failures


def test_the_shipped_caddy_configs_set_no_flush_interval() -> None:
    devstack = Path(__file__).resolve().parents[1] / "devstack" / "proxy" / "Caddyfile"
    for path in (SHIPPED["caddy"], devstack):
        lines = [line.split("#", 1)[0] for line in path.read_text().splitlines()]
        assert not any("flush_interval" in line for line in lines), path


RELEASED = threading.Event()


async def lock_step(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """An event stream whose second event waits (10 s at most) for the client to have read the
    first: a proxy that held the first back would make it say "timeout"."""
    if scope["type"] != "http":
        return
    headers = [(b"content-type", b"text/event-stream"), (b"cache-control", b"no-store")]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": b"data: one\n\n", "more_body": True})
    released = await asyncio.to_thread(RELEASED.wait, 10)
    last = b"data: released\n\n" if released else b"data: timeout\n\n"
    await send({"type": "http.response.body", "body": last})


@pytest.fixture(scope="module")
def sse_gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    with serve_in_thread(lock_step) as upstream:
        port = upstream.config.port
        ports = {"mcp_a": port, "github": port, "jira": port}
        with running_gateway(tmp_path_factory.mktemp("sse"), upstreams=ports) as gw:
            yield gw


@pytest.mark.parametrize("proxy", [p for p in PROXIES if installed(p)])
def test_each_event_is_passed_on_as_it_comes(sse_gateway: Gateway, proxy: str) -> None:
    RELEASED.clear()
    token = sse_gateway.mint(MCP_A).token
    headers = {"Host": MCP_A_HOST, "Authorization": f"Bearer {token}"}
    url = sse_gateway.url(proxy) + "/mcp"
    with httpx.stream("GET", url, headers=headers, timeout=30) as answer:
        assert answer.status_code == 200
        lines = answer.iter_lines()
        assert next(line for line in lines if line) == "data: one"
        RELEASED.set()
        assert next(line for line in lines if line) == "data: released"
