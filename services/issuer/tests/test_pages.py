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
        "mcp:read mcp:write",
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
    assert page.index("\u202e") < page.index("</bdi>") < page.index("not verified")
