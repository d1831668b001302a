"""Which keys of a JWK Set may verify a signature: one rule for every JWK Set the issuer reads
(private_key_jwt clients' ``jwks``/``jwks_uri``, the OpenID Provider's ``jwks_uri``)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from jwt import PyJWK
from jwt.exceptions import PyJWKError


def signing_keys(jwks: Mapping[str, Any], *, algorithm: str, kid: str | None) -> list[PyJWK]:
    """The keys of ``jwks`` that may verify a signature made with ``algorithm`` (and ``kid``):
    encryption keys (``use`` = ``enc``), keys of another ``alg`` (RFC 7517 §4.4) or type, and
    private or symmetric material are skipped."""
    found = []
    for key in jwks.get("keys", []):
        if not isinstance(key, dict) or key.get("use", "sig") != "sig":
            continue
        if key.get("kty") not in ("RSA", "EC", "OKP") or "d" in key:
            continue
        if kid is not None and key.get("kid") != kid:
            continue
        if key.get("alg", algorithm) != algorithm:
            continue
        try:
            found.append(PyJWK(key, algorithm=algorithm))
        except PyJWKError:
            continue
    return found
