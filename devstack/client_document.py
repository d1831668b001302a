"""The example Client ID Metadata Document of ``make run``
(draft-ietf-oauth-client-id-metadata-document).

``python -m devstack.client_document --port 8443 --cert server.pem --key server-key.pem`` serves
``https://localhost:8443/client.json``: a public client whose ``client_id`` is that URL, with the
port-less loopback redirect URIs Claude Code's real document lists. The certificate comes from a
throw-away CA (``devstack.local_tls``) that ``make run`` gives the issuer as ``SSL_CERT_FILE``,
with ``CIMD_ALLOW_PRIVATE_ADDRESSES=true`` (allowed because the issuer is on loopback), so the
issuer fetches it exactly as it fetches a real client's document. Try it::

    open "http://127.0.0.1:8000/authorize?response_type=code&client_id=https%3A%2F%2Flocalhost%3A8443%2Fclient.json&redirect_uri=http%3A%2F%2Flocalhost%3A33418%2Fcallback&code_challenge=<43 chars>&code_challenge_method=S256&resource=http%3A%2F%2F127.0.0.1%3A8080"
"""

from __future__ import annotations

import argparse
import contextlib
import json
import socket
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from .local_tls import LocalTls
from .supervisor import Child

PATH = "/client.json"


def document(client_id: str) -> dict[str, Any]:
    return {
        "client_id": client_id,
        "client_name": "Authgate example client (make run)",
        "client_uri": client_id.removesuffix(PATH),
        "redirect_uris": ["http://localhost/callback", "http://127.0.0.1/callback"],
        "grant_types": ["authorization_code", "refresh_token"],
        "response_types": ["code"],
        "token_endpoint_auth_method": "none",
    }


def client_id(port: int) -> str:
    return f"https://localhost:{port}{PATH}"


def _port_open(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
        return True
    except OSError:
        return False


def child(port: int, tls: LocalTls) -> Child:
    """The document server as a ``make run`` child, ready when its port accepts connections."""
    args = [sys.executable, "-m", "devstack.client_document", "--port", str(port)]
    args += ["--cert", str(tls.cert_file), "--key", str(tls.key_file)]
    return Child("documents", args, ready=lambda: _port_open(port))


def serve(port: int, tls: LocalTls) -> None:
    body = json.dumps(document(client_id(port)), indent=2).encode()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            found = self.path in (PATH, "/health")
            self.send_response(200 if found else 404)
            self.send_header("Content-Type", "application/json")
            self.send_header("Cache-Control", "max-age=300")
            payload = body if self.path == PATH else b'{"status":"ok"}' if found else b"{}"
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    server.socket = tls.server_context().wrap_socket(server.socket, server_side=True)
    print(f"example client metadata document: {client_id(port)}", flush=True)
    server.serve_forever()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--port", type=int, default=8443)
    parser.add_argument("--cert", type=Path, required=True)
    parser.add_argument("--key", type=Path, required=True)
    args = parser.parse_args()
    tls = LocalTls(ca_file=args.cert, cert_file=args.cert, key_file=args.key)
    with contextlib.suppress(KeyboardInterrupt):
        serve(args.port, tls)


if __name__ == "__main__":
    main()
