"""The OIDC login's authorization request and response, ID token claims, the JWKS cache and
key selection, userinfo merging and the identity mapping. The whole flow against a real OpenID
Provider is tests/test_oidc_client.py."""

from __future__ import annotations

import base64
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from jwt.algorithms import ECAlgorithm

from authgate_issuer.login.oidc.authorization import authorization_start, code_from_response
from authgate_issuer.login.oidc.discovery import ProviderMetadata
from authgate_issuer.login.oidc.errors import (
    OidcDenied,
    OidcError,
    OidcRefused,
    OidcUnavailable,
    OidcUnusableAccount,
)
from authgate_issuer.login.oidc.id_token import Expected, check_claims
from authgate_issuer.login.oidc.identity import identity_from_claims
from authgate_issuer.login.oidc.jwks import JwksCache, signing_keys
from authgate_issuer.login.oidc.settings import OidcSettings
from authgate_issuer.login.oidc.userinfo import merge_userinfo
from authgate_issuer.oauth.pkce import s256

ISSUER = "https://idp.example.com/realms/acme"
SETTINGS = OidcSettings(issuer=ISSUER, client_id="authgate", client_secret="s3cret")
NOW = 1_800_000_000


def metadata(**changes: Any) -> ProviderMetadata:
    values: dict[str, Any] = {
        "issuer": ISSUER,
        "authorization_endpoint": f"{ISSUER}/auth",
        "token_endpoint": f"{ISSUER}/token",
        "jwks_uri": f"{ISSUER}/certs",
        "userinfo_endpoint": None,
        "algorithms": ("RS256",),
        "token_auth_method": "client_secret_basic",
        "iss_parameter": False,
        **changes,
    }
    return ProviderMetadata(**values)


def counting_random(n: int) -> bytes:
    counting_random.calls += 1  # type: ignore[attr-defined]
    return bytes([counting_random.calls]) * n  # type: ignore[attr-defined]


def test_authorization_request_keeps_the_endpoint_query_and_sends_pkce() -> None:
    counting_random.calls = 0  # type: ignore[attr-defined]
    provider = metadata(authorization_endpoint=f"{ISSUER}/auth?tenant=x")
    start = authorization_start(
        provider, SETTINGS, redirect_uri="https://a.example/cb", random=counting_random
    )
    query = {name: values[0] for name, values in parse_qs(urlsplit(start.url).query).items()}
    assert query.pop("tenant") == "x"
    assert query == {
        "response_type": "code",
        "client_id": "authgate",
        "redirect_uri": "https://a.example/cb",
        "scope": "openid email profile",
        "state": start.state,
        "nonce": start.nonce,
        "code_challenge": s256(start.code_verifier),
        "code_challenge_method": "S256",
    }
    assert len({start.state, start.nonce, start.code_verifier}) == 3
    assert len(base64.urlsafe_b64decode(start.code_verifier + "=")) == 32
    assert start.code_verifier not in start.url
    assert start.code_verifier not in repr(start)


@pytest.mark.parametrize(
    ("params", "error"),
    [
        ({"state": "st", "error": "access_denied"}, OidcDenied),
        ({"state": "st", "error": "temporarily_unavailable"}, OidcUnavailable),
        ({"state": "st", "error": "invalid_scope"}, OidcError),
        ({"state": "st"}, OidcRefused),
        ({"state": "st", "code": "c", "iss": "https://evil.example"}, OidcRefused),
        ({"state": "st", "error": "access_denied", "iss": "https://evil.example"}, OidcRefused),
    ],
)
def test_authorization_response_errors(params: dict[str, str], error: type[Exception]) -> None:
    provider = metadata()
    with pytest.raises(error) as caught:
        code_from_response(params, state="st", metadata=provider)
    assert type(caught.value) is error
    assert code_from_response({"state": "st", "code": "c"}, state="st", metadata=provider) == "c"


def claims(**changes: Any) -> dict[str, Any]:
    base = {
        "iss": ISSUER,
        "aud": "authgate",
        "sub": "u1",
        "nonce": "n",
        "iat": NOW,
        "exp": NOW + 300,
    }
    return {name: value for name, value in {**base, **changes}.items() if value is not None}


EXPECTED = Expected(ISSUER, "authgate", "n", ("RS256",))


@pytest.mark.parametrize(
    ("changes", "why"),
    [
        ({"iss": ISSUER + "/"}, "iss"),
        ({"aud": ["other"]}, "aud"),
        ({"aud": 5}, "aud"),
        ({"azp": "other"}, "azp"),
        ({"aud": ["authgate", "other"]}, "azp"),
        ({"exp": NOW - 61}, "expired"),
        ({"exp": "soon"}, "numeric exp"),
        ({"iat": None}, "numeric iat"),
        ({"iat": NOW + 120}, "iat"),
        ({"iat": NOW - 3600}, "iat"),
        ({"nbf": NOW + 120}, "nbf"),
        ({"nonce": None}, "nonce"),
        ({"sub": "x" * 256}, "sub"),
        ({"sub": ""}, "sub"),
    ],
)
def test_id_token_claims_refused(changes: dict[str, Any], why: str) -> None:
    with pytest.raises(OidcRefused, match=why):
        check_claims(claims(**changes), EXPECTED, now=NOW)


