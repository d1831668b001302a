"""``GET /``: a small page saying what this host is, with links for people who land on it
(an operator checking a deployment, a user following a link) instead of a JSON 404."""

from __future__ import annotations

from html import escape

from fastapi import APIRouter, Depends
from starlette.responses import HTMLResponse

from ..context import IssuerContext, get_context
from ..web.pages import page

router = APIRouter()


def home_body(*, gateway_name: str, issuer_url: str) -> str:
    """The page's body; every value escaped (``GATEWAY_NAME`` is operator text)."""
    links = (
        ("Authorization server metadata (RFC 8414)", "/.well-known/oauth-authorization-server"),
        ("Signing keys (JWK Set)", "/jwks"),
        ("API description (OpenAPI)", "/openapi.json"),
        ("Health", "/health"),
    )
    items = "".join(f'<li><a href="{escape(href)}">{escape(text)}</a></li>' for text, href in links)
    return (
        f"<p>This is the sign-in service of <bdi>{escape(gateway_name)}</bdi>: the OAuth 2.1"
        " authorization server that MCP clients (Claude, VS Code, Cursor, MCP Inspector…) use"
        " to get access to the MCP services behind this gateway.</p>"
        "<p>There is nothing to do here: your MCP client opens the sign-in pages itself when a"
        " service needs it. To see which applications can use MCP services as you, and to"
        ' revoke them, open <a href="/account">Connected apps</a>.</p>'
        f"<p>Issuer: <code>{escape(issuer_url)}</code></p><ul>{items}</ul>"
    )


@router.get("/", response_class=HTMLResponse, include_in_schema=False)
async def home(ctx: IssuerContext = Depends(get_context)) -> HTMLResponse:
    settings = ctx.settings
    body = home_body(gateway_name=settings.gateway_name, issuer_url=settings.issuer_url)
    return page(settings.gateway_name, body, 200)
