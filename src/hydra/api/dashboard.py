"""The dashboard page and its assets, served by the daemon itself (no build step).

The page takes the API token from the URL fragment (``#token=…``, never sent to the server in
a query string), keeps it in the browser's storage, and talks to ``/api`` with it.
"""

from __future__ import annotations

from importlib import resources

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

_ASSETS = {
    "/": ("index.html", "text/html; charset=utf-8"),
    "/dashboard.css": ("dashboard.css", "text/css; charset=utf-8"),
    "/dashboard.js": ("dashboard.js", "text/javascript; charset=utf-8"),
}
_SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
        "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}


def _read(name: str) -> bytes:
    return resources.files("hydra.api").joinpath("static", name).read_bytes()


def make_route(path: str, name: str, media_type: str) -> Route:
    async def serve(request: Request) -> Response:
        return Response(_read(name), media_type=media_type, headers=_SECURITY_HEADERS)

    serve.__name__ = f"asset_{name.replace('.', '_')}"
    return Route(path, serve, methods=["GET"])


ROUTES = [make_route(path, name, media) for path, (name, media) in _ASSETS.items()]
