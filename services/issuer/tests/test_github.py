"""The issuer's GitHub client against the stand-in: quirks handled, failures classified."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from authgate_issuer.login import github
from authgate_issuer.settings import IssuerSettings
from testsupport.github_standin import GitHubStandin, standin_login, start_standin
from testsupport.ports import free_port


@pytest.fixture(scope="module")
def standin(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GitHubStandin]:
    proc = start_standin(tmp_path_factory.mktemp("standin"), users=["OctoCat:583231"])
    yield proc
    proc.stop()


@pytest.fixture(autouse=True)
def no_faults(standin: GitHubStandin) -> None:
    standin.set_faults()


@pytest.fixture
def gh_settings(env: dict[str, str], standin: GitHubStandin) -> IssuerSettings:
    return IssuerSettings.from_env({**env, **standin.issuer_env(), "GITHUB_TIMEOUT_MS": "500"})


def code_for(standin: GitHubStandin, settings: IssuerSettings, login: str = "octocat") -> str:
    query = httpx.QueryParams(
        client_id=standin.client_id, redirect_uri=settings.callback_url, state="s"
    )
    with httpx.Client() as http:
        location = standin_login(http, f"{standin.url}/login/oauth/authorize?{query}", login)
    return parse_qs(urlsplit(location).query)["code"][0]


def login(settings: IssuerSettings, code: str) -> github.GitHubUser:
    async def run() -> github.GitHubUser:
        timeout = httpx.Timeout(settings.github.timeout)
        async with httpx.AsyncClient(timeout=timeout) as http:
            return await github.login(http, settings, code)

    return asyncio.run(run())


def test_login_returns_canonical_login_and_string_id(standin, gh_settings) -> None:
    user = login(gh_settings, code_for(standin, gh_settings, "octocat"))
    assert (user.login, user.id) == ("OctoCat", "583231")
    assert user.name is not None and user.email is not None


def test_form_encoded_token_responses_are_understood(standin, gh_settings) -> None:
    code = code_for(standin, gh_settings)
    standin.set_faults(token="form_encoded")
    assert login(gh_settings, code).login == "OctoCat"


def test_used_code_is_denied_not_unavailable(standin, gh_settings) -> None:
    code = code_for(standin, gh_settings)
    login(gh_settings, code)
    with pytest.raises(github.GitHubDenied):
        login(gh_settings, code)


def test_wrong_client_secret_is_a_server_error(standin, gh_settings, env) -> None:
    wrong = IssuerSettings.from_env(
        {**env, **standin.issuer_env(), "GITHUB_CLIENT_SECRET": "not-the-secret"}
    )
    with pytest.raises(github.GitHubError) as caught:
        login(wrong, code_for(standin, wrong))
    assert type(caught.value) is github.GitHubError


@pytest.mark.parametrize(
    ("token", "user"),
    [
        ("error500", "none"),
        ("malformed", "none"),
        ("slow", "none"),
        ("none", "error500"),
        ("none", "malformed"),
        ("none", "slow"),
    ],
)
def test_outages_are_unavailable(standin, gh_settings, token: str, user: str) -> None:
    code = code_for(standin, gh_settings)
    standin.set_faults(token=token, user=user, delay=3)
    with pytest.raises(github.GitHubUnavailable):
        login(gh_settings, code)


def test_rejected_token_on_user_is_a_server_error(standin, gh_settings) -> None:
    code = code_for(standin, gh_settings)
    standin.set_faults(user="unauthorized")
    with pytest.raises(github.GitHubError) as caught:
        login(gh_settings, code)
    assert type(caught.value) is github.GitHubError


def test_unreachable_github_is_unavailable(env) -> None:
    closed = f"http://127.0.0.1:{free_port()}"
    settings = IssuerSettings.from_env({**env, "GITHUB_BASE_URL": closed, "GITHUB_API_URL": closed})
    with pytest.raises(github.GitHubUnavailable):
        login(settings, "any-code")


@pytest.mark.parametrize(
    ("fault", "reason"),
    [("no_id", "no valid id"), ("string_id", "no valid id"), ("bad_login", "no valid login")],
)
def test_an_unusable_account_is_not_an_outage(
    standin: GitHubStandin, gh_settings: IssuerSettings, fault: str, reason: str
) -> None:
    # /callback answers access_denied for these (tests/test_attacks_metadata.py), since a retry
    # gets the same answer; GitHubUnavailable would say "retry shortly".
    code = code_for(standin, gh_settings)
    standin.set_faults(user=fault)
    with pytest.raises(github.GitHubUnusableAccount, match=reason) as caught:
        login(gh_settings, code)
    assert not isinstance(caught.value, github.GitHubUnavailable)
