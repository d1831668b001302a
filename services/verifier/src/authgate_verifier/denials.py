"""The verifier's refusals as prepared responses: built once per resource, denial and CORS
origin, then written as they are (their header blocks are prepared, like a token's 200).

A denied client gets the same bytes every time for the same resource and reason, so building
the JSON body, the challenge and the header block per request would only cost time.
"""

from __future__ import annotations

from collections.abc import Iterable

from authgate_shared.cors import Header
from authgate_shared.errors import ACCESS_DENIED, INVALID_REQUEST, TEMPORARILY_UNAVAILABLE

from .challenge import BAD_REQUEST_CHALLENGE, Message, challenges_for, error_response
from .cors import DenialCors
from .decision import Denial
from .resources import Resource

Pair = tuple[Message, Message]
NO_TOKEN_REASON = "no_token"
MAX_PAIRS = 4096


class DenialResponses:
    def __init__(self, cors: DenialCors) -> None:
        self.cors = cors
        self._pairs: dict[tuple[str, Denial, bytes], Pair] = {}
        self._unavailable: dict[bytes, Pair] = {}

    def for_denial(self, resource: Resource, denial: Denial, headers: Iterable[Header]) -> Pair:
        """The 401/403 for ``denial`` on ``resource``, with the challenge it calls for."""
        origin = self.cors.key(headers)
        key = (resource.uri, denial, origin)
        pair = self._pairs.get(key)
        if pair is None:
            challenges = resource.challenges
            challenge: bytes | None
            extra = {}
            if denial.error == TEMPORARILY_UNAVAILABLE:
                # Retryable (the upstream token could not be obtained): no challenge, no re-login.
                challenge, extra = None, {"retry_after": "2"}
            elif denial.reason == NO_TOKEN_REASON:
                challenge = challenges.missing
            elif denial.error == ACCESS_DENIED:
                # A policy refusal (user, group, tool): no challenge, so no client tries a step-up
                # that cannot help (MCP 2025-11-25 steps up on insufficient_scope only).
                challenge = None
            elif denial.step_up_scope:
                # A tool rule's scopes (with the resource's): what the client must step up to.
                scopes = denial.step_up_scope.split()
                challenge = challenges_for(resource.metadata_url, scopes).insufficient
            elif denial.status == 403:
                challenge = challenges.insufficient
            else:
                challenge = challenges.invalid
            pair = error_response(
                denial.status,
                denial.error,
                denial.description,
                challenge,
                more=self.cors.headers(origin),
                **extra,
            )
            if len(self._pairs) >= MAX_PAIRS:
                self._pairs.clear()
            self._pairs[key] = pair
        return pair

    def bad_request(self, message: str, headers: Iterable[Header]) -> Pair:
        """400: the proxy did not say which resource (a misconfiguration; rare, not cached)."""
        more = self.cors.headers(self.cors.key(headers))
        return error_response(400, INVALID_REQUEST, message, BAD_REQUEST_CHALLENGE, more=more)

    def unavailable(self, headers: Iterable[Header]) -> Pair:
        """503 while Redis does not answer: retryable, never a re-login."""
        origin = self.cors.key(headers)
        pair = self._unavailable.get(origin)
        if pair is None:
            pair = error_response(
                503,
                TEMPORARILY_UNAVAILABLE,
                "token store unavailable, retry shortly",
                more=self.cors.headers(origin),
                retry_after="1",
            )
            self._unavailable[origin] = pair  # bounded: one per allowed origin, plus "-"
        return pair
