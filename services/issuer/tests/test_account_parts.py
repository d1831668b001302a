"""The account page's pure parts: the session cookie and CSRF token, the remembered consents
in the approvals cookie, the rows shown for a grant, and the page's markup."""

from __future__ import annotations

import base64
import html
import re

import orjson

from authgate_issuer.account import page, session, sign_in, view
from authgate_issuer.oauth import consent_cookie
from authgate_issuer.oauth.authorization_request import AuthorizationRequest
from authgate_issuer.store.clients import ClientRecord
from authgate_issuer.store.grants import Grant

KEY = b"k" * 32
NOW = 1_800_000_000


def test_session_round_trips_only_for_its_browser_and_until_it_expires() -> None:
    made = session.new_session("583231", "octocat", "browser-1", NOW)
    assert made.expires_at == NOW + session.SESSION_SECONDS == NOW + 900
    value = session.cookie_value(KEY, made)
    assert session.read_session(KEY, value, "browser-1", NOW + 899) == made
    assert session.read_session(KEY, value, "browser-1", NOW + 900) is None  # expired
    assert session.read_session(KEY, value, "browser-2", NOW) is None  # another browser
    assert session.read_session(KEY, value, None, NOW) is None  # no browser cookie
    assert session.read_session(b"x" * 32, value, "browser-1", NOW) is None  # another key
    payload, _, mac = value.partition(".")
    other = base64.urlsafe_b64encode(orjson.dumps(["1", "hubot", "browser-1", NOW + 900]))
    assert session.read_session(KEY, f"{other.decode()}.{mac}", "browser-1", NOW) is None
    for junk in ("", ".", "é.é", f"{payload}.", "bm90IGpzb24.x"):
        assert session.read_session(KEY, junk, "browser-1", NOW) is None
    # A consent cookie's signature never verifies as a session (distinct purposes).
    _, browser_cookie = consent_cookie.new_browser(KEY, lambda n: b"\x02" * n)
    assert session.read_session(KEY, browser_cookie, "browser-1", NOW) is None


def test_csrf_token_is_bound_to_the_browser_and_the_session() -> None:
    one = session.new_session("583231", "octocat", "browser-1", NOW)
    token = session.csrf_token(KEY, one)
    assert session.check_csrf(KEY, one, token)
    assert not session.check_csrf(KEY, one, None)
    assert not session.check_csrf(KEY, one, token + "x")
    assert not session.check_csrf(KEY, one, "é" + token[1:])  # non-ASCII: refused, no error
    later = session.new_session("583231", "octocat", "browser-1", NOW + 1)
    elsewhere = session.new_session("583231", "octocat", "browser-2", NOW)
    assert not session.check_csrf(KEY, later, token)
    assert not session.check_csrf(KEY, elsewhere, token)


def test_non_ascii_cookies_and_tokens_are_refused_not_errors() -> None:
    # compare_digest raises on non-ASCII str; a client controls both cookies and forms.
    assert consent_cookie.read_browser(KEY, "\u00e9t\u00e9.\u00e9") is None
    assert not consent_cookie.check_csrf(KEY, "b", "request", "\u00e9")
    assert consent_cookie.read_approvals(KEY, "b", "x.\u00e9", NOW) == {}
    assert session.read_session(KEY, "x.\u00e9", "b", NOW) is None


def test_only_same_origin_posts_pass() -> None:
    issuer = "https://auth.example.com"
    for headers in (
        {},
        {"origin": "null"},  # the page's own posts under Referrer-Policy: no-referrer
        {"origin": issuer, "sec-fetch-site": "same-origin"},
        {"sec-fetch-site": "none"},
    ):
        assert session.same_origin(headers, issuer), headers
    for headers in (
        {"origin": "https://evil.example"},
        {"origin": "https://auth.example.com:8443"},
        {"origin": "http://auth.example.com"},
        {"sec-fetch-site": "cross-site"},
        {"sec-fetch-site": "same-site", "origin": "null"},  # a sibling subdomain
    ):
        assert not session.same_origin(headers, issuer), headers


