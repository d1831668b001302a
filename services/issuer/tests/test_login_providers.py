"""LOGIN_PROVIDERS and what the provider seam stores: settings, the consent page's choices,
pending sign-ins, codes, grants and tokens of GitHub (unchanged) and OpenID Connect users."""

from __future__ import annotations

import asyncio

import jwt
import orjson
import pytest
import redis

from authgate_issuer.login import providers
from authgate_issuer.oauth import membership_recheck
from authgate_issuer.oauth.authorization_request import AuthorizationRequest
from authgate_issuer.oauth.credentials import hash_secret
from authgate_issuer.oauth.errors import InvalidGrant
from authgate_issuer.oauth.issuance import start_grant
from authgate_issuer.settings import IssuerSettings
from authgate_issuer.store import codes, grants
from authgate_issuer.store import pending as pending_store
from authgate_issuer.store.pending import Pending
from authgate_issuer.web import pages
from authgate_shared import redis_keys
from authgate_shared.config import ConfigError
from testsupport.issuer_ctx import issuer_context

OIDC = {
    "LOGIN_PROVIDERS": "github,oidc",
    "OIDC_ISSUER": "https://login.example.org",
    "OIDC_CLIENT_ID": "authgate",
    "OIDC_CLIENT_SECRET": "s3cret-s3cret",
    "ALLOWED_OIDC_GROUPS": "eng",
}


def test_without_login_providers_only_github_signs_in(env: dict[str, str]) -> None:
    settings = IssuerSettings.from_env(env)
    assert settings.login_providers == ("github",)
    assert settings.oidc is None and settings.oidc_access is None
    assert providers.choices(settings) == (("github", "GitHub"),)
    assert providers.chosen(settings, "approve") == "github"
    assert providers.chosen(settings, "approve:oidc") is None


def test_oidc_alone_needs_no_github_variable_but_its_own(env: dict[str, str]) -> None:
    bare = {k: v for k, v in env.items() if not k.startswith(("GITHUB_", "ALLOWED_GITHUB"))}
    settings = IssuerSettings.from_env({**bare, **OIDC, "LOGIN_PROVIDERS": "oidc"})
    assert settings.login_providers == ("oidc",)
    assert settings.oidc is not None and settings.oidc.issuer == "https://login.example.org"
    assert settings.oidc_access is not None and settings.oidc_access.allowed_groups == {"eng"}
    assert providers.chosen(settings, "approve") == "oidc"
    assert providers.chosen(settings, "approve:github") is None
    with pytest.raises(ConfigError) as raised:
        IssuerSettings.from_env({**bare, "LOGIN_PROVIDERS": "oidc"})
    assert "OIDC_ISSUER is required" in str(raised.value)
    with pytest.raises(ConfigError) as raised:
        IssuerSettings.from_env({**bare, "LOGIN_PROVIDERS": "github"})
    assert "GITHUB_CLIENT_ID" in str(raised.value)


@pytest.mark.parametrize("value", ["gitlab", "github,saml", " , "])
def test_an_unknown_provider_is_refused_at_start_up(env: dict[str, str], value: str) -> None:
    with pytest.raises(ConfigError) as raised:
        IssuerSettings.from_env({**env, "LOGIN_PROVIDERS": value})
    assert "LOGIN_PROVIDERS" in str(raised.value)


def test_two_providers_are_two_approve_buttons_in_their_order(env: dict[str, str]) -> None:
    settings = IssuerSettings.from_env({**env, **OIDC, "LOGIN_PROVIDERS": "oidc,github"})
    choices = providers.choices(settings)
    assert choices == (("oidc", "single sign-on (login.example.org)"), ("github", "GitHub"))
    assert providers.chosen(settings, "approve:github") == "github"
    assert providers.chosen(settings, "approve:oidc") == "oidc"
    assert providers.chosen(settings, "approve") == "oidc"
    for action in ("approve:", "approve:saml", "approve:oidc:x", "approveoidc", None):
        assert providers.chosen(settings, action) is None
    view = pages.ConsentView("App", "c1", "https://app.example/cb", "mcp:*", [], "r", "t")
    html = pages.consent_page(
        pages.ConsentView(**{**view.__dict__, "providers": choices}), "/authorize/consent"
    ).body
    assert isinstance(html, bytes)
    html_text = html.decode()
    assert html_text.index('value="approve:oidc"') < html_text.index('value="approve:github"')
    assert "Approve and sign in with single sign-on (login.example.org)</button>" in html_text
    assert 'value="approve"' not in html_text
    single = bytes(pages.consent_page(view, "/authorize/consent").body).decode()
    assert 'value="approve" class="primary">Approve</button>' in single
    assert "Next you will sign in with GitHub." in single


def _request() -> AuthorizationRequest:
    return AuthorizationRequest(
        client_id="c1",
        redirect_uri="https://app.example/cb",
        redirect_uri_in_request=True,
        state="s",
        code_challenge="x" * 43,
        scope="mcp:*",
        resources=["https://mcp.example.com"],
    )


