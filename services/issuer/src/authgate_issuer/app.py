"""The issuer's ASGI application: wiring of settings, clients and routers.

Public routes only; everything is built once in the lifespan and passed to handlers through
``IssuerContext``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import AsyncIterator

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from authgate_shared import errors
from authgate_shared.cors import CorsPolicy
from authgate_shared.redis.connection import REDIS_DOWN_ERRORS
from authgate_shared.runtime import Clock, RandomBytes, system_clock, system_random

from .context import IssuerContext, open_context
from .endpoints import (
    account,
    authorize,
    callback,
    client_config,
    consent,
    discovery,
    health,
    home,
    introspect,
    jwks,
    register,
    revoke,
    token,
)
from .oauth.errors import OAuthError
from .settings import IssuerSettings
from .store.keystore import load_key_ring, publish_jwks, ring_version
from .web import logs, metrics, openapi, request_id
from .web.cors import Cors, answer_headers
from .web.fast_documents import IssuerApp
from .web.middleware import BodyLimit, SecurityHeaders
from .web.responses import json_response

LOG = logging.getLogger("authgate.issuer")
JWKS_REPUBLISH_SECONDS = 30.0


async def _keep_jwks_published(ctx: IssuerContext, period: float) -> None:
    """Publish the JWK Set now and periodically, so a Redis that was down at start-up, or was
    restored from an old backup, gets the keys again without an issuer restart.

    When the key directory changed (``authgate keys rotate`` / ``keys prune``), the ring is
    re-read first, so every replica signs with the new key within one period and none
    republishes a stale set over it. The re-read is rare and small, so it runs inline.
    """
    version = ring_version(ctx.settings)
    while True:
        latest = ring_version(ctx.settings)
        if latest != version:
            try:
                ctx.keys = load_key_ring(ctx.settings)
                version = latest
            except (OSError, RuntimeError, ValueError):
                LOG.error("could not re-read the signing keys; keeping the loaded ones")
        try:
            await publish_jwks(ctx.redis, ctx.keys)
        except REDIS_DOWN_ERRORS:
            LOG.warning("could not publish the JWK Set to Redis; will retry")
        await asyncio.sleep(period)


def create_app(
    settings: IssuerSettings,
    *,
    clock: Clock = system_clock,
    random: RandomBytes = system_random,
    key_refresh_seconds: float = JWKS_REPUBLISH_SECONDS,
) -> IssuerApp:
    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with open_context(settings, clock=clock, random=random) as ctx:
            app.state.ctx = ctx
            publisher = asyncio.create_task(_keep_jwks_published(ctx, key_refresh_seconds))
            try:
                yield
            finally:
                publisher.cancel()

    cors = CorsPolicy.of(settings.cors_allowed_origins)
    app = IssuerApp(
        cors=cors,
        title="Authgate issuer",
        version="0.2.0",
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        openapi_url="/openapi.json",
    )

    @app.exception_handler(OAuthError)
    async def oauth_error(_: Request, exc: OAuthError) -> Response:
        return json_response(exc.body(), exc.status, headers=exc.headers)

    @app.exception_handler(RequestValidationError)
    async def validation_error(_: Request, exc: RequestValidationError) -> Response:
        # Never a framework 422: RFC 6749 §5.2 says malformed requests are invalid_request.
        return json_response(
            {"error": errors.INVALID_REQUEST, "error_description": "malformed request"}, 400
        )

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_: Request, exc: StarletteHTTPException) -> Response:
        code = errors.INVALID_REQUEST if exc.status_code < 500 else errors.SERVER_ERROR
        return json_response(
            {"error": code, "error_description": str(exc.detail)},
            exc.status_code,
            headers=dict(exc.headers or {}),
        )

    for error_type in REDIS_DOWN_ERRORS:

        @app.exception_handler(error_type)
        async def redis_down(_: Request, exc: Exception) -> Response:
            LOG.error("storage unavailable: %s", type(exc).__name__)
            body = {
                "error": errors.TEMPORARILY_UNAVAILABLE,
                "error_description": "storage is unavailable, retry shortly",
            }
            return json_response(body, 503, headers={"Retry-After": "2"})

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> Response:
        LOG.error("unhandled error: %s", type(exc).__name__, exc_info=exc)
        body = {"error": errors.SERVER_ERROR, "error_description": "internal error"}
        response = json_response(body, 500)
        # Starlette answers this outside every middleware: add what web.cors would have.
        for name, value in answer_headers(cors, request.scope):
            response.headers.append(name.decode(), value.decode())
        return response

    for module in (
        home,
        health,
        discovery,
        jwks,
        register,
        client_config,
        authorize,
        consent,
        callback,
        token,
        revoke,
        introspect,
        account,
    ):
        app.include_router(module.router)

    app.add_middleware(BodyLimit, limit=settings.max_body_bytes)
    # Outside BodyLimit, so a 413 is readable cross-origin too.
    app.add_middleware(Cors, policy=cors)
    app.add_middleware(SecurityHeaders)
    metrics.install(app, settings)
    # Last, so it is outermost and every other middleware's log lines carry the request id.
    request_id.install(app, settings)
    openapi.install(app)
    return app


def app_from_env() -> IssuerApp:
    """Uvicorn factory (one call per worker): settings from the environment."""
    settings = IssuerSettings.from_env(os.environ)
    logs.configure(settings.log_format, settings.log_level)
    return create_app(settings)