def test_account_states_are_told_apart_from_authorization_states() -> None:
    assert sign_in.is_account_state("account.abc")
    assert not sign_in.is_account_state(None)
    assert not sign_in.is_account_state("abc-_DEF")  # new_secret's alphabet has no '.'


def _request(client_id: str, scope: str = "mcp:*") -> AuthorizationRequest:
    return AuthorizationRequest(
        client_id, "http://127.0.0.1/cb", True, "c" * 43, None, scope, ["https://mcp.example"]
    )


def test_approvals_name_their_client_and_can_be_forgotten() -> None:
    first = consent_cookie.remember(KEY, "b", None, _request("alpha"), NOW)
    both = consent_cookie.remember(KEY, "b", first, _request("beta", "mcp:read"), NOW + 10)
    listed = consent_cookie.list_approvals(KEY, "b", both, NOW + 20)
    assert [(a.client_id, a.scope) for a in listed] == [("beta", "mcp:read"), ("alpha", "mcp:*")]
    assert listed[1].expires_at == NOW + consent_cookie.REMEMBER_SECONDS
    assert consent_cookie.is_remembered(KEY, "b", both, _request("alpha"), NOW + 20)
    assert consent_cookie.list_approvals(KEY, "other-browser", both, NOW) == []

    beta = listed[0].fingerprint
    kept = consent_cookie.forget(KEY, "b", both, {beta}, NOW + 20)
    assert [a.client_id for a in consent_cookie.list_approvals(KEY, "b", kept, NOW)] == ["alpha"]
    assert not consent_cookie.is_remembered(KEY, "b", kept, _request("beta", "mcp:read"), NOW)
    assert consent_cookie.forget(KEY, "b", kept, {listed[1].fingerprint}, NOW) == ""
    # A forged cookie forgets nothing it did not hold and yields nothing.
    assert consent_cookie.forget(KEY, "b", both + "x", set(), NOW) == ""


def test_approvals_of_the_earlier_cookie_format_still_count() -> None:
    mark = consent_cookie.fingerprint(_request("alpha"))
    payload = base64.urlsafe_b64encode(orjson.dumps({mark: NOW + 100})).rstrip(b"=").decode()
    old = f"{payload}.{consent_cookie.mac(KEY, 'approvals|b', payload)}"
    assert consent_cookie.is_remembered(KEY, "b", old, _request("alpha"), NOW)
    (listed,) = consent_cookie.list_approvals(KEY, "b", old, NOW)
    assert listed.client_id == "" and listed.fingerprint == mark
    assert view.approval_row(listed, None).client is None


def test_approvals_cookie_stays_under_its_byte_budget() -> None:
    cookie = None
    for n in range(consent_cookie.MAX_APPROVALS):
        long_id = f"https://app{n}.example.com/" + "c" * 120
        cookie = consent_cookie.remember(KEY, "b", cookie, _request(long_id, "s " * 40), NOW + n)
    assert cookie is not None
    assert len(cookie) < 3100
    listed = consent_cookie.list_approvals(KEY, "b", cookie, NOW)
    assert 1 < len(listed) < consent_cookie.MAX_APPROVALS
    assert listed[0].client_id.startswith(f"https://app{consent_cookie.MAX_APPROVALS - 1}.")


def _grant(client_id: str) -> Grant:
    return Grant(
        grant_id="g1",
        client_id=client_id,
        username="octocat",
        github_id="583231",
        scope="mcp:read mcp:write",
        resources=["https://mcp-a.example.com", "https://mcp-b.example.com"],
        created_at=NOW,
        expiry=NOW + 100,
        refresh_issued_at=NOW + 3600,
    )


