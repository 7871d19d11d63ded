from __future__ import annotations

import pytest

from fakes import Faults
from ports import PortError


def test_an_injected_error_is_raised_once_per_time() -> None:
    faults = Faults(["get"])
    faults.inject("get", PortError("failed", "down"), times=2)
    assert faults.pending("get") == 2
    for _ in range(2):
        with pytest.raises(PortError, match="down"):
            faults.check("get")
    faults.check("get")
    assert faults.pending("get") == 0


def test_errors_queue_in_order_and_clear() -> None:
    faults = Faults(["get", "put"])
    faults.inject("get", PortError("timeout", "slow"))
    faults.inject("get", OSError("disk"))
    faults.inject("put", PortError("conflict", "x"))
    with pytest.raises(PortError, match="slow"):
        faults.check("get")
    with pytest.raises(OSError, match="disk"):
        faults.check("get")
    faults.clear()
    faults.check("put")


def test_unknown_method_and_bad_times_are_refused() -> None:
    faults = Faults(["get"])
    with pytest.raises(ValueError, match="unknown method 'gte'"):
        faults.inject("gte", PortError("failed", "x"))
    with pytest.raises(ValueError, match="at least 1"):
        faults.inject("get", PortError("failed", "x"), times=0)
