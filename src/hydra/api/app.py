"""The Starlette application: an explicit route list, guards, and 4xx/5xx error bodies."""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from hydra.api import routes_loops
from hydra.api.errors import error_response
from hydra.api.security import GuardMiddleware, allowed_hosts
from hydra.runtime import Runtime


async def healthz(request: Request) -> Response:
    rt: Runtime = request.app.state.runtime
    body = {"status": "degraded" if rt.problems else "ok", "problems": rt.problems}
    return JSONResponse(body, status_code=503 if rt.problems else 200)


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)  # noqa: S101 - registered for HTTPException only
    return error_response(exc.status_code, str(exc.detail))


def create_app(runtime: Runtime) -> Starlette:
    settings = runtime.settings.api
    routes = [Route("/healthz", healthz, methods=["GET"]), *routes_loops.ROUTES]
    app = Starlette(
        routes=routes,
        middleware=[
            Middleware(
                GuardMiddleware,
                token=runtime.token,
                hosts=allowed_hosts(settings.host, settings.allowed_hosts),
                max_body=settings.max_body_bytes,
            )
        ],
        exception_handlers={HTTPException: _http_error},
    )
    app.state.runtime = runtime
    return app
