"""/verify with a policy file, in-process against real Redis: per-service allow lists on the
token's user and groups, tool rules on Mcp-Method/Mcp-Name (trusted from MCP 2026-07-28 on),
step-up 403s for scopes, access_denied 403s (no challenge) for groups, the groups header,
per-service token forwarding, the audit lines and the bounded metrics labels."""

from __future__ import annotations

import base64
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jwt
import pytest

from authgate_shared.config import ConfigError
from authgate_verifier.app import VerifierApp
from authgate_verifier.settings import VerifierSettings
from testsupport.tokens import TokenMinter
from testsupport.verifier import MCP_A, MCP_B, bearer, call, forwarded, running, verifier_env

pytestmark = pytest.mark.anyio
NEW = "2026-07-28"
POLICY = f"""
services:
  - resource: {MCP_A}
    allow: {{users: [alice], orgs: [acme], teams: [other/ops]}}
    scopes: [mcp:use]
    tools:
      rules:
        - {{method: tools/call, name: "deploy_*", scopes: [mcp:deploy]}}
        - {{method: tools/call, name: admin, groups: [acme/admins]}}
        - {{method: tools/call, name: echo, scopes: [mcp:use]}}
  - resource: {MCP_B}
    forward_token: true
    tools: {{default: deny, unversioned: service-level}}
"""


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@dataclass
class Env:
    minter: TokenMinter
    app: VerifierApp
    base: str

    def token(self, *, user: str = "bob", groups: list[str] | None = None, scope: str) -> str:
        header = jwt.get_unverified_header(self.base)
        claims: dict[str, Any] = jwt.decode(self.base, options={"verify_signature": False})
        claims.update(github_username=user, sub=f"github|{user}", scope=scope)
        if groups is not None:
            claims["groups"] = groups
        key = self.minter.ctx.keys.current.key
        return jwt.encode(claims, key, algorithm="RS256", headers=header)


@pytest.fixture
async def env(redis_url: str, keys_dir: Path, tmp_path: Path) -> AsyncIterator[Env]:
    policy = tmp_path / "policy.yaml"
    policy.write_text(POLICY)
    async with TokenMinter.open(redis_url, keys_dir) as minter:
        base = (await minter.mint(resources=[MCP_A, MCP_B])).token
        settings = VerifierSettings.from_env(
            verifier_env(
                redis_url,
                POLICY_FILE=str(policy),
                ALLOWED_RESOURCES=f"{MCP_A},{MCP_B}",
                LOG_DECISIONS="tools",
            )
        )
        app = VerifierApp(settings)
        async with running(app):
            yield Env(minter, app, base)


def mcp(method: str | None, name: str | None = None, version: str | None = NEW) -> dict[str, str]:
    headers = {}
    if method is not None:
        headers["Mcp-Method"] = method
    if name is not None:
        headers["Mcp-Name"] = name
    if version is not None:
        headers["MCP-Protocol-Version"] = version
    return headers


async def ask(e: Env, token: str, resource: str = MCP_A, **headers: str) -> Any:
    return await call(e.app, headers={**forwarded(resource), **bearer(token), **headers})


async def test_service_allow_list_by_user_org_and_team(env: Env) -> None:
    ok = {"Mcp-Method": "tools/list", "MCP-Protocol-Version": NEW}
    for user, groups in (("alice", None), ("bob", ["acme"]), ("bob", ["other/ops"])):
        answer = await ask(env, env.token(user=user, groups=groups, scope="mcp:use"), **ok)
        assert answer.status == 200, (user, groups)
    refused = await ask(env, env.token(groups=["acme/ops", "other"], scope="mcp:use"), **ok)
    assert refused.status == 403 and refused.json()["error"] == "access_denied"
    assert "www-authenticate" not in refused.headers  # nothing to step up to


async def test_groups_header_is_always_sent(env: Env) -> None:
    token = env.token(user="alice", groups=["acme", "acme/admins"], scope="mcp:use")
    answer = await ask(env, token, **mcp("tools/list"))
    assert answer.headers["x-user-groups"] == "acme,acme/admins"
    answer = await ask(env, env.token(user="alice", scope="mcp:use"), **mcp("tools/list"))
    assert answer.status == 200 and answer.headers["x-user-groups"] == ""


async def test_tool_scope_rule_is_a_step_up_403(env: Env) -> None:
    token = env.token(user="alice", scope="mcp:use")
    answer = await ask(env, token, **mcp("tools/call", "deploy_prod"))
    assert answer.status == 403 and answer.json()["error"] == "insufficient_scope"
    challenge = answer.headers["www-authenticate"]
    assert challenge.startswith('Bearer error="insufficient_scope", scope="mcp:deploy mcp:use"')
    assert f'resource_metadata="{MCP_A}/.well-known/oauth-protected-resource"' in challenge
    stepped = env.token(user="alice", scope="mcp:use mcp:deploy")
    assert (await ask(env, stepped, **mcp("tools/call", "deploy_prod"))).status == 200
    # The service's own scope is still required of every request.
    answer = await ask(env, env.token(user="alice", scope="mcp:deploy"), **mcp("tools/list"))
    assert answer.status == 403 and 'scope="mcp:use"' in answer.headers["www-authenticate"]


async def test_tool_group_rule_is_access_denied_without_step_up(env: Env) -> None:
    token = env.token(user="alice", groups=["acme"], scope="mcp:use mcp:deploy")
    answer = await ask(env, token, **mcp("tools/call", "admin"))
    assert answer.status == 403 and answer.json()["error"] == "access_denied"
    assert "www-authenticate" not in answer.headers
    admin = env.token(user="alice", groups=["acme/admins"], scope="mcp:use")
    assert (await ask(env, admin, **mcp("tools/call", "admin"))).status == 200


