"""Time and randomness as parameters, so tests can freeze them."""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable

Clock = Callable[[], float]
RandomBytes = Callable[[int], bytes]


def system_clock() -> float:
    return time.time()


def system_random(n: int) -> bytes:
    return secrets.token_bytes(n)
