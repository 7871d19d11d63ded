"""The real daemon never serves a planted secret from its live state (API and ``hydra loops``).

Third-party loops (a plugin on ``PYTHONPATH``) crash with secrets in their messages, report them
in their results' summaries and escalate them, and one fails to import with a secret in its
error. The secrets are of two kinds: values the daemon knows (its API token, a key it hands to
agent CLIs) and a value of a well-known format (``sk-ant-…``). The audit streams and the log
were redacted already; the answers of the API (and so the CLI's output) must be too.
"""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from tests.e2e._support import wait_for
from tests.helpers.daemon import HEALTH_ONLY_CONFIG, Daemon, daemon, run_cli
from tests.helpers.plugins import make_plugin

pytestmark = pytest.mark.e2e

API_TOKEN = "e2e-api-token-0123456789abcdefXYZ"
AGENT_SECRET = "plainagentsecret987654321"
PATTERN_SECRET = "sk-ant-SECRETSECRET1234567890"
SECRETS = (API_TOKEN, AGENT_SECRET, PATTERN_SECRET)
MASKED = "token=[REDACTED] key=[REDACTED] api=[REDACTED]"

LEAKY = """
from __future__ import annotations

import os

from hydra.sdk import Loop, TickResult


def planted():
    key, api = os.environ["ANTHROPIC_API_KEY"], os.environ["HYDRA_API_TOKEN"]
    return f"token=sk-ant-SECRETSECRET1234567890 key={key} api={api}"


class _Leaky(Loop):
    area = "testing"
    default_interval_s = 3600
    interval_bounds = (0.01, 3600.0)


class LeakyCrash(_Leaky):
    name = "leaky_crash"
    description = "Crashes with secrets in its message."

    async def tick(self, ctx):
        raise RuntimeError("boom " + planted())


class LeakyResult(_Leaky):
    name = "leaky_result"
    description = "Reports secrets in its summary and escalates them."

    async def tick(self, ctx):
        await ctx.escalations.escalate(
            key="leak", title="look at " + planted(), summary=planted(), details={"at": planted()}
        )
        return TickResult(status="ok", summary="done " + planted())
"""
BROKEN = """
import os

raise RuntimeError("cannot start: token=sk-ant-SECRETSECRET1234567890 key="
                   + os.environ["ANTHROPIC_API_KEY"] + " api=" + os.environ["HYDRA_API_TOKEN"])
"""
CONFIG = HEALTH_ONLY_CONFIG


def _assert_clean(text: str, where: str) -> None:
    for secret in SECRETS:
        assert secret not in text, f"{where} leaks {secret!r}: {text}"


def _loops_when_both_ticked(http: httpx.Client) -> dict[str, dict[str, object]]:
    def probe() -> dict[str, dict[str, object]] | None:
        loops = {loop["name"]: loop for loop in http.get("/api/loops").json()["loops"]}
        ticked = all(loops[name].get("last") for name in ("leaky_crash", "leaky_result"))
        return loops if ticked else None

    return wait_for(probe, timeout=20, what="both leaky loops to tick")


def _cli(d: Daemon, *args: str) -> str:
    done = run_cli(
        ["loops", *args, "--data-dir", str(d.data_dir)], cwd=d.data_dir.parent, env=d.env
    )
    return done.stdout + done.stderr


def test_live_state_served_by_the_api_and_the_cli_is_redacted(tmp_path: Path) -> None:
    plugins = make_plugin(
        tmp_path / "plugins",
        dist="leaky_loops",
        modules={"leaky_loops": LEAKY, "leaky_broken": BROKEN},
        entry_points={
            "leaky_crash": "leaky_loops:LeakyCrash",
            "leaky_result": "leaky_loops:LeakyResult",
            "leaky_broken": "leaky_broken:Broken",
        },
    )
    (tmp_path / "hydra.toml").write_text(CONFIG)
    env = {
        "PYTHONPATH": str(plugins),
        "HYDRA_API_TOKEN": API_TOKEN,
        "ANTHROPIC_API_KEY": AGENT_SECRET,
    }
    with daemon(tmp_path, env=env) as d, d.client() as http:
        loops = _loops_when_both_ticked(http)
        # The planted text did reach the views, masked.
        crashed, finished = loops["leaky_crash"]["last"], loops["leaky_result"]["last"]
        assert crashed["kind"] == "crashed"  # type: ignore[index]
        assert crashed["error"] == f"RuntimeError: boom {MASKED}"  # type: ignore[index]
        assert finished["summary"] == f"done {MASKED}"  # type: ignore[index]
        assert loops["leaky_broken"]["plugin"] == "broken"
        assert MASKED in str(loops["leaky_broken"]["error"])

        bodies = {}
        for path in (
            "/api/loops",
            "/api/loops/leaky_crash",
            "/api/loops/leaky_result",
            "/api/loops/leaky_broken",
            "/api/escalations",
            "/api/audit/leaky_crash",
            "/api/audit/leaky_result",
            "/api/audit/escalations",
            "/healthz",
            "/metrics",
        ):
            response = http.get(path)
            assert response.status_code in (200, 503), (path, response.text)
            bodies[f"GET {path}"] = response.text
        [escalation] = http.get("/api/escalations").json()["escalations"]
        assert escalation["summary"] == MASKED
        bodies["GET /api/escalations/{id}"] = http.get(f"/api/escalations/{escalation['id']}").text
        refused = http.post("/api/loops/leaky_broken/trigger")
        assert refused.status_code == 409  # the refusal quotes the import error
        bodies["POST /api/loops/leaky_broken/trigger"] = refused.text

        bodies["hydra loops list"] = _cli(d, "list")
        bodies["hydra loops list --json"] = cli_json = _cli(d, "list", "--json")
        by_name = {loop["name"]: loop for loop in json.loads(cli_json)["loops"]}
        assert by_name["leaky_crash"]["last"]["error"] == f"RuntimeError: boom {MASKED}"
        bodies["hydra loops trigger leaky_broken"] = _cli(d, "trigger", "leaky_broken")
        assert d.stop() == 0

    for where, text in bodies.items():
        _assert_clean(text, where)
    _assert_clean(d.stderr(), "the daemon's log")
