"""Cross-service fixtures: the gateway (issuer, verifier, Redis, GitHub stand-in) behind real
nginx and Caddy processes, with an upstream that records what the proxies forward."""

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
    # FORWARD_AUTH_TOKEN_HEADER=false: the verifier then omits X-Auth-Token, the case in which
    # Caddy 2.6 would forward a literal placeholder; the tests check that none gets through.
    verifier_env = {"REQUIRED_SCOPES": REQUIRED_SCOPES, "FORWARD_AUTH_TOKEN_HEADER": "false"}
    with running_gateway(
        tmp_path_factory.mktemp("gateway"),
        upstream_port=echo_upstream.port,
        verifier_env=verifier_env,
    ) as gw:
        yield gw


@pytest.fixture(params=PROXIES)
def proxy(request: pytest.FixtureRequest) -> str:
    kind: str = request.param
    return kind
