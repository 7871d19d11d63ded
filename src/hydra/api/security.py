"""Request guards: ``Host`` allow-list (DNS rebinding), bearer token, body size.

The token is accepted only in the ``Authorization`` header (never in a query string) and is
compared in constant time. The ``Host`` check runs on every request, so a web page on another
origin that rebinds its DNS name to 127.0.0.1 cannot reach the API.
"""

from __future__ import annotations

import hmac
from collections.abc import Iterable

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Receive, Scope, Send

from hydra.api.errors import error_response

LOOPBACK_NAMES = frozenset({"127.0.0.1", "localhost", "::1", "[::1]"})
ACTORS = frozenset({"api", "dashboard", "cli"})
PUBLIC_PATHS = frozenset({"/healthz"})


def allowed_hosts(bind_host: str, extra: Iterable[str]) -> frozenset[str]:
    return frozenset({*LOOPBACK_NAMES, bind_host.lower(), *(h.lower() for h in extra)})


def _host_name(header: str) -> str:
    header = header.strip().lower()
    if header.startswith("["):
        end = header.find("]")
        return header[: end + 1] if end != -1 else header
    return header.rsplit(":", 1)[0] if header.count(":") == 1 else header


def is_loopback(bind_host: str) -> bool:
    """Whether binding ``bind_host`` keeps the API on this machine (the names, not a range)."""
    return bind_host.lower() in LOOPBACK_NAMES


class GuardMiddleware:
    """Host check on every request; bearer token on ``/api`` (and on ``/metrics`` unless the
    daemon listens on loopback only: spend and loop names are nobody else's business); 400 for
    a malformed ``Content-Length``, 413 for oversized bodies."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        token: str,
        hosts: frozenset[str],
        max_body: int,
        open_metrics: bool = True,
    ) -> None:
        if not token.strip():
            raise ValueError("the API token must not be empty")
        self.app = app
        self._token = token.encode()
        self._hosts = hosts
        self._max_body = max_body
        self._guarded = ("/api",) if open_metrics else ("/api", "/metrics")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        host = _host_name(headers.get("host", ""))
        if host not in self._hosts:
            await error_response(400, f"host {host!r} is not allowed")(scope, receive, send)
            return
        path: str = scope["path"]
        if path.startswith(self._guarded) and not self._authorized(
            headers.get("authorization", "")
        ):
            response = error_response(401, "missing or wrong bearer token")
            response.headers["WWW-Authenticate"] = 'Bearer realm="hydra"'
            await response(scope, receive, send)
            return
        length = headers.get("content-length")
        if length is not None and not length.isdigit():
            await error_response(400, "malformed Content-Length header")(scope, receive, send)
            return
        if length is not None and int(length) > self._max_body:
            await error_response(413, f"request body over {self._max_body} bytes")(
                scope, receive, send
            )
            return
        await self.app(scope, _limited(receive, self._max_body), send)

    def _authorized(self, header: str) -> bool:
        scheme, _, value = header.partition(" ")
        if scheme.lower() != "bearer" or not value:
            return False
        # Only the header's own blanks (RFC 9110 OWS): any other character is part of the value.
        return hmac.compare_digest(value.strip(" \t").encode(), self._token)


def _limited(receive: Receive, limit: int) -> Receive:
    seen = 0

    async def wrapped() -> dict[str, object]:
        nonlocal seen
        message = await receive()
        if message["type"] == "http.request":
            seen += len(message.get("body", b""))
            if seen > limit:
                raise BodyTooLarge(limit)
        return dict(message)

    return wrapped


class BodyTooLarge(Exception):
    def __init__(self, limit: int) -> None:
        super().__init__(f"request body over {limit} bytes")


def actor_of(headers: Headers) -> str:
    """Who is calling: ``X-Hydra-Actor`` when it names a known client, else ``api``."""
    actor = headers.get("x-hydra-actor", "api").strip().lower()
    return actor if actor in ACTORS else "api"
