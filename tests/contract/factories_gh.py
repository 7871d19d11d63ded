"""Contract factories for the GitHub adapters over the gh CLI."""

from __future__ import annotations
