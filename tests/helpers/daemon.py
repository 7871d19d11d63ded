"""The real ``hydra run`` as a subprocess, driven over HTTP like an operator would."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

HYDRA = shutil.which("hydra", path=str(Path(sys.executable).parent)) or "hydra"
START_TIMEOUT_S = 20.0
HEALTH_ONLY_CONFIG = """\
[orchestrator]
first_tick_spread_s = 0

[loops.health]
interval_s = 3600

[loops.preflight]
enabled = false

[loops.principles_audit]
enabled = false

[loops.review_advisor]
enabled = false

[loops.sandbox_fixer]
enabled = false
"""
"""A hydra.toml that runs only the health loop, once an hour: quiet daemons for CLI tests."""
DASHBOARD_LINK = re.compile(r"\bDashboard: (\S+#token=\S+)")
"""The ready-to-open link ``hydra run`` prints once on stdout."""


@dataclass
class Daemon:
    proc: subprocess.Popen[bytes]
    data_dir: Path
    url: str = ""
    token: str = ""
    stdout_path: Path | None = None
    stderr_path: Path | None = None
    env: dict[str, str] = field(default_factory=dict)

    def client(self, *, actor: str | None = None) -> httpx.Client:
        headers = {"Authorization": f"Bearer {self.token}"}
        if actor:
            headers["X-Hydra-Actor"] = actor
        return httpx.Client(base_url=self.url, headers=headers, timeout=10)

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 20.0) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        return self.proc.wait(timeout=timeout)

    def stderr(self) -> str:
        return self.stderr_path.read_text() if self.stderr_path else ""

    def stdout(self) -> str:
        return self.stdout_path.read_text() if self.stdout_path else ""

    def dashboard_link(self, timeout: float = START_TIMEOUT_S) -> str:
        """The ``Dashboard: http://…/#token=…`` link exactly as ``hydra run`` printed it.

        The daemon prints it just after its API starts serving, so a daemon that is ready
        may not have printed it yet: this waits for the line (or for the daemon to exit).
        """
        deadline = time.monotonic() + timeout
        while True:
            found = DASHBOARD_LINK.search(self.stdout())
            if found:
                return found.group(1)
            if self.proc.poll() is not None:
                raise RuntimeError(f"daemon exited with {self.proc.returncode} before the link")
            if time.monotonic() > deadline:
                raise TimeoutError(
                    f"no dashboard link on stdout after {timeout} s: {self.stdout()!r}"
                )
            time.sleep(0.02)


def base_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The test run's environment without ``HYDRA_*`` nor ``COLUMNS`` (the CLI fits its
    output to an exported ``COLUMNS``: a test that wants that sets it in ``extra``)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("HYDRA_") and k != "COLUMNS"}
    env.update(extra or {})
    return env


@contextmanager
def daemon(
    workdir: Path,
    *,
    args: Sequence[str] = (),
    env: Mapping[str, str] | None = None,
    data_dir: Path | None = None,
    wait_ready: bool = True,
) -> Iterator[Daemon]:
    data = data_dir or workdir / ".hydra"
    logs = workdir / f"daemon-logs-{time.monotonic_ns()}"
    logs.mkdir(parents=True)
    out, err = logs / "stdout", logs / "stderr"
    full_env = base_env(env)
    with out.open("wb") as fout, err.open("wb") as ferr:
        proc = subprocess.Popen(
            [HYDRA, "run", "--port", "0", "--data-dir", str(data), *args],
            cwd=workdir,
            env=full_env,
            stdout=fout,
            stderr=ferr,
        )
    d = Daemon(proc, data, stdout_path=out, stderr_path=err, env=full_env)
    try:
        if wait_ready:
            _wait_ready(d)
        yield d
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)


def _wait_ready(d: Daemon) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    info_path = d.data_dir / "daemon.json"
    while time.monotonic() < deadline:
        if d.proc.poll() is not None:
            raise RuntimeError(f"daemon exited with {d.proc.returncode}: {d.stderr()[-2000:]}")
        if info_path.exists():
            info: dict[str, Any] = json.loads(info_path.read_text())
            if info.get("pid") == d.proc.pid:
                d.url = info["url"].rstrip("/")
                d.token = (
                    d.env.get("HYDRA_API_TOKEN") or (d.data_dir / "api-token").read_text().strip()
                )
                try:
                    if httpx.get(f"{d.url}/healthz", timeout=2).status_code in (200, 503):
                        return
                except httpx.TransportError:
                    pass
        time.sleep(0.05)
    raise TimeoutError(f"daemon not ready after {START_TIMEOUT_S} s: {d.stderr()[-2000:]}")


def run_cli(
    args: Sequence[str], *, cwd: Path, env: Mapping[str, str] | None = None, timeout: float = 30
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [HYDRA, *args],
        cwd=cwd,
        env=base_env(env),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
