"""A stand-in for the issuer's RFC 8693 token exchange, for the verifier's in-process tests of
upstream-token injection (services/verifier/tests/test_upstream_injection*.py): it answers over
real HTTP what each test sets, and records what the verifier sent."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import orjson

from authgate_verifier.settings import VerifierSettings
from authgate_verifier.upstream import ACCESS_TOKEN_TYPE

from .ports import free_port
from .verifier import MCP_A, MCP_B, verifier_env

UPSTREAM = "gho_upstreamTokenOfOctocat0123456789"
CLIENT_ID, SECRET = "verifier", "s3cret:with/odd&chars"
POLICY = f"""
services:
  - resource: {MCP_A}
    inject_upstream_token: true
  - resource: {MCP_B}
"""


def ok(token: str = UPSTREAM, expires_in: int | None = None) -> tuple[int, dict[str, Any]]:
    body: dict[str, Any] = {
        "access_token": token,
        "issued_token_type": ACCESS_TOKEN_TYPE,
        "token_type": "Bearer",
    }
    if expires_in is not None:
        body["expires_in"] = expires_in
    return 200, body


def error(status: int, code: str, description: str = "") -> tuple[int, dict[str, Any]]:
    return status, {"error": code, "error_description": description}


@dataclass
class Exchange:
    """The issuer's /token as far as the verifier uses it: answers ``answer`` after ``delay``."""

    port: int = field(default_factory=free_port)
    answer: tuple[int, dict[str, Any]] = field(default_factory=ok)
    delay: float = 0.0
    requests: list[tuple[dict[str, list[str]], str, str]] = field(default_factory=list)
    server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/token"

    def start(self) -> Exchange:
        exchange = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                form = parse_qs(self.rfile.read(length).decode())
                auth = self.headers.get("Authorization", "")
                exchange.requests.append((form, auth, self.headers.get("Content-Type", "")))
                time.sleep(exchange.delay)
                status, body = exchange.answer
                payload = orjson.dumps(body)
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Cache-Control", "no-store")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, format: str, *args: object) -> None:
                """Quiet."""

        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()


def settings(redis_url: str, policy: Path, **env: str) -> VerifierSettings:
    return VerifierSettings.from_env(
        verifier_env(
            redis_url,
            POLICY_FILE=str(policy),
            ALLOWED_RESOURCES=f"{MCP_A},{MCP_B}",
            **env,
        )
    )


def exchanger_env(url: str) -> dict[str, str]:
    return {
        "TOKEN_EXCHANGE_URL": url,
        "TOKEN_EXCHANGE_CLIENT_ID": CLIENT_ID,
        "TOKEN_EXCHANGE_CLIENT_SECRET": SECRET,
    }
