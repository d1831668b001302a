"""The capped httptools protocol: oversized request heads get 431, normal traffic is untouched."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from typing import Any

import pytest

from authgate_shared import http_server
from testsupport.raw_http import exchange, read_response, serve_in_thread


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] != "http":
        return
    size = 0
    while True:
        message = await receive()
        size += len(message.get("body", b""))
        if not message.get("more_body"):
            break
    body = b"%d" % size
    headers = [(b"content-length", b"%d" % len(body))]
    if any(name == b"x-echo-bad" for name, _ in scope["headers"]):
        headers.append((b"x-bad", b"line\r\nInjected: 1"))
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": body})


@pytest.fixture(scope="module")
def port() -> Iterator[int]:
    with serve_in_thread(app) as server:
        yield server.config.port


def _get(headers: bytes = b"") -> bytes:
    return b"GET / HTTP/1.1\r\nHost: x\r\n" + headers + b"\r\n"


@pytest.mark.parametrize(
    "headers",
    [b"X-Big: " + b"a" * 200_000 + b"\r\n", b"".join(b"X-H%d: v\r\n" % i for i in range(50_000))],
    ids=["one-200KB-header", "fifty-thousand-headers"],
)
def test_an_oversized_head_gets_431_and_a_closed_connection(port: int, headers: bytes) -> None:
    [answer] = exchange(port, _get(headers))
    assert answer.startswith(b"HTTP/1.1 431 ") or answer == b"reset"
    if answer != b"reset":
        assert b"connection: close" in answer


def test_keep_alive_requests_are_counted_one_by_one(port: int) -> None:
    # Three heads of ~10 KiB each on one connection: each under the cap, together over it.
    head = _get(b"X-Pad: " + b"p" * 10_000 + b"\r\n")
    answers = exchange(port, head, head, head)
    assert [a.split(b"\r\n")[0] for a in answers] == [b"HTTP/1.1 200 OK"] * 3


def test_bodies_do_not_count_toward_the_head(port: int) -> None:
    body = b"b" * 100_000
    post = b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body)
    answers = exchange(port, post, _get())
    assert answers[0].startswith(b"HTTP/1.1 200") and answers[0].endswith(b"100000")
    assert answers[1].startswith(b"HTTP/1.1 200")


def test_both_services_run_with_the_capped_protocol() -> None:
    from authgate_issuer.__main__ import UVICORN_OPTIONS as ISSUER
    from authgate_verifier.__main__ import UVICORN_OPTIONS as VERIFIER

    assert ISSUER["http"] == VERIFIER["http"] == http_server.PROTOCOL


def test_pipelined_requests_in_one_write_pass(port: int) -> None:
    # 300 small heads (~25 KiB) in one write, so one read holds many of them: none refused.
    requests = _get(b"X-Pad: " + b"p" * 40 + b"\r\n") * 300
    with socket.create_connection(("127.0.0.1", port), timeout=5) as conn:
        conn.sendall(requests)
        pending = bytearray()
        answers = [read_response(conn, pending) for _ in range(300)]
    assert all(a.startswith(b"HTTP/1.1 200") for a in answers)


@pytest.mark.parametrize("name", ["HEADER_RE", "HEADER_VALUE_RE"])
def test_the_checks_match_uvicorns_expressions(name: str) -> None:
    import random
    import re

    from uvicorn.protocols.http import httptools_impl

    check = getattr(httptools_impl, name)
    assert isinstance(check, http_server.RememberingCheck)
    uvicorns = check.replaced
    assert isinstance(uvicorns, re.Pattern)
    samples = [bytes([b]) for b in range(256)]
    rng = random.Random(7)
    samples += [rng.randbytes(rng.randint(0, 64)) for _ in range(5000)]
    samples += [b"eyJ" * 300, b"ok\tvalue", b"", b"a\r\nInjected: 1", b"x-user-id"]
    fresh = http_server.RememberingCheck(uvicorns)
    for value in samples * 2:  # twice: remembered answers must be the same answers
        assert bool(fresh.search(value)) == bool(uvicorns.search(value)), value


def test_a_response_header_with_a_control_character_is_still_refused(port: int) -> None:
    # The replaced check is the one uvicorn applies: an app sending CR/LF in a header value
    # gets nothing out (uvicorn drops the connection), never a split header.
    [answer] = exchange(port, _get(b"X-Echo-Bad: 1\r\n"))
    assert answer in (b"", b"reset")


def test_remembered_clean_values_stay_bounded_and_dirty_ones_are_never_remembered() -> None:
    import re

    check = http_server.RememberingCheck(re.compile(b"[\x00-\x08\x0a-\x1f\x7f]"))
    dirty = b"value\r\nInjected: 1"
    for _ in range(3):
        assert check.search(dirty) == b"\r\n"
    for n in range(3 * check.MAX_REMEMBERED):
        assert check.search(b"clean-%d" % n) is None
    assert len(check._clean) <= check.MAX_REMEMBERED
    assert dirty not in check._clean


def test_a_request_arriving_as_shutdown_begins_is_answered_not_reset() -> None:
    # A connection accepted just before shutdown, its request not yet sent: uvicorn alone
    # closes it at once (a reset for the request that follows); here it gets its answer, with
    # Connection: close, within the grace period.
    with serve_in_thread(app) as server:
        port = server.config.port
        with socket.create_connection(("127.0.0.1", port), timeout=5) as conn:
            exchange(port, _get())  # the server is serving
            server.should_exit = True
            while True:  # shutdown has begun once the listening socket is closed
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=1).close()
                except (ConnectionRefusedError, ConnectionResetError):
                    break
            conn.sendall(_get())
            answer = read_response(conn)
        assert answer.startswith(b"HTTP/1.1 200 OK\r\n")
        assert b"\r\nconnection: close\r\n" in answer.lower()


def test_an_idle_connection_is_closed_after_the_grace_period() -> None:
    # Closed by the server within the grace period, not left to the 5 s keep-alive timeout
    # (the socket would time out first).
    with (
        serve_in_thread(app) as server,
        socket.create_connection(("127.0.0.1", server.config.port), timeout=2) as conn,
    ):
        server.should_exit = True
        assert conn.recv(1) == b""
