"""The OIDC login's pure parts: settings, discovery validation, the authorization request and
response, ID token claims, JWK selection, userinfo merging and the identity mapping. The whole
flow against a real OpenID Provider is tests/test_oidc_client.py."""

from __future__ import annotations

import base64
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import ECAlgorithm

from authgate_issuer.login.oidc.authorization import authorization_start, code_from_response
from authgate_issuer.login.oidc.client_auth import (
    ASSERTION_TYPE,
    authenticate,
    basic_credentials,
)
from authgate_issuer.login.oidc.discovery import discovery_url, parse_metadata
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
from authgate_issuer.login.oidc.settings import OidcSettings, oidc_settings_from_env
from authgate_issuer.login.oidc.userinfo import merge_userinfo
from authgate_issuer.oauth.pkce import s256
from authgate_shared.config import EnvReader
from testsupport.pem import private_pem

ISSUER = "https://idp.example.com/realms/acme"
SETTINGS = OidcSettings(issuer=ISSUER, client_id="authgate", client_secret="s3cret")
NOW = 1_800_000_000


def read(env: dict[str, str]) -> tuple[OidcSettings, list[str]]:
    reader = EnvReader(env)
    return oidc_settings_from_env(reader), reader.problems


def test_settings_defaults_and_required_variables() -> None:
    settings, problems = read(
        {"OIDC_ISSUER": ISSUER, "OIDC_CLIENT_ID": "authgate", "OIDC_CLIENT_SECRET": "s3cret-Q"}
    )
    assert problems == []
    assert settings.scopes == ("openid", "email", "profile")
    assert (settings.username_claim, settings.groups_claim) == ("preferred_username", "groups")
    assert not settings.allow_insecure and not settings.userinfo and settings.timeout == 10
    assert settings.client_secret == "s3cret-Q" and "s3cret-Q" not in repr(settings)
    _, problems = read({})
    assert [p.split(" ")[0] for p in problems] == [
        "OIDC_ISSUER",
        "OIDC_CLIENT_ID",
        "OIDC_CLIENT_SECRET",
    ]


@pytest.mark.parametrize(
    ("env", "problem"),
    [
        ({"OIDC_ISSUER": "http://idp.example.com"}, "must use https"),
        ({"OIDC_ISSUER": "http://127.0.0.1:8080"}, "set OIDC_ALLOW_INSECURE=true"),
        (
            {"OIDC_ISSUER": "http://idp.example.com", "OIDC_ALLOW_INSECURE": "true"},
            "must use https",
        ),
        ({"OIDC_ISSUER": f"{ISSUER}?tenant=1"}, "must not carry a query"),
        ({"OIDC_SCOPES": "email profile"}, "must include openid"),
        ({"OIDC_USERNAME_CLAIM": "user name"}, "is not a claim name"),
    ],
)
def test_settings_refuse(env: dict[str, str], problem: str) -> None:
    base = {"OIDC_ISSUER": ISSUER, "OIDC_CLIENT_ID": "a", "OIDC_CLIENT_SECRET": "b"}
    _, problems = read({**base, **env})
    assert len(problems) == 1 and problem in problems[0], problems


def test_loopback_http_with_allow_insecure_and_kept_spelling() -> None:
    settings, problems = read(
        {
            "OIDC_ISSUER": "http://[::1]:8080/",
            "OIDC_ALLOW_INSECURE": "true",
            "OIDC_CLIENT_ID": "a",
            "OIDC_CLIENT_SECRET": "b",
            "OIDC_SCOPES": "openid groups openid",
        }
    )
    assert problems == []
    assert settings.issuer == "http://[::1]:8080/"  # the provider's spelling, trailing slash kept
    assert settings.scopes == ("openid", "groups")
    assert discovery_url(settings.issuer) == "http://[::1]:8080/.well-known/openid-configuration"


def document(**changes: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "issuer": ISSUER,
        "authorization_endpoint": f"{ISSUER}/auth",
        "token_endpoint": f"{ISSUER}/token",
        "jwks_uri": f"{ISSUER}/certs",
        "userinfo_endpoint": f"{ISSUER}/userinfo",
        "response_types_supported": ["code", "id_token"],
        "id_token_signing_alg_values_supported": ["HS256", "RS256", "none", "ES256"],
    }
    doc.update(changes)
    return {name: value for name, value in doc.items() if value is not None}


def test_metadata_keeps_only_safe_algorithms_and_defaults() -> None:
    metadata = parse_metadata(document(), SETTINGS)
    assert metadata.algorithms == ("RS256", "ES256")
    assert metadata.token_auth_method == "client_secret_basic"
    assert not metadata.iss_parameter
    chosen = parse_metadata(
        document(
            token_endpoint_auth_methods_supported=["private_key_jwt", "client_secret_post"],
            authorization_response_iss_parameter_supported=True,
            userinfo_endpoint=None,
        ),
        SETTINGS,
    )
    assert chosen.token_auth_method == "client_secret_post"
    assert chosen.iss_parameter and chosen.userinfo_endpoint is None


@pytest.mark.parametrize(
    ("changes", "problem"),
    [
        ({"issuer": ISSUER + "/"}, "names issuer"),
        ({"jwks_uri": None}, "no jwks_uri"),
        ({"token_endpoint": "http://idp.example.com/token"}, "must use https"),
        ({"response_types_supported": ["id_token"]}, "authorization code flow"),
        ({"id_token_signing_alg_values_supported": ["none", "HS256"]}, "none of RS256"),
        ({"code_challenge_methods_supported": ["plain"]}, "S256"),
        ({"token_endpoint_auth_methods_supported": ["private_key_jwt"]}, "accepts none of"),
        ({"id_token_signing_alg_values_supported": "RS256"}, "not a list of strings"),
    ],
)
def test_metadata_refused(changes: dict[str, Any], problem: str) -> None:
    with pytest.raises(OidcError, match=problem):
        parse_metadata(document(**changes), SETTINGS)


