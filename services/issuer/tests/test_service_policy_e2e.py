"""The policy file's per-service ``allow`` at the issuer, over real processes (Redis, the issuer
over HTTP, the GitHub stand-in with organisations and teams): access_denied at the callback
before any code or grant exists, the rule re-checked at refresh, the consent page's display
names and scope descriptions, and the start-up check of the groups the policy names."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis

from authgate_issuer.settings import IssuerSettings
from authgate_shared.config import ConfigError
from testsupport.browser_flow import Browser, new_pkce
from testsupport.flows import RegisteredClient, refresh, register, token_request
from testsupport.github_standin import GitHubStandin, start_standin
from testsupport.issuer import issuer_env, start_issuer
from testsupport.service import ServiceProcess

K1 = "k1:" + base64.b64encode(bytes(range(32))).decode()
MCP_A, MCP_B = "https://mcp-a.example.com", "https://mcp-b.example.com"
ORGS: dict[str, Any] = {
    "acme": {"members": {"octocat": "active", "carol": "active"}},
    "other": {"members": {"carol": "active"}, "teams": {"platform": ["carol"]}},
}
POLICY = f"""
services:
  - resource: {MCP_A}
    name: Alpha tools
    allow: {{orgs: [acme]}}
    scope_descriptions: {{"mcp:*": Run Alpha's tools as you}}
  - resource: {MCP_B}
    allow: {{users: [hubot], teams: [other/platform]}}
"""


@pytest.fixture(scope="module")
def standin(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GitHubStandin]:
    proc = start_standin(tmp_path_factory.mktemp("standin"))
    yield proc
    proc.stop()


def env(standin: GitHubStandin, redis_url: str, keys_dir: Path, policy: Path) -> dict[str, str]:
    return issuer_env(
        redis_url,
        keys_dir,
        **standin.issuer_env(),
        ALLOWED_GITHUB_USERS="hubot",
        ALLOWED_GITHUB_ORGS="acme",
        ALLOWED_GITHUB_TEAMS="other/platform",
        UPSTREAM_TOKEN_KEYS=K1,
        POLICY_FILE=str(policy),
    )


@pytest.fixture
def issuer(
    standin: GitHubStandin, redis_url: str, keys_dir: Path, tmp_path: Path
) -> Iterator[ServiceProcess]:
    standin.set_faults()
    standin.set_orgs(ORGS)
    policy = tmp_path / "policy.yaml"
    policy.write_text(POLICY)
    (tmp_path / "issuer").mkdir()
    proc = start_issuer(
        env(standin, redis_url, keys_dir, policy), tmp_path / "issuer", issuer_url_from_port=True
    )
    yield proc
    proc.stop()


def sign_in(
    issuer_url: str, login: str, resource: str
) -> tuple[RegisteredClient, dict[str, str], Any]:
    http = httpx.Client(timeout=30)
    client = register(http, issuer_url)
    pkce = new_pkce()
    result = Browser(issuer_url).run(
        client.client_id, client.redirect_uri, pkce, login=login, resources=[resource]
    )
    if "code" not in result.params:
        return client, result.params, None
    form = {
        "grant_type": "authorization_code",
        "code": result.code,
        "redirect_uri": client.redirect_uri,
        "code_verifier": pkce.verifier,
    }
    answer = token_request(http, issuer_url, client, form)
    assert answer.status_code == 200, answer.text
    return client, result.params, answer.json()


def grants_of(redis_client: redis.Redis) -> int:
    return sum(1 for _ in redis_client.scan_iter("oauth:grant:*"))


def test_callback_refuses_a_service_the_user_may_not_use(
    issuer: ServiceProcess, redis_client: redis.Redis
) -> None:
    for login, allowed, refused in (
        ("octocat", MCP_A, MCP_B),  # org acme
        ("carol", MCP_B, None),  # team other/platform (and acme)
        ("hubot", MCP_B, MCP_A),  # a listed user
    ):
        assert sign_in(issuer.url, login, allowed)[2] is not None, (login, allowed)
        if refused is None:
            continue
        before = grants_of(redis_client)
        _, params, tokens = sign_in(issuer.url, login, refused)
        assert tokens is None and params["error"] == "access_denied", (login, refused)
        assert "code" not in params and grants_of(redis_client) == before
    assert '"services":["https://mcp-b.example.com"]' in Path(issuer.log_path).read_text()


def test_leaving_the_team_ends_the_service_at_refresh(
    issuer: ServiceProcess, standin: GitHubStandin, redis_client: redis.Redis
) -> None:
    client, _, tokens = sign_in(issuer.url, "carol", MCP_B)
    http = httpx.Client(timeout=30)
    first = refresh(http, issuer.url, client, tokens["refresh_token"])
    assert first.status_code == 200, first.text
    # Still in acme (may sign in at all), no longer in other/platform (MCP_B's rule).
    standin.set_orgs({**ORGS, "other": {"members": {"carol": "active"}, "teams": {}}})
    answer = refresh(http, issuer.url, client, first.json()["refresh_token"])
    assert (answer.status_code, answer.json()["error"]) == (400, "invalid_grant")
    assert "no longer allowed to use https://mcp-b.example.com" in Path(issuer.log_path).read_text()
    # The org rule of MCP_A still admits her.
    client_a, _, tokens_a = sign_in(issuer.url, "carol", MCP_A)
    assert refresh(http, issuer.url, client_a, tokens_a["refresh_token"]).status_code == 200


def test_consent_page_shows_the_policy_texts(issuer: ServiceProcess) -> None:
    client = register(httpx.Client(timeout=30), issuer.url)
    browser = Browser(issuer.url)
    params = {"response_type": "code", "client_id": client.client_id}
    params |= {"code_challenge": new_pkce().challenge, "code_challenge_method": "S256"}
    params["redirect_uri"] = client.redirect_uri
    page = browser.get(browser.authorize_url(params, [MCP_A]))
    assert page.status_code == 200
    assert "Alpha tools" in page.text and "Run Alpha&#x27;s tools as you" in page.text
    other = browser.get(browser.authorize_url(params, [MCP_B]))
    assert "Alpha" not in other.text and "Use the MCP service&#x27;s tools" in other.text


def test_a_group_the_login_never_checks_stops_start_up(
    standin: GitHubStandin, redis_url: str, keys_dir: Path, tmp_path: Path
) -> None:
    policy = tmp_path / "policy.yaml"
    policy.write_text(
        POLICY.replace("[acme]", "[acme, elsewhere]") + "    name: 7\n    scopes: [mcp:deploy]\n"
    )
    with pytest.raises(ConfigError) as raised:
        IssuerSettings.from_env(env(standin, redis_url, keys_dir, policy))
    text = "\n".join(raised.value.problems)
    assert "POLICY_FILE names 'elsewhere', which is not in ALLOWED_GITHUB_ORGS" in text
    assert "services[1].name: must be a string" in text
    assert "POLICY_FILE requires scope 'mcp:deploy', which is not in SCOPES_SUPPORTED" in text
