"""``authgate-issuer`` / ``python -m authgate_issuer``: run the issuer under uvicorn."""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

from authgate_shared.config import ConfigError
from authgate_shared.server import protocol as http_server

from .settings import IssuerSettings
from .web import logs

# Shared with the benchmark's bare FastAPI app, so both run under the same server settings.
UVICORN_OPTIONS: dict[str, Any] = {
    "proxy_headers": False,
    # httptools with the request head capped at 16 KiB (431 beyond): h11 caps it too but
    # cost about a third of the throughput of small requests.
    "http": http_server.PROTOCOL,
    "server_header": False,
    "access_log": False,
    "log_level": "warning",
    "timeout_graceful_shutdown": 20,
}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="authgate-issuer", description="Authgate OAuth 2.1 authorization server"
    )
    parser.add_argument("--host", default="0.0.0.0")  # noqa: S104 - a container's service port
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--workers", type=int, default=1)
    args = parser.parse_args(argv)
    try:
        settings = IssuerSettings.from_env(os.environ)
    except ConfigError as exc:
        print(f"authgate-issuer: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
    logs.configure(settings.log_format, settings.log_level)
    for warning in settings.warnings:
        logs.LOGGER.warning(warning)
    # uvicorn.run, with the head and keep-alive timeouts of the settings (HttpConfig carries
    # them to every worker).
    http_server.serve(
        "authgate_issuer.app:app_from_env",
        factory=True,
        limits=settings.http,
        host=args.host,
        port=args.port,
        workers=args.workers,
        **UVICORN_OPTIONS,
    )


if __name__ == "__main__":
    main()
