"""A :class:`tests.e2e._support.ScriptedAgent` that can also probe and overspend.

Two more rule keys, handled before the others:

* ``run``: shell commands run in the agent's working directory first; each is logged to
  ``calls.jsonl`` with its exit code and combined output (``{"ran": …, "code": …, "out": …}``),
  which is how a test sees what git shows an agent from inside its worktree.
* ``spend``: after ``write``, stream costly assistant events (about $0.09 each) until the
  daemon stops the run at its cost cap (or its wall clock).
"""

from __future__ import annotations

import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from tests.adapters.agent_fakes.support import FAKE_BIN
from tests.e2e._support import AGENT_SCRIPT, ScriptedAgent

_ANCHOR = '    if rule.get("hang"):\n'
_EXTRA = """\
    for command in rule.get("run", []):
        done = subprocess.run(command, shell=True, capture_output=True, timeout=60)
        out = (done.stdout + done.stderr).decode(errors="replace")
        log({{"rule": rule.get("name"), "ran": command, "code": done.returncode, "out": out}})
    if rule.get("spend"):
        for rel, text in rule.get("write", {{}}).items():
            Path(rel).parent.mkdir(parents=True, exist_ok=True)
            Path(rel).write_text(text)
        n = 0
        while True:
            n += 1
            usage = fake._usage(10_000, 4_000)
            fake._assistant(f"msg_{{n:04d}}", fake._text(f"step {{n}}"), usage)
            time.sleep(0.05)
"""


def probing_agent(root: Path, rules: Sequence[Mapping[str, Any]]) -> ScriptedAgent:
    """A scripted agent whose rules may also ``run`` commands and ``spend`` past a cap."""
    assert _ANCHOR in AGENT_SCRIPT, "the scripted agent changed: update _support_probe.py"
    agent = ScriptedAgent.create(root, rules)
    script = AGENT_SCRIPT.replace(_ANCHOR, _EXTRA + _ANCHOR).format(
        python=sys.executable, fake_bin=str(FAKE_BIN), home=str(agent.home), marker=agent.marker
    )
    agent.path.write_text(script)
    return agent


def probes(agent: ScriptedAgent, rule: str | None = None) -> list[dict[str, Any]]:
    """The commands the agent ran for its ``run`` rules, with their outcome."""
    return [c for c in agent.calls() if "ran" in c and (rule is None or c["rule"] == rule)]
