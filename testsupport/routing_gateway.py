"""The example gateway of the proxy tests: the shipped ``deploy/`` configs of Traefik, nginx and
Caddy in front of the real issuer and verifier, ``mcp-a.example.com`` and ``tools.example.com``
(``/github``, ``/jira``), each service its own recording upstream, so every test can say which
upstream (if any) a request reached. Used by ``tests/test_proxy_routing.py`` and
``tests/test_proxy_discovery.py``."""

from __future__ import annotations

import contextlib
import itertools
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from .echo_upstream import EchoUpstream, Received
from .gateway import Gateway, running_gateway
from .proxies import PROXIES

SERVICES = ("mcp_a", "github", "jira")
IDENTITY = {
    "X-User-Id": "github|octocat",
    "X-User-Name": "octocat",
    "X-Client-Id": "test-client",
    "X-Scopes": "mcp:*",
}


@dataclass
class Upstreams:
    by_name: dict[str, EchoUpstream]

    def counts(self) -> dict[str, int]:
        return {name: len(u.received) for name, u in self.by_name.items()}

    def reached_since(self, before: dict[str, int]) -> list[str]:
        return [name for name, count in self.counts().items() if count > before[name]]


@contextlib.contextmanager
def recording_upstreams() -> Iterator[Upstreams]:
    started = {name: EchoUpstream().start() for name in SERVICES}
    try:
        yield Upstreams(started)
    finally:
        for upstream in started.values():
            upstream.stop()


@contextlib.contextmanager
def example_gateway(directory: Path, upstreams: Upstreams) -> Iterator[Gateway]:
    """Every proxy in front of ``upstreams``. FORWARD_AUTH_TOKEN_HEADER=true: the verifier then
    sends every identity header, so each one has a value of its own that no client spelling may
    add to; REQUIRED_SCOPES=*=mcp:* gives every challenge its ``scope``."""
    env = {"REQUIRED_SCOPES": "*=mcp:*", "FORWARD_AUTH_TOKEN_HEADER": "true"}
    ports = {name: u.port for name, u in upstreams.by_name.items()}
    with running_gateway(directory, upstreams=ports, verifier_env=env) as gateway:
        assert set(gateway.proxies) == set(PROXIES), "every proxy must be installed"
        yield gateway


def status(response: bytes) -> int:
    assert response.startswith(b"HTTP/1.1 "), response[:80]
    return int(response.split(b" ", 2)[1])


def header(response: bytes, name: str) -> list[str]:
    head = response.split(b"\r\n\r\n", 1)[0].decode("latin-1").split("\r\n")[1:]
    return [
        line.split(":", 1)[1].strip()
        for line in head
        if line.lower().startswith(name.lower() + ":")
    ]


def spellings(name: str) -> Iterator[str]:
    """Every mix of "-" and "_" between the words of ``name``, each in three cases."""
    words = name.split("-")
    for separators in itertools.product("-_", repeat=len(words) - 1):
        spelled = words[0] + "".join(s + w for s, w in zip(separators, words[1:], strict=True))
        yield from dict.fromkeys((spelled, spelled.lower(), spelled.upper()))


def wsgi_environ(received: Received) -> dict[str, list[str]]:
    """The request's headers as a CGI/WSGI server names them (PEP 3333: HTTP_ + upper-case,
    "-" -> "_"), every value kept: two spellings landing on one key would both be here."""
    environ: dict[str, list[str]] = {}
    for name, value in received.headers:
        environ.setdefault("HTTP_" + name.upper().replace("-", "_"), []).append(value)
    return environ
