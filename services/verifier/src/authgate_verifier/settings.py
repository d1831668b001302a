"""The verifier's settings: one frozen dataclass built once from the environment.

Nothing else in the verifier reads ``os.environ``. Variables that mean the same thing as in the
issuer have the issuer's names. ``VerifierSettings.from_env`` collects every problem and raises
one ``ConfigError`` naming all of them.

Formats of the two per-service variables (hosts are matched case-insensitively):

* ``RESOURCE_PATH_PREFIXES``: comma-separated ``host[:port]/prefix`` entries, for MCP services
  that share a host, e.g. ``tools.example.com/github,tools.example.com/jira``.
* ``REQUIRED_SCOPES``: semicolon-separated ``target=scope scope ...`` entries where ``target`` is
  ``host[:port]`` or ``host[:port]/prefix`` (one resource) or ``*`` (every resource without an
  entry of its own), e.g. ``mcp-a.example.com=mcp:read mcp:write;*=mcp:*``.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from authgate_shared.claims import ALLOWED_ALGORITHMS, DEFAULT_SCOPE
from authgate_shared.config import ConfigError, EnvReader, parse_base_url, parse_origins
from authgate_shared.keys import MIN_HMAC_BYTES, load_public_pem, pem_text
from authgate_shared.policy import Policy
from authgate_shared.policy_file import policy_from_env
from authgate_shared.redis.connection import RedisSettings, redis_settings_from_env
from authgate_shared.server.limits import HttpLimits, http_limits_from_env
from authgate_shared.services import ServiceList, parse_services

# host[:port] as a proxy forwards it: DNS name, IPv4 or bracketed IPv6 (RFC 3986 §3.2.2).
HOST_RE = re.compile(
    r"^(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*|\[[0-9a-f:.]+\])(?::[0-9]{1,5})?$"
)
# A path prefix: absolute, no dot-segments, escapes, query or fragment (they would make the
# prefix match differ from the upstream's routing).
PREFIX_RE = re.compile(r"^(?:/[A-Za-z0-9_~!$&'()*+,;=:@-][A-Za-z0-9._~!$&'()*+,;=:@-]*)+$")


def _parse_prefixes(value: str) -> dict[str, tuple[str, ...]]:
    result: dict[str, list[str]] = {}
    for item in (i.strip() for i in value.split(",")):
        if not item:
            continue
        host, slash, path = item.partition("/")
        host, prefix = host.lower(), "/" + path.rstrip("/")
        if not slash or not HOST_RE.match(host) or not PREFIX_RE.match(prefix):
            raise ValueError(f"entry {item!r} is not host[:port]/prefix")
        result.setdefault(host, []).append(prefix)
    # Longest first, so /a/b wins over /a.
    return {h: tuple(sorted(set(p), key=len, reverse=True)) for h, p in result.items()}


# RFC 6749 §3.3 scope-token: NQCHAR, which also keeps it a plain quoted-string in a challenge.
SCOPE_TOKEN_RE = re.compile(r"^[\x21\x23-\x5b\x5d-\x7e]+$")


def _parse_scope(value: str) -> str:
    if not SCOPE_TOKEN_RE.match(value):
        raise ValueError(f"must be one scope token (RFC 6749 §3.3), got {value!r}")
    return value


def _parse_share(value: str) -> float:
    try:
        share = float(value)
    except ValueError:
        share = -1.0
    if not 0.0 < share <= 1.0:
        raise ValueError(f"must be a number above 0 and at most 1, got {value!r}")
    return share


def _parse_services(value: str) -> ServiceList:
    return parse_services(i.strip() for i in value.split(",") if i.strip())


def _parse_required_scopes(value: str) -> dict[str, frozenset[str]]:
    result: dict[str, frozenset[str]] = {}
    for item in (i.strip() for i in value.split(";")):
        if not item:
            continue
        target, eq, scopes_text = item.partition("=")
        target, scopes = target.strip().lower().rstrip("/"), frozenset(scopes_text.split())
        host, _, path = target.partition("/")
        valid_target = target == "*" or (
            HOST_RE.match(host) and (not path or PREFIX_RE.match("/" + path))
        )
        if not eq or not scopes or not valid_target:
            raise ValueError(f"entry {item!r} is not target=scope [scope ...]")
        result[target] = scopes
    return result


# RFC 9110 §5.6.2 token, and not one of the headers the verifier already sets.
_HEADER_NAME = re.compile(r"^[A-Za-z0-9!#$%&'*+.^_`|~-]+$")
_OWN_HEADERS = {"x-user-id", "x-user-name", "x-client-id", "x-scopes", "x-auth-token"}


def _parse_header_name(value: str) -> str:
    if not _HEADER_NAME.match(value) or value.lower() in _OWN_HEADERS | {"content-length"}:
        raise ValueError(f"must be a header name other than the verifier's others, got {value!r}")
    return value


def _policy_scopes(policy: Policy) -> dict[str, frozenset[str]]:
    result: dict[str, frozenset[str]] = {}
    for uri, service in policy.services.items():
        if service.scopes is not None:
            parts = urlsplit(uri)
            result[parts.netloc + parts.path] = service.scopes
    return result


@dataclass(frozen=True)
class TokenExchange:
    """The verifier as a confidential client of the issuer's RFC 8693 token exchange, for the
    services whose 200 carries the user's upstream token (upstream.py)."""

    url: str
    """TOKEN_EXCHANGE_URL: the issuer's /token as the verifier reaches it (internal network)."""
    client_id: str
    client_secret: str = field(repr=False)


