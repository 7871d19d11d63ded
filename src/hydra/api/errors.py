"""JSON error responses: ``{"error": message, "field": name?}`` with a 4xx status."""

from __future__ import annotations

from pydantic import ValidationError
from starlette.responses import JSONResponse

from hydra.switches import SwitchError

SWITCH_STATUS = {"not_found": 404, "conflict": 409, "invalid": 422}


def error_response(status: int, message: str, *, field: str | None = None) -> JSONResponse:
    body: dict[str, str] = {"error": message}
    if field:
        body["field"] = field
    return JSONResponse(body, status_code=status)


def switch_error_response(exc: SwitchError) -> JSONResponse:
    return error_response(SWITCH_STATUS[exc.kind], str(exc))


def validation_error_response(exc: ValidationError) -> JSONResponse:
    err = exc.errors()[0]
    field = ".".join(str(p) for p in err["loc"]) or None
    reason = "unknown field" if err["type"] == "extra_forbidden" else err["msg"]
    message = f"{field}: {reason}" if field else reason
    return error_response(422, message, field=field)
