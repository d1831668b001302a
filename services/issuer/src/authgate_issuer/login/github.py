"""The issuer's GitHub client: code exchange and ``GET /user``, over ``ctx.http``.

GitHub's quirks ("Authorizing OAuth apps" in its docs): the token endpoint answers errors with HTTP 200 and a body
``{"error": ...}``, and its body is form-encoded unless ``Accept: application/json`` is sent (we
send it and still read both forms). The API wants a ``User-Agent``. Every failure becomes one of
three exceptions, which /callback turns into an OAuth error redirect, never a 500 page:

* ``GitHubUnavailable`` (timeouts, connection errors, 5xx, rate limits, malformed bodies):
  ``temporarily_unavailable``, the client may simply retry;
* ``GitHubDenied`` (the user's GitHub code is invalid or expired, or a refresh token is dead):
  ``access_denied``;
* ``GitHubUnusableAccount`` (``/user`` answered, but without a valid numeric ``id`` or with a
  login GitHub never issues): ``access_denied`` too, since retrying gets the same answer;
* ``GitHubError`` (our OAuth app is misconfigured, unexpected answers): ``server_error``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

import httpx
import orjson

from ..settings import IssuerSettings
from ..web import metrics
from .settings import GithubSettings

USER_AGENT = "authgate-issuer"
# GitHub logins: alphanumerics and hyphens; Enterprise managed users add "_shortcode". Never a
# brace, so a login is always safe inside a Redis hash tag.
LOGIN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,99}")


def oauth_scope(github: GithubSettings) -> str:
    """The scopes asked of GitHub ("Scopes for OAuth apps"): ``read:user`` for ``GET /user``,
    ``read:org`` when organisations or teams are checked (private memberships and team lists
    need it), and GITHUB_UPSTREAM_SCOPES for what MCP servers do upstream as the user."""
    scopes = ["read:user", *(["read:org"] if github.checks_membership else [])]
    return " ".join(dict.fromkeys([*scopes, *github.upstream_scopes]))


class GitHubError(Exception):
    """GitHub answered something we cannot use (server_error)."""


class GitHubUnavailable(GitHubError):
    """GitHub is down, slow or garbled (temporarily_unavailable)."""


class GitHubDenied(GitHubError):
    """GitHub refused the user's authorization code (access_denied)."""


class GitHubUnusableAccount(GitHubError):
    """GitHub's ``/user`` describes an account we cannot identify safely (access_denied)."""


@dataclass(frozen=True)
class GitHubTokens:
    """What GitHub's token endpoint issued. OAuth apps: an access token that does not expire.
    GitHub Apps with expiring user tokens ("Refreshing user access tokens"): the access token
    lives ``expires_in`` seconds (8 h) and comes with a refresh token for
    ``refresh_token_expires_in`` seconds (6 months); each refresh replaces both."""

    access_token: str = field(repr=False)
    refresh_token: str | None = field(default=None, repr=False)
    expires_in: int | None = None
    refresh_token_expires_in: int | None = None


@dataclass(frozen=True)
class GitHubUser:
    login: str
    id: str
    """The numeric account id as a string: stable across renames, unlike ``login``."""
    name: str | None
    email: str | None


async def _send(http: httpx.AsyncClient, request: httpx.Request, call: str) -> httpx.Response:
    try:
        with metrics.github_call(call):
            response = await http.send(request)
    except httpx.TimeoutException as exc:
        raise GitHubUnavailable("GitHub did not answer in time") from exc
    except httpx.HTTPError as exc:
        raise GitHubUnavailable("GitHub could not be reached") from exc
    if response.status_code >= 400:
        metrics.github_error(call, f"http_{response.status_code}")
    if response.status_code >= 500 or response.status_code == 429:
        raise GitHubUnavailable(f"GitHub answered {response.status_code}")
    return response


def _json_object(response: httpx.Response, what: str) -> dict[str, Any]:
    """The JSON object GitHub answered; GitHubUnavailable for anything else (a broken answer is
    treated as an outage, so the user may retry)."""
    try:
        data = orjson.loads(response.content)
    except orjson.JSONDecodeError as exc:
        raise GitHubUnavailable(f"GitHub {what} sent malformed JSON") from exc
    if not isinstance(data, dict):
        raise GitHubUnavailable(f"GitHub {what} sent an unexpected document")
    return data


def _token_body(response: httpx.Response) -> dict[str, Any]:
    if "json" in response.headers.get("content-type", ""):
        return _json_object(response, "token endpoint")
    return dict(parse_qsl(response.text))


def _lifetime(body: dict[str, Any], name: str) -> int | None:
    """A positive lifetime in seconds (JSON numbers or form strings); None when absent."""
    value = body.get(name)
    try:
        seconds = int(value) if isinstance(value, (int, str)) and value != "" else None
    except ValueError:
        return None
    return seconds if seconds is not None and seconds > 0 else None


