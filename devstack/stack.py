"""What ``make run`` starts: the processes, their environments and their readiness checks."""

from __future__ import annotations

import os
import socket
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import redis

from . import client_document, oidc_idp
from .gateway import proxy_command
from .local_tls import write_local_tls
from .redis_bin import redis_command
from .supervisor import Child
from .upstream_demo import (
    EXCHANGE_PATH,
    INJECTED_PATH,
    exchanger,
    private_file,
    upstream_token_keys,
    write_policy,
)

# Fixed defaults (README, "Run it locally"); each can be changed with a flag or DEVSTACK_*_PORT.
DEFAULT_PORTS = {
    "gateway": 8080,
    "issuer": 8000,
    "verifier": 8090,
    "mcp": 8091,
    "github": 8070,
    "oidc": 8071,  # the local OpenID Provider of --idp oidc (devstack.oidc_idp)
    "redis": 6390,
    "documents": 8443,  # the example client metadata document (devstack.client_document)
    "github_tools": 8092,  # the GitHub tools demo, token exchange (devstack.demo_github_mcp)
    "github_injected": 8093,  # the same, with the upstream token the verifier injects
}


@dataclass(frozen=True)
class Plan:
    ports: dict[str, int]
    run_dir: Path
    proxy: str | None
    dev_login: bool
    idp: str = "github"
    """Who signs users in: ``github`` (the stand-in, or real GitHub with GITHUB_CLIENT_ID) or
    ``oidc`` (the local OpenID Provider)."""

    def url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.ports[name]}"

    @property
    def github_standin(self) -> bool:
        return self.idp == "github" and self.dev_login

    @property
    def github_tools(self) -> bool:
        """The GitHub tools demo services run (they need GitHub logins: not with --idp oidc;
        behind the proxy; an ALLOWED_RESOURCES of the caller's own replaces the demo's
        services)."""
        return (
            self.idp == "github"
            and self.proxy is not None
            and "ALLOWED_RESOURCES" not in os.environ
        )

    def resources(self) -> list[str]:
        gateway = self.url("gateway")
        if not self.github_tools:
            return [os.environ.get("ALLOWED_RESOURCES", gateway)]
        return [gateway, gateway + EXCHANGE_PATH, gateway + INJECTED_PATH]


def http_ready(url: str) -> bool:
    try:
        return httpx.get(url, timeout=1.0).status_code == 200
    except httpx.HTTPError:
        return False


