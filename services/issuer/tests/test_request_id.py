"""X-Request-Id: taken when safe, made up otherwise, echoed, and on every JSON log line."""

from __future__ import annotations

import io
import logging
import os
import re
from collections.abc import Iterator
from typing import Any

import orjson
import pytest
from fastapi import APIRouter
from fastapi.testclient import TestClient
from starlette.responses import Response

from authgate_issuer.app import create_app
from authgate_issuer.settings import IssuerSettings
from authgate_issuer.web import logs, request_id

GENERATED = re.compile(r"[0-9a-f]{32}")


@pytest.fixture
def captured() -> Iterator[io.StringIO]:
    """The issuer's JSON logging, as configured in production, into a buffer; the previous
    handlers are put back afterwards."""
    root = logging.getLogger("authgate")
    saved = (root.handlers[:], root.level, root.propagate)
    logs.configure("json", "INFO")
    buffer = io.StringIO()
    handler = root.handlers[0]
    assert isinstance(handler, logging.StreamHandler)
    handler.setStream(buffer)
    yield buffer
    root.handlers[:], root.level, root.propagate = saved[0], saved[1], saved[2]


@pytest.fixture
def app(settings: IssuerSettings, captured: io.StringIO) -> Iterator[TestClient]:
    application = create_app(settings)
    probe = APIRouter()

    @probe.get("/_probe/boom")
    async def boom() -> Response:
        raise RuntimeError("boom")

    application.include_router(probe)
    request_id.install(application, settings)
    with TestClient(
        application, base_url="https://auth.example.com", raise_server_exceptions=False
    ) as client:
        yield client


def log_lines(captured: io.StringIO) -> list[dict[str, Any]]:
    """The lines logged since the last call."""
    text = captured.getvalue()
    captured.seek(0)
    captured.truncate()
    return [orjson.loads(line) for line in text.splitlines()]


def test_a_safe_incoming_id_is_echoed_and_logged(app: TestClient, captured: io.StringIO) -> None:
    log_lines(captured)
    response = app.post(
        "/register",
        json={"redirect_uris": ["http://127.0.0.1:9/cb"], "client_name": "rid"},
        headers={"X-Request-Id": "trace-42.abc"},
    )
    assert response.status_code == 201
    assert response.headers["x-request-id"] == "trace-42.abc"
    [line] = [e for e in log_lines(captured) if e.get("event") == "client_registered"]
    assert line["request_id"] == "trace-42.abc"
    assert line["client_id"] == response.json()["client_id"]
    assert {"ts", "level", "logger", "message", "event"} <= set(line)
    assert line["level"] == "info" and line["logger"] == "authgate.issuer"


@pytest.mark.parametrize(
    "incoming",
    ["", "x" * 129, "has space", 'quote"d', "new\\nline", "é"],
)
def test_unsafe_or_missing_ids_are_replaced(app: TestClient, incoming: str) -> None:
    headers = {"X-Request-Id": incoming.encode()} if incoming else {}
    response = app.get("/health", headers=headers)
    assert GENERATED.fullmatch(response.headers["x-request-id"])
    assert response.headers.get_list("x-request-id") == [response.headers["x-request-id"]]


def test_each_request_gets_its_own_id(app: TestClient) -> None:
    ids = {app.get("/health").headers["x-request-id"] for _ in range(5)}
    assert len(ids) == 5


def test_unhandled_errors_are_logged_with_the_request_id(
    app: TestClient, captured: io.StringIO
) -> None:
    log_lines(captured)
    assert app.get("/_probe/boom", headers={"X-Request-Id": "boom-1"}).status_code == 500
    [line] = [e for e in log_lines(captured) if e["message"].startswith("unhandled error")]
    assert line["request_id"] == "boom-1" and line["level"] == "error"


def test_lines_outside_requests_carry_a_null_id(captured: io.StringIO) -> None:
    logs.event("client_deleted", client_id="c")
    [line] = log_lines(captured)
    assert line["request_id"] is None and line["event"] == "client_deleted"


def test_text_format_names_the_id() -> None:
    record = logging.LogRecord("authgate.issuer", logging.INFO, "", 0, "hello", None, None)
    token = logs.REQUEST_ID.set("abc")
    try:
        assert logs.TextFormatter().format(record).endswith("hello request_id=abc")
    finally:
        logs.REQUEST_ID.reset(token)


def test_made_up_ids_differ_across_forked_workers() -> None:
    # uvicorn may fork workers; each must draw its own prefix or two would repeat ids.
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.write(write, request_id.for_scope({"headers": []}).encode())
        os._exit(0)
    os.waitpid(pid, 0)
    child = os.read(read, 64).decode()
    parent = request_id.for_scope({"headers": []})
    assert GENERATED.fullmatch(child) and GENERATED.fullmatch(parent)
    assert child[:16] != parent[:16]
