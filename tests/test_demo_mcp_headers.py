"""The demo MCP server's header/body check (devstack.mcp_headers), case by case: what MCP
2026-07-28 requires of a server, so the gateway's tool rules are tested against an honest one."""

from __future__ import annotations

import base64

import orjson
import pytest

from devstack.mcp_headers import mismatch

NEW = b"2026-07-28"


def body(method: str, **params: str) -> bytes:
    return orjson.dumps({"jsonrpc": "2.0", "id": 1, "method": method, "params": params})


def headers(version: bytes | None = NEW, **values: str) -> dict[bytes, bytes]:
    found = {b"mcp-" + k.encode(): v.encode() for k, v in values.items()}
    return found if version is None else {**found, b"mcp-protocol-version": version}


@pytest.mark.parametrize(
    ("sent", "message", "reason"),
    [
        (headers(method="tools/call", name="echo"), body("tools/call", name="echo"), None),
        (headers(method="tools/list"), body("tools/list"), None),
        (
            headers(method="resources/read", name="file:///a"),
            body("resources/read", uri="file:///a"),
            None,
        ),
        (headers(method="tools/call", name="echo"), body("tools/call", name="whoami"), "Mcp-Name"),
        (headers(method="tools/list"), body("tools/call", name="echo"), "Mcp-Method"),
        (headers(), body("tools/list"), "Mcp-Method is required"),
        (headers(method="tools/call"), body("tools/call", name="echo"), "Mcp-Name"),
        # Older revisions need no headers, but a mismatch is refused all the same.
        (headers(version=None), body("tools/call", name="echo"), None),
        (
            headers(version=b"2025-11-25", method="tools/call", name="x"),
            body("tools/call", name="echo"),
            "Mcp-Name",
        ),
        (headers(method="tools/call", name="echo"), b"not json", "not JSON"),
        (headers(method="tools/call", name="echo"), b"[]", "single JSON-RPC message"),
    ],
)
def test_headers_against_body(sent: dict[bytes, bytes], message: bytes, reason: str | None) -> None:
    found = mismatch(sent, message)
    assert (found is None) if reason is None else (found is not None and reason in found), found


def test_base64_name_is_decoded_as_the_sdk_encodes_it() -> None:
    name = "déploy"
    encoded = "=?base64?" + base64.b64encode(name.encode()).decode() + "?="
    sent = {
        b"mcp-protocol-version": NEW,
        b"mcp-method": b"tools/call",
        b"mcp-name": encoded.encode(),
    }
    assert mismatch(sent, body("tools/call", name=name)) is None
    assert mismatch(sent, body("tools/call", name="deploy")) is not None
