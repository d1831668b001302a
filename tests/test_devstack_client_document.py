"""``make run``'s example client metadata document (devstack.client_document) is one the issuer
accepts: served over HTTPS from the devstack's local CA, fetched by a real issuer that trusts
the CA bundle make run writes (public CAs plus the local one, so GitHub still verifies)."""

from __future__ import annotations

import ssl
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import certifi
import httpx
import pytest

from devstack import client_document
from devstack.local_tls import LocalTls, write_local_tls
from testsupport.browser_flow import new_pkce
from testsupport.ports import free_port
from testsupport.stack import RESOURCE_A, Stack, StackOptions, running_stack


@pytest.fixture(scope="module")
def tls(tmp_path_factory: pytest.TempPathFactory) -> LocalTls:
    return write_local_tls(tmp_path_factory.mktemp("devstack-tls"))


@pytest.fixture(scope="module")
def document_url(tls: LocalTls) -> Iterator[str]:
    port = free_port()
    args = [sys.executable, "-m", "devstack.client_document", "--port", str(port)]
    args += ["--cert", str(tls.cert_file), "--key", str(tls.key_file)]
    process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    url = client_document.client_id(port)
    verify = ssl.create_default_context(cafile=str(tls.ca_file))
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                httpx.get(url, verify=verify, timeout=1).raise_for_status()
                break
            except httpx.HTTPError:
                assert time.monotonic() < deadline and process.poll() is None
                time.sleep(0.1)
        yield url
    finally:
        process.terminate()
        process.wait(10)


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory, tls: LocalTls) -> Iterator[Stack]:
    env = {"SSL_CERT_FILE": str(tls.bundle_file), "CIMD_ALLOW_PRIVATE_ADDRESSES": "true"}
    with running_stack(
        tmp_path_factory.mktemp("devstack-doc"), StackOptions(verifier=False, issuer_env=env)
    ) as running:
        yield running


def test_the_example_document_is_accepted(stack: Stack, document_url: str) -> None:
    params = {
        "response_type": "code",
        "client_id": document_url,
        "redirect_uri": "http://localhost:33418/callback",
        "code_challenge": new_pkce().challenge,
        "code_challenge_method": "S256",
        "resource": RESOURCE_A,
    }
    page = httpx.get(f"{stack.issuer_url}/authorize", params=params, timeout=10)
    assert page.status_code == 200, page.text
    assert "Authgate example client (make run)" in page.text
    assert "Verified identity" in page.text


def test_the_bundle_keeps_the_public_certificate_authorities(tls: LocalTls) -> None:
    bundle = tls.bundle_file.read_text()
    assert tls.ca_file.read_text() in bundle
    assert Path(certifi.where()).read_text().strip() in bundle
