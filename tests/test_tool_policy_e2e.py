"""The policy file's tool rules end to end: a real Traefik running the shipped config forwards
``Mcp-Method`` / ``Mcp-Name`` to a real verifier process reading a policy file, which decides
per tool; allowed calls reach the demo MCP server, which refuses a header/body mismatch.

Real Redis, issuer, verifier, proxies and demo server on loopback sockets. Raw requests through
each shipped proxy config (Traefik, nginx, Caddy: each passes the request's headers to the auth
call) show each refusal's status, body and challenge; the official MCP SDK client (revision
2026-07-28, which mirrors the method and tool name into the headers) calls the tools through
Traefik.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import httpx2
import jwt
import pytest
from mcp.client import Client
from mcp.client.streamable_http import streamable_http_client

from testsupport.echo_upstream import EchoUpstream
from testsupport.gateway import Gateway, running_gateway
from testsupport.proxies import DOMAIN, GITHUB, MCP_A, MCP_A_HOST, PROXIES, TOOLS_HOST
from testsupport.service import ServiceProcess, python_module
from testsupport.tokens import TokenMinter

NEW = "2026-07-28"
POLICY = f"""
services:
  - resource: {MCP_A}
    tools:
      rules:
        - {{method: tools/call, name: echo, scopes: [mcp:echo]}}
        - {{method: tools/call, name: whoami, groups: [acme/ops]}}
  - resource: {GITHUB}
    allow: {{orgs: [acme]}}
"""


@dataclass
class Setup:
    gateway: Gateway
    github: EchoUpstream
    verifier_log: Path

    def token(self, resource: str, scope: str, groups: list[str] | None = None) -> str:
        minted = self.gateway.mint(resource, scope=scope)
        if groups is None:
            return minted.token
        return resign(self.gateway, minted.token, groups=groups)


def resign(gateway: Gateway, token: str, **claims: Any) -> str:
    """The token with ``claims`` added, signed with the issuer's key (same jti: still live)."""

    async def key() -> Any:
        stack = gateway.stack
        async with TokenMinter.open(stack.redis_url, stack.directory / "keys") as minter:
            return minter.ctx.keys.current.key

    payload = {**jwt.decode(token, options={"verify_signature": False}), **claims}
    header = jwt.get_unverified_header(token)
    return jwt.encode(payload, asyncio.run(key()), algorithm="RS256", headers=header)


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Setup]:
    directory = tmp_path_factory.mktemp("tool-policy")
    policy = directory / "policy.yaml"
    policy.write_text(POLICY)
    demo = ServiceProcess(
        python_module("devstack.demo_mcp", "--host", "127.0.0.1", "--port", "{port}"),
        {"DEMO_MCP_ALLOWED_HOSTS": MCP_A_HOST},
        directory / "demo-mcp.log",
    ).start(expect_healthy=True)
    github = EchoUpstream().start()
    verifier_env = {
        "POLICY_FILE": str(policy),
        "LOG_DECISIONS": "tools",
        "LOG_FORMAT": "json",
        "LOG_LEVEL": "INFO",
        "SCOPES_SUPPORTED": "mcp:*,mcp:echo",
    }
    ports = {"mcp_a": demo.port, "github": github.port, "jira": github.port}
    try:
        with running_gateway(directory, upstreams=ports, verifier_env=verifier_env) as gw:
            assert set(gw.proxies) == set(PROXIES), "Traefik, nginx and Caddy are required"
            assert gw.stack.verifier is not None
            yield Setup(gw, github, gw.stack.verifier.log_path)
    finally:
        github.stop()
        demo.stop()


def post(
    setup: Setup, proxy: str, token: str, body: dict[str, Any], **headers: str
) -> httpx.Response:
    headers = {"Accept": "application/json, text/event-stream", **headers}
    return setup.gateway.request(
        proxy, "POST", MCP_A_HOST, "/mcp", token=token, headers=headers, json=body
    )


def error_of(response: httpx.Response, proxy: str) -> str | None:
    """The verifier's error code; nginx answers a refusal with its own page (the status and the
    challenge are what clients read), so there is none to read through it."""
    return None if proxy == "nginx" else str(response.json()["error"])


def call_body(name: str) -> dict[str, Any]:
    params = {"name": name, "arguments": {"text": "hi"}}
    return {"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": params}


def versioned(method: str, name: str | None = None) -> dict[str, str]:
    headers = {"MCP-Protocol-Version": NEW, "Mcp-Method": method}
    return headers if name is None else {**headers, "Mcp-Name": name}


def audit_lines(setup: Setup) -> list[dict[str, Any]]:
    lines = []
    for line in setup.verifier_log.read_text().splitlines():
        if line.startswith("{"):
            record = json.loads(line)
            if record.get("event") == "decision":
                lines.append(record)
    return lines


