"""The registry of implementation factories, keyed by port (see ``conftest.py``)."""

from __future__ import annotations

from collections.abc import Callable

from ports import PORT_NAMES
from tests.contract.harness import Factory

FACTORIES: dict[str, dict[str, Factory]] = {name: {} for name in PORT_NAMES}


def factory(port: str, name: str) -> Callable[[Factory], Factory]:
    """Register ``fn`` as the factory of implementation ``name`` for ``port``."""

    def register(fn: Factory) -> Factory:
        if port not in FACTORIES:
            raise ValueError(f"unknown port {port!r}; ports are {sorted(FACTORIES)}")
        if name in FACTORIES[port]:
            raise ValueError(f"{port}: a factory named {name!r} is already registered")
        FACTORIES[port][name] = fn
        return fn

    return register
