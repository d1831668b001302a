"""MCP Inspector (npm ``@modelcontextprotocol/inspector``, pinned in ``tools/npm/package.json``)
as real processes: its web client and its proxy server, on free loopback ports.

    inspector = Inspector(tmp_path).start()
    page.goto(inspector.page_url("http://127.0.0.1:8080/mcp"))   # then Connect in the UI
    inspector.stop()

``client/bin/start.js`` (what ``npx @modelcontextprotocol/inspector`` runs) starts the proxy
server on ``SERVER_PORT`` and the web client on ``CLIENT_PORT`` (``http://localhost:<port>``, the
browser origin the gateway's CORS answers see). The proxy's session token stays on: it is set
here (``MCP_PROXY_AUTH_TOKEN``) and handed to the page in its URL, as the Inspector's own banner
does; ``DANGEROUSLY_OMIT_AUTH`` is never set.
"""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import time
from pathlib import Path
from urllib.parse import urlencode

import httpx

from .npm_tools import node_binary, node_env, package_file
from .ports import free_port

PACKAGE = "@modelcontextprotocol/inspector"


class Inspector:
    def __init__(self, directory: Path) -> None:
        self.client_port = free_port()
        self.server_port = free_port()
        self.token = secrets.token_hex(32)
        self.log_path = directory / "inspector.log"
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def origin(self) -> str:
        """The web client's origin (where the browser runs the Inspector's OAuth client)."""
        return f"http://localhost:{self.client_port}"

    @property
    def proxy_url(self) -> str:
        return f"http://localhost:{self.server_port}"

    def page_url(self, server_url: str) -> str:
        """The web client with the session token, the proxy's address and the MCP server set."""
        query = {
            "MCP_PROXY_AUTH_TOKEN": self.token,
            # Kept in the page's configuration, so the OAuth callback page (which carries no
            # query of ours) still knows where the proxy is.
            "MCP_PROXY_FULL_ADDRESS": self.proxy_url,
            "transport": "streamable-http",
            "serverUrl": server_url,
        }
        return f"{self.origin}/?{urlencode(query)}"

    def logs(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def start(self, timeout: float = 60.0) -> Inspector:
        env = node_env(
            CLIENT_PORT=str(self.client_port),
            SERVER_PORT=str(self.server_port),
            MCP_PROXY_AUTH_TOKEN=self.token,
            MCP_AUTO_OPEN_ENABLED="false",
            HOST="localhost",
        )
        env.pop("DANGEROUSLY_OMIT_AUTH", None)
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        log = open(self.log_path, "ab")  # noqa: SIM115 - lives as long as the process
        script = package_file(PACKAGE, "client/bin/start.js")
        self.process = subprocess.Popen(
            [node_binary(), str(script)],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + timeout
        while not self._ready():
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"MCP Inspector did not start:\n{self.logs()}")
            time.sleep(0.2)
        return self

    def _ready(self) -> bool:
        try:
            proxy = httpx.get(f"{self.proxy_url}/health", timeout=1)
            client = httpx.get(self.origin, timeout=1)
        except httpx.HTTPError:
            return False
        return proxy.status_code == 200 and client.status_code == 200

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
