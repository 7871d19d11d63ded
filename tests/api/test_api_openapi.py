"""``/openapi.json`` matches the routes: nothing served is undocumented, nothing documented is
missing, and every operation lists the statuses it can answer."""

from __future__ import annotations

import re
from typing import Any

import pytest
import schemathesis
from starlette.applications import Starlette
from starlette.routing import Route

from hydra.api.app import OPERATIONS
from tests.api.conftest import Api

pytestmark = pytest.mark.anyio

_PARAM = re.compile(r"{(\w+)(?::\w+)?}")


def served(app: Starlette) -> set[tuple[str, str]]:
    """Every (path, method) the app routes, HEAD aside (Starlette adds it to every GET)."""
    found = set()
    for route in app.routes:
        assert isinstance(route, Route), route
        for method in route.methods or ():
            if method != "HEAD":
                found.add((route.path, method.lower()))
    return found


def documented(doc: dict[str, Any]) -> set[tuple[str, str]]:
    return {(path, method) for path, item in doc["paths"].items() for method in item}


def undocumented(app: Starlette, doc: dict[str, Any]) -> list[tuple[str, str]]:
    return sorted(served(app) - documented(doc))


async def fetch(api: Api) -> dict[str, Any]:
    response = await api.client.get("/openapi.json", headers={"Authorization": ""})
    assert response.status_code == 200
    doc: dict[str, Any] = response.json()
    return doc


async def test_every_route_is_documented(api: Api) -> None:
    doc = await fetch(api)
    assert undocumented(api.app, doc) == []


async def test_every_documented_operation_is_routed(api: Api) -> None:
    doc = await fetch(api)
    assert sorted(documented(doc) - served(api.app)) == []


async def test_the_walk_fails_for_a_route_missing_from_the_document(api: Api) -> None:
    doc = await fetch(api)

    async def extra(request: Any) -> Any:
        raise NotImplementedError

    api.app.router.routes.append(Route("/api/secret", extra, methods=["GET", "DELETE"]))
    assert undocumented(api.app, doc) == [("/api/secret", "delete"), ("/api/secret", "get")]


async def test_path_parameters_are_declared(api: Api) -> None:
    doc = await fetch(api)
    for path, item in doc["paths"].items():
        names = set(_PARAM.findall(path))
        for method, spec in item.items():
            declared = {p["name"] for p in spec.get("parameters", []) if p["in"] == "path"}
            assert declared == names, (method, path)


@pytest.mark.parametrize("op", OPERATIONS, ids=lambda op: f"{op.method} {op.path}")
async def test_each_operation_documents_its_statuses_body_and_query(api: Api, op: Any) -> None:
    doc = await fetch(api)
    spec = doc["paths"][op.path][op.method.lower()]
    responses = spec["responses"]
    assert str(op.status) in responses
    assert {str(code) for code in op.all_errors} <= set(responses)
    assert {"400", "401"} <= set(responses)  # the guards answer on every /api path
    if op.body is not None:
        assert {"413", "422"} <= set(responses)
        ref = spec["requestBody"]["content"]["application/json"]["schema"]["$ref"]
        assert ref.rsplit("/", 1)[1] in doc["components"]["schemas"]
    if op.query is not None:
        assert "422" in responses
        query = {p["name"] for p in spec["parameters"] if p["in"] == "query"}
        assert query == set(op.query.model_fields)
    for code, response in responses.items():
        ref = response["content"]["application/json"]["schema"]["$ref"]
        assert ref.rsplit("/", 1)[1] in doc["components"]["schemas"], code


async def test_public_paths_declare_no_security_and_api_paths_need_the_token(api: Api) -> None:
    doc = await fetch(api)
    assert doc["components"]["securitySchemes"] == {"bearer": {"type": "http", "scheme": "bearer"}}
    for path, item in doc["paths"].items():
        for spec in item.values():
            public = spec.get("security") == []
            assert public != path.startswith("/api"), path
            assert "400" in spec["responses"], path  # the Host check runs everywhere


async def test_the_document_loads_as_openapi_3_1(api: Api) -> None:
    doc = await fetch(api)
    assert doc["openapi"] == "3.1.0"
    schema = schemathesis.openapi.from_dict(doc)
    results = list(schema.get_all_operations())
    assert all(result.ok() for result in results)
    assert len(results) == len(documented(doc))
