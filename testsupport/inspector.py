"""MCP Inspector (npm ``@modelcontextprotocol/inspector``, pinned in ``tools/npm/package.json``)
as real processes on free loopback ports, in its two lines.

    inspector = Inspector(tmp_path).start()          # 1.0.3: web client + proxy server
    page.goto(inspector.page_url("http://127.0.0.1:8080/mcp"))   # then Connect in the UI
    inspector.stop()

    v2 = InspectorV2(tmp_path, "http://127.0.0.1:8080/mcp").start()   # 2.12.0
    page.goto(v2.page_url)

**1.0.3** (``client/bin/start.js``, what ``npx @modelcontextprotocol/inspector@1`` runs) starts
its proxy server on ``SERVER_PORT`` and its web client on ``CLIENT_PORT``
(``http://localhost:<port>``: the origin the gateway's CORS answers see). The proxy's session
token stays on: set here (``MCP_PROXY_AUTH_TOKEN``) and handed to the page in its URL, as the
Inspector's banner does; ``DANGEROUSLY_OMIT_AUTH`` is never set.

**2.12.0** (``clients/launcher/build/index.js --web``) is one server on ``CLIENT_PORT``
(``http://127.0.0.1:<port>``) that makes every HTTP request for the page, OAuth included; its
API token (``MCP_INSPECTOR_API_TOKEN``) stays on, its secrets stay in memory, its files under
this test's directory (``HOME``, ``MCP_STORAGE_DIR``).
"""

from __future__ import annotations

import secrets
import subprocess
import time
from pathlib import Path
from urllib.parse import urlencode

import httpx

from .npm_tools import node_binary, node_env, package_file
from .ports import free_port
from .service import stop_group

PACKAGE = "@modelcontextprotocol/inspector"
PACKAGE_V2 = "mcp-inspector-v2"  # npm alias of @modelcontextprotocol/inspector@2.12.0


class _NodeProgram:
    """A Node program's process group, its output in ``log_path``, ready when ``_ready()``."""

    def __init__(self, directory: Path, log_name: str) -> None:
        self.directory = directory
        self.log_path = directory / log_name
        self.token = secrets.token_hex(32)
        self.process: subprocess.Popen[bytes] | None = None

    def logs(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def _ready(self) -> bool:
        raise NotImplementedError

    def _launch(self, args: list[str], env: dict[str, str], timeout: float) -> None:
        env.pop("DANGEROUSLY_OMIT_AUTH", None)
        self.directory.mkdir(parents=True, exist_ok=True)
        log = open(self.log_path, "ab")  # noqa: SIM115 - lives as long as the process
        self.process = subprocess.Popen(
            [node_binary(), *args],
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

    def stop(self) -> None:
        if self.process is None:
            return
        stop_group(self.process)
        self.process = None


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


class Inspector(_NodeProgram):
    """MCP Inspector 1.0.3: web client and proxy server."""

    def __init__(self, directory: Path) -> None:
        super().__init__(directory, "inspector.log")
        self.client_port = free_port()
        self.server_port = free_port()

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

    def start(self, timeout: float = 60.0) -> Inspector:
        env = node_env(
            CLIENT_PORT=str(self.client_port),
            SERVER_PORT=str(self.server_port),
            MCP_PROXY_AUTH_TOKEN=self.token,
            MCP_AUTO_OPEN_ENABLED="false",
            HOST="localhost",
        )
        self._launch([str(package_file(PACKAGE, "client/bin/start.js"))], env, timeout)
        return self

    def _ready(self) -> bool:
        return _answers(f"{self.proxy_url}/health") and _answers(self.origin)


class InspectorV2(_NodeProgram):
    """MCP Inspector 2.12.0's web UI, started for one MCP server (``--server-url``)."""

    def __init__(self, directory: Path, server_url: str) -> None:
        super().__init__(directory, "inspector-v2.log")
        self.port = free_port()
        self.server_url = server_url

    @property
    def origin(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def page_url(self) -> str:
        return f"{self.origin}/?{urlencode({'MCP_INSPECTOR_API_TOKEN': self.token})}"

    def start(self, timeout: float = 60.0) -> InspectorV2:
        home = self.directory / "home"
        home.mkdir(parents=True, exist_ok=True)
        env = node_env(
            CLIENT_PORT=str(self.port),
            MCP_SANDBOX_PORT="0",  # 0: a port of the system's choosing
            MCP_APP_ORIGIN_PORT="0",
            MCP_INSPECTOR_API_TOKEN=self.token,
            MCP_INSPECTOR_SECRET_STORE="memory",
            MCP_AUTO_OPEN_ENABLED="false",
            HOME=str(home),
            MCP_STORAGE_DIR=str(home / "storage"),
        )
        launcher = package_file(PACKAGE_V2, "clients/launcher/build/index.js")
        args = [str(launcher), "--web", "--transport", "http", "--server-url", self.server_url]
        self._launch(args, env, timeout)
        return self

    def _ready(self) -> bool:
        return _answers(self.origin)
