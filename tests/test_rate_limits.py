"""Abuse limits on a real issuer process (peer address 127.0.0.1):

* ``/register`` and ``/token``: 429 with ``Retry-After`` per client address (fixed one-minute
  windows in Redis, shared by replicas);
* ``X-Forwarded-For`` believed only when the peer is in ``TRUSTED_PROXIES``, and then only the
  nearest untrusted hop (a client-written left part changes nothing);
* a global cap on registrations per hour, so a flood from many addresses cannot fill Redis;
* oversized bodies refused with 413 before they are read, oversized headers refused by the
  HTTP server.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import redis

from testsupport.issuer import issuer_env, start_issuer
from testsupport.redis_server import RedisServer
from testsupport.service import ServiceProcess
from testsupport.stack import seed_keys

FORM = "application/x-www-form-urlencoded"
GOOD = {"redirect_uris": ["https://app.example.com/cb"], "token_endpoint_auth_method": "none"}


def _issuer(tmp: Path, server: RedisServer, **overrides: str) -> ServiceProcess:
    env = issuer_env(server.url, seed_keys(tmp / "keys"), **overrides)
    return start_issuer(env, tmp, issuer_url_from_port=True)


@pytest.fixture(scope="module")
def direct(
    tmp_path_factory: pytest.TempPathFactory, redis_server: RedisServer
) -> Iterator[ServiceProcess]:
    """No trusted proxies: every request counts for 127.0.0.1, whatever it claims."""
    proc = _issuer(
        tmp_path_factory.mktemp("direct"),
        redis_server,
        REGISTER_RATE_PER_MINUTE="3",
        TOKEN_RATE_PER_MINUTE="3",
    )
    yield proc
    proc.stop()


@pytest.fixture(scope="module")
def proxied(
    tmp_path_factory: pytest.TempPathFactory, redis_server: RedisServer
) -> Iterator[ServiceProcess]:
    """Behind a trusted proxy on 127.0.0.1, with a small registration cap."""
    proc = _issuer(
        tmp_path_factory.mktemp("proxied"),
        redis_server,
        REGISTER_RATE_PER_MINUTE="2",
        MAX_REGISTRATIONS_PER_HOUR="5",
        TRUSTED_PROXIES="127.0.0.1,10.0.0.0/8",
    )
    yield proc
    proc.stop()


def same_window(seconds: int = 60, margin: float = 4.0) -> None:
    """Wait out the end of a fixed window so one burst cannot straddle two windows."""
    left = seconds - time.time() % seconds
    if left < margin:
        time.sleep(left + 0.1)


def register(proc: ServiceProcess, forwarded_for: str | None = None) -> httpx.Response:
    headers = {"X-Forwarded-For": forwarded_for} if forwarded_for else {}
    return httpx.post(f"{proc.url}/register", json=GOOD, headers=headers, timeout=10)


def assert_429(response: httpx.Response, window: int = 60) -> None:
    assert response.status_code == 429, response.text
    assert 1 <= int(response.headers["retry-after"]) <= window
    assert response.json()["error"] == "too_many_requests"
    assert response.headers["cache-control"] == "no-store"


def clients(redis_client: redis.Redis) -> int:
    return sum(1 for _ in redis_client.scan_iter("oauth:client:*"))


def test_register_is_limited_per_address(direct: ServiceProcess, redis_client: redis.Redis) -> None:
    same_window()
    assert [register(direct).status_code for _ in range(3)] == [201, 201, 201]
    assert_429(register(direct))
    # An untrusted peer cannot pick another bucket by claiming another address.
    assert_429(register(direct, "198.51.100.7"))
    assert clients(redis_client) == 3  # refused before anything was stored


def test_token_is_limited_per_address(direct: ServiceProcess, redis_url: str) -> None:
    same_window()
    form = {"grant_type": "refresh_token", "refresh_token": "x.y", "client_id": "nobody"}
    answers = [httpx.post(f"{direct.url}/token", data=form) for _ in range(4)]
    assert [a.status_code for a in answers[:3]] == [401, 401, 401]  # counted, even when failing
    assert_429(answers[3])


def test_forwarded_for_is_believed_only_from_trusted_proxies(
    proxied: ServiceProcess, redis_url: str
) -> None:
    same_window()
    assert [register(proxied, "198.51.100.1").status_code for _ in range(2)] == [201, 201]
    assert_429(register(proxied, "198.51.100.1"))
    assert register(proxied, "198.51.100.2").status_code == 201  # another client, another bucket
    # The client wrote the left part; the proxy appended the real address on the right.
    assert_429(register(proxied, "203.0.113.50, 198.51.100.1"))
    # Our own proxies' hops are skipped to find the client.
    assert_429(register(proxied, "198.51.100.1, 10.1.2.3"))


def test_registrations_are_capped_across_addresses(
    proxied: ServiceProcess, redis_client: redis.Redis
) -> None:
    same_window(3600)
    answers = [register(proxied, f"198.51.100.{i}").status_code for i in range(10, 16)]
    assert answers == [201] * 5 + [429]
    assert_429(register(proxied, "198.51.100.99"), window=3600)
    assert clients(redis_client) == 5


def raw_request(port: int, head: bytes, body: bytes = b"", wait: float = 5.0) -> bytes:
    """Send raw bytes; what the server answers within ``wait`` seconds (b'' if it closed)."""
    with socket.create_connection(("127.0.0.1", port), timeout=wait) as conn:
        try:
            conn.sendall(head + body)
            return conn.recv(4096)
        except (ConnectionResetError, BrokenPipeError):
            return b"reset"


@pytest.mark.parametrize(
    ("path", "media_type"),
    [
        ("/register", "application/json"),
        ("/token", FORM),
        ("/revoke", FORM),
        ("/introspect", FORM),
    ],
)
def test_oversized_bodies_are_refused_before_they_are_read(
    direct: ServiceProcess, redis_url: str, path: str, media_type: str
) -> None:
    # 100 MB announced, none sent: the answer must come without waiting for the body.
    head = (
        f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: {media_type}\r\n"
        "Content-Length: 100000000\r\n\r\n"
    ).encode()
    started = time.monotonic()
    answer = raw_request(direct.port, head)
    assert answer.startswith(b"HTTP/1.1 413"), answer[:100]
    assert time.monotonic() - started < 2
    # Chunked (no length announced): counted while streaming, refused past the limit.
    chunk = b"x" * 70_000
    chunked = (
        f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: {media_type}\r\n"
        "Transfer-Encoding: chunked\r\n\r\n"
    ).encode()
    body = f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n0\r\n\r\n"
    assert raw_request(direct.port, chunked, body).startswith(b"HTTP/1.1 413")


@pytest.mark.parametrize(
    "head",
    [
        b"X-Big: " + b"a" * 200_000 + b"\r\n",
        b"".join(b"X-H%d: v\r\n" % i for i in range(50_000)),
    ],
    ids=["one-200KB-header", "fifty-thousand-headers"],
)
def test_oversized_headers_are_refused(direct: ServiceProcess, head: bytes) -> None:
    request = b"GET /health HTTP/1.1\r\nHost: x\r\n" + head + b"\r\n"
    answer = raw_request(direct.port, request)
    assert not answer.startswith(b"HTTP/1.1 200"), "an oversized header block was accepted"
    assert answer == b"reset" or answer == b"" or answer.split(b" ")[1] in (b"400", b"431")
