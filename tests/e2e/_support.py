"""What the loop and kill-switch end-to-end tests share.

* :func:`make_repo` / :func:`git`: real git repositories in temp dirs.
* :class:`ScriptedAgent`: an executable that the daemon runs as its ``claude`` CLI
  (``[agent.claude] command = …``). It streams the CLI's JSON events through the shared fakes
  of ``tests/adapters/agent_fakes/bin`` (``fake_claude.py``) and does what the first matching
  rule of its ``rules.json`` says: write files, answer, fail, or hang with helper processes.
  The daemon's runner hands a child only an allow-listed environment, so the script is driven
  by files beside it, not by environment variables. Every process it starts carries a unique
  marker on its command line (its own path, the helpers' last argument), which is how the
  kill-switch tests find them with psutil.
* :func:`running_hydra`: writes ``hydra.toml`` (the ``local`` world on the given repository,
  the scripted agent, only the named loops enabled, first ticks at once) and starts the real
  ``hydra run`` through :mod:`tests.helpers.daemon`; :class:`Hydra` drives it like an operator
  (HTTP, the ``hydra`` CLI) and reads the audit files it writes.

Every wait is a deadline loop with a short timeout.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import httpx
import psutil

from hydra.audit import iter_records
from tests.adapters.agent_fakes.support import FAKE_BIN
from tests.helpers.daemon import Daemon, daemon, run_cli

T = TypeVar("T")
AGENT_LOOPS = ("preflight", "sandbox_fixer", "review_advisor")
ALL_LOOPS = ("health", "preflight", "principles_audit", "review_advisor", "sandbox_fixer")
TICK_ENDS = frozenset(
    {"tick.finished", "tick.crashed", "tick.timed_out", "tick.cancelled", "tick.lost"}
)
REPO_NAME = "app"
GIT_ENV = {
    "GIT_AUTHOR_NAME": "E2E Operator",
    "GIT_AUTHOR_EMAIL": "operator@example.invalid",
    "GIT_COMMITTER_NAME": "E2E Operator",
    "GIT_COMMITTER_EMAIL": "operator@example.invalid",
    "GIT_CONFIG_NOSYSTEM": "1",
}


# --------------------------------------------------------------------------- waiting
def wait_for(probe: Callable[[], T | None], *, timeout: float = 10.0, what: str = "condition") -> T:
    """``probe()`` until it returns something truthy; ``AssertionError`` after ``timeout``."""
    deadline = time.monotonic() + timeout
    delay = 0.01
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(delay)
        delay = min(delay * 2, 0.1)


# --------------------------------------------------------------------------- git
def git(repo: Path, *args: str, check: bool = True) -> str:
    env = {**os.environ, **GIT_ENV, "HOME": str(repo.parent)}
    done = subprocess.run(
        ["git", *args], cwd=repo, env=env, capture_output=True, text=True, timeout=30, check=False
    )
    if check and done.returncode != 0:
        raise AssertionError(f"git {' '.join(args)} failed: {done.stderr.strip()}")
    return done.stdout


def write_files(repo: Path, files: Mapping[str, str | None]) -> None:
    """Write (or, for ``None``, delete) files relative to ``repo``."""
    for rel, text in files.items():
        path = repo / rel
        if text is None:
            path.unlink()
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


def commit(repo: Path, message: str, files: Mapping[str, str | None]) -> str:
    """Write ``files`` and commit everything on the current branch; returns the commit id."""
    write_files(repo, files)
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", message)
    return git(repo, "rev-parse", "HEAD").strip()


def make_repo(path: Path, files: Mapping[str, str]) -> Path:
    """A git repository at ``path`` on branch ``main`` with one commit holding ``files``."""
    path.mkdir(parents=True)
    git(path, "init", "-q", "-b", "main")
    commit(path, "Initial commit", files)
    return path


# --------------------------------------------------------------------------- the agent
AGENT_SCRIPT = '''\
#!{python} -S
"""A scripted `claude` for Hydra's end-to-end tests (written by tests/e2e/_support.py).