def _client(client_id: str, name: str | None, uris: list[str]) -> ClientRecord:
    metadata = {"redirect_uris": uris, **({"client_name": name} if name else {})}
    return ClientRecord(client_id, metadata, 0, 0)


def test_grant_rows_name_registered_and_metadata_document_clients() -> None:
    uris = ["https://app.example.com/cb", "https://app.example.com/other", "myapp:/cb"]
    row = view.grant_row(
        _grant("abc"), _client("abc", "Notes", uris), {"https://mcp-a.example.com": "Mail"}
    )
    assert row.client == view.ClientLabel("Notes", "abc", False)
    assert row.redirect_hosts == ["app.example.com", "myapp:"]
    assert row.scopes == ["mcp:read", "mcp:write"]
    assert row.services == [
        ("Mail", "https://mcp-a.example.com"),
        ("", "https://mcp-b.example.com"),
    ]
    assert row.created == view.Moment("2027-01-15T08:00:00Z", "2027-01-15 08:00 UTC")
    assert row.last_token_issued.text == "2027-01-15 09:00 UTC"

    cimd = "https://client.example.org/mcp/client.json"
    labelled = view.grant_row(_grant(cimd), None, {})
    assert labelled.client == view.ClientLabel("client.example.org", "client.example.org", True)
    assert labelled.redirect_hosts == []
    named = view.client_label(cimd, _client(cimd, "Editor", []))
    assert named == view.ClientLabel("Editor", "client.example.org", True)
    assert view.client_label("gone", None) == view.ClientLabel("gone", "gone", False)


def _render(**changes: object) -> str:
    label = view.ClientLabel('<img src=x onerror="alert(1)">', 'id"<', False)
    grant_row = view.GrantRow(
        "g<1>", label, ["h<zz"], ["mcp:*"], [("", "https://x/<y>")], view.utc(NOW), view.utc(NOW)
    )
    approval = view.ApprovalRow("fp\"'", label, ["mcp:*"], view.utc(NOW), view.utc(NOW))
    arguments: dict[str, object] = {
        "gateway_name": "Gate <way>",
        "login": "octo<cat>",
        "grants": [grant_row],
        "approvals": [approval],
        "action": "https://auth.example.com/account",
        "csrf": 'tok"en',
        **changes,
    }
    response = page.account_page(**arguments)  # type: ignore[arg-type]
    assert response.headers["x-frame-options"] == "DENY"
    assert "frame-ancestors 'none'" in response.headers["content-security-policy"]
    assert response.headers["cache-control"] == "no-store"
    body = response.body
    assert isinstance(body, bytes)
    return body.decode()


def test_page_escapes_every_value_and_labels_every_button() -> None:
    markup = _render(message="Access revoked")
    for raw in ("<img", "<1>", "<zz", "<y>", "<way>", "<cat>", 'id"<', 'tok"en'):
        assert raw not in markup, raw
    assert "<script" not in markup
    labels = [html.unescape(a) for a in re.findall(r'aria-label="([^"]*)"', markup)]
    assert labels == [
        'Revoke access of <img src=x onerror="alert(1)"> (id"<)',
        'Forget the consent to <img src=x onerror="alert(1)"> (id"<)',
    ]
    forms = re.findall(r'<form method="post" action="https://auth.example.com/account">', markup)
    assert len(forms) == 5  # sign out, revoke, revoke all, forget, forget all
    assert markup.count('name="csrf_token" value="tok&quot;en"') == 5
    assert "<caption>Applications that can use MCP services as you</caption>" in markup
    assert '<th scope="col">Last token issued (UTC)</th>' in markup
    assert '<time datetime="2027-01-15T08:00:00Z">2027-01-15 08:00 UTC</time>' in markup
    assert '<p class="done" role="status">Access revoked</p>' in markup
    empty = _render(grants=[], approvals=[])
    assert "No application holds access" in empty and "remembers no consent" in empty
    assert "<table" not in empty
