"""nginx (``auth_request``) and Caddy (``forward_auth``) in front of the verifier, as processes.

The configs are the team's proven nginx and Caddy configs (shared notes on reverse proxies),
extended to the whole identity-header contract; the README's snippets are these, and ``make run`` uses them too, so what
a user copies is what the end-to-end tests prove. Every identity header the verifier can send is
removed from the client's request before auth and only the verifier's copy reaches the upstream.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from .ports import free_port, wait_port

IDENTITY_HEADERS = ("X-User-Id", "X-User-Name", "X-Auth-Token", "X-Client-Id", "X-Scopes")
PRM_PATH = "/.well-known/oauth-protected-resource"
PROXIES = ("nginx", "caddy")
VERIFIER_POOL = "authgate_verifiers"


@dataclass(frozen=True)
class Routes:
    """Where the proxy listens and what it forwards to (``host:port`` each)."""

    listen: str
    verifier: str
    upstream: str
    verifiers: tuple[str, ...] = ()
    """Several verifier replicas, balanced round-robin; ``verifier`` is then the name of
    nginx's ``upstream`` block (``VERIFIER_POOL``)."""


def _var(header: str) -> str:
    return "$auth_" + header.lower().replace("-", "_")


def nginx_server_block(routes: Routes) -> str:
    """The ``server {}`` that users copy (README): auth_request plus the MCP PRM route."""
    identity = "\n".join(
        f"      auth_request_set {_var(h)} $upstream_http_{h.lower().replace('-', '_')};\n"
        f"      proxy_set_header {h} {_var(h)};"
        for h in IDENTITY_HEADERS
    )
    return f"""  server {{
    listen {routes.listen};
    # RFC 9728 metadata of this MCP host: unauthenticated, answered by the verifier.
    location {PRM_PATH} {{
      proxy_pass http://{routes.verifier};
      proxy_set_header X-Forwarded-Proto $scheme;
      proxy_set_header X-Forwarded-Host  $http_host;
    }}
    location = /_forward_auth {{
      internal;
      proxy_pass http://{routes.verifier}/verify;
      proxy_pass_request_body off;
      proxy_set_header Content-Length "";
      proxy_set_header X-Forwarded-Method $request_method;
      proxy_set_header X-Forwarded-Proto  $scheme;
      proxy_set_header X-Forwarded-Host   $http_host;
      proxy_set_header X-Forwarded-Uri    $request_uri;
      proxy_set_header X-Forwarded-For    $remote_addr;
    }}
    location / {{
      auth_request /_forward_auth;
      # Each identity header is set from the verifier's answer; an empty value drops the header,
      # so a client-sent copy never reaches the upstream.
{identity}
      # nginx copies WWW-Authenticate from the verifier only on 401: keep the 403 step-up
      # challenge, and turn a verifier error (nginx's 500) into a retryable 503.
      auth_request_set $auth_www $upstream_http_www_authenticate;
      error_page 403 = @forbidden;
      error_page 500 = @unavailable;
      proxy_pass http://{routes.upstream};
      proxy_set_header Host $http_host;
      proxy_set_header X-Forwarded-Proto $scheme;
      proxy_set_header X-Forwarded-Host  $http_host;
      proxy_http_version 1.1;           # streamable HTTP / SSE
      proxy_set_header Connection "";
      proxy_buffering off;
      proxy_read_timeout 1h;
    }}
    location @forbidden {{
      add_header WWW-Authenticate $auth_www always;
      return 403;
    }}
    location @unavailable {{
      add_header Retry-After 2 always;
      return 503;
    }}
  }}"""


def nginx_upstream(routes: Routes) -> str:
    """The ``upstream`` block of a verifier pool (round-robin, nginx's default); "" for one."""
    if not routes.verifiers:
        return ""
    servers = "".join(f"    server {address};\n" for address in routes.verifiers)
    return f"  upstream {routes.verifier} {{\n{servers}  }}\n"


def nginx_conf(routes: Routes) -> str:
    """A complete nginx.conf for a prefix directory (``nginx -p DIR/ -c nginx.conf``)."""
    return f"""daemon off;
worker_processes 1;
pid nginx.pid;
error_log error.log info;
events {{ worker_connections 256; }}
http {{
  access_log access.log;
  client_body_temp_path tmp/body; proxy_temp_path tmp/proxy;
  fastcgi_temp_path tmp/fcgi; uwsgi_temp_path tmp/uwsgi; scgi_temp_path tmp/scgi;
{nginx_upstream(routes)}{nginx_server_block(routes)}
}}
"""


