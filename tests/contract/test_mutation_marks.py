"""Shadow mode depends on the ``ports.mutating`` marks: every world-changing method has one.

The expected marks are listed here on purpose. A new port method that changes the world must
be marked (and listed); a new port must get an entry, so nobody forgets to decide.
"""

from __future__ import annotations

import inspect

import pytest

from ports import mutation_of
from tests.contract.discovery import discover_ports, port_methods

EXPECTED: dict[str, dict[str, str]] = {
    "IssuePort": {
        "create_issue": "create_issue",
        "comment": "comment",
        "add_label": "add_label",
        "remove_label": "remove_label",
        "close_issue": "close_issue",
    },
    "ChangeRequestPort": {"open_change": "open_change", "post_review": "review", "merge": "merge"},
    "WorkspacePort": {"commit": "commit"},
    "AgentPort": {"run": "agent_run"},
    "SandboxPort": {},
    "HostPort": {},
    "Clock": {},
}
"""Port -> {mutating method: shadow action}. Worktree creation and removal are local
scratch space, not the world, so they stay unmarked."""


def test_every_port_is_listed() -> None:
    assert set(discover_ports()) == set(EXPECTED)


@pytest.mark.parametrize("port", sorted(EXPECTED))
def test_marks_match_the_list(port: str) -> None:
    methods = port_methods(discover_ports()[port])
    marked = {}
    for name, fn in methods.items():
        mark = mutation_of(fn)
        if mark is not None:
            marked[name] = mark.action
    assert marked == EXPECTED[port]


@pytest.mark.parametrize(
    ("port", "method"),
    [(port, method) for port, methods in sorted(EXPECTED.items()) for method in sorted(methods)],
)
def test_shadow_values_fit_the_method(port: str, method: str) -> None:
    """A shadow factory takes exactly the method's parameters; without one it returns None."""
    fn = port_methods(discover_ports()[port])[method]
    mark = mutation_of(fn)
    assert mark is not None
    wanted = list(inspect.signature(fn).parameters.values())[1:]
    if mark.shadow is None:
        assert inspect.signature(fn).return_annotation == "None"
        return
    given = list(inspect.signature(mark.shadow).parameters.values())
    assert [(p.name, p.kind, p.default) for p in given] == [
        (p.name, p.kind, p.default) for p in wanted
    ]
