"""Planted secrets never reach a log line, an audit record or any file of the data dir."""

from __future__ import annotations

from pathlib import Path

import pytest

from hydra.audit import iter_records
from tests.helpers.daemon import daemon

pytestmark = pytest.mark.e2e

# No well-known format: only the exact values the daemon registers can catch these.
GH_SECRET = "plainghsecret0123456789"
AGENT_SECRET = "plainagentsecret987654321"


def test_planted_secrets_never_reach_logs_or_the_data_dir(tmp_path: Path) -> None:
    env = {"GH_TOKEN": GH_SECRET, "ANTHROPIC_API_KEY": AGENT_SECRET}
    reason = f"pasted by mistake: {GH_SECRET} and {AGENT_SECRET}"
    with daemon(tmp_path, env=env) as d, d.client() as http:
        response = http.put("/api/loops/health", json={"enabled": False, "reason": reason})
        assert response.status_code == 200, response.text
        response = http.post("/api/loops/health/trigger", json={"reason": reason})
        assert response.status_code == 409  # off: refused, and the refusal says why
        assert d.stop() == 0
    [disabled] = [
        r for r in iter_records(d.data_dir / "audit", "control") if r["action"] == "loop.disabled"
    ]
    assert disabled["payload"]["reason"] == "pasted by mistake: [REDACTED] and [REDACTED]"
    everything = [d.stdout(), d.stderr()]
    everything += [
        p.read_bytes().decode(errors="replace") for p in d.data_dir.rglob("*") if p.is_file()
    ]
    for text in everything:
        assert GH_SECRET not in text
        assert AGENT_SECRET not in text