def _token_exchange(env: EnvReader, policy: Policy | None) -> TokenExchange | None:
    """Read always (the configuration page lists them), required only when a service injects."""
    values = {
        "URL": env.text("TOKEN_EXCHANGE_URL"),
        "CLIENT_ID": env.text("TOKEN_EXCHANGE_CLIENT_ID"),
        "CLIENT_SECRET": env.raw("TOKEN_EXCHANGE_CLIENT_SECRET"),
    }
    injecting = [
        uri for uri, s in (policy.services if policy else {}).items() if s.inject_upstream_token
    ]
    if not injecting:
        return None
    for name, value in values.items():
        if not value:
            env.problems.append(
                f"TOKEN_EXCHANGE_{name} is required: POLICY_FILE injects upstream tokens for"
                f" {', '.join(injecting)}"
            )
    url = values["URL"] or ""
    try:
        url = parse_base_url(url) if url else ""
    except ValueError as exc:
        env.problems.append(f"TOKEN_EXCHANGE_URL {exc}")
    return TokenExchange(url, values["CLIENT_ID"] or "", values["CLIENT_SECRET"] or "")


def _forwarding_injectors(policy: Policy | None, forward_default: bool) -> list[str]:
    """Injecting services that would also get the client's token as X-Auth-Token."""
    services = policy.services.values() if policy else ()
    return [
        s.resource
        for s in services
        if s.inject_upstream_token
        and (s.forward_token or (s.forward_token is None and forward_default))
    ]


