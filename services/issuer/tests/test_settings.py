from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from authgate_issuer.settings import IssuerSettings
from authgate_shared.config import ConfigError
from testsupport.issuer import issuer_env
from testsupport.pem import private_pem


def test_defaults_follow_the_seed(env: dict[str, str]) -> None:
    dropped = {"ISSUER_URL", "REDIS_URL", "GITHUB_BASE_URL", "GITHUB_API_URL", "KEYS_DIR"}
    env = {k: v for k, v in env.items() if k not in dropped}
    settings = IssuerSettings.from_env(env)
    assert settings.issuer_url == "https://auth.example.com"
    assert settings.access_token_lifetime == 2592000
    assert settings.refresh_token_lifetime == 31536000
    assert settings.client_lifetime == 7776000
    assert settings.redis.url == "redis://redis:6379/0"
    assert settings.jwt_algorithm == "RS256"
    assert settings.github.base_url == "https://github.com"
    assert settings.github.api_url == "https://api.github.com"
    assert settings.keys_dir == Path("/keys")


def test_issuer_url_is_normalised_without_trailing_slash(env: dict[str, str]) -> None:
    settings = IssuerSettings.from_env({**env, "ISSUER_URL": "HTTPS://Auth.Example.COM/"})
    assert settings.issuer_url == "https://auth.example.com"


def test_redis_url_wins_and_password_is_quoted(env: dict[str, str]) -> None:
    no_url = {k: v for k, v in env.items() if k != "REDIS_URL"}
    settings = IssuerSettings.from_env(
        {**no_url, "REDIS_HOST": "db", "REDIS_PORT": "6380", "REDIS_PASSWORD": "p@ss/word"}
    )
    assert settings.redis.url == "redis://:p%40ss%2Fword@db:6380/0"
    assert "p%40ss" not in settings.redis.redacted()
    assert IssuerSettings.from_env({**env, "REDIS_HOST": "db"}).redis.url == env["REDIS_URL"]


def test_allowlist_is_trimmed_and_case_insensitive(env: dict[str, str]) -> None:
    settings = IssuerSettings.from_env({**env, "ALLOWED_GITHUB_USERS": " Octocat ,, Hubot "})
    assert settings.github.allowed_users == frozenset({"octocat", "hubot"})
    assert not settings.github.allow_all_users
    assert IssuerSettings.from_env({**env, "ALLOWED_GITHUB_USERS": "*"}).github.allow_all_users


def test_every_bad_variable_is_named_in_one_error(env: dict[str, str]) -> None:
    bad = {
        **env,
        "ISSUER_URL": "ftp://auth.example.com",
        "GITHUB_CLIENT_ID": "",
        "JWT_ALGORITHM": "HS256",
        "GATEWAY_JWT_SECRET": "too-short",
        "ACCESS_TOKEN_LIFETIME": "soon",
        "REDIS_URL": "http://redis",
        "CLIENT_LIFETIME": "-1",
    }
    with pytest.raises(ConfigError) as info:
        IssuerSettings.from_env(bad)
    message = str(info.value)
    for name in (
        "ISSUER_URL",
        "GITHUB_CLIENT_ID",
        "GATEWAY_JWT_SECRET",
        "ACCESS_TOKEN_LIFETIME",
        "REDIS_URL",
        "CLIENT_LIFETIME",
    ):
        assert name in message
    assert len(info.value.problems) == 6


def test_hs256_requires_a_secret(env: dict[str, str]) -> None:
    with pytest.raises(ConfigError, match="GATEWAY_JWT_SECRET is required"):
        IssuerSettings.from_env({**env, "JWT_ALGORITHM": "HS256"})
    ok = IssuerSettings.from_env({**env, "JWT_ALGORITHM": "HS256", "GATEWAY_JWT_SECRET": "x" * 32})
    assert any("HS256" in w for w in ok.warnings)


