"""The verifier's raw ASGI application: routing, the /verify hot path, lifespan.

No framework: /verify is called before every request to every MCP service, and a framework's
routing, request objects and middleware would cost more than the verification. Routes:
``/verify`` (any method; the body is never read), ``/.well-known/oauth-protected-resource[/…]``,
``/health`` and ``/metrics``. The request the proxy is deciding about is read only from
``X-Forwarded-*`` (the verifier's own Host and query are the proxy's, not the client's).
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import Callable
from random import random as random_share
from typing import Any

import httpx
from redis.asyncio import Redis

from authgate_shared import __version__
from authgate_shared.claims import InvalidToken, decode
from authgate_shared.cors import CorsPolicy
from authgate_shared.errors import INVALID_REQUEST, INVALID_TOKEN, TEMPORARILY_UNAVAILABLE
from authgate_shared.redis.connection import create_pubsub_client, create_redis
from authgate_shared.runtime import Clock, system_clock

from . import logs, routes
from .challenge import Message, error_response
from .cors import PREFLIGHT_PASS, DenialCors, forwarded_preflight
from .decision import REVOKED, Denial, VerifiedToken, accept_claims, decide
from .decision_log import DecisionLog
from .denials import NO_TOKEN_REASON, DenialResponses
from .errors import RedisUnavailable
from .keyset import KeySet, static_keys
from .metadata import WELL_KNOWN
from .metrics import Metrics
from .resources import BadForwardedRequest, Resource, ResourceResolver
from .revocation import RevocationChecker
from .service_policy import Outcome, compile_policy
from .settings import VerifierSettings
from .subscriber import run_subscriber
from .token_cache import TokenCache
from .upstream import UpstreamTokens, upstream_answer

LOG = logging.getLogger("authgate.verifier")
Scope = dict[str, Any]
Send = Any
Receive = Any

# RFC 6750 §2.1 b64token; a JWS compact serialization only ever uses its base64url subset.
_B64TOKEN = re.compile(rb"[A-Za-z0-9\-._~+/]+=*").fullmatch
MAX_TOKEN_BYTES = 8192
EMPTY_BODY: Message = {"type": "http.response.body", "body": b""}
MALFORMED = Denial(401, INVALID_TOKEN, "malformed", "token is not a JWT")
# Not sent as an RFC 6750 error code (§3.1: none when credentials are absent); body only.
NO_TOKEN = Denial(401, INVALID_REQUEST, NO_TOKEN_REASON, "bearer token required")
BAD_REQUEST_DENIAL = Denial(400, INVALID_REQUEST, "bad_request", "")
UNAVAILABLE_DENIAL = Denial(503, TEMPORARILY_UNAVAILABLE, "unavailable", "")


class VerifierApp:
    def __init__(
        self,
        settings: VerifierSettings,
        *,
        clock: Clock = system_clock,
        monotonic: Clock = time.monotonic,
        random: Callable[[], float] = random_share,
    ) -> None:
        self.settings = settings
        self.clock = clock
        self.redis = create_redis(settings.redis)
        self.cache = TokenCache(
            max_entries=settings.token_cache_size, max_age=settings.token_cache_ttl
        )
        self.keys = KeySet(
            self.redis,
            static=static_keys(settings),
            monotonic=monotonic,
            on_keys_removed=self.cache.clear,
        )
        self.revocation = RevocationChecker(
            self.redis, cache_ms=settings.revocation_cache_ms, monotonic=monotonic
        )
        self.resources = ResourceResolver(
            services=settings.services,
            bind_from_address=settings.bind_from_address,
            prefixes=settings.path_prefixes,
            required_scopes=settings.required_scopes,
            default_scope=settings.default_scope,
        )
        self.policy = compile_policy(settings.policy, self.resources.required_for)
        forwards = {rules.forward_token for rules in self.policy.values()}
        self._heads = {"token_head": True in forwards, "plain_head": False in forwards}
        self.cors = DenialCors(CorsPolicy.of(settings.cors_allowed_origins))
        self.denials = DenialResponses(self.cors)
        self.metrics = Metrics(self.cache, self.revocation)
        self._counts = self.metrics.decisions
        self._latency = self.metrics.verify_latency
        self._require_resource_tokens = settings.require_resource_tokens
        self.decisions = DecisionLog(settings.log_decisions, settings.log_allowed_sample, random)
        self._tasks: list[asyncio.Task[None]] = []
        self._subscriber: Redis | None = None
        self.http: httpx.AsyncClient | None = None
        self.upstream: UpstreamTokens | None = None
        self.started_at = clock()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            path = scope["path"]
            try:
                if path == "/verify":
                    started = time.perf_counter()
                    await self.verify(scope, send)
                    self._latency.observe(time.perf_counter() - started)
                elif path == WELL_KNOWN or path.startswith(WELL_KNOWN + "/"):
                    self.metrics.requests["metadata"] += 1
                    await routes.protected_resource_metadata(self, scope, send, path)
                elif path == "/health":
                    self.metrics.requests["health"] += 1
                    await routes.health(self, send)
                elif path == "/metrics":
                    self.metrics.requests["metrics"] += 1
                    body = self.metrics.render()
                    await routes.send_body(send, 200, body, b"text/plain; version=0.0.4")
                else:
                    self.metrics.requests["unmatched"] += 1
                    await self._send_pair(send, routes.NOT_FOUND)
            except Exception:
                LOG.exception("unhandled error on %s", path)
                await self._send_pair(send, error_response(500, "server_error", "internal error"))
        elif scope["type"] == "lifespan":
            await self._lifespan(receive, send)

    # /verify

    async def verify(self, scope: Scope, send: Send) -> None:
        auth = proto = host = uri = None
        repeated = False
        for name, value in scope["headers"]:
            if name == b"authorization":
                repeated |= auth is not None
                auth = value
            elif name == b"x-forwarded-host":
                repeated |= host is not None
                host = value
            elif name == b"x-forwarded-proto":
                repeated |= proto is not None
                proto = value
            elif name == b"x-forwarded-uri":
                uri = value
        try:
            if repeated:
                raise BadForwardedRequest("repeated Authorization or X-Forwarded-* header")
            resource = self.resources.resolve(scope["query_string"], proto, host, uri)
        except BadForwardedRequest as exc:
            self._counts["bad_request"] += 1
            if self.decisions.denied:
                self.decisions.log_denied(BAD_REQUEST_DENIAL, None, None)
            await self._send_pair(send, self.denials.bad_request(str(exc), scope["headers"]))
            return
        # RFC 6750 §3.1: no credentials (or another scheme) -> challenge without an error code.
        scheme, _, token = (auth or b"").partition(b" ")
        if scheme.lower() != b"bearer":
            if auth is None and forwarded_preflight(scope["headers"]):
                # A CORS preflight carries no token (Fetch §4.8): the MCP server answers it,
                # and gets no identity with it (see cors).
                self._counts["preflight"] += 1
                await self._send_pair(send, PREFLIGHT_PASS)
                return
            await self._deny(send, NO_TOKEN, resource, None, scope)
            return
        token = token.strip(b" ")
        now = self.clock()
        verified = self.cache.get(token, now)
        try:
            if verified is None:
                result = await self._verify_token(token, now)
                if isinstance(result, Denial):
                    await self._deny(send, result, resource, None, scope)
                    return
                verified = result
            denial = decide(
                verified, resource, require_resource_tokens=self._require_resource_tokens
            )
            if denial is not None:
                await self._deny(send, denial, resource, verified, scope)
                return
            revocation = self.revocation
            if not (
                revocation.cached_live(verified.jti)
                or await revocation.is_live(verified.jti, verified.redis_key)
            ):
                # The verified claims stay cached: a replayed revoked token then costs one
                # EXISTS, not a signature check. An upstream token cached for it goes now.
                self.cache.discard_upstream(token)
                await self._deny(send, REVOKED, resource, verified, scope)
                return
        except RedisUnavailable:
            self._counts["unavailable"] += 1
            if self.decisions.denied:
                self.decisions.log_denied(UNAVAILABLE_DENIAL, resource.uri, verified)
            await self._send_pair(send, self.denials.unavailable(scope["headers"]))
            return
        start, outcome = verified.ok_start, None
        rules = self.policy.get(resource.uri) if self.policy else None
        if rules is not None:
            denial = rules.check_token(verified)
            if denial is None and rules.tools is not None:
                denial, outcome = rules.check_request(verified, scope["headers"])
            if outcome is not None:
                self.metrics.count_tool(outcome, denial)
            if denial is not None:
                await self._deny(send, denial, resource, verified, scope, outcome)
                return
            if rules.inject_upstream_token:
                answer = await upstream_answer(self.upstream, token, verified, now)
                if isinstance(answer, Denial):
                    await self._deny(send, answer, resource, verified, scope, outcome)
                    return
                start = answer
            elif rules.forward_token is not None:
                forward = rules.forward_token
                start = verified.ok_start_with_token if forward else verified.ok_start_plain
        self._counts["allowed"] += 1
        if self.decisions.allowed:
            self.decisions.log_allowed(verified, resource.uri, outcome)
        await send(start)
        await send(EMPTY_BODY)

    async def _verify_token(self, token: bytes, now: float) -> VerifiedToken | Denial:
        if len(token) > MAX_TOKEN_BYTES or not _B64TOKEN(token):
            return MALFORMED
        text = token.decode("ascii")
        settings = self.settings
        for attempt in (1, 2):
            try:
                claims = decode(
                    text,
                    keys=self.keys.keys,
                    algorithm=settings.jwt_algorithm,
                    issuer=settings.issuer_url,
                    now=now,
                )
                break
            except InvalidToken as exc:
                retry = exc.reason == "unknown_kid" and attempt == 1
                if not retry or not await self.keys.reload_for_unknown_kid():
                    return Denial(401, INVALID_TOKEN, exc.reason, str(exc))
        result = accept_claims(
            claims,
            token,
            forward_token=settings.forward_token_header,
            groups_header=settings.groups_header,
            **self._heads,
        )
        if isinstance(result, VerifiedToken):
            self.cache.put(token, result, now)
        return result

    async def _deny(
        self,
        send: Send,
        denial: Denial,
        resource: Resource,
        token: VerifiedToken | None,
        scope: Scope,
        outcome: Outcome | None = None,
    ) -> None:
        self._counts[denial.reason] += 1
        if self.decisions.denied:
            self.decisions.log_denied(denial, resource.uri, token, outcome)
        await self._send_pair(send, self.denials.for_denial(resource, denial, scope["headers"]))

    @staticmethod
    async def _send_pair(send: Send, pair: tuple[Message, Message]) -> None:
        await send(pair[0])
        await send(pair[1])

    # Lifespan

    async def startup(self) -> None:
        fields = logs.startup_fields(self.settings, keys_from_redis=self.keys.from_redis)
        LOG.info(
            "authgate-verifier %s starting: %s",
            __version__,
            " ".join(f"{k}={v}" for k, v in fields.items()),
            extra={"fields": {"event": "startup", "version": __version__, **fields}},
        )
        for warning in self.settings.warnings:
            LOG.warning(warning)
        try:
            await self.keys.load()
        except RedisUnavailable:
            LOG.warning("Redis unavailable at start-up; keys will load when it answers")
        loop = asyncio.get_running_loop()
        if self.keys.from_redis:
            interval = self.settings.key_reload_interval
            self._tasks.append(loop.create_task(self.keys.refresh_forever(interval)))
        exchange = self.settings.token_exchange
        if exchange is not None:
            # One pool for every token exchange of this worker (upstream.py).
            limits = httpx.Limits(max_connections=64)
            self.http = httpx.AsyncClient(limits=limits, trust_env=False)
            counts = self.metrics.upstream_exchanges
            self.upstream = UpstreamTokens(self.http, exchange, self.cache, counts)
        if self.settings.revocation_cache_ms > 0:
            # RESP2 on purpose: redis-py's asyncio client drops RESP3 pushes (see subscriber).
            self._subscriber = create_pubsub_client(self.settings.redis)
            task = run_subscriber(self._subscriber, self.revocation)
            self._tasks.append(loop.create_task(task))

    async def shutdown(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self.redis.aclose()
        if self.http is not None:
            await self.http.aclose()
        if self._subscriber is not None:
            await self._subscriber.aclose()

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await self.startup()
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await self.shutdown()
                await send({"type": "lifespan.shutdown.complete"})
                return


def app_from_env() -> VerifierApp:
    """uvicorn factory: one app (and one Redis pool, one cache) per worker process."""
    return VerifierApp(VerifierSettings.from_process_env())
