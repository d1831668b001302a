"""schemathesis against the issuer's own ``/openapi.json``, served by a real issuer process.

Checks: ``not_a_server_error`` (no 5xx for any generated request) and
``response_schema_conformance``; at most 25 examples per operation and mode, 5 s per example.

The served document describes routes only: FastAPI cannot see the request bodies and query
parameters the OAuth handlers parse themselves (RFC 7591 JSON, RFC 6749 forms, ``/authorize``
queries), it declares no response schemas (``{}`` for 200), and it omits the real status codes
(201, 204, 302, 400, 401, 413, 429, 503) while listing a 422 the issuer never sends. So a second
run fuzzes an *augmented* copy (``REQUEST_SHAPES`` below, test-only) whose request shapes reach
the parsers; see the README's reliability section for what the document lacks. The browser
routes are included: without a session they must still answer pages or redirects, never 5xx.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance

from testsupport.issuer import issuer_env, start_issuer
from testsupport.redis_server import RedisServer
from testsupport.service import ServiceProcess
from testsupport.stack import seed_keys

EXAMPLES = settings(
    max_examples=25,
    deadline=timedelta(seconds=5),
    suppress_health_check=list(HealthCheck),
    database=None,
)
CHECKS = [not_a_server_error, response_schema_conformance]

_text = {"type": "string"}
_strings = {"type": "array", "items": _text}
_form = lambda *names: {  # noqa: E731
    "required": True,
    "content": {
        "application/x-www-form-urlencoded": {
            "schema": {"type": "object", "properties": {n: _text for n in names}}
        }
    },
}
_query = lambda *names: [  # noqa: E731
    {"name": n, "in": "query", "required": False, "schema": _text} for n in names
]
REQUEST_SHAPES: dict[tuple[str, str], dict[str, Any]] = {
    ("post", "/register"): {
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {
                    "schema": {
                        "type": "object",
                        "properties": {
                            "redirect_uris": _strings,
                            "token_endpoint_auth_method": _text,
                            "grant_types": _strings,
                            "response_types": _strings,
                            "client_name": _text,
                            "client_uri": _text,
                            "logo_uri": _text,
                            "scope": _text,
                            "contacts": _strings,
                            "application_type": _text,
                        },
                    }
                }
            },
        }
    },
    ("post", "/token"): {
        "requestBody": _form(
            "grant_type",
            "code",
            "redirect_uri",
            "code_verifier",
            "refresh_token",
            "client_id",
            "client_secret",
            "scope",
            "resource",
        )
    },
    ("post", "/revoke"): {"requestBody": _form("token", "token_type_hint", "client_id")},
    ("post", "/introspect"): {"requestBody": _form("token", "token_type_hint", "client_id")},
    ("post", "/authorize/consent"): {
        "requestBody": _form("request_id", "csrf_token", "action", "remember")
    },
    ("get", "/authorize"): {
        "parameters": _query(
            "response_type",
            "client_id",
            "redirect_uri",
            "code_challenge",
            "code_challenge_method",
            "state",
            "scope",
            "resource",
        )
    },
    ("get", "/callback"): {"parameters": _query("code", "state", "error")},
}


@pytest.fixture(scope="module")
def issuer(
    tmp_path_factory: pytest.TempPathFactory, redis_server: RedisServer
) -> Iterator[ServiceProcess]:
    tmp: Path = tmp_path_factory.mktemp("schemathesis")
    # Limits off: hundreds of generated registrations from one address are the point here.
    env = issuer_env(
        redis_server.url,
        seed_keys(tmp / "keys"),
        REGISTER_RATE_PER_MINUTE="0",
        TOKEN_RATE_PER_MINUTE="0",
        MAX_REGISTRATIONS_PER_HOUR="0",
    )
    proc = start_issuer(env, tmp, issuer_url_from_port=True)
    yield proc
    proc.stop()


@pytest.fixture(scope="module")
def served(issuer: ServiceProcess) -> dict[str, Any]:
    document: dict[str, Any] = httpx.get(f"{issuer.url}/openapi.json").json()
    return document


def augmented(document: dict[str, Any]) -> dict[str, Any]:
    result = copy.deepcopy(document)
    for (method, path), shape in REQUEST_SHAPES.items():
        operation = result["paths"][path][method]
        for name, value in shape.items():
            operation.setdefault(name, [] if name == "parameters" else value)
            if name == "parameters":
                operation["parameters"] = [*operation["parameters"], *value]
    return result


def _negatable(spec: dict[str, Any]) -> bool:
    """Whether negative mode can break this operation's input: a JSON body, or query
    parameters (sent without their required structure). Forms and path parameters of plain
    strings have no invalid value, and hypothesis would give up after many tries."""
    body = spec.get("requestBody", {}).get("content", {})
    return "application/json" in body or any(p["in"] == "query" for p in spec.get("parameters", []))


def fuzz(document: dict[str, Any], base_url: str, mode: str) -> int:
    """Run every operation (in negative mode: those with inputs to break); requests made."""
    schema = schemathesis.openapi.from_dict(document)
    calls = 0
    for path, methods in document["paths"].items():
        for method, spec in methods.items():
            if mode == "positive" or _negatable(spec):
                calls += _fuzz_operation(schema[path][method.upper()], base_url, mode)
    return calls


def _fuzz_operation(operation: Any, base_url: str, mode: str) -> int:
    calls = 0
    strategy = operation.as_strategy(generation_mode=schemathesis.GenerationMode(mode))

    @EXAMPLES
    @given(case=strategy)
    def run(case: Any) -> None:
        nonlocal calls
        calls += 1
        response = case.call(base_url=base_url, timeout=5, allow_redirects=False)
        case.validate_response(response, checks=CHECKS)

    run()
    return calls


def test_served_document_covers_every_route(served: dict[str, Any]) -> None:
    """The augmentation only adds shapes to routes the issuer really documents."""
    for method, path in REQUEST_SHAPES:
        assert method in served["paths"][path], (method, path)


def test_no_server_errors_on_the_served_document(
    issuer: ServiceProcess, served: dict[str, Any]
) -> None:
    # Positive only: the document declares almost no inputs, so there is nothing to negate.
    assert fuzz(served, issuer.url, "positive") > 0


@pytest.mark.parametrize("mode", ["positive", "negative"])
def test_no_server_errors_with_request_shapes(
    issuer: ServiceProcess, served: dict[str, Any], mode: str
) -> None:
    assert fuzz(augmented(served), issuer.url, mode) > 0
