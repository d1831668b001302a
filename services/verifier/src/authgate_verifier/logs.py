"""Logging set-up: JSON lines in production (``authgate_shared.logs``), text for humans. Never a
line per allowed request; no code path logs tokens or request headers."""

from __future__ import annotations

import logging

from authgate_shared.logs import JsonFormatter, install

from .settings import VerifierSettings


def configure(fmt: str, level: str) -> None:
    if fmt == "json":
        install(JsonFormatter(), level)
    else:
        install(logging.Formatter("%(asctime)s %(levelname)-7s %(name)s: %(message)s"), level)


def startup_fields(settings: VerifierSettings, *, keys_from_redis: bool) -> dict[str, object]:
    """What an operator needs to know about a starting verifier; never a secret (the Redis URL
    is redacted, keys are named by their source only)."""
    url = settings.redis.url
    topology = (
        "sentinel"
        if url.startswith("redis+sentinel")
        else "cluster"
        if url.startswith("redis+cluster") or settings.redis.cluster
        else "standalone"
    )
    return {
        "issuer": settings.issuer_url,
        "algorithm": settings.jwt_algorithm,
        "keys": "redis JWK Set" if keys_from_redis else "configured key",
        "redis": f"{topology} {settings.redis.redacted()}",
        "resource_source": "address" if settings.bind_from_address else "forwarded-headers",
        "services": len(settings.services.exact) + len(settings.services.wildcards),
        "require_resource_tokens": settings.require_resource_tokens,
        "forward_token": settings.forward_token_header,
        "token_cache": f"{settings.token_cache_size} entries, {settings.token_cache_ttl} s",
        "revocation_cache_ms": settings.revocation_cache_ms,
        "log_decisions": settings.log_decisions,
        # The policy file's size, never its content: services with rules, tool rules in all.
        "policy": _policy_summary(settings),
        # Where upstream tokens come from (never the exchanger's secret).
        "upstream_injection": _injection_summary(settings),
    }


def _injection_summary(settings: VerifierSettings) -> str:
    exchange, policy = settings.token_exchange, settings.policy
    if exchange is None or policy is None:
        return "off"
    count = sum(1 for s in policy.services.values() if s.inject_upstream_token)
    return f"{count} services, exchange at {exchange.url} as {exchange.client_id}"


def _policy_summary(settings: VerifierSettings) -> str:
    policy = settings.policy
    if policy is None:
        return "none"
    rules = sum(len(s.tools.rules) for s in policy.services.values() if s.tools is not None)
    return f"{len(policy.services)} services, {rules} tool rules"
