"""Reading a JSON request body into a pydantic model, with 4xx answers for bad input."""

from __future__ import annotations

from typing import TypeVar

import orjson
from pydantic import BaseModel, ValidationError
from starlette.requests import Request
from starlette.responses import Response

from hydra.api.errors import error_response, validation_error_response
from hydra.api.security import BodyTooLarge

M = TypeVar("M", bound=BaseModel)


async def read_body(request: Request, model: type[M], *, optional: bool = False) -> M | Response:
    """The validated body, or the 4xx response to send instead; ``optional``: an empty body
    is read as ``{}``."""
    try:
        raw = await request.body()
    except BodyTooLarge as exc:
        return error_response(413, str(exc))
    if not raw.strip():
        if optional:
            return _validate(model, {})
        return error_response(422, "request body is empty: expected a JSON object")
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        return error_response(422, f"malformed JSON body: {exc}")
    if not isinstance(data, dict):
        return error_response(422, "request body must be a JSON object")
    return _validate(model, data)


def _validate(model: type[M], data: dict[str, object]) -> M | Response:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        return validation_error_response(exc)
