"""``hydra loops …`` against the real daemon (a subprocess), and with no daemon at all."""

from __future__ import annotations

import json
import os
import signal
import socket
from collections.abc import Iterator
from pathlib import Path

import anyio
import pytest

from hydra.audit import iter_records
from tests.cli._support import hydra, one_error_line, wait_for_record
from tests.helpers.daemon import HEALTH_ONLY_CONFIG, Daemon, daemon

pytestmark = pytest.mark.e2e

CONFIG = HEALTH_ONLY_CONFIG
WAIT_S = 20
LOOPS = ["health", "preflight", "principles_audit", "review_advisor", "sandbox_fixer"]


@pytest.fixture(scope="module")
def running(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Daemon]:
    """One daemon for the module: only ``health`` runs (hourly), the others are off in config.

    Every test that switches ``health`` turns it back on before it ends.
    """
    workdir = tmp_path_factory.mktemp("loops-cli")
    (workdir / "hydra.toml").write_text(CONFIG)
    with daemon(workdir) as d:
        yield d
        assert d.stop() == 0


def _loops(d: Daemon, *args: str, rc: int = 0) -> str:
    """``hydra loops ARGS --data-dir <the daemon's>``, run from the daemon's directory."""
    return hydra("loops", *args, "--data-dir", str(d.data_dir), cwd=d.data_dir.parent, rc=rc).stdout


HEADER = ["LOOP", "STATE", "SWITCH", "MODE", "EVERY_S", "LAST", "NEXT", "NOTE"]


def _control(d: Daemon, action: str) -> list[dict[str, object]]:
    return [r for r in iter_records(d.data_dir / "audit", "control") if r["action"] == action]


def test_list_prints_a_table_and_json(running: Daemon) -> None:
    table = _loops(running, "list").splitlines()
    assert table[0].split() == HEADER
    assert [row.split()[0] for row in table[1:]] == LOOPS
    health = next(row for row in table if row.startswith("health "))
    assert health.split()[2:5] == ["on", "live", "3600.0"]
    preflight = next(row for row in table if row.startswith("preflight "))
    assert preflight.split()[1] == "disabled"
    assert preflight.endswith("disabled in config")
    # No action means list.
    assert _loops(running).splitlines()[0] == table[0]

    data = json.loads(_loops(running, "list", "--json"))
    assert data["global"]["enabled"] is True
    assert [loop["name"] for loop in data["loops"]] == LOOPS
    by_name = {loop["name"]: loop for loop in data["loops"]}
    assert by_name["health"]["enabled"] is True
    assert by_name["health"]["interval_s"] == 3600.0
    assert by_name["preflight"]["static_enabled"] is False
    assert [loop["name"] for loop in json.loads(_loops(running, "--json"))["loops"]] == LOOPS


@pytest.mark.parametrize("width", [80, 60])
def test_list_fits_the_width_and_keeps_names_and_states(running: Daemon, width: int) -> None:
    data = running.data_dir
    states = {loop["name"]: loop for loop in json.loads(_loops(running, "--json"))["loops"]}
    done = hydra("loops", "--data-dir", str(data), cwd=data.parent, env={"COLUMNS": str(width)})
    table = done.stdout.splitlines()
    assert all(len(line) <= width for line in table), table
    assert table[0].split() == HEADER
    rows = [line.split() for line in table[1:]]
    assert [row[0] for row in rows] == LOOPS
    for row in rows:
        loop = states[row[0]]
        assert row[1:3] == [loop["state"], "on" if loop["enabled"] else "off"]
    assert any(line.endswith("…") for line in table)  # a note gave way, visibly
    piped = _loops(running).splitlines()  # without COLUMNS: whole notes, as before
    assert max(len(line) for line in piped) > width
    assert "…" not in "".join(piped)


