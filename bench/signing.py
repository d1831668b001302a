"""What signing an access token costs per algorithm (in-process, PyJWT, the real claims).

The issuer signs every access token; the verifier caches verification per token string, so
signing is the per-token cost that matters. RS256 with the issuer's 3072-bit key is the default;
ES256 (``JWT_ALGORITHM=ES256``) is the faster asymmetric choice at the same security level;
RSA-2048 is shown for scale (the issuer does not use it); HS256 is supported but hands every
verifier the power to mint tokens.
"""

from __future__ import annotations

import time
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ec, rsa

from authgate_shared import claims as jwt_claims

ITERATIONS = 200


def _keys() -> list[tuple[str, str, Any, Any]]:
    """(label, algorithm, signing key, verification key)."""
    rsa2048 = rsa.generate_private_key(65537, 2048)
    rsa3072 = rsa.generate_private_key(65537, 3072)
    p256 = ec.generate_private_key(ec.SECP256R1())
    secret = b"s" * 32
    return [
        ("RS256, 3072-bit (default)", "RS256", rsa3072, rsa3072.public_key()),
        ("RS256, 2048-bit", "RS256", rsa2048, rsa2048.public_key()),
        ("ES256 (P-256)", "ES256", p256, p256.public_key()),
        ("HS256 (shared secret)", "HS256", secret, secret),
    ]


def measure(iterations: int = ITERATIONS) -> list[tuple[str, float, float]]:
    """(label, µs per signature, µs per verification) with PyJWT, as the services call it."""
    claims = jwt_claims.build_claims(
        issuer="https://auth.example.com",
        username="octocat",
        github_id="583231",
        client_id="c" * 22,
        scope="mcp:*",
        audience=["https://mcp-a.example.com"],
        jti="g" * 22 + "." + "j" * 22,
        now=int(time.time()),
        lifetime=3600,
    )
    rows = []
    for label, algorithm, key, public in _keys():
        start = time.perf_counter()
        for _ in range(iterations):
            token = jwt_claims.encode(claims, key=key, kid="k", algorithm=algorithm)
        sign = (time.perf_counter() - start) / iterations * 1e6
        start = time.perf_counter()
        for _ in range(iterations):
            jwt_claims.decode(
                token,
                keys={"k": public},
                algorithm=algorithm,
                issuer=claims["iss"],
                now=time.time(),
            )
        verify = (time.perf_counter() - start) / iterations * 1e6
        rows.append((label, sign, verify))
    return rows


def print_signing(rows: list[tuple[str, float, float]]) -> None:
    print("\nAccess-token signing (PyJWT, in-process, one core)")
    print(f"{'algorithm':<28} {'sign µs':>8} {'verify µs':>10} {'signatures/s/core':>18}")
    for label, sign, verify in rows:
        print(f"{label:<28} {sign:>8.0f} {verify:>10.0f} {1e6 / sign:>18,.0f}")
