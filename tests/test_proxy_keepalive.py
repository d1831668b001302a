"""The shipped nginx and Caddy configs keep their connections to the verifier alive.

A new connection costs the verifier about four token checks (docs: Performance). With the
proxies' defaults (nginx ``keepalive 32``, Caddy 32 idle connections per host) 15-22 % of auth
calls from 64 concurrent clients opened one; the shipped configs keep 128. Counted on the
verifier (``authgate_verifier_connections_accepted_total`` against its /verify count) while wrk
drives 64 connections through each proxy. Traefik's ForwardAuth has no such setting (Go's 2
idle connections per host); its share is printed by ``make bench``, not asserted.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from bench.common import wrk_path
from testsupport.gateway import Gateway, running_gateway
from testsupport.proxies import MCP_A, MCP_A_HOST, SHIPPED, installed
from testsupport.service import ServiceProcess, python_module

KEPT_ALIVE = ("nginx", "caddy")


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    directory = tmp_path_factory.mktemp("keepalive")
    upstream = ServiceProcess(
        python_module("bench.bare_app", "--port", "{port}"),
        {},
        directory / "up.log",
        health_path="/",
    ).start()
    try:
        ports = dict.fromkeys(("mcp_a", "github", "jira"), upstream.port)
        with running_gateway(directory, upstreams=ports, kinds=KEPT_ALIVE) as gw:
            yield gw
    finally:
        upstream.stop()


def _counts(verifier_url: str) -> tuple[float, float]:
    text = httpx.get(verifier_url + "/metrics", timeout=10).text
    values = dict(line.rsplit(" ", 1) for line in text.splitlines() if not line.startswith("#"))
    return (
        float(values["authgate_verifier_connections_accepted_total"]),
        float(values["authgate_verifier_verify_duration_seconds_count"]),
    )


@pytest.mark.parametrize("proxy", [p for p in KEPT_ALIVE if installed(p)])
def test_auth_calls_reuse_connections_to_the_verifier(
    gateway: Gateway, proxy: str, tmp_path: Path
) -> None:
    assert gateway.stack.verifier is not None
    verifier = gateway.stack.verifier.url
    script = tmp_path / "headers.lua"
    token = gateway.mint(MCP_A).token
    script.write_text(
        f'wrk.headers["Host"] = "{MCP_A_HOST}"\nwrk.headers["Authorization"] = "Bearer {token}"\n'
    )
    accepted, verified = _counts(verifier)
    args = [wrk_path(), "-t2", "-c64", "-d2s", "-s", str(script), gateway.url(proxy) + "/mcp"]
    out = subprocess.run(args, capture_output=True, text=True, check=True).stdout
    assert "Non-2xx" not in out, out
    accepted_after, verified_after = _counts(verifier)
    calls = verified_after - verified
    # The first scrape's connection is counted too.
    new = accepted_after - accepted - 1
    assert calls > 500, out
    assert new / calls < 0.1, f"{new:.0f} new connections for {calls:.0f} auth calls"


def test_the_shipped_configs_keep_128_idle_connections_to_the_verifier() -> None:
    nginx = SHIPPED["nginx"].read_text()
    verifier_upstream = nginx.split("upstream authgate_verifier {", 1)[1].split("\n}", 1)[0]
    assert "keepalive 128;" in verifier_upstream
    caddy = SHIPPED["caddy"].read_text()
    forward_auth = caddy.split("forward_auth {$VERIFIER} {", 1)[1].split("\n\t\t\t}", 1)[0]
    assert "keepalive_idle_conns_per_host 128" in forward_auth
