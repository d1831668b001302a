"""Request ids: ``X-Request-Id`` taken from the request (when safe) or made up, echoed back.

A proxy in front (Traefik, nginx) usually sets the header, so one id follows a request through
proxy, issuer and logs. The incoming value is only trusted when short and of a safe charset: it
ends up in log lines and a response header, and must not be able to forge either.
"""

from __future__ import annotations

import itertools
import os
import re
import secrets

from fastapi import FastAPI
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ..settings import IssuerSettings
from .logs import REQUEST_ID

HEADER = b"x-request-id"
_SAFE = re.compile(rb"[A-Za-z0-9._:@/+=-]{1,128}")


def current() -> str | None:
    """The id of the request being handled (None outside a request)."""
    return REQUEST_ID.get()


def _incoming(scope: Scope) -> str | None:
    for name, value in scope["headers"]:
        if name == HEADER:
            return value.decode("ascii") if _SAFE.fullmatch(value) else None
    return None


class _Ids:
    """Made-up ids: 64 random bits per process, then a counter (32 hex digits in all).

    An id must be unique, not secret, and reading the OS random source per request cost ~7%
    of a cached document's answer; a forked child draws its own prefix.
    """

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self._prefix = secrets.token_hex(8)
        self._counter = itertools.count()

    def new(self) -> str:
        return f"{self._prefix}{next(self._counter) & 0xFFFFFFFFFFFFFFFF:016x}"


_IDS = _Ids()
os.register_at_fork(after_in_child=_IDS.reset)


def for_scope(scope: Scope) -> str:
    """The request's safe incoming id, else a new one."""
    return _incoming(scope) or _IDS.new()


class RequestId:
    """Pure ASGI middleware: sets the id for logs (``logs.REQUEST_ID``) and the response."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = for_scope(scope)
        # Not reset afterwards on purpose: Starlette's outermost error handler logs unhandled
        # exceptions after this call returns, in the same task, and should carry the id too.
        # Each request runs in its own task (own context copy), so nothing leaks across requests.
        REQUEST_ID.set(request_id)
        encoded = request_id.encode("ascii")

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [(n, v) for n, v in message.get("headers", []) if n.lower() != HEADER]
                message["headers"] = [*headers, (HEADER, encoded)]
            await send(message)

        await self.app(scope, receive, send_with_id)


def install(app: FastAPI, settings: IssuerSettings | None = None) -> None:
    """Wrap the app; call last among ``add_middleware`` calls so it is outermost and every
    other middleware's log lines carry the id."""
    app.add_middleware(RequestId)
