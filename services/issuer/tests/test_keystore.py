from __future__ import annotations

import multiprocessing
import stat
import time
from collections.abc import Callable
from pathlib import Path

import orjson
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from fastapi.testclient import TestClient

from authgate_issuer.app import create_app
from authgate_issuer.settings import IssuerSettings
from authgate_issuer.store import keystore
from authgate_shared.keys import ec_public_jwk, parse_jwks, rsa_public_jwk
from testsupport.issuer import issuer_env
from testsupport.pem import private_pem


def _is_rsa_3072(key: object) -> bool:
    return isinstance(key, rsa.RSAPrivateKey) and key.key_size == keystore.RSA_BITS


def _is_p256(key: object) -> bool:
    return isinstance(key, ec.EllipticCurvePrivateKey) and isinstance(key.curve, ec.SECP256R1)


@pytest.mark.parametrize(("algorithm", "key_check"), [("RS256", _is_rsa_3072), ("ES256", _is_p256)])
def test_first_start_generates_an_owner_only_key_and_restarts_reuse_it(
    empty_keys_dir: Path, algorithm: str, key_check: Callable[[object], bool]
) -> None:
    keys_dir = empty_keys_dir
    first = keystore.load_or_create(keys_dir, algorithm)
    assert first.current.algorithm == algorithm
    assert key_check(first.current.key)
    pem = keys_dir / f"{first.current.kid}.pem"
    assert stat.S_IMODE(pem.stat().st_mode) == 0o600
    assert stat.S_IMODE(keys_dir.stat().st_mode) == 0o700
    assert (keys_dir / "current").read_text().strip() == first.current.kid
    again = keystore.load_or_create(keys_dir, algorithm)
    assert again.current.kid == first.current.kid
    assert set(listprivate_pem(keys_dir)) == {pem.name}


def listprivate_pem(keys_dir: Path) -> list[str]:
    return [p.name for p in keys_dir.glob("*.pem")]


def _generate(path: str, algorithm: str, queue: multiprocessing.Queue[str]) -> None:
    queue.put(keystore.load_or_create(Path(path), algorithm).current.kid)


@pytest.mark.parametrize("algorithm", ["RS256", "ES256"])
def test_replicas_starting_together_end_with_one_key(empty_keys_dir: Path, algorithm: str) -> None:
    keys_dir = empty_keys_dir
    ctx = multiprocessing.get_context("spawn")
    queue: multiprocessing.Queue[str] = ctx.Queue()
    args = (str(keys_dir), algorithm, queue)
    procs = [ctx.Process(target=_generate, args=args) for _ in range(4)]
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
    first = keystore.load_or_create(keys_dir, "RS256")
    keystore.add_key(keys_dir, rsa.generate_private_key(65537, 2048), make_current=True)
    ring = keystore.load_or_create(keys_dir, "RS256")
    assert ring.current.kid != first.current.kid
    published = parse_jwks(ring.jwks())
    assert set(published) == {first.current.kid, ring.current.kid}


def test_a_missing_current_key_file_is_reported(empty_keys_dir: Path) -> None:
    keys_dir = empty_keys_dir
    (keys_dir / "current").write_text("nope\n")
    with pytest.raises(RuntimeError, match="nope"):
        keystore.read_key_dir(keys_dir, "RS256")


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


def test_configured_ec_private_key_is_used_with_es256(env: dict[str, str]) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    pem = private_pem(key).replace("\n", "\\n")
    settings = IssuerSettings.from_env(
        {**env, "JWT_ALGORITHM": "ES256", "GATEWAY_RSA_PRIVATE_KEY": pem}
    )
    ring = keystore.load_key_ring(settings)
    assert ring.current.algorithm == "ES256"
    assert ring.current.kid == ec_public_jwk(key.public_key())["kid"]
    assert keystore.ring_version(settings) is None  # not from KEYS_DIR: nothing to re-read


def test_es256_without_a_key_generates_one_in_keys_dir(
    redis_url: str, empty_keys_dir: Path
) -> None:
    settings = IssuerSettings.from_env(issuer_env(redis_url, empty_keys_dir, JWT_ALGORITHM="ES256"))
    ring = keystore.load_key_ring(settings)
    assert _is_p256(ring.current.key)
    assert listprivate_pem(empty_keys_dir) == [f"{ring.current.kid}.pem"]
    assert keystore.load_key_ring(settings).current.kid == ring.current.kid


