"""The ceiling: a bare ASGI app answering 200 with two headers, under the verifier's uvicorn
settings (same loop, HTTP parser, worker count), so the ratio measures only the verifier.

With ``--headers FILE`` (a JSON list of ``[name, value]``) it answers with those headers
instead: the bench's control row, the verifier's own 200 sent without any of its work.
"""

from __future__ import annotations

import argparse
import json
import os
from typing import Any

import uvicorn

from authgate_verifier.__main__ import UVICORN_OPTIONS

TWO_HEADERS = [(b"content-length", b"0"), (b"x-bare", b"1")]
BODY = {"type": "http.response.body", "body": b""}
# How the worker processes uvicorn starts learn of --headers (they import the factory anew).
HEADERS_FILE = "BENCH_BARE_HEADERS"


class BareApp:
    def __init__(self, headers: list[tuple[bytes, bytes]]) -> None:
        self.start = {"type": "http.response.start", "status": 200, "headers": headers}

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                await send({"type": message["type"] + ".complete"})
                if message["type"] == "lifespan.shutdown":
                    return
        await send(self.start)
        await send(BODY)


def headers_from(path: str) -> list[tuple[bytes, bytes]]:
    with open(path, encoding="utf-8") as file:
        pairs = json.load(file)
    return [(name.encode("latin-1"), value.encode("latin-1")) for name, value in pairs]


def make_app() -> BareApp:
    path = os.environ.get(HEADERS_FILE)
    return BareApp(headers_from(path) if path else TWO_HEADERS)


def main() -> None:
    parser = argparse.ArgumentParser(prog="bench.bare_app")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--headers", help="JSON file of [name, value] pairs to answer with")
    args = parser.parse_args()
    if args.headers:
        os.environ[HEADERS_FILE] = os.path.abspath(args.headers)
    uvicorn.run(
        "bench.bare_app:make_app",
        factory=True,
        host=args.host,
        port=args.port,
        workers=args.workers,
        **UVICORN_OPTIONS,  # type: ignore[arg-type]
    )


if __name__ == "__main__":
    main()
