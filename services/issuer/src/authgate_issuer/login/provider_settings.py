"""Which login providers sign users in (LOGIN_PROVIDERS), and each one's settings.

``github`` alone is the default: today's deployments, which list nothing, behave as before. The
GitHub client variables are required only when ``github`` is listed; the ``OIDC_*`` ones and the
OIDC access lists are read only when ``oidc`` is.
"""

from __future__ import annotations

from dataclasses import dataclass

from authgate_shared.config import EnvReader

from .oidc.settings import OidcSettings, oidc_settings_from_env
from .oidc_access_settings import OidcAccessSettings, oidc_access_settings_from_env
from .settings import GithubSettings, github_settings_from_env

NAMES = ("github", "oidc")


def parse_providers(value: str) -> tuple[str, ...]:
    providers = tuple(dict.fromkeys(i.strip().lower() for i in value.split(",") if i.strip()))
    for provider in providers:
        if provider not in NAMES:
            raise ValueError(f"{provider!r} is not one of {', '.join(NAMES)}")
    if not providers:
        raise ValueError(f"must name at least one of {', '.join(NAMES)}")
    return providers


@dataclass(frozen=True)
class LoginSettings:
    providers: tuple[str, ...]
    github: GithubSettings
    oidc: OidcSettings | None
    oidc_access: OidcAccessSettings | None


def login_settings_from_env(
    env: EnvReader, *, dev_login: bool, warnings: list[str]
) -> LoginSettings:
    """The providers and their settings; problems go to ``env.problems``."""
    providers: tuple[str, ...] = env.parsed("LOGIN_PROVIDERS", ("github",), parse_providers)
    github = github_settings_from_env(
        env, dev_login=dev_login, warnings=warnings, enabled="github" in providers
    )
    if "oidc" not in providers:
        return LoginSettings(providers, github, None, None)
    oidc = oidc_settings_from_env(env)
    access = oidc_access_settings_from_env(env, warnings=warnings)
    return LoginSettings(providers, github, oidc, access)
