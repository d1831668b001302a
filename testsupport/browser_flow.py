"""Drive the browser side of the authorization code flow without a browser.

    pkce = new_pkce()
    browser = Browser(issuer_url)                     # or Browser(url, issuer=test_client)
    result = browser.run(client_id, redirect_uri, pkce, login="octocat", resources=[...])
    code = result.code                                # then POST /token with pkce.verifier

``run`` = GET /authorize → consent page → Approve (POST /authorize/consent) → the stand-in's login
form → GET /callback → the final redirect to the client, which is returned, not followed.
The issuer's cookies are kept by ``Browser`` itself: httpx's jar does not send ``Secure``
(``__Host-``) cookies over http, which is what a loopback test issuer speaks (browsers do).
"""

from __future__ import annotations

import base64
import hashlib
import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

import httpx

from authgate_issuer.store.clients import ClientRecord
from authgate_shared import redis_keys

from .github_standin import hidden_fields, standin_login

# Every token is bound to one MCP service (REQUIRE_RESOURCE_TOKENS, RFC 8707): the test
# issuers' ALLOWED_RESOURCES covers this one.
DEFAULT_RESOURCE = "https://mcp-a.example.com"

@dataclass(frozen=True)
class Pkce:
    verifier: str
    challenge: str


def new_pkce() -> Pkce:
    verifier = secrets.token_urlsafe(48)
    digest = hashlib.sha256(verifier.encode()).digest()
    return Pkce(verifier, base64.urlsafe_b64encode(digest).rstrip(b"=").decode())


@dataclass(frozen=True)
class FlowResult:
    location: str
    """The final redirect to the client's redirect URI."""
    params: dict[str, str]

    @property
    def code(self) -> str:
        assert "code" in self.params, f"no code in {self.location}"
        return self.params["code"]


@dataclass
class Browser:
    issuer_url: str
    issuer: Any = None
    """An httpx-compatible client for the issuer (a TestClient works); default: a new httpx.Client."""
    github: httpx.Client = field(default_factory=lambda: httpx.Client(timeout=30))
    cookies: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.issuer is None:
            self.issuer = httpx.Client(timeout=30)

    def _remember(self, response: Any) -> Any:
        for header in response.headers.get_list("set-cookie"):
            name, _, value = header.split(";", 1)[0].partition("=")
            self.cookies[name.strip()] = value.strip()
        return response

    def _headers(self) -> dict[str, str]:
        return {"Cookie": "; ".join(f"{k}={v}" for k, v in self.cookies.items())}

    def get(self, url: str) -> Any:
        response = self.issuer.get(url, headers=self._headers(), follow_redirects=False)
        return self._remember(response)

    def post(self, url: str, data: dict[str, str]) -> Any:
        response = self.issuer.post(url, data=data, headers=self._headers(), follow_redirects=False)
        return self._remember(response)

    def authorize_url(self, params: dict[str, str], resources: Sequence[str] = ()) -> str:
        pairs = list(params.items()) + [("resource", r) for r in resources]
        return f"{self.issuer_url}/authorize?{urlencode(pairs)}"

    def consent(self, page: Any, action: str = "approve", remember: bool = False) -> Any:
        """Answer a consent page (the response of GET /authorize)."""
        assert page.status_code == 200, page.text
        fields = hidden_fields(page.text)
        fields["action"] = action
        if remember:
            fields["remember"] = "yes"
        return self.post(f"{self.issuer_url}/authorize/consent", fields)

    def run(
        self,
        client_id: str,
        redirect_uri: str | None,
        pkce: Pkce,
        *,
        login: str = "octocat",
        state: str | None = "client-state",
        scope: str | None = None,
        resources: Sequence[str] = (DEFAULT_RESOURCE,),
        remember: bool = False,
    ) -> FlowResult:
        params = {"response_type": "code", "client_id": client_id, "code_challenge": pkce.challenge}
        params["code_challenge_method"] = "S256"
        for name, value in (("redirect_uri", redirect_uri), ("state", state), ("scope", scope)):
            if value is not None:
                params[name] = value
        response = self.get(self.authorize_url(params, resources))
        if response.status_code == 200:
            response = self.consent(response, remember=remember)
        assert response.status_code in (302, 303), response.text
        location = response.headers["location"]
        if urlsplit(location).path.endswith("/login/oauth/authorize"):
            callback = standin_login(self.github, location, login)
            response = self.get(callback)
            assert response.status_code == 302, response.text
            location = response.headers["location"]
        return FlowResult(location, dict(parse_qsl(urlsplit(location).query)))


def authorization_code(
    issuer_url: str,
    client_id: str,
    redirect_uri: str | None,
    pkce: Pkce,
    *,
    issuer: Any = None,
    **kwargs: Any,
) -> str:
    """One complete browser flow; the authorization code (keyword arguments as ``Browser.run``)."""
    return Browser(issuer_url, issuer).run(client_id, redirect_uri, pkce, **kwargs).code


def store_client(
    redis_client: Any,
    redirect_uris: Sequence[str],
    *,
    client_id: str = "test-client",
    name: str = "Test client",
    expires_at: int = 0,
    **metadata: Any,
) -> str:
    """Register a public client straight into Redis (sync ``redis.Redis``); return its id.

    ``metadata`` adds or overrides RFC 7591 fields; ``expires_at`` (unix time, 0 = never)."""
    record = ClientRecord(
        client_id=client_id,
        metadata={
            "redirect_uris": list(redirect_uris),
            "client_name": name,
            "token_endpoint_auth_method": "none",
            "grant_types": ["authorization_code", "refresh_token"],
            "response_types": ["code"],
            **metadata,
        },
        client_id_issued_at=0,
        expires_at=expires_at,
    )
    redis_client.set(redis_keys.client(client_id), record.to_json())
    return client_id
