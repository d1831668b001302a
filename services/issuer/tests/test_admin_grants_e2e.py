"""``authgate grants`` on what real logins leave: redis-server, the GitHub stand-in as a GitHub
App (expiring user tokens with refresh tokens), the issuer over HTTP keeping each login's GitHub
token under UPSTREAM_TOKEN_KEYS, and the CLI as a process."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from testsupport.admin_cli import CliResult, admin_env, run_process
from testsupport.github_standin import GitHubStandin, start_standin
from testsupport.issuer import issuer_env, start_issuer
from testsupport.service import ServiceProcess
from testsupport.vault_grants import KEYS_VALUE, sign_in

MCP = "https://mcp.example.com"
LIFETIME = 8 * 3600  # GitHub Apps' user tokens


@pytest.fixture(scope="module")
def standin(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GitHubStandin]:
    proc = start_standin(
        tmp_path_factory.mktemp("standin"), github_app=True, token_lifetime=LIFETIME
    )
    yield proc
    proc.stop()


@pytest.fixture
def issuer(
    standin: GitHubStandin, redis_url: str, keys_dir: Path, tmp_path: Path
) -> Iterator[ServiceProcess]:
    env = issuer_env(
        redis_url,
        keys_dir,
        **standin.issuer_env(),
        ALLOWED_GITHUB_USERS="*",
        UPSTREAM_TOKEN_KEYS=KEYS_VALUE,
    )
    proc = start_issuer(env, tmp_path, issuer_url_from_port=True)
    yield proc
    proc.stop()


def github_token(issuer: ServiceProcess, exchanger: dict[str, str], subject: str) -> httpx.Response:
    """The user's GitHub token by token exchange (RFC 8693), as an MCP server gets it."""
    form = {
        "grant_type": "urn:ietf:params:oauth:grant-type:token-exchange",
        "subject_token": subject,
        "subject_token_type": "urn:ietf:params:oauth:token-type:access_token",
        "audience": "github",
    }
    auth = (exchanger["client_id"], exchanger["client_secret"])
    return httpx.post(f"{issuer.url}/token", data=form, auth=auth, timeout=30)


def ok(result: CliResult) -> CliResult:
    assert result.code == 0, result.err
    return result


def test_real_logins_show_their_github_token_status_and_revoke_by_user(
    standin: GitHubStandin, issuer: ServiceProcess, redis_url: str, keys_dir: Path
) -> None:
    env = admin_env(redis_url, keys_dir, UPSTREAM_TOKEN_KEYS=KEYS_VALUE)
    started = int(time.time())
    octo_client, octo = sign_in(issuer.url, "octocat", MCP)
    _, hubot = sign_in(issuer.url, "hubot", MCP)
    exchanger = ok(
        run_process(env, "clients", "create-exchanger", "--name", "gh", "--resource", MCP, "--json")
    ).json()
    answer = github_token(issuer, exchanger, octo["access_token"])
    assert answer.status_code == 200, answer.text
    secret = answer.json()["access_token"]  # the stand-in's ghu_ token the grant keeps
    user = httpx.get(f"{standin.api_url}/user", headers={"Authorization": f"Bearer {secret}"})
    github_id = str(user.json()["id"])

    listed = ok(run_process(env, "grants", "list", "--user", "OctoCat", "--json"))
    (row,) = listed.json()
    assert row["grant_id"] == octo["refresh_token"].partition(".")[0]
    assert (row["username"], row["github_id"]) == ("octocat", github_id)
    assert row["client_id"] == octo_client.client_id and row["resources"] == [MCP]
    upstream = row["upstream_token"]
    assert upstream["state"] == "active" and upstream["key_id"] == "k1"
    assert started + LIFETIME - 5 <= upstream["expires_at"] <= int(time.time()) + LIFETIME + 5
    assert upstream["refresh_expires_at"] > upstream["expires_at"]  # a refresh token is kept
    table = ok(run_process(env, "grants", "list"))
    shown = ok(run_process(env, "grants", "show", row["grant_id"]))
    for result in (listed, table, shown):
        assert secret not in result.out and secret not in result.err
    assert ok(run_process(env, "grants", "list", "--github-id", github_id, "--json")).json() == [
        row
    ]

    revoked = ok(run_process(env, "grants", "revoke", "--github-id", github_id, "--json"))
    assert revoked.json() == {"github_id": github_id, "grants_revoked": 1, "tokens_revoked": 1}
    # The GitHub token went with the grant: no exchange for octocat any more, hubot unaffected.
    assert github_token(issuer, exchanger, octo["access_token"]).status_code == 400
    assert github_token(issuer, exchanger, hubot["access_token"]).status_code == 200
    remaining = ok(run_process(env, "grants", "list", "--json")).json()
    assert [r["username"] for r in remaining] == ["hubot"]
    assert run_process(env, "grants", "revoke", "--user", "octocat").code == 1
