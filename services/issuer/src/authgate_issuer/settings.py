"""The issuer's settings: one frozen dataclass built once from the environment.

Nothing else in the issuer reads ``os.environ``. ``IssuerSettings.from_env`` collects every
problem and raises one ``ConfigError`` naming them all.
"""

from __future__ import annotations

import ipaddress
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from authgate_shared.claims import ALLOWED_ALGORITHMS, DEFAULT_SCOPE
from authgate_shared.config import ConfigError, EnvReader, parse_base_url, parse_origins
from authgate_shared.keys import MIN_HMAC_BYTES, load_private_pem, pem_text
from authgate_shared.policy import Policy
from authgate_shared.policy_file import policy_from_env
from authgate_shared.redis.connection import RedisSettings, redis_settings_from_env
from authgate_shared.server.limits import HttpLimits, http_limits_from_env
from authgate_shared.services import ServiceList, parse_services

from .login.oidc.settings import OidcSettings
from .login.oidc_access_settings import OidcAccessSettings
from .login.provider_settings import login_settings_from_env
from .login.service_access import unknown_groups, unsupported_scopes
from .login.settings import GithubSettings

# App schemes without a dot that real MCP clients register (RFC 8252 §7.1 wants reverse-DNS
# names; these are the known exceptions). Extend with REDIRECT_URI_APP_SCHEMES.
DEFAULT_APP_SCHEMES = ("cursor", "vscode", "vscode-insiders", "windsurf", "claude")


def is_loopback_host(host: str) -> bool:
    host = host.strip("[]").lower()
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


# Plain-language scope descriptions for the consent page; SCOPE_DESCRIPTIONS adds or replaces.
DEFAULT_SCOPE_DESCRIPTIONS = {DEFAULT_SCOPE: "Use the MCP service's tools on your behalf"}
MAX_REFRESH_REUSE_GRACE_SECONDS = 60


@dataclass(frozen=True)
class CimdSettings:
    """Client ID Metadata Documents (draft-ietf-oauth-client-id-metadata-document)."""

    enabled: bool
    """CIMD_ENABLED: an https URL client_id is resolved by fetching its document."""
    allow_private_addresses: bool
    """CIMD_ALLOW_PRIVATE_ADDRESSES: fetch from loopback/private addresses (loopback issuer only)."""
    allowed_hosts: frozenset[str]
    """CIMD_ALLOWED_HOSTS: when non-empty, only client ids on these hosts are accepted."""
    trusted_hosts: frozenset[str]
    """CIMD_TRUSTED_HOSTS: client-id hosts the consent page names as trusted by the operator."""
    fetch_timeout: float
    max_document_bytes: int
    cache_min_seconds: int
    cache_max_seconds: int
    negative_cache_seconds: int
    fetches_per_host_per_minute: int
    ca_file: Path | None = None  # SSL_CERT_FILE: the CA bundle documents are checked against


def _scope_descriptions(value: str) -> dict[str, str]:
    try:
        parsed = json.loads(value)
    except json.JSONDecodeError as exc:
        raise ValueError(f"not a JSON object: {exc.msg}") from None
    if not isinstance(parsed, dict) or not all(
        isinstance(k, str) and isinstance(v, str) and v.strip() for k, v in parsed.items()
    ):
        raise ValueError(
            'must be a JSON object of scope -> description, e.g. {"mcp:*": "Use the tools"}'
        )
    return {**DEFAULT_SCOPE_DESCRIPTIONS, **{k: v.strip() for k, v in parsed.items()}}


