"""uvicorn embedded in the daemon's event loop, without uvicorn's own signal handlers.

The daemon owns signals (one owner: :mod:`hydra.daemon`); this server only serves until asked
to stop, on a socket the daemon bound (so port 0 works and "listening" means "ready").
"""

from __future__ import annotations

import contextlib
import socket
from collections.abc import Generator

import anyio
import uvicorn
from anyio.abc import TaskStatus
from starlette.types import ASGIApp


class _Server(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield  # signals belong to the daemon


class EmbeddedServer:
    def __init__(
        self, app: ASGIApp, sock: socket.socket, *, graceful_timeout_s: float = 3.0
    ) -> None:
        config = uvicorn.Config(
            app,
            log_config=None,
            access_log=False,
            lifespan="off",
            timeout_graceful_shutdown=int(graceful_timeout_s),
            server_header=False,
        )
        self._server = _Server(config)
        self._sock = sock

    async def serve(self, *, task_status: TaskStatus[None] = anyio.TASK_STATUS_IGNORED) -> None:
        task_status.started()  # the socket already listens: connections queue until served
        await self._server.serve(sockets=[self._sock])

    def request_stop(self) -> None:
        self._server.should_exit = True
