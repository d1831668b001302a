"""Configuration: defaults, the per-service formats, and one message naming every problem."""

from __future__ import annotations

import subprocess
import sys

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from authgate_shared.config import ConfigError
from authgate_verifier.settings import VerifierSettings

BASE = {"ISSUER_URL": "https://auth.example.com", "REDIS_URL": "redis://127.0.0.1:1/0"}


def test_defaults() -> None:
    s = VerifierSettings.from_env(BASE)
    assert s.issuer_url == "https://auth.example.com"
    assert s.jwt_algorithm == "RS256"
    assert s.rsa_public_key_pem is None and s.jwt_secret is None
    # Secure defaults: tokens bound to one service, no token passthrough, resources bound in
    # the proxy's auth address; nothing to warn about.
    assert s.require_resource_tokens is True
    assert s.bind_from_address is True
    assert not s.services
    assert s.warnings == ()
    assert s.revocation_cache_ms == 0
    assert s.forward_token_header is False
    assert s.key_reload_interval == 60
    assert dict(s.required_scopes) == {} and dict(s.path_prefixes) == {}


def test_issuer_url_defaults_from_base_domain_and_is_normalised() -> None:
    assert VerifierSettings.from_env({"BASE_DOMAIN": "example.org"}).issuer_url == (
        "https://auth.example.org"
    )
    assert VerifierSettings.from_env({"ISSUER_URL": "HTTPS://Auth.Example.com/"}).issuer_url == (
        "https://auth.example.com"
    )


def test_path_prefixes_and_required_scopes_formats() -> None:
    s = VerifierSettings.from_env(
        {
            **BASE,
            "RESOURCE_PATH_PREFIXES": "Tools.Example.com/github, tools.example.com/github/v2,tools.example.com/jira/",
            "REQUIRED_SCOPES": "mcp-a.example.com=mcp:read mcp:write; tools.example.com/jira=jira ;*=mcp:*",
        }
    )
    assert s.path_prefixes == {"tools.example.com": ("/github/v2", "/github", "/jira")}
    assert s.required_scopes == {
        "mcp-a.example.com": frozenset({"mcp:read", "mcp:write"}),
        "tools.example.com/jira": frozenset({"jira"}),
        "*": frozenset({"mcp:*"}),
    }


def test_every_problem_is_named_at_once() -> None:
    env = {
        "ISSUER_URL": "ftp://x",
        "JWT_ALGORITHM": "HS256",
        "GATEWAY_JWT_SECRET": "short",
        "REVOCATION_CACHE_MS": "-1",
        "REQUIRE_RESOURCE_TOKENS": "maybe",
        "RESOURCE_PATH_PREFIXES": "tools.example.com/../x",
        "REQUIRED_SCOPES": "mcp-a.example.com",
        "KEY_RELOAD_INTERVAL": "soon",
        "REDIS_URL": "http://nope",
    }
    with pytest.raises(ConfigError) as info:
        VerifierSettings.from_env(env)
    message = str(info.value)
    for name in env:
        assert name in message, name
    assert len(info.value.problems) == len(env) - 1  # one problem names JWT_ALGORITHM too


def test_bad_public_key_is_refused() -> None:
    with pytest.raises(ConfigError, match="GATEWAY_RSA_PUBLIC_KEY"):
        VerifierSettings.from_env({**BASE, "GATEWAY_RSA_PUBLIC_KEY": "not a pem"})


def _public_pem(key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey) -> str:
    pem = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return pem.decode().replace("\n", "\\n")


RSA_PEM = _public_pem(rsa.generate_private_key(65537, 2048))
P256_PEM = _public_pem(ec.generate_private_key(ec.SECP256R1()))
P384_PEM = _public_pem(ec.generate_private_key(ec.SECP384R1()))
# GATEWAY_RSA_PUBLIC_KEY (a historical name: with ES256 it holds an EC key) against
# JWT_ALGORITHM: (algorithm, PEM, None if accepted else the expected message).
PUBLIC_KEY_RULES = [
    ("RS256", RSA_PEM, None),
    ("ES256", P256_PEM, None),
    ("ES256", RSA_PEM, "is an RSA key (2048 bits) but JWT_ALGORITHM=ES256 needs an EC P-256 key"),
    ("RS256", P256_PEM, "is an EC P-256 key but JWT_ALGORITHM=RS256 needs an RSA key"),
    ("ES256", P384_PEM, "is an EC secp384r1 key but JWT_ALGORITHM=ES256 needs an EC P-256 key"),
    ("ES256", "not a pem", "is not a PEM-encoded public key"),
]


