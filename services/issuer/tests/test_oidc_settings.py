"""The OIDC login's settings, discovery validation and client authentication at the
provider's token endpoint. The whole flow against a real OpenID Provider is
tests/test_oidc_client.py."""

from __future__ import annotations

import base64
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from authgate_issuer.login.oidc.client_auth import (
    ASSERTION_TYPE,
    authenticate,
    basic_credentials,
)
from authgate_issuer.login.oidc.discovery import discovery_url, parse_metadata
from authgate_issuer.login.oidc.errors import (
    OidcError,
)
from authgate_issuer.login.oidc.settings import OidcSettings, oidc_settings_from_env
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


def test_basic_credentials_are_form_encoded_first() -> None:
    value = basic_credentials("my client", "p@ss:w/rd")
    assert base64.b64decode(value.removeprefix("Basic ")) == b"my+client:p%40ss%3Aw%2Frd"


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