def test_missing_tool_scope_is_a_step_up_403(setup: Setup, proxy: str) -> None:
    token = setup.token(MCP_A, "mcp:*")
    response = post(setup, proxy, token, call_body("echo"), **versioned("tools/call", "echo"))
    assert response.status_code == 403
    assert error_of(response, proxy) in ("insufficient_scope", None)
    assert response.headers["www-authenticate"].startswith(
        'Bearer error="insufficient_scope", scope="mcp:echo", resource_metadata='
    )


def test_group_rule_is_access_denied_without_step_up(setup: Setup, proxy: str) -> None:
    token = setup.token(MCP_A, "mcp:* mcp:echo")
    response = post(setup, proxy, token, call_body("whoami"), **versioned("tools/call", "whoami"))
    assert response.status_code == 403 and error_of(response, proxy) in ("access_denied", None)
    assert "www-authenticate" not in response.headers


def test_unversioned_requests_are_refused_where_tool_rules_exist(setup: Setup, proxy: str) -> None:
    token = setup.token(MCP_A, "mcp:* mcp:echo")
    for headers in ({}, {"MCP-Protocol-Version": "2025-11-25"}):
        response = post(setup, proxy, token, call_body("echo"), **headers)
        assert response.status_code == 403 and error_of(response, proxy) in ("access_denied", None)
    # The same request of revision 2026-07-28 passes: the proxy forwarded the headers.
    response = post(setup, proxy, token, call_body("echo"), **versioned("tools/call", "echo"))
    assert response.status_code != 403, response.text


def test_header_body_mismatch_is_refused_by_the_server(setup: Setup, proxy: str) -> None:
    # The verifier allows "echo" for this token; the body calls "whoami", which its group rule
    # would have refused. The demo server, as 2026-07-28 requires, refuses the mismatch.
    token = setup.token(MCP_A, "mcp:* mcp:echo")
    response = post(setup, proxy, token, call_body("whoami"), **versioned("tools/call", "echo"))
    assert response.status_code == 400, response.text
    assert "Mcp-Name does not match" in response.json()["error"]["message"]


class PublicHosts(httpx2.AsyncHTTPTransport):
    """The example's hosts resolved to Traefik's loopback port; the Host header stays public."""

    def __init__(self, port: int) -> None:
        super().__init__()
        self.port = port

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        if request.url.host.endswith("." + DOMAIN):
            request.url = request.url.copy_with(scheme="http", host="127.0.0.1", port=self.port)
        return await super().handle_async_request(request)


async def sdk_calls(port: int, token: str, *tools: str) -> list[str]:
    http = httpx2.AsyncClient(
        headers={"Authorization": f"Bearer {token}"}, transport=PublicHosts(port), timeout=20
    )
    results = []
    async with http, Client(streamable_http_client(MCP_A + "/mcp", http_client=http)) as client:
        for tool in tools:
            try:
                result = await client.call_tool(tool, {"text": "hi"})
                results.append("".join(getattr(b, "text", "") for b in result.content))
            except Exception as exc:  # the SDK surfaces the gateway's 403 as an error
                results.append(f"refused: {type(exc).__name__}")
    return results


def test_sdk_client_calls_through_traefik_per_tool(setup: Setup) -> None:
    port = setup.gateway.proxies["traefik"].port
    token = setup.token(MCP_A, "mcp:* mcp:echo")
    echo, whoami = asyncio.run(sdk_calls(port, token, "echo", "whoami"))
    assert echo == "hi"
    assert whoami.startswith("refused")
    lines = [line for line in audit_lines(setup) if line.get("mcp_method") == "tools/call"]
    allowed = [x for x in lines if x["decision"] == "allowed" and x["mcp_name"] == "echo"]
    denied = [x for x in lines if x["decision"] == "denied" and x["mcp_name"] == "whoami"]
    assert allowed and denied and denied[-1]["reason"] == "group_required"
    assert allowed[-1]["user"] == "github|octocat" and allowed[-1]["resource"] == MCP_A
    log = setup.verifier_log.read_text()
    assert token not in log and token.split(".")[2] not in log
    metrics = httpx.get(setup.gateway.stack.verifier.url + "/metrics").text  # type: ignore[union-attr]
    assert 'tool="echo"' in metrics and 'tool="whoami"' in metrics


def test_service_allow_list_and_groups_header(setup: Setup, proxy: str) -> None:
    member = setup.token(GITHUB, "mcp:*", groups=["acme", "acme/ops"])
    spoofed = {"X-User-Groups": "evil", "X_User_Groups": "evil"}
    response = setup.gateway.request(
        proxy, "GET", TOOLS_HOST, "/github/x", token=member, headers=spoofed
    )
    assert response.status_code == 200, response.text
    assert setup.github.last().header("X-User-Groups") == ["acme,acme/ops"]
    assert setup.github.last().header("X_User_Groups") == []
    outsider = setup.token(GITHUB, "mcp:*", groups=["other"])
    response = setup.gateway.request(proxy, "GET", TOOLS_HOST, "/github/x", token=outsider)
    assert response.status_code == 403 and error_of(response, proxy) in ("access_denied", None)
