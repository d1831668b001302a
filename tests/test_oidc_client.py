"""The OIDC login's client against a real OpenID Provider: panva's certified ``oidc-provider``
(testsupport/oidc_op) on loopback, signed into headlessly through its login and consent pages.

A full code flow ends in a validated identity with groups; a key rollover mid-test validates
after one JWKS refetch; and every check refuses what it must: another nonce, another audience,
an expired token, an unknown kid (after one refetch), ``alg: none`` or HS256, a mixed-up or
missing RFC 9207 ``iss``, another ``state``, a replayed code, a discovery document of another
issuer, a provider that is down (``temporarily_unavailable``).
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from authgate_issuer.login.oidc.authorization import AuthorizationStart
from authgate_issuer.login.oidc.client import OidcLogin
from authgate_issuer.login.oidc.errors import OidcDenied, OidcError, OidcRefused, OidcUnavailable
from authgate_issuer.login.oidc.exchange import exchange_code
from authgate_issuer.login.oidc.id_token import Expected, verify_id_token
from authgate_issuer.login.oidc.jwks import JwksCache
from authgate_issuer.login.oidc.settings import OidcSettings
from testsupport.oidc_provider import (
    OTHER_CLIENT_ID,
    OidcProvider,
    new_signing_key,
    start_oidc_provider,
)

pytestmark = pytest.mark.anyio
REDIRECT = "http://127.0.0.1:9/callback"
USERS = {
    "alice": {
        "email": "alice@example.com",
        "email_verified": True,
        "preferred_username": "alice",
        "name": "Alice",
        # Keycloak's full paths and a plain name side by side.
        "groups": ["/eng/backend", "ops"],
    },
    "bob": {"email": "bob@example.org", "preferred_username": "bob", "groups": []},
}


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def start_op(log_dir: Path) -> OidcProvider:
    return start_oidc_provider(log_dir, users=USERS, redirect_uris=[REDIRECT])


@pytest.fixture(scope="module")
def op(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OidcProvider]:
    provider = start_op(tmp_path_factory.mktemp("oidc-op"))
    yield provider
    provider.stop()


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=10) as client:
        yield client


def settings_for(op: OidcProvider, **overrides: Any) -> OidcSettings:
    values: dict[str, Any] = {
        "issuer": op.issuer,
        "client_id": op.client_id,
        "client_secret": op.client_secret,
        "allow_insecure": True,
        **overrides,
    }
    return OidcSettings(**values)


async def sign_in(
    op: OidcProvider, login: OidcLogin, http: httpx.AsyncClient, user: str
) -> tuple[AuthorizationStart, dict[str, str]]:
    """Start a sign-in, do the user's part at the provider; the kept secrets and the
    parameters of the provider's redirect back."""
    start = await login.start(http, redirect_uri=REDIRECT, random=os.urandom, now=time.time())

    def browse() -> str:
        with httpx.Client(timeout=10) as browser:
            return op.sign_in(browser, start.url, user)

    location = await asyncio.to_thread(browse)
    assert location.startswith(REDIRECT + "?"), location
    return start, dict(parse_qsl(urlsplit(location).query))


async def complete(
    login: OidcLogin,
    http: httpx.AsyncClient,
    start: AuthorizationStart,
    params: dict[str, str],
    *,
    now: float | None = None,
    nonce: str | None = None,
) -> Any:
    return await login.complete(
        http,
        params,
        state=start.state,
        nonce=start.nonce if nonce is None else nonce,
        code_verifier=start.code_verifier,
        redirect_uri=REDIRECT,
        now=time.time() if now is None else now,
        random=os.urandom,
    )


async def test_a_user_signs_in_and_becomes_an_identity_with_groups(
    op: OidcProvider, http: httpx.AsyncClient
) -> None:
    login = OidcLogin(settings_for(op))
    start, params = await sign_in(op, login, http, "alice")
    assert params["iss"] == op.issuer  # RFC 9207, announced by the provider
    assert "code_challenge=" in start.url and "nonce=" in start.url
    identity = await complete(login, http, start, params)
    assert identity.sub == "oidc|alice"
    assert identity.subject == "alice"
    assert identity.username == "alice"
    assert identity.email == "alice@example.com" and identity.email_verified
    assert identity.groups == {"eng/backend", "ops"}
    assert not identity.groups_incomplete
    assert identity.name == "Alice"
    assert login.keys.fetches == 1


