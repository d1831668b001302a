"""GitHub organisations and teams, end to end over real processes: Redis, the issuer over HTTP
and the GitHub stand-in with its organisation and team endpoints.

Configuration under test: ALLOWED_GITHUB_ORGS=acme,corp, ALLOWED_GITHUB_TEAMS=other/platform,
ALLOWED_GITHUB_USERS=hubot. corp enforces SAML SSO (GitHub answers 403).
"""

from __future__ import annotations

import base64
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import jwt
import orjson
import pytest
import redis

from authgate_issuer.store.sealing import open_sealed, parse_sealing_keys, seal
from authgate_shared import redis_keys
from testsupport.admin_cli import admin_env, run_process
from testsupport.browser_flow import Browser, new_pkce
from testsupport.flows import RegisteredClient, refresh, register, token_request
from testsupport.github_standin import GitHubStandin, start_standin
from testsupport.issuer import issuer_env, start_issuer
from testsupport.service import ServiceProcess

K1 = "k1:" + base64.b64encode(bytes(range(32))).decode()
K2 = "k2:" + base64.b64encode(bytes(range(32, 64))).decode()
GRACE = 3
ORGS: dict[str, Any] = {
    "acme": {"members": {"octocat": "active", "erin": "pending"}},
    "other": {
        "members": {"dave": "active"},
        "teams": {
            "platform": ["carol", "paged"],
            **{f"a{i}": ["paged"] for i in range(5)},  # "platform" sorts after a0..a4
        },
    },
    "third": {"teams": {"platform": ["dave"]}},  # the same slug in an org not configured
    "corp": {"members": {"sam": "active"}, "saml": True},
}


@pytest.fixture(scope="module")
def standin(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GitHubStandin]:
    proc = start_standin(tmp_path_factory.mktemp("standin"))
    yield proc
    proc.stop()


@pytest.fixture(autouse=True)
def github_as_configured(standin: GitHubStandin) -> None:
    standin.set_faults()
    standin.set_orgs(ORGS, max_per_page=2)


def start(
    standin: GitHubStandin, redis_url: str, keys_dir: Path, log_dir: Path, keys: str = K1
) -> ServiceProcess:
    env = issuer_env(
        redis_url,
        keys_dir,
        **standin.issuer_env(),
        ALLOWED_GITHUB_USERS="hubot",
        ALLOWED_GITHUB_ORGS="ACME,corp",
        ALLOWED_GITHUB_TEAMS="Other/Platform",
        UPSTREAM_TOKEN_KEYS=keys,
        MEMBERSHIP_RECHECK_GRACE_SECONDS=str(GRACE),
    )
    log_dir.mkdir(exist_ok=True)
    return start_issuer(env, log_dir, issuer_url_from_port=True)


@pytest.fixture
def issuer(
    standin: GitHubStandin, redis_url: str, keys_dir: Path, tmp_path: Path
) -> Iterator[ServiceProcess]:
    proc = start(standin, redis_url, keys_dir, tmp_path / "issuer")
    yield proc
    proc.stop()


def sign_in(issuer_url: str, login: str) -> tuple[RegisteredClient, dict[str, str], Any]:
    """Register, consent, log in as ``login``: (client, callback params, token response)."""
    http = httpx.Client(timeout=30)
    client = register(http, issuer_url)
    pkce = new_pkce()
    result = Browser(issuer_url).run(client.client_id, client.redirect_uri, pkce, login=login)
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


def groups_of(tokens: dict[str, str]) -> list[str]:
    claims = jwt.decode(tokens["access_token"], options={"verify_signature": False})
    return list(claims["groups"])


def grant_hash(redis_client: redis.Redis, tokens: dict[str, str]) -> dict[str, str]:
    grant_id = tokens["refresh_token"].partition(".")[0]
    raw = redis_client.hgetall(redis_keys.grant(grant_id))
    return {k.decode(): v.decode() for k, v in raw.items()}


def log_events(proc: ServiceProcess) -> str:
    return Path(proc.log_path).read_text()


def test_org_member_in_with_groups_and_users_list_still_works(
    issuer: ServiceProcess, redis_client: redis.Redis
) -> None:
    _, _, tokens = sign_in(issuer.url, "OctoCat")
    assert groups_of(tokens) == ["acme"]
    _, _, listed = sign_in(issuer.url, "hubot")  # ALLOWED_GITHUB_USERS, in union
    assert groups_of(listed) == []
    assert grant_hash(redis_client, tokens)["groups"] == '["acme"]'


