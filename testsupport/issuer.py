"""Issuer configuration and processes for tests."""

from __future__ import annotations

from pathlib import Path

from .service import ServiceProcess, python_module

ISSUER_URL = "http://127.0.0.1:9"  # replaced by the real port when run as a process


def issuer_env(redis_url: str, keys_dir: Path, **overrides: str) -> dict[str, str]:
    """A complete, valid environment for the issuer pointing at a private Redis."""
    env = {
        "ISSUER_URL": "https://auth.example.com",
        "BASE_DOMAIN": "example.com",
        # An explicit wildcard: the tests' services are mcp-a/mcp-b/... on example.com.
        "ALLOWED_RESOURCES": "https://*.example.com",
        "REDIS_URL": redis_url,
        "KEYS_DIR": str(keys_dir),
        "GITHUB_CLIENT_ID": "gh-client-id",
        "GITHUB_CLIENT_SECRET": "gh-client-secret",
        "GITHUB_BASE_URL": "http://127.0.0.1:9",
        "GITHUB_API_URL": "http://127.0.0.1:9",
        "ALLOWED_GITHUB_USERS": "octocat",
        "LOG_FORMAT": "json",
        "LOG_LEVEL": "INFO",
    }
    env.update(overrides)
    return env


def start_issuer(
    env: dict[str, str],
    log_dir: Path,
    *,
    port: int | None = None,
    workers: int = 1,
    issuer_url_from_port: bool = False,
) -> ServiceProcess:
    """Start ``python -m authgate_issuer`` and wait until it answers /health."""
    proc = ServiceProcess(
        python_module(
            "authgate_issuer", "--host", "127.0.0.1", "--port", "{port}", "--workers", str(workers)
        ),
        env,
        log_dir / "issuer.log",
        port=port,
    )
    if issuer_url_from_port:
        proc.env["ISSUER_URL"] = proc.url
    return proc.start()
