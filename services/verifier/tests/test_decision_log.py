"""LOG_DECISIONS: one line per decision when asked, never token material; the start-up line."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import orjson
import pytest

from authgate_shared.logs import JsonFormatter
from authgate_verifier.app import VerifierApp
from authgate_verifier.settings import ConfigError, VerifierSettings
from testsupport.tokens import Minted, TokenMinter
from testsupport.verifier import MCP_A, MCP_B, bearer, call, running, verifier_env, verify_path

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
async def minted(redis_url: str, keys_dir: Path) -> AsyncIterator[tuple[Minted, Minted]]:
    async with TokenMinter.open(redis_url, keys_dir) as minter:
        yield await minter.mint(resources=[MCP_A]), await minter.mint(resources=[MCP_B])


@pytest.fixture
def decision_lines(caplog: pytest.LogCaptureFixture) -> Callable[[], list[dict[str, Any]]]:
    """The decision lines logged so far, as the JSON formatter writes them."""
    caplog.set_level(logging.INFO, logger="authgate")

    def read() -> list[dict[str, Any]]:
        return [
            orjson.loads(JsonFormatter().format(record))
            for record in caplog.records
            if record.name == "authgate.verifier.decisions"
        ]

    return read


def app_with(redis_url: str, **env: str) -> VerifierApp:
    settings = VerifierSettings.from_env(verifier_env(redis_url, RESOURCE_SOURCE="address", **env))
    shares = iter([0.2, 0.7, 0.2, 0.7])
    return VerifierApp(settings, random=lambda: next(shares))


async def requests(app: VerifierApp, a: Minted, b: Minted) -> None:
    async with running(app):
        assert (await call(app, verify_path(MCP_A), bearer(a.token))).status == 200
        assert (await call(app, verify_path(MCP_A), bearer(a.token))).status == 200
        assert (await call(app, verify_path(MCP_A), bearer(b.token))).status == 401
        assert (await call(app, verify_path(MCP_A), {})).status == 401
        assert (await call(app, "/verify", bearer(a.token))).status == 400


async def test_off_by_default(
    redis_url: str, minted: tuple[Minted, Minted], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="authgate")
    await requests(app_with(redis_url), *minted)
    assert not [r for r in caplog.records if r.name == "authgate.verifier.decisions"]


async def test_denied_logs_each_refusal_with_its_reason_and_no_token(
    redis_url: str,
    minted: tuple[Minted, Minted],
    decision_lines: Callable[[], list[dict[str, Any]]],
) -> None:
    a, b = minted
    await requests(app_with(redis_url, LOG_DECISIONS="denied"), a, b)
    lines = decision_lines()
    got = [(line["status"], line["reason"], line["resource"]) for line in lines]
    assert got == [
        (401, "wrong_audience", MCP_A),
        (401, "no_token", MCP_A),
        (400, "bad_request", None),
    ]
    assert lines[0]["client_id"] == "test-client" and lines[0]["user"] == "github|octocat"
    assert lines[1]["user"] is None
    text = orjson.dumps(lines).decode()
    for token in (a.token, b.token):
        for part in token.split("."):
            assert part not in text


async def test_all_samples_allowed_decisions(
    redis_url: str,
    minted: tuple[Minted, Minted],
    decision_lines: Callable[[], list[dict[str, Any]]],
) -> None:
    await requests(app_with(redis_url, LOG_DECISIONS="all", LOG_DECISIONS_SAMPLE="0.5"), *minted)
    lines = decision_lines()
    allowed = [line for line in lines if line["decision"] == "allowed"]
    # Shares 0.2 (logged) then 0.7 (not): one of the two allowed requests; every denial.
    assert len(allowed) == 1 and allowed[0]["resource"] == MCP_A
    assert len([line for line in lines if line["decision"] == "denied"]) == 3


async def test_bad_values_are_named() -> None:
    with pytest.raises(ConfigError) as caught:
        VerifierSettings.from_env(
            verifier_env("redis://127.0.0.1:1/0", LOG_DECISIONS="some", LOG_DECISIONS_SAMPLE="2")
        )
    assert "LOG_DECISIONS must be one of" in str(caught.value)
    assert "LOG_DECISIONS_SAMPLE" in str(caught.value)


async def test_the_start_up_line_says_how_it_runs_and_holds_no_secret(
    redis_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="authgate")
    secret = "s" * 40
    settings = VerifierSettings.from_env(
        verifier_env(
            redis_url.replace("redis://", "redis://:hunter2-password@"),
            JWT_ALGORITHM="HS256",
            GATEWAY_JWT_SECRET=secret,
            ALLOWED_RESOURCES=MCP_A,
            REVOCATION_CACHE_MS="50",
        )
    )
    app = VerifierApp(settings)
    await app.startup()
    await app.shutdown()
    start = next(r for r in caplog.records if getattr(r, "fields", {}).get("event") == "startup")
    line = JsonFormatter().format(start)
    fields = orjson.loads(line)
    assert fields["algorithm"] == "HS256" and fields["keys"] == "configured key"
    assert fields["issuer"] == "https://auth.example.com"
    assert fields["redis"].startswith("standalone redis://:***@127.0.0.1:")
    assert fields["resource_source"] == "forwarded-headers" and fields["services"] == 1
    assert fields["revocation_cache_ms"] == 50
    assert secret not in line and "hunter2" not in line