async def test_userinfo_and_another_username_claim(
    op: OidcProvider, http: httpx.AsyncClient
) -> None:
    login = OidcLogin(settings_for(op, userinfo=True, username_claim="email"))
    start, params = await sign_in(op, login, http, "bob")
    identity = await complete(login, http, start, params)
    assert (identity.sub, identity.username) == ("oidc|bob", "bob@example.org")
    assert identity.groups == frozenset() and not identity.email_verified


async def test_private_key_jwt_client_signs_in(op: OidcProvider, http: httpx.AsyncClient) -> None:
    """No secret: the token request carries an ES256 assertion the provider verifies with the
    public key registered for the client; a wrong key is refused by the provider."""
    settings = settings_for(
        op, client_id=op.key_client_id, client_secret="", client_key=op.client_key
    )
    login = OidcLogin(settings)
    assert (await login.metadata(http, now=time.time())).token_auth_method == "private_key_jwt"
    start, params = await sign_in(op, login, http, "alice")
    assert (await complete(login, http, start, params)).sub == "oidc|alice"
    impostor = OidcLogin(
        settings_for(
            op,
            client_id=op.key_client_id,
            client_secret="",
            client_key=ec.generate_private_key(ec.SECP256R1()),
        )
    )
    start, params = await sign_in(op, impostor, http, "alice")
    with pytest.raises(OidcError, match="invalid_client"):
        await complete(impostor, http, start, params)


async def test_a_replayed_code_is_denied(op: OidcProvider, http: httpx.AsyncClient) -> None:
    login = OidcLogin(settings_for(op))
    start, params = await sign_in(op, login, http, "alice")
    await complete(login, http, start, params)
    with pytest.raises(OidcDenied, match="refused the authorization code"):
        await complete(login, http, start, params)


async def test_another_nonce_is_refused(op: OidcProvider, http: httpx.AsyncClient) -> None:
    login = OidcLogin(settings_for(op))
    start, params = await sign_in(op, login, http, "alice")
    with pytest.raises(OidcRefused, match="nonce"):
        await complete(login, http, start, params, nonce="a-nonce-of-another-sign-in")


@pytest.mark.parametrize(
    ("change", "why"),
    [
        ({"state": "another-state"}, "state"),
        ({"iss": "http://127.0.0.1:1"}, "another issuer"),
        ({"iss": None}, "lacks iss"),
    ],
)
async def test_a_response_not_to_our_request_is_refused(
    op: OidcProvider, http: httpx.AsyncClient, change: dict[str, str | None], why: str
) -> None:
    login = OidcLogin(settings_for(op))
    start, params = await sign_in(op, login, http, "alice")
    for name, value in change.items():
        if value is None:
            del params[name]
        else:
            params[name] = value
    with pytest.raises(OidcRefused, match=why):
        await complete(login, http, start, params)


async def test_an_id_token_for_another_client_is_refused(
    op: OidcProvider, http: httpx.AsyncClient
) -> None:
    """A real ID token, issued to the provider's other client: its aud is not us."""
    other = OidcLogin(
        settings_for(op, client_id=OTHER_CLIENT_ID, client_secret=op.other_client_secret)
    )
    start, params = await sign_in(op, other, http, "alice")
    metadata = await other.metadata(http, now=time.time())
    tokens = await exchange_code(
        http,
        metadata,
        other.settings,
        code=params["code"],
        code_verifier=start.code_verifier,
        redirect_uri=REDIRECT,
        now=time.time(),
        random=os.urandom,
    )
    assert jwt.decode(tokens.id_token, options={"verify_signature": False})["aud"] == "other-app"
    expected = Expected(op.issuer, op.client_id, start.nonce, metadata.algorithms)
    with pytest.raises(OidcRefused, match="aud"):
        await verify_id_token(
            tokens.id_token,
            expected,
            keys=JwksCache(),
            http=http,
            jwks_uri=metadata.jwks_uri,
            now=time.time(),
            seconds=5,
        )


def claims_for(op: OidcProvider, now: float, **changes: Any) -> dict[str, Any]:
    claims = {
        "iss": op.issuer,
        "aud": op.client_id,
        "sub": "alice",
        "nonce": "n-1",
        "iat": int(now),
        "exp": int(now) + 300,
        "preferred_username": "alice",
    }
    return {**claims, **changes}


