"""The GitHub login's settings: the OAuth app, the API, and who may sign in.

Built by ``IssuerSettings.from_env`` from its ``EnvReader``, so a wrong variable here is named
in the same start-up error as every other one.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from authgate_shared.config import EnvReader, parse_base_url


@dataclass(frozen=True)
class GithubSettings:
    client_id: str
    client_secret: str = field(repr=False)
    base_url: str
    """GITHUB_BASE_URL: the OAuth base (``https://github.com``, Enterprise ``https://HOST``)."""
    api_url: str
    """GITHUB_API_URL: the REST API base (Enterprise ``https://HOST/api/v3``)."""
    timeout: float
    """GITHUB_TIMEOUT_MS, in seconds: the bound on every GitHub call."""
    allowed_users: frozenset[str]
    """ALLOWED_GITHUB_USERS, lower-cased (logins are case-insensitive)."""
    allow_all_users: bool
    """ALLOWED_GITHUB_USERS contains ``*``."""


def github_settings_from_env(
    env: EnvReader, *, dev_login: bool, warnings: list[str]
) -> GithubSettings:
    """The GitHub settings; problems go to ``env.problems``, warnings to ``warnings``."""
    if dev_login:
        client_id = env.text("GITHUB_CLIENT_ID", "authgate-dev") or ""
        client_secret = env.text("GITHUB_CLIENT_SECRET", "authgate-dev") or ""
    else:
        client_id = env.required(
            "GITHUB_CLIENT_ID",
            "the GitHub OAuth app's client id (or AUTHGATE_DEV_LOGIN=true for local development)",
        )
        client_secret = env.required("GITHUB_CLIENT_SECRET", "the GitHub OAuth app's client secret")
    base_url = env.parsed("GITHUB_BASE_URL", "https://github.com", parse_base_url)
    api_url = env.parsed("GITHUB_API_URL", "https://api.github.com", parse_base_url)
    users_raw = env.items("ALLOWED_GITHUB_USERS")
    if not users_raw:
        warnings.append(
            "ALLOWED_GITHUB_USERS is empty: nobody can log in (use '*' to allow every GitHub user)"
        )
    return GithubSettings(
        client_id=client_id,
        client_secret=client_secret,
        base_url=base_url,
        api_url=api_url,
        timeout=env.integer("GITHUB_TIMEOUT_MS", 10000, minimum=100) / 1000,
        allowed_users=frozenset(u.lower() for u in users_raw if u != "*"),
        allow_all_users="*" in users_raw,
    )
