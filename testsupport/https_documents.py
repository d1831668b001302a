"""A local HTTPS server standing in for the third-party hosts of client metadata documents.

Its certificate comes from a test CA (``devstack.local_tls``); the issuer under test trusts it
through ``SSL_CERT_FILE`` and reaches it on loopback with ``CIMD_ALLOW_PRIVATE_ADDRESSES=true``,
so the issuer's real fetcher (TLS, SNI, limits) runs end to end. Each path answers what a test
set with ``serve``; every request is recorded (path and headers) for the tests to inspect.

    docs = DocumentServer(tmp_path).start()
    client_id = docs.url("/client.json")
    docs.serve("/client.json", {"client_id": client_id, ...}, headers={"Cache-Control": "max-age=60"})
    ...
    docs.stop()
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import orjson

from devstack.local_tls import LocalTls, write_local_tls


@dataclass(frozen=True)
class Route:
    body: bytes
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    """Seconds to wait before answering (timeouts)."""
    send_length: bool = True
    """False: no Content-Length, the body ends when the connection closes (HTTP/1.0)."""


@dataclass(frozen=True)
class Seen:
    path: str
    headers: dict[str, str]


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def do_GET(self) -> None:
        owner = self.server.owner
        owner.record(Seen(self.path, {k.lower(): v for k, v in self.headers.items()}))
        route = owner.routes.get(self.path)
        if route is None:
            route = Route(b'{"error":"not found"}', 404)
        if route.delay:
            time.sleep(route.delay)
        # The fetcher may have hung up already (oversize, timeout): what those tests want.
        with contextlib.suppress(OSError):
            self.send_response(route.status)
            headers = {"Content-Type": "application/json", **route.headers}
            for name, value in headers.items():
                self.send_header(name, value)
            if route.send_length and "Content-Length" not in headers:
                self.send_header("Content-Length", str(len(route.body)))
            self.end_headers()
            self.wfile.write(route.body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    owner: DocumentServer


class DocumentServer:
    def __init__(self, directory: Path, names: tuple[str, ...] = ("localhost",)) -> None:
        """``names``: the DNS names its certificate is valid for (and 127.0.0.1, ::1)."""
        self.tls: LocalTls = write_local_tls(directory / "document-tls", names)
        self.routes: dict[str, Route] = {}
        self.seen: list[Seen] = []
        self.hits: Counter[str] = Counter()
        self._lock = threading.Lock()
        self._server: _Server | None = None

    @property
    def ca_file(self) -> Path:
        return self.tls.ca_file

    @property
    def port(self) -> int:
        assert self._server is not None
        return int(self._server.server_address[1])

    def url(self, path: str, host: str = "localhost") -> str:
        return f"https://{host}:{self.port}{path}"

    def start(self) -> DocumentServer:
        server = _Server(("127.0.0.1", 0), _Handler)
        server.owner = self
        server.socket = self.tls.server_context().wrap_socket(
            server.socket, server_side=True, do_handshake_on_connect=False
        )
        self._server = server
        threading.Thread(target=server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def serve(
        self,
        path: str,
        body: Any,
        *,
        status: int = 200,
        headers: dict[str, str] | None = None,
        delay: float = 0.0,
        send_length: bool = True,
    ) -> str:
        """Answer GET ``path`` with ``body`` (bytes as is, anything else as JSON); its URL."""
        raw = body if isinstance(body, bytes) else orjson.dumps(body)
        self.routes[path] = Route(raw, status, dict(headers or {}), delay, send_length)
        return self.url(path)

    def record(self, seen: Seen) -> None:
        with self._lock:
            self.seen.append(seen)
            self.hits[seen.path] += 1
