"""The issuer's HTML pages: the consent page and the error page.

Everything that comes from a client (name, ids, URIs, scope, resources) goes through
``html.escape`` and sits in its own ``<bdi>`` (HTML §4.5.23), so right-to-left text in it cannot
reorder the sentence around it (registration refuses bidi controls; this also covers records
stored before that rule). Pages cannot be framed (clickjacking, RFC 9700 §4.16: ``X-Frame-Options: DENY``
and CSP ``frame-ancestors 'none'``), run no script at all, and are never cached.
"""

from __future__ import annotations

import base64
import hashlib
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field
from html import escape
from urllib.parse import urlsplit

from starlette.responses import HTMLResponse, Response

from ..settings import is_loopback_host

STYLE = (
    "body{font-family:system-ui,sans-serif;max-width:36rem;margin:3rem auto;padding:0 1rem;"
    "color:#1f2328}code{background:#f6f8fa;padding:0 .2rem;word-break:break-all}"
    ".warn{background:#fff8c5;border:1px solid #d4a72c;padding:.5rem .75rem}"
    "button{font-size:1rem;padding:.5rem 1.25rem;margin-right:.5rem;border-radius:6px;"
    "cursor:pointer}button.primary{background:#1f883d;color:#fff;border:1px solid #1a7f37;"
    "font-weight:600}button.secondary{background:#f6f8fa;color:#1f2328;border:1px solid #d0d7de}"
    ".scopes li{margin:.25rem 0}.scopes code{font-size:.85em;color:#59636e}"
    ".gateway{color:#59636e;margin-top:-.75rem}"
)
_STYLE_HASH = base64.b64encode(hashlib.sha256(STYLE.encode()).digest()).decode()
# No form-action: browsers apply it to the redirect after the POST, which goes to GitHub or to
# the client's own (possibly app-scheme) redirect URI.
CSP = (
    f"default-src 'none'; style-src 'sha256-{_STYLE_HASH}'; base-uri 'none'; frame-ancestors 'none'"
)
PAGE_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Frame-Options": "DENY",
    "Cache-Control": "no-store",
    "Pragma": "no-cache",
}


def page(title: str, body: str, status: int) -> HTMLResponse:
    html = (
        '<!doctype html><html lang="en" dir="ltr"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width,initial-scale=1">'
        f"<title>{escape(title)}</title><style>{STYLE}</style></head>"
        f"<body><h1>{escape(title)}</h1>{body}</body></html>"
    )
    return HTMLResponse(html, status_code=status, headers=PAGE_HEADERS)


def error_page(title: str, detail: str, status: int = 400) -> HTMLResponse:
    return page(title, f"<p>{escape(detail)}</p><p>You can close this window.</p>", status)


def describe_redirect(redirect_uri: str) -> tuple[str, str | None]:
    """(where the browser goes back to, a warning when that is not a web site)."""
    parts = urlsplit(redirect_uri)
    host = parts.hostname or ""
    if parts.scheme in ("http", "https") and is_loopback_host(host):
        return host, (
            "This application runs on your own computer (a loopback address). Approve only if "
            "you started it yourself just now."
        )
    if parts.scheme not in ("http", "https"):
        return f"{parts.scheme}:", (
            f"This will open the application registered on this computer for '{parts.scheme}:' "
            "links. Approve only if you started it yourself just now."
        )
    return host, None


@dataclass(frozen=True)
class ConsentView:
    client_name: str
    client_id: str
    redirect_uri: str
    scope: str
    resources: list[str]
    request_id: str
    csrf_token: str
    identity_html: str = ""
    """For a metadata document client: its verified host and warnings (web.client_identity);
    HTML made there, every value escaped."""
    gateway_name: str = "Authgate"
    scope_descriptions: Mapping[str, str] = field(default_factory=dict)
    """SCOPE_DESCRIPTIONS, with the policy file's for the requested services over them: the
    plain-language line shown for each scope."""
    service_names: Mapping[str, str] = field(default_factory=dict)
    """The policy file's display name of each requested resource that has one."""
    providers: tuple[tuple[str, str], ...] = (("github", "GitHub"),)
    """LOGIN_PROVIDERS as (value, label): with several, one approve button each."""


