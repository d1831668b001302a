"""The demo MCP server behind the gateway: the official SDK's server with an ``echo`` tool.

``python -m devstack.demo_mcp --port 8000``. It trusts the proxy in front of it: ``X-User-Name``
is set by the verifier through the proxy (client-sent copies are stripped there), so ``whoami``
shows who the gateway says is calling. Like any server of MCP 2026-07-28 it refuses (400) a
request whose ``Mcp-Method``/``Mcp-Name`` headers disagree with its body (``mcp_headers``).
"""

from __future__ import annotations

import argparse
import os
import re

import uvicorn
from mcp.server.mcpserver import Context, MCPServer
from mcp.server.transport_security import TransportSecuritySettings
from starlette.applications import Starlette
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from devstack.mcp_headers import HeaderBodyCheck

# Loopback hosts on any port: what a browser or MCP client on this machine sends through the proxy.
LOCAL_HOSTS = ("127.0.0.1:*", "localhost:*", "[::1]:*")
# What a browser client (MCP Inspector's "Direct" connection) sends and must read: the gateway
# passes CORS preflights through to this server, which answers them for its own /mcp.
CORS_HEADERS = ["Authorization", "Content-Type", "Accept", "Last-Event-ID"]
CORS_HEADERS += ["Mcp-Protocol-Version", "Mcp-Session-Id", "Mcp-Method", "Mcp-Name"]
CORS_EXPOSED = ["Mcp-Session-Id", "Mcp-Protocol-Version", "WWW-Authenticate"]


def origin_pattern(allowed_hosts: list[str]) -> str:
    """Browser origins on the accepted hosts (``host:*``: any port), http or https."""
    hosts = "|".join(re.escape(h).replace(r"\*", "[0-9]+") for h in allowed_hosts)
    return f"https?://({hosts})"


def build_app(allowed_hosts: list[str]) -> Starlette:
    server: MCPServer[object] = MCPServer(
        "authgate-demo", instructions="Echoes text back.", log_level="WARNING"
    )

    @server.tool(description="Return the given text unchanged.")
    def echo(text: str) -> str:
        return text

    @server.tool(description="Return the user name the gateway forwarded with this call.")
    def whoami(ctx: Context) -> str:
        headers = ctx.headers or {}
        return headers.get("x-user-name", "") or "(no X-User-Name header)"

    return http_app(server, allowed_hosts)


def http_app(server: MCPServer[object], allowed_hosts: list[str]) -> Starlette:
    """``server`` over streamable HTTP at ``/mcp``, with ``/health``, the header/body check and
    CORS for browser clients; also the GitHub tools demo's (demo_github_mcp)."""
    # DNS-rebinding protection stays on: only the public hosts of the gateway are accepted.
    security = TransportSecuritySettings(
        enable_dns_rebinding_protection=True,
        allowed_hosts=allowed_hosts,
        allowed_origins=[f"http://{h}" for h in allowed_hosts]
        + [f"https://{h}" for h in allowed_hosts],
    )
    app = server.streamable_http_app(transport_security=security)
    app.add_route("/health", _health, methods=["GET"])
    # Inside CORS, so a browser client can read the 400 of a header/body mismatch.
    app.add_middleware(HeaderBodyCheck)
    app.add_middleware(
        CORSMiddleware,
        allow_origin_regex=origin_pattern(allowed_hosts),
        allow_methods=["GET", "POST", "DELETE"],
        allow_headers=CORS_HEADERS,
        expose_headers=CORS_EXPOSED,
    )
    return app


async def _health(_: Request) -> Response:
    return JSONResponse({"status": "healthy"})


def add_server_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument(
        "--allowed-host",
        action="append",
        default=[],
        help="Host header value the server accepts (repeatable; host:* for any port); "
        "also DEMO_MCP_ALLOWED_HOSTS, comma-separated. Default: loopback on any port.",
    )


def allowed_hosts(args: argparse.Namespace) -> list[str]:
    extra = [h.strip() for h in os.environ.get("DEMO_MCP_ALLOWED_HOSTS", "").split(",")]
    return [*args.allowed_host, *(h for h in extra if h)] or list(LOCAL_HOSTS)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="demo-mcp", description="Demo MCP server (echo tool)")
    add_server_arguments(parser)
    args = parser.parse_args(argv)
    app = build_app(allowed_hosts(args))
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
