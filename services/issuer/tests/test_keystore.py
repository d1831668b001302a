from __future__ import annotations

import multiprocessing
import stat
from pathlib import Path

import orjson
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from authgate_issuer import keystore
from authgate_issuer.settings import IssuerSettings
from authgate_shared.keys import parse_jwks, rsa_public_jwk


def test_first_start_generates_an_owner_only_key_and_restarts_reuse_it(
    empty_keys_dir: Path,
) -> None:
    keys_dir = empty_keys_dir
    first = keystore.load_or_create(keys_dir)
    assert first.current.algorithm == "RS256"
    assert first.current.key.key_size >= 2048
    pem = keys_dir / f"{first.current.kid}.pem"
    assert stat.S_IMODE(pem.stat().st_mode) == 0o600
    again = keystore.load_or_create(keys_dir)
    assert again.current.kid == first.current.kid


def _generate(path: str, queue: multiprocessing.Queue[str]) -> None:
    queue.put(keystore.load_or_create(Path(path)).current.kid)


def test_replicas_starting_together_end_with_one_key(empty_keys_dir: Path) -> None:
    keys_dir = empty_keys_dir
    ctx = multiprocessing.get_context("spawn")
    queue: multiprocessing.Queue[str] = ctx.Queue()
    procs = [ctx.Process(target=_generate, args=(str(keys_dir), queue)) for _ in range(4)]
    for proc in procs:
        proc.start()
    kids = {queue.get(timeout=60) for _ in procs}
    for proc in procs:
        proc.join()
    assert len(kids) == 1
    assert len(list(keys_dir.glob("*.pem"))) == 1


def test_kid_is_the_rfc7638_thumbprint() -> None:
    # RFC 7638 §3.1 example key and its published thumbprint.
    n = int.from_bytes(
        __import__("base64").urlsafe_b64decode(
            "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw"
            + "=="
        ),
        "big",
    )
    public = rsa.RSAPublicNumbers(65537, n).public_key()
    assert rsa_public_jwk(public)["kid"] == "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"


def test_configured_private_key_is_used(env: dict[str, str], tmp_path: Path) -> None:
    key = rsa.generate_private_key(65537, 2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    settings = IssuerSettings.from_env({**env, "GATEWAY_RSA_PRIVATE_KEY": pem.replace("\n", "\\n")})
    ring = keystore.load_key_ring(settings)
    assert ring.current.kid == rsa_public_jwk(key.public_key())["kid"]


def test_previous_keys_stay_in_the_published_set(keys_dir: Path) -> None:
    first = keystore.load_or_create(keys_dir)
    keystore.add_key(keys_dir, rsa.generate_private_key(65537, 2048), make_current=True)
    ring = keystore.load_or_create(keys_dir)
    assert ring.current.kid != first.current.kid
    published = parse_jwks(ring.jwks())
    assert set(published) == {first.current.kid, ring.current.kid}


def test_a_missing_current_key_file_is_reported(empty_keys_dir: Path) -> None:
    keys_dir = empty_keys_dir
    (keys_dir / "current").write_text("nope\n")
    with pytest.raises(RuntimeError, match="nope"):
        keystore.read_key_dir(keys_dir)


def test_jwks_is_served_and_published_to_redis(client, redis_client) -> None:
    response = client.get("/jwks")
    assert response.status_code == 200
    served = response.json()
    assert served["keys"][0]["kty"] == "RSA"
    assert "d" not in served["keys"][0]
    assert orjson.loads(redis_client.get("oauth:jwks")) == served
    etag = response.headers["etag"]
    assert client.get("/jwks", headers={"If-None-Match": etag}).status_code == 304


def test_running_issuer_picks_up_a_rotated_key_without_restart(
    settings: IssuerSettings, redis_client
) -> None:
    import time

    from fastapi.testclient import TestClient

    from authgate_issuer.app import create_app

    with TestClient(create_app(settings, key_refresh_seconds=0.1)) as client:
        before = {k["kid"] for k in client.get("/jwks").json()["keys"]}
        new = keystore.add_key(
            settings.keys_dir, rsa.generate_private_key(65537, 2048), make_current=True
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            served = {k["kid"] for k in client.get("/jwks").json()["keys"]}
            if new.kid in served:
                break
            time.sleep(0.05)
        assert served == before | {new.kid}
        assert set(parse_jwks(redis_client.get("oauth:jwks"))) == served
        assert client.app.state.ctx.keys.current.kid == new.kid  # type: ignore[attr-defined]