@dataclass(frozen=True)
class VerifierSettings:
    issuer_url: str
    redis: RedisSettings
    http: HttpLimits
    jwt_algorithm: str
    jwt_secret: bytes | None = field(repr=False)
    # GATEWAY_RSA_PUBLIC_KEY: the name is historical, with ES256 it holds an EC P-256 key.
    rsa_public_key_pem: bytes | None
    require_resource_tokens: bool
    services: ServiceList
    """ALLOWED_RESOURCES: the MCP services behind the gateway (optional here, see resources)."""
    bind_from_address: bool
    """RESOURCE_SOURCE=address: each route's auth address names its resource."""
    revocation_cache_ms: int
    required_scopes: Mapping[str, frozenset[str]]
    path_prefixes: Mapping[str, tuple[str, ...]]
    forward_token_header: bool
    key_reload_interval: int
    token_cache_size: int
    token_cache_ttl: int
    scopes_supported: tuple[str, ...]
    """SCOPES_SUPPORTED: listed in the PRM (plus the resource's required scopes)."""
    default_scope: str
    """DEFAULT_SCOPE (the issuer's value): the ``scope`` a 401 challenge asks for on a resource
    without REQUIRED_SCOPES, i.e. what the issuer grants a client that names none."""
    cors_allowed_origins: tuple[str, ...]
    """CORS_ALLOWED_ORIGINS: origins whose pages may read the 401/403 and the PRM; ``*`` = any."""
    log_format: str
    log_level: str
    log_decisions: str
    """LOG_DECISIONS: off, denied (one line per denial), tools (denials and tool calls judged by
    the policy, allowed ones sampled) or all (every allowed one sampled too)."""
    log_allowed_sample: float
    """LOG_DECISIONS_SAMPLE: the share of allowed decisions logged with LOG_DECISIONS=all."""
    policy: Policy | None = None
    """POLICY_FILE, parsed at start-up: per-service and per-tool rules (docs/access-control)."""
    groups_header: bytes = b"x-user-groups"
    """GROUPS_HEADER: the response header carrying the token's groups to the MCP server."""
    token_exchange: TokenExchange | None = None
    """TOKEN_EXCHANGE_*: set when a policy service has ``inject_upstream_token`` (else None)."""
    warnings: tuple[str, ...] = ()

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> VerifierSettings:
        env = EnvReader(environ)
        base_domain = env.text("BASE_DOMAIN")
        issuer_raw = env.text("ISSUER_URL") or (
            f"https://auth.{base_domain}" if base_domain else None
        )
        issuer_url = ""
        if issuer_raw is None:
            env.problems.append("ISSUER_URL (or BASE_DOMAIN) is required")
        else:
            try:
                issuer_url = parse_base_url(issuer_raw)
            except ValueError as exc:
                env.problems.append(f"ISSUER_URL {exc}")

        algorithm = env.choice("JWT_ALGORITHM", "RS256", ALLOWED_ALGORITHMS)
        secret_text = env.raw("GATEWAY_JWT_SECRET")
        secret = secret_text.encode() if secret_text else None
        if algorithm == "HS256" and (secret is None or len(secret) < MIN_HMAC_BYTES):
            env.problems.append(
                f"GATEWAY_JWT_SECRET of at least {MIN_HMAC_BYTES} bytes is required when JWT_ALGORITHM=HS256"
            )
        public_text = env.raw("GATEWAY_RSA_PUBLIC_KEY")
        public_pem = pem_text(public_text) if public_text else None
        if public_pem is not None and algorithm != "HS256":
            # A key of the other type could never verify a token: stop now rather than refuse
            # every request (RFC 8725 §3.1, one algorithm per key).
            try:
                load_public_pem(public_pem, algorithm)
            except ValueError as exc:
                env.problems.append(f"GATEWAY_RSA_PUBLIC_KEY {exc}")

        warnings: list[str] = []
        require_resource_tokens = env.flag("REQUIRE_RESOURCE_TOKENS", True)
        if not require_resource_tokens:
            warnings.append(
                "REQUIRE_RESOURCE_TOKENS=false: gateway-wide tokens (no resource) pass on every"
                " service, so any MCP server can replay a client's token against the others"
            )
        forward_token = env.flag("FORWARD_AUTH_TOKEN_HEADER", False)
        if forward_token:
            warnings.append(
                "FORWARD_AUTH_TOKEN_HEADER=true: every MCP server receives the client's bearer"
                " token as X-Auth-Token (token passthrough; the MCP authorization spec forbids"
                " servers to use it)"
            )
        source = env.choice("RESOURCE_SOURCE", "address", ("address", "forwarded-headers"))
        if source == "forwarded-headers":
            warnings.append(
                "RESOURCE_SOURCE=forwarded-headers: the resource is derived from X-Forwarded-Host"
                " and X-Forwarded-Uri; the proxy must pin X-Forwarded-Host per route"
            )

        services = env.parsed("ALLOWED_RESOURCES", ServiceList(frozenset()), _parse_services)
        no_scopes: dict[str, frozenset[str]] = {}
        required_scopes = env.parsed("REQUIRED_SCOPES", no_scopes, _parse_required_scopes)
        policy = policy_from_env(env, env.raw("POLICY_FILE"), services)
        if policy is not None:
            # The policy's scopes replace REQUIRED_SCOPES for its services (same target keys, so
            # the challenges and the PRM name them too).
            required_scopes = {**required_scopes, **_policy_scopes(policy)}
            if any(s.forward_token for s in policy.services.values()):
                warnings.append(
                    "POLICY_FILE: forward_token is true for a service: it receives the client's"
                    " bearer token as X-Auth-Token (token passthrough)"
                )
        groups_header = env.parsed("GROUPS_HEADER", "X-User-Groups", _parse_header_name)
        token_exchange = _token_exchange(env, policy)
        if token_exchange is not None:
            warnings.append(
                "POLICY_FILE: inject_upstream_token sends users' upstream tokens to MCP servers"
                " as Authorization: keep the network between the proxy and them private or TLS"
            )
        for uri in _forwarding_injectors(policy, forward_token):
            # The client's token must never reach a service that gets the upstream token
            # (MCP security best practices, "token passthrough").
            env.problems.append(
                f"FORWARD_AUTH_TOKEN_HEADER=true would send the client's token to {uri}, which"
                " injects the upstream token: set forward_token: false on it in POLICY_FILE"
            )
        settings = cls(
            issuer_url=issuer_url,
            redis=redis_settings_from_env(env),
            http=http_limits_from_env(env),
            jwt_algorithm=algorithm,
            jwt_secret=secret if algorithm == "HS256" else None,
            rsa_public_key_pem=public_pem if algorithm != "HS256" else None,
            require_resource_tokens=require_resource_tokens,
            services=services,
            bind_from_address=source == "address",
            revocation_cache_ms=env.integer("REVOCATION_CACHE_MS", 0, minimum=0, maximum=60000),
            required_scopes=required_scopes,
            path_prefixes=env.parsed("RESOURCE_PATH_PREFIXES", {}, _parse_prefixes),
            forward_token_header=forward_token,
            key_reload_interval=env.integer("KEY_RELOAD_INTERVAL", 60, minimum=1, maximum=86400),
            token_cache_size=env.integer("TOKEN_CACHE_SIZE", 10000, minimum=0, maximum=10**6),
            token_cache_ttl=env.integer("TOKEN_CACHE_TTL", 300, minimum=1, maximum=86400),
            scopes_supported=env.items("SCOPES_SUPPORTED", (DEFAULT_SCOPE,)),
            default_scope=env.parsed("DEFAULT_SCOPE", DEFAULT_SCOPE, _parse_scope),
            cors_allowed_origins=env.parsed("CORS_ALLOWED_ORIGINS", ("*",), parse_origins),
            log_format=env.choice("LOG_FORMAT", "json", ("json", "text")),
            log_level=env.choice("LOG_LEVEL", "INFO", ("DEBUG", "INFO", "WARNING", "ERROR")),
            log_decisions=env.choice("LOG_DECISIONS", "off", ("off", "denied", "tools", "all")),
            log_allowed_sample=env.parsed("LOG_DECISIONS_SAMPLE", 1.0, _parse_share),
            policy=policy,
            groups_header=groups_header.lower().encode("ascii"),
            token_exchange=token_exchange,
            warnings=tuple(warnings),
        )
        env.check()
        return settings

    @classmethod
    def from_process_env(cls) -> VerifierSettings:
        return cls.from_env(os.environ)


__all__ = ["ConfigError", "VerifierSettings"]
