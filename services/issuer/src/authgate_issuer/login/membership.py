"""Which configured GitHub organisations and teams the user is an active member of.

Asked of GitHub's REST API with the user's own token (OAuth scope ``read:org``), at login and
at every refresh (oauth.membership_recheck):

* organisations: ``GET /user/memberships/orgs/{org}`` ("Get an organization membership for the
  authenticated user"). It sees private memberships too, unlike the public member list, and
  says ``state``: only ``active`` counts, ``pending`` is an invitation not yet accepted. 404
  means no membership (GitHub does not say whether the organisation exists). 403 means GitHub
  will not tell this token: the organisation enforces SAML SSO and the token is not authorized
  for it (header ``X-GitHub-SSO``), or it restricts OAuth apps; both count as not a member, with
  a warning naming the organisation, since only its owners or the user can fix it.
* teams: ``GET /user/teams`` ("List teams for the authenticated user"), paginated (``per_page``
  at most 100, ``Link: <…>; rel="next"``); a team matches on its ``organization.login`` and
  ``slug`` together, so ``acme/platform`` is not ``other/platform``, and only while the
  membership in that organisation is active. Organisations enforcing SAML are left out of the
  list by GitHub (``X-GitHub-SSO: partial-results``), which again means "not a member".

Outages (timeouts, 5xx, 429, a 403 with ``X-RateLimit-Remaining: 0``, garbled answers) raise
``GitHubUnavailable``; a 401 (the user revoked the app, or the token was revoked) raises
``UpstreamTokenRevoked``. Nothing here logs the token.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from urllib.parse import quote

import httpx

from ..web import logs
from .github import GitHubError, GitHubUnavailable, api_get, json_document
from .settings import GithubSettings

PER_PAGE = 100  # GitHub's maximum page size
MAX_PAGES = 50  # 5000 teams: a bound, so a Link loop cannot keep the request busy


class UpstreamTokenRevoked(GitHubError):
    """GitHub answered 401 to the user's token: the authorization was revoked."""


@dataclass(frozen=True)
class Membership:
    groups: tuple[str, ...]
    """The configured organisations (``acme``) and teams (``acme/platform``) the user is an
    active member of, lower-case and sorted: the access token's ``groups`` claim."""


def _unavailable_or_refused(response: httpx.Response, what: str) -> None:
    if response.status_code == 401:
        raise UpstreamTokenRevoked(f"GitHub refused the user's token ({what})")
    if response.status_code == 403 and response.headers.get("x-ratelimit-remaining") == "0":
        # GitHub's primary rate limit answers 403 (or 429) with X-RateLimit-Remaining: 0.
        raise GitHubUnavailable(f"GitHub rate limit reached ({what})")


async def org_state(http: httpx.AsyncClient, github: GithubSettings, token: str, org: str) -> str:
    """``active``, ``pending``, ``none`` (404) or ``forbidden`` (403: SAML SSO, app policy)."""
    url = f"{github.api_url}/user/memberships/orgs/{quote(org, safe='')}"
    response = await api_get(http, url, token=token, call="org_membership")
    _unavailable_or_refused(response, "organisation membership")
    if response.status_code == 404:
        return "none"
    if response.status_code == 403:
        body = json_document(response, "/user/memberships/orgs")
        message = body.get("message") if isinstance(body, dict) else None
        fields = {
            "event": "github_membership_forbidden",
            "org": org,
            "saml_sso": "x-github-sso" in response.headers,
            "github_message": str(message)[:200],
            "hint": "the user counts as not a member: authorize the OAuth app for the"
            " organisation's SAML SSO, or lift its OAuth app access restrictions",
        }
        logs.LOGGER.warning("github_membership_forbidden", extra={"fields": fields})
        return "forbidden"
    if response.status_code != 200:
        raise GitHubError(f"GitHub /user/memberships/orgs answered {response.status_code}")
    body = json_document(response, "/user/memberships/orgs")
    state = body.get("state") if isinstance(body, dict) else None
    if state not in ("active", "pending"):
        raise GitHubUnavailable("GitHub sent a membership without a known state")
    return str(state)


def _next_page(response: httpx.Response, github: GithubSettings) -> str | None:
    """The ``rel="next"`` link, only if it stays on the API base (the token goes with it)."""
    url = response.links.get("next", {}).get("url")
    if url is None:
        return None
    if not url.startswith(f"{github.api_url}/"):
        raise GitHubUnavailable("GitHub's next-page link leaves the API base")
    return url


async def user_teams(http: httpx.AsyncClient, github: GithubSettings, token: str) -> set[str]:
    """Every ``org/slug`` (lower-case) of ``GET /user/teams``, all pages."""
    teams: set[str] = set()
    url: str | None = f"{github.api_url}/user/teams?per_page={PER_PAGE}"
    for _ in range(MAX_PAGES):
        if url is None:
            return teams
        response = await api_get(http, url, token=token, call="user_teams")
        _unavailable_or_refused(response, "teams")
        if response.status_code != 200:
            raise GitHubError(f"GitHub /user/teams answered {response.status_code}")
        page = json_document(response, "/user/teams")
        if not isinstance(page, list):
            raise GitHubUnavailable("GitHub /user/teams sent an unexpected document")
        for team in page:
            org = team.get("organization") if isinstance(team, dict) else None
            login = org.get("login") if isinstance(org, dict) else None
            slug = team.get("slug") if isinstance(team, dict) else None
            if isinstance(login, str) and isinstance(slug, str):
                teams.add(f"{login.lower()}/{slug.lower()}")
        url = _next_page(response, github)
    raise GitHubUnavailable(f"GitHub /user/teams has more than {MAX_PAGES} pages")


async def check(http: httpx.AsyncClient, github: GithubSettings, token: str) -> Membership:
    """The configured organisations and teams the token's user actively belongs to."""
    orgs = sorted(github.membership_orgs)
    states = await asyncio.gather(*(org_state(http, github, token, org) for org in orgs))
    active = {org for org, state in zip(orgs, states, strict=True) if state == "active"}
    wanted_teams = {team for team in github.allowed_teams if team.partition("/")[0] in active}
    teams = await user_teams(http, github, token) if wanted_teams else set()
    groups = (active & github.allowed_orgs) | (wanted_teams & teams)
    return Membership(groups=tuple(sorted(groups)))