MAX_SHOWN_NAME = 60
"""Client names are cut to this many characters for display (registration allows more)."""


def shown_name(name: str) -> str:
    """``name`` cut to ``MAX_SHOWN_NAME`` characters with an ellipsis, never inside a combining
    sequence: a base shown without its marks would be another letter (é cut to e)."""
    if len(name) <= MAX_SHOWN_NAME:
        return name
    end = MAX_SHOWN_NAME
    while end > 0 and unicodedata.combining(name[end]):
        end -= 1  # back to the base the marks after the cut belong to, which goes too
    return name[:end].rstrip() + "\u2026"


def _name(text: str) -> str:
    """Client-chosen prose: isolated, its direction taken from its own first strong letter."""
    return f'<bdi dir="auto">{escape(text)}</bdi>'


def _code(text: str) -> str:
    """Identifiers, URIs and scopes: isolated and always left to right, as they are written."""
    return f'<code><bdi dir="ltr">{escape(text)}</bdi></code>'


def consent_page(view: ConsentView, action: str) -> HTMLResponse:
    target, warning = describe_redirect(view.redirect_uri)
    names = view.service_names
    resources = "".join(
        f"<li>{escape(names[r]) + ' ' if names.get(r) else ''}{_code(r)}</li>"
        for r in view.resources
    ) or ("<li>every MCP service of this gateway</li>")
    warning_html = f'<p class="warn">{escape(warning)}</p>' if warning else ""
    scopes = "".join(
        f"<li>{escape(view.scope_descriptions.get(s, 'Access named by the scope'))} {_code(s)}</li>"
        for s in view.scope.split()
    )
    body = (
        f'<p class="gateway">{_name(view.gateway_name)}</p>'
        f"<p><strong>{_name(shown_name(view.client_name))}</strong> wants to access MCP services"
        " on your behalf. The name is chosen by the application and not verified.</p>"
        f"<p>Client id: {_code(view.client_id)}</p>{view.identity_html}"
        f"<p>You will be sent back to {_code(target)} "
        f"({_code(view.redirect_uri)}).</p>{warning_html}"
        f'<p>It will be able to:</p><ul class="scopes">{scopes}</ul>'
        f"<p>On these services:</p><ul>{resources}</ul>"
        f"{_next_step(view.providers)}"
        f'<form method="post" action="{escape(action)}">'
        f'<input type="hidden" name="request_id" value="{escape(view.request_id)}">'
        f'<input type="hidden" name="csrf_token" value="{escape(view.csrf_token)}">'
        '<p><label><input type="checkbox" name="remember" value="yes"> Do not ask again for '
        "this application in this browser</label></p>"
        f"{_approve_buttons(view.providers)}"
        '<button type="submit" name="action" value="deny" class="secondary">Deny</button></form>'
    )
    return page("Authorize access", body, 200)


def _next_step(providers: tuple[tuple[str, str], ...]) -> str:
    if len(providers) == 1:
        return f"<p>Next you will sign in with {escape(providers[0][1])}.</p>"
    return "<p>Approve by choosing how you will sign in next.</p>"


def _approve_buttons(providers: tuple[tuple[str, str], ...]) -> str:
    """One Approve with one provider; with several, one button per provider, each naming it
    (its accessible name), so the choice needs no script."""
    if len(providers) == 1:
        return (
            '<button type="submit" name="action" value="approve" class="primary">Approve</button>'
        )
    return "".join(
        f'<button type="submit" name="action" value="approve:{escape(value)}" class="primary">'
        f"Approve and sign in with {escape(label)}</button>"
        for value, label in providers
    )


def redirect(url: str, status: int = 302) -> Response:
    """A redirect that is never cached (its URL may carry a code or state). 302 for GETs, 303
    after the consent form POST (RFC 9700 §4.12); never 307, which would repost the form."""
    return Response(status_code=status, headers={"Location": url, **PAGE_HEADERS})
