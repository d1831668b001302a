"""The consent page's markup (pure): client text isolated in ``<bdi>`` and escaped."""

from __future__ import annotations

import html
import re

from authgate_issuer.web.pages import ConsentView, consent_page

RLO_NAME = "Acme \u202eecafer Tools"  # unterminated override, as a pre-check record could hold


def render(**changes: object) -> str:
    view = ConsentView(
        client_name="\u05d0\u05e4\u05dc\u05d9\u05e7\u05e6\u05d9\u05d4 <b>",
        client_id="0f" * 16,
        redirect_uri="http://127.0.0.1:8765/callback?x=%3Cb%3E",
        scope="mcp:read mcp:write",
        resources=["https://mcp-a.example.com", "https://mcp-b.example.com/x"],
        request_id="req",
        csrf_token="tok",
    )
    view = ConsentView(**{**vars(view), **changes})  # type: ignore[arg-type]
    body = consent_page(view, "https://auth.example.com/authorize/consent").body
    assert isinstance(body, bytes)
    return body.decode()


def isolated(page: str) -> list[tuple[str, str]]:
    """(dir attribute, unescaped text) of every <bdi> on the page."""
    found = re.findall(r'<bdi dir="([a-z]+)">([^<]*)</bdi>', page)
    return [(direction, html.unescape(text)) for direction, text in found]


def test_every_client_value_is_isolated_with_the_right_direction() -> None:
    page = render()
    bdis = isolated(page)
    assert ("auto", "\u05d0\u05e4\u05dc\u05d9\u05e7\u05e6\u05d9\u05d4 <b>") in bdis
    for value in (
        "0f" * 16,
        "http://127.0.0.1:8765/callback?x=%3Cb%3E",
        "127.0.0.1",
        "mcp:read",
        "mcp:write",
        "https://mcp-a.example.com",
        "https://mcp-b.example.com/x",
    ):
        assert ("ltr", value) in bdis, value
    assert '<html lang="en" dir="ltr">' in page
    assert "<b>" not in page


def test_a_stored_override_cannot_reach_the_warning() -> None:
    page = render(client_name=RLO_NAME)
    name_html = f'<strong><bdi dir="auto">{html.escape(RLO_NAME)}</bdi></strong>'
    # The override is closed by its <bdi> (HTML §4.5.23, UAX #9 isolates), before the warning.
    assert name_html + " wants to access MCP services" in page
    assert page.count("\u202e") == 1
    rlo = page.index("\u202e")
    assert rlo < page.index("</bdi>", rlo) < page.index("not verified")


def test_scopes_are_described_and_the_gateway_named() -> None:
    page = render(
        scope="mcp:* files:read",
        scope_descriptions={"mcp:*": "Use the tools <all>"},
        gateway_name="Acme & Co",
    )
    assert "<li>Use the tools &lt;all&gt; <code>" in page
    assert "<li>Access named by the scope <code>" in page  # no description configured
    assert ("auto", "Acme & Co") in isolated(page)
    assert "Acme & Co" not in page  # escaped


def test_long_client_names_are_cut_for_display() -> None:
    long_name = "Very Long Application Name " * 5 + "e\u0301"
    page = render(client_name=long_name)
    shown = [text for direction, text in isolated(page) if direction == "auto"]
    assert any(t.endswith("\u2026") and len(t) <= 61 for t in shown)
    assert long_name not in html.unescape(page)
    # A name ending in a combining mark at the cut keeps the mark with its base, not the dots.
    cut_at_mark = "x" * 59 + "e\u0301" + "tail"
    from authgate_issuer.web.pages import shown_name

    assert shown_name(cut_at_mark) == "x" * 59 + "\u2026"


def test_approve_is_the_primary_action() -> None:
    page = render()
    approve = page.index('value="approve"')
    deny = page.index('value="deny"')
    assert 'class="primary">Approve</button>' in page
    assert 'class="secondary">Deny</button>' in page
    assert approve < deny