async def test_unversioned_requests_follow_the_policy(env: Env) -> None:
    token = env.token(user="alice", scope="mcp:use")
    for version in (None, "2025-11-25", "garbage"):
        # MCP_A has tool rules and says nothing: refused, the headers cannot be trusted.
        answer = await ask(env, token, **mcp("tools/call", "echo", version))
        assert answer.status == 403 and answer.json()["error"] == "access_denied", version
        assert "www-authenticate" not in answer.headers
        # MCP_B chose service-level: its default deny is not applied to unversioned requests.
        answer = await ask(env, token, MCP_B, **mcp("tools/call", "anything", version))
        assert answer.status == 200, version
    answer = await ask(env, token, MCP_B, **mcp("tools/call", "anything"))
    assert answer.status == 403 and answer.json()["error"] == "access_denied"
    assert (await ask(env, token, MCP_B, **mcp("tools/list"))).status == 200


async def test_post_without_mcp_method_is_refused_get_is_not(env: Env) -> None:
    token = env.token(user="alice", scope="mcp:use")
    assert (await ask(env, token, **mcp(None))).status == 403
    get = {**mcp(None), "X-Forwarded-Method": "GET"}
    assert (await ask(env, token, **get)).status == 200
    repeated = [
        *[(k.lower().encode(), v.encode()) for k, v in forwarded(MCP_A).items()],
        *[(k.lower().encode(), v.encode()) for k, v in bearer(token).items()],
        (b"mcp-protocol-version", NEW.encode()),
        (b"mcp-method", b"tools/list"),
        (b"mcp-method", b"tools/call"),
    ]
    assert (await call(env.app, headers=repeated)).status == 403


async def test_token_forwarded_only_where_the_policy_says(env: Env) -> None:
    token = env.token(user="alice", scope="mcp:use")
    a = await ask(env, token, **mcp("tools/list"))
    b = await ask(env, token, MCP_B, **mcp("tools/list"))
    assert "x-auth-token" not in a.headers and b.headers["x-auth-token"] == token


async def test_audit_lines_and_bounded_metrics(env: Env, caplog: pytest.LogCaptureFixture) -> None:
    token = env.token(user="alice", scope="mcp:use")
    with caplog.at_level(logging.INFO, logger="authgate.verifier.decisions"):
        await ask(env, token, **mcp("tools/call", "echo"))
        await ask(env, token, **mcp("tools/call", "deploy_x"))
        for i in range(50):
            await ask(env, token, **mcp("tools/call", f"random_{i}"))
    lines = [r for r in caplog.records if r.name == "authgate.verifier.decisions"]
    fields = [r.fields for r in lines]  # type: ignore[attr-defined]
    assert fields[0]["decision"] == "allowed" and fields[0]["mcp_name"] == "echo"
    assert fields[0]["user"] == "github|alice" and fields[0]["resource"] == MCP_A
    assert fields[1]["decision"] == "denied" and fields[1]["reason"] == "insufficient_scope"
    assert fields[1]["mcp_method"] == "tools/call" and fields[1]["mcp_name"] == "deploy_x"
    assert len(fields) == 52
    assert all(token not in r.getMessage() and token not in str(r.fields) for r in lines)  # type: ignore[attr-defined]
    tools = {labels[1] for labels in env.app.metrics.tools}
    assert tools == {"echo", "deploy_*", "other"}
    metrics = (await call(env.app, "/metrics")).body.decode()
    assert 'authgate_verifier_tool_decisions_total{decision="insufficient_scope"' in metrics
    assert "random_" not in metrics


async def test_base64_spelling_of_a_name_meets_the_same_rule(env: Env) -> None:
    token = env.token(user="alice", scope="mcp:use")
    encoded = "=?base64?" + base64.b64encode(b"deploy_prod").decode() + "?="
    answer = await ask(env, token, **mcp("tools/call", encoded))
    assert answer.status == 403 and answer.json()["error"] == "insufficient_scope"
    for bad in ("=?base64?!!!?=", "=?base64?ZGVwbG95X3Byb2R=?="):
        answer = await ask(env, token, **mcp("tools/call", bad))
        assert answer.status == 403 and answer.json()["error"] == "access_denied", bad


def test_start_up_names_every_policy_and_setting_problem(tmp_path: Path, redis_url: str) -> None:
    policy = tmp_path / "bad.yaml"
    policy.write_text(f"services:\n  - resource: {MCP_A}\n    tools: {{default: maybe}}\n")
    env = verifier_env(
        redis_url,
        POLICY_FILE=str(policy),
        ALLOWED_RESOURCES=f"{MCP_A},{MCP_B}",
        GROUPS_HEADER="X-User-Id",
        TOKEN_CACHE_SIZE="-1",
    )
    with pytest.raises(ConfigError) as raised:
        VerifierSettings.from_env(env)
    text = "\n".join(raised.value.problems)
    assert "services[0].tools.default: must be allow or deny" in text
    assert "GROUPS_HEADER" in text and "TOKEN_CACHE_SIZE" in text


async def test_groups_header_name_is_configurable(redis_url: str, keys_dir: Path) -> None:
    async with TokenMinter.open(redis_url, keys_dir) as minter:
        token = (await minter.mint(resources=[MCP_A])).token
        settings = VerifierSettings.from_env(verifier_env(redis_url, GROUPS_HEADER="X-Teams"))
        async with running(VerifierApp(settings)) as app:
            answer = await call(app, headers={**forwarded(MCP_A), **bearer(token)})
    assert answer.status == 200 and answer.headers["x-teams"] == ""
    assert "x-user-groups" not in answer.headers
