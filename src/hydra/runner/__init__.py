"""The subprocess runner every real adapter stands on.

One call of `Runner.run` spawns a child in its own session with an allow-listed
environment, drains stdout and stderr into bounded captures (optionally streaming
stdout lines to a hook that may stop the run), kills the whole process group on
timeout, stop or cancellation, reaps orphaned grandchildren, retries transient auth
failures with backoff on an injectable clock, records each attempt's cost with a
``source``, and returns a typed `RunResult`. Only `AuthFailed` and `CreditExhausted`
are raised: they need an operator, so they propagate to the orchestrator.

Typical adapter use::

    GH = DEFAULT_CLASSIFIER.extended(auth_terminal=["gh auth login"], rate_limited=[...])
    runner = Runner(cost_sink=sink, clock=clock)          # built once, by the composition root
    result = await runner.run(
        ["gh", "issue", "list", "--json", "number"],
        source="gh:issues", timeout=60, classifier=GH,
        env={"GH_TOKEN": Secret(token)},                  # never on the command line
    )
    if not result.ok: ...                                 # status / reason / stderr.text()

Daemon housekeeping: `reap_orphans` (periodically) and `kill_all` (at shutdown) act on
the default `ProcessRegistry`; `enable_subreaper` is called by `Runner` itself.
"""

from __future__ import annotations

from hydra.runner._capture import Captured, StdoutLine
from hydra.runner._classify import DEFAULT_CLASSIFIER, Classifier, Pattern, Verdict
from hydra.runner._clock import Clock, SystemClock
from hydra.runner._env import DEFAULT_ENV_ALLOW, EnvPolicy, EnvValue, Secret, build_env
from hydra.runner._group import enable_subreaper
from hydra.runner._registry import DEFAULT_REGISTRY, ProcessRegistry, kill_all, reap_orphans
from hydra.runner._result import (
    AuthFailed,
    CreditExhausted,
    FatalRunError,
    RunResult,
    RunStatus,
    Usage,
)
from hydra.runner._runner import Runner, RunnerConfig
from hydra.runner._telemetry import CostSink, LineHook, UsageProbe

__all__ = [
    "DEFAULT_CLASSIFIER",
    "DEFAULT_ENV_ALLOW",
    "DEFAULT_REGISTRY",
    "AuthFailed",
    "Captured",
    "Classifier",
    "Clock",
    "CostSink",
    "CreditExhausted",
    "EnvPolicy",
    "EnvValue",
    "FatalRunError",
    "LineHook",
    "Pattern",
    "ProcessRegistry",
    "RunResult",
    "RunStatus",
    "Runner",
    "RunnerConfig",
    "Secret",
    "StdoutLine",
    "SystemClock",
    "Usage",
    "UsageProbe",
    "Verdict",
    "build_env",
    "enable_subreaper",
    "kill_all",
    "reap_orphans",
]
