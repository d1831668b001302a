"""Settings of the ``authgate`` admin CLI: the issuer's variable names, only what it needs.

An operator runs the CLI next to the issuer (same environment), but it must also work where no
GitHub credentials or issuer URL are configured (a maintenance shell, a cron job), so it does not
reuse ``IssuerSettings``, which requires them.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from authgate_shared.claims import ALLOWED_ALGORITHMS
from authgate_shared.config import EnvReader
from authgate_shared.redis_conn import RedisSettings, redis_settings_from_env


@dataclass(frozen=True)
class AdminSettings:
    redis: RedisSettings
    keys_dir: Path
    access_token_lifetime: int
    refresh_token_lifetime: int
    jwt_algorithm: str
    rsa_key_from_env: bool
    """GATEWAY_RSA_PRIVATE_KEY is set: KEYS_DIR is not used, so ``keys`` commands refuse."""

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> AdminSettings:
        env = EnvReader(environ)
        settings = cls(
            redis=redis_settings_from_env(env),
            keys_dir=Path(env.text("KEYS_DIR", "/keys") or "/keys"),
            access_token_lifetime=env.integer("ACCESS_TOKEN_LIFETIME", 2592000, minimum=1),
            refresh_token_lifetime=env.integer("REFRESH_TOKEN_LIFETIME", 31536000, minimum=1),
            jwt_algorithm=env.choice("JWT_ALGORITHM", "RS256", ALLOWED_ALGORITHMS),
            rsa_key_from_env=env.raw("GATEWAY_RSA_PRIVATE_KEY") is not None,
        )
        env.check()
        return settings


def load(environ: Mapping[str, str] | None = None) -> AdminSettings:
    """The settings from ``environ``, by default this process's environment (raises
    ConfigError)."""
    return AdminSettings.from_env(os.environ if environ is None else environ)