RSA_PEM = private_pem(rsa.generate_private_key(65537, 2048))
P256_PEM = private_pem(ec.generate_private_key(ec.SECP256R1()))
P384_PEM = private_pem(ec.generate_private_key(ec.SECP384R1()))
# GATEWAY_RSA_PRIVATE_KEY (a historical name: with ES256 it holds an EC key) against
# JWT_ALGORITHM: (algorithm, PEM, None if accepted else the expected message).
PRIVATE_KEY_RULES = [
    ("RS256", RSA_PEM, None),
    ("ES256", P256_PEM, None),
    ("HS256", P256_PEM, None),  # unused with HS256, as before
    ("ES256", RSA_PEM, "is an RSA key (2048 bits) but JWT_ALGORITHM=ES256 needs an EC P-256 key"),
    ("RS256", P256_PEM, "is an EC P-256 key but JWT_ALGORITHM=RS256 needs an RSA key"),
    ("ES256", P384_PEM, "is an EC secp384r1 key but JWT_ALGORITHM=ES256 needs an EC P-256 key"),
    ("ES256", "not a pem", "is not a PEM-encoded unencrypted private key"),
]


@pytest.mark.parametrize(("algorithm", "pem", "error"), PRIVATE_KEY_RULES)
def test_private_key_must_fit_the_algorithm(
    env: dict[str, str], algorithm: str, pem: str, error: str | None
) -> None:
    overrides = {
        "JWT_ALGORITHM": algorithm,
        "GATEWAY_JWT_SECRET": "s" * 32,
        "GATEWAY_RSA_PRIVATE_KEY": pem.replace("\n", "\\n"),
    }
    if error is None:
        assert IssuerSettings.from_env({**env, **overrides}).jwt_algorithm == algorithm
        return
    with pytest.raises(ConfigError) as info:
        IssuerSettings.from_env({**env, **overrides})
    assert info.value.problems == [f"GATEWAY_RSA_PRIVATE_KEY {error}"]


def test_es256_is_accepted_and_unknown_algorithms_are_named(env: dict[str, str]) -> None:
    settings = IssuerSettings.from_env({**env, "JWT_ALGORITHM": "ES256"})
    assert settings.jwt_algorithm == "ES256" and settings.rsa_private_key_pem is None
    assert not any("JWT_ALGORITHM" in w for w in settings.warnings)
    with pytest.raises(ConfigError, match="JWT_ALGORITHM must be one of RS256, ES256, HS256"):
        IssuerSettings.from_env({**env, "JWT_ALGORITHM": "ES384"})


def test_invalid_rsa_private_key_is_a_config_error(env: dict[str, str]) -> None:
    with pytest.raises(ConfigError, match="GATEWAY_RSA_PRIVATE_KEY"):
        IssuerSettings.from_env({**env, "GATEWAY_RSA_PRIVATE_KEY": "not a pem"})


def test_dev_login_requires_a_loopback_issuer(env: dict[str, str]) -> None:
    with pytest.raises(ConfigError, match="AUTHGATE_DEV_LOGIN"):
        IssuerSettings.from_env({**env, "AUTHGATE_DEV_LOGIN": "true"})
    local = {k: v for k, v in env.items() if not k.startswith("GITHUB_CLIENT")}
    settings = IssuerSettings.from_env(
        {**local, "AUTHGATE_DEV_LOGIN": "true", "ISSUER_URL": "http://127.0.0.1:8000"}
    )
    assert settings.dev_login
    assert any("DEV LOGIN" in w for w in settings.warnings)