async def _token_request(
    http: httpx.AsyncClient, settings: IssuerSettings, form: dict[str, str], *, call: str
) -> GitHubTokens:
    """POST /login/oauth/access_token with the app's credentials; GitHub's error codes come
    with HTTP 200 and are told apart here."""
    request = http.build_request(
        "POST",
        f"{settings.github.base_url}/login/oauth/access_token",
        data={
            "client_id": settings.github.client_id,
            "client_secret": settings.github.client_secret,
            **form,
        },
        headers={"Accept": "application/json", "User-Agent": USER_AGENT},
    )
    response = await _send(http, request, call)
    if response.status_code != 200:
        raise GitHubError(f"GitHub token endpoint answered {response.status_code}")
    body = _token_body(response)
    error = body.get("error")
    if error is not None:
        metrics.github_error(call, str(error)[:40])
    if error in ("bad_verification_code", "bad_refresh_token"):
        what = "refresh token" if "refresh_token" in form else "authorization code"
        raise GitHubDenied(f"GitHub refused the {what} (expired, used or revoked)")
    if error is not None:
        # incorrect_client_credentials, redirect_uri_mismatch, ...: our app's configuration.
        raise GitHubError(f"GitHub token endpoint error: {str(error)[:64]}")
    token = body.get("access_token")
    if not isinstance(token, str) or not token:
        raise GitHubUnavailable("GitHub's token response has no access_token")
    refresh = body.get("refresh_token")
    return GitHubTokens(
        access_token=token,
        refresh_token=refresh if isinstance(refresh, str) and refresh else None,
        expires_in=_lifetime(body, "expires_in"),
        refresh_token_expires_in=_lifetime(body, "refresh_token_expires_in"),
    )


async def exchange_code(
    http: httpx.AsyncClient, settings: IssuerSettings, code: str
) -> GitHubTokens:
    """GitHub's tokens for the user's ``code``."""
    form = {"code": code, "redirect_uri": settings.callback_url}
    return await _token_request(http, settings, form, call="access_token")


async def refresh_tokens(
    http: httpx.AsyncClient, settings: IssuerSettings, refresh_token: str
) -> GitHubTokens:
    """New tokens for a GitHub App's expiring user token; the refresh token is spent by this
    call (GitHub rotates it), so callers run it once per grant at a time (upstream.vault).
    GitHubDenied (``bad_refresh_token``): the user revoked the app or the token expired."""
    form = {"grant_type": "refresh_token", "refresh_token": refresh_token}
    return await _token_request(http, settings, form, call="refresh_token")


async def api_get(http: httpx.AsyncClient, url: str, *, token: str, call: str) -> httpx.Response:
    """``GET url`` on the API with the user's token; GitHubUnavailable for outages (metrics
    label ``call``). The token goes only to URLs the caller built from GITHUB_API_URL."""
    request = http.build_request(
        "GET",
        url,
        headers={
            "Authorization": f"Bearer {token}",
            "Accept": "application/vnd.github+json",
            "User-Agent": USER_AGENT,
        },
    )
    return await _send(http, request, call)


def json_document(response: httpx.Response, what: str) -> Any:
    """GitHub's JSON answer (object or array); GitHubUnavailable when it is not JSON."""
    try:
        return orjson.loads(response.content)
    except orjson.JSONDecodeError as exc:
        raise GitHubUnavailable(f"GitHub {what} sent malformed JSON") from exc


async def fetch_user(http: httpx.AsyncClient, settings: IssuerSettings, token: str) -> GitHubUser:
    """``GET /user`` on the API base."""
    response = await api_get(http, f"{settings.github.api_url}/user", token=token, call="user")
    if response.status_code != 200:
        raise GitHubError(f"GitHub /user answered {response.status_code}")
    data = _json_object(response, "/user")
    login, user_id = data.get("login"), data.get("id")
    # A well-formed answer about an unusable account is no outage: the same account gets the
    # same answer on every retry, so "retry shortly" would only send the user round in circles.
    if not isinstance(login, str) or not LOGIN.fullmatch(login):
        raise GitHubUnusableAccount("GitHub /user has no valid login")
    if not isinstance(user_id, int) or isinstance(user_id, bool) or user_id <= 0:
        raise GitHubUnusableAccount("GitHub /user has no valid id")
    name, email = data.get("name"), data.get("email")
    return GitHubUser(
        login=login,
        id=str(user_id),
        name=name if isinstance(name, str) else None,
        email=email if isinstance(email, str) else None,
    )


async def login(http: httpx.AsyncClient, settings: IssuerSettings, code: str) -> GitHubUser:
    """Exchange GitHub's code and read the user it belongs to."""
    return (await sign_in(http, settings, code))[0]


async def sign_in(
    http: httpx.AsyncClient, settings: IssuerSettings, code: str
) -> tuple[GitHubUser, GitHubTokens]:
    """``login``, keeping the user's GitHub tokens (membership checks, the upstream token
    vault; never logged)."""
    tokens = await exchange_code(http, settings, code)
    return await fetch_user(http, settings, tokens.access_token), tokens
