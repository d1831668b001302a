"""``make loadtest`` / ``python -m loadtests.run``: a headless locust run against a fresh stack.

Starts a ``make run`` stack on free ports (loadtests.stack), mints the token pool through the
dev login (loadtests.pool), runs locust headless with every user class, writes locust's CSV and
HTML report to loadtests/reports/<timestamp>/ and prints a summary table. Exit status 1 when any
answer was wrong. Arguments after ``--`` go to locust unchanged.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

from .checks import EXPIRED, REVOKED, VALID, WRONG_SERVICE
from .pool import PoolSpec, mint_pool
from .stack import OTHER_RESOURCE, RunningStack, running
from .summary import failure_count, summary

ROOT = Path(__file__).resolve().parent.parent


def parse_args(argv: list[str] | None) -> tuple[argparse.Namespace, list[str]]:
    parser = argparse.ArgumentParser(prog="python -m loadtests.run", description=__doc__)
    parser.add_argument("--duration", type=int, default=60, help="seconds (default 60)")
    parser.add_argument("--users", type=int, default=50, help="simulated users (default 50)")
    parser.add_argument("--spawn-rate", type=float, default=10, help="users started per second")
    parser.add_argument("--pool", type=int, default=12, help="valid tokens in the pool")
    parser.add_argument("--through-proxy", action="store_true",
                        help="VerifierUser calls the gateway (Caddy/nginx) instead of /verify")  # fmt: skip
    parser.add_argument("--reports", type=Path, default=ROOT / "loadtests" / "reports")
    parser.add_argument("users_classes", nargs="*", metavar="CLASS",
                        help="user classes to run (default: all)")  # fmt: skip
    argv = sys.argv[1:] if argv is None else argv
    extra = argv[argv.index("--") + 1 :] if "--" in argv else []
    own = argv[: argv.index("--")] if "--" in argv else argv
    return parser.parse_args(own), extra


def locust_command(args: argparse.Namespace, prefix: Path, extra: list[str]) -> list[str]:
    return [
        sys.executable, "-m", "locust", "-f", str(ROOT / "loadtests" / "locustfile.py"),
        "--headless", "-u", str(args.users), "-r", str(args.spawn_rate),
        "-t", f"{args.duration}s", "--stop-timeout", "10", "--csv", str(prefix),
        "--html", f"{prefix}.html", "--only-summary", "--loglevel", "WARNING",
        *extra, *args.users_classes,
    ]  # fmt: skip


def locust_env(stack: RunningStack, pool_path: Path, proxied: bool) -> dict[str, str]:
    env = {
        "LOADTEST_ISSUER_URL": stack.issuer_url,
        "LOADTEST_VERIFIER_URL": stack.verifier_url,
        "LOADTEST_TOKEN_POOL": str(pool_path),
    }
    if proxied and stack.gateway_url:
        env["LOADTEST_PROXY_URL"] = stack.gateway_url
    return env


def main(argv: list[str] | None = None) -> int:
    args, extra = parse_args(argv)
    out = args.reports / time.strftime("%Y%m%d-%H%M%S")
    out.mkdir(parents=True, exist_ok=True)
    print(f"loadtests: starting the stack (logs: {out / 'stack' / 'stack.log'})", flush=True)
    with running(out / "stack", proxy=args.through_proxy) as stack:
        counts = {VALID: args.pool, EXPIRED: max(2, args.pool // 4)}
        counts |= {REVOKED: max(2, args.pool // 4), WRONG_SERVICE: max(2, args.pool // 4)}
        print(f"loadtests: minting {sum(counts.values())} tokens through the dev login", flush=True)
        spec = PoolSpec(stack.issuer_url, stack.resource, OTHER_RESOURCE, counts,
                        short_lived_issuer_url=stack.short_lived_issuer_url)  # fmt: skip
        pool_path = out / "pool.json"
        mint_pool(spec).save(pool_path)
        pool_path.chmod(0o600)  # live bearer tokens
        prefix = out / "locust"
        print(f"loadtests: locust, {args.users} users for {args.duration} s", flush=True)
        env = {**os.environ, **locust_env(stack, pool_path, args.through_proxy)}
        subprocess.run(locust_command(args, prefix, extra), env=env, cwd=ROOT, check=False,
                       timeout=args.duration + 120)  # fmt: skip
    lines = summary(prefix)
    (out / "summary.txt").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    print(f"\nreport: {prefix}.html  CSV: {prefix}_*.csv")
    return 1 if failure_count(prefix) else 0


if __name__ == "__main__":
    raise SystemExit(main())
