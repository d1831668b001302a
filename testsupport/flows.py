"""An MCP client's side of Authgate over real HTTP: register, log in, refresh, revoke.

Used by the fault, secrets-hygiene and chaos runs, which need many complete flows against real
processes. The browser part is ``testsupport.browser_flow`` (consent page, GitHub stand-in).

    http = httpx.Client(timeout=10)
    client = register(http, issuer_url)
    tokens = login(http, issuer_url, client, resources=[RESOURCE_A])
    new = refresh(http, issuer_url, client, tokens["refresh_token"]).json()
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import httpx

from .browser_flow import DEFAULT_RESOURCE, Browser, new_pkce

REDIRECT_URI = "http://127.0.0.1:8765/callback"


@dataclass(frozen=True)
class RegisteredClient:
    client_id: str
    client_secret: str | None
    registration_access_token: str
    redirect_uri: str = REDIRECT_URI

    def auth(self) -> tuple[dict[str, str], dict[str, str]]:
        """(headers, extra form fields) for this client's registered method."""
        if self.client_secret is None:
            return {}, {"client_id": self.client_id}
        raw = f"{self.client_id}:{self.client_secret}".encode()
        return {"Authorization": "Basic " + base64.b64encode(raw).decode()}, {}


class FlowError(Exception):
    """A step of a flow got an unexpected answer (status and body in the message)."""

    def __init__(self, step: str, response: httpx.Response) -> None:
        super().__init__(f"{step}: {response.status_code} {response.text[:300]}")
        self.step = step
        self.status = response.status_code


def register(
    http: httpx.Client,
    issuer_url: str,
    *,
    public: bool = False,
    name: str = "Test MCP client",
    redirect_uri: str = REDIRECT_URI,
    headers: dict[str, str] | None = None,
) -> RegisteredClient:
    body: dict[str, Any] = {
        "redirect_uris": [redirect_uri],
        "client_name": name,
        "grant_types": ["authorization_code", "refresh_token"],
        "token_endpoint_auth_method": "none" if public else "client_secret_basic",
    }
    response = http.post(f"{issuer_url}/register", json=body, headers=headers)
    if response.status_code != 201:
        raise FlowError("register", response)
    data = response.json()
    return RegisteredClient(
        data["client_id"],
        data.get("client_secret"),
        data["registration_access_token"],
        redirect_uri,
    )


def token_request(
    http: httpx.Client, issuer_url: str, client: RegisteredClient, form: dict[str, str]
) -> httpx.Response:
    headers, extra = client.auth()
    return http.post(f"{issuer_url}/token", data={**form, **extra}, headers=headers)


def authorization_code(
    http: httpx.Client,
    issuer_url: str,
    client: RegisteredClient,
    *,
    user: str = "octocat",
    resources: Sequence[str] = (DEFAULT_RESOURCE,),
    browser_issuer_url: str | None = None,
) -> tuple[str, str]:
    """(code, PKCE verifier) after one browser flow; ``browser_issuer_url`` lets the flow run
    against another replica than ``issuer_url`` (the callback still goes to ISSUER_URL)."""
    pkce = new_pkce()
    browser = Browser(browser_issuer_url or issuer_url, issuer=http, github=http)
    result = browser.run(
        client.client_id, client.redirect_uri, pkce, login=user, resources=resources
    )
    return result.code, pkce.verifier


def login(
    http: httpx.Client,
    issuer_url: str,
    client: RegisteredClient,
    *,
    user: str = "octocat",
    resources: Sequence[str] = (DEFAULT_RESOURCE,),
) -> dict[str, Any]:
    """A complete authorization code flow; the token response."""
    code, verifier = authorization_code(http, issuer_url, client, user=user, resources=resources)
    form = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": client.redirect_uri,
        "code_verifier": verifier,
    }
    response = token_request(http, issuer_url, client, form)
    if response.status_code != 200:
        raise FlowError("token", response)
    body: dict[str, Any] = response.json()
    return body


def refresh(
    http: httpx.Client, issuer_url: str, client: RegisteredClient, refresh_token: str
) -> httpx.Response:
    form = {"grant_type": "refresh_token", "refresh_token": refresh_token}
    return token_request(http, issuer_url, client, form)


def revoke(
    http: httpx.Client, issuer_url: str, client: RegisteredClient, token: str
) -> httpx.Response:
    headers, extra = client.auth()
    return http.post(f"{issuer_url}/revoke", data={"token": token, **extra}, headers=headers)


def introspect(
    http: httpx.Client, issuer_url: str, client: RegisteredClient, token: str
) -> dict[str, Any]:
    headers, extra = client.auth()
    response = http.post(
        f"{issuer_url}/introspect", data={"token": token, **extra}, headers=headers
    )
    if response.status_code != 200:
        raise FlowError("introspect", response)
    body: dict[str, Any] = response.json()
    return body
