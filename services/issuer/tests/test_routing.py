"""DirectRoute: the endpoint is the handler, and the route stays an APIRoute (OpenAPI, errors)."""

from __future__ import annotations

from fastapi import APIRouter, FastAPI, Request
from fastapi.testclient import TestClient
from starlette.responses import Response

from authgate_issuer.oauth.errors import InvalidRequest, OAuthError
from authgate_issuer.web.responses import json_response
from authgate_issuer.web.routing import DirectRoute


def _app() -> FastAPI:
    app = FastAPI()
    router = APIRouter(route_class=DirectRoute)

    @router.post("/echo")
    async def echo(request: Request) -> Response:
        body = await request.body()
        if body == b"fail":
            raise InvalidRequest("told to fail")
        return Response(body, headers={"x-method": request.method})

    @app.exception_handler(OAuthError)
    async def oauth_error(_: Request, exc: OAuthError) -> Response:
        return json_response(exc.body(), exc.status)

    app.include_router(router)
    return app


def test_the_endpoint_answers_the_request_itself() -> None:
    client = TestClient(_app())
    answer = client.post("/echo", content=b"hello")
    assert answer.content == b"hello" and answer.headers["x-method"] == "POST"
    assert client.get("/echo").status_code == 405


def test_errors_reach_the_apps_handlers_and_the_route_is_documented() -> None:
    app = _app()
    answer = TestClient(app).post("/echo", content=b"fail")
    assert answer.status_code == 400 and answer.json()["error"] == "invalid_request"
    assert "post" in app.openapi()["paths"]["/echo"]
