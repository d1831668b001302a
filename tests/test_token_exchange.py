"""RFC 8693 token exchange at /token through real processes: redis-server, the GitHub stand-in
(OAuth app and GitHub App modes), one or two issuer replicas, the admin CLI.

An MCP server (an exchanger client the operator created) presents the access token a user's
client sent it and receives the user's GitHub token from the vault; every refusal of RFC 8693
§2.2.2; the GitHub App's expiring token refreshed server-side once across two replicas; a
refresh token GitHub refuses revokes the grant.
"""

from __future__ import annotations

import base64
import concurrent.futures
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis

from authgate_shared import redis_keys
from testsupport import vault_grants
from testsupport.admin_cli import admin_env, run_process
from testsupport.flows import RegisteredClient, register, token_request
from testsupport.github_standin import GitHubStandin, start_standin
from testsupport.issuer import issuer_env, start_issuer
from testsupport.service import ServiceProcess

KEYS = "k1:" + base64.b64encode(os.urandom(32)).decode()
MCP_A = "https://mcp-a.example.com"
MCP_B = "https://mcp-b.example.com"
EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange"
ACCESS = "urn:ietf:params:oauth:token-type:access_token"
# GitHub App tokens in the App test live 305 s: with the vault's 300 s margin they need a
# refresh 5 s after they were issued, so the test waits seconds, not hours.
APP_LIFETIME = 305


def start(standin: GitHubStandin, redis_url: str, keys_dir: Path, log_dir: Path, **env: str) -> ServiceProcess:
    values = issuer_env(redis_url, keys_dir, **standin.issuer_env(), ALLOWED_GITHUB_USERS="*")
    values.update(env)
    log_dir.mkdir(exist_ok=True)
    return start_issuer(values, log_dir, issuer_url_from_port="ISSUER_URL" not in env)


def sign_in_client(
    issuer_url: str, login: str, resource: str = MCP_A
) -> tuple[RegisteredClient, dict[str, Any]]:
    return vault_grants.sign_in(issuer_url, login, resource)


def sign_in(issuer_url: str, login: str, resource: str = MCP_A) -> dict[str, Any]:
    return sign_in_client(issuer_url, login, resource)[1]


def exchanger(redis_url: str, keys_dir: Path, *resources: str) -> tuple[str, str]:
    args = [arg for r in resources for arg in ("--resource", r)]
    done = run_process(
        admin_env(redis_url, keys_dir), "clients", "create-exchanger", "--name", "gh", *args, "--json"
    )
    assert done.code == 0, done.err
    created = done.json()
    return created["client_id"], created["client_secret"]


def exchange(issuer_url: str, credentials: tuple[str, str], subject: str, **extra: str) -> httpx.Response:
    form = {"grant_type": EXCHANGE, "subject_token": subject, "subject_token_type": ACCESS}
    form.update(extra)
    form = {k: v for k, v in form.items() if v}
    return httpx.post(f"{issuer_url}/token", data=form, auth=credentials, timeout=30)


def github_login(standin: GitHubStandin, token: str) -> str:
    answer = httpx.get(f"{standin.api_url}/user", headers={"Authorization": f"Bearer {token}"})
    assert answer.status_code == 200, answer.text
    return str(answer.json()["login"])


@pytest.fixture(scope="module")
def standin(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GitHubStandin]:
    proc = start_standin(tmp_path_factory.mktemp("standin"))
    yield proc
    proc.stop()


@pytest.fixture
def issuer(standin: GitHubStandin, redis_url: str, keys_dir: Path, tmp_path: Path) -> Iterator[ServiceProcess]:
    proc = start(standin, redis_url, keys_dir, tmp_path / "issuer", UPSTREAM_TOKEN_KEYS=KEYS)
    yield proc
    proc.stop()


