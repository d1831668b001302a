"""An httpx client whose requests show up in locust's statistics.

FlowUser drives the browser flow with ``testsupport.flows``/``browser_flow``, which speak httpx
(they keep the issuer's ``__Host-`` cookies themselves and read every Set-Cookie header, which
locust's clients fold together). Each request is reported to locust under its path, the query
string dropped so that every login counts under the same few names.
"""

from __future__ import annotations

import time
from typing import Any

import httpx
from locust.env import Environment


class CheckFailed(Exception):
    """A correctness check of a flow step failed (reported to locust as the failure)."""


class TimedClient(httpx.Client):
    def __init__(self, environment: Environment, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.environment = environment

    def send(self, request: httpx.Request, **kwargs: Any) -> httpx.Response:
        started = time.perf_counter()
        name = f"flow {request.method} {request.url.path}"
        try:
            response = super().send(request, **kwargs)
        except httpx.HTTPError as exc:
            self._fire(name, started, 0, exc)
            raise
        failure = None
        if response.status_code >= 500:
            failure = CheckFailed(f"{response.status_code} from {request.url.path}")
        self._fire(name, started, len(response.content), failure)
        return response

    def _fire(self, name: str, started: float, length: int, exc: Exception | None) -> None:
        self.environment.events.request.fire(  # type: ignore[no-untyped-call]
            request_type="flow",
            name=name,
            response_time=(time.perf_counter() - started) * 1000,
            response_length=length,
            exception=exc,
            context={},
        )

    def expect(self, step: str, problem: str | None) -> None:
        """Report a failed check of ``step`` (and stop the flow); nothing when it passed."""
        if problem is not None:
            failure = CheckFailed(f"{step}: {problem}")
            self._fire(f"check: {step}", time.perf_counter(), 0, failure)
            raise failure

    def record(self, name: str, started: float) -> None:
        self._fire(name, started, 0, None)
