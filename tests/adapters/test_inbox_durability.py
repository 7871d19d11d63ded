"""A failed fsync in the local inbox: :class:`DurabilityError`, never a ``PortError``, and the
daemon's fatal signal pulled, so a loop's crash isolation cannot swallow it.

The failure is real: ``os.fsync`` fails with EIO for the inbox's files only.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from fakes import FakeClock
from hydra.adapters.inbox import LocalInbox
from hydra.fatal import FatalSignal
from hydra.statefile import DurabilityError
from tests.helpers.faults import failing_fsync

pytestmark = pytest.mark.anyio


def _inbox(tmp_path: Path, fatal: FatalSignal | None) -> LocalInbox:
    return LocalInbox(tmp_path, "shop", clock=FakeClock(), fatal=fatal)


async def test_a_failed_fsync_of_a_new_issue_pulls_the_fatal_signal(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fatal = FatalSignal()
    inbox = _inbox(tmp_path, fatal)
    refused = failing_fsync(monkeypatch, str(tmp_path / "inbox" / "shop"))
    with pytest.raises(DurabilityError, match=r"1\.json durable") as caught:
        await inbox.create_issue("Flaky")
    assert refused
    assert fatal.triggered
    assert await fatal.wait() is caught.value
    # Nothing half-written is left behind: no issue file, no temp file.
    assert sorted(p.name for p in inbox.directory.iterdir()) == [".lock"]


async def test_a_failed_fsync_of_an_update_pulls_it_too_and_the_first_error_is_kept(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fatal = FatalSignal()
    inbox = _inbox(tmp_path, fatal)
    issue = await inbox.create_issue("Flaky")
    assert not fatal.triggered
    before = (inbox.directory / "1.json").read_bytes()
    failing_fsync(monkeypatch, str(inbox.directory))
    with pytest.raises(DurabilityError) as first:
        await inbox.comment(issue.id, "again")
    with pytest.raises(DurabilityError):
        await inbox.close_issue(issue.id)
    assert fatal.error is first.value
    assert (inbox.directory / "1.json").read_bytes() == before
    monkeypatch.undo()
    # Reads never fsync: the inbox stays readable.
    assert (await inbox.get_issue(issue.id)).comments == ()


async def test_without_a_signal_the_error_still_propagates(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The CLI's inbox has no signal: it reports the error and exits non-zero."""
    inbox = _inbox(tmp_path, None)
    failing_fsync(monkeypatch, str(tmp_path / "inbox"))
    with pytest.raises(DurabilityError):
        await inbox.create_issue("Flaky")
