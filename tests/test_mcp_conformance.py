"""The official MCP conformance suite (npm ``@modelcontextprotocol/conformance``, pinned in
``tools/npm/package.json``) against a real issuer, for the spec revisions 2025-11-25 and
2026-07-28, with a registered public client and with a Client ID Metadata Document client.

Its ``authorization`` command runs two scenarios: ``authorization-server-metadata-endpoint``
(checks ``authorization-server-metadata`` and ``authorization-server-metadata-cimd``) and
``authorization-code-grant`` (a complete login: the suite prints the authorization URL and waits
on its callback server; ``testsupport.conformance.log_in`` approves the consent page and signs in
on the GitHub stand-in, as a user would, then the suite redeems the code with PKCE). Every check
must be SUCCESS: a WARNING (e.g. no ``client_id_metadata_document_supported``) fails the test.

The suite uses token endpoint authentication ``none`` whenever the metadata lists it, so it
cannot test a confidential client against this server (which also serves public clients).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from testsupport.conformance import CHECKS, SuiteRun, log_in, run_authorization_suite
from testsupport.flows import register
from testsupport.https_documents import DocumentServer
from testsupport.ports import free_port
from testsupport.stack import RESOURCE_A, Stack, StackOptions, running_stack

SPEC_VERSIONS = ("2025-11-25", "2026-07-28")


@pytest.fixture(scope="module")
def documents(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DocumentServer]:
    """The CIMD client's host: a local HTTPS server with its own test CA."""
    server = DocumentServer(tmp_path_factory.mktemp("conformance-documents")).start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory, documents: DocumentServer) -> Iterator[Stack]:
    issuer_env = {
        "SSL_CERT_FILE": str(documents.ca_file),
        "CIMD_ALLOW_PRIVATE_ADDRESSES": "true",  # the document host is on loopback
    }
    options = StackOptions(verifier=False, issuer_env=issuer_env)
    with running_stack(tmp_path_factory.mktemp("conformance-stack"), options) as running:
        yield running


def public_client(stack: Stack, redirect_uri: str) -> str:
    client = register(
        httpx.Client(timeout=10),
        stack.issuer_url,
        public=True,
        name="MCP conformance suite",
        redirect_uri=redirect_uri,
    )
    return client.client_id


def cimd_client(documents: DocumentServer, path: str, redirect_uri: str) -> str:
    client_id = documents.url(path)
    document = {
        "client_id": client_id,
        "client_name": "MCP conformance suite (CIMD)",
        "redirect_uris": [redirect_uri],
        "grant_types": ["authorization_code", "refresh_token"],
        "response_types": ["code"],
        "token_endpoint_auth_method": "none",
    }
    documents.serve(path, document, headers={"Cache-Control": "no-store"})
    return client_id


def run_suite(stack: Stack, client_id: str, port: int, version: str, out: Path) -> SuiteRun:
    return run_authorization_suite(
        stack.issuer_url,
        client_id=client_id,
        resource=RESOURCE_A,
        spec_version=version,
        port=port,
        out_dir=out,
        user_agent=lambda url: log_in(stack.issuer_url, url),
    )


def assert_all_success(run: SuiteRun) -> None:
    statuses = {check: run.status(check) for check in CHECKS}
    assert statuses == dict.fromkeys(CHECKS, "SUCCESS"), (run.summary(), run.output)
    assert all(c["status"] == "SUCCESS" for c in run.checks), run.summary()
    assert run.exit_code == 0, run.output


@pytest.mark.parametrize("version", SPEC_VERSIONS)
def test_conformance_with_a_registered_public_client(
    stack: Stack, version: str, tmp_path: Path
) -> None:
    port = free_port()
    client_id = public_client(stack, f"http://127.0.0.1:{port}/callback")
    run = run_suite(stack, client_id, port, version, tmp_path)
    assert_all_success(run)


@pytest.mark.parametrize("version", SPEC_VERSIONS)
def test_conformance_with_a_client_id_metadata_document(
    stack: Stack, documents: DocumentServer, version: str, tmp_path: Path
) -> None:
    port, path = free_port(), f"/clients/conformance-{version}.json"  # a client per run
    client_id = cimd_client(documents, path, f"http://127.0.0.1:{port}/callback")
    run = run_suite(stack, client_id, port, version, tmp_path)
    assert_all_success(run)
    assert documents.hits[path] >= 1, "the issuer never fetched the document"
