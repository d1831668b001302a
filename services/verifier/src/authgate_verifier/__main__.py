"""``authgate-verifier`` / ``python -m authgate_verifier``: run the verifier under uvicorn.

Defaults: in a container (``/.dockerenv`` or ``/run/.containerenv`` present) ``0.0.0.0:8000``,
the port Traefik's ForwardAuth address names; elsewhere ``127.0.0.1:8001``, so a local verifier
does not collide with a local issuer on 8000.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from authgate_shared.config import ConfigError
from authgate_shared.server import protocol as http_server

from . import logs
from .settings import VerifierSettings

# The uvicorn settings the benchmark's bare ASGI app runs with too (same server, same costs).
UVICORN_OPTIONS: dict[str, object] = {
    "loop": "uvloop",
    # httptools, with the request head capped (an endless header must not grow memory).
    "http": http_server.PROTOCOL,
    # The verifier reads X-Forwarded-* itself; uvicorn's middleware would cost ~11% for nothing.
    "proxy_headers": False,
    "server_header": False,
    "access_log": False,
    "log_level": "warning",
    "timeout_graceful_shutdown": 10,
}


def in_container() -> bool:
    return Path("/.dockerenv").exists() or Path("/run/.containerenv").exists()


def main(argv: list[str] | None = None) -> None:
    container = in_container()
    parser = argparse.ArgumentParser(
        prog="authgate-verifier", description="Authgate ForwardAuth verifier"
    )
    parser.add_argument("--host", default="0.0.0.0" if container else "127.0.0.1")  # noqa: S104
    parser.add_argument("--port", type=int, default=8000 if container else 8001)
    parser.add_argument("--workers", type=int, default=1)
    args = parser.parse_args(argv)
    try:
        settings = VerifierSettings.from_process_env()
    except ConfigError as exc:
        print(f"authgate-verifier: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
    logs.configure(settings.log_format, settings.log_level)
    # uvicorn.run, with the head and keep-alive timeouts of the settings (HttpConfig carries
    # them to every worker).
    http_server.serve(
        "authgate_verifier.app:app_from_env",
        factory=True,
        limits=settings.http,
        host=args.host,
        port=args.port,
        workers=args.workers,
        **UVICORN_OPTIONS,
    )


if __name__ == "__main__":
    main()
