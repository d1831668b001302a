"""The SSRF-safe document fetcher against a real local HTTPS server with its own test CA.

The server (testsupport.https_documents) stands in for a client's web host; TLS is real
(certificate chain from the test CA, host name checked through SNI). Resolution goes through
the fetcher's ``resolve`` parameter where a test needs a name to point somewhere on purpose.
"""

from __future__ import annotations

import asyncio
import ipaddress
from collections.abc import Iterator
from pathlib import Path

import pytest

from authgate_issuer.outbound.addresses import refusal
from authgate_issuer.outbound.fetch import Fetched, FetchError, fetch_json, open_document_client
from authgate_issuer.outbound.guarded_backend import Resolver
from authgate_issuer.settings import CimdSettings, ConfigError, IssuerSettings
from testsupport.https_documents import DocumentServer
from testsupport.issuer import issuer_env

DOC = {"client_id": "x", "client_name": "Doc"}


@pytest.fixture(scope="module")
def docs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DocumentServer]:
    server = DocumentServer(tmp_path_factory.mktemp("docs"), names=("localhost", "docs.test"))
    yield server.start()
    server.stop()


def cimd(docs: DocumentServer, *, allow_private: bool = True) -> CimdSettings:
    return CimdSettings(
        enabled=True,
        allow_private_addresses=allow_private,
        allowed_hosts=frozenset(),
        trusted_hosts=frozenset(),
        fetch_timeout=2.0,
        max_document_bytes=5120,
        cache_min_seconds=0,
        cache_max_seconds=60,
        negative_cache_seconds=0,
        fetches_per_host_per_minute=100,
        ca_file=docs.ca_file,
    )


def fetch(
    docs: DocumentServer,
    url: str,
    *,
    allow_private: bool = True,
    resolve: Resolver | None = None,
    seconds: float = 2.0,
    times: int = 1,
) -> Fetched:
    async def go() -> Fetched:
        settings = cimd(docs, allow_private=allow_private)
        client = (
            open_document_client(settings)
            if resolve is None
            else open_document_client(settings, resolve=resolve)
        )
        async with client:
            for _ in range(times - 1):
                await fetch_json(client, url, seconds=seconds, max_bytes=5120)
            return await fetch_json(client, url, seconds=seconds, max_bytes=5120)

    return asyncio.run(go())


def refused(docs: DocumentServer, url: str, **kwargs: object) -> str:
    with pytest.raises(FetchError) as caught:
        fetch(docs, url, **kwargs)  # type: ignore[arg-type]
    return str(caught.value)


def test_fetches_json_over_verified_tls_sending_nothing_of_ours(docs: DocumentServer) -> None:
    url = docs.serve("/ok.json", DOC, headers={"Set-Cookie": "tracker=1; Path=/"})
    got = fetch(docs, url, times=2)
    assert got.body == b'{"client_id":"x","client_name":"Doc"}'
    seen = [s for s in docs.seen if s.path == "/ok.json"]
    assert len(seen) == 2
    for request in seen:
        assert request.headers["accept"] == "application/json"
        # The cookie set by the first answer is not sent back; no credentials of any kind.
        assert "cookie" not in request.headers and "authorization" not in request.headers


def test_redirects_are_not_followed(docs: DocumentServer) -> None:
    target = docs.serve("/target.json", DOC)
    url = docs.serve("/moved", b"", status=302, headers={"Location": target})
    assert "redirect (HTTP 302)" in refused(docs, url)
    assert docs.hits["/target.json"] == 0


@pytest.mark.parametrize("status", [201, 204, 404, 500])
def test_only_200_counts(docs: DocumentServer, status: int) -> None:
    url = docs.serve(f"/status-{status}", DOC, status=status)
    assert f"HTTP {status}" in refused(docs, url)


def test_only_json_counts(docs: DocumentServer) -> None:
    url = docs.serve("/page.html", b"<html></html>", headers={"Content-Type": "text/html"})
    assert "application/json" in refused(docs, url)


def test_oversize_is_refused_declared_or_not(docs: DocumentServer) -> None:
    big = b'{"pad":"' + b"x" * 6000 + b'"}'
    declared = docs.serve("/big.json", big)
    streamed = docs.serve("/big-stream.json", big, send_length=False)
    assert "larger than 5120 bytes" in refused(docs, declared)
    assert "larger than 5120 bytes" in refused(docs, streamed)
    small = docs.serve("/small-stream.json", DOC, send_length=False)
    assert fetch(docs, small).body.startswith(b'{"client_id"')


