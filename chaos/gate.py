"""Pausing the load for a consistent snapshot of Redis (the data check around a Redis crash)."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator


class Gate:
    """Workers take a turn per operation; ``paused()`` waits until none is in flight and lets
    none start until it ends."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._active = 0
        self._closed = False

    @contextlib.contextmanager
    def turn(self) -> Iterator[None]:
        with self._cond:
            self._cond.wait_for(lambda: not self._closed)
            self._active += 1
        try:
            yield
        finally:
            with self._cond:
                self._active -= 1
                self._cond.notify_all()

    @contextlib.contextmanager
    def paused(self) -> Iterator[None]:
        with self._cond:
            self._closed = True
            self._cond.wait_for(lambda: self._active == 0)
        try:
            yield
        finally:
            with self._cond:
                self._closed = False
                self._cond.notify_all()
