"""The API's operations: one table drives both the routes and the OpenAPI document.

Each :class:`Operation` names its method, path, request body and query models, response model,
success status and the error statuses it can answer. :func:`endpoint` turns one into a Starlette
endpoint that validates input (4xx with a message naming the field), maps domain errors to
status codes and serialises the response model.

A change that cannot be made durable (failed fsync of an audit stream or a state file) pulls
the daemon's fatal signal and answers 503: the daemon is stopping. A damaged audit stream
answers 503 too, naming the repair.
"""

from __future__ import annotations

import types
import typing
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ValidationError
from starlette.requests import Request
from starlette.responses import Response

from hydra.api.body import read_body
from hydra.api.errors import error_response, validation_error_response
from hydra.api.security import actor_of
from hydra.audit import AuditFatal, StreamDamaged
from hydra.escalations import EscalationError
from hydra.runtime import Runtime
from hydra.statefile import DurabilityError
from hydra.switches import SwitchError

_KIND_STATUS = {"not_found": 404, "conflict": 409, "invalid": 422}


class ApiError(Exception):
    """Raised by a handler for a 4xx answer."""

    def __init__(self, status: int, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.field = field


@dataclass(frozen=True)
class Call:
    request: Request
    rt: Runtime
    body: Any
    query: Any
    params: dict[str, str]
    actor: str


Handler = Callable[[Call], Awaitable[BaseModel | Response]]


@dataclass(frozen=True)
class Operation:
    method: str
    path: str
    summary: str
    handler: Handler
    response: type[BaseModel]
    status: int = 200
    body: type[BaseModel] | None = None
    body_optional: bool = False
    """An empty request body is read as ``{}`` (every field of ``body`` has a default)."""
    query: type[BaseModel] | None = None
    errors: tuple[int, ...] = ()
    tag: str = "loops"
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def all_errors(self) -> tuple[int, ...]:
        codes = {400, 401, *self.errors}
        if self.method != "GET":
            codes.add(503)
        if self.body is not None:
            codes |= {413, 422}
        if self.query is not None:
            codes.add(422)
        return tuple(sorted(codes))


def endpoint(op: Operation) -> Callable[[Request], Awaitable[Response]]:
    async def handle(request: Request) -> Response:
        rt: Runtime = request.app.state.runtime
        query = None
        if op.query is not None:
            query = parse_query(request, op.query)
            if isinstance(query, Response):
                return query
        body = None
        if op.body is not None:
            body = await read_body(request, op.body, optional=op.body_optional)
            if isinstance(body, Response):
                return body
        call = Call(request, rt, body, query, dict(request.path_params), actor_of(request.headers))
        return await _answer(op, call)

    handle.__name__ = op.handler.__name__
    return handle


async def _answer(op: Operation, call: Call) -> Response:
    """Run the handler; map domain errors to their status.

    Error messages are redacted: some quote live state (a refused trigger names the stop
    reason of a broken loop, which is its plugin's import error)."""
    clean = call.rt.redactor.redact_text
    try:
        result = await op.handler(call)
    except (SwitchError, EscalationError) as exc:
        return error_response(_KIND_STATUS.get(exc.kind, 422), clean(str(exc)))
    except ApiError as exc:
        return error_response(exc.status, clean(str(exc)), field=exc.field)
    except (AuditFatal, DurabilityError) as exc:
        call.rt.fatal.trigger(exc)
        return error_response(503, clean(f"the daemon is stopping: {exc}"))
    except StreamDamaged as exc:
        return error_response(503, clean(str(exc)))
    if isinstance(result, Response):
        return result
    return Response(
        result.model_dump_json(by_alias=True), status_code=op.status, media_type="application/json"
    )


def parse_query(request: Request, model: type[BaseModel]) -> BaseModel | Response:
    """Validate the query string against ``model`` (list fields take repeated keys)."""
    params = request.query_params
    unknown = sorted(set(params) - set(model.model_fields))
    if unknown:
        return error_response(422, f"{unknown[0]}: unknown query parameter", field=unknown[0])
    data: dict[str, Any] = {}
    for name, info in model.model_fields.items():
        if name not in params:
            continue
        data[name] = params.getlist(name) if _is_list(info.annotation) else params[name]
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        return validation_error_response(exc)


def _is_list(annotation: Any) -> bool:
    if typing.get_origin(annotation) in (list, tuple):
        return True
    if isinstance(annotation, types.UnionType) or typing.get_origin(annotation) is typing.Union:
        return any(_is_list(arg) for arg in typing.get_args(annotation))
    return False