@dataclass(frozen=True)
class IssuerSettings:
    issuer_url: str
    base_domain: str | None
    redis: RedisSettings
    http: HttpLimits
    github: GithubSettings
    dev_login: bool
    jwt_algorithm: str
    jwt_secret: bytes | None = field(repr=False)
    # GATEWAY_RSA_PRIVATE_KEY: the name is historical, with ES256 it holds an EC P-256 key.
    rsa_private_key_pem: bytes | None = field(repr=False)
    rsa_public_key_pem: bytes | None
    keys_dir: Path
    access_token_lifetime: int
    refresh_token_lifetime: int
    client_lifetime: int
    app_schemes: tuple[str, ...]
    services: ServiceList
    """ALLOWED_RESOURCES: the MCP services tokens may be issued for (RFC 8707)."""
    require_resource_tokens: bool
    scopes_supported: tuple[str, ...]
    default_scope: str
    max_body_bytes: int
    code_lifetime: int
    state_lifetime: int
    cookie_secret: bytes | None = field(repr=False)
    trusted_proxies: tuple[str, ...]
    register_rate_per_minute: int
    token_rate_per_minute: int
    max_registrations_per_hour: int
    log_format: str
    log_level: str
    cimd: CimdSettings
    cors_allowed_origins: tuple[str, ...]
    """CORS_ALLOWED_ORIGINS: origins whose pages may call the API endpoints; ``*`` = any."""
    refresh_reuse_grace_seconds: int
    gateway_name: str
    scope_descriptions: Mapping[str, str]
    login_providers: tuple[str, ...] = ("github",)
    """LOGIN_PROVIDERS: the enabled sign-in providers, in the consent page's order."""
    oidc: OidcSettings | None = None
    """The OpenID Connect login (OIDC_*), when LOGIN_PROVIDERS lists ``oidc``."""
    oidc_access: OidcAccessSettings | None = None
    """Who may sign in with it (ALLOWED_OIDC_USERS, ALLOWED_EMAIL_DOMAINS, ALLOWED_OIDC_GROUPS)."""
    policy: Policy | None = None
    """POLICY_FILE: per-service allow lists (refused at the callback and at refresh), display
    names and scope descriptions for the consent page (docs/access-control)."""
    warnings: tuple[str, ...] = ()

    @property
    def callback_url(self) -> str:
        return f"{self.issuer_url}/callback"

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> IssuerSettings:
        env = EnvReader(environ)
        warnings: list[str] = []

        base_domain = env.text("BASE_DOMAIN")
        issuer_raw = env.text("ISSUER_URL") or (
            f"https://auth.{base_domain}" if base_domain else None
        )
        issuer_url = ""
        if issuer_raw is None:
            env.problems.append(
                "ISSUER_URL (or BASE_DOMAIN, from which it defaults to https://auth.${BASE_DOMAIN}) is required"
            )
        else:
            try:
                issuer_url = parse_base_url(issuer_raw)
            except ValueError as exc:
                env.problems.append(f"ISSUER_URL {exc}")
        insecure_issuer = env.flag("ALLOW_INSECURE_ISSUER_URL", False)
        issuer_host = urlsplit(issuer_url).hostname or ""
        if issuer_url.startswith("http://") and not is_loopback_host(issuer_host):
            # RFC 8414 §2 and OAuth 2.1 §1.5: the issuer is an https URL; over plain http the
            # Secure consent cookies are never sent back and every token crosses in clear.
            if insecure_issuer:
                warnings.append(
                    f"ALLOW_INSECURE_ISSUER_URL=true: serving as {issuer_url} over plain http;"
                    " tokens and codes cross the network in clear"
                )
            else:
                env.problems.append(
                    f"ISSUER_URL must be an https URL (RFC 8414 §2), got {issuer_url!r}; plain"
                    " http is allowed for loopback hosts, or with ALLOW_INSECURE_ISSUER_URL=true"
                )

        dev_login = env.flag("AUTHGATE_DEV_LOGIN", False)
        if dev_login:
            if issuer_url and not is_loopback_host(urlsplit(issuer_url).hostname or ""):
                env.problems.append(
                    "AUTHGATE_DEV_LOGIN=true is only allowed when ISSUER_URL is a loopback address"
                )
            warnings.append(
                "DEV LOGIN MODE: users log in through the local GitHub stand-in; never use this in production"
            )
        login = login_settings_from_env(env, dev_login=dev_login, warnings=warnings)
        github = login.github

        algorithm = env.choice("JWT_ALGORITHM", "RS256", ALLOWED_ALGORITHMS)
        secret_text = env.raw("GATEWAY_JWT_SECRET")
        jwt_secret = secret_text.encode() if secret_text else None
        if algorithm == "HS256":
            if jwt_secret is None:
                env.problems.append("GATEWAY_JWT_SECRET is required when JWT_ALGORITHM=HS256")
            elif len(jwt_secret) < MIN_HMAC_BYTES:
                env.problems.append(
                    f"GATEWAY_JWT_SECRET must be at least {MIN_HMAC_BYTES} bytes for HS256, got {len(jwt_secret)}"
                )
            warnings.append(
                "JWT_ALGORITHM=HS256: every verifier holds the signing secret and can mint tokens; prefer RS256 or ES256"
            )
        private_pem = env.raw("GATEWAY_RSA_PRIVATE_KEY")
        public_pem = env.raw("GATEWAY_RSA_PUBLIC_KEY")
        if private_pem is not None and algorithm != "HS256":
            # A key of the other type would make the issuer sign tokens every verifier refuses:
            # stop here instead (RFC 8725 §3.1, one algorithm per key).
            try:
                load_private_pem(pem_text(private_pem), algorithm)
            except ValueError as exc:
                env.problems.append(f"GATEWAY_RSA_PRIVATE_KEY {exc}")

        services = env.parsed(
            "ALLOWED_RESOURCES",
            ServiceList(frozenset()),
            lambda v: parse_services(i.strip() for i in v.split(",") if i.strip()),
        )
        require_resource_tokens = env.flag("REQUIRE_RESOURCE_TOKENS", True)
        if require_resource_tokens and not services and not dev_login:
            env.problems.append(
                "ALLOWED_RESOURCES is required: the resource URIs of the MCP services behind the"
                " gateway, e.g. https://mcp-a.example.com,https://tools.example.com/github"
                " (https://*.example.com allows every subdomain); every token is issued for one"
                " of them (REQUIRE_RESOURCE_TOKENS=true)"
            )
        if not require_resource_tokens:
            warnings.append(
                "REQUIRE_RESOURCE_TOKENS=false: a request without resource gets a gateway-wide"
                " token that every MCP service accepts (and any of them could replay)"
            )

        policy = policy_from_env(env, env.raw("POLICY_FILE"), services)
        env.problems.extend(unknown_groups(policy, github))

        scopes = env.items("SCOPES_SUPPORTED", (DEFAULT_SCOPE,))
        env.problems.extend(unsupported_scopes(policy, scopes))
        default_scope = env.text("DEFAULT_SCOPE", DEFAULT_SCOPE) or DEFAULT_SCOPE
        if default_scope not in scopes:
            env.problems.append(f"DEFAULT_SCOPE {default_scope!r} must be one of SCOPES_SUPPORTED")

        trusted_proxies = env.items("TRUSTED_PROXIES")
        for entry in trusted_proxies:
            try:
                ipaddress.ip_network(entry, strict=False)
            except ValueError:
                env.problems.append(f"TRUSTED_PROXIES entry {entry!r} is not an IP address or CIDR")

        cookie_secret = env.raw("COOKIE_SECRET")
        if cookie_secret is not None and len(cookie_secret) < MIN_HMAC_BYTES:
            env.problems.append(f"COOKIE_SECRET must be at least {MIN_HMAC_BYTES} characters")

        loopback_issuer = bool(issuer_url) and is_loopback_host(issuer_host)
        cimd_private = env.flag("CIMD_ALLOW_PRIVATE_ADDRESSES", False)
        if cimd_private:
            if issuer_url and not loopback_issuer:
                env.problems.append(
                    "CIMD_ALLOW_PRIVATE_ADDRESSES=true is only allowed when ISSUER_URL is a"
                    " loopback address (it lets client ids make the issuer fetch from your network)"
                )
            warnings.append(
                "CIMD_ALLOW_PRIVATE_ADDRESSES=true: client metadata documents may be fetched from"
                " loopback and private addresses; never use this in production"
            )
        cache_min = env.integer("CIMD_CACHE_MIN_SECONDS", 300, minimum=0)
        cache_max = env.integer("CIMD_CACHE_MAX_SECONDS", 86400, minimum=1)
        if cache_max < cache_min:
            env.problems.append("CIMD_CACHE_MAX_SECONDS must not be below CIMD_CACHE_MIN_SECONDS")
        ca_file = env.text("SSL_CERT_FILE")
        if ca_file and not Path(ca_file).is_file():
            env.problems.append(f"SSL_CERT_FILE names no readable file: {ca_file!r}")
        cimd = CimdSettings(
            enabled=env.flag("CIMD_ENABLED", True),
            allow_private_addresses=cimd_private,
            allowed_hosts=frozenset(h.lower() for h in env.items("CIMD_ALLOWED_HOSTS")),
            trusted_hosts=frozenset(h.lower() for h in env.items("CIMD_TRUSTED_HOSTS")),
            fetch_timeout=env.integer("CIMD_FETCH_TIMEOUT_MS", 5000, minimum=100, maximum=30000)
            / 1000,
            max_document_bytes=env.integer(
                "CIMD_MAX_DOCUMENT_BYTES", 5120, minimum=1024, maximum=1048576
            ),
            cache_min_seconds=cache_min,
            cache_max_seconds=cache_max,
            negative_cache_seconds=env.integer("CIMD_NEGATIVE_CACHE_SECONDS", 60, minimum=0),
            fetches_per_host_per_minute=env.integer(
                "CIMD_FETCHES_PER_HOST_PER_MINUTE", 30, minimum=1
            ),
            ca_file=Path(ca_file) if ca_file else None,
        )
        grace = env.integer(
            "REFRESH_REUSE_GRACE_SECONDS", 0, minimum=0, maximum=MAX_REFRESH_REUSE_GRACE_SECONDS
        )
        if grace:
            warnings.append(
                f"REFRESH_REUSE_GRACE_SECONDS={grace}: a refresh token presented again within"
                f" {grace} s of its rotation gets the same successor instead of revoking the grant"
            )

        settings = cls(
            issuer_url=issuer_url,
            base_domain=base_domain.lower() if base_domain else None,
            redis=redis_settings_from_env(env),
            http=http_limits_from_env(env),
            github=github,
            dev_login=dev_login,
            jwt_algorithm=algorithm,
            jwt_secret=jwt_secret,
            rsa_private_key_pem=pem_text(private_pem) if private_pem else None,
            rsa_public_key_pem=pem_text(public_pem) if public_pem else None,
            keys_dir=Path(env.text("KEYS_DIR", "/keys") or "/keys"),
            access_token_lifetime=env.integer("ACCESS_TOKEN_LIFETIME", 2592000, minimum=1),
            refresh_token_lifetime=env.integer("REFRESH_TOKEN_LIFETIME", 31536000, minimum=1),
            client_lifetime=env.integer("CLIENT_LIFETIME", 7776000, minimum=0),
            app_schemes=tuple(
                s.lower() for s in env.items("REDIRECT_URI_APP_SCHEMES", DEFAULT_APP_SCHEMES)
            ),
            services=services,
            require_resource_tokens=require_resource_tokens,
            scopes_supported=scopes,
            default_scope=default_scope,
            max_body_bytes=env.integer("MAX_BODY_BYTES", 65536, minimum=1024),
            code_lifetime=env.integer("AUTHORIZATION_CODE_LIFETIME", 600, minimum=10, maximum=600),
            state_lifetime=env.integer("STATE_LIFETIME", 300, minimum=30, maximum=3600),
            cookie_secret=cookie_secret.encode() if cookie_secret else None,
            trusted_proxies=trusted_proxies,
            register_rate_per_minute=env.integer("REGISTER_RATE_PER_MINUTE", 60, minimum=0),
            token_rate_per_minute=env.integer("TOKEN_RATE_PER_MINUTE", 600, minimum=0),
            max_registrations_per_hour=env.integer("MAX_REGISTRATIONS_PER_HOUR", 10000, minimum=0),
            log_format=env.choice("LOG_FORMAT", "json", ("json", "text")),
            log_level=env.choice("LOG_LEVEL", "INFO", ("DEBUG", "INFO", "WARNING", "ERROR")),
            cimd=cimd,
            cors_allowed_origins=env.parsed("CORS_ALLOWED_ORIGINS", ("*",), parse_origins),
            refresh_reuse_grace_seconds=grace,
            gateway_name=(env.text("GATEWAY_NAME", "Authgate") or "Authgate")[:80],
            scope_descriptions=env.parsed(
                "SCOPE_DESCRIPTIONS", dict(DEFAULT_SCOPE_DESCRIPTIONS), _scope_descriptions
            ),
            login_providers=login.providers,
            oidc=login.oidc,
            oidc_access=login.oidc_access,
            policy=policy,
            warnings=tuple(warnings),
        )
        env.check()
        return settings


__all__ = ["CimdSettings", "ConfigError", "GithubSettings", "IssuerSettings", "is_loopback_host"]