def test_console_script_stops_with_the_aggregated_message(tmp_path: Path) -> None:
    env = issuer_env("redis://127.0.0.1:1/0", tmp_path, ISSUER_URL="", BASE_DOMAIN="")
    env.pop("GITHUB_CLIENT_SECRET")
    result = subprocess.run(
        [sys.executable, "-m", "authgate_issuer", "--port", "1"],
        env={"PATH": "/usr/bin:/bin", **env},
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 2
    assert "ISSUER_URL" in result.stderr
    assert "GITHUB_CLIENT_SECRET" in result.stderr
    assert "Traceback" not in result.stderr


def test_http_limits_default_and_bad_values_are_named(env: dict[str, str]) -> None:
    from authgate_shared.server.limits import HttpLimits

    assert IssuerSettings.from_env(env).http == HttpLimits(10, 5)
    with pytest.raises(ConfigError) as info:
        IssuerSettings.from_env({**env, "REQUEST_HEAD_TIMEOUT": "301", "KEEP_ALIVE_TIMEOUT": "0"})
    assert any(
        p.startswith("REQUEST_HEAD_TIMEOUT must be between 1 and 300") for p in info.value.problems
    )
    assert any(
        p.startswith("KEEP_ALIVE_TIMEOUT must be between 1 and 300") for p in info.value.problems
    )


def test_client_facing_settings_have_secure_defaults(env: dict[str, str]) -> None:
    settings = IssuerSettings.from_env(env)
    assert settings.cimd.enabled is True
    assert settings.cimd.allow_private_addresses is False
    assert settings.cors_allowed_origins == ("*",)
    assert settings.refresh_reuse_grace_seconds == 0
    assert settings.scope_descriptions["mcp:*"]


def test_client_facing_settings_name_every_bad_value(env: dict[str, str]) -> None:
    with pytest.raises(ConfigError) as caught:
        IssuerSettings.from_env(
            {
                **env,
                "CORS_ALLOWED_ORIGINS": "https://ok.example, https://x.example/path",
                "REFRESH_REUSE_GRACE_SECONDS": "61",
                "SCOPE_DESCRIPTIONS": '["not", "an object"]',
                "CIMD_ALLOW_PRIVATE_ADDRESSES": "true",
                "CIMD_CACHE_MIN_SECONDS": "600",
                "CIMD_CACHE_MAX_SECONDS": "60",
            }
        )
    message = str(caught.value)
    for name in (
        "CORS_ALLOWED_ORIGINS",
        "REFRESH_REUSE_GRACE_SECONDS",
        "SCOPE_DESCRIPTIONS",
        "CIMD_ALLOW_PRIVATE_ADDRESSES",
        "CIMD_CACHE_MAX_SECONDS",
    ):
        assert name in message


def test_cors_origins_and_scope_descriptions_are_parsed(env: dict[str, str]) -> None:
    settings = IssuerSettings.from_env(
        {
            **env,
            "CORS_ALLOWED_ORIGINS": "http://LOCALHOST:6274,https://app.example",
            "SCOPE_DESCRIPTIONS": '{"files:read": "Read your files"}',
            "REFRESH_REUSE_GRACE_SECONDS": "30",
        }
    )
    assert settings.cors_allowed_origins == ("http://localhost:6274", "https://app.example")
    assert settings.scope_descriptions["files:read"] == "Read your files"
    assert "mcp:*" in settings.scope_descriptions
    assert any("REFRESH_REUSE_GRACE_SECONDS=30" in w for w in settings.warnings)
    with pytest.raises(ConfigError, match="cannot be combined"):
        IssuerSettings.from_env({**env, "CORS_ALLOWED_ORIGINS": "*,https://a.example"})


def test_upstream_scopes_are_asked_of_github_after_the_logins_own(env: dict[str, str]) -> None:
    from authgate_issuer.login.github import oauth_scope

    settings = IssuerSettings.from_env({**env, "GITHUB_UPSTREAM_SCOPES": "repo, read:user repo"})
    assert settings.github.upstream_scopes == ("repo", "read:user")
    assert oauth_scope(settings.github) == "read:user repo"
    assert oauth_scope(IssuerSettings.from_env(env).github) == "read:user"
    with pytest.raises(ConfigError, match="GITHUB_UPSTREAM_SCOPES"):
        IssuerSettings.from_env({**env, "GITHUB_UPSTREAM_SCOPES": "repo&x=1"})
