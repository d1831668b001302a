"""Secure defaults through the real processes: every token is for one service and works there,
the auth address names the resource, nothing is passed through, the issuer URL is https.

Redis, the GitHub stand-in, the issuer and the verifier are real processes on loopback; tokens
come from the real browser flow (consent page, stand-in login, /token) or the issuer's own code.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import jwt
import pytest

from authgate_issuer.store import keystore
from testsupport import flows
from testsupport.browser_flow import Browser, new_pkce
from testsupport.issuer import start_issuer
from testsupport.stack import Stack, StackOptions, running_stack
from testsupport.tokens import Minted, mint_sync

SERVICES = ",".join(
    [
        "https://mcp-a.example.com",
        "https://tools.example.com/github",
        "https://tools.example.com/jira",
    ]
)


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    options = StackOptions(
        issuer_env={"ALLOWED_RESOURCES": SERVICES},
        verifier_env={"ALLOWED_RESOURCES": SERVICES},
    )
    with running_stack(tmp_path_factory.mktemp("secure-defaults"), options) as running:
        yield running


def mint(stack: Stack, resources: list[str], username: str = "octocat") -> Minted:
    """A token from the issuer's own code path, with the stack's issuer URL as ``iss``."""
    env = {"ISSUER_URL": stack.issuer_url, "ALLOWED_RESOURCES": SERVICES}
    keys = stack.directory / "keys"
    return mint_sync(stack.redis_url, keys, resources=resources, username=username, env=env)


@pytest.fixture(scope="module")
def client(stack: Stack, http: httpx.Client) -> flows.RegisteredClient:
    return flows.register(http, stack.issuer_url)


@pytest.mark.parametrize(
    ("requested", "service", "elsewhere"),
    [
        ("https://mcp-a.example.com", "https://mcp-a.example.com", "https://tools.example.com/jira"),
        ("https://MCP-A.Example.com/", "https://mcp-a.example.com", "https://tools.example.com/jira"),
        ("https://mcp-a.example.com/mcp", "https://mcp-a.example.com", "https://tools.example.com/jira"),
        ("https://mcp-a.example.com/mcp/", "https://mcp-a.example.com", "https://tools.example.com/jira"),
        ("https://mcp-a.example.com:443/mcp", "https://mcp-a.example.com", "https://tools.example.com/jira"),
        ("https://tools.example.com/github", "https://tools.example.com/github", "https://tools.example.com/jira"),
        ("https://tools.example.com/github/mcp", "https://tools.example.com/github", "https://tools.example.com/jira"),
        ("https://tools.example.com/jira/", "https://tools.example.com/jira", "https://tools.example.com/github"),
    ],
)  # fmt: skip
def test_every_issued_token_works_at_the_service_it_was_issued_for(
    stack: Stack,
    http: httpx.Client,
    client: flows.RegisteredClient,
    requested: str,
    service: str,
    elsewhere: str,
) -> None:
    tokens = flows.login(http, stack.issuer_url, client, resources=[requested])
    claims = jwt.decode(tokens["access_token"], options={"verify_signature": False})
    assert claims["aud"] == [service]
    ok = stack.verify(tokens["access_token"], resource=service)
    assert ok.status_code == 200, ok.text
    # Token passthrough is off by default: the upstream never receives the token.
    assert "x-auth-token" not in ok.headers
    refused = stack.verify(tokens["access_token"], resource=elsewhere)
    assert refused.status_code == 401
    assert 'error="invalid_token"' in refused.headers["www-authenticate"]


@pytest.mark.parametrize(
    "resources",
    [
        [],
        ["https://mcp-z.example.com"],
        ["https://tools.example.com"],
        ["https://tools.example.com/githubx"],
    ],
)
def test_authorize_without_a_service_is_invalid_target(
    stack: Stack, http: httpx.Client, client: flows.RegisteredClient, resources: list[str]
) -> None:
    browser = Browser(stack.issuer_url, issuer=http, github=http)
    result = browser.run(client.client_id, client.redirect_uri, new_pkce(), resources=resources)
    assert result.params["error"] == "invalid_target"
    assert "code" not in result.params


def test_the_missing_resource_error_says_what_to_do(
    stack: Stack, http: httpx.Client, client: flows.RegisteredClient
) -> None:
    params = {
        "response_type": "code",
        "client_id": client.client_id,
        "redirect_uri": client.redirect_uri,
        "code_challenge": "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
        "code_challenge_method": "S256",
        "state": "s",
    }
    response = http.get(f"{stack.issuer_url}/authorize", params=params)
    assert response.status_code in (302, 303)
    query = parse_qs(urlsplit(response.headers["location"]).query)
    assert query["error"] == ["invalid_target"]
    assert "'resource' is required" in query["error_description"][0]
    assert query["state"] == ["s"]


def test_gateway_wide_tokens_are_refused(stack: Stack) -> None:
    gateway = mint(stack, resources=[])
    control = mint(stack, resources=["https://mcp-a.example.com"])
    assert stack.verify(control.token, resource="https://mcp-a.example.com").status_code == 200
    response = stack.verify(gateway.token, resource="https://mcp-a.example.com")
    assert response.status_code == 401
    assert 'error="invalid_token"' in response.headers["www-authenticate"]


def test_the_auth_address_decides_not_the_forwarded_headers(stack: Stack) -> None:
    assert stack.verifier is not None
    jira = mint(stack, resources=["https://tools.example.com/jira"])
    url = f"{stack.verifier.url}/verify"
    forged = {
        "Authorization": f"Bearer {jira.token}",
        "X-Forwarded-Proto": "https",
        "X-Forwarded-Host": "tools.example.com",
        "X-Forwarded-Uri": "/jira/mcp",
    }
    # The route is github's: the jira token is refused whatever the forwarded path says.
    github = httpx.get(url, params={"resource": "https://tools.example.com/github"}, headers=forged)
    assert github.status_code == 401
    assert "oauth-protected-resource/github" in github.headers["www-authenticate"]
    at_jira = httpx.get(url, params={"resource": "https://tools.example.com/jira"}, headers=forged)
    assert at_jira.status_code == 200, at_jira.text
    unbound = httpx.get(url, headers=forged)
    assert unbound.status_code == 400
    assert "names no resource" in unbound.json()["error_description"]
    twice = httpx.get(
        url + "?resource=https://tools.example.com/github&resource=https://tools.example.com/jira",
        headers=forged,
    )
    assert twice.status_code == 400


def test_typ_application_at_jwt_is_accepted(stack: Stack) -> None:
    minted = mint(stack, resources=["https://mcp-a.example.com"])
    ring = keystore.read_key_dir(stack.directory / "keys", "RS256")
    assert ring is not None
    header = jwt.get_unverified_header(minted.token)
    claims = jwt.decode(minted.token, options={"verify_signature": False})
    cases = (
        ("at+jwt", 200),
        ("application/at+jwt", 200),
        ("Application/AT+JWT", 200),
        ("jwt", 401),
    )
    for typ, status in cases:
        token = jwt.encode(
            claims, ring.current.key, algorithm="RS256", headers={**header, "typ": typ}
        )
        assert stack.verify(token, resource="https://mcp-a.example.com").status_code == status, typ


@pytest.mark.parametrize("username", ["octo,cat", "octo;cat"])
def test_identity_claims_that_could_split_a_header_are_refused(stack: Stack, username: str) -> None:
    control = mint(stack, resources=["https://mcp-a.example.com"], username="octo-cat")
    assert stack.verify(control.token, resource="https://mcp-a.example.com").status_code == 200
    minted = mint(stack, resources=["https://mcp-a.example.com"], username=username)
    response = stack.verify(minted.token, resource="https://mcp-a.example.com")
    assert response.status_code == 401
    assert 'error="invalid_token"' in response.headers["www-authenticate"]
    assert "x-user-id" not in response.headers


def test_a_plain_http_issuer_url_stops_start_up(stack: Stack, tmp_path: Path) -> None:
    env = {**stack.env, "ISSUER_URL": "http://auth.example.com", "AUTHGATE_DEV_LOGIN": "false"}
    env.update(GITHUB_CLIENT_ID="id", GITHUB_CLIENT_SECRET="secret")
    refused = subprocess.run(
        [sys.executable, "-m", "authgate_issuer", "--host", "127.0.0.1", "--port", "0"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert refused.returncode == 2
    assert "ISSUER_URL must be an https URL" in refused.stderr
    # The explicit setting starts it, loudly.
    env["ALLOW_INSECURE_ISSUER_URL"] = "true"
    insecure = start_issuer(env, tmp_path)
    try:
        assert httpx.get(insecure.url + "/health").status_code == 200
        log = (tmp_path / "issuer.log").read_text()
        assert "ALLOW_INSECURE_ISSUER_URL=true: serving as http://auth.example.com" in log
    finally:
        insecure.stop()
