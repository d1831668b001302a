"""Issuer metrics: values after known traffic, per-app registries, the recording functions."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from fastapi import APIRouter, FastAPI
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families
from starlette.responses import Response

from authgate_issuer.app import create_app
from authgate_issuer.settings import IssuerSettings
from authgate_issuer.web import metrics


def instrumented(settings: IssuerSettings) -> FastAPI:
    """The issuer app as app.py wires it, plus routes that record domain events."""
    app = create_app(settings)
    probe = APIRouter()

    @probe.post("/_probe/events")
    async def events() -> Response:
        metrics.token_issued()
        metrics.token_issued()
        metrics.token_refreshed()
        metrics.tokens_revoked(3, "refresh_reuse")
        metrics.registration()
        metrics.github_error("access_token", "bad_verification_code")
        with metrics.github_call("access_token"):
            pass
        return Response(status_code=204)

    @probe.get("/_probe/github-timeout")
    async def github_timeout() -> Response:
        try:
            with metrics.github_call("user"):
                raise httpx.ReadTimeout("slow")
        except httpx.ReadTimeout:
            return Response(status_code=502)

    @probe.get("/_probe/boom")
    async def boom() -> Response:
        raise RuntimeError("boom")

    app.include_router(probe)
    return app


@pytest.fixture
def app(settings: IssuerSettings) -> Iterator[TestClient]:
    with TestClient(
        instrumented(settings), base_url="https://auth.example.com", raise_server_exceptions=False
    ) as client:
        yield client


def scrape(client: TestClient) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
    values = {}
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            values[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return values


def value(
    values: dict[tuple[str, tuple[tuple[str, str], ...]], float], name: str, **labels: str
) -> float:
    return values.get((name, tuple(sorted(labels.items()))), 0.0)


def test_requests_are_counted_by_route_template_method_and_status(app: TestClient) -> None:
    for _ in range(3):
        assert app.get("/health").status_code == 200
    registered = app.post(
        "/register", json={"redirect_uris": ["http://127.0.0.1:9/cb"], "client_name": "m"}
    )
    assert registered.status_code == 201
    client_id = registered.json()["client_id"]
    bad = app.get(f"/register/{client_id}", headers={"Authorization": "Bearer wrong"})
    assert bad.status_code == 401
    assert app.get("/no/such/path").status_code == 404
    assert app.get("/_probe/boom").status_code == 500

    v = scrape(app)
    requests = "authgate_issuer_requests_total"
    assert value(v, requests, route="/health", method="GET", status="200") == 3
    assert value(v, requests, route="/register", method="POST", status="201") == 1
    assert value(v, requests, route="/register/{client_id}", method="GET", status="401") == 1
    assert value(v, requests, route="<unmatched>", method="GET", status="404") == 1
    assert value(v, requests, route="/_probe/boom", method="GET", status="500") == 1
    duration = "authgate_issuer_request_duration_seconds"
    assert value(v, duration + "_count", route="/health", method="GET") == 3
    assert value(v, duration + "_sum", route="/health", method="GET") > 0
    # The client id never becomes a label value (bounded cardinality).
    assert client_id not in app.get("/metrics").text


def test_domain_events_are_recorded_on_the_current_app(
    app: TestClient, settings: IssuerSettings
) -> None:
    assert app.post("/_probe/events").status_code == 204
    assert app.get("/_probe/github-timeout").status_code == 502
    v = scrape(app)
    assert value(v, "authgate_issuer_tokens_issued_total") == 2
    assert value(v, "authgate_issuer_tokens_refreshed_total") == 1
    assert value(v, "authgate_issuer_tokens_revoked_total", reason="refresh_reuse") == 3
    assert value(v, "authgate_issuer_registrations_total") == 1
    github = "authgate_issuer_github_request_duration_seconds_count"
    assert value(v, github, call="access_token") == 1
    assert value(v, github, call="user") == 1
    errors = "authgate_issuer_github_errors_total"
    assert value(v, errors, call="access_token", kind="bad_verification_code") == 1
    assert value(v, errors, call="user", kind="timeout") == 1

    # A second app has its own registry: nothing of the first one's traffic shows there.
    with TestClient(instrumented(settings), base_url="https://auth.example.com") as other:
        fresh = scrape(other)
        assert value(fresh, "authgate_issuer_tokens_issued_total") == 0
        assert (
            value(
                fresh, "authgate_issuer_requests_total", route="/health", method="GET", status="200"
            )
            == 0
        )


def test_recording_outside_a_request_is_a_no_op() -> None:
    assert metrics.current() is None
    metrics.token_issued()
    metrics.tokens_revoked(2)
    with metrics.github_call("user"):
        pass


def test_real_endpoints_record_their_events(app: TestClient) -> None:
    body = {"redirect_uris": ["http://127.0.0.1/cb"], "token_endpoint_auth_method": "none"}
    assert app.post("/register", json=body).status_code == 201
    assert app.post("/register", json={"redirect_uris": ["javascript:x"]}).status_code == 400
    values = scrape(app)
    assert value(values, "authgate_issuer_registrations_total") == 1
    assert value(values, "authgate_issuer_tokens_issued_total") == 0


def test_no_created_series_are_exported(app: TestClient) -> None:
    assert app.get("/health").status_code == 200
    text = app.get("/metrics").text
    assert "authgate_issuer_requests_total" in text
    assert "_created" not in text
