"""The issuer's ceiling: bare FastAPI routes under the issuer's uvicorn settings.

Each route does only what any FastAPI handler of the same shape must do, so the ratio of an
issuer endpoint to its route measures the issuer's own work: a cached JSON document with
ETag/Cache-Control (discovery, JWKS), a JSON body answered with 201 (registration), and a form
body answered with JSON and ``no-store`` (token).
"""

from __future__ import annotations

import argparse
from urllib.parse import parse_qsl

import orjson
import uvicorn
from fastapi import FastAPI, Request
from starlette.responses import Response

from authgate_issuer.__main__ import UVICORN_OPTIONS

DOCUMENT = orjson.dumps({"issuer": "http://127.0.0.1", "padding": "x" * 1200})
ETAG = '"bare"'
NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}

app = FastAPI(docs_url=None, redoc_url=None, openapi_url=None)


@app.get("/static")
async def static() -> Response:
    headers = {"ETag": ETAG, "Cache-Control": "public, max-age=3600"}
    return Response(DOCUMENT, media_type="application/json", headers=headers)


@app.post("/json")
async def json_body(request: Request) -> Response:
    data = orjson.loads(await request.body())
    return Response(orjson.dumps(data), 201, media_type="application/json", headers=NO_STORE)


@app.post("/form")
async def form_body(request: Request) -> Response:
    data = dict(parse_qsl((await request.body()).decode()))
    return Response(orjson.dumps(data), media_type="application/json", headers=NO_STORE)


@app.get("/health")
async def health() -> Response:
    return Response(b"{}", media_type="application/json")


def main() -> None:
    parser = argparse.ArgumentParser(prog="bench.bare_fastapi")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    uvicorn.run(
        "bench.bare_fastapi:app",
        host="127.0.0.1",
        port=args.port,
        workers=args.workers,
        **UVICORN_OPTIONS,  # those of ``python -m authgate_issuer`` (h11 included)
    )


if __name__ == "__main__":
    main()
