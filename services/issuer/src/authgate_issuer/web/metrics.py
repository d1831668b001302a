"""Prometheus metrics of the issuer, on a registry of its own per app.

Each app gets its own ``CollectorRegistry`` (not prometheus-client's global one), so tests and
several apps in one process never share counters. Code elsewhere records events through the
module functions (``metrics.token_issued()``, ...): the middleware puts the current app's
metrics in a context variable for the duration of each request, and outside a request the calls
do nothing.

Metrics are per process. With ``uvicorn --workers N`` a scrape reaches one worker at random, so
run one worker per container and scale with replicas (each scraped on its own) when metrics
matter; prometheus-client's multiprocess mode is not used.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from contextvars import ContextVar

from fastapi import FastAPI
from prometheus_client import CollectorRegistry, Counter, Histogram, disable_created_metrics
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ..endpoints import metrics as metrics_endpoint
from ..settings import IssuerSettings

# Every counter and histogram would otherwise carry a `*_created` series (a timestamp per
# label set) that no dashboard reads; off for the whole process, which serves only this app.
disable_created_metrics()  # type: ignore[no-untyped-call]

METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS", "PATCH"})
# Requests that match no route share one label, so scanners cannot grow the label set.
UNMATCHED = "<unmatched>"


class IssuerMetrics:
    def __init__(self) -> None:
        self.registry = registry = CollectorRegistry()
        self.requests = Counter(
            "authgate_issuer_requests",
            "HTTP requests by route template, method and status",
            ["route", "method", "status"],
            registry=registry,
        )
        self.latency = Histogram(
            "authgate_issuer_request_duration_seconds",
            "Time to the end of the response, by route template and method",
            ["route", "method"],
            registry=registry,
        )
        self.tokens_issued = Counter(
            "authgate_issuer_tokens_issued",
            "Token pairs issued for an authorization code",
            registry=registry,
        )
        self.tokens_refreshed = Counter(
            "authgate_issuer_tokens_refreshed", "Successful refresh-token grants", registry=registry
        )
        self.tokens_revoked = Counter(
            "authgate_issuer_tokens_revoked",
            "Access tokens revoked, by reason",
            ["reason"],
            registry=registry,
        )
        self.registrations = Counter(
            "authgate_issuer_registrations", "Clients registered", registry=registry
        )
        self.github_latency = Histogram(
            "authgate_issuer_github_request_duration_seconds",
            "GitHub calls (token exchange, user lookup), successful or not",
            ["call"],
            registry=registry,
        )
        self.github_errors = Counter(
            "authgate_issuer_github_errors",
            "Failed GitHub calls by kind (timeout, transport, http_<status>, oauth error code)",
            ["call", "kind"],
            registry=registry,
        )

        self.client_documents = Counter(
            "authgate_issuer_client_document_fetches",
            "Client metadata document fetches by outcome: ok, fetch_failed (transport, status,"
            " size, address or time refused), invalid (an unusable document), budget (the"
            " host's fetch budget spent, nothing fetched)",
            ["outcome"],
            registry=registry,
        )
        self.upstream = Counter(
            "authgate_issuer_upstream_tokens",
            "The upstream token vault by event (exchange, refresh) and outcome (ok, denied,"
            " no_token, revoked, unavailable)",
            ["event", "outcome"],
            registry=registry,
        )

    def observe(self, route: str, method: str, status: int, seconds: float) -> None:
        """One finished request (route template, method, status, time to the end)."""
        self.requests.labels(route, method, str(status)).inc()
        self.latency.labels(route, method).observe(seconds)


_CURRENT: ContextVar[IssuerMetrics | None] = ContextVar("authgate_metrics", default=None)


def current() -> IssuerMetrics | None:
    return _CURRENT.get()


def token_issued() -> None:
    if (m := _CURRENT.get()) is not None:
        m.tokens_issued.inc()


def token_refreshed() -> None:
    if (m := _CURRENT.get()) is not None:
        m.tokens_refreshed.inc()


def tokens_revoked(count: int = 1, reason: str = "revoke") -> None:
    """``reason``: a fixed word (revoke, refresh_reuse, code_replay)."""
    if (m := _CURRENT.get()) is not None and count > 0:
        m.tokens_revoked.labels(reason).inc(count)


def registration() -> None:
    if (m := _CURRENT.get()) is not None:
        m.registrations.inc()


DOCUMENT_OUTCOMES = frozenset({"ok", "fetch_failed", "invalid", "budget"})


def client_document_fetch(outcome: str) -> None:
    """One client metadata document fetch (or its refusal by the host budget); ``outcome`` is
    one of ``DOCUMENT_OUTCOMES``, so the label set stays bounded."""
    if outcome not in DOCUMENT_OUTCOMES:
        raise ValueError(f"unknown document fetch outcome {outcome!r}")
    if (m := _CURRENT.get()) is not None:
        m.client_documents.labels(outcome).inc()


UPSTREAM_EVENTS = frozenset({"exchange", "refresh"})
UPSTREAM_OUTCOMES = frozenset({"ok", "denied", "no_token", "revoked", "unavailable"})


def upstream(event: str, outcome: str) -> None:
    """One token exchange or upstream refresh; both labels from fixed sets (bounded)."""
    if event not in UPSTREAM_EVENTS or outcome not in UPSTREAM_OUTCOMES:
        raise ValueError(f"unknown upstream metric {event!r}/{outcome!r}")
    if (m := _CURRENT.get()) is not None:
        m.upstream.labels(event, outcome).inc()


def github_error(call: str, kind: str) -> None:
    """A GitHub answer that is an error although the call worked (e.g. HTTP 200 carrying
    ``bad_verification_code``)."""
    if (m := _CURRENT.get()) is not None:
        m.github_errors.labels(call, kind).inc()


@contextlib.contextmanager
def github_call(call: str) -> Iterator[None]:
    """Time a GitHub call; an exception escaping it counts as an error of its class name."""
    started = time.perf_counter()
    try:
        yield
    except Exception as exc:
        github_error(call, "timeout" if "Timeout" in type(exc).__name__ else type(exc).__name__)
        raise
    finally:
        if (m := _CURRENT.get()) is not None:
            m.github_latency.labels(call).observe(time.perf_counter() - started)


class MetricsMiddleware:
    """Pure ASGI: request count and latency by route *template* (``/register/{client_id}``)."""

    def __init__(self, app: ASGIApp, metrics: IssuerMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        _CURRENT.set(self.metrics)
        started = time.perf_counter()
        status = 500  # an exception escaping the app becomes a 500 further out

        async def record_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, record_status)
        finally:
            # The router stores the matched route in the (shared, mutated) scope.
            route = getattr(scope.get("route"), "path", None) or UNMATCHED
            method = scope["method"] if scope["method"] in METHODS else "OTHER"
            self.metrics.observe(route, method, status, time.perf_counter() - started)


def install(app: FastAPI, settings: IssuerSettings | None = None) -> None:
    """Give the app its own metrics, the middleware and ``GET /metrics``."""
    app.state.metrics = metrics = IssuerMetrics()
    app.add_middleware(MetricsMiddleware, metrics=metrics)
    app.include_router(metrics_endpoint.router)
