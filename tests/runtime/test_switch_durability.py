"""A failed fsync of a state file (switches, escalations, a loop's state) pulls the fatal signal.

The failure is real: ``os.fsync`` fails with EIO for the one file, the rest of the data dir
(audit streams included) stays durable.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from hydra.fatal import FatalSignal
from hydra.statefile import DurabilityError
from hydra.switches import SwitchBoard
from tests.helpers.faults import failing_fsync
from tests.helpers.harness import Harness, running
from tests.helpers.loops import CountingLoop

pytestmark = pytest.mark.anyio


async def _board_with(h: Harness, tmp_path: Path, fatal: FatalSignal) -> SwitchBoard:
    """A second board on the harness's data dir, wired to ``fatal`` like the daemon's."""
    return await SwitchBoard.load(
        tmp_path / "state" / "switches.json",
        await h.audit.stream("control"),
        h.configs,
        replay=h.records("control"),
        repos=h.board.repos,
        fatal=fatal,
    )


async def test_a_failed_switch_state_fsync_pulls_the_fatal_signal(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fatal = FatalSignal()
    async with running(tmp_path, [CountingLoop], start=False) as h:
        board = await _board_with(h, tmp_path, fatal)
        refused = failing_fsync(monkeypatch, "switches.json")
        with pytest.raises(DurabilityError, match=r"switches\.json durable"):
            await board.update_loop("counting", actor="api", reason="disk", enabled=False)
        assert refused
        assert fatal.triggered
        assert await fatal.wait() is fatal.error
        assert isinstance(fatal.error, DurabilityError)
        # The control record is durable; the state file was never replaced.
        assert h.records("control", "loop.disabled")
        assert not (tmp_path / "state" / "switches.json").exists()
        assert list((tmp_path / "state").glob(".switches.json.*.tmp")) == []

        with pytest.raises(DurabilityError):
            await board.update_repo("demo", enabled=False, actor="api", reason="disk")
        assert "switches.json" in str(fatal.error)  # the first failure is the one kept


async def test_a_failed_escalation_snapshot_fsync_pulls_the_fatal_signal(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from hydra.escalations import EscalationQueue

    fatal = FatalSignal()
    async with running(tmp_path, [CountingLoop], start=False) as h:
        queue = await EscalationQueue.load(
            tmp_path / "state" / "escalations.json",
            await h.audit.stream("escalations"),
            fatal=fatal,
        )
        failing_fsync(monkeypatch, "escalations.json")
        with pytest.raises(DurabilityError):
            await queue.escalate(loop="counting", key="k", title="t", summary="s")
        assert fatal.triggered
        assert queue.list() == []  # not applied in memory either


async def test_a_failed_loop_state_fsync_pulls_the_fatal_signal(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from hydra.loop_services import open_services

    fatal = FatalSignal()
    async with running(tmp_path, [CountingLoop], start=False) as h:
        services = await open_services(h.audit, tmp_path / "audit", tmp_path / "state", fatal=fatal)
        store = services.state("counting")
        await store.put("cursor", 1)
        failing_fsync(monkeypatch, "counting.json")
        with pytest.raises(DurabilityError):
            await store.put("cursor", 2)
        assert fatal.triggered
        assert await store.get("cursor") == 1
    on_disk = json.loads((tmp_path / "state" / "loops" / "counting.json").read_text())
    assert on_disk == {"cursor": 1}