def test_disable_and_enable_are_audited_with_the_reason(running: Daemon) -> None:
    out = _loops(running, "disable", "health", "--reason", "noisy on call")
    assert out == "health: disabled, every 3600.0 s, live\n"
    [record] = [
        r
        for r in _control(running, "loop.disabled")
        if r["payload"]["reason"] == "noisy on call"  # type: ignore[index]
    ]
    assert record["actor"] == "cli"
    assert record["payload"]["drain"] is False  # type: ignore[index]
    listed = {loop["name"]: loop for loop in json.loads(_loops(running, "--json"))["loops"]}
    assert listed["health"]["enabled"] is False
    assert listed["health"]["blocked_reason"] == "switched off by cli: noisy on call"

    again = _loops(running, "disable", "health", "--reason", "noisy on call")
    assert again == "health: disabled, every 3600.0 s, live (no change)\n"

    answer = json.loads(_loops(running, "enable", "health", "--reason", "quiet now", "--json"))
    assert answer["name"] == "health"
    assert answer["enabled"] is True
    assert answer["switch"] == {
        "enabled": True,
        "by": "cli",
        "reason": "quiet now",
        "at": answer["switch"]["at"],
    }
    assert _control(running, "loop.enabled")[-1]["payload"]["reason"] == "quiet now"  # type: ignore[index]


def test_disable_with_drain_and_json(running: Daemon) -> None:
    answer = json.loads(
        _loops(running, "disable", "health", "--reason", "drain it", "--drain", "--json")
    )
    assert answer["enabled"] is False
    assert _control(running, "loop.disabled")[-1]["payload"]["drain"] is True  # type: ignore[index]
    _loops(running, "enable", "health", "--reason", "back")


@pytest.mark.anyio
async def test_trigger_runs_a_tick_now(running: Daemon) -> None:
    out = _loops(running, "trigger", "health", "--reason", "check after deploy")
    assert out == "health: triggered\n"
    [audited] = [
        r
        for r in _control(running, "loop.triggered")
        if r["payload"]["reason"] == "check after deploy"  # type: ignore[index]
    ]
    assert audited["actor"] == "cli"
    with anyio.fail_after(WAIT_S):
        started = await wait_for_record(
            running.data_dir / "audit",
            "health",
            lambda r: r["action"] == "tick.started" and r["payload"]["trigger"] == "manual",  # type: ignore[index]
        )
    with anyio.fail_after(WAIT_S):
        finished = await wait_for_record(
            running.data_dir / "audit",
            "health",
            lambda r: r["action"] == "tick.finished" and r["run"] == started["run"],
        )
    assert finished["payload"]["status"] in ("ok", "warning")  # type: ignore[index]

    answer = json.loads(_loops(running, "trigger", "health", "--json"))
    assert answer["triggered"] is True
    assert isinstance(answer["merged_into_running_tick"], bool)


def _from_elsewhere(d: Daemon, *args: str, rc: int = 0) -> str:
    """``hydra loops ARGS`` run from a directory with no daemon of its own: only the given
    ``--data-dir`` (in whatever position ``ARGS`` puts it) can reach the daemon."""
    elsewhere = d.data_dir.parent / "elsewhere"
    elsewhere.mkdir(exist_ok=True)
    return hydra("loops", *args, cwd=elsewhere, rc=rc).stdout


@pytest.mark.parametrize("position", ["before", "after"])
def test_options_work_before_and_after_the_action(running: Daemon, position: str) -> None:
    data = ("--data-dir", str(running.data_dir))

    def loops(action: tuple[str, ...], *options: str) -> str:
        args = (*options, *action) if position == "before" else (*action, *options)
        return _from_elsewhere(running, *args)

    listed = json.loads(loops(("list",), *data, "--json"))
    assert [loop["name"] for loop in listed["loops"]] == LOOPS
    reason = f"options {position} the action"
    off = json.loads(loops(("disable", "health", "--reason", reason), *data, "--json"))
    assert (off["name"], off["enabled"]) == ("health", False)
    assert _control(running, "loop.disabled")[-1]["payload"]["reason"] == reason  # type: ignore[index]
    on = json.loads(loops(("enable", "health", "--reason", reason), *data, "--json"))
    assert on["enabled"] is True
    same = json.loads(
        loops(("set", "health", "--interval", "3600", "--reason", reason), *data, "--json")
    )
    assert same["interval_s"] == 3600.0
    fired = json.loads(loops(("trigger", "health"), *data, "--json"))
    assert fired["triggered"] is True
    assert loops(("trigger", "health"), *data) in (
        "health: triggered\n",
        "health: triggered (merged into the running tick)\n",
    )