Reads the prompt, takes the first rule of rules.json whose "when" occurs in it, logs the call
to calls.jsonl and streams the CLI's events through the shared fakes (fake_claude.py).
"""
import json
import os
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, {fake_bin!r})
import fake_claude as fake  # noqa: E402

HOME = Path({home!r})
MARKER = {marker!r}


def log(entry):
    with (HOME / "calls.jsonl").open("a") as out:
        out.write(json.dumps(entry) + "\\n")


def failed(text):
    fake._assistant("msg_01", fake._text(text), fake._usage(100, 10))
    fake._result(
        text, cost=0.0004, usage=fake._usage(100, 10),
        subtype="error_during_execution", is_error=True,
    )
    return 1


def main():
    prompt = sys.stdin.read()
    rules = json.loads((HOME / "rules.json").read_text())
    rule = next((r for r in rules if r["when"] in prompt), None)
    present = [p for p in (rule or {{}}).get("require_absent", []) if os.path.lexists(p)]
    log({{
        "pid": os.getpid(), "pgid": os.getpgid(0), "cwd": os.getcwd(), "argv": sys.argv[1:],
        "rule": rule and rule.get("name"), "present": present, "prompt": prompt,
    }})
    fake._init()
    if rule is None:
        return failed("no rule of the test script matches this prompt")
    if present:
        sys.stderr.write("HOLDOUT LEAKED into the agent's checkout: " + ", ".join(present) + "\\n")
        return failed("holdout files present in the working directory: " + ", ".join(present))
    if rule.get("hang"):
        helpers = [
            subprocess.Popen([sys.executable, "-S", "-c", "import time; time.sleep(3600)", MARKER])
            for _ in range(rule.get("helpers", 1))
        ]
        fake._assistant("msg_01", fake._text("Working on it."), fake._usage(100, 10))
        log({{"pid": os.getpid(), "pgid": os.getpgid(0), "rule": rule.get("name"),
              "hanging": [h.pid for h in helpers]}})
        time.sleep(3600)
        return 0
    for rel, text in rule.get("write", {{}}).items():
        Path(rel).parent.mkdir(parents=True, exist_ok=True)
        Path(rel).write_text(text)
    if "fail" in rule:
        return failed(rule["fail"])
    reply = rule.get("reply", "Done.")
    fake._assistant("msg_01", fake._text(reply), fake._usage(1200, 80))
    fake._result(reply, cost=rule.get("usd", 0.0123), usage=fake._usage(1200, 80))
    return 0


sys.exit(main())
'''


@dataclass
class ScriptedAgent:
    """The scripted ``claude`` executable and the files that drive and record it."""

    home: Path
    marker: str

    @classmethod
    def create(cls, root: Path, rules: Sequence[Mapping[str, Any]]) -> ScriptedAgent:
        marker = f"hydra-e2e-agent-{uuid.uuid4().hex[:12]}"
        home = root / marker
        home.mkdir(parents=True)
        agent = cls(home, marker)
        script = AGENT_SCRIPT.format(
            python=sys.executable, fake_bin=str(FAKE_BIN), home=str(home), marker=marker
        )
        agent.path.write_text(script)
        agent.path.chmod(0o755)
        agent.set_rules(rules)
        return agent

    @property
    def path(self) -> Path:
        return self.home / "claude"

    def set_rules(self, rules: Sequence[Mapping[str, Any]]) -> None:
        """Rules: ``when`` (a substring of the prompt), ``name`` and one of ``write`` (+
        ``reply``), ``reply``, ``fail``, ``hang`` (+ ``helpers``); ``require_absent``: paths that
        must not exist in the working directory (the run fails loudly when one does)."""
        tmp = self.home / "rules.json.tmp"
        tmp.write_text(json.dumps(list(rules)))
        tmp.replace(self.home / "rules.json")

    def calls(self) -> list[dict[str, Any]]:
        """One entry per run (and one more per hanging run, with ``hanging``: helper pids)."""
        path = self.home / "calls.jsonl"
        if not path.exists():
            return []
        lines = path.read_text().splitlines()
        return [json.loads(line) for line in lines if line.endswith("}")]

    def runs(self, rule: str | None = None) -> list[dict[str, Any]]:
        return [c for c in self.calls() if "prompt" in c and (rule is None or c["rule"] == rule)]

    def hanging(self) -> list[dict[str, Any]]:
        return [c for c in self.calls() if "hanging" in c]

    def processes(self) -> list[psutil.Process]:
        return marked_processes(self.marker)

    def kill_leftovers(self) -> None:
        """Last-resort cleanup, by pid, of processes carrying this agent's marker."""
        for proc in self.processes():
            with contextlib.suppress(psutil.Error):
                proc.send_signal(signal.SIGKILL)


