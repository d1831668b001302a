"""The GitHub login's settings: the OAuth app, the API, and who may sign in.

Who: ``ALLOWED_GITHUB_USERS`` (logins), ``ALLOWED_GITHUB_ORGS`` (organisation logins) and
``ALLOWED_GITHUB_TEAMS`` (``org/team-slug``), in union, all case-insensitive like GitHub's own
logins and slugs. Organisations and teams need the user's GitHub token after login (membership
is re-checked at every refresh), kept sealed under ``UPSTREAM_TOKEN_KEYS`` (sealing).

Built by ``IssuerSettings.from_env`` from its ``EnvReader``, so a wrong variable here is named
in the same start-up error as every other one.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from authgate_shared.config import EnvReader, parse_base_url

from ..store.sealing import SealingKeys, parse_sealing_keys

# GitHub organisation logins: alphanumerics and single hyphens, at most 39 characters; team
# slugs are GitHub's lower-case form of the team name (letters, digits, '-', '_', '.').
ORG = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})")
TEAM_SLUG = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,99}")
SCOPE = re.compile(r"[a-z][a-z_]*(?::[a-z_]+)?")  # GitHub's scope names: repo, read:org, ...
DEFAULT_RECHECK_GRACE = 3600
MAX_RECHECK_GRACE = 86400


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
    allowed_orgs: frozenset[str] = frozenset()
    """ALLOWED_GITHUB_ORGS, lower-cased: members (state ``active``) of any of them may sign in."""
    allowed_teams: frozenset[str] = frozenset()
    """ALLOWED_GITHUB_TEAMS, lower-cased ``org/team-slug``."""
    token_keys: SealingKeys | None = field(default=None, repr=False)
    """UPSTREAM_TOKEN_KEYS: seal the user's GitHub token at rest; required with orgs/teams."""
    upstream_scopes: tuple[str, ...] = ()
    """GITHUB_UPSTREAM_SCOPES: OAuth-app scopes asked beyond the login's own, for the upstream
    token MCP servers receive (GitHub Apps ignore scopes: the App's permissions apply)."""
    recheck_grace: int = DEFAULT_RECHECK_GRACE
    """MEMBERSHIP_RECHECK_GRACE_SECONDS: how old the last successful membership check may be
    when GitHub cannot answer a refresh's re-check (then 503 temporarily_unavailable)."""

    @property
    def checks_membership(self) -> bool:
        """Organisations or teams are configured: read:org, membership checks, token sealed."""
        return bool(self.allowed_orgs or self.allowed_teams)

    @property
    def membership_orgs(self) -> frozenset[str]:
        """Every organisation whose membership matters (the listed ones and the teams' ones)."""
        return self.allowed_orgs | {team.partition("/")[0] for team in self.allowed_teams}


def _orgs(value: str) -> frozenset[str]:
    orgs = [item.strip() for item in value.split(",") if item.strip()]
    for org in orgs:
        if not ORG.fullmatch(org):
            raise ValueError(f"{org!r} is not a GitHub organisation login")
    return frozenset(org.lower() for org in orgs)


def _scopes(value: str) -> tuple[str, ...]:
    scopes = [item for item in value.replace(",", " ").split() if item]
    for scope in scopes:
        if not SCOPE.fullmatch(scope):
            raise ValueError(f"{scope!r} is not a GitHub OAuth scope (e.g. repo, read:org)")
    return tuple(dict.fromkeys(scopes))


def _teams(value: str) -> frozenset[str]:
    teams = [item.strip() for item in value.split(",") if item.strip()]
    for team in teams:
        org, slash, slug = team.partition("/")
        if not slash or not ORG.fullmatch(org) or not TEAM_SLUG.fullmatch(slug):
            raise ValueError(f"{team!r} is not ORG/TEAM-SLUG (e.g. acme/platform)")
    return frozenset(team.lower() for team in teams)


def github_settings_from_env(
    env: EnvReader, *, dev_login: bool, warnings: list[str], enabled: bool = True
) -> GithubSettings:
    """The GitHub settings; problems go to ``env.problems``, warnings to ``warnings``.
    ``enabled`` False (LOGIN_PROVIDERS without ``github``): nothing GitHub is required, and
    the allow lists stay empty, so no GitHub user could sign in anyway."""
    if not enabled:
        client_id = env.text("GITHUB_CLIENT_ID", "") or ""
        client_secret = env.text("GITHUB_CLIENT_SECRET", "") or ""
    elif dev_login:
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
    orgs = env.parsed("ALLOWED_GITHUB_ORGS", frozenset[str](), _orgs)
    teams = env.parsed("ALLOWED_GITHUB_TEAMS", frozenset[str](), _teams)
    if enabled and not users_raw and not orgs and not teams:
        warnings.append(
            "ALLOWED_GITHUB_USERS, ALLOWED_GITHUB_ORGS and ALLOWED_GITHUB_TEAMS are empty:"
            " nobody can log in (use ALLOWED_GITHUB_USERS='*' to allow every GitHub user)"
        )
    token_keys = env.parsed("UPSTREAM_TOKEN_KEYS", None, parse_sealing_keys)
    if (orgs or teams) and token_keys is None and env.raw("UPSTREAM_TOKEN_KEYS") is None:
        env.problems.append(
            "UPSTREAM_TOKEN_KEYS is required with ALLOWED_GITHUB_ORGS or ALLOWED_GITHUB_TEAMS:"
            " the users' GitHub tokens (membership is re-checked at every refresh) are kept"
            " encrypted under it; 'k1:' + 32 random bytes in base64, e.g. from"
            " python -c 'import os,base64; print(\"k1:\" + base64.b64encode(os.urandom(32)).decode())'"
        )
    return GithubSettings(
        client_id=client_id,
        client_secret=client_secret,
        base_url=base_url,
        api_url=api_url,
        timeout=env.integer("GITHUB_TIMEOUT_MS", 10000, minimum=100) / 1000,
        allowed_users=frozenset(u.lower() for u in users_raw if u != "*"),
        allow_all_users="*" in users_raw,
        allowed_orgs=orgs,
        allowed_teams=teams,
        token_keys=token_keys,
        upstream_scopes=env.parsed("GITHUB_UPSTREAM_SCOPES", (), _scopes),
        recheck_grace=env.integer(
            "MEMBERSHIP_RECHECK_GRACE_SECONDS",
            DEFAULT_RECHECK_GRACE,
            minimum=0,
            maximum=MAX_RECHECK_GRACE,
        ),
    )