def caddy_site(routes: Routes) -> str:
    """The site block users copy (README). ``http://:port`` answers for every Host."""
    port = routes.listen.rsplit(":", 1)[1]
    verifier = " ".join(routes.verifiers) or routes.verifier
    balance = "\n\t\t\tlb_policy round_robin" if routes.verifiers else ""
    strip = "\n".join(f"\t\trequest_header -{h}" for h in IDENTITY_HEADERS)
    placeholders = "\n".join(
        f"\t\t@unset_{i} header_regexp {h} ^\\{{http\\.reverse_proxy\\.header\\.\n"
        f"\t\trequest_header @unset_{i} -{h}"
        for i, h in enumerate(IDENTITY_HEADERS)
    )
    return f"""http://:{port} {{
	bind {routes.listen.rsplit(":", 1)[0]}
	# route keeps this literal order; outside it Caddy sorts request_header after forward_auth
	# and would delete the copied identity headers.
	route {{
		# RFC 9728 metadata of this MCP host: unauthenticated, answered by the verifier.
		reverse_proxy {PRM_PATH}* {verifier}
		# Client-supplied identity headers never reach the upstream.
{strip}
		forward_auth {verifier} {{
			uri /verify{balance}
			copy_headers {" ".join(IDENTITY_HEADERS)}
		}}
		# Caddy 2.6 copies a header the verifier did not send as literal placeholder text.
{placeholders}
		reverse_proxy {routes.upstream} {{
			flush_interval -1
		}}
	}}
}}"""


def caddyfile(routes: Routes) -> str:
    return f"""{{
	admin off
	auto_https off
}}

{caddy_site(routes)}
"""


class ProxyProcess:
    """nginx or Caddy as a plain foreground process on a loopback port."""

    def __init__(self, kind: str, directory: Path, routes: Routes) -> None:
        if kind not in PROXIES:
            raise ValueError(f"unknown proxy {kind!r}")
        self.kind, self.directory, self.routes = kind, directory, routes
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def port(self) -> int:
        return int(self.routes.listen.rsplit(":", 1)[1])

    @property
    def url(self) -> str:
        return f"http://{self.routes.listen}"

    def command(self) -> tuple[list[str], dict[str, str]]:
        d = self.directory
        if self.kind == "nginx":
            for sub in ("body", "proxy", "fcgi", "uwsgi", "scgi"):
                (d / "tmp" / sub).mkdir(parents=True, exist_ok=True)
            (d / "nginx.conf").write_text(nginx_conf(self.routes))
            # -e: the error log before the config is read (the default path may not be writable).
            return ["nginx", "-p", f"{d}/", "-c", "nginx.conf", "-e", "error.log"], {}
        (d / "Caddyfile").write_text(caddyfile(self.routes))
        env = {"XDG_DATA_HOME": str(d / "data"), "XDG_CONFIG_HOME": str(d / "config")}
        return ["caddy", "run", "--config", str(d / "Caddyfile"), "--adapter", "caddyfile"], env

    def start(self, timeout: float = 15.0) -> ProxyProcess:
        self.directory.mkdir(parents=True, exist_ok=True)
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
        deadline = time.monotonic() + timeout
        while self.process.poll() is None and time.monotonic() < deadline:
            try:
                wait_port(self.port, 0.2)
                return self
            except TimeoutError:
                continue
        self.stop()
        raise RuntimeError(f"{self.kind} did not start:\n{self.logs()}")

    def logs(self) -> str:
        parts = [self.directory / "proxy.log", self.directory / "error.log"]
        return "\n".join(p.read_text(errors="replace") for p in parts if p.exists())

    def stop(self) -> None:
        if self.process is None:
            return
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        self.process = None


def installed(kind: str) -> bool:
    return shutil.which(kind) is not None


def start_proxy(
    kind: str,
    directory: Path,
    *,
    verifier_port: int | None = None,
    upstream_port: int,
    port: int | None = None,
    verifier_ports: Sequence[int] = (),
) -> ProxyProcess:
    """``kind`` in front of one verifier (``verifier_port``) or a round-robin pool of them."""
    if (verifier_port is None) == (not verifier_ports):
        raise ValueError("give either verifier_port or verifier_ports")
    pool = tuple(f"127.0.0.1:{p}" for p in verifier_ports)
    routes = Routes(
        listen=f"127.0.0.1:{port or free_port()}",
        verifier=VERIFIER_POOL if pool else f"127.0.0.1:{verifier_port}",
        upstream=f"127.0.0.1:{upstream_port}",
        verifiers=pool,
    )
    return ProxyProcess(kind, directory, routes).start()
