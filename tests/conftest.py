"""Cross-service fixtures: the gateway (issuer, verifier, Redis, GitHub stand-in) behind real
Traefik, nginx and Caddy processes running the shipped configs (``deploy/``), with an upstream
that records what the proxies forward to ``mcp-a.example.com``."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from testsupport.echo_upstream import EchoUpstream
from testsupport.gateway import Gateway, running_gateway
from testsupport.proxies import PROXIES

# Every resource needs the default scope: a token with a narrower scope gets 403
# insufficient_scope, the step-up answer whose WWW-Authenticate nginx would otherwise drop.
REQUIRED_SCOPES = "*=mcp:*"


@pytest.fixture(scope="module")
def http() -> Iterator[httpx.Client]:
    """One HTTP client per test module (tests that need a fresh one per test define their own)."""
    with httpx.Client(timeout=10) as client:
        yield client


@pytest.fixture(scope="module")
def echo_upstream() -> Iterator[EchoUpstream]:
    upstream = EchoUpstream().start()
    yield upstream
    upstream.stop()


@pytest.fixture(scope="module")
def gateway(
    tmp_path_factory: pytest.TempPathFactory, echo_upstream: EchoUpstream
) -> Iterator[Gateway]:
    # FORWARD_AUTH_TOKEN_HEADER=false (the default, said here because the tests depend on it):
    # the verifier then omits X-Auth-Token, the case in which Caddy 2.6 would forward a literal
    # placeholder; the tests check that none gets through.
    verifier_env = {"REQUIRED_SCOPES": REQUIRED_SCOPES, "FORWARD_AUTH_TOKEN_HEADER": "false"}
    # The tools.example.com services answer from an upstream of their own, which these tests
    # never expect to reach.
    others = [EchoUpstream().start() for _ in range(2)]
    ports = {"mcp_a": echo_upstream.port, "github": others[0].port, "jira": others[1].port}
    try:
        with running_gateway(
            tmp_path_factory.mktemp("gateway"), upstreams=ports, verifier_env=verifier_env
        ) as gw:
            yield gw
    finally:
        for upstream in others:
            upstream.stop()


@pytest.fixture(params=PROXIES)
def proxy(request: pytest.FixtureRequest) -> str:
    kind: str = request.param
    return kind
