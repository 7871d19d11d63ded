from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.helpers.loops import Probe


@pytest.fixture(autouse=True)
def _probe() -> Iterator[None]:
    Probe.reset()
    yield
    Probe.reset()