def test_a_data_dir_before_the_action_is_never_dropped(running: Daemon, tmp_path: Path) -> None:
    """Run where the daemon's data dir is the default: a ``--data-dir`` naming another one,
    given before the action, must reach that other one (no daemon there), not this daemon."""
    other = tmp_path / "other-data"
    done = hydra(
        "loops",
        "--data-dir",
        str(other),
        "disable",
        "health",
        "--reason",
        "wrong daemon",
        cwd=running.data_dir.parent,
        rc=3,
    )
    one_error_line(done, f"no hydra daemon is running on {other}")
    assert not [
        r
        for r in _control(running, "loop.disabled")
        if r["payload"]["reason"] == "wrong daemon"  # type: ignore[index]
    ]
    config = tmp_path / "hydra.toml"
    config.write_text(f'data_dir = "{other}"\n')
    done = hydra(
        "loops", "--config", str(config), "trigger", "health", cwd=running.data_dir.parent, rc=3
    )
    one_error_line(done, f"no hydra daemon is running on {other}")


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (("disable", "nope", "--reason", "x"), "daemon refused (404): unknown loop 'nope'"),
        (("trigger", "nope", "--json"), "daemon refused (404): unknown loop 'nope'"),
        (("enable", "preflight", "--reason", "x"), "daemon refused (409): loop 'preflight'"),
        (("trigger", "preflight"), "daemon refused (409)"),
        (("set", "health", "--interval", "0.001", "--reason", "x"), "daemon refused (422)"),
        (("disable", "health"), "the following arguments are required: --reason"),
    ],
)
def test_refusals_are_one_line_and_exit_2(
    running: Daemon, args: tuple[str, ...], fragment: str
) -> None:
    done = hydra(
        "loops", *args, "--data-dir", str(running.data_dir), cwd=running.data_dir.parent, rc=2
    )
    one_error_line(done, fragment)


NO_DAEMON_COMMANDS = [
    ("list",),
    ("list", "--json"),
    ("enable", "health", "--reason", "x"),
    ("enable", "health", "--reason", "x", "--json"),
    ("disable", "health", "--reason", "x"),
    ("disable", "health", "--reason", "x", "--json"),
    ("trigger", "health"),
    ("trigger", "health", "--json"),
]


@pytest.mark.parametrize("args", NO_DAEMON_COMMANDS, ids=" ".join)
def test_no_daemon_is_one_clear_line_and_exit_3(tmp_path: Path, args: tuple[str, ...]) -> None:
    done = hydra("loops", *args, "--data-dir", str(tmp_path / "data"), cwd=tmp_path, rc=3)
    one_error_line(done, f"no hydra daemon is running on {tmp_path / 'data'}", "hydra run")


def test_a_daemon_killed_without_cleanup_counts_as_none(tmp_path: Path) -> None:
    with daemon(tmp_path) as d:
        d.stop(signal.SIGKILL)
        assert (d.data_dir / "daemon.json").exists()  # left behind
        done = hydra("loops", "list", "--data-dir", str(d.data_dir), cwd=tmp_path, rc=3)
        one_error_line(done, "no hydra daemon is running on")


def test_a_daemon_that_does_not_answer_is_one_line_and_exit_3(tmp_path: Path) -> None:
    # daemon.json names a live process (this test) and a port that is bound but not listening,
    # so connecting is refused for as long as the socket stays open.
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
        data = tmp_path / "data"
        data.mkdir()
        info = {"pid": os.getpid(), "url": f"http://127.0.0.1:{port}/", "started_at": "2020"}
        (data / "daemon.json").write_text(json.dumps(info))
        (data / "api-token").write_text("t" * 43)
        done = hydra("loops", "list", "--data-dir", str(data), cwd=tmp_path, rc=3)
    one_error_line(done, f"no hydra daemon is answering at 127.0.0.1:{port}")
