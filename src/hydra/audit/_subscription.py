"""Live feed of committed records for in-process consumers (dashboard, metrics).

Delivery never blocks a writer: each subscription has a bounded buffer, and a record
that does not fit is dropped and counted on the subscription (``dropped``). The files
remain the source of truth; a consumer that fell behind re-reads them.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager

import anyio
from anyio.abc import ObjectReceiveStream
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream

Record = dict[str, object]


class Subscription(ObjectReceiveStream[Record]):
    """An anyio receive stream of committed records (every stream of one ``AuditLog``).

    Records are delivered in commit order per stream. ``dropped`` counts records lost
    because the buffer was full. The stream ends (``EndOfStream``) when the log closes.
    Records are shared between consumers: treat them as read-only.
    """

    def __init__(self, receive: MemoryObjectReceiveStream[Record], max_buffer: int) -> None:
        self._receive = receive
        self.max_buffer = max_buffer
        self.dropped = 0

    async def receive(self) -> Record:
        return await self._receive.receive()

    def receive_nowait(self) -> Record:
        """A buffered record without waiting; raises ``anyio.WouldBlock`` if none."""
        return self._receive.receive_nowait()

    async def aclose(self) -> None:
        await self._receive.aclose()


class Fanout:
    """The set of live subscriptions of one ``AuditLog``."""

    def __init__(self) -> None:
        self._senders: dict[Subscription, MemoryObjectSendStream[Record]] = {}

    def __bool__(self) -> bool:
        return bool(self._senders)

    @contextmanager
    def subscribe(self, max_buffer: int) -> Iterator[Subscription]:
        if max_buffer < 1:
            raise ValueError("max_buffer must be >= 1")
        send, receive = anyio.create_memory_object_stream[Record](max_buffer)
        subscription = Subscription(receive, max_buffer)
        self._senders[subscription] = send
        try:
            yield subscription
        finally:
            self._senders.pop(subscription, None)
            send.close()
            receive.close()

    def publish(self, records: Iterable[Record]) -> None:
        for subscription, send in self._senders.items():
            for record in records:
                try:
                    send.send_nowait(record)
                except anyio.WouldBlock:
                    subscription.dropped += 1
                except (anyio.BrokenResourceError, anyio.ClosedResourceError):
                    subscription.dropped += 1

    def close(self) -> None:
        for send in self._senders.values():
            send.close()
        self._senders.clear()
