"""``/api/events``: the Server-Sent Events feed, driven through the ASGI app in-process.

httpx's ASGI transport waits for the whole body, which an event stream never finishes, so
these tests speak ASGI directly: send the request, read events as the app sends them, then
disconnect like a browser closing the tab.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import anyio
import pytest
from anyio.streams.memory import MemoryObjectReceiveStream
from starlette.types import ASGIApp, Message

from tests.api.conftest import TOKEN, Api

pytestmark = pytest.mark.anyio


@dataclass
class Event:
    event: str
    data: str
    id: str | None = None

    def json(self) -> Any:
        return json.loads(self.data)


@dataclass
class EventStream:
    status: int
    headers: dict[str, str]
    _body: MemoryObjectReceiveStream[bytes]
    _buffer: str = ""
    _pending: list[Event] = field(default_factory=list)

    async def next(self, event: str | None = None) -> Event:
        """The next event (of type ``event`` when given; pings are comments, never events)."""
        with anyio.fail_after(5):
            while True:
                while not self._pending:
                    self._buffer += (await self._body.receive()).decode()
                    self._parse()
                found = self._pending.pop(0)
                if event is None or found.event == event:
                    return found

    def _parse(self) -> None:
        text = self._buffer.replace("\r\n", "\n")
        *blocks, self._buffer = text.split("\n\n")
        for block in blocks:
            fields: dict[str, str] = {}
            for line in block.split("\n"):
                if not line or line.startswith(":"):
                    continue
                name, _, value = line.partition(":")
                fields[name] = fields.get(name, "") + value.removeprefix(" ")
            if "event" in fields or "data" in fields:
                self._pending.append(
                    Event(fields.get("event", "message"), fields.get("data", ""), fields.get("id"))
                )


@asynccontextmanager
async def sse(app: ASGIApp, headers: dict[str, str]) -> AsyncIterator[EventStream]:
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": "/api/events",
        "raw_path": b"/api/events",
        "query_string": b"",
        "root_path": "",
        "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8765),
    }
    disconnected = anyio.Event()
    requested = False
    started: list[Message] = []
    ready = anyio.Event()
    finished = anyio.Event()
    body_send, body_receive = anyio.create_memory_object_stream[bytes](100)

    async def receive() -> Message:
        nonlocal requested
        if not requested:
            requested = True
            return {"type": "http.request", "body": b"", "more_body": False}
        await disconnected.wait()
        return {"type": "http.disconnect"}

    async def run() -> None:
        try:
            await app(scope, receive, send)
        finally:
            finished.set()

    async def send(message: Message) -> None:
        if message["type"] == "http.response.start":
            started.append(message)
            ready.set()
        elif message["type"] == "http.response.body" and message.get("body"):
            await body_send.send(message["body"])

    async with body_send, body_receive, anyio.create_task_group() as tg:
        tg.start_soon(run)
        with anyio.fail_after(5):
            await ready.wait()
        start = started[0]
        try:
            yield EventStream(
                status=start["status"],
                headers={k.decode(): v.decode() for k, v in start["headers"]},
                _body=body_receive,
            )
        finally:
            disconnected.set()  # the app notices and ends the response on its own
            with anyio.move_on_after(5):
                await finished.wait()
            tg.cancel_scope.cancel()


AUTH = {"host": "127.0.0.1:8765", "authorization": f"Bearer {TOKEN}"}


async def test_hello_then_an_audit_event_for_a_switch_change(api: Api) -> None:
    async with sse(api.app, {**AUTH, "accept": "text/event-stream"}) as events:
        assert events.status == 200
        assert events.headers["content-type"].startswith("text/event-stream")
        hello = await events.next()
        assert hello.event == "hello"
        assert hello.json() == {"started_at": api.runtime.started_at}

        response = await api.client.put(
            "/api/loops/counting",
            json={"enabled": False, "reason": "from the feed test"},
            headers={"X-Hydra-Actor": "dashboard"},
        )
        assert response.status_code == 200
        while True:
            event = await events.next("audit")
            record = event.json()
            if record["stream"] == "control":
                break
        assert record["action"] == "loop.disabled"
        assert record["actor"] == "dashboard"
        assert record["payload"]["reason"] == "from the feed test"
        assert event.id == f"control:{record['seq']}"


async def test_every_stream_is_in_the_feed(api: Api) -> None:
    async with sse(api.app, AUTH) as events:
        await events.next("hello")
        item = await api.escalate("feed")
        while True:
            record = (await events.next("audit")).json()
            if record["stream"] == "escalations":
                break
        assert record["action"] == "escalation.opened"
        assert record["payload"]["id"] == item.id


@pytest.mark.parametrize("auth", [None, "Bearer wrong", f"Basic {TOKEN}", f"Bearer {TOKEN}x"])
async def test_the_feed_needs_the_token(api: Api, auth: str | None) -> None:
    response = await api.client.get("/api/events", headers={"Authorization": auth or ""})
    assert response.status_code == 401
    assert response.json()["error"] == "missing or wrong bearer token"
    headers = {"host": "127.0.0.1:8765", **({"authorization": auth} if auth else {})}
    async with sse(api.app, headers) as events:
        assert events.status == 401
