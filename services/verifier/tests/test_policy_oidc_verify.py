"""/verify with a policy file naming OpenID Connect users and groups, in-process against real
Redis: an OIDC token (``sub`` ``oidc|<subject>``, groups ``oidc:<group>``) meets the OIDC entries
only, a GitHub token the GitHub entries only, and tool rules' ``oidc:<group>`` decide per tool."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jwt
import pytest

from authgate_verifier.app import VerifierApp
from authgate_verifier.settings import VerifierSettings
from testsupport.tokens import TokenMinter
from testsupport.verifier import MCP_A, MCP_B, bearer, call, forwarded, running, verifier_env

pytestmark = pytest.mark.anyio
NEW = {"MCP-Protocol-Version": "2026-07-28", "Mcp-Method": "tools/call"}
POLICY = f"""
services:
  - resource: {MCP_A}
    allow: {{users: [alice, "oidc:carol"], orgs: [admins], groups: [Platform Engineers, eng/backend]}}
    tools:
      rules:
        - {{method: tools/call, name: deploy, groups: ["oidc:Deployers", acme/ops]}}
  - resource: {MCP_B}
"""


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@dataclass
class Env:
    minter: TokenMinter
    app: VerifierApp
    base: str

    def token(self, sub: str, user: str, groups: list[str]) -> str:
        header = jwt.get_unverified_header(self.base)
        claims: dict[str, Any] = jwt.decode(self.base, options={"verify_signature": False})
        claims.update(sub=sub, github_username=user, groups=groups)
        return jwt.encode(
            claims, self.minter.ctx.keys.current.key, algorithm="RS256", headers=header
        )

    async def status(self, token: str, tool: str = "echo") -> int:
        headers = {**forwarded(MCP_A), **bearer(token), **NEW, "Mcp-Name": tool}
        return int((await call(self.app, headers=headers)).status)


@pytest.fixture
async def env(redis_url: str, keys_dir: Path, tmp_path: Path) -> AsyncIterator[Env]:
    policy = tmp_path / "policy.yaml"
    policy.write_text(POLICY)
    async with TokenMinter.open(redis_url, keys_dir) as minter:
        base = (await minter.mint(resources=[MCP_A, MCP_B])).token
        environment = verifier_env(
            redis_url, POLICY_FILE=str(policy), ALLOWED_RESOURCES=f"{MCP_A},{MCP_B}"
        )
        app = VerifierApp(VerifierSettings.from_env(environment))
        async with running(app):
            yield Env(minter, app, base)


async def test_oidc_users_and_groups_meet_only_their_entries(env: Env) -> None:
    admitted = [
        ("github|alice", "alice", []),
        ("github|x", "x", ["admins"]),
        ("oidc|c1", "Carol", []),
        ("oidc|x", "x", ["oidc:Platform Engineers"]),
        ("oidc|x", "x", ["oidc:eng/backend"]),
    ]
    for sub, user, groups in admitted:
        assert await env.status(env.token(sub, user, groups)) == 200, (sub, user, groups)
    refused = [
        ("oidc|a1", "alice", []),  # an OIDC user named like an allowed GitHub login
        ("github|carol", "carol", []),  # a GitHub login named like an allowed OIDC user
        ("oidc|x", "x", ["oidc:admins"]),  # an OIDC group named like an allowed GitHub org
        ("github|x", "x", ["platform engineers", "eng/backend"]),
        ("oidc|x", "x", ["oidc:eng"]),
    ]
    for sub, user, groups in refused:
        assert await env.status(env.token(sub, user, groups)) == 403, (sub, user, groups)


async def test_tool_rules_name_oidc_groups(env: Env) -> None:
    deployer = env.token("oidc|x", "x", ["oidc:Platform Engineers", "oidc:deployers"])
    assert await env.status(deployer, "deploy") == 200
    engineer = env.token("oidc|x", "x", ["oidc:Platform Engineers"])
    assert await env.status(engineer, "deploy") == 403
    assert await env.status(engineer, "echo") == 200
    github = env.token("github|alice", "alice", ["deployers"])
    assert await env.status(github, "deploy") == 403