def test_pending_sign_ins_keep_the_provider_and_github_records_stay_the_same(
    redis_url: str,
) -> None:
    async def go() -> tuple[Pending | None, Pending | None, bytes | str | None]:
        client = redis.asyncio.Redis.from_url(redis_url)
        try:
            github_state = await pending_store.save_state(
                client, Pending(_request(), "b1"), lambda n: b"\x01" * n, 60
            )
            raw = await client.get(redis_keys.state(hash_secret(github_state)))
            oidc = Pending(_request(), "b1").towards("oidc", nonce="n1", code_verifier="v1")
            await pending_store.save_given_state(client, oidc, "op-state", 60)
            return (
                await pending_store.take_state(client, github_state),
                await pending_store.take_state(client, "op-state"),
                raw,
            )
        finally:
            await client.aclose()

    github, oidc, raw = asyncio.run(go())
    assert raw is not None and set(orjson.loads(raw)) == {
        "request",
        "browser",
    }  # as before providers
    assert github is not None and github.provider == "github" and github.nonce == ""
    assert oidc is not None and (oidc.provider, oidc.nonce, oidc.code_verifier) == (
        "oidc",
        "n1",
        "v1",
    )


def test_a_code_stored_before_providers_is_a_github_code() -> None:
    old = {
        "client_id": "c1",
        "redirect_uri": "https://app.example/cb",
        "redirect_uri_in_request": True,
        "code_challenge": "x",
        "scope": "mcp:*",
        "resources": [],
        "username": "octocat",
        "github_id": "583231",
        "issued_at": 1,
    }
    code = codes.AuthorizationCode.from_json(orjson.dumps(old))
    assert (code.provider, code.email) == ("github", "")


def test_grants_and_tokens_of_each_provider(settings: IssuerSettings, redis_url: str) -> None:
    async def go() -> tuple[str, str]:
        async with issuer_context(settings) as ctx:
            github = await start_grant(
                ctx,
                client_id="c1",
                username="octocat",
                github_id="583231",
                scope="mcp:*",
                resources=["https://mcp.example.com"],
            )
            oidc = await start_grant(
                ctx,
                client_id="c1",
                username="alice@example.com",
                github_id="oidc|alice",
                scope="mcp:*",
                resources=["https://mcp.example.com"],
                groups=["oidc:eng"],
                provider="oidc",
                email="alice@example.com",
            )
            return github.access_token, oidc.access_token

    github_token, oidc_token = asyncio.run(go())
    store = redis.Redis.from_url(redis_url)
    github_claims = jwt.decode(github_token, options={"verify_signature": False})
    oidc_claims = jwt.decode(oidc_token, options={"verify_signature": False})
    assert github_claims["sub"] == "github|octocat" and "groups" not in github_claims
    assert oidc_claims["sub"] == "oidc|alice" and oidc_claims["github_id"] == "oidc|alice"
    assert oidc_claims["github_username"] == "alice@example.com"
    assert oidc_claims["groups"] == ["oidc:eng"]
    github_grant = store.hgetall(redis_keys.grant(github_claims["jti"].split(".")[0]))
    oidc_id = oidc_claims["jti"].split(".")[0]
    oidc_grant = store.hgetall(redis_keys.grant(oidc_id))
    # A GitHub grant's hash is what it always was; an OIDC grant keeps its sign-in.
    assert not {b"provider", b"email", b"groups"} & set(github_grant)
    assert oidc_grant[b"provider"] == b"oidc" and oidc_grant[b"email"] == b"alice@example.com"
    parsed = grants.parse_grant(oidc_id, oidc_grant)
    assert parsed is not None and (parsed.provider, parsed.groups) == ("oidc", ["oidc:eng"])
    # The user's index is keyed by the prefixed id, apart from every GitHub number.
    assert store.zscore(redis_keys.user_grants("oidc|alice"), oidc_id) is not None
    store.close()


def test_refresh_judges_an_oidc_grant_by_the_rules_of_now(
    env: dict[str, str], redis_url: str
) -> None:
    allowed = IssuerSettings.from_env({**env, **OIDC, "ALLOWED_OIDC_GROUPS": "eng,ops"})
    narrowed = IssuerSettings.from_env({**env, **OIDC, "ALLOWED_OIDC_GROUPS": "eng"})
    removed = IssuerSettings.from_env({**env, **OIDC, "ALLOWED_OIDC_GROUPS": "sales"})
    github_only = IssuerSettings.from_env({**env, "ALLOWED_GITHUB_USERS": "*"})

    async def go() -> tuple[list[str], str, str, bool]:
        async with issuer_context(allowed) as ctx:
            made = await start_grant(
                ctx,
                client_id="c1",
                username="alice",
                github_id="oidc|alice",
                scope="mcp:*",
                resources=["https://mcp.example.com"],
                groups=["oidc:eng", "oidc:ops"],
                provider="oidc",
            )
            grant = await grants.load_grant(ctx.redis, made.grant_id)
        assert grant is not None
        async with issuer_context(narrowed) as ctx:
            kept = (await membership_recheck.recheck(ctx, grant)).groups
        refusals = []
        for later in (github_only, removed):
            async with issuer_context(later) as ctx:
                with pytest.raises(InvalidGrant) as raised:
                    await membership_recheck.recheck(ctx, grant)
                refusals.append(raised.value.description)
                gone = await grants.load_grant(ctx.redis, made.grant_id) is None
        return kept, refusals[0], refusals[1], gone

    kept, no_oidc, no_group, gone = asyncio.run(go())
    assert kept == ["oidc:eng"]  # fewer groups than at sign-in, never more
    assert "no longer allowed" in no_oidc and "no longer allowed" in no_group
    assert gone  # the refused grant is revoked
