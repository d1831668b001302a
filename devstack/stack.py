"""What ``make run`` starts: the processes, their environments and their readiness checks."""

from __future__ import annotations

import os
import socket
import sys
from dataclasses import dataclass
from pathlib import Path

import httpx
import redis

from . import client_document
from .gateway import proxy_command
from .local_tls import write_local_tls
from .redis_bin import redis_command
from .supervisor import Child

# Fixed defaults (README, "Run it locally"); each can be changed with a flag or DEVSTACK_*_PORT.
DEFAULT_PORTS = {
    "gateway": 8080,
    "issuer": 8000,
    "verifier": 8090,
    "mcp": 8091,
    "github": 8070,
    "redis": 6390,
    "documents": 8443,  # the example client metadata document (devstack.client_document)
}


@dataclass(frozen=True)
class Plan:
    ports: dict[str, int]
    run_dir: Path
    proxy: str | None
    dev_login: bool

    def url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.ports[name]}"


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
    if not plan.dev_login:
        names.remove("github")
    busy = []
    for name in names:
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", plan.ports[name]))
            except OSError:
                busy.append(
                    f"port {plan.ports[name]} ({name}) is in use: choose another with"
                    f" DEVSTACK_{name.upper()}_PORT=<port> (or --{name}-port)"
                )
    return busy


def write_cli_env(plan: Plan) -> Path:
    """The CLI's settings for this stack: its Redis and keys (no secret: both are local)."""
    path = plan.run_dir / CLI_ENV_FILE
    keys = (plan.run_dir / "keys").resolve()
    path.write_text(
        "# Written by make run: what `authgate` uses from this checkout when nothing is set.\n"
        f"REDIS_URL=redis://127.0.0.1:{plan.ports['redis']}/0\nKEYS_DIR={keys}\n"
    )
    return path


def children(plan: Plan, redis_binary: str) -> list[Child]:
    redis_url = f"redis://127.0.0.1:{plan.ports['redis']}/0"
    keys_dir = plan.run_dir / "keys"
    keys_dir.mkdir(parents=True, exist_ok=True)
    keys_dir.chmod(0o700)
    common = {
        "REDIS_URL": redis_url,
        "ISSUER_URL": plan.url("issuer"),
        "LOG_FORMAT": "text",
        # The one service behind the gateway, for the issuer and the verifier alike (the load
        # tests add a second one for their wrong-service tokens).
        "ALLOWED_RESOURCES": os.environ.get("ALLOWED_RESOURCES", plan.url("gateway")),
    }
    issuer_env = {
        **common,
        "KEYS_DIR": str(keys_dir),
        # Dev default: whoever logs in through the stand-in; a real GitHub app should list people.
        "ALLOWED_GITHUB_USERS": os.environ.get("ALLOWED_GITHUB_USERS", "*"),
    }
    result = [
        Child(
            "redis",
            redis_command(redis_binary, plan.ports["redis"], plan.run_dir / "redis"),
            ready=lambda: redis_ready(redis_url),
            quiet=True,
        )
    ]
    if plan.dev_login:
        github = plan.url("github")
        issuer_env |= {
            "AUTHGATE_DEV_LOGIN": "true",
            "GITHUB_BASE_URL": github,
            "GITHUB_API_URL": github,
        }
        callback = ["--callback-url", plan.url("issuer") + "/callback"]
        result.append(python_service(plan, "github", "devstack.github_standin", {}, *callback))
        result[-1].ready = lambda: port_open(plan.ports["github"])
    # The example client id document over HTTPS from a local CA the issuer trusts, reachable on
    # loopback (allowed because ISSUER_URL is loopback): https://localhost:8443/client.json.
    tls = write_local_tls(plan.run_dir / "client-document-tls")
    issuer_env |= {"SSL_CERT_FILE": str(tls.bundle_file), "CIMD_ALLOW_PRIVATE_ADDRESSES": "true"}
    result += [
        client_document.child(plan.ports["documents"], tls),
        python_service(plan, "issuer", "authgate_issuer", issuer_env),
        python_service(plan, "verifier", "authgate_verifier", common),
        python_service(plan, "mcp", "devstack.demo_mcp", {}),
    ]
    if plan.proxy is not None:
        proxy_dir = (plan.run_dir / "proxy" / plan.proxy).resolve()
        proxy_dir.mkdir(parents=True, exist_ok=True)
        args, env = proxy_command(plan.proxy, plan.ports, proxy_dir)
        gateway = plan.url("gateway")
        result.append(
            Child(
                plan.proxy,
                args,
                env=env,
                ready=lambda: http_ready(gateway + "/.well-known/oauth-protected-resource"),
                quiet=True,
            )
        )
    return result
