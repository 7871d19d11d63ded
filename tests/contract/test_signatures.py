"""Every port has a Fake, and every implementation matches its port, method by method.

Ports are discovered from ``ports`` (each ``typing.Protocol`` it exports). Implementations are
discovered by importing every module of the ``fakes`` and ``hydra.adapters`` packages (plus
``hydra.clock``) and keeping the concrete classes that explicitly subclass a port. Adding a
method to a port without adding it to every implementation fails here; so does a new
implementation that drifts from the port's parameters.
"""

from __future__ import annotations

from typing import Any, Protocol

import pytest

from tests.contract.discovery import (
    defining_class,
    discover_implementations,
    discover_ports,
    is_protocol,
    port_methods,
    signature_problems,
)

IMPLEMENTATIONS = discover_implementations()


def test_the_known_ports_are_discovered() -> None:
    found = set(discover_ports())
    assert {
        "IssuePort",
        "ChangeRequestPort",
        "WorkspacePort",
        "AgentPort",
        "SandboxPort",
        "HostPort",
        "Clock",
    } <= found


@pytest.mark.parametrize("port", sorted(discover_ports()))
def test_every_port_has_a_fake(port: str) -> None:
    fakes = [
        cls.__qualname__
        for p, cls in IMPLEMENTATIONS
        if p.__name__ == port and cls.__module__.split(".")[0] == "fakes"
    ]
    assert fakes, f"{port} has no Fake in the fakes package"


@pytest.mark.parametrize("port", sorted(discover_ports()))
def test_every_port_has_a_real_implementation(port: str) -> None:
    real = [
        cls.__qualname__
        for p, cls in IMPLEMENTATIONS
        if p.__name__ == port and cls.__module__.split(".")[0] != "fakes"
    ]
    assert real, f"{port} has only a Fake: no adapter subclasses it"


@pytest.mark.parametrize(
    ("port", "cls"),
    IMPLEMENTATIONS,
    ids=[f"{p.__name__}-{i.__module__}.{i.__qualname__}" for p, i in IMPLEMENTATIONS],
)
def test_implementation_matches_its_port(port: type, cls: type) -> None:
    problems = []
    for name, port_fn in port_methods(port).items():
        owner = defining_class(cls, name)
        if is_protocol(owner):
            problems.append(f"{name}: not implemented (inherits the body of {owner.__name__})")
            continue
        problems += [f"{name}: {why}" for why in signature_problems(port_fn, getattr(cls, name))]
    assert not problems, f"{cls.__module__}.{cls.__qualname__} vs {port.__name__}: {problems}"


# ---------------------------------------------------------------------- the checker itself
class _Port(Protocol):
    async def get(self, key: str, *, limit: int = 10) -> str: ...
    def info(self) -> str: ...


class _Good(_Port):
    async def get(self, key: str, *, limit: int = 10, verbose: bool = False) -> str:
        return key

    def info(self) -> str:
        return "good"


class _Bad(_Port):
    def get(self, other: str, *, limit: int = 5, strict: bool) -> str:  # type: ignore[override]
        return other


@pytest.mark.parametrize(
    ("candidate", "expected"),
    [
        (_Good, []),
        (
            _Bad,
            [
                "async-ness differs",
                "parameter 'key' is missing",
                "'limit': default 5 != 10",
                "positional parameters differ in order",
                "extra parameter 'other' must be keyword-only with a default",
                "extra parameter 'strict' must be keyword-only with a default",
            ],
        ),
    ],
)
def test_the_signature_checker_catches_drift(candidate: Any, expected: list[str]) -> None:
    assert signature_problems(_Port.get, candidate.get) == expected


def test_an_inherited_protocol_body_is_noticed() -> None:
    assert is_protocol(defining_class(_Bad, "info"))
    assert not is_protocol(defining_class(_Good, "info"))
