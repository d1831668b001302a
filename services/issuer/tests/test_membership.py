"""login.membership against hostile or broken GitHub answers (an in-process transport: the
normal paths run against the stand-in in test_github_orgs_e2e)."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from authgate_issuer.login.github import GitHubUnavailable
from authgate_issuer.login.membership import UpstreamTokenRevoked, check
from authgate_issuer.login.settings import GithubSettings

API = "https://api.github.example"
GITHUB = GithubSettings(
    client_id="id",
    client_secret="secret",
    base_url="https://github.example",
    api_url=API,
    timeout=5,
    allowed_users=frozenset(),
    allow_all_users=False,
    allowed_teams=frozenset({"acme/platform"}),
)


def run(handler: httpx.MockTransport) -> object:
    async def go() -> object:
        async with httpx.AsyncClient(transport=handler) as http:
            return await check(http, GITHUB, "gho_secret")

    return asyncio.run(go())


def active(request: httpx.Request) -> httpx.Response | None:
    if request.url.path == "/user/memberships/orgs/acme":
        return httpx.Response(200, json={"state": "active"})
    return None


def test_a_next_link_off_the_api_base_is_never_followed() -> None:
    hosts: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        hosts.append(request.url.host)
        if (answer := active(request)) is not None:
            return answer
        link = '<https://evil.example/user/teams?page=2>; rel="next"'
        return httpx.Response(200, json=[], headers={"Link": link})

    with pytest.raises(GitHubUnavailable, match="leaves the API base"):
        run(httpx.MockTransport(handler))
    assert set(hosts) == {"api.github.example"}


def test_an_endless_link_chain_is_cut() -> None:
    calls = 0

    def handler(request: httpx.Request) -> httpx.Response:
        nonlocal calls
        if (answer := active(request)) is not None:
            return answer
        calls += 1
        link = f'<{API}/user/teams?page={calls + 1}>; rel="next"'
        return httpx.Response(200, json=[], headers={"Link": link})

    with pytest.raises(GitHubUnavailable, match="pages"):
        run(httpx.MockTransport(handler))
    assert calls == 50


def test_rate_limit_403_is_an_outage_and_401_a_revoked_token() -> None:
    limited = httpx.Response(403, json={"message": "rate"}, headers={"X-RateLimit-Remaining": "0"})
    with pytest.raises(GitHubUnavailable):
        run(httpx.MockTransport(lambda request: limited))
    with pytest.raises(UpstreamTokenRevoked):
        run(httpx.MockTransport(lambda request: httpx.Response(401, json={})))


def test_unknown_membership_state_is_not_membership() -> None:
    odd = httpx.Response(200, json={"state": "suspended"})
    with pytest.raises(GitHubUnavailable):
        run(httpx.MockTransport(lambda request: odd))
