"""Logging set-up: JSON lines in production, text for humans. Never a line per allowed request;
no code path logs tokens or request headers."""

from __future__ import annotations

import logging
import sys
import time

import orjson

from .settings import VerifierSettings


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        fields = getattr(record, "fields", None)
        if isinstance(fields, dict):
            entry.update(fields)
        if record.exc_info and record.exc_info[0] is not None:
            entry["exception"] = record.exc_info[0].__name__
        return orjson.dumps(entry).decode()


def configure(fmt: str, level: str) -> None:
    handler = logging.StreamHandler(sys.stderr)
    if fmt == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)-7s %(name)s: %(message)s"))
    root = logging.getLogger("authgate")
    root.handlers[:] = [handler]
    root.setLevel(level)
    root.propagate = False


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
    }