def marked_processes(marker: str) -> list[psutil.Process]:
    """Live (non-zombie) processes whose command line contains ``marker``."""
    found = []
    for proc in psutil.process_iter(["cmdline", "status"]):
        try:
            cmdline = proc.info["cmdline"] or []
            if proc.info["status"] != psutil.STATUS_ZOMBIE and any(marker in a for a in cmdline):
                found.append(proc)
        except psutil.Error:
            continue
    return found


def group_exists(pgid: int) -> bool:
    """Whether any process (zombies included) is left in process group ``pgid``."""
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


# --------------------------------------------------------------------------- hydra.toml
def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str | Path):
        return json.dumps(str(value))
    if isinstance(value, Mapping):
        return "{ " + ", ".join(f"{k} = {_toml_value(v)}" for k, v in value.items()) + " }"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    raise TypeError(f"cannot write {value!r} as TOML")


def toml_text(tables: Mapping[str, Mapping[str, Any]], top: Mapping[str, Any]) -> str:
    lines = [f"{key} = {_toml_value(value)}" for key, value in top.items()]
    for name, table in tables.items():
        lines += ["", f"[{name}]"]
        lines += [f"{key} = {_toml_value(value)}" for key, value in table.items()]
    return "\n".join(lines) + "\n"


def write_config(
    root: Path,
    *,
    repo: Path,
    agent: ScriptedAgent | None,
    loops: Mapping[str, Mapping[str, Any]],
) -> Path:
    """``root/hydra.toml``: the local world on ``repo``; the loops in ``loops`` enabled with
    their tables, every other loop disabled in config (the static gate)."""
    tables: dict[str, dict[str, Any]] = {
        "orchestrator": {"first_tick_spread_s": 0.0, "shutdown_grace_s": 1.0},
        f"repos.{REPO_NAME}": {"path": repo},
        "agent": {"provider": "claude" if agent else "none"},
    }
    if agent is not None:
        tables["agent.claude"] = {"command": agent.path}
    for name in ALL_LOOPS:
        tables[f"loops.{name}"] = dict(loops[name]) if name in loops else {"enabled": False}
    path = root / "hydra.toml"
    path.write_text(toml_text(tables, {"data_dir": "data", "world": "local"}))
    return path


