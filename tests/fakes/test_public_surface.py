"""The ``fakes`` package exports what we mean it to, and each Fake subclasses its port."""

from __future__ import annotations

import fakes
import ports

EXPECTED = {
    "EPOCH",
    "AgentCall",
    "AgentOutcome",
    "AgentRun",
    "BranchSource",
    "Commit",
    "FakeAgent",
    "FakeChanges",
    "FakeClock",
    "FakeHost",
    "FakeIssues",
    "FakeRepo",
    "FakeSandbox",
    "FakeWorkspace",
    "Faults",
    "MockWorld",
    "Review",
    "SandboxOutcome",
    "SandboxRun",
    "Workdirs",
}


def test_all_is_the_intended_surface() -> None:
    assert set(fakes.__all__) == EXPECTED
    assert len(fakes.__all__) == len(EXPECTED)
    for name in fakes.__all__:
        assert getattr(fakes, name) is not None


def test_no_private_module_leaks_as_public() -> None:
    public = {n for n in vars(fakes) if not n.startswith("_")}
    assert public - {"annotations"} == EXPECTED


def test_each_fake_subclasses_its_port() -> None:
    pairs = {
        fakes.FakeIssues: ports.IssuePort,
        fakes.FakeChanges: ports.ChangeRequestPort,
        fakes.FakeWorkspace: ports.WorkspacePort,
        fakes.FakeAgent: ports.AgentPort,
        fakes.FakeSandbox: ports.SandboxPort,
        fakes.FakeHost: ports.HostPort,
        fakes.FakeClock: ports.Clock,
    }
    for fake, port in pairs.items():
        assert port in fake.__mro__
