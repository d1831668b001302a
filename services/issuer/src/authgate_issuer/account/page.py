"""The account page's HTML: server-rendered, no script, every value escaped.

Built like the consent page (web.pages): values from clients sit in ``<bdi>`` and are escaped,
the page cannot be framed (``X-Frame-Options: DENY``, CSP ``frame-ancestors 'none'``, RFC 9700
§4.16), runs no script (CSP ``default-src 'none'``) and is never cached. Each action is a
``<form method="post">`` with the session's CSRF token, so it works without JavaScript; each
button's accessible name says which application it acts on (WCAG 2.2 SC 2.4.6, 2.5.3).
"""

from __future__ import annotations

import base64
import hashlib
from html import escape

from starlette.responses import HTMLResponse

from ..web import pages
from .view import ApprovalRow, ClientLabel, GrantRow, Moment

STYLE = pages.STYLE + (
    "body{max-width:72rem}table{border-collapse:collapse;width:100%;margin-bottom:1rem}"
    "caption{text-align:left;font-weight:600;font-size:1.1rem;padding:.5rem 0}"
    "th,td{border-bottom:1px solid #d0d7de;padding:.5rem;text-align:left;vertical-align:top}"
    "td ul{list-style:none;padding:0;margin:0}.scroll{overflow-x:auto}"
    ".id{color:#59636e;font-size:.85em;font-weight:400}"
    ".done{background:#dafbe1;border:1px solid #4ac26b;padding:.5rem .75rem}"
    "button.danger{color:#cf222e;background:#f6f8fa;border:1px solid #d0d7de}"
    "form{display:inline}td button{margin:0}"
)
_HASH = base64.b64encode(hashlib.sha256(STYLE.encode()).digest()).decode()
HEADERS = {
    **pages.PAGE_HEADERS,
    "Content-Security-Policy": (
        f"default-src 'none'; style-src 'sha256-{_HASH}'; base-uri 'none'; frame-ancestors 'none'"
    ),
}
TITLE = "Connected apps"


def html_page(title: str, body: str, status: int) -> HTMLResponse:
    html = (
        '<!doctype html><html lang="en" dir="ltr"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width,initial-scale=1">'
        f"<title>{escape(title)}</title><style>{STYLE}</style></head>"
        f"<body><main><h1>{escape(title)}</h1>{body}</main></body></html>"
    )
    return HTMLResponse(html, status_code=status, headers=HEADERS)


def message_page(title: str, detail: str, status: int, action: str) -> HTMLResponse:
    """A short page with a way back to the account page (which signs in again if needed)."""
    link = f'<p><a href="{escape(action)}">Back to {escape(TITLE.lower())}</a></p>'
    return html_page(title, f"<p>{escape(detail)}</p>{link}", status)


def _time(moment: Moment) -> str:
    return f'<time datetime="{escape(moment.iso)}">{escape(moment.text)}</time>'


def _code(text: str) -> str:
    return f'<code><bdi dir="ltr">{escape(text)}</bdi></code>'


def _list(items: list[str]) -> str:
    return "<ul>" + "".join(f"<li>{item}</li>" for item in items) + "</ul>" if items else "—"


def _client(label: ClientLabel | None) -> str:
    if label is None:
        return "An application (remembered before this page named it)"
    kind = "verified host" if label.is_document else "client id"
    return (
        f'<bdi dir="auto">{escape(label.name)}</bdi><br>'
        f'<span class="id">{kind} {_code(label.identity)}</span>'
    )


def _form(action: str, csrf: str, fields: dict[str, str], button: str, name: str) -> str:
    hidden = "".join(
        f'<input type="hidden" name="{escape(k)}" value="{escape(v)}">'
        for k, v in {"csrf_token": csrf, **fields}.items()
    )
    label = f' aria-label="{escape(name)}"' if name else ""
    return (
        f'<form method="post" action="{escape(action)}">{hidden}'
        f'<button type="submit" class="danger"{label}>{escape(button)}</button></form>'
    )


def _who(label: ClientLabel | None) -> str:
    return "an unnamed application" if label is None else f"{label.name} ({label.identity})"


def _grants_table(rows: list[GrantRow], action: str, csrf: str) -> str:
    if not rows:
        return "<p>No application holds access to MCP services as you.</p>"
    head = "".join(
        f'<th scope="col">{h}</th>'
        for h in ("Application", "Sends you back to", "Scopes", "Services", "Created (UTC)")
    )
    head += '<th scope="col">Last token issued (UTC)</th><th scope="col">Access</th>'
    body = ""
    for row in rows:
        services = [(escape(n) + " " if n else "") + _code(r) for n, r in row.services]
        revoke = _form(
            action,
            csrf,
            {"action": "revoke", "grant_id": row.grant_id},
            "Revoke",
            f"Revoke access of {_who(row.client)}",
        )
        body += (
            f'<tr><th scope="row">{_client(row.client)}</th>'
            f"<td>{_list([_code(h) for h in row.redirect_hosts])}</td>"
            f"<td>{_list([_code(s) for s in row.scopes])}</td><td>{_list(services)}</td>"
            f"<td>{_time(row.created)}</td><td>{_time(row.last_token_issued)}</td>"
            f"<td>{revoke}</td></tr>"
        )
    everything = _form(action, csrf, {"action": "revoke_all"}, "Revoke all", "")
    return (
        '<div class="scroll"><table><caption>Applications that can use MCP services as you'
        f"</caption><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>"
        f"<p>{everything}</p>"
    )


def _approvals_table(rows: list[ApprovalRow], action: str, csrf: str) -> str:
    if not rows:
        return "<p>This browser remembers no consent.</p>"
    head = "".join(
        f'<th scope="col">{h}</th>'
        for h in ("Application", "Scopes", "Remembered (UTC)", "Until (UTC)", "Consent")
    )
    body = ""
    for row in rows:
        forget = _form(
            action,
            csrf,
            {"action": "forget", "approval": row.fingerprint},
            "Forget",
            f"Forget the consent to {_who(row.client)}",
        )
        body += (
            f'<tr><th scope="row">{_client(row.client)}</th>'
            f"<td>{_list([_code(s) for s in row.scopes])}</td><td>{_time(row.remembered)}</td>"
            f"<td>{_time(row.until)}</td><td>{forget}</td></tr>"
        )
    everything = _form(action, csrf, {"action": "forget_all"}, "Forget all", "")
    return (
        '<div class="scroll"><table><caption>Consents remembered in this browser</caption>'
        f"<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div><p>{everything}</p>"
    )


def account_page(
    *,
    gateway_name: str,
    login: str,
    grants: list[GrantRow],
    approvals: list[ApprovalRow],
    action: str,
    csrf: str,
    message: str = "",
) -> HTMLResponse:
    done = f'<p class="done" role="status">{escape(message)}</p>' if message else ""
    sign_out = _form(action, csrf, {"action": "sign_out"}, "Sign out", "")
    body = (
        f'<p class="gateway"><bdi dir="auto">{escape(gateway_name)}</bdi></p>{done}'
        f"<p>Signed in with GitHub as <strong>{_code(login)}</strong>. {sign_out}</p>"
        "<h2>Applications with access</h2>"
        "<p>Revoking an application ends its access at once: its tokens stop working and it "
        "must ask for your consent again.</p>"
        f"{_grants_table(grants, action, csrf)}"
        "<h2>Remembered consents</h2>"
        "<p>For these applications this browser skips the consent page. Forgetting one "
        "brings the page back; it does not revoke access already given.</p>"
        f"{_approvals_table(approvals, action, csrf)}"
    )
    return html_page(TITLE, body, 200)