def port_open(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
        return True
    except OSError:
        return False


def redis_ready(url: str) -> bool:
    client = redis.Redis.from_url(url, socket_connect_timeout=0.5)
    try:
        return bool(client.ping())
    except redis.RedisError:
        return False
    finally:
        client.close()


def python_service(plan: Plan, name: str, module: str, env: dict[str, str], *extra: str) -> Child:
    """``python -m module`` on its loopback port, ready when ``/health`` answers 200."""
    port = str(plan.ports[name])
    args = [sys.executable, "-m", module, "--host", "127.0.0.1", "--port", port, *extra]
    return Child(name, args, env=env, ready=lambda: http_ready(plan.url(name) + "/health"))


# Where ``make run`` records its Redis and keys for the ``authgate`` CLI run from the checkout
# (read by authgate_issuer.admin.settings when nothing else is configured).
CLI_ENV_FILE = "authgate.env"


def busy_ports(plan: Plan) -> list[str]:
    """One message per port another program holds, naming the setting that moves it."""
    names = [n for n in plan.ports if n != "gateway" or plan.proxy is not None]
    if not plan.github_standin:
        names.remove("github")
    if plan.idp != "oidc":
        names.remove("oidc")
    if not plan.github_tools:
        names = [n for n in names if n not in ("github_tools", "github_injected")]
    busy = []
    for name in names:
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", plan.ports[name]))
            except OSError:
                busy.append(
                    f"port {plan.ports[name]} ({name}) is in use: choose another with"
                    f" DEVSTACK_{name.upper()}_PORT=<port> (or {port_flag(name)})"
                )
    return busy


def port_flag(name: str) -> str:
    return f"--{name.replace('_', '-')}-port"


def write_cli_env(plan: Plan) -> Path:
    """The CLI's settings for this stack: its Redis and keys, and the sealing keys of the users'
    GitHub tokens (so `authgate grants list` shows their status); owner-only."""
    path = plan.run_dir / CLI_ENV_FILE
    keys = (plan.run_dir / "keys").resolve()
    sealing = upstream_token_keys(plan.run_dir)
    private_file(
        path,
        "# Written by make run: what `authgate` uses from this checkout when nothing is set.\n"
        f"REDIS_URL=redis://127.0.0.1:{plan.ports['redis']}/0\nKEYS_DIR={keys}\n"
        f"UPSTREAM_TOKEN_KEYS={sealing}\n",
    )
    return path


def github_tools(
    plan: Plan, cli_env: dict[str, str], github_api: str
) -> tuple[dict[str, str], list[Child]]:
    """The verifier's TOKEN_EXCHANGE_* and the two GitHub tools demo servers, each with its own
    exchanger client (made now: the issuer's Redis is up)."""
    token_url = plan.url("issuer") + "/token"
    gateway = plan.url("gateway")
    injecting = exchanger(plan.run_dir, "verifier", gateway + INJECTED_PATH, cli_env)
    verifier_env = {
        "TOKEN_EXCHANGE_URL": token_url,
        "TOKEN_EXCHANGE_CLIENT_ID": injecting.client_id,
        "TOKEN_EXCHANGE_CLIENT_SECRET": injecting.client_secret,
    }
    tools = exchanger(plan.run_dir, "GitHub tools", gateway + EXCHANGE_PATH, cli_env)
    tools_env = {
        "DEMO_GITHUB_CLIENT_ID": tools.client_id,
        "DEMO_GITHUB_CLIENT_SECRET": tools.client_secret,
    }
    module, api = "devstack.demo_github_mcp", ["--github-api-url", github_api]
    return verifier_env, [
        python_service(plan, "github_tools", module, tools_env, *api, "--token-url", token_url),
        python_service(plan, "github_injected", module, {}, *api, "--injected"),
    ]


def children(plan: Plan, redis_binary: str) -> Iterator[Child]:
    """Each child in start order; the caller starts one (and waits until it is ready) before
    asking for the next, so the exchanger clients are made once the issuer's Redis is up."""
    redis_url = f"redis://127.0.0.1:{plan.ports['redis']}/0"
    keys_dir = plan.run_dir / "keys"
    keys_dir.mkdir(parents=True, exist_ok=True)
    keys_dir.chmod(0o700)
    common = {
        "REDIS_URL": redis_url,
        "ISSUER_URL": plan.url("issuer"),
        "LOG_FORMAT": "text",
        # The services behind the gateway, for the issuer and the verifier alike (the load
        # tests set their own, with a second one for their wrong-service tokens).
        "ALLOWED_RESOURCES": ",".join(plan.resources()),
    }
    if plan.github_tools:
        common["POLICY_FILE"] = str(write_policy(plan.run_dir, plan.url("gateway")).resolve())
    issuer_env = {
        **common,
        "KEYS_DIR": str(keys_dir),
        # The issuer keeps each user's GitHub token (sealed) for token exchange and injection.
        "UPSTREAM_TOKEN_KEYS": upstream_token_keys(plan.run_dir),
    }
    if plan.idp == "github":
        # Dev default: whoever logs in through the stand-in; a real GitHub app should list people.
        issuer_env["ALLOWED_GITHUB_USERS"] = os.environ.get("ALLOWED_GITHUB_USERS", "*")
    yield Child(
        "redis",
        redis_command(redis_binary, plan.ports["redis"], plan.run_dir / "redis"),
        ready=lambda: redis_ready(redis_url),
        quiet=True,
    )
    github_api = os.environ.get("GITHUB_API_URL", "https://api.github.com")
    if plan.idp == "oidc":
        provider, op = oidc_idp.provider_child(
            plan.ports["oidc"], plan.run_dir, plan.url("issuer") + "/callback"
        )
        op.ready = lambda: http_ready(provider.issuer + oidc_idp.HEALTH_PATH)
        issuer_env |= provider.issuer_env()
        yield op
    if plan.github_standin:
        github_api = github = plan.url("github")
        issuer_env |= {
            "AUTHGATE_DEV_LOGIN": "true",
            "GITHUB_BASE_URL": github,
            "GITHUB_API_URL": github,
        }
        callback = ["--callback-url", plan.url("issuer") + "/callback"]
        standin = python_service(plan, "github", "devstack.github_standin", {}, *callback)
        standin.ready = lambda: port_open(plan.ports["github"])
        yield standin
    # The example client id document over HTTPS from a local CA the issuer trusts, reachable on
    # loopback (allowed because ISSUER_URL is loopback): https://localhost:8443/client.json.
    tls = write_local_tls(plan.run_dir / "client-document-tls")
    issuer_env |= {"SSL_CERT_FILE": str(tls.bundle_file), "CIMD_ALLOW_PRIVATE_ADDRESSES": "true"}
    yield client_document.child(plan.ports["documents"], tls)
    yield python_service(plan, "issuer", "authgate_issuer", issuer_env)
    verifier_env, demos = dict(common), list[Child]()
    if plan.github_tools:
        cli_env = {"REDIS_URL": redis_url, "KEYS_DIR": str(keys_dir)}
        exchange_env, demos = github_tools(plan, cli_env, github_api)
        verifier_env |= exchange_env
    yield python_service(plan, "verifier", "authgate_verifier", verifier_env)
    yield python_service(plan, "mcp", "devstack.demo_mcp", {})
    yield from demos
    if plan.proxy is not None:
        proxy_dir = (plan.run_dir / "proxy" / plan.proxy).resolve()
        proxy_dir.mkdir(parents=True, exist_ok=True)
        args, env = proxy_command(plan.proxy, plan.ports, proxy_dir, github_tools=plan.github_tools)
        gateway = plan.url("gateway")
        yield Child(
            plan.proxy,
            args,
            env=env,
            ready=lambda: http_ready(gateway + "/.well-known/oauth-protected-resource"),
            quiet=True,
        )
