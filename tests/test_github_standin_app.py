"""The GitHub stand-in in GitHub App mode (expiring user tokens, rotating refresh tokens) and
GitHub's token deletion endpoints, as a real process: what the issuer's upstream token vault
relies on."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from testsupport.github_standin import GitHubStandin, standin_login, start_standin

CALLBACK = "http://127.0.0.1:1/callback"
JSON = {"Accept": "application/json"}


@pytest.fixture(scope="module")
def app_standin(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GitHubStandin]:
    proc = start_standin(tmp_path_factory.mktemp("standin-app"), github_app=True)
    yield proc
    proc.stop()


@pytest.fixture(scope="module")
def oauth_standin(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GitHubStandin]:
    proc = start_standin(tmp_path_factory.mktemp("standin-oauth"))
    yield proc
    proc.stop()


def sign_in(standin: GitHubStandin, login: str, **headers: str) -> httpx.Response:
    """The web flow: the user signs in, the app redeems the code."""
    query = httpx.QueryParams(client_id=standin.client_id, redirect_uri=CALLBACK, state="s")
    with httpx.Client() as http:
        location = standin_login(http, f"{standin.url}/login/oauth/authorize?{query}", login)
    code = parse_qs(urlsplit(location).query)["code"][0]
    data = {"client_id": standin.client_id, "client_secret": standin.client_secret, "code": code}
    return httpx.post(f"{standin.url}/login/oauth/access_token", data=data, headers=headers)


def refresh(standin: GitHubStandin, refresh_token: str, secret: str | None = None) -> Any:
    data = {
        "client_id": standin.client_id,
        "client_secret": secret or standin.client_secret,
        "grant_type": "refresh_token",
        "refresh_token": refresh_token,
    }
    answer = httpx.post(f"{standin.url}/login/oauth/access_token", data=data, headers=JSON)
    assert answer.status_code == 200  # GitHub: errors come with HTTP 200 too
    return answer.json()


def user(standin: GitHubStandin, token: str) -> httpx.Response:
    return httpx.get(f"{standin.api_url}/user", headers={"Authorization": f"Bearer {token}"})


def test_code_grant_answers_expiring_tokens_json_and_form(app_standin: GitHubStandin) -> None:
    body = sign_in(app_standin, "octocat", **JSON).json()
    assert set(body) == {
        "access_token",
        "expires_in",
        "refresh_token",
        "refresh_token_expires_in",
        "scope",
        "token_type",
    }
    assert body["access_token"].startswith("ghu_") and body["refresh_token"].startswith("ghr_")
    assert (body["expires_in"], body["refresh_token_expires_in"]) == (28800, 15897600)
    assert (body["scope"], body["token_type"]) == ("", "bearer")
    assert user(app_standin, body["access_token"]).json()["login"] == "octocat"

    form = sign_in(app_standin, "hubot")
    assert form.headers["content-type"].startswith("application/x-www-form-urlencoded")
    fields = parse_qs(form.text, keep_blank_values=True)
    assert fields["expires_in"] == ["28800"] and fields["refresh_token"][0].startswith("ghr_")


def test_refresh_rotates_and_the_old_pair_dies(app_standin: GitHubStandin) -> None:
    first = sign_in(app_standin, "rotor", **JSON).json()
    before = app_standin.stats()
    second = refresh(app_standin, first["refresh_token"])
    assert second["access_token"] not in (first["access_token"], None)
    assert second["refresh_token"] != first["refresh_token"]
    assert second["expires_in"] == 28800 and second["scope"] == ""
    assert user(app_standin, second["access_token"]).json()["login"] == "rotor"
    # docs.github.com "Refreshing user access tokens": once a refresh token is used, it and the
    # old user access token no longer work.
    assert user(app_standin, first["access_token"]).status_code == 401
    replay = refresh(app_standin, first["refresh_token"])
    assert replay["error"] == "bad_refresh_token"
    assert replay["error_description"] == "The refresh token passed is incorrect or expired."
    assert replay["error_uri"].startswith("https://docs.github.com/")
    assert refresh(app_standin, "ghr_never-issued")["error"] == "bad_refresh_token"
    wrong = refresh(app_standin, second["refresh_token"], secret="not-the-secret")
    assert wrong["error"] == "incorrect_client_credentials"
    # The wrong-credentials attempt did not burn the refresh token.
    assert "access_token" in refresh(app_standin, second["refresh_token"])
    after = app_standin.stats()
    assert after["refresh_grants"] - before["refresh_grants"] == 5
    assert after["refresh_rotations"] - before["refresh_rotations"] == 2
    assert after["bad_refresh_tokens"] - before["bad_refresh_tokens"] == 2
    assert after["token_requests"] - before["token_requests"] == 5
    assert after["github_app"] is True


def test_expire_makes_the_api_answer_bad_credentials_until_refreshed(
    app_standin: GitHubStandin,
) -> None:
    tokens = sign_in(app_standin, "Sleepy", **JSON).json()
    headers = {"Authorization": f"token {tokens['access_token']}"}
    # A GitHub App's user token has no scopes (scope ""): the app's permissions let it read.
    assert httpx.get(f"{app_standin.api_url}/user/teams", headers=headers).status_code == 200
    assert app_standin.expire("sleepy") == 1
    expired = user(app_standin, tokens["access_token"])
    assert (expired.status_code, expired.json()) == (401, {"message": "Bad credentials"})
    assert httpx.get(f"{app_standin.api_url}/user/teams", headers=headers).status_code == 401
    renewed = refresh(app_standin, tokens["refresh_token"])
    assert user(app_standin, renewed["access_token"]).status_code == 200
    for bad in ("{}", "not json", '{"login": 7}'):
        answer = httpx.post(f"{app_standin.url}/_standin/expire", content=bad)
        assert answer.status_code == 400


def test_tokens_expire_on_their_own(tmp_path) -> None:
    short = start_standin(tmp_path, github_app=True, token_lifetime=5, refresh_token_lifetime=6)
    try:
        tokens = sign_in(short, "brief", **JSON).json()
        issued = time.monotonic()
        assert (tokens["expires_in"], tokens["refresh_token_expires_in"]) == (5, 6)
        assert user(short, tokens["access_token"]).status_code == 200
        time.sleep(max(0.0, issued + 6.5 - time.monotonic()))
        assert user(short, tokens["access_token"]).status_code == 401
        assert refresh(short, tokens["refresh_token"])["error"] == "bad_refresh_token"
    finally:
        short.stop()


def test_delete_grant_kills_every_token_of_the_user(app_standin: GitHubStandin) -> None:
    one = sign_in(app_standin, "leaver", **JSON).json()
    two = sign_in(app_standin, "leaver", **JSON).json()
    other = sign_in(app_standin, "stayer", **JSON).json()
    assert app_standin.revoke_grant(one["access_token"]) == 204
    for tokens in (one, two):
        assert user(app_standin, tokens["access_token"]).status_code == 401
        assert refresh(app_standin, tokens["refresh_token"])["error"] == "bad_refresh_token"
    assert user(app_standin, other["access_token"]).status_code == 200
    assert app_standin.revoke_grant(one["access_token"]) == 404


def test_delete_token_kills_that_one_only(app_standin: GitHubStandin) -> None:
    one = sign_in(app_standin, "partial", **JSON).json()
    two = sign_in(app_standin, "partial", **JSON).json()
    before = app_standin.stats()["revocations"]
    assert app_standin.revoke_token(one["access_token"]) == 204
    assert user(app_standin, one["access_token"]).status_code == 401
    assert user(app_standin, two["access_token"]).status_code == 200
    assert app_standin.revoke_token(one["access_token"]) == 404
    assert app_standin.stats()["revocations"] == before + 1


def test_delete_endpoints_check_basic_auth_and_body(app_standin: GitHubStandin) -> None:
    token = sign_in(app_standin, "guarded", **JSON).json()["access_token"]
    url = f"{app_standin.url}/applications/{app_standin.client_id}/grant"
    body = {"access_token": token}
    for auth in ((app_standin.client_id, "wrong"), ("someone", app_standin.client_secret)):
        answer = httpx.request("DELETE", url, auth=auth, json=body)
        assert answer.status_code == 401
    no_auth = httpx.request("DELETE", url, json=body)
    assert no_auth.status_code == 401
    creds = (app_standin.client_id, app_standin.client_secret)
    missing = httpx.request("DELETE", url, auth=creds, json={})
    assert missing.status_code == 422 and "access_token" in missing.json()["message"]
    other_app = url.replace(f"/{app_standin.client_id}/", "/other-app/")
    assert httpx.request("DELETE", other_app, auth=creds, json=body).status_code == 404
    assert user(app_standin, token).status_code == 200  # none of those deleted anything
    assert httpx.request("DELETE", url, auth=creds, json=body).status_code == 204


def test_oauth_app_mode_is_unchanged_and_has_no_refresh(oauth_standin: GitHubStandin) -> None:
    body = sign_in(oauth_standin, "classic", **JSON).json()
    assert set(body) == {"access_token", "scope", "token_type"}
    assert body["access_token"].startswith("gho_")
    # An OAuth app has no refresh tokens: whatever it sends is not one GitHub issued.
    assert refresh(oauth_standin, "ghr_anything")["error"] == "bad_refresh_token"
    assert oauth_standin.expire("classic") == 1
    assert user(oauth_standin, body["access_token"]).status_code == 401
    fresh = sign_in(oauth_standin, "classic", **JSON).json()["access_token"]
    assert oauth_standin.revoke_grant(fresh) == 204
    assert user(oauth_standin, fresh).status_code == 401
    stats = oauth_standin.stats()
    assert stats["github_app"] is False and stats["refresh_rotations"] == 0
    assert stats["user_requests"] >= 2
    assert stats["bad_credentials"] == 2  # the expired token, then the deleted one
