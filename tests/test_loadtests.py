"""The load test's users against a real stack, and its checks against wrong answers.

Locust monkey-patches the standard library with gevent on import, so it only ever runs in a
subprocess here; the checks and the bench's table code are plain functions tested in-process.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from bench.common import Result
from bench.issuer_table import Row, Target, format_table, median
from bench.wrk_post import parse_output, unused
from loadtests import checks
from loadtests.pool import PoolSpec, TokenPool, mint_pool
from loadtests.run import ROOT, locust_command, locust_env
from loadtests.stack import OTHER_RESOURCE, RunningStack, running
from loadtests.summary import failure_count, summary

CHALLENGE = {"WWW-Authenticate": 'Bearer error="invalid_token", resource_metadata="x"'}


def test_checks_flag_wrong_answers() -> None:
    assert checks.check_verify("revoked", 200, {"X-User-Id": "github|a"}, None) is not None
    assert checks.check_verify("expired", 401, CHALLENGE, None) is None
    assert checks.check_verify("wrong_service", 401, {}, None) is not None  # no challenge
    assert checks.check_verify("revoked", 503, CHALLENGE, None) is not None
    assert checks.check_verify("valid", 200, {}, None) == "200 without X-User-Id"
    assert checks.check_verify("valid", 200, {"x-user-id": "github|b"}, "github|a") is not None
    assert checks.check_verify("valid", 200, {"X-User-Id": "github|a"}, "github|a") is None
    assert checks.check_proxied("valid", 401, {}) is not None
    assert checks.check_proxied("revoked", 200, {}) is not None
    assert checks.check_introspection("revoked", 200, {"active": True}, {}) is not None
    live = {"active": True, "sub": "github|a", "client_id": "c"}
    assert checks.check_introspection("valid", 200, live, {"sub": "github|a"}) is None
    assert checks.check_introspection("valid", 200, live, {"client_id": "d"}) is not None
    assert checks.check_client_read(200, {"client_id": "c", "client_secret": "s"}, "c")
    assert checks.check_token_response(200, {"token_type": "Bearer", "access_token": "a",
                                              "refresh_token": "r"}, "r")  # fmt: skip
    assert checks.check_refused_grant(200, {}) is not None


def test_bench_table_ratios_and_supply_bookkeeping() -> None:
    bare = Result("bare", 1000.0, 1.0, 2.0, 0, 0, 200)
    fast = Row(Result("discovery", 850.0, 1.0, 2.0, 0, 0, 200), bare, Target(min_ratio=0.8))
    slow = Row(Result("jwks", 700.0, 1.0, 2.0, 0, 0, 200), bare, Target(min_ratio=0.8))
    ran_out = Row(Result("token", 3000.0, 1.0, 2.0, 0, 5, 200), bare, Target(min_rps=2000))
    assert fast.ratio == pytest.approx(0.85) and fast.meets is True
    assert slow.meets is False and ran_out.meets is False and not ran_out.valid
    assert Row(bare, None).ratio is None and Row(bare, None).meets is None
    lines = format_table("t", [Row(bare, None), fast, slow, ran_out], workers=2)
    assert "0.85" in lines[3] and "yes" in lines[3] and "NO" in lines[4] and "5 non-2xx" in lines[5]
    runs = [dataclasses.replace(bare, rps=r) for r in (900.0, 1200.0, 1000.0)]
    assert median("bare", runs).rps == 1000.0
    out = 'USED 0 3\nUSED 1 1\nBENCH {"requests":500,"duration_us":2000000,"p50":1500,'
    out += '"p99":9000,"errors":0,"non2xx":0}\n'
    run = parse_output("x", out)
    assert run.result.rps == 250.0 and run.result.p99_ms == 9.0 and run.used == {0: 3, 1: 1}
    # Thread 0 took lines 0, 2, 4 of a 2-thread split, thread 1 took line 1: 3, 5, 6 are left.
    assert unused([str(n) for n in range(7)], run.used) == ["3", "5", "6"]


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[RunningStack, Path]]:
    directory = tmp_path_factory.mktemp("loadtest")
    with running(directory / "stack", proxy=False) as running_stack:
        counts = {"valid": 2, "expired": 1, "revoked": 1, "wrong_service": 1}
        spec = PoolSpec(running_stack.issuer_url, running_stack.resource, OTHER_RESOURCE, counts,
                        short_lived_issuer_url=running_stack.short_lived_issuer_url)  # fmt: skip
        mint_pool(spec).save(directory / "pool.json")
        yield running_stack, directory


def _locust(stack: RunningStack, pool: Path, prefix: Path, seconds: int, *classes: str,
            **env: str) -> list[str]:  # fmt: skip
    args = argparse.Namespace(users=len(classes) or 8, spawn_rate=10, duration=seconds,
                              users_classes=list(classes))  # fmt: skip
    full_env = {**os.environ, **locust_env(stack, pool, proxied=False), **env}
    subprocess.run(locust_command(args, prefix, []), env=full_env, cwd=ROOT, check=False,
                   timeout=seconds + 60, capture_output=True)  # fmt: skip
    return summary(prefix)


def test_every_user_class_runs_with_correct_answers(
    stack: tuple[RunningStack, Path],
) -> None:
    running_stack, directory = stack
    prefix = directory / "all"
    lines = _locust(
        running_stack, directory / "pool.json", prefix, 6, **{"LOADTEST_WAIT_MAX": "0.05"}
    )
    text = "\n".join(lines)
    for name in ("/verify [valid]", "/verify [revoked]", "/introspect", "/register/{id} DELETE",
                 "flow (complete)"):  # fmt: skip
        assert name in text, text
    assert failure_count(prefix) == 0, text


def test_a_refused_token_answered_200_is_a_failure(stack: tuple[RunningStack, Path]) -> None:
    """A valid token labelled "revoked": the verifier rightly answers 200, which the check for
    a revoked token must count as a failure (as it would a verifier that ignores revocation)."""
    running_stack, directory = stack
    pool = TokenPool.load(directory / "pool.json")
    valid = pool.of_kind("valid")[0]
    pool.tokens = [dataclasses.replace(valid, kind="revoked")]
    pool.save(directory / "mislabelled.json")
    prefix = directory / "mislabelled"
    only_revoked = {"LOADTEST_VALID_RATIO": "0", "LOADTEST_EXPIRED_RATIO": "0",
                    "LOADTEST_WRONG_SERVICE_RATIO": "0", "LOADTEST_REVOKED_RATIO": "1"}  # fmt: skip
    lines = _locust(running_stack, directory / "mislabelled.json", prefix, 3, "VerifierUser",
                    **only_revoked)  # fmt: skip
    assert failure_count(prefix) > 0, "\n".join(lines)
    assert "revoked token accepted (200)" in "\n".join(lines)
