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
from authgate_shared.redis.connection import RedisSettings, redis_settings_from_env

from ..store.sealing import SealingKeys, parse_sealing_keys


@dataclass(frozen=True)
class AdminSettings:
    redis: RedisSettings
    keys_dir: Path
    access_token_lifetime: int
    refresh_token_lifetime: int
    jwt_algorithm: str
    rsa_key_from_env: bool
    """GATEWAY_RSA_PRIVATE_KEY is set: KEYS_DIR is not used, so ``keys`` commands refuse."""
    upstream_token_keys: SealingKeys | None = None
    """UPSTREAM_TOKEN_KEYS: ``grants`` opens the sealed GitHub tokens to report their status
    (never the token); without it every kept token shows ``unreadable``."""

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
            upstream_token_keys=env.parsed("UPSTREAM_TOKEN_KEYS", None, parse_sealing_keys),
        )
        env.check()
        return settings


# ``make run`` records its Redis and keys here (relative to the checkout it runs in).
LOCAL_STACK_FILE = Path(".run/authgate.env")
# Any of these set means the operator configured the CLI: the local file is then ignored.
CONFIGURING = ("REDIS_URL", "REDIS_HOST", "REDIS_PORT", "KEYS_DIR", "GATEWAY_RSA_PRIVATE_KEY")
# Also read from the local file (owner-only): the stack's sealing keys, for `authgate grants`.
LOCAL_ONLY = ("UPSTREAM_TOKEN_KEYS",)


def local_stack(environ: Mapping[str, str], file: Path = LOCAL_STACK_FILE) -> dict[str, str]:
    """``make run``'s settings when the CLI runs from its checkout and nothing is configured
    (so ``authgate clients list`` works against the local stack with no exported variables);
    otherwise nothing."""
    if any(name in environ for name in CONFIGURING) or not file.is_file():
        return {}
    values: dict[str, str] = {}
    for line in file.read_text().splitlines():
        name, sep, value = line.partition("=")
        if sep and not name.startswith("#") and name.strip() in (*CONFIGURING, *LOCAL_ONLY):
            values[name.strip()] = value.strip()
    return values


def load(environ: Mapping[str, str] | None = None) -> AdminSettings:
    """The settings from ``environ``, by default this process's environment, completed by the
    local stack's file when nothing is configured (raises ConfigError)."""
    source = os.environ if environ is None else environ
    return AdminSettings.from_env({**local_stack(source), **source})
