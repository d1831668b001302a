"""``authgate``: the operator's command line (``python -m authgate_issuer.admin``).

Reads the issuer's environment variables (REDIS_*, KEYS_DIR, token lifetimes) without needing
GitHub credentials. Exit codes: 0 done, 1 not found, 2 usage/configuration/input file,
3 Redis unavailable.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Mapping

from redis.exceptions import RedisError

from authgate_shared.config import ConfigError
from authgate_shared.redis.connection import create_redis

from . import backup, clients, grants, keys, purge, restore, tokens
from .common import REDIS_DOWN, USAGE, Admin, CommandError, Handler
from .settings import AdminSettings, load


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(
        prog="authgate",
        description="Authgate administration: clients, tokens, keys, maintenance, backups.",
        epilog="exit codes: 0 ok, 1 not found, 2 usage or configuration, 3 Redis unavailable",
    )
    commands = root.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module in (clients, grants, tokens, purge, backup, restore, keys):
        module.register(commands)
    return root


async def run(handler: Handler, args: argparse.Namespace, settings: AdminSettings) -> int:
    # A few connections: commands are sequential, pipelines carry the batching.
    redis = create_redis(settings.redis, max_connections=4)
    try:
        return await handler(args, Admin(settings=settings, redis=redis))
    finally:
        await redis.aclose()


def main(argv: list[str] | None = None, environ: Mapping[str, str] | None = None) -> None:
    """Run one command and exit with its code; ``environ`` replaces the process environment
    (tests run the CLI in-process with it)."""
    args = parser().parse_args(argv)
    try:
        settings = load(environ)
    except ConfigError as exc:
        print(f"authgate: {exc}", file=sys.stderr)
        raise SystemExit(USAGE) from None
    try:
        code = asyncio.run(run(args.handler, args, settings))
    except CommandError as exc:
        print(f"authgate: {exc}", file=sys.stderr)
        code = exc.code
    except (RedisError, ConnectionError, TimeoutError) as exc:
        where = settings.redis.redacted()
        print(f"authgate: Redis unavailable at {where}: {exc}", file=sys.stderr)
        code = REDIS_DOWN
    raise SystemExit(code)


if __name__ == "__main__":
    main()