def test_an_mcp_server_gets_the_users_github_token(
    standin: GitHubStandin, issuer: ServiceProcess, redis_url: str, keys_dir: Path
) -> None:
    tokens = sign_in(issuer.url, "octocat")
    credentials = exchanger(redis_url, keys_dir, MCP_A)
    answer = exchange(issuer.url, credentials, tokens["access_token"], audience="github")
    assert answer.status_code == 200, answer.text
    assert answer.headers["cache-control"] == "no-store"
    body = answer.json()
    assert body["issued_token_type"] == ACCESS and body["token_type"] == "Bearer"
    assert "expires_in" not in body and "refresh_token" not in body  # an OAuth app's token
    assert github_login(standin, body["access_token"]) == "octocat"
    # The same by the API's URL as resource, and with no upstream named (GitHub by default).
    for extra in ({"resource": standin.api_url}, {}):
        again = exchange(issuer.url, credentials, tokens["access_token"], **extra)
        assert again.status_code == 200 and again.json()["access_token"] == body["access_token"]
    log = Path(issuer.log_path).read_text()
    assert '"token_exchanged"' in log and credentials[0] in log
    assert body["access_token"] not in log and tokens["access_token"] not in log


def test_refusals_follow_rfc_8693(
    standin: GitHubStandin, issuer: ServiceProcess, redis_url: str, keys_dir: Path
) -> None:
    owner, tokens = sign_in_client(issuer.url, "octocat")
    subject = tokens["access_token"]
    for_b = exchanger(redis_url, keys_dir, MCP_B)
    for_a = exchanger(redis_url, keys_dir, MCP_A)

    def refused(answer: httpx.Response, error: str, status: int = 400) -> None:
        assert answer.status_code == status, answer.text
        assert answer.json()["error"] == error, answer.text
        assert "access_token" not in answer.json()

    # A token issued for another service than the exchanger's.
    refused(exchange(issuer.url, for_b, subject), "invalid_request")
    refused(exchange(issuer.url, for_a, subject, audience="gitlab"), "invalid_target")
    two = {"audience": "github", "resource": standin.api_url}
    refused(exchange(issuer.url, for_a, subject, **two), "invalid_target")
    refused(exchange(issuer.url, for_a, subject, subject_token_type="urn:x"), "invalid_request")
    wrong_type = {"requested_token_type": "urn:ietf:params:oauth:token-type:id_token"}
    refused(exchange(issuer.url, for_a, subject, **wrong_type), "invalid_request")
    refused(exchange(issuer.url, for_a, subject, actor_token=subject, actor_token_type=ACCESS), "invalid_request")
    refused(exchange(issuer.url, for_a, tokens["refresh_token"]), "invalid_request")
    refused(exchange(issuer.url, for_a, "not.a.jwt"), "invalid_request")
    refused(exchange(issuer.url, for_a, ""), "invalid_request")  # subject_token missing
    refused(exchange(issuer.url, (for_a[0], "wrong"), subject), "invalid_client", 401)
    # A client of dynamic registration can neither use nor register the grant type.
    http = httpx.Client(timeout=30)
    client: RegisteredClient = register(http, issuer.url)
    assert client.client_secret is not None
    refused(exchange(issuer.url, (client.client_id, client.client_secret), subject), "unauthorized_client")
    body = {"redirect_uris": ["https://app.example.com/cb"], "grant_types": [EXCHANGE]}
    answer = http.post(f"{issuer.url}/register", json=body)
    assert answer.status_code == 400 and answer.json()["error"] == "invalid_client_metadata"
    # A revoked access token is no subject token.
    assert exchange(issuer.url, for_a, subject).status_code == 200
    assert owner.client_secret is not None
    revoked = http.post(f"{issuer.url}/revoke", data={"token": subject}, auth=(owner.client_id, owner.client_secret))
    assert revoked.status_code == 200
    refused(exchange(issuer.url, for_a, subject), "invalid_request")
    log = Path(issuer.log_path).read_text()
    # Every refusal after the client authenticated is audited (a malformed form is not).
    assert log.count('"event":"token_exchange_refused"') == 8, log
    assert log.count('"error":"invalid_target"') == 2 and subject not in log


def test_without_upstream_token_keys_nothing_is_kept_to_exchange(
    standin: GitHubStandin, redis_url: str, keys_dir: Path, tmp_path: Path
) -> None:
    issuer = start(standin, redis_url, keys_dir, tmp_path / "issuer")
    try:
        tokens = sign_in(issuer.url, "octocat")
        answer = exchange(issuer.url, exchanger(redis_url, keys_dir, MCP_A), tokens["access_token"])
        assert answer.status_code == 400 and answer.json()["error"] == "invalid_request"
        assert "sign in again" in answer.json()["error_description"]
    finally:
        issuer.stop()


