"""``/api/loops`` and ``/api/switches``: list, update and trigger loops; the global switch."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from hydra.api.body import read_body
from hydra.api.errors import switch_error_response
from hydra.api.schemas import GlobalSwitch, LoopUpdate
from hydra.api.security import actor_of
from hydra.api.views import loop_view, switch_view
from hydra.runtime import Runtime
from hydra.switches import SwitchError


def _rt(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


async def list_loops(request: Request) -> Response:
    rt = _rt(request)
    loops = [loop_view(rt, status) for status in rt.orchestrator.statuses()]
    return JSONResponse({"global": switch_view(rt.board.global_switch), "loops": loops})


async def get_loop(request: Request) -> Response:
    rt = _rt(request)
    try:
        status = rt.orchestrator.status(request.path_params["name"])
    except SwitchError as exc:
        return switch_error_response(exc)
    return JSONResponse(loop_view(rt, status))


async def update_loop(request: Request) -> Response:
    rt = _rt(request)
    name = request.path_params["name"]
    body = await read_body(request, LoopUpdate)
    if isinstance(body, Response):
        return body
    try:
        rt.orchestrator.status(name)
        event = await rt.board.update_loop(
            name,
            actor=actor_of(request.headers),
            reason=body.reason,
            enabled=body.enabled,
            interval_s=body.interval_s,
            mode=body.mode,
            drain=body.drain,
        )
    except SwitchError as exc:
        return switch_error_response(exc)
    view: dict[str, Any] = loop_view(rt, rt.orchestrator.status(name))
    view["changed"] = event is not None
    return JSONResponse(view)


async def trigger_loop(request: Request) -> Response:
    rt = _rt(request)
    try:
        merged = rt.orchestrator.trigger(request.path_params["name"])
    except SwitchError as exc:
        return switch_error_response(exc)
    return JSONResponse({"triggered": True, "merged_into_running_tick": merged}, status_code=202)


async def set_global(request: Request) -> Response:
    rt = _rt(request)
    body = await read_body(request, GlobalSwitch)
    if isinstance(body, Response):
        return body
    try:
        event = await rt.board.set_global(
            enabled=body.enabled,
            actor=actor_of(request.headers),
            reason=body.reason,
            drain=body.drain,
        )
    except SwitchError as exc:
        return switch_error_response(exc)
    return JSONResponse(
        {"global": switch_view(rt.board.global_switch), "changed": event is not None}
    )


ROUTES = [
    Route("/api/loops", list_loops, methods=["GET"]),
    Route("/api/loops/{name}", get_loop, methods=["GET"]),
    Route("/api/loops/{name}", update_loop, methods=["PUT"]),
    Route("/api/loops/{name}/trigger", trigger_loop, methods=["POST"]),
    Route("/api/switches/all", set_global, methods=["PUT"]),
]
