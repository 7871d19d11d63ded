"""The OpenAPI 3.1 document, generated from the operation table and the pydantic models."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from hydra import __version__
from hydra.api.models import ErrorView
from hydra.api.operations import Operation

_REF = "#/components/schemas/{model}"
_PARAM = re.compile(r"{(\w+)}")
_ERROR_TEXT = {
    400: "host not allowed",
    401: "missing or wrong bearer token",
    404: "not found",
    409: "conflict with the current state",
    413: "request body too large",
    422: "invalid input; the message names the field",
    503: "the change could not be made durable (the daemon is stopping) or its audit stream "
    "is damaged",
}


def build_openapi(operations: Sequence[Operation], extra_paths: dict[str, Any]) -> dict[str, Any]:
    models = _models(operations)
    _, schemas = models_json_schema(
        [
            (m, "serialization" if m is not _body_of(operations, m) else "validation")
            for m in models
        ],
        ref_template=_REF,
    )
    paths: dict[str, Any] = {}
    for op in operations:
        paths.setdefault(op.path, {})[op.method.lower()] = _operation(op)
    for path, item in extra_paths.items():
        paths.setdefault(path, {}).update(
            {method: _with_host_error(spec) for method, spec in item.items()}
        )
    return {
        "openapi": "3.1.0",
        "info": {"title": "Hydra daemon API", "version": __version__},
        "components": {
            "schemas": schemas.get("$defs", {}),
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
        "security": [{"bearer": []}],
        "paths": paths,
    }


def _with_host_error(spec: dict[str, Any]) -> dict[str, Any]:
    """The ``Host`` check answers 400 on every path, documented or written by hand."""
    error = {
        "description": _ERROR_TEXT[400],
        "content": {"application/json": {"schema": _ref(ErrorView)}},
    }
    return {**spec, "responses": {**spec["responses"], "400": error}}


def _body_of(operations: Iterable[Operation], model: type[BaseModel]) -> type[BaseModel] | None:
    return model if any(op.body is model for op in operations) else None


def _models(operations: Sequence[Operation]) -> list[type[BaseModel]]:
    seen: dict[str, type[BaseModel]] = {"ErrorView": ErrorView}
    for op in operations:
        for model in (op.response, op.body):
            if model is not None:
                seen.setdefault(model.__name__, model)
    return list(seen.values())


def _ref(model: type[BaseModel]) -> dict[str, str]:
    return {"$ref": _REF.format(model=model.__name__)}


def _operation(op: Operation) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "operationId": op.handler.__name__,
        "summary": op.summary,
        "tags": [op.tag],
        "parameters": [
            {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
            for name in _PARAM.findall(op.path)
        ]
        + _query_parameters(op.query),
        "responses": {
            str(op.status): {
                "description": "success",
                "content": {"application/json": {"schema": _ref(op.response)}},
            },
            **{
                str(code): {
                    "description": _ERROR_TEXT.get(code, "error"),
                    "content": {"application/json": {"schema": _ref(ErrorView)}},
                }
                for code in op.all_errors
            },
        },
    }
    if op.body is not None:
        spec["requestBody"] = {
            "required": not op.body_optional,
            "content": {"application/json": {"schema": _ref(op.body)}},
        }
    return spec


def _query_parameters(model: type[BaseModel] | None) -> list[dict[str, Any]]:
    if model is None:
        return []
    schema = model.model_json_schema(ref_template=_REF)
    properties: dict[str, Any] = schema.get("properties", {})
    required = set(schema.get("required", []))
    params = []
    for name, prop in properties.items():
        param: dict[str, Any] = {
            "name": name,
            "in": "query",
            "required": name in required,
            "schema": prop,
        }
        if prop.get("type") == "array" or any(
            p.get("type") == "array" for p in prop.get("anyOf", [])
        ):
            param["style"] = "form"
            param["explode"] = True
        params.append(param)
    return params