async def verify(op: OidcProvider, http: httpx.AsyncClient, token: str, keys: JwksCache) -> Any:
    return await verify_id_token(
        token,
        Expected(op.issuer, op.client_id, "n-1", ("RS256",)),
        keys=keys,
        http=http,
        jwks_uri=f"{op.issuer}/jwks",
        now=time.time(),
        seconds=5,
    )


async def test_forged_tokens_are_refused(op: OidcProvider, http: httpx.AsyncClient) -> None:
    now, keys = time.time(), JwksCache()
    good = await verify(op, http, op.forge(claims_for(op, now)), keys)
    assert good["sub"] == "alice"  # the provider's key verifies; the refusals below are the checks
    expired = op.forge(claims_for(op, now, iat=int(now) - 400, exp=int(now) - 100))
    with pytest.raises(OidcRefused, match="expired"):
        await verify(op, http, expired, keys)
    two_audiences = op.forge(claims_for(op, now, aud=[op.client_id, "other-app"]))
    with pytest.raises(OidcRefused, match="azp"):
        await verify(op, http, two_audiences, keys)
    none = jwt.encode(claims_for(op, now), "", algorithm="none", headers={"kid": op.kid})
    with pytest.raises(OidcRefused, match="alg 'none'"):
        await verify(op, http, none, keys)
    with pytest.raises(OidcRefused, match="alg 'HS256'"):
        await verify(op, http, jwt.encode(claims_for(op, now), op.client_secret * 2), keys)
    kid, stranger = new_signing_key()
    forged = jwt.encode(claims_for(op, now), stranger, algorithm="RS256", headers={"kid": kid})
    with pytest.raises(OidcRefused, match="no RS256 key"):
        await verify(op, http, forged, keys)
    assert keys.fetches == 2  # fetched once more for the unknown kid: still unknown
    with pytest.raises(OidcRefused, match="no RS256 key"):
        await verify(op, http, forged, keys)
    assert keys.fetches == 2  # the next refetch waits REFETCH_SECONDS
    resigned = jwt.encode(claims_for(op, now), stranger, algorithm="RS256", headers={"kid": op.kid})
    with pytest.raises(OidcRefused, match="signature"):
        await verify(op, http, resigned, keys)


async def test_key_rollover_mid_test_validates_after_one_refetch(
    tmp_path: Path, http: httpx.AsyncClient
) -> None:
    op = start_op(tmp_path)
    try:
        login = OidcLogin(settings_for(op))
        start, params = await sign_in(op, login, http, "alice")
        before = time.time()
        assert (await complete(login, http, start, params, now=before)).username == "alice"
        old_kid = op.kid
        new_kid = op.rotate_keys()
        start, params = await sign_in(op, login, http, "alice")
        # The provider now signs with the new key, which our cached JWK Set lacks: fetched
        # again at once, however recent the cached set.
        identity = await complete(login, http, start, params, now=before + 1)
        assert identity.sub == "oidc|alice"
        assert login.keys.fetches == 2
        # A token of the old key still verifies (it is still published), with no fetch.
        token = op.forge(claims_for(op, time.time()), kid=old_kid)
        assert (await verify(op, http, token, login.keys))["sub"] == "alice"
        assert login.keys.fetches == 2 and new_kid != old_kid
    finally:
        op.stop()


async def test_provider_down_is_temporarily_unavailable(
    tmp_path: Path, http: httpx.AsyncClient
) -> None:
    op = start_op(tmp_path)
    login = OidcLogin(settings_for(op))
    try:
        start, params = await sign_in(op, login, http, "alice")
    finally:
        op.stop()
    with pytest.raises(OidcUnavailable, match="could not be reached"):
        await complete(login, http, start, params)
    with pytest.raises(OidcUnavailable, match="discovery document could not be reached"):
        await OidcLogin(settings_for(op)).start(
            http, redirect_uri=REDIRECT, random=os.urandom, now=time.time()
        )


async def test_a_discovery_document_of_another_issuer_is_refused(
    op: OidcProvider, http: httpx.AsyncClient
) -> None:
    """The provider answers at localhost but names 127.0.0.1 (Discovery §4.3)."""
    issuer = op.issuer.replace("127.0.0.1", "localhost")
    login = OidcLogin(settings_for(op, issuer=issuer))
    with pytest.raises(OidcError, match="names issuer"):
        await login.start(http, redirect_uri=REDIRECT, random=os.urandom, now=time.time())
