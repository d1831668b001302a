"""Request heads against the real services (issuer and verifier as processes, raw sockets):
the 16 KiB cap holds however a head is split (431), and a head must arrive within
REQUEST_HEAD_TIMEOUT (408), an idle connection is closed after KEEP_ALIVE_TIMEOUT."""

from __future__ import annotations

import contextlib
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from testsupport import stack as stack_support
from testsupport.raw_http import read_response, send_in_pieces, until_closed
from testsupport.service import ServiceProcess
from testsupport.stack import Stack, StackOptions, running_stack
from testsupport.verifier import start_verifier

QUICK = {"REQUEST_HEAD_TIMEOUT": "1", "KEEP_ALIVE_TIMEOUT": "1"}
HEALTH = b"GET /health HTTP/1.1\r\nHost: x\r\n"
BIG = b"X-Big: " + b"a" * 40_000 + b"\r\n"


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    options = StackOptions(issuer_env=QUICK, verifier_env=QUICK)
    with running_stack(tmp_path_factory.mktemp("heads"), options) as running:
        yield running


@pytest.fixture(params=["issuer", "verifier"])
def port(request: pytest.FixtureRequest, stack: Stack) -> int:
    service = stack.issuer if request.param == "issuer" else stack.verifier
    assert service is not None
    return service.port


def _connect(port: int) -> socket.socket:
    return socket.create_connection(("127.0.0.1", port), timeout=5)


def test_a_40kb_header_in_one_write_gets_431(port: int) -> None:
    # Was 200: a head complete within one read was never counted.
    with _connect(port) as conn:
        conn.sendall(HEALTH + BIG + b"\r\n")
        answer, _ = until_closed(conn)
    assert answer.startswith(b"HTTP/1.1 431 "), answer[:100]
    assert b"\r\nconnection: close\r\n" in answer


def test_a_40kb_header_in_4kb_writes_gets_431(port: int) -> None:
    with _connect(port) as conn:
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            send_in_pieces(conn, HEALTH + BIG + b"\r\n", 4096)
        answer, _ = until_closed(conn)
    assert answer.startswith(b"HTTP/1.1 431 "), answer[:100]


def test_a_pipelined_oversized_head_gets_431_after_the_request_before_it(port: int) -> None:
    with _connect(port) as conn:
        conn.sendall(HEALTH + b"\r\n" + HEALTH + BIG + b"\r\n")
        pending = bytearray()
        first = read_response(conn, pending)
        rest, _ = until_closed(conn)
    assert first.startswith(b"HTTP/1.1 200 "), first[:100]
    assert (bytes(pending) + rest).startswith(b"HTTP/1.1 431 ")


def test_a_body_with_blank_lines_is_not_counted_as_a_head(port: int) -> None:
    # A 20 KB body full of CRLFCRLF (ignored by /health), then a second request: both
    # answered, neither 431.
    body = b"\r\n\r\n" * 5000
    post = b"GET /health HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body)
    with _connect(port) as conn:
        conn.sendall(post + HEALTH + b"\r\n")
        pending = bytearray()
        answers = [read_response(conn, pending) for _ in range(2)]
    assert [a.split(b" ", 2)[1] for a in answers] == [b"200", b"200"], answers


def test_half_a_head_gets_408_after_the_head_timeout(port: int) -> None:
    with _connect(port) as conn:
        conn.sendall(HEALTH + b"X-Slow: ")
        answer, waited = until_closed(conn)
    assert answer.startswith(b"HTTP/1.1 408 "), answer[:100]
    assert b"\r\nconnection: close\r\n" in answer
    assert 0.8 < waited < 3


def test_a_connection_that_sends_nothing_is_closed(port: int) -> None:
    with _connect(port) as conn:
        answer, waited = until_closed(conn)
    assert answer == b"" and 0.8 < waited < 3


def test_an_idle_keep_alive_connection_is_closed_after_keep_alive_timeout(port: int) -> None:
    with _connect(port) as conn:
        conn.sendall(HEALTH + b"\r\n")
        assert read_response(conn).startswith(b"HTTP/1.1 200 ")
        answer, waited = until_closed(conn)
    assert answer == b"" and 0.8 < waited < 3


def test_a_second_head_that_stalls_on_a_kept_alive_connection_gets_408(port: int) -> None:
    with _connect(port) as conn:
        conn.sendall(HEALTH + b"\r\n")
        assert read_response(conn).startswith(b"HTTP/1.1 200 ")
        conn.sendall(HEALTH)
        answer, waited = until_closed(conn)
    assert answer.startswith(b"HTTP/1.1 408 ") and waited < 3


def test_the_head_timeout_reaches_every_worker(stack: Stack, tmp_path: Path) -> None:
    # uvicorn spawns workers that import the protocol anew: the setting must reach them
    # (the default, 10 s, would outlast the socket's 5 s here).
    env = stack_support.verifier_env(stack.redis_url, stack.issuer_url, **QUICK)
    verifier: ServiceProcess = start_verifier(env, tmp_path, workers=2)
    try:
        # Several connections, so both workers are likely to take some.
        conns = [_connect(verifier.port) for _ in range(4)]
        for conn in conns:
            conn.sendall(HEALTH)
        started = time.monotonic()
        for conn in conns:
            with conn:
                answer, _ = until_closed(conn)
                assert answer.startswith(b"HTTP/1.1 408 ")
        assert time.monotonic() - started < 3
    finally:
        verifier.stop()