def test_a_slow_host_is_cut_off_by_the_overall_timeout(docs: DocumentServer) -> None:
    url = docs.serve("/slow.json", DOC, delay=2.0)
    assert "did not answer within 0.5 s" in refused(docs, url, seconds=0.5)


def test_plain_http_is_refused(docs: DocumentServer) -> None:
    assert "https" in refused(docs, f"http://localhost:{docs.port}/ok.json")


def test_loopback_is_refused_unless_allowed(docs: DocumentServer) -> None:
    url = docs.serve("/private.json", DOC)
    before = docs.hits["/private.json"]
    assert "loopback address" in refused(docs, url, allow_private=False)
    assert "loopback address" in refused(
        docs, docs.url("/private.json", "127.0.0.1"), allow_private=False
    )
    assert docs.hits["/private.json"] == before  # never connected


def test_the_checked_address_is_the_one_connected_to(docs: DocumentServer) -> None:
    """A name resolves once per connection; the connection goes to that address and TLS is
    verified for the name (the certificate covers docs.test)."""
    calls: list[str] = []

    async def resolve(host: str, port: int) -> list[str]:
        calls.append(host)
        return ["127.0.0.1"]

    url = docs.serve("/named.json", DOC).replace("localhost", "docs.test")
    assert fetch(docs, url, resolve=resolve).body.startswith(b"{")
    assert calls == ["docs.test"]
    # The same name pointing at the loopback address is refused when private addresses are.
    assert "loopback address" in refused(docs, url, resolve=resolve, allow_private=False)


def test_a_mixed_dns_answer_is_refused(docs: DocumentServer) -> None:
    async def rebinding(host: str, port: int) -> list[str]:
        return ["93.184.215.14", "10.0.0.7"]

    url = docs.serve("/mixed.json", DOC).replace("localhost", "docs.test")
    message = refused(docs, url, resolve=rebinding, allow_private=False)
    assert "private or non-global address (10.0.0.7)" in message


def test_the_certificate_must_name_the_host(docs: DocumentServer) -> None:
    async def resolve(host: str, port: int) -> list[str]:
        return ["127.0.0.1"]

    url = docs.serve("/wrong-name.json", DOC).replace("localhost", "other.test")
    message = refused(docs, url, resolve=resolve)
    assert "could not be fetched" in message or "TLS" in message
    assert docs.hits["/wrong-name.json"] == 0


REFUSED = [
    ("127.0.0.1", "loopback"),
    ("::1", "loopback"),
    ("10.1.2.3", "private"),
    ("172.16.0.1", "private"),
    ("192.168.1.1", "private"),
    ("100.64.0.1", "non-global"),
    ("169.254.169.254", "link-local"),
    ("fe80::1", "link-local"),
    ("fc00::1", "private"),
    ("0.0.0.0", "unspecified"),
    ("::", "unspecified"),
    ("224.0.0.1", "multicast"),
    ("ff02::1", "multicast"),
    ("240.0.0.1", "reserved"),
    ("::ffff:127.0.0.1", "IPv4-mapped"),
    ("::ffff:8.8.8.8", "IPv4-mapped"),
    ("64:ff9b::a00:1", "NAT64"),
    ("2002:7f00:1::1", "6to4"),
    ("192.0.2.1", "non-global"),
]


@pytest.mark.parametrize(("address", "why"), REFUSED)
def test_addresses_outside_the_public_internet_are_refused(address: str, why: str) -> None:
    reason = refusal(ipaddress.ip_address(address))
    assert reason is not None and why in reason


@pytest.mark.parametrize("address", ["93.184.215.14", "8.8.8.8", "2606:4700:4700::1111"])
def test_public_addresses_pass(address: str) -> None:
    assert refusal(ipaddress.ip_address(address)) is None


def test_the_private_flag_admits_loopback_and_private_but_not_link_local() -> None:
    for address in ("127.0.0.1", "::1", "10.0.0.1", "fd00::1"):
        assert refusal(ipaddress.ip_address(address), allow_private=True) is None
    for address in ("169.254.169.254", "0.0.0.0", "224.0.0.1", "::ffff:127.0.0.1"):
        assert refusal(ipaddress.ip_address(address), allow_private=True) is not None


def test_settings_name_the_ca_bundle(tmp_path: Path) -> None:

    env = issuer_env("redis://127.0.0.1:1/0", tmp_path)
    ca = tmp_path / "ca.pem"
    ca.write_text("x")
    assert IssuerSettings.from_env({**env, "SSL_CERT_FILE": str(ca)}).cimd.ca_file == ca
    with pytest.raises(ConfigError, match="SSL_CERT_FILE"):
        IssuerSettings.from_env({**env, "SSL_CERT_FILE": str(tmp_path / "missing.pem")})
