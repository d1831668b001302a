"""schemathesis against the issuer's own ``/openapi.json``, served by a real issuer process.

The served document declares every request body, query parameter and status code of the issuer
(``authgate_issuer.web.openapi``), so it is fuzzed as served, no patched copy. Every operation gets at
most 25 examples per mode (positive; negative where it has inputs to break), 5 s each, checked
for: no 5xx, a documented status code, a documented content type, the documented headers
(``Location``, ``Retry-After``, ``WWW-Authenticate``) and a body that matches the schema.

Random input rarely gets past validation, so a complete flow (register, consent, GitHub
stand-in login, token, refresh, introspect, revoke, RFC 7592 read/update/delete) is checked
against the same document too: the success responses are the ones a schema mistake would hit.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from testsupport import flows
from testsupport.github_standin import GitHubStandin, start_standin
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
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]
Schema = Any  # schemathesis.specs.openapi.schemas.OpenApiSchema


@pytest.fixture(scope="module")
def standin(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GitHubStandin]:
    proc = start_standin(tmp_path_factory.mktemp("standin"))
    yield proc
    proc.stop()


@pytest.fixture(scope="module")
def issuer(
    tmp_path_factory: pytest.TempPathFactory, redis_server: RedisServer, standin: GitHubStandin
) -> Iterator[ServiceProcess]:
    tmp: Path = tmp_path_factory.mktemp("schemathesis")
    # Limits off: hundreds of generated registrations from one address are the point here.
    env = issuer_env(
        redis_server.url,
        seed_keys(tmp / "keys"),
        REGISTER_RATE_PER_MINUTE="0",
        TOKEN_RATE_PER_MINUTE="0",
        MAX_REGISTRATIONS_PER_HOUR="0",
        **standin.issuer_env(),
    )
    proc = start_issuer(env, tmp, issuer_url_from_port=True)
    yield proc
    proc.stop()


@pytest.fixture(scope="module")
def schema(issuer: ServiceProcess) -> Schema:
    return schemathesis.openapi.from_url(f"{issuer.url}/openapi.json")


def _has_inputs(operation: Any) -> bool:
    """Whether negative mode has anything to break: a body or a non-path parameter."""
    definition = operation.definition.raw
    params = definition.get("parameters", [])
    return "requestBody" in definition or any(p["in"] != "path" for p in params)


def _fuzz(operation: Any, base_url: str, mode: schemathesis.GenerationMode) -> int:
    calls = 0

    @EXAMPLES
    @given(case=operation.as_strategy(generation_mode=mode))
    def run(case: Any) -> None:
        nonlocal calls
        calls += 1
        response = case.call(base_url=base_url, timeout=5, allow_redirects=False)
        case.validate_response(response, checks=CHECKS)

    run()
    return calls


@pytest.mark.parametrize("mode", ["positive", "negative"])
def test_fuzz_served_document(issuer: ServiceProcess, schema: Schema, mode: str) -> None:
    generation_mode = schemathesis.GenerationMode(mode)
    fuzzed = []
    for result in schema.get_all_operations():
        operation = result.ok()
        if generation_mode is schemathesis.GenerationMode.NEGATIVE and not _has_inputs(operation):
            continue
        assert _fuzz(operation, issuer.url, generation_mode) > 0, operation.label
        fuzzed.append(operation.label)
    assert len(fuzzed) >= (8 if mode == "negative" else 14), fuzzed


def test_real_flow_conforms(issuer: ServiceProcess, schema: Schema) -> None:
    """Every issuer response of complete flows passes the checks against the served document."""
    url = issuer.url
    seen: list[httpx.Response] = []

    def record(response: httpx.Response) -> None:
        if str(response.request.url).startswith(url):
            seen.append(response)

    with httpx.Client(timeout=10, event_hooks={"response": [record]}) as http:
        _flows(http, url)
    checked: set[tuple[str, int]] = set()
    for response in seen:
        response.read()
        operation = schema.find_operation_by_path(response.request.method, response.url.path)
        assert operation is not None, response.request
        operation.Case().validate_response(response, checks=CHECKS)
        checked.add((operation.label, response.status_code))
    expected = {
        ("POST /register", 201),
        ("GET /register/{client_id}", 200),
        ("PUT /register/{client_id}", 200),
        ("DELETE /register/{client_id}", 401),
        ("DELETE /register/{client_id}", 204),
        ("GET /authorize", 200),
        ("GET /authorize", 302),
        ("POST /authorize/consent", 303),
        ("GET /callback", 302),
        ("POST /token", 200),
        ("POST /token", 400),
        ("POST /introspect", 200),
        ("POST /revoke", 200),
        ("GET /jwks", 304),
        ("GET /.well-known/oauth-authorization-server", 304),
    }
    assert expected <= checked, expected - checked


def _flows(http: httpx.Client, url: str) -> None:
    for public in (False, True):
        body: dict[str, Any] = {"redirect_uris": [flows.REDIRECT_URI], "client_name": "conformance"}
        body["grant_types"] = ["authorization_code", "refresh_token"]
        body["token_endpoint_auth_method"] = "none" if public else "client_secret_post"
        assert http.post(f"{url}/register", json=body).status_code == 201
    for path in ("/jwks", "/.well-known/oauth-authorization-server"):
        etag = http.get(f"{url}{path}").headers["etag"]
        assert http.get(f"{url}{path}", headers={"If-None-Match": etag}).status_code == 304

    client = flows.register(http, url)
    client_uri = f"{url}/register/{client.client_id}"
    bearer = {"Authorization": f"Bearer {client.registration_access_token}"}
    read = http.get(client_uri, headers=bearer)
    http.get(f"{url}/authorize", params={"client_id": client.client_id})  # error redirect
    tokens = flows.login(http, url, client)
    headers, extra = client.auth()
    for path, form in (
        ("/token", {"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]}),
        ("/token", {"grant_type": "authorization_code", "code": "used", "code_verifier": "x"}),
        ("/introspect", {"token": tokens["access_token"]}),
        ("/introspect", {"token": tokens["refresh_token"]}),
        ("/introspect", {"token": "unknown"}),
        ("/revoke", {"token": tokens["access_token"]}),
    ):
        http.post(f"{url}{path}", data={**form, **extra}, headers=headers)

    updated = http.put(client_uri, json={**read.json(), "client_name": "renamed"}, headers=bearer)
    http.delete(client_uri, headers=bearer)  # 401: the PUT rotated the token
    bearer["Authorization"] = f"Bearer {updated.json()['registration_access_token']}"
    http.delete(client_uri, headers=bearer)