def test_github_app_tokens_are_refreshed_once_across_replicas_and_a_refused_refresh_revokes(
    redis_url: str, keys_dir: Path, tmp_path: Path
) -> None:
    app = start_standin(tmp_path / "app", github_app=True, token_lifetime=APP_LIFETIME)
    first_replica = start(app, redis_url, keys_dir, tmp_path / "issuer1", UPSTREAM_TOKEN_KEYS=KEYS)
    replicas = [first_replica]
    try:
        second = {"UPSTREAM_TOKEN_KEYS": KEYS, "ISSUER_URL": first_replica.url}
        replicas.append(start(app, redis_url, keys_dir, tmp_path / "issuer2", **second))
        tokens = sign_in(replicas[0].url, "monalisa")
        credentials = exchanger(redis_url, keys_dir, MCP_A)
        answer = exchange(replicas[1].url, credentials, tokens["access_token"])
        assert answer.status_code == 200, answer.text
        first = answer.json()
        assert first["access_token"].startswith("ghu_")
        assert APP_LIFETIME - 30 <= first["expires_in"] <= APP_LIFETIME
        assert app.stats()["refresh_grants"] == 0
        time.sleep(6)  # now within the 300 s margin: the next exchange refreshes first
        before = app.stats()["refresh_grants"]
        with concurrent.futures.ThreadPoolExecutor(max_workers=8) as pool:
            answers = list(
                pool.map(
                    lambda n: exchange(replicas[n % 2].url, credentials, tokens["access_token"]),
                    range(8),
                )
            )
        assert all(a.status_code == 200 for a in answers), [a.text for a in answers]
        fresh = {a.json()["access_token"] for a in answers}
        assert len(fresh) == 1 and first["access_token"] not in fresh  # one refresh for all
        assert app.stats()["refresh_grants"] == before + 1
        current = fresh.pop()
        assert github_login(app, current) == "monalisa"
        # The user revokes the app on GitHub: the next refresh is refused, the grant revoked.
        assert app.revoke_grant(current) == 204
        time.sleep(6)
        answer = exchange(replicas[0].url, credentials, tokens["access_token"])
        assert answer.status_code == 400 and answer.json()["error"] == "invalid_request"
        assert "revoked" in answer.json()["error_description"]
        grant_id = tokens["refresh_token"].partition(".")[0]
        assert not redis.Redis.from_url(redis_url).exists(redis_keys.grant(grant_id))
        refresh = {"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]}
        assert httpx.post(f"{replicas[0].url}/token", data=refresh).status_code in (400, 401)
    finally:
        for proc in replicas:
            proc.stop()
        app.stop()


def test_a_refresh_rechecks_membership_with_the_refreshed_github_app_token(
    redis_url: str, keys_dir: Path, tmp_path: Path
) -> None:
    """The membership re-check of a refresh draws on the vault: GitHub App tokens die after 8 h,
    so the check must run with a refreshed token, not the one the login obtained."""
    app = start_standin(tmp_path / "app", github_app=True, token_lifetime=APP_LIFETIME)
    app.set_orgs({"acme": {"members": {"monalisa": "active"}}})
    issuer = start(
        app, redis_url, keys_dir, tmp_path / "issuer",
        UPSTREAM_TOKEN_KEYS=KEYS, ALLOWED_GITHUB_USERS="", ALLOWED_GITHUB_ORGS="acme",
    )  # fmt: skip
    try:
        owner, tokens = sign_in_client(issuer.url, "monalisa")
        time.sleep(6)  # within the vault's margin now
        assert app.expire("monalisa") >= 1  # and GitHub already refuses the login's token
        before = app.stats()["refresh_grants"]
        form = {"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]}
        answer = token_request(httpx.Client(timeout=30), issuer.url, owner, form)
        assert answer.status_code == 200, answer.text
        assert app.stats()["refresh_grants"] == before + 1
        credentials = exchanger(redis_url, keys_dir, MCP_A)
        exchanged = exchange(issuer.url, credentials, answer.json()["access_token"])
        assert exchanged.status_code == 200, exchanged.text
        assert github_login(app, exchanged.json()["access_token"]) == "monalisa"
        assert app.stats()["refresh_grants"] == before + 1  # the refreshed token is reused
    finally:
        issuer.stop()
        app.stop()
