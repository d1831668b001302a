"""An upstream behind the proxy that records every request it receives (headers included).

Runs in a thread of the test process, so a test can assert on exactly what the proxy forwarded:
the verifier's identity headers, and never a client-sent or placeholder copy. Like an MCP server
that serves browser clients, it answers CORS itself (any origin, the requested method and
headers), so a preflight that reaches it succeeds and one that does not, fails.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from .ports import free_port


@dataclass
class Received:
    method: str
    path: str
    headers: list[tuple[str, str]]
    body: bytes

    def header(self, name: str) -> list[str]:
        """Every value of ``name`` (case-insensitive): a duplicate would be a bug worth seeing."""
        return [v for k, v in self.headers if k.lower() == name.lower()]


@dataclass
class EchoUpstream:
    port: int = field(default_factory=free_port)
    received: list[Received] = field(default_factory=list)
    _server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def last(self) -> Received:
        assert self.received, "the upstream received no request"
        return self.received[-1]

    def start(self) -> EchoUpstream:
        upstream = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, as proxies talk to upstreams

            def _answer(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                record = Received(self.command, self.path, list(self.headers.items()), body)
                upstream.received.append(record)
                payload = json.dumps({"path": self.path, "headers": record.headers}).encode()
                self.send_response(200)
                if self.headers.get("Origin"):
                    self._cors()
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def _cors(self) -> None:
                self.send_header("Access-Control-Allow-Origin", "*")
                self.send_header("Access-Control-Expose-Headers", "Mcp-Session-Id")
                if self.command == "OPTIONS":
                    asked = self.headers.get("Access-Control-Request-Method", "")
                    self.send_header("Access-Control-Allow-Methods", asked)
                    wanted = self.headers.get("Access-Control-Request-Headers", "")
                    self.send_header("Access-Control-Allow-Headers", wanted)

            do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_OPTIONS = _answer

            def log_message(self, format: str, *args: object) -> None:
                """Quiet: the test asserts on ``received`` instead."""

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
