"""``/api/events``: Server-Sent Events of every new audit record, so the dashboard stays live.

Each record of any stream is sent as an ``audit`` event (``id`` is ``<stream>:<seq>``). The
stream starts with a ``hello`` event and carries keep-alive pings. A client that falls behind
loses records (counted in a ``lagged`` event) rather than slowing the daemon down.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import anyio
import orjson
from sse_starlette.sse import EventSourceResponse
from starlette.requests import Request
from starlette.responses import Response

from hydra.runtime import Runtime

PING_S = 15
BUFFER = 1000


async def events(request: Request) -> Response:
    rt: Runtime = request.app.state.runtime
    return EventSourceResponse(_feed(rt, request), ping=PING_S, send_timeout=10)


async def _feed(rt: Runtime, request: Request) -> AsyncIterator[dict[str, Any]]:
    with rt.audit.subscribe(BUFFER) as subscription:
        yield {"event": "hello", "data": orjson.dumps({"started_at": rt.started_at}).decode()}
        dropped = 0
        while True:
            try:
                record = await subscription.receive()
            except (anyio.EndOfStream, anyio.ClosedResourceError):
                return
            if subscription.dropped != dropped:
                dropped = subscription.dropped
                yield {"event": "lagged", "data": orjson.dumps({"dropped": dropped}).decode()}
            yield {
                "event": "audit",
                "id": f"{record.get('stream')}:{record.get('seq')}",
                "data": orjson.dumps(record).decode(),
            }
