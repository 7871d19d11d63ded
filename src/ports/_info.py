"""What every port says about itself: which implementation it is and whether it can work."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

PortState = Literal["configured", "unconfigured"]

TRUNCATION_MARKER = "[diff truncated at {max_bytes} bytes]"
"""Last line of a diff cut at ``max_bytes`` (``WorkspacePort.diff``, ``ChangeRequestPort.diff``)."""


@dataclass(frozen=True)
class PortInfo:
    """Self-description of a port implementation, shown by the health loop and the API."""

    implementation: str
    """``git``, ``gh``, ``local-inbox``, ``claude``, ``fake``…"""
    state: PortState
    detail: str = ""
    """Why it is unconfigured, or where it points (a repository path, a binary)."""
