"""Contract factories for the claude and codex agent adapters."""

from __future__ import annotations