def test_userinfo_endpoint_required_when_configured() -> None:
    with pytest.raises(OidcError, match="no userinfo_endpoint"):
        parse_metadata(
            document(userinfo_endpoint=None), OidcSettings(ISSUER, "a", "b", userinfo=True)
        )


def counting_random(n: int) -> bytes:
    counting_random.calls += 1  # type: ignore[attr-defined]
    return bytes([counting_random.calls]) * n  # type: ignore[attr-defined]


def test_authorization_request_keeps_the_endpoint_query_and_sends_pkce() -> None:
    counting_random.calls = 0  # type: ignore[attr-defined]
    metadata = parse_metadata(document(authorization_endpoint=f"{ISSUER}/auth?tenant=x"), SETTINGS)
    start = authorization_start(
        metadata, SETTINGS, redirect_uri="https://a.example/cb", random=counting_random
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
    metadata = parse_metadata(document(), SETTINGS)
    with pytest.raises(error) as caught:
        code_from_response(params, state="st", metadata=metadata)
    assert type(caught.value) is error
    assert code_from_response({"state": "st", "code": "c"}, state="st", metadata=metadata) == "c"


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


def test_basic_credentials_are_form_encoded_first() -> None:
    value = basic_credentials("my client", "p@ss:w/rd")
    assert base64.b64decode(value.removeprefix("Basic ")) == b"my+client:p%40ss%3Aw%2Frd"


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


def test_settings_with_a_client_key_instead_of_a_secret() -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    base = {"OIDC_ISSUER": ISSUER, "OIDC_CLIENT_ID": "a"}
    pem = private_pem(key).replace("\n", "\\n")  # as written in an env file
    settings, problems = read({**base, "OIDC_CLIENT_PRIVATE_KEY": pem, "OIDC_CLIENT_KEY_ID": "k1"})
    assert problems == []
    assert settings.client_key_algorithm == "ES256" and settings.client_key_id == "k1"
    assert settings.client_secret == "" and "PRIVATE" not in repr(settings)
    rsa_key = rsa.generate_private_key(65537, 2048)
    settings, _ = read({**base, "OIDC_CLIENT_PRIVATE_KEY": private_pem(rsa_key)})
    assert settings.client_key_algorithm == "RS256"
    _, problems = read({**base, "OIDC_CLIENT_PRIVATE_KEY": pem, "OIDC_CLIENT_SECRET": "s"})
    assert problems == ["OIDC_CLIENT_SECRET and OIDC_CLIENT_PRIVATE_KEY: set only one"]
    _, problems = read({**base, "OIDC_CLIENT_PRIVATE_KEY": "not a key"})
    assert len(problems) == 1 and "must be a PEM private key" in problems[0]


KEY_SETTINGS = OidcSettings(
    ISSUER, "authgate", "", client_key=ec.generate_private_key(ec.SECP256R1()), client_key_id="k1"
)


def test_private_key_jwt_needs_the_method_and_our_algorithm() -> None:
    methods = ["client_secret_basic", "private_key_jwt"]
    metadata = parse_metadata(document(token_endpoint_auth_methods_supported=methods), KEY_SETTINGS)
    assert metadata.token_auth_method == "private_key_jwt"
    with pytest.raises(OidcError, match="accepts none of private_key_jwt"):
        parse_metadata(document(), KEY_SETTINGS)
    with pytest.raises(OidcError, match="does not accept ES256"):
        parse_metadata(
            document(
                token_endpoint_auth_methods_supported=methods,
                token_endpoint_auth_signing_alg_values_supported=["RS256"],
            ),
            KEY_SETTINGS,
        )


def test_client_assertion_of_private_key_jwt() -> None:
    methods = ["private_key_jwt"]
    metadata = parse_metadata(document(token_endpoint_auth_methods_supported=methods), KEY_SETTINGS)
    form: dict[str, str] = {}
    headers: dict[str, str] = {}
    authenticate(form, headers, metadata, KEY_SETTINGS, now=NOW, random=lambda n: b"j" * n)
    assert headers == {} and form["client_id"] == "authgate"
    assert form["client_assertion_type"] == ASSERTION_TYPE
    assertion = form["client_assertion"]
    assert jwt.get_unverified_header(assertion) == {"alg": "ES256", "kid": "k1", "typ": "JWT"}
    assert KEY_SETTINGS.client_key is not None
    claims = jwt.decode(
        assertion,
        KEY_SETTINGS.client_key.public_key(),
        algorithms=["ES256"],
        audience=f"{ISSUER}/token",
        options={"verify_exp": False, "verify_iat": False},
    )
    assert claims["iss"] == claims["sub"] == "authgate"
    assert (claims["iat"], claims["exp"]) == (NOW, NOW + 60) and claims["jti"]


def test_client_secret_methods() -> None:
    form: dict[str, str] = {}
    headers: dict[str, str] = {}
    basic = parse_metadata(document(), SETTINGS)
    authenticate(form, headers, basic, SETTINGS, now=NOW, random=lambda n: b"j" * n)
    assert form == {} and headers == {"Authorization": basic_credentials("authgate", "s3cret")}
    post = parse_metadata(
        document(token_endpoint_auth_methods_supported=["client_secret_post"]), SETTINGS
    )
    authenticate(form, headers := {}, post, SETTINGS, now=NOW, random=lambda n: b"j" * n)
    assert form == {"client_id": "authgate", "client_secret": "s3cret"} and headers == {}


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
