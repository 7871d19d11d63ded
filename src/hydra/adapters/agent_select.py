"""`find_agent`: the agent adapter settings ask for, or the first agent CLI found on PATH.

``preference`` is ``[agent] provider`` from the settings: ``claude`` or ``codex`` take that
adapter (when its CLI is missing the adapter itself reports ``unconfigured``, naming what is
missing); ``auto`` takes the first of claude, codex whose command is found; ``none`` (or
``auto`` with neither found) gives an :class:`~hydra.adapters.unconfigured.UnconfiguredAgent`,
whose runs return ``unconfigured``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from hydra.adapters._agent_cli import CliAgent
from hydra.adapters.agent_claude import ClaudeAgent
from hydra.adapters.agent_codex import CodexAgent
from hydra.adapters.unconfigured import UnconfiguredAgent
from hydra.runner import Runner, Secret
from ports import AgentPort

__all__ = ["AgentPreference", "choose_agent", "find_agent"]

AgentPreference = Literal["auto", "claude", "codex", "none"]


def find_agent(
    preference: AgentPreference,
    *,
    runner: Runner,
    transcripts_dir: str | Path,
    search_path: str | None = None,
    model: str | None = None,
    claude_command: str = "claude",
    codex_command: str = "codex",
    anthropic_api_key: Secret | None = None,
    openai_api_key: Secret | None = None,
) -> AgentPort:
    """The agent for ``preference``; CLIs are looked up on ``search_path`` (default ``PATH``).

    ``model`` applies to whichever adapter is chosen. Keys reach the CLI through its
    environment only (``ANTHROPIC_API_KEY`` for claude, ``CODEX_API_KEY`` for codex).
    """
    if preference == "none":
        return UnconfiguredAgent("no agent: [agent] provider is 'none'")
    claude = ClaudeAgent(
        runner=runner, transcripts_dir=transcripts_dir, command=claude_command,
        search_path=search_path, model=model, api_key=anthropic_api_key,
    )  # fmt: skip
    codex = CodexAgent(
        runner=runner, transcripts_dir=transcripts_dir, command=codex_command,
        search_path=search_path, model=model, api_key=openai_api_key,
    )  # fmt: skip
    return choose_agent(preference, claude, codex, where=search_path)


def choose_agent(
    preference: AgentPreference, claude: CliAgent, codex: CliAgent, *, where: str | None = None
) -> AgentPort:
    """``preference`` among already-built agents; ``auto`` takes the first whose CLI exists."""
    if preference == "none":
        return UnconfiguredAgent("no agent: [agent] provider is 'none'")
    if preference == "claude":
        return claude
    if preference == "codex":
        return codex
    candidates: tuple[CliAgent, ...] = (claude, codex)
    for agent in candidates:
        if agent.binary() is not None:
            return agent
    names = " or ".join(repr(agent.command) for agent in candidates)
    return UnconfiguredAgent(f"no agent CLI found: neither {names} is on {where or 'PATH'}")
