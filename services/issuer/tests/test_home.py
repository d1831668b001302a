"""``GET /``: a small HTML page with links, escaped, framed like every issuer page."""

from __future__ import annotations

from fastapi.testclient import TestClient

from authgate_issuer.app import create_app
from authgate_issuer.settings import IssuerSettings


def test_home_page_names_the_gateway_and_links_the_metadata(env: dict[str, str]) -> None:
    settings = IssuerSettings.from_env({**env, "GATEWAY_NAME": "Acme <MCP> & Co"})
    with TestClient(create_app(settings), base_url="https://auth.example.com") as client:
        answer = client.get("/")
        assert answer.status_code == 200
        assert answer.headers["content-type"].startswith("text/html")
        html = answer.text
        assert "<title>Acme &lt;MCP&gt; &amp; Co</title>" in html
        assert "Acme <MCP>" not in html
        assert 'href="/.well-known/oauth-authorization-server"' in html
        assert '<a href="/account">Connected apps</a>' in html
        assert client.get("/account", follow_redirects=False).status_code == 302  # sign in
        assert settings.issuer_url in html
        assert "frame-ancestors 'none'" in answer.headers["content-security-policy"]
        # Every linked document is really there.
        for href in ("/.well-known/oauth-authorization-server", "/jwks", "/openapi.json"):
            assert client.get(href).status_code == 200, href


def test_home_page_answers_head_and_unknown_paths_stay_404(client: TestClient) -> None:
    assert client.get("/").status_code == 200
    assert client.get("/nothing-here").status_code == 404