# --------------------------------------------------------------------------- the daemon
@dataclass
class Hydra:
    """A running daemon, driven over HTTP and the CLI, its audit files read directly."""

    d: Daemon
    root: Path
    loops: tuple[str, ...]
    http: httpx.Client = field(init=False)

    def __post_init__(self) -> None:
        self.http = self.d.client(actor="dashboard")

    @property
    def data(self) -> Path:
        return self.d.data_dir

    # ---------------------------------------------------------------- audit files
    def records(
        self, stream: str, action: str | None = None, *, run: str | None = None
    ) -> list[dict[str, Any]]:
        return [
            r
            for r in iter_records(self.data / "audit", stream)
            if (action is None or r["action"] == action) and (run is None or r.get("run") == run)
        ]

    def wait_record(
        self,
        stream: str,
        action: str,
        where: Callable[[dict[str, Any]], bool] = lambda _: True,
        *,
        timeout: float = 10.0,
    ) -> dict[str, Any]:
        def probe() -> dict[str, Any] | None:
            return next((r for r in self.records(stream, action) if where(r)), None)

        return wait_for(probe, timeout=timeout, what=f"{action} in stream {stream!r}")

    # ---------------------------------------------------------------- API
    def loop(self, name: str) -> dict[str, Any]:
        response = self.http.get(f"/api/loops/{name}")
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    def put_loop(self, name: str, actor: str = "dashboard", **body: Any) -> dict[str, Any]:
        headers = {"X-Hydra-Actor": actor}
        response = self.http.put(f"/api/loops/{name}", json=body, headers=headers)
        assert response.status_code == 200, response.text
        data: dict[str, Any] = response.json()
        return data

    def put_global(self, *, enabled: bool, reason: str, actor: str = "api") -> dict[str, Any]:
        response = self.http.put(
            "/api/switches/all",
            json={"enabled": enabled, "reason": reason},
            headers={"X-Hydra-Actor": actor},
        )
        assert response.status_code == 200, response.text
        data: dict[str, Any] = response.json()
        return data

    def wait_idle(self, name: str, *, ticks_at_least: int = 0, timeout: float = 15.0) -> None:
        """Until no tick of ``name`` runs and it has finished ``ticks_at_least`` ticks."""

        def probe() -> bool:
            view = self.loop(name)
            return view["running_run_id"] is None and view["ticks"] >= ticks_at_least

        wait_for(probe, timeout=timeout, what=f"loop {name} idle")

    def tick(self, name: str, *, timeout: float = 15.0) -> dict[str, Any]:
        """Trigger one tick over HTTP and wait for it; returns its ``tick.finished`` record
        (any other ending fails the test, showing the record and the daemon's log tail)."""
        self.wait_idle(name, timeout=timeout)
        started = len(self.records(name, "tick.started"))
        response = self.http.post(f"/api/loops/{name}/trigger")
        assert response.status_code == 202, response.text
        assert response.json()["merged_into_running_tick"] is False
        record = wait_for(
            lambda: self.records(name, "tick.started")[started:],
            timeout=timeout,
            what=f"tick of {name} to start",
        )[0]
        run = record["run"]

        def ended() -> dict[str, Any] | None:
            return next((r for r in self.records(name, run=run) if r["action"] in TICK_ENDS), None)

        end = wait_for(ended, timeout=timeout, what=f"tick {run} of {name} to end")
        assert end["action"] == "tick.finished", (end, self.d.stderr()[-3000:])
        return end

    # ---------------------------------------------------------------- CLI
    def cli(self, *args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
        """``hydra ARGS --data-dir DATA`` (run in ``cwd``, default the config's directory)."""
        result = run_cli([*args, "--data-dir", str(self.data)], cwd=cwd or self.root)
        assert result.returncode == 0, f"hydra {' '.join(args)}: {result.stderr}"
        return result

    def cli_json(self, *args: str, cwd: Path | None = None) -> Any:
        return json.loads(self.cli(*args, "--json", cwd=cwd).stdout)


@contextlib.contextmanager
def hydra_process(root: Path, loops: Sequence[str]) -> Iterator[Hydra]:
    """Start ``hydra run`` in ``root`` on the config there and wait until each of ``loops``
    has finished its start-up tick; stop it with SIGTERM (exit 0 expected) afterwards."""
    with daemon(root, data_dir=root / "data") as d:
        hydra = Hydra(d, root, tuple(loops))
        try:
            for name in loops:
                hydra.wait_idle(name, ticks_at_least=1)
            yield hydra
        finally:
            hydra.http.close()
        assert d.stop() == 0, d.stderr()[-3000:]


@contextlib.contextmanager
def running_hydra(
    root: Path,
    *,
    repo: Path,
    agent: ScriptedAgent | None,
    loops: Mapping[str, Mapping[str, Any]],
) -> Iterator[Hydra]:
    """:func:`write_config`, then :func:`hydra_process`; kills what the agent left at the end."""
    write_config(root, repo=repo, agent=agent, loops=loops)
    try:
        with hydra_process(root, tuple(loops)) as hydra:
            yield hydra
    finally:
        if agent is not None:
            agent.kill_leftovers()
