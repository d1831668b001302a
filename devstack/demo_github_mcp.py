"""The "GitHub tools" demo MCP server: a tool that calls GitHub's API as the signed-in user.

``python -m devstack.demo_github_mcp --port 8092 --token-url <issuer>/token --github-api-url
<GitHub API base>`` with ``DEMO_GITHUB_CLIENT_ID`` / ``DEMO_GITHUB_CLIENT_SECRET`` (the
exchanger client ``authgate clients create-exchanger`` made for this server's resource; never on
the command line, where ``ps`` shows it). ``make run`` runs it twice behind the gateway:

* **token exchange** (default): the request carries the client's Authgate access token, whose
  audience is this server. The MCP spec forbids passing it on ("token passthrough"), so the
  server exchanges it at the issuer's ``/token`` (RFC 8693 §2.1: ``subject_token``,
  ``audience=github``, HTTP Basic client authentication) for the user's GitHub token and calls
  ``GET {github-api-url}/user`` with that one.
* ``--injected``: the verifier already did the exchange and the proxy replaced the client's
  ``Authorization`` with ``Bearer <GitHub token>`` (policy ``inject_upstream_token``): the server
  uses the token it receives as is, like an unmodified GitHub MCP server would.

The tool ``github_whoami`` answers ``{"login", "id"}`` of the GitHub user. Neither token is ever
logged or put in an answer; errors name the RFC 8693 §2.2.2 error code or the HTTP status only.
"""

from __future__ import annotations

import argparse
import logging
import os
from dataclasses import dataclass, field
from typing import Any

import httpx
import uvicorn
from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from starlette.applications import Starlette

from devstack.demo_mcp import add_server_arguments, allowed_hosts, http_app

LOG = logging.getLogger("authgate.demo-github")
# RFC 8693 §2.1 / §3
TOKEN_EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange"
ACCESS_TOKEN_TYPE = "urn:ietf:params:oauth:token-type:access_token"
GITHUB_AUDIENCE = "github"
TIMEOUT = httpx.Timeout(10.0, connect=2.0)
USER_AGENT = "authgate-demo-github-tools"  # GitHub asks every API client for one


@dataclass(frozen=True)
class GitHubToolsSettings:
    github_api_url: str
    injected: bool
    token_url: str = ""
    """The issuer's /token (exchange mode)."""
    client_id: str = ""
    client_secret: str = field(default="", repr=False)


def bearer_token(headers: Any) -> str | None:
    """The request's ``Authorization: Bearer`` token (RFC 6750 §2.1), None without one."""
    scheme, _, token = (headers or {}).get("authorization", "").partition(" ")
    token = token.strip()
    return token if scheme.lower() == "bearer" and token else None


async def exchange(http: httpx.AsyncClient, settings: GitHubToolsSettings, token: str) -> str:
    """The user's GitHub token for ``token`` (the client's access token to this server)."""
    form = {
        "grant_type": TOKEN_EXCHANGE,
        "subject_token": token,
        "subject_token_type": ACCESS_TOKEN_TYPE,
        "audience": GITHUB_AUDIENCE,
    }
    try:
        answer = await http.post(
            settings.token_url, data=form, auth=(settings.client_id, settings.client_secret)
        )
    except httpx.HTTPError as exc:
        LOG.warning("token exchange failed: the issuer did not answer (%s)", type(exc).__name__)
        raise ToolError("token exchange failed: the issuer did not answer") from None
    try:
        body = answer.json()
    except ValueError:
        body = {}
    upstream = body.get("access_token") if isinstance(body, dict) else None
    if answer.status_code != 200 or not isinstance(upstream, str) or not upstream:
        error = body.get("error", "unknown") if isinstance(body, dict) else "unknown"
        LOG.info("token exchange refused: HTTP %s %s", answer.status_code, error)
        raise ToolError(f"token exchange refused: {error} (HTTP {answer.status_code})")
    return upstream


async def github_user(http: httpx.AsyncClient, api_url: str, token: str) -> dict[str, Any]:
    """``GET /user`` with the user's GitHub token: their login and numeric id."""
    try:
        answer = await http.get(
            f"{api_url.rstrip('/')}/user",
            headers={"Authorization": f"Bearer {token}", "User-Agent": USER_AGENT},
        )
    except httpx.HTTPError as exc:
        raise ToolError(f"GitHub did not answer ({type(exc).__name__})") from None
    if answer.status_code != 200:
        raise ToolError(f"GitHub refused the upstream token (HTTP {answer.status_code})")
    user = answer.json()
    return {"login": user["login"], "id": user["id"]}


async def whoami_upstream(settings: GitHubToolsSettings, headers: Any) -> dict[str, Any]:
    token = bearer_token(headers)
    if token is None:
        raise ToolError("no bearer token reached this server")
    async with httpx.AsyncClient(timeout=TIMEOUT) as http:
        upstream = token if settings.injected else await exchange(http, settings, token)
        return await github_user(http, settings.github_api_url, upstream)


def build_app(settings: GitHubToolsSettings, hosts: list[str]) -> Starlette:
    mode = "injected upstream token" if settings.injected else "token exchange"
    server: MCPServer[object] = MCPServer(
        "authgate-demo-github",
        instructions=f"Calls GitHub as the signed-in user ({mode}).",
        log_level="WARNING",
    )

    @server.tool(
        description="Return the GitHub login and id of the signed-in user, as GitHub's API sees them."
    )
    async def github_whoami(ctx: Context) -> dict[str, Any]:
        return await whoami_upstream(settings, ctx.headers)

    return http_app(server, hosts)


def settings_from(args: argparse.Namespace) -> GitHubToolsSettings:
    settings = GitHubToolsSettings(
        github_api_url=args.github_api_url,
        injected=args.injected,
        token_url=args.token_url or "",
        client_id=os.environ.get("DEMO_GITHUB_CLIENT_ID", ""),
        client_secret=os.environ.get("DEMO_GITHUB_CLIENT_SECRET", ""),
    )
    if not settings.injected and not (
        settings.token_url and settings.client_id and settings.client_secret
    ):
        raise SystemExit(
            "demo-github-mcp: token exchange needs --token-url, DEMO_GITHUB_CLIENT_ID and"
            " DEMO_GITHUB_CLIENT_SECRET (or --injected)"
        )
    return settings


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="demo-github-mcp", description=__doc__.split("\n")[0])
    add_server_arguments(parser)
    parser.add_argument("--github-api-url", required=True, help="GitHub's API base URL")
    parser.add_argument("--token-url", help="the issuer's /token (token exchange)")
    parser.add_argument(
        "--injected",
        action="store_true",
        help="use the bearer token received as the GitHub token (the verifier injected it)",
    )
    args = parser.parse_args(argv)
    app = build_app(settings_from(args), allowed_hosts(args))
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