def test_teams_match_org_and_slug_together_across_pages(issuer: ServiceProcess) -> None:
    _, _, carol = sign_in(issuer.url, "carol")
    assert groups_of(carol) == ["other/platform"]
    # The matching team is on the third page of /user/teams (2 per page).
    _, _, paged = sign_in(issuer.url, "paged")
    assert groups_of(paged) == ["other/platform"]
    # dave: active in "other" (not itself allowed) and in third/platform: not other/platform.
    _, params, none = sign_in(issuer.url, "dave")
    assert none is None and params["error"] == "access_denied"


def test_outsiders_pending_and_saml_are_refused_before_any_grant(
    issuer: ServiceProcess, redis_client: redis.Redis
) -> None:
    for login in ("mallory", "erin", "sam"):
        _, params, tokens = sign_in(issuer.url, login)
        assert tokens is None and params["error"] == "access_denied", login
    assert not list(redis_client.scan_iter(redis_keys.all_grants_pattern()))
    assert not list(redis_client.scan_iter(redis_keys.PREFIX + "code:*"))
    log = log_events(issuer)
    assert '"github_membership_forbidden"' in log and '"org":"corp"' in log
    assert '"saml_sso":true' in log
    assert log.count('"event":"login_denied"') == 3


def test_leaving_the_org_ends_access_at_the_next_refresh(
    issuer: ServiceProcess, standin: GitHubStandin, redis_client: redis.Redis
) -> None:
    client, _, tokens = sign_in(issuer.url, "octocat")
    http = httpx.Client(timeout=30)
    first = refresh(http, issuer.url, client, tokens["refresh_token"])
    assert first.status_code == 200 and groups_of(first.json()) == ["acme"]
    standin.set_orgs({**ORGS, "acme": {"members": {}}}, max_per_page=2)
    gone = refresh(http, issuer.url, client, first.json()["refresh_token"])
    assert (gone.status_code, gone.json()["error"]) == (400, "invalid_grant")
    assert grant_hash(redis_client, tokens) == {}  # revoked with its tokens
    jti = jwt.decode(first.json()["access_token"], options={"verify_signature": False})["jti"]
    assert not redis_client.exists(redis_keys.token(jti))
    assert '"grant_revoked_user_not_allowed"' in log_events(issuer)


def test_joining_a_team_updates_groups_at_refresh(
    issuer: ServiceProcess, standin: GitHubStandin
) -> None:
    client, _, tokens = sign_in(issuer.url, "octocat")
    joined = {**ORGS["other"], "teams": {"platform": ["carol", "paged", "octocat"]}}
    standin.set_orgs({**ORGS, "other": joined}, max_per_page=2)
    answer = refresh(httpx.Client(timeout=30), issuer.url, client, tokens["refresh_token"])
    assert answer.status_code == 200 and groups_of(answer.json()) == ["acme", "other/platform"]


def test_github_down_during_recheck_allows_within_grace_then_503(
    issuer: ServiceProcess, standin: GitHubStandin, redis_client: redis.Redis
) -> None:
    client, _, tokens = sign_in(issuer.url, "octocat")
    listed_client, _, listed = sign_in(issuer.url, "hubot")
    http = httpx.Client(timeout=30)
    standin.set_faults(membership="error500")
    within = refresh(http, issuer.url, client, tokens["refresh_token"])
    assert within.status_code == 200, within.text
    assert groups_of(within.json()) == ["acme"]  # the last known groups
    time.sleep(GRACE + 1.5)
    late = refresh(http, issuer.url, client, within.json()["refresh_token"])
    assert (late.status_code, late.json()["error"]) == (503, "temporarily_unavailable")
    assert grant_hash(redis_client, tokens)  # fail closed, but the grant is kept
    # ALLOWED_GITHUB_USERS needs no GitHub: past the grace a listed user refreshes, no groups.
    listed_late = refresh(http, issuer.url, listed_client, listed["refresh_token"])
    assert listed_late.status_code == 200 and groups_of(listed_late.json()) == []
    standin.set_faults(membership="rate_limited")  # 403 + X-RateLimit-Remaining: 0 = outage
    assert refresh(http, issuer.url, client, within.json()["refresh_token"]).status_code == 503
    standin.set_faults()
    back = refresh(http, issuer.url, client, within.json()["refresh_token"])
    assert back.status_code == 200 and groups_of(back.json()) == ["acme"]
    log = log_events(issuer)
    assert '"allowed_within_grace"' in log and '"outcome":"refused"' in log


