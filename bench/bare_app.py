"""The ceiling: a bare ASGI app answering 200 with two headers, under the verifier's uvicorn
settings (same loop, HTTP parser, worker count), so the ratio measures only the verifier."""

from __future__ import annotations

import argparse
from typing import Any

import uvicorn

from authgate_verifier.__main__ import UVICORN_OPTIONS

START = {
    "type": "http.response.start",
    "status": 200,
    "headers": [(b"content-length", b"0"), (b"x-bare", b"1")],
}
BODY = {"type": "http.response.body", "body": b""}


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            await send({"type": message["type"] + ".complete"})
            if message["type"] == "lifespan.shutdown":
                return
    await send(START)
    await send(BODY)


def main() -> None:
    parser = argparse.ArgumentParser(prog="bench.bare_app")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--workers", type=int, default=1)
    args = parser.parse_args()
    uvicorn.run(
        "bench.bare_app:app",
        host=args.host,
        port=args.port,
        workers=args.workers,
        **UVICORN_OPTIONS,  # type: ignore[arg-type]
    )


if __name__ == "__main__":
    main()