@pytest.mark.parametrize(("algorithm", "pem", "error"), PUBLIC_KEY_RULES)
def test_public_key_must_fit_the_algorithm(algorithm: str, pem: str, error: str | None) -> None:
    env = {**BASE, "JWT_ALGORITHM": algorithm, "GATEWAY_RSA_PUBLIC_KEY": pem}
    if error is None:
        settings = VerifierSettings.from_env(env)
        assert settings.jwt_algorithm == algorithm and settings.rsa_public_key_pem
        return
    with pytest.raises(ConfigError) as info:
        VerifierSettings.from_env(env)
    assert info.value.problems == [f"GATEWAY_RSA_PUBLIC_KEY {error}"]


def test_es256_reads_keys_from_redis_by_default() -> None:
    s = VerifierSettings.from_env({**BASE, "JWT_ALGORITHM": "ES256"})
    assert s.jwt_algorithm == "ES256" and s.rsa_public_key_pem is None and s.jwt_secret is None


def _start(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """``python -m authgate_verifier`` with exactly ``env``; it is expected to refuse to start."""
    return subprocess.run(
        [sys.executable, "-m", "authgate_verifier", "--port", "1"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_wrong_key_type_stops_the_process_with_exit_2() -> None:
    env = {
        "PATH": "/usr/bin:/bin",
        **BASE,
        "JWT_ALGORITHM": "ES256",
        "GATEWAY_RSA_PUBLIC_KEY": RSA_PEM,
    }
    result = _start(env)
    assert result.returncode == 2
    assert "GATEWAY_RSA_PUBLIC_KEY is an RSA key" in result.stderr
    assert "JWT_ALGORITHM=ES256 needs an EC P-256 key" in result.stderr
    assert "Traceback" not in result.stderr


def test_bad_config_exits_2_with_one_message() -> None:
    env = {"PATH": "/usr/bin:/bin", "JWT_ALGORITHM": "none", "REVOCATION_CACHE_MS": "x"}
    result = _start(env)
    assert result.returncode == 2
    for name in ("ISSUER_URL", "JWT_ALGORITHM", "REVOCATION_CACHE_MS"):
        assert name in result.stderr
    assert "Traceback" not in result.stderr


def test_http_limits_default_and_bad_values_are_named() -> None:
    from authgate_shared.server.limits import HttpLimits

    assert VerifierSettings.from_env(BASE).http == HttpLimits(10, 5)
    quick = VerifierSettings.from_env(
        {**BASE, "REQUEST_HEAD_TIMEOUT": "1", "KEEP_ALIVE_TIMEOUT": "2"}
    )
    assert quick.http == HttpLimits(request_head_timeout=1, keep_alive_timeout=2)
    with pytest.raises(ConfigError) as info:
        VerifierSettings.from_env({**BASE, "REQUEST_HEAD_TIMEOUT": "0", "KEEP_ALIVE_TIMEOUT": "5s"})
    assert any(
        p.startswith("REQUEST_HEAD_TIMEOUT must be between 1 and 300") for p in info.value.problems
    )
    assert any(p.startswith("KEEP_ALIVE_TIMEOUT must be an integer") for p in info.value.problems)


def test_legacy_behaviour_is_explicit_and_warned() -> None:
    s = VerifierSettings.from_env(
        {
            **BASE,
            "REQUIRE_RESOURCE_TOKENS": "false",
            "FORWARD_AUTH_TOKEN_HEADER": "true",
            "RESOURCE_SOURCE": "forwarded-headers",
        }
    )
    assert (s.require_resource_tokens, s.forward_token_header, s.bind_from_address) == (
        False,
        True,
        False,
    )
    warned = " ".join(s.warnings)
    for name in ("REQUIRE_RESOURCE_TOKENS", "FORWARD_AUTH_TOKEN_HEADER", "RESOURCE_SOURCE"):
        assert name in warned


def test_allowed_resources_and_resource_source_are_validated_by_name() -> None:
    with pytest.raises(ConfigError) as caught:
        VerifierSettings.from_env(
            {
                **BASE,
                "ALLOWED_RESOURCES": "https://ok.example.com,ftp://x.example.com,https://a/%2e%2e/b",
                "RESOURCE_SOURCE": "headers",
            }
        )
    text = str(caught.value)
    assert "ALLOWED_RESOURCES" in text and "ftp://x.example.com" in text
    assert "https://a/%2e%2e/b" in text and "https://ok.example.com'" not in text
    assert "RESOURCE_SOURCE" in text
    ok = VerifierSettings.from_env(
        {**BASE, "ALLOWED_RESOURCES": "HTTPS://MCP-A.example.com/, https://*.example.org"}
    )
    assert "https://mcp-a.example.com" in ok.services
    assert "https://x.example.org" in ok.services
    assert "https://x.y.example.org" not in ok.services
