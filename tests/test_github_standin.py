"""The GitHub stand-in behaves like GitHub's OAuth app endpoints and API (quirks included)."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from devstack.github_standin.__main__ import main
from testsupport.github_standin import GitHubStandin, standin_login, start_standin

CALLBACK = "http://127.0.0.1:1/callback"


@pytest.fixture(scope="module")
def standin(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GitHubStandin]:
    proc = start_standin(tmp_path_factory.mktemp("standin"), users=["Octocat:583231", "hubot"])
    yield proc
    proc.stop()


@pytest.fixture(autouse=True)
def no_faults(standin: GitHubStandin) -> None:
    standin.set_faults()
    standin.set_orgs({})


def authorize_url(standin: GitHubStandin, client_id: str = "authgate-dev") -> str:
    query = httpx.QueryParams(
        client_id=client_id, redirect_uri=CALLBACK, state="st-1", scope="read:user"
    )
    return f"{standin.url}/login/oauth/authorize?{query}"


def login_code(standin: GitHubStandin, login: str = "octocat") -> str:
    with httpx.Client() as http:
        location = standin_login(http, authorize_url(standin), login)
    assert location.startswith(CALLBACK + "?")
    params = parse_qs(urlsplit(location).query)
    assert params["state"] == ["st-1"]
    return params["code"][0]


def exchange(standin: GitHubStandin, code: str, **overrides: str) -> httpx.Response:
    data = {"client_id": "authgate-dev", "client_secret": "authgate-dev", "code": code}
    data.update(overrides)
    headers = {k: v for k, v in overrides.items() if k == "Accept"}
    data.pop("Accept", None)
    return httpx.post(f"{standin.url}/login/oauth/access_token", data=data, headers=headers)


def test_login_page_is_a_plain_form_and_unknown_app_is_refused(standin: GitHubStandin) -> None:
    page = httpx.get(authorize_url(standin))
    assert page.status_code == 200
    assert '<form method="post" action="/login/oauth/authorize">' in page.text
    assert 'name="state" value="st-1"' in page.text
    assert httpx.get(authorize_url(standin, client_id="other")).status_code == 404


def test_token_exchange_is_form_encoded_unless_json_is_asked(standin: GitHubStandin) -> None:
    form = exchange(standin, login_code(standin))
    assert form.status_code == 200
    assert form.headers["content-type"].startswith("application/x-www-form-urlencoded")
    body = parse_qs(form.text)
    assert body["token_type"] == ["bearer"] and body["scope"] == ["read:user"]
    assert body["access_token"][0].startswith("gho_")

    as_json = exchange(standin, login_code(standin), Accept="application/json")
    assert as_json.json()["access_token"].startswith("gho_")


def test_codes_are_single_use_and_errors_come_with_200(standin: GitHubStandin) -> None:
    code = login_code(standin)
    json_accept = {"Accept": "application/json"}
    wrong_secret = exchange(standin, code, client_secret="nope", **json_accept)
    assert (wrong_secret.status_code, wrong_secret.json()["error"]) == (
        200,
        "incorrect_client_credentials",
    )
    mismatch = exchange(standin, code, redirect_uri="http://127.0.0.1:2/x", **json_accept)
    assert (mismatch.status_code, mismatch.json()["error"]) == (200, "redirect_uri_mismatch")
    fresh = login_code(standin)
    assert "access_token" in exchange(standin, fresh, **json_accept).json()
    replay = exchange(standin, fresh, **json_accept)
    assert (replay.status_code, replay.json()["error"]) == (200, "bad_verification_code")
    form_error = exchange(standin, "never-issued")
    assert form_error.status_code == 200
    assert parse_qs(form_error.text)["error"] == ["bad_verification_code"]


def test_user_endpoint_on_both_api_bases(standin: GitHubStandin) -> None:
    token = exchange(standin, login_code(standin, "OCTOCAT"), Accept="application/json").json()[
        "access_token"
    ]
    for base, scheme in ((standin.url, "Bearer"), (standin.api_url, "token")):
        user = httpx.get(f"{base}/user", headers={"Authorization": f"{scheme} {token}"})
        assert user.status_code == 200
        body = user.json()
        # Canonical spelling of a configured user, and its configured numeric id.
        assert (body["login"], body["id"]) == ("Octocat", 583231)
        assert set(body) >= {"name", "email"}
    bad = httpx.get(f"{standin.api_url}/user", headers={"Authorization": "Bearer nope"})
    assert (bad.status_code, bad.json()) == (401, {"message": "Bad credentials"})
    assert httpx.get(f"{standin.url}/user").status_code == 401


def test_configured_users_only_and_deny(standin: GitHubStandin) -> None:
    with httpx.Client() as http:
        page = http.get(authorize_url(standin))
        refused = http.post(
            f"{standin.url}/login/oauth/authorize",
            data={"client_id": "authgate-dev", "redirect_uri": CALLBACK, "login": "mallory"},
        )
        assert "Octocat" in page.text and refused.status_code == 400
        denied = standin_login(http, authorize_url(standin), "hubot", deny=True)
    params = parse_qs(urlsplit(denied).query)
    assert params["error"] == ["access_denied"] and params["state"] == ["st-1"]


def test_ids_are_stable_numbers_per_login(tmp_path) -> None:
    open_standin = start_standin(tmp_path)  # no --user: any login
    try:
        ids = []
        for login in ("alice", "ALICE", "bob"):
            with httpx.Client() as http:
                location = standin_login(http, authorize_url(open_standin), login)
            code = parse_qs(urlsplit(location).query)["code"][0]
            token = exchange(open_standin, code, Accept="application/json").json()["access_token"]
            user = httpx.get(
                f"{open_standin.url}/user", headers={"Authorization": f"token {token}"}
            )
            ids.append(user.json()["id"])
        assert all(isinstance(i, int) for i in ids)
        assert ids[0] == ids[1] != ids[2]
    finally:
        open_standin.stop()


def test_fault_injection(standin: GitHubStandin) -> None:
    standin.set_faults(token="error500")
    assert exchange(standin, login_code(standin)).status_code == 500
    standin.set_faults(token="malformed")
    malformed = exchange(standin, login_code(standin), Accept="application/json")
    with pytest.raises(json.JSONDecodeError):
        malformed.json()
    standin.set_faults(user="unauthorized")
    token = exchange(standin, login_code(standin), Accept="application/json").json()
    unauthorized = httpx.get(
        f"{standin.url}/user", headers={"Authorization": f"Bearer {token['access_token']}"}
    )
    assert unauthorized.status_code == 401
    standin.set_faults(token="slow", delay=0.6)
    started = time.monotonic()
    slow = exchange(standin, login_code(standin), Accept="application/json")
    assert time.monotonic() - started >= 0.6 and "access_token" in slow.json()
    standin.set_faults()
    assert httpx.get(f"{standin.url}/_standin/faults").json()["token"] == "none"
    bad = httpx.post(f"{standin.url}/_standin/faults", json={"token": "explode"})
    assert bad.status_code == 400


def test_user_faults_spoil_a_well_formed_answer(standin: GitHubStandin) -> None:
    """``no_id``, ``string_id`` and ``bad_login``: a 200 JSON user the issuer must refuse."""
    seen = {}
    for fault in ("no_id", "string_id", "bad_login"):
        standin.set_faults()
        token = exchange(standin, login_code(standin), Accept="application/json").json()
        standin.set_faults(user=fault)
        answer = httpx.get(
            f"{standin.url}/user", headers={"Authorization": f"Bearer {token['access_token']}"}
        )
        assert answer.status_code == 200
        seen[fault] = answer.json()
    standin.set_faults()
    assert "id" not in seen["no_id"] and seen["no_id"]["login"]
    assert isinstance(seen["string_id"]["id"], str) and seen["string_id"]["id"].isdigit()
    assert isinstance(seen["bad_login"]["id"], int) and " " in seen["bad_login"]["login"]


def test_refuses_to_listen_beyond_loopback() -> None:
    with pytest.raises(SystemExit, match="non-loopback"):
        main(["--host", "0.0.0.0"])


# Organisations and teams (the issuer's ALLOWED_GITHUB_ORGS / ALLOWED_GITHUB_TEAMS checks).

ORGS = {
    "Acme": {
        "members": {"octocat": "active", "hubot": "pending"},
        "teams": {"platform": ["octocat"], "a-team": ["octocat"], "b-team": ["octocat"]},
    },
    "Other": {"members": {"octocat": "active"}, "teams": {"platform": ["hubot"], "z": ["octocat"]}},
    "Corp": {"members": {"octocat": "active"}, "teams": {"secret": ["octocat"]}, "saml": True},
}


def org_token(standin: GitHubStandin, login: str, scope: str = "read:user read:org") -> str:
    query = httpx.QueryParams(
        client_id="authgate-dev", redirect_uri=CALLBACK, state="st-1", scope=scope
    )
    with httpx.Client() as http:
        location = standin_login(http, f"{standin.url}/login/oauth/authorize?{query}", login)
    code = parse_qs(urlsplit(location).query)["code"][0]
    answer = exchange(standin, code, Accept="application/json").json()
    assert answer["scope"] == ",".join(sorted(scope.split()))  # GitHub: comma-separated
    return str(answer["access_token"])


def api(standin: GitHubStandin, path: str, token: str) -> httpx.Response:
    return httpx.get(f"{standin.api_url}{path}", headers={"Authorization": f"Bearer {token}"})


def test_org_membership_states_404_and_saml_403(standin: GitHubStandin) -> None:
    standin.set_orgs(ORGS)
    octocat, hubot = org_token(standin, "octocat"), org_token(standin, "hubot")
    active = api(standin, "/user/memberships/orgs/ACME", octocat)
    assert active.status_code == 200
    body = active.json()
    assert body["state"] == "active" and body["organization"]["login"] == "Acme"
    assert body["user"]["login"] == "Octocat"
    assert api(standin, "/user/memberships/orgs/acme", hubot).json()["state"] == "pending"
    # No membership and no such organisation look the same: 404.
    assert api(standin, "/user/memberships/orgs/corp", hubot).status_code == 404
    assert api(standin, "/user/memberships/orgs/nowhere", octocat).status_code == 404
    saml = api(standin, "/user/memberships/orgs/corp", octocat)
    assert saml.status_code == 403 and "SAML enforcement" in saml.json()["message"]
    assert saml.headers["x-github-sso"].startswith("required; url=")
    # The root serves the API too (github.com style); read:org is needed; bad tokens get 401.
    root = httpx.get(
        f"{standin.url}/user/memberships/orgs/acme", headers={"Authorization": f"token {octocat}"}
    )
    assert root.status_code == 200
    no_scope = org_token(standin, "octocat", scope="read:user")
    assert api(standin, "/user/memberships/orgs/acme", no_scope).status_code == 403
    assert api(standin, "/user/teams", "gho_nope").status_code == 401


def test_user_teams_paginate_with_link_headers_and_hide_saml_orgs(standin: GitHubStandin) -> None:
    standin.set_orgs(ORGS, max_per_page=2)
    token = org_token(standin, "octocat")
    seen: list[str] = []
    url: str | None = f"{standin.api_url}/user/teams?per_page=100"
    pages = 0
    while url is not None:
        answer = httpx.get(url, headers={"Authorization": f"Bearer {token}"})
        assert answer.status_code == 200
        pages += 1
        seen += [f"{t['organization']['login']}/{t['slug']}" for t in answer.json()]
        assert answer.headers["x-github-sso"].startswith("partial-results; organizations=")
        url = answer.links.get("next", {}).get("url")
        if url is not None:
            assert 'rel="last"' in answer.headers["link"]
    assert pages == 2  # 4 visible teams, 2 per page (the cap wins over per_page=100)
    # Same slug in two organisations stays apart; the SAML organisation's team is left out.
    assert seen == ["Acme/a-team", "Acme/b-team", "Acme/platform", "Other/z"]
    assert "Corp/secret" not in seen and "Other/platform" not in seen
    last = httpx.get(
        f"{standin.api_url}/user/teams?page=2&per_page=2",
        headers={"Authorization": f"Bearer {token}"},
    )
    assert 'rel="prev"' in last.headers["link"] and 'rel="next"' not in last.headers["link"]


def test_membership_faults_and_bad_configuration(standin: GitHubStandin) -> None:
    standin.set_orgs(ORGS)
    token = org_token(standin, "octocat")
    standin.set_faults(membership="rate_limited")
    limited = api(standin, "/user/memberships/orgs/acme", token)
    assert limited.status_code == 403 and limited.headers["x-ratelimit-remaining"] == "0"
    standin.set_faults(membership="error500")
    assert api(standin, "/user/teams", token).status_code == 500
    standin.set_faults()
    assert api(standin, "/user/teams", token).status_code == 200
    bad = httpx.post(
        f"{standin.url}/_standin/orgs", json={"orgs": {"acme": {"members": {"x": "invited"}}}}
    )
    assert bad.status_code == 400


def test_orgs_from_the_command_line_and_the_environment(tmp_path) -> None:
    args = ["--org-member", "acme:alice:pending", "--team-member", "acme/platform:bob"]
    args += ["--saml-org", "corp", "--max-per-page", "5"]
    proc = GitHubStandin(tmp_path, extra_args=args)
    proc.env |= {
        "GITHUB_STANDIN_ORG_MEMBERS": "other:carol, other:dave:pending",
        "GITHUB_STANDIN_TEAM_MEMBERS": "other/platform:carol",
        "GITHUB_STANDIN_SAML_ORGS": "",
    }
    proc.start(expect_healthy=True)
    try:
        shown = httpx.get(f"{proc.url}/_standin/orgs").json()
        assert shown["orgs"]["acme"]["members"] == {"alice": "pending", "bob": "active"}
        assert shown["orgs"]["acme"]["teams"] == {"platform": ["bob"]}
        assert shown["orgs"]["corp"]["saml"] is True and shown["max_per_page"] == 5
        assert shown["orgs"]["other"]["members"] == {"carol": "active", "dave": "pending"}
        assert shown["orgs"]["other"]["teams"] == {"platform": ["carol"]}
    finally:
        proc.stop()
