"""Fixtures of the verifier's upstream-injection tests (test_upstream_injection*.py): the
stand-in for the issuer's token exchange, and a policy file with one injecting service."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from testsupport.exchange_stub import POLICY, Exchange


@pytest.fixture
def exchange() -> Iterator[Exchange]:
    stub = Exchange().start()
    yield stub
    stub.stop()


@pytest.fixture
def policy(tmp_path: Path) -> Path:
    path = tmp_path / "policy.yaml"
    path.write_text(POLICY)
    return path
