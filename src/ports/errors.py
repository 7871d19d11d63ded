"""Exceptions that cross port boundaries.

Ports return typed results for ordinary failures. Three conditions are exceptions instead:

* :class:`CreditExhausted` and :class:`AuthFailed` are *terminal* for the loop that met them:
  they propagate through the loop to the orchestrator, which switches the loop off with reason
  ``credit_exhausted`` / ``auth_failed`` (audited). Loops must not catch them.
* :class:`PortError` is a typed failure of one port call (the item is not found, the CLI
  failed, the call timed out). Loops catch it per work item and record the failure.
"""

from __future__ import annotations

from typing import Literal

PortErrorKind = Literal[
    "not_found", "conflict", "invalid", "failed", "timeout", "rate_limited", "unconfigured"
]


class PortError(Exception):
    """A port call failed in a way the loop can handle (record it and move on)."""

    def __init__(self, kind: PortErrorKind, message: str, *, port: str = "") -> None:
        super().__init__(message)
        self.kind: PortErrorKind = kind
        self.port = port

    def __str__(self) -> str:
        where = f"{self.port}: " if self.port else ""
        return f"{where}{self.kind}: {self.args[0]}"


class TerminalPortError(Exception):
    """Base of the failures that stop a loop until an operator intervenes."""

    reason: Literal["credit_exhausted", "auth_failed"]

    def __init__(self, message: str, *, source: str = "") -> None:
        super().__init__(message)
        self.source = source


class CreditExhausted(TerminalPortError):
    """The provider says the account has no credit left."""

    reason = "credit_exhausted"


class AuthFailed(TerminalPortError):
    """Authentication failed for good (not logged in, key revoked) after any retries."""

    reason = "auth_failed"