OTHER_TYPE = [
    ("ES256", lambda: rsa.generate_private_key(65537, 2048), "is an RSA key"),
    ("RS256", lambda: ec.generate_private_key(ec.SECP256R1()), "is an EC P-256 key"),
    ("ES256", lambda: ec.generate_private_key(ec.SECP384R1()), "is an EC secp384r1 key"),
]


@pytest.mark.parametrize(("algorithm", "make_key", "reason"), OTHER_TYPE)
@pytest.mark.parametrize("current", [True, False], ids=["current key", "previous key"])
def test_a_key_of_another_type_in_keys_dir_stops_start_up(
    env: dict[str, str],
    empty_keys_dir: Path,
    algorithm: str,
    make_key: Callable[[], rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey],
    reason: str,
    current: bool,
) -> None:
    keys_dir = empty_keys_dir
    keystore.add_key(keys_dir, keystore.generate_private_key(algorithm), make_current=True)
    # As an operator would leave it: a PEM file of another type (and maybe named current).
    (keys_dir / "other.pem").write_text(private_pem(make_key()))
    if current:
        (keys_dir / "current").write_text("other\n")
    settings = IssuerSettings.from_env(
        {**env, "KEYS_DIR": str(keys_dir), "JWT_ALGORITHM": algorithm}
    )
    expected = f"{keys_dir}/other.pem {reason}.* needs"
    with pytest.raises(RuntimeError, match=expected):
        keystore.load_key_ring(settings)
    # The app's start-up (lifespan) fails the same way: it never signs with that key.
    with pytest.raises(RuntimeError, match=expected), TestClient(create_app(settings)):
        pass


def test_es256_jwks_is_served_and_published_to_redis(
    redis_url: str, empty_keys_dir: Path, redis_client
) -> None:
    settings = IssuerSettings.from_env(issuer_env(redis_url, empty_keys_dir, JWT_ALGORITHM="ES256"))
    with TestClient(create_app(settings), base_url="https://auth.example.com") as client:
        served = client.get("/jwks").json()
        kid = client.app.state.ctx.keys.current.kid  # type: ignore[attr-defined]
        # Published by a background task of the app (app._keep_jwks_published): on a loaded
        # machine it may run after the first request, so wait for it (bounded).
        deadline = time.monotonic() + 10
        while redis_client.get("oauth:jwks") is None and time.monotonic() < deadline:
            time.sleep(0.05)
    on_disk = keystore.read_key_dir(empty_keys_dir, "ES256")
    assert on_disk is not None and on_disk.current.public_jwk == served["keys"][0]
    (jwk,) = served["keys"]
    assert jwk["kid"] == kid and set(jwk) == {"kty", "crv", "x", "y", "kid", "use", "alg"}
    assert orjson.loads(redis_client.get("oauth:jwks")) == served
    assert set(parse_jwks(redis_client.get("oauth:jwks"))) == {kid}


def test_running_issuer_keeps_its_key_when_a_key_of_another_type_appears(
    redis_url: str, empty_keys_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    settings = IssuerSettings.from_env(issuer_env(redis_url, empty_keys_dir, JWT_ALGORITHM="ES256"))
    with TestClient(create_app(settings, key_refresh_seconds=0.05)) as client:
        ctx = client.app.state.ctx  # type: ignore[attr-defined]
        before = ctx.keys
        wrong = keystore.add_key(
            empty_keys_dir, rsa.generate_private_key(65537, 2048), make_current=True
        )
        time.sleep(0.5)  # several re-read periods
        # The key, not the ring object: a re-read that lands between add_key's two writes (the
        # key file, then the current pointer) loads the same ES256 ring again, which is fine.
        assert ctx.keys.current.kid == before.current.kid
        assert ctx.keys.current.algorithm == "ES256"
        assert wrong.kid not in {k["kid"] for k in client.get("/jwks").json()["keys"]}
    assert "could not re-read the signing keys" in caplog.text