def test_id_token_claims_accepted() -> None:
    check_claims(claims(), EXPECTED, now=NOW)
    check_claims(claims(aud=["authgate", "other"], azp="authgate"), EXPECTED, now=NOW)
    check_claims(claims(exp=NOW - 30), EXPECTED, now=NOW)  # within the clock skew


def test_signing_keys_skip_unusable_keys() -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    public: dict[str, Any] = ECAlgorithm.to_jwk(key.public_key(), as_dict=True)
    private: dict[str, Any] = ECAlgorithm.to_jwk(key, as_dict=True)
    jwks = {
        "keys": [
            {**public, "kid": "enc", "use": "enc"},
            {**private, "kid": "private"},
            {**public, "kid": "rsa-alg", "alg": "RS256"},
            {"kty": "oct", "k": "c2VjcmV0", "kid": "oct"},
            {**public, "kid": "good"},
        ]
    }
    for kid in ("enc", "private", "rsa-alg", "oct"):
        assert signing_keys(jwks, algorithm="ES256", kid=kid) == []
    assert len(signing_keys(jwks, algorithm="ES256", kid="good")) == 1
    assert len(signing_keys(jwks, algorithm="ES256", kid=None)) == 1


def test_userinfo_about_another_subject_is_refused() -> None:
    merged = merge_userinfo(
        {"sub": "u1", "email": "a@x"}, {"sub": "u1", "email": "b@x", "groups": ["g"]}
    )
    assert merged == {"sub": "u1", "email": "a@x", "groups": ["g"]}
    with pytest.raises(OidcRefused):
        merge_userinfo({"sub": "u1"}, {"sub": "u2"})


def test_identity_from_provider_shapes() -> None:
    entra = identity_from_claims(
        {"sub": "AAAAbbb-_x", "preferred_username": "ada@contoso.com", "groups": ["6f1c-guid"]},
        SETTINGS,
    )
    assert entra.sub == "oidc|AAAAbbb-_x" and entra.groups == {"6f1c-guid"}
    keycloak = identity_from_claims(
        {
            "sub": "u",
            "preferred_username": "u",
            "groups": [
                "/eng/backend",
                "/",
                7,
                "ops",
                "a,b",
                "x;y",
                "Platform Team",
                "é",
                "g" * 257,
            ],
        },
        SETTINGS,
    )
    assert keycloak.groups == {"eng/backend", "ops", "Platform Team"}
    single = identity_from_claims(
        {"sub": "u", "preferred_username": "u", "groups": "admins"}, SETTINGS
    )
    assert single.groups == {"admins"} and single.email is None and not single.email_verified
    overage = identity_from_claims(
        {"sub": "u", "preferred_username": "u", "_claim_names": {"groups": "src1"}}, SETTINGS
    )
    assert overage.groups_incomplete and overage.groups == frozenset()


@pytest.mark.parametrize(
    "bad",
    [
        {"sub": "u{1}", "preferred_username": "u"},
        {"sub": "u 1", "preferred_username": "u"},
        {"sub": "u"},
        {"sub": "u", "preferred_username": "a\r\nb"},
        {"sub": "u", "preferred_username": "a,b"},
        {"sub": "u", "preferred_username": "jos\u00e9"},
        {"sub": "u", "preferred_username": "a b"},
        {"sub": "u", "preferred_username": ""},
        {"sub": "u", "preferred_username": ["u"]},
    ],
)
def test_unusable_accounts(bad: dict[str, Any]) -> None:
    with pytest.raises(OidcUnusableAccount):
        identity_from_claims(bad, SETTINGS)


@pytest.mark.anyio
@pytest.mark.parametrize("anyio_backend", ["asyncio"])
async def test_jwks_refetch_is_immediate_for_a_rollover_then_rate_limited(
    anyio_backend: str,
) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    public: dict[str, Any] = ECAlgorithm.to_jwk(key.public_key(), as_dict=True)
    published = [{**public, "kid": "old"}]
    served: list[float] = []

    def jwks_uri(request: httpx.Request) -> httpx.Response:
        served.append(1)
        return httpx.Response(200, json={"keys": published})

    cache = JwksCache(refetch_seconds=10, max_age_seconds=3600)
    async with httpx.AsyncClient(transport=httpx.MockTransport(jwks_uri)) as http:

        async def lookup(kid: str, now: float) -> int:
            keys = await cache.keys_for(
                http, "https://idp/certs", algorithm="ES256", kid=kid, now=now, seconds=1
            )
            return len(keys)

        assert await lookup("old", NOW) == 1 and cache.fetches == 1
        published.insert(0, {**public, "kid": "new"})  # the provider rolls over
        assert await lookup("new", NOW + 1) == 1 and cache.fetches == 2
        for now in (NOW + 2, NOW + 12, NOW + 15):
            with pytest.raises(OidcRefused, match="no ES256 key with kid 'made-up'"):
                await lookup("made-up", now)
        assert cache.fetches == 3  # one refetch per 10 s: at NOW + 12 only
        with pytest.raises(OidcRefused):
            await lookup("made-up", NOW + 22)
        assert cache.fetches == 4
        published.pop()  # "old" withdrawn: dropped once the cached set is too old
        assert await lookup("old", NOW + 1000) == 1 and cache.fetches == 4
        with pytest.raises(OidcRefused):
            await lookup("old", NOW + 3700)
        assert cache.fetches == 6 and len(served) == 6
