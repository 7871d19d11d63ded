"""The Starlette application: routes from the operation table, guards, error bodies.

Every ``/api`` route is listed in :data:`OPERATIONS` (one table for routes and OpenAPI), except
the SSE feed, which is documented by hand in :data:`EXTRA_PATHS`. The dashboard page, its
assets, ``/metrics``, ``/healthz`` and ``/openapi.json`` complete the surface.
"""

from __future__ import annotations

from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from hydra.api import dashboard, routes_audit, routes_costs, routes_escalations, routes_loops
from hydra.api.errors import error_response
from hydra.api.events import events
from hydra.api.metrics import Metrics, metrics_endpoint
from hydra.api.models import HealthView
from hydra.api.openapi import build_openapi
from hydra.api.operations import Operation, endpoint
from hydra.api.security import GuardMiddleware, allowed_hosts, is_loopback
from hydra.runtime import Runtime

OPERATIONS: list[Operation] = [
    *routes_loops.OPERATIONS,
    *routes_costs.OPERATIONS,
    *routes_escalations.OPERATIONS,
    *routes_audit.OPERATIONS,
]

_TEXT = {"text/plain": {"schema": {"type": "string"}}}


def _dashboard_paths() -> dict[str, Any]:
    """The page and each of its assets, from the table their routes are built from."""
    paths: dict[str, Any] = {}
    for path, (name, media) in dashboard._ASSETS.items():
        page = path == "/"
        paths[path] = {
            "get": {
                "operationId": "dashboard" if page else f"asset_{name.replace('.', '_')}",
                "summary": "The dashboard page (token from the URL fragment)"
                if page
                else f"Dashboard asset {name}",
                "security": [],
                "responses": {
                    "200": {
                        "description": name,
                        "content": {media.split(";")[0]: {"schema": {"type": "string"}}},
                    }
                },
            }
        }
    return paths


EXTRA_PATHS: dict[str, Any] = {
    "/api/events": {
        "get": {
            "operationId": "events",
            "summary": "Server-Sent Events: every new audit record (event `audit`)",
            "tags": ["events"],
            "responses": {
                "200": {
                    "description": "an event stream",
                    "content": {"text/event-stream": {"schema": {"type": "string"}}},
                },
                "401": {
                    "description": "missing or wrong bearer token",
                    "content": {
                        "application/json": {"schema": {"$ref": "#/components/schemas/ErrorView"}}
                    },
                },
            },
        }
    },
    "/healthz": {
        "get": {
            "operationId": "healthz",
            "summary": "Liveness: 200 ok, 503 when something needs an operator",
            "security": [],
            "responses": {
                "200": {
                    "description": "ok",
                    "content": {
                        "application/json": {"schema": {"$ref": "#/components/schemas/HealthView"}}
                    },
                },
                "503": {
                    "description": "degraded",
                    "content": {
                        "application/json": {"schema": {"$ref": "#/components/schemas/HealthView"}}
                    },
                },
            },
        }
    },
    "/metrics": {
        "get": {
            "operationId": "metrics",
            "summary": "Prometheus metrics",
            "security": [],
            "responses": {"200": {"description": "Prometheus text format", "content": _TEXT}},
        }
    },
    "/openapi.json": {
        "get": {
            "operationId": "openapi",
            "summary": "This document",
            "security": [],
            "responses": {
                "200": {
                    "description": "OpenAPI 3.1",
                    "content": {"application/json": {"schema": {"type": "object"}}},
                }
            },
        }
    },
    **_dashboard_paths(),
}


async def healthz(request: Request) -> Response:
    rt: Runtime = request.app.state.runtime
    # Served without a token: the problems are the daemon's own words, redacted all the same.
    problems = [rt.redactor.redact_text(problem) for problem in rt.problems]
    view = HealthView(status="degraded" if problems else "ok", problems=problems)
    return Response(
        view.model_dump_json(),
        status_code=503 if rt.problems else 200,
        media_type="application/json",
    )


async def openapi(request: Request) -> Response:
    return JSONResponse(request.app.state.openapi)


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)  # noqa: S101 - registered for HTTPException only
    return error_response(exc.status_code, str(exc.detail))


async def _server_error(request: Request, exc: Exception) -> Response:
    return error_response(500, f"internal error: {type(exc).__name__}")


def routes() -> list[BaseRoute]:
    api: list[BaseRoute] = [Route(op.path, endpoint(op), methods=[op.method]) for op in OPERATIONS]
    return [
        Route("/healthz", healthz, methods=["GET"]),
        Route("/metrics", metrics_endpoint, methods=["GET"]),
        Route("/openapi.json", openapi, methods=["GET"]),
        Route("/api/events", events, methods=["GET"]),
        *api,
        *dashboard.ROUTES,
    ]


def create_app(runtime: Runtime, metrics: Metrics | None = None) -> Starlette:
    settings = runtime.settings.api
    app = Starlette(
        routes=routes(),
        middleware=[
            Middleware(
                GuardMiddleware,
                token=runtime.token,
                hosts=allowed_hosts(settings.host, settings.allowed_hosts),
                max_body=settings.max_body_bytes,
                open_metrics=is_loopback(settings.host) or settings.unix_socket is not None,
            )
        ],
        exception_handlers={HTTPException: _http_error, Exception: _server_error},
    )
    app.state.runtime = runtime
    app.state.metrics = metrics or Metrics()
    app.state.metrics.attach(runtime)
    app.state.openapi = build_openapi(OPERATIONS, EXTRA_PATHS)
    return app
