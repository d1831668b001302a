"""``make run`` (``python -m devstack``) as a user runs it: it starts, prints the URLs and the
line to try, that line answers 401 with the verifier's challenge, and Ctrl-C stops everything.
Traefik, running the shipped ``deploy/traefik/dynamic.yml``, is the default gateway; nginx and
Caddy are chosen with ``--proxy`` / ``DEVSTACK_PROXY``."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from devstack.gateway import proxy_command
from testsupport.devstack_run import DevstackRun
from testsupport.proxies import SHIPPED

ROOT = Path(__file__).resolve().parents[1]


def admin_cli(run: DevstackRun, cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """``authgate ARGS`` from ``cwd`` with no Redis or key settings in its environment."""
    env = {k: v for k, v in run.env.items() if not k.startswith(("REDIS_", "KEYS_DIR"))}
    return subprocess.run(
        [sys.executable, "-m", "authgate_issuer.admin", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def assert_browser_clients_served(gateway: str, issuer_port: int) -> None:
    """What MCP Inspector and 2025-03-26 clients need of the gateway: the issuer's own RFC 8414
    document on the MCP host, and a 401 a page of another origin can read."""
    issuer = httpx.get(
        f"http://127.0.0.1:{issuer_port}/.well-known/oauth-authorization-server", timeout=10
    )
    on_mcp_host = httpx.get(gateway + "/.well-known/oauth-authorization-server", timeout=10)
    assert on_mcp_host.status_code == 200
    assert on_mcp_host.content == issuer.content
    refused = httpx.get(gateway + "/mcp", headers={"Origin": "http://localhost:6274"}, timeout=10)
    assert refused.status_code == 401
    assert refused.headers["access-control-allow-origin"] == "*"
    assert "WWW-Authenticate" in refused.headers["access-control-expose-headers"]


def test_make_run_starts_everything_and_stops_on_ctrl_c(tmp_path: Path) -> None:
    run = DevstackRun.on_free_ports(tmp_path / ".run")
    ports, run_dir = run.ports, run.run_dir
    with run.started() as process:
        lines = run.lines
        gateway = f"http://127.0.0.1:{ports['gateway']}/mcp"
        shown = [line for line in lines if line.startswith("devstack")]
        assert any(line.endswith(f"  curl -i {gateway}") for line in shown), shown
        assert any(line.endswith(f"MCP server (traefik): {gateway}") for line in shown), shown
        tools = f"http://127.0.0.1:{ports['gateway']}/github/mcp  (tool github_whoami)"
        assert any(line.endswith(f"GitHub tools (token exchange):  {tools}") for line in shown)
        assert any(line.startswith("issuer   | ") for line in lines)
        response = httpx.get(gateway, timeout=10)
        assert response.status_code == 401
        metadata = f"http://127.0.0.1:{ports['gateway']}/.well-known/oauth-protected-resource"
        assert response.headers["www-authenticate"] == (
            f'Bearer resource_metadata="{metadata}", scope="mcp:*"'
        )
        assert httpx.get(metadata, timeout=10).json()["authorization_servers"] == [
            f"http://127.0.0.1:{ports['issuer']}"
        ]
        assert_browser_clients_served(f"http://127.0.0.1:{ports['gateway']}", ports["issuer"])
        assert (run_dir / "redis" / "appendonlydir").is_dir()
        # Redis's and the proxy's own output goes to their log files, not the terminal.
        assert not any(line.startswith(("redis ", "traefik ")) for line in lines), lines
        assert (run_dir / "logs" / "redis.log").read_text()
        # The admin CLI, run from the checkout with nothing exported, finds this stack.
        listed = admin_cli(run, tmp_path, "tokens", "stats")
        assert listed.returncode == 0, listed.stderr
        keys = admin_cli(run, tmp_path, "keys", "list")
        assert keys.returncode == 0 and " current " in keys.stdout, keys
        process.send_signal(signal.SIGINT)
        rest, _ = process.communicate(timeout=30)
        assert process.returncode == 0, rest
        assert "SIGINT: stopping everything" in rest
        for port in ports.values():
            try:
                httpx.get(f"http://127.0.0.1:{port}/", timeout=1)
                raise AssertionError(f"something still listens on {port}")
            except httpx.TransportError:
                pass


def test_make_run_names_the_variable_of_a_busy_port_and_starts_nothing(tmp_path: Path) -> None:
    run = DevstackRun.on_free_ports(tmp_path / ".run")
    ports = run.ports
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", ports["gateway"]))
        taken.listen()
        done = subprocess.run(
            run.command,
            cwd=ROOT,
            env=run.env,
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert done.returncode == 1
    assert f"port {ports['gateway']} (gateway) is in use" in done.stdout
    assert "DEVSTACK_GATEWAY_PORT" in done.stdout
    assert not (tmp_path / ".run").exists()


def test_make_run_runs_the_shipped_traefik_file_itself(tmp_path: Path) -> None:
    """Not a copy: the file the docs ship, its hosts and resource given as its template values."""
    ports = {"gateway": 8080, "verifier": 8090, "mcp": 8091, "issuer": 8000}
    args, env = proxy_command("traefik", ports, tmp_path)
    assert f"--providers.file.filename={SHIPPED['traefik']}" in args
    assert not list(tmp_path.iterdir())
    assert env["MCP_A_HOST"] == "127.0.0.1"
    assert env["MCP_A_RESOURCE"] == "http://127.0.0.1:8080"
    assert env["VERIFIER"] == "127.0.0.1:8090" and env["MCP_A_UPSTREAM"] == "127.0.0.1:8091"


def test_make_run_links_the_shipped_traefik_file_beside_the_github_tools_routes(
    tmp_path: Path,
) -> None:
    """With the GitHub tools demos Traefik reads a directory: the shipped file (a link, not a
    copy) and the demos' routes, each ForwardAuth binding its own resource."""
    ports = {"gateway": 8080, "verifier": 8090, "mcp": 8091, "issuer": 8000}
    ports |= {"github_tools": 8092, "github_injected": 8093}
    args, _ = proxy_command("traefik", ports, tmp_path, github_tools=True)
    dynamic = tmp_path / "dynamic"
    assert f"--providers.file.directory={dynamic}" in args
    assert not any(a.startswith("--providers.file.filename=") for a in args)
    assert (dynamic / "authgate.yml").resolve() == SHIPPED["traefik"].resolve()
    routes = json.loads((dynamic / "demo-github.yml").read_text())["http"]
    auth = routes["middlewares"]
    assert auth["auth-demo-github"]["forwardAuth"]["address"] == (
        "http://127.0.0.1:8090/verify?resource=http%3A%2F%2F127.0.0.1%3A8080%2Fgithub"
    )
    injected = auth["auth-demo-github-injected"]["forwardAuth"]
    assert injected["address"].endswith("%2Fgithub-injected")
    # Only the injecting route lets the verifier's Authorization replace the client's.
    assert "Authorization" in injected["authResponseHeaders"]
    assert "Authorization" not in auth["auth-demo-github"]["forwardAuth"]["authResponseHeaders"]
    assert routes["services"]["demo-github"]["loadBalancer"]["servers"] == [
        {"url": "http://127.0.0.1:8092"}
    ]


@pytest.mark.parametrize("proxy", ["nginx", "caddy"])
def test_make_run_with_nginx_or_caddy(tmp_path: Path, proxy: str) -> None:
    run = DevstackRun.on_free_ports(tmp_path / ".run", proxy=proxy)
    with run.started():
        gateway = f"http://127.0.0.1:{run.ports['gateway']}"
        assert any(line.endswith(f"MCP server ({proxy}): {gateway}/mcp") for line in run.lines)
        response = httpx.get(gateway + "/mcp", timeout=10)
        assert response.status_code == 401
        metadata = gateway + "/.well-known/oauth-protected-resource"
        assert response.headers["www-authenticate"] == (
            f'Bearer resource_metadata="{metadata}", scope="mcp:*"'
        )
        assert httpx.get(metadata, timeout=10).json()["resource"] == gateway
        assert_browser_clients_served(gateway, run.ports["issuer"])