def test_github_down_at_login_is_temporarily_unavailable(
    issuer: ServiceProcess, standin: GitHubStandin, redis_client: redis.Redis
) -> None:
    standin.set_faults(membership="error500")
    _, params, tokens = sign_in(issuer.url, "octocat")
    assert tokens is None and params["error"] == "temporarily_unavailable"
    assert not list(redis_client.scan_iter(redis_keys.all_grants_pattern()))
    # A user of ALLOWED_GITHUB_USERS needs no membership: admitted, without groups.
    _, _, listed = sign_in(issuer.url, "hubot")
    assert listed is not None and groups_of(listed) == []


def _everything_in(redis_client: redis.Redis) -> bytes:
    dump = b""
    for key in redis_client.scan_iter("*"):
        kind = redis_client.type(key)
        if kind == b"string":
            dump += redis_client.get(key) or b""
        elif kind == b"hash":
            dump += b"".join(k + v for k, v in redis_client.hgetall(key).items())
        elif kind in (b"set", b"zset"):
            members = (
                redis_client.smembers(key) if kind == b"set" else redis_client.zrange(key, 0, -1)
            )
            dump += b"".join(members)
    return dump


def test_github_token_is_sealed_at_rest_and_in_backups(
    issuer: ServiceProcess,
    redis_client: redis.Redis,
    redis_url: str,
    keys_dir: Path,
    tmp_path: Path,
) -> None:
    client, _, tokens = sign_in(issuer.url, "octocat")
    sealed = grant_hash(redis_client, tokens)["upstream_token"]
    assert sealed.startswith("k1.")
    grant_id = tokens["refresh_token"].partition(".")[0]
    plain = open_sealed(parse_sealing_keys(K1), sealed, associated=grant_id)
    assert plain is not None  # the vault's record (upstream.tokens): JSON with the token
    github_token = orjson.loads(plain)["access_token"].encode()
    assert github_token.startswith(b"gho_")
    assert github_token not in _everything_in(redis_client)  # stand-in tokens: gho_...
    assert b"gho_" not in _everything_in(redis_client)
    assert "gho_" not in log_events(issuer)
    backup = tmp_path / "backup.jsonl"
    assert run_process(admin_env(redis_url, keys_dir), "backup", str(backup)).code == 0
    text = backup.read_text()
    assert sealed in text and "gho_" not in text
    # Restored (same keys), the grant's sealed token still opens: the re-check works.
    redis_client.flushdb()
    assert run_process(admin_env(redis_url, keys_dir), "restore", str(backup)).code == 0
    answer = refresh(httpx.Client(timeout=30), issuer.url, client, tokens["refresh_token"])
    assert answer.status_code == 200, answer.text
    assert groups_of(answer.json()) == ["acme"]


def test_key_rotation_old_id_opens_new_writes_use_new_id(
    standin: GitHubStandin,
    redis_client: redis.Redis,
    redis_url: str,
    keys_dir: Path,
    tmp_path: Path,
) -> None:
    old = start(standin, redis_url, keys_dir, tmp_path / "old", keys=K1)
    try:
        client, _, tokens = sign_in(old.url, "octocat")
    finally:
        old.stop()
    assert grant_hash(redis_client, tokens)["upstream_token"].startswith("k1.")
    http = httpx.Client(timeout=30)
    rotated = start(standin, redis_url, keys_dir, tmp_path / "rotated", keys=f"{K2},{K1}")
    try:
        # The old grant's token opens with k1 and the refresh seals it anew under k2.
        answer = refresh(http, rotated.url, client, tokens["refresh_token"])
        assert answer.status_code == 200, answer.text
        assert grant_hash(redis_client, tokens)["upstream_token"].startswith("k2.")
        _, _, fresh = sign_in(rotated.url, "octocat")
        assert grant_hash(redis_client, fresh)["upstream_token"].startswith("k2.")
    finally:
        rotated.stop()
    # A key ring without the key that sealed a grant cannot re-check it: refused and revoked
    # (only ALLOWED_GITHUB_USERS could still admit the user).
    only_new = start(standin, redis_url, keys_dir, tmp_path / "only-new", keys=K2)
    try:
        client_b, _, tokens_b = sign_in(only_new.url, "octocat")
        grant_id = tokens_b["refresh_token"].partition(".")[0]
        # A value sealed under the retired k1, as a grant never refreshed since would hold.
        k1_value = seal(parse_sealing_keys(K1), b"gho_x", associated=grant_id, random=os.urandom)
        redis_client.hset(redis_keys.grant(grant_id), "upstream_token", k1_value)
        refused = refresh(http, only_new.url, client_b, tokens_b["refresh_token"])
        assert (refused.status_code, refused.json()["error"]) == (400, "invalid_grant")
        assert grant_hash(redis_client, tokens_b) == {}
    finally:
        only_new.stop()
