"""A small HTTP client for the running daemon's API (stdlib only, fast to import)."""

from __future__ import annotations

import http.client
import json
import os
import socket
from typing import Any
from urllib.parse import unquote, urlsplit

from hydra.cli._common import EXIT_FAILED, EXIT_NO_DAEMON, EXIT_USAGE, CliError

TIMEOUT_S = 10.0


class _UnixConnection(http.client.HTTPConnection):
    def __init__(self, path: str, timeout: float) -> None:
        super().__init__("localhost", timeout=timeout)
        self._path = path

    def connect(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        sock.connect(self._path)
        self.sock = sock


class ApiClient:
    def __init__(self, url: str, token: str, *, actor: str = "cli") -> None:
        parts = urlsplit(url)
        self.unix_path = unquote(parts.netloc) if parts.scheme == "http+unix" else None
        self.host = parts.hostname or "127.0.0.1"
        self.port = parts.port or 80
        self.token = token
        self.actor = actor

    def _connection(self) -> http.client.HTTPConnection:
        if self.unix_path is not None:
            return _UnixConnection(self.unix_path, TIMEOUT_S)
        return http.client.HTTPConnection(self.host, self.port, timeout=TIMEOUT_S)

    def request(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        conn = self._connection()
        headers = {
            "Authorization": f"Bearer {self.token}",
            "X-Hydra-Actor": self.actor,
            "Accept": "application/json",
        }
        payload = None
        if body is not None:
            payload = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        try:
            conn.request(method, path, body=payload, headers=headers)
            response = conn.getresponse()
            raw = response.read()
        except ConnectionRefusedError:
            raise CliError(
                f"no hydra daemon is answering at {self.host}:{self.port} "
                "(start it with `hydra run`)",
                EXIT_NO_DAEMON,
            ) from None
        except (TimeoutError, OSError) as exc:
            raise CliError(
                f"daemon at {self.host}:{self.port} did not answer: {exc}", EXIT_NO_DAEMON
            ) from None
        finally:
            conn.close()
        try:
            data = json.loads(raw) if raw else {}
        except json.JSONDecodeError:
            data = {"error": raw.decode(errors="replace")[:200]}
        if response.status >= 400:
            message = data.get("error") if isinstance(data, dict) else None
            code = EXIT_USAGE if response.status in (400, 404, 409, 413, 422) else EXIT_FAILED
            raise CliError(
                f"daemon refused ({response.status}): {message or response.reason}", code
            )
        return data


def client_for(args: Any, *, actor: str = "cli") -> ApiClient:
    """A client for the daemon running on the data dir ``args`` point at (via ``daemon.json``)."""
    from hydra.cli._common import config_value, data_dir_from
    from hydra.daemon_info import read_daemon_info
    from hydra.token import read_token

    data_dir = data_dir_from(args)
    info = read_daemon_info(data_dir)
    if info is None:
        raise CliError(
            f"no hydra daemon is running on {data_dir} (start it with `hydra run`)", EXIT_NO_DAEMON
        )
    # As the daemon picks it: HYDRA_API_TOKEN, else the config file's api_token, else the one
    # generated into the data dir; a blank value counts as unset at every step.
    configured = config_value(args, "api_token")
    configured = configured.strip() if isinstance(configured, str) else ""
    token = os.environ.get("HYDRA_API_TOKEN", "").strip() or configured or read_token(data_dir)
    if not token:
        raise CliError(
            f"no API token: set HYDRA_API_TOKEN or check {data_dir}/api-token", EXIT_USAGE
        )
    return ApiClient(str(info["url"]), token, actor=actor)
