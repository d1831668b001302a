"""The locust options of the load test; each is also a LOADTEST_* environment variable."""

from __future__ import annotations

import sys
from typing import Any

from loadtests import checks

DEFAULT_RATIOS = {
    checks.VALID: 0.85,
    checks.EXPIRED: 0.05,
    checks.REVOKED: 0.05,
    checks.WRONG_SERVICE: 0.05,
}


def add_options(parser: Any) -> None:
    """Add to locust's parser (configargparse: ``env_var`` makes each settable from the env)."""
    group = parser.add_argument_group("Authgate")
    text = [
        ("--issuer-url", "LOADTEST_ISSUER_URL", "http://127.0.0.1:8000", "issuer base URL"),
        ("--verifier-url", "LOADTEST_VERIFIER_URL", "http://127.0.0.1:8090",
         "verifier base URL (VerifierUser calls /verify with X-Forwarded-* headers)"),
        ("--proxy-url", "LOADTEST_PROXY_URL", "",
         "if set, VerifierUser goes through this proxy instead (it sets X-Forwarded-*)"),
        ("--proxy-path", "LOADTEST_PROXY_PATH", "/health", "path requested through the proxy"),
        ("--token-pool", "LOADTEST_TOKEN_POOL", "", "token pool JSON (python -m loadtests.pool)"),
    ]  # fmt: skip
    for flag, env, default, help_text in text:
        group.add_argument(flag, env_var=env, default=default, help=help_text)
    for kind, ratio in DEFAULT_RATIOS.items():
        name = kind.replace("_", "-")
        group.add_argument(
            f"--{name}-ratio",
            env_var=f"LOADTEST_{kind.upper()}_RATIO",
            type=float,
            default=ratio,
            help=f"share of VerifierUser calls with a {kind} token (default {ratio})",
        )
    group.add_argument("--flow-refreshes", env_var="LOADTEST_FLOW_REFRESHES", type=int, default=3,
                       help="refreshes per FlowUser login (then revoke)")  # fmt: skip
    group.add_argument("--wait-min", env_var="LOADTEST_WAIT_MIN", type=float, default=0.0,
                       help="seconds each user waits between tasks, at least")  # fmt: skip
    group.add_argument("--wait-max", env_var="LOADTEST_WAIT_MAX", type=float, default=0.2,
                       help="seconds each user waits between tasks, at most")  # fmt: skip


def weights(opts: Any, available: dict[str, bool]) -> dict[str, float]:
    """Token kinds to draw from and their weights; kinds missing from the pool are dropped
    (with a note on stderr), so a pool without expired tokens still runs."""
    chosen: dict[str, float] = {}
    for kind in checks.KINDS:
        ratio = float(getattr(opts, f"{kind}_ratio"))
        if ratio <= 0:
            continue
        if not available.get(kind):
            print(f"loadtests: no {kind} tokens in the pool; {kind} ratio ignored", file=sys.stderr)
            continue
        chosen[kind] = ratio
    if not chosen:
        raise RuntimeError("no token kind to send: check the ratios and the token pool")
    return chosen
