"""The real ``hydra run``: listening on a Unix socket, and refusing a non-loopback address
without an explicit token."""

from __future__ import annotations

import json
import stat
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from hydra.audit import iter_records
from tests.helpers.daemon import START_TIMEOUT_S, Daemon, daemon, run_cli

pytestmark = pytest.mark.e2e


@pytest.fixture
def socket_dir() -> Iterator[Path]:
    # AF_UNIX paths are limited to ~107 bytes: pytest's tmp_path can be longer than that.
    with tempfile.TemporaryDirectory(prefix="hydra-", dir="/tmp") as path:
        yield Path(path)


def wait_for_socket(d: Daemon, sock: Path) -> dict[str, object]:
    deadline = time.monotonic() + START_TIMEOUT_S
    info_path = d.data_dir / "daemon.json"
    while time.monotonic() < deadline:
        assert d.proc.poll() is None, d.stderr()
        if sock.exists() and info_path.exists():
            info: dict[str, object] = json.loads(info_path.read_text())
            if info.get("pid") == d.proc.pid:
                return info
        time.sleep(0.05)
    raise TimeoutError(d.stderr())


def test_the_daemon_listens_on_a_unix_socket_with_mode_0600(
    tmp_path: Path, socket_dir: Path
) -> None:
    sock = socket_dir / "run" / "hydra.sock"
    env = {"HYDRA_API__UNIX_SOCKET": str(sock)}
    with daemon(tmp_path, env=env, wait_ready=False) as d:
        info = wait_for_socket(d, sock)
        assert str(info["url"]).startswith("http+unix://")
        mode = sock.stat().st_mode
        assert stat.S_ISSOCK(mode)
        assert stat.S_IMODE(mode) == 0o600
        token = (d.data_dir / "api-token").read_text().strip()
        transport = httpx.HTTPTransport(uds=str(sock))
        with httpx.Client(
            transport=transport,
            base_url="http://localhost",
            headers={"Authorization": f"Bearer {token}", "X-Hydra-Actor": "cli"},
            timeout=10,
        ) as http:
            assert http.get("/healthz").status_code == 200
            assert http.get("/api/loops", headers={"Authorization": ""}).status_code == 401
            assert http.get("/api/loops", headers={"Host": "evil.example"}).status_code == 400
            loops = http.get("/api/loops").json()["loops"]
            assert "health" in {loop["name"] for loop in loops}
            response = http.put(
                "/api/loops/health", json={"enabled": False, "reason": "over the socket"}
            )
            assert response.status_code == 200, response.text
            metrics = {
                family.name: family
                for family in text_string_to_metric_families(http.get("/metrics").text)
            }
        assert d.stop() == 0
    written = {
        s.labels["stream"]: s.value
        for s in metrics["hydra_audit_written_bytes"].samples
        if s.name.endswith("_total")
    }
    assert written["control"] > 0  # daemon.started and loop.disabled went through the committer
    fsync_count = [
        s.value for s in metrics["hydra_audit_fsync_seconds"].samples if s.name.endswith("_count")
    ]
    assert fsync_count[0] >= 1
    disabled = [
        r for r in iter_records(d.data_dir / "audit", "control") if r["action"] == "loop.disabled"
    ]
    assert (disabled[-1]["actor"], disabled[-1]["payload"]["reason"]) == ("cli", "over the socket")


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.0.2.7"])
def test_a_non_loopback_address_needs_an_explicit_token(tmp_path: Path, host: str) -> None:
    data = tmp_path / "data"
    data.mkdir()
    (data / "api-token").write_text("a-generated-token-is-not-explicit\n")
    result = run_cli(["run", "--host", host, "--port", "0", "--data-dir", str(data)], cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1
    assert f"refusing to listen on non-loopback address {host}" in result.stderr
    assert "HYDRA_API_TOKEN" in result.stderr
    assert not (data / "daemon.json").exists()


def test_a_non_loopback_address_starts_with_hydra_api_token(tmp_path: Path) -> None:
    token = "explicit-token-for-all-interfaces-0123456789"
    with daemon(tmp_path, args=["--host", "0.0.0.0"], env={"HYDRA_API_TOKEN": token}) as d:
        assert d.url.startswith("http://0.0.0.0:")
        port = d.url.rsplit(":", 1)[1]
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10) as http:
            ok = http.get("/api/loops", headers={"Authorization": f"Bearer {token}"})
            assert ok.status_code == 200
            assert http.get("/api/loops").status_code == 401
            assert http.get("/api/loops", headers={"Host": "evil.example"}).status_code == 400
        assert not (d.data_dir / "api-token").exists()  # nothing generated next to it
        assert d.stop() == 0
