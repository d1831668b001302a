"""The capped httptools protocol: oversized request heads get 431, normal traffic is untouched."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
import uvicorn

from authgate_shared.server import protocol as http_server
from authgate_shared.server.limits import HttpLimits
from testsupport.raw_http import (
    exchange,
    read_response,
    send_in_pieces,
    serve_in_thread,
    until_closed,
)


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] != "http":
        return
    if scope["path"] == "/stream":
        await _stream(send)
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


STREAM_CHUNKS, STREAM_PAUSE = 6, 0.3  # an event stream longer than QUICK's timeouts


async def _stream(send: Any) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": []})  # chunked
    for n in range(STREAM_CHUNKS):
        await asyncio.sleep(STREAM_PAUSE)
        await send({"type": "http.response.body", "body": b"event %d\n" % n, "more_body": True})
    await send({"type": "http.response.body", "body": b""})


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


# Finding 5: the cap holds however the head is split into reads.


def test_a_40kb_header_in_one_write_gets_431(port: int) -> None:
    # One read held the whole head: the count used to start over once it was complete.
    with socket.create_connection(("127.0.0.1", port), timeout=5) as conn:
        conn.sendall(_get(b"X-Big: " + b"a" * 40_000 + b"\r\n"))
        answer, _ = until_closed(conn)
    assert answer.startswith(b"HTTP/1.1 431 ") and b"connection: close" in answer


def test_a_head_over_the_cap_by_a_byte_gets_431_and_one_at_the_cap_passes(port: int) -> None:
    def head(size: int) -> bytes:
        bare = _get(b"X-Pad: \r\n")
        return _get(b"X-Pad: " + b"p" * (size - len(bare)) + b"\r\n")

    assert exchange(port, head(http_server.MAX_HEAD_BYTES))[0].startswith(b"HTTP/1.1 200 ")
    assert exchange(port, head(http_server.MAX_HEAD_BYTES + 1))[0].startswith(b"HTTP/1.1 431 ")


def test_a_40kb_header_in_many_writes_gets_431(port: int) -> None:
    with socket.create_connection(("127.0.0.1", port), timeout=5) as conn:
        # Refused before the last piece perhaps: the answer is in the socket all the same.
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            send_in_pieces(conn, _get(b"X-Big: " + b"a" * 40_000 + b"\r\n"), 4096)
        answer, _ = until_closed(conn)
    assert answer.startswith(b"HTTP/1.1 431 ")


def test_a_pipelined_oversized_head_gets_431_after_the_answer_before_it(port: int) -> None:
    with socket.create_connection(("127.0.0.1", port), timeout=5) as conn:
        conn.sendall(_get() + _get(b"X-Big: " + b"a" * 40_000 + b"\r\n"))
        answers, _ = until_closed(conn)
    first, _, second = answers.partition(b"HTTP/1.1 431 ")
    assert first.startswith(b"HTTP/1.1 200 OK\r\n") and first.endswith(b"\r\n\r\n0")
    assert second, answers[:200]


def test_a_body_full_of_blank_lines_is_not_counted_as_a_head(port: int) -> None:
    # 40 KB of CRLFCRLF in a body, then a request in the same write: both answered.
    body = (b"b" * 100 + b"\r\n\r\n") * 400
    post = b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body)
    with socket.create_connection(("127.0.0.1", port), timeout=5) as conn:
        conn.sendall(post + _get(b"X-Pad: " + b"p" * 10_000 + b"\r\n"))
        pending = bytearray()
        answers = [read_response(conn, pending) for _ in range(2)]
    assert answers[0].startswith(b"HTTP/1.1 200 ") and answers[0].endswith(b"%d" % len(body))
    assert answers[1].startswith(b"HTTP/1.1 200 ")


# Finding 4: a request head must arrive in time; an idle connection is closed.

QUICK = HttpLimits(request_head_timeout=1, keep_alive_timeout=1)


@pytest.fixture(scope="module")
def quick_port() -> Iterator[int]:
    with serve_in_thread(app, QUICK) as server:
        yield server.config.port


def test_half_a_head_gets_408_and_a_close_after_the_head_timeout(quick_port: int) -> None:
    with socket.create_connection(("127.0.0.1", quick_port), timeout=5) as conn:
        conn.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nX-Slow: ")
        answer, waited = until_closed(conn)
    assert answer.startswith(b"HTTP/1.1 408 Request Timeout\r\n")
    assert b"\r\nconnection: close\r\n" in answer
    assert 0.8 < waited < 3


def test_a_connection_that_sends_nothing_is_closed_without_an_answer(quick_port: int) -> None:
    with socket.create_connection(("127.0.0.1", quick_port), timeout=5) as conn:
        answer, waited = until_closed(conn)
    assert answer == b"" and 0.8 < waited < 3


def test_an_idle_keep_alive_connection_is_closed_after_the_keep_alive_timeout(
    quick_port: int,
) -> None:
    with socket.create_connection(("127.0.0.1", quick_port), timeout=5) as conn:
        conn.sendall(_get())
        assert read_response(conn).startswith(b"HTTP/1.1 200 ")
        answer, waited = until_closed(conn)
    assert answer == b"" and 0.8 < waited < 3


def test_a_second_head_that_stalls_gets_408(quick_port: int) -> None:
    # The first request resets nothing for the second: its head must arrive in time too.
    with socket.create_connection(("127.0.0.1", quick_port), timeout=5) as conn:
        conn.sendall(_get())
        assert read_response(conn).startswith(b"HTTP/1.1 200 ")
        time.sleep(0.5)  # half the keep-alive timeout: the next head starts late
        conn.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n")
        answer, waited = until_closed(conn)
    assert answer.startswith(b"HTTP/1.1 408 ")
    assert 0.8 < waited < 3  # the head timeout from its first byte, not what was left idle


def test_a_slow_head_is_not_kept_alive_by_its_drip(quick_port: int) -> None:
    # A byte every 0.2 s: each read must not restart the head's time limit.
    with socket.create_connection(("127.0.0.1", quick_port), timeout=5) as conn:
        started = time.monotonic()
        with pytest.raises((BrokenPipeError, ConnectionResetError)):  # noqa: PT012
            for byte in b"GET / HTTP/1.1\r\nHost: x\r\nX-Drip: " + b"d" * 50:
                conn.send(bytes([byte]))
                time.sleep(0.2)
    assert time.monotonic() - started < 3


def test_a_long_response_is_not_cut_by_the_timeouts(quick_port: int) -> None:
    # An event stream longer than both timeouts, then the connection is still usable.
    with socket.create_connection(("127.0.0.1", quick_port), timeout=5) as conn:
        conn.sendall(b"GET /stream HTTP/1.1\r\nHost: x\r\n\r\n")
        data = bytearray()
        while not data.endswith(b"\r\n0\r\n\r\n"):
            chunk = conn.recv(65536)
            assert chunk, bytes(data)
            data += chunk
        assert data.count(b"event ") == STREAM_CHUNKS
        conn.sendall(_get())
        assert read_response(conn).startswith(b"HTTP/1.1 200 ")


def test_a_slow_body_is_not_cut_by_the_head_timeout(quick_port: int) -> None:
    body = b"0123456789"
    with socket.create_connection(("127.0.0.1", quick_port), timeout=5) as conn:
        conn.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n")
        for start in range(0, 10, 2):
            time.sleep(0.35)  # 1.75 s in all
            conn.sendall(body[start : start + 2])
        assert read_response(conn).endswith(b"\r\n\r\n10")


def test_keep_alive_requests_arm_no_timer_each() -> None:
    # The hot path: requests on one connection move a deadline, they do not each create a
    # timer (uvicorn alone: one call_later per response, one cancel per request). A plain
    # asyncio loop (uvloop's call_at cannot be wrapped) answers in ~45 ms here: 30 requests.
    loop = asyncio.new_event_loop()
    armed: list[tuple[str, float]] = []
    call_at = loop.call_at

    def counting_call_at(when: float, callback: Any, *args: Any, **kwargs: Any) -> Any:
        if isinstance(getattr(callback, "__self__", None), http_server.CappedHttpToolsProtocol):
            armed.append((callback.__name__, when - loop.time()))
        return call_at(when, callback, *args, **kwargs)

    loop.call_at = counting_call_at  # type: ignore[method-assign,assignment]
    config = http_server.HttpConfig(
        app, host="127.0.0.1", port=0, http=http_server.PROTOCOL, loop="none", log_level="warning"
    )
    server = uvicorn.Server(config)
    sock = config.bind_socket()
    thread = threading.Thread(target=loop.run_until_complete, args=(server.serve([sock]),))
    thread.start()
    try:
        while not server.started:
            time.sleep(0.02)
        port = sock.getsockname()[1]
        assert all(a.startswith(b"HTTP/1.1 200 ") for a in exchange(port, *[_get()] * 30))
    finally:
        server.should_exit = True
        thread.join(5)
        loop.close()
    # One at the connection's start (head timeout), one when the first response moves the
    # deadline earlier (keep-alive timeout); none after.
    assert len(armed) <= 2, armed
