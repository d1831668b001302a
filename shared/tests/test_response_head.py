"""Prepared response heads: checked like uvicorn checks headers, written byte for byte as
uvicorn would write them, and only on the ordinary keep-alive path."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from typing import Any

import pytest
from uvicorn.protocols.http import httptools_impl

from authgate_shared.server import protocol as http_server  # noqa: F401  (installs the cycle, as the services do)
from authgate_shared.server.response_head import (
    PREPARED_KEY,
    PreparedCycle,
    PreparedHead,
    prepare_head,
)
from testsupport.raw_http import exchange, serve_in_thread

HEADERS = [
    (b"Content-Type", b"application/json"),
    (b"content-length", b"11"),
    (b"X-User-Id", b"github|octocat"),
    (b"x-auth-token", b"eyJ" * 300),
]
BODY = b'{"ok":true}'


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] != "http":
        return
    path = scope["path"]
    start: dict[str, Any] = {"type": "http.response.start", "status": 200, "headers": HEADERS}
    if path == "/prepared":
        start[PREPARED_KEY] = prepare_head(HEADERS)
    elif path == "/which":
        # The list and the prepared block disagree, so the answer shows which one was written.
        start["headers"] = [(b"content-length", b"11"), (b"x-written", b"list")]
        start[PREPARED_KEY] = prepare_head(
            [(b"content-length", b"11"), (b"x-written", b"prepared")]
        )
    elif path == "/forged":
        start[PREPARED_KEY] = b"x-forged: 1\r\n"
    await send(start)
    await send({"type": "http.response.body", "body": BODY})


@pytest.fixture(scope="module")
def port() -> Iterator[int]:
    with serve_in_thread(app) as server:
        yield server.config.port


def _request(path: str, method: str = "GET", version: str = "1.1", extra: str = "") -> bytes:
    return f"{method} {path} HTTP/{version}\r\nHost: x\r\n{extra}\r\n".encode()


_DATE = re.compile(rb"\r\ndate: [^\r]*\r\n")


def _same_second(answer: bytes) -> bytes:
    return _DATE.sub(b"\r\ndate: -\r\n", answer)


def test_the_services_cycle_is_the_preparing_one() -> None:
    assert httptools_impl.RequestResponseCycle is PreparedCycle


@pytest.mark.parametrize(
    ("method", "version", "extra"),
    [
        ("GET", "1.1", ""),
        ("HEAD", "1.1", ""),
        ("GET", "1.0", ""),
        ("GET", "1.1", "Connection: close\r\n"),
        ("POST", "1.1", "Content-Length: 3\r\n\r\nabc"),
    ],
    ids=["keep-alive", "head", "http-1.0", "connection-close", "post"],
)
def test_a_prepared_head_is_written_as_uvicorn_writes_the_list(
    port: int, method: str, version: str, extra: str
) -> None:
    prepared = exchange(port, _request("/prepared", method, version, extra))
    plain = exchange(port, _request("/plain", method, version, extra))
    assert prepared[0].startswith(b"HTTP/1.1 200 OK\r\n")
    assert _same_second(prepared[0]) == _same_second(plain[0])
    assert b"content-type: application/json\r\n" in prepared[0]  # names lower-cased


def test_the_access_line_is_uvicorns(port: int, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="uvicorn.access"):
        exchange(port, _request("/prepared?a=1"), _request("/plain?a=1"))
    prepared, plain = [r.getMessage() for r in caplog.records if r.name == "uvicorn.access"]
    assert prepared.replace("/prepared", "/plain") == plain
    assert '"GET /prepared?a=1 HTTP/1.1" 200' in prepared


def test_keep_alive_answers_in_a_row_use_the_prepared_block(port: int) -> None:
    answers = exchange(port, *[_request("/which")] * 3)
    assert all(b"\r\nx-written: prepared\r\n" in a for a in answers)
    assert all(a.endswith(BODY) for a in answers)


@pytest.mark.parametrize(
    ("version", "extra"), [("1.0", ""), ("1.1", "Connection: close\r\n")], ids=["1.0", "close"]
)
def test_a_closing_connection_takes_uvicorns_own_path(port: int, version: str, extra: str) -> None:
    [answer] = exchange(port, _request("/which", version=version, extra=extra))
    assert b"\r\nx-written: list\r\n" in answer
    assert b"\r\nconnection: close\r\n" in answer


def test_only_a_prepared_head_is_written_as_it_is(port: int) -> None:
    [answer] = exchange(port, _request("/forged"))
    assert b"x-forged" not in answer
    assert b"\r\nx-user-id: github|octocat\r\n" in answer


@pytest.mark.parametrize(
    ("headers", "message"),
    [
        ([(b"content-length", b"0"), (b"x bad", b"v")], "invalid header name"),
        ([(b"content-length", b"0"), (b"x-a", b"v\r\nInjected: 1")], "invalid value"),
        ([(b"content-length", b"0"), (b"x-a", b"nul\x00")], "invalid value"),
        ([(b"x-a", b"v")], "needs a content-length"),
        ([(b"content-length", b"0"), (b"Content-Length", b"5")], "one content-length"),
        ([(b"content-length", b"0"), (b"transfer-encoding", b"chunked")], "transfer-encoding"),
        ([(b"content-length", b"0"), (b"connection", b"close")], "connection"),
    ],
)
def test_prepare_head_refuses_what_uvicorn_refuses_or_frames_itself(
    headers: list[tuple[bytes, bytes]], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        prepare_head(headers)


def test_a_prepared_head_is_made_only_by_prepare_head() -> None:
    with pytest.raises(TypeError):
        PreparedHead(b"x-forged: 1\r\n", 0, object())
    head = prepare_head([(b"Content-Length", b"2"), (b"X-A", b"b")])
    assert (head.block, head.content_length) == (b"content-length: 2\r\nx-a: b\r\n", 2)
