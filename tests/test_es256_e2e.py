"""JWT_ALGORITHM=ES256 through real processes: Redis, the GitHub stand-in, an issuer that
generates its P-256 key in an empty KEYS_DIR, and a verifier reading the JWK Set from Redis.

A client registers, logs in through the browser flow (consent cookies keyed from the EC key),
redeems the code at /token over HTTP and refreshes; the verifier answers 200 for those tokens and
401 for an RS256 token signed by a key it does not trust and for an ES256 token whose signature
was altered.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator
from pathlib import Path

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from authgate_issuer.store import keystore
from testsupport import flows
from testsupport.stack import RESOURCE_A, Stack, StackOptions, running_stack

ES256 = {"JWT_ALGORITHM": "ES256"}


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    options = StackOptions(seed_key=False, issuer_env=ES256, verifier_env=ES256)
    with running_stack(tmp_path_factory.mktemp("es256"), options) as running:
        yield running


def test_es256_tokens_issued_over_http_pass_the_verifier(stack: Stack) -> None:
    with httpx.Client(timeout=10) as http:
        client = flows.register(http, stack.issuer_url)
        tokens = flows.login(http, stack.issuer_url, client, resources=[RESOURCE_A])
        header = jwt.get_unverified_header(tokens["access_token"])
        assert header["alg"] == "ES256" and header["typ"] == "at+jwt"
        assert stack.verify(tokens["access_token"]).status_code == 200

        refreshed = flows.refresh(http, stack.issuer_url, client, tokens["refresh_token"])
        assert refreshed.status_code == 200, refreshed.text
        assert stack.verify(refreshed.json()["access_token"]).status_code == 200

        (jwk,) = http.get(f"{stack.issuer_url}/jwks").json()["keys"]
    assert (jwk["kty"], jwk["crv"], jwk["alg"], jwk["kid"]) == (
        "EC",
        "P-256",
        "ES256",
        header["kid"],
    )
    # The key the issuer generated on its first start: P-256, owner-only, named by its kid.
    keys_dir: Path = stack.directory / "keys"
    ring = keystore.read_key_dir(keys_dir, "ES256")
    assert ring is not None and ring.current.kid == header["kid"]
    assert isinstance(ring.current.key, ec.EllipticCurvePrivateKey)
    assert (keys_dir / f"{header['kid']}.pem").stat().st_mode & 0o077 == 0


def test_the_es256_verifier_refuses_other_tokens(stack: Stack) -> None:
    with httpx.Client(timeout=10) as http:
        client = flows.register(http, stack.issuer_url)
        token = flows.login(http, stack.issuer_url, client, resources=[RESOURCE_A])["access_token"]
    assert stack.verify(token).status_code == 200  # the control
    claims = jwt.decode(token, options={"verify_signature": False})
    header = {k: v for k, v in jwt.get_unverified_header(token).items() if k != "alg"}
    rs256 = jwt.encode(claims, rsa.generate_private_key(65537, 2048), "RS256", headers=header)
    head, body, signature = token.split(".")
    raw = base64.urlsafe_b64decode(signature + "==")
    altered = base64.urlsafe_b64encode(raw[:-1] + bytes([raw[-1] ^ 1])).rstrip(b"=").decode()
    for forged in (rs256, f"{head}.{body}.{altered}", f"{head}.{body}."):
        answer = stack.verify(forged)
        assert answer.status_code == 401, answer.text
        assert 'error="invalid_token"' in answer.headers["www-authenticate"]
