"""Injected faults shared by the stand-in's endpoints (``POST /_standin/faults``)."""

from __future__ import annotations

import asyncio

from starlette.responses import Response

from .state import Faults


async def fault_answer(mode: str, faults: Faults) -> Response | None:
    """The answer a faulty GitHub gives in ``mode``; None to answer normally (after the delay
    of ``slow``)."""
    if mode == "slow":
        await asyncio.sleep(faults.delay)
    if mode == "error500":
        return Response("<html>Internal Server Error</html>", 500, media_type="text/html")
    if mode == "malformed":
        return Response('{"access_token": "tr', 200, media_type="application/json")
    return None
