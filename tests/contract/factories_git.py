"""Contract factories for the git adapters and the shell-command sandbox."""

from __future__ import annotations
