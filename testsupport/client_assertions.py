"""private_key_jwt for tests: a client key pair, its public JWK Set, and client assertions
(RFC 7523 §2.2) with any claim changed or left out, to test what the issuer refuses."""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import ECAlgorithm, RSAAlgorithm

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
OMIT = object()
"""A claim value meaning "leave this claim out"."""


@dataclass(frozen=True)
class ClientKey:
    private: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey
    kid: str
    alg: str

    @classmethod
    def rsa(cls, kid: str = "rsa-1") -> ClientKey:
        return cls(rsa.generate_private_key(65537, 2048), kid, "RS256")

    @classmethod
    def ec(cls, kid: str = "ec-1") -> ClientKey:
        return cls(ec.generate_private_key(ec.SECP256R1()), kid, "ES256")

    def jwk(self) -> dict[str, Any]:
        public = self.private.public_key()
        if isinstance(public, rsa.RSAPublicKey):
            data = RSAAlgorithm.to_jwk(public, as_dict=True)
        else:
            data = ECAlgorithm.to_jwk(public, as_dict=True)
        return {**data, "kid": self.kid, "alg": self.alg, "use": "sig"}

    def jwks(self) -> dict[str, Any]:
        return {"keys": [self.jwk()]}

    def assertion(self, client_id: str, audience: str, **claims: Any) -> str:
        """A fresh assertion (60 s, new jti) for ``client_id``; ``claims`` override, OMIT drops."""
        now = int(time.time())
        body: dict[str, Any] = {
            "iss": client_id,
            "sub": client_id,
            "aud": audience,
            "iat": now,
            "exp": now + 60,
            "jti": uuid.uuid4().hex,
        }
        body.update(claims)
        body = {k: v for k, v in body.items() if v is not OMIT}
        return jwt.encode(body, self.private, algorithm=self.alg, headers={"kid": self.kid})


def assertion_form(assertion: str) -> dict[str, str]:
    return {"client_assertion_type": ASSERTION_TYPE, "client_assertion": assertion}
